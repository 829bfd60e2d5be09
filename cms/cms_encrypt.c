/*
 * smscms_encrypt: plaintext -> ContentInfo(AuthEnvelopedData).
 *
 * One ephemeral key per message and one KeyAgreeRecipientInfo carrying a
 * RecipientEncryptedKey per recipient, so all recipients share one curve
 * (with MQV also the originator's curve).
 */
#include <limits.h>
#include <string.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "cms/cms_asn1.h"
#include "cms/cms_compress.h"
#include "cms/cms_gcm.h"
#include "cms/cms_kek.h"
#include "cms/cms_key.h"
#include "cms/cms_mqv.h"
#include "cms/cms_scheme.h"

#define ENC_NONCE_LEN 12
#define ENC_TAG_LEN 16
#define ENC_MAX_Z 66
#define ENC_MAX_WRAPPED 40

/* Everything one encryption allocates, freed in one place. */
struct enc_state {
	int nid;
	size_t key_len;
	const EC_GROUP *group;        /* the originator's (MQV) or group_owned */
	EC_GROUP *group_owned;
	EVP_PKEY *eph;
	BIGNUM *eph_priv;
	BIGNUM *orig_priv;
	EC_POINT *eph_pub;
	unsigned char cek[32];
	unsigned char nonce[ENC_NONCE_LEN];
	unsigned char tag[ENC_TAG_LEN];
	unsigned char *aad;
	int aad_len;
	unsigned char *ct;
	CMSX_AUTHENV *env;
	CMSX_KARI *kari;
	CMSX_CONTENTINFO *ci;
	unsigned char *env_der;
	unsigned char *zipped;        /* ContentInfo(CompressedData) when opts->compress */
	size_t zipped_len;
};

static void enc_state_free(struct enc_state *s)
{
	EC_GROUP_free(s->group_owned);
	EVP_PKEY_free(s->eph);
	BN_clear_free(s->eph_priv);
	BN_clear_free(s->orig_priv);
	EC_POINT_free(s->eph_pub);
	OPENSSL_cleanse(s->cek, sizeof(s->cek));
	OPENSSL_free(s->aad);
	OPENSSL_free(s->ct);
	CMSX_AUTHENV_free(s->env);
	CMSX_KARI_free(s->kari);
	CMSX_CONTENTINFO_free(s->ci);
	OPENSSL_free(s->env_der);
	OPENSSL_clear_free(s->zipped, s->zipped_len);
}

static int enc_algor_set_seq(X509_ALGOR *alg, ASN1_OBJECT *oid, const void *params, const ASN1_ITEM *it)
{
	ASN1_STRING *str = NULL;

	if (ASN1_item_pack((void *)params, it, &str) == NULL)
		return 0;
	if (!X509_ALGOR_set0(alg, oid, V_ASN1_SEQUENCE, str)) {
		ASN1_STRING_free(str);
		return 0;
	}
	return 1;
}

static int enc_issuer_serial(X509 *cert, CMSX_ISSUER_SERIAL **out)
{
	CMSX_ISSUER_SERIAL *ias = CMSX_ISSUER_SERIAL_new();

	*out = NULL;
	if (ias == NULL)
		return 0;
	if (!X509_NAME_set(&ias->issuer, X509_get_issuer_name(cert))) {
		CMSX_ISSUER_SERIAL_free(ias);
		return 0;
	}
	ASN1_INTEGER_free(ias->serial);
	if ((ias->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert))) == NULL) {
		CMSX_ISSUER_SERIAL_free(ias);
		return 0;
	}
	*out = ias;
	return 1;
}

static smscms_status enc_check_args(smscms_ctx *ctx, const smscms_encrypt_opts *o,
                                    const smscms_identity *originator,
                                    X509 *const *recipients, size_t n, struct enc_state *s)
{
	size_t i;

	if ((unsigned)o->ka > SMSCMS_KA_ECDH || (unsigned)o->kdf > SMSCMS_KDF_SHA512 ||
	    (unsigned)o->cipher > SMSCMS_AES128_GCM || (unsigned)o->rid > SMSCMS_RID_SKI ||
	    (o->content_type_nid != 0 && o->content_type_nid != NID_pkcs7_data &&
	     o->content_type_nid != NID_pkcs7_signed))
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "encrypt: option out of range");
	if (n == 0 || recipients == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "encrypt: no recipient");
	if (o->n_extra_attrs > 0 && (o->extra_attrs_der == NULL || o->extra_attrs_len == NULL))
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "encrypt: extra attributes without data");
	s->nid = cms_key_curve(X509_get0_pubkey(recipients[0]));
	if (s->nid == NID_undef)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "recipient 1: key is not EC on P-256, P-384 or P-521");
	for (i = 0; i < n; i++) {
		if (recipients[i] == NULL)
			return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "recipient %zu is NULL", i + 1);
		if (!cms_key_check(X509_get0_pubkey(recipients[i])))
			return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "recipient %zu: public key is not a valid point", i + 1);
		if (cms_key_curve(X509_get0_pubkey(recipients[i])) != s->nid)
			return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED,
			                 "recipient %zu: curve differs from recipient 1 (one ephemeral key per message)", i + 1);
		if (o->rid == SMSCMS_RID_SKI && X509_get0_subject_key_id(recipients[i]) == NULL)
			return cms_error(ctx, SMSCMS_ERR_ARGUMENT,
			                 "recipient %zu: certificate has no subjectKeyIdentifier", i + 1);
	}
	if (o->ka == SMSCMS_KA_MQV || o->originator_info) {
		if (originator == NULL || originator->cert == NULL)
			return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "encrypt: originator identity required");
	}
	if (o->ka == SMSCMS_KA_MQV) {
		if (originator->key == NULL)
			return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "encrypt: MQV needs the originator's private key");
		if (cms_key_curve(originator->key) != s->nid)
			return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED,
			                 "MQV: originator and recipients are on different curves");
	}
	return SMSCMS_OK;
}

static smscms_status enc_attrs(smscms_ctx *ctx, const smscms_encrypt_opts *o, struct enc_state *s)
{
	X509_ATTRIBUTE *attr;
	ASN1_TIME *now;
	size_t i;

	if (!o->auth_attrs && o->n_extra_attrs == 0)
		return SMSCMS_OK;
	if ((s->env->auth_attrs = sk_X509_ATTRIBUTE_new_null()) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if (o->auth_attrs) {
		if ((now = ASN1_TIME_set(NULL, time(NULL))) == NULL)
			return cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot encode signing time");
		attr = X509_ATTRIBUTE_create(NID_pkcs9_signingTime, now->type, now);
		if (attr == NULL) {
			ASN1_TIME_free(now);
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		}
		if (!sk_X509_ATTRIBUTE_push(s->env->auth_attrs, attr)) {
			X509_ATTRIBUTE_free(attr);
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		}
	}
	for (i = 0; i < o->n_extra_attrs; i++) {
		const unsigned char *p = o->extra_attrs_der[i];

		attr = NULL;
		if (o->extra_attrs_len[i] > LONG_MAX ||
		    (attr = d2i_X509_ATTRIBUTE(NULL, &p, (long)o->extra_attrs_len[i])) == NULL ||
		    p != o->extra_attrs_der[i] + o->extra_attrs_len[i]) {
			if (attr != NULL)
				X509_ATTRIBUTE_free(attr);
			return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "extra attribute %zu is not one DER Attribute", i + 1);
		}
		if (!sk_X509_ATTRIBUTE_push(s->env->auth_attrs, attr)) {
			X509_ATTRIBUTE_free(attr);
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		}
	}
	if ((s->aad_len = cms_asn1_attrs_der(s->env->auth_attrs, &s->aad)) <= 0)
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot encode authenticated attributes");
	return SMSCMS_OK;
}

static smscms_status enc_content(smscms_ctx *ctx, const smscms_encrypt_opts *o, struct enc_state *s,
                                 const unsigned char *pt, size_t pt_len)
{
	CMSX_ENC_CONTENT *ec = s->env->enc_content;
	CMSX_GCM_PARAMS *gp = NULL;
	smscms_status st = SMSCMS_OK;

	if (pt_len > INT_MAX - 64)
		return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "plaintext of %zu bytes is too large", pt_len);
	if ((s->ct = OPENSSL_malloc(pt_len + 16)) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if (!cms_gcm_encrypt(cms_ctx_gcm(ctx, s->key_len), s->cek, s->key_len, s->nonce, sizeof(s->nonce), s->aad,
	                     s->aad_len > 0 ? (size_t)s->aad_len : 0, pt, pt_len, s->ct, s->tag, ENC_TAG_LEN))
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "AES-GCM encryption failed");
	ASN1_OBJECT_free(ec->content_type);
	ec->content_type = OBJ_nid2obj(o->compress ? NID_id_smime_ct_compressedData
	                               : o->content_type_nid == NID_pkcs7_signed ? NID_pkcs7_signed : NID_pkcs7_data);
	if ((gp = CMSX_GCM_PARAMS_new()) == NULL || (gp->icv_len = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(gp->nonce, s->nonce, sizeof(s->nonce)) ||
	    !ASN1_INTEGER_set(gp->icv_len, ENC_TAG_LEN) ||
	    !enc_algor_set_seq(ec->algorithm, OBJ_nid2obj(cms_scheme_cipher_nid(o->cipher)), gp,
	                       ASN1_ITEM_rptr(CMSX_GCM_PARAMS)) ||
	    (ec->content = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(ec->content, s->ct, (int)pt_len) ||
	    !ASN1_OCTET_STRING_set(s->env->mac, s->tag, ENC_TAG_LEN))
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot encode encrypted content");
	CMSX_GCM_PARAMS_free(gp);
	return st;
}

static smscms_status enc_originator_info(smscms_ctx *ctx, const smscms_identity *originator,
                                         struct enc_state *s)
{
	CMSX_ORIGINFO *oi;
	int i;

	if ((oi = s->env->originator_info = CMSX_ORIGINFO_new()) == NULL ||
	    (oi->certs = sk_ASN1_TYPE_new_null()) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	/* The originator's certificate first: receivers decode in order. */
	for (i = -1; i < sk_X509_num(originator->chain); i++) {
		ASN1_TYPE *t = cms_asn1_cert_encode(i < 0 ? originator->cert : sk_X509_value(originator->chain, i));

		if (t == NULL)
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot encode originatorInfo certificate");
		if (!sk_ASN1_TYPE_push(oi->certs, t)) {
			ASN1_TYPE_free(t);
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		}
	}
	return SMSCMS_OK;
}

/* originator [0] and ukm [1] of the KeyAgreeRecipientInfo. */
static smscms_status enc_kari_originator(smscms_ctx *ctx, const smscms_encrypt_opts *o,
                                         const smscms_identity *originator, struct enc_state *s)
{
	CMSX_ORIGINATOR *og = s->kari->originator;
	CMSX_MQV_UKM *ukm = NULL;
	const ASN1_OCTET_STRING *ski;
	unsigned char *der = NULL;
	int len;
	smscms_status st = SMSCMS_OK;

	if (o->ka == SMSCMS_KA_ECDH) {
		og->type = CMSX_ORIG_KEY;
		if (!cms_key_to_origpub(s->eph, &og->d.key))
			return cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot encode the ephemeral key");
		return SMSCMS_OK;
	}
	ski = X509_get0_subject_key_id(originator->cert);
	/* Without originatorInfo a recipient could not find the certificate an
	 * issuer/serial or SKI names, so the static key itself is sent. */
	if (o->bc_compat || !o->originator_info) {
		og->type = CMSX_ORIG_KEY;
		if (!cms_point_to_origpub(originator->group, originator->pub, &og->d.key))
			return cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot encode the originator key");
	} else if (o->rid == SMSCMS_RID_SKI && ski != NULL) {
		og->type = CMSX_ORIG_SKI;
		if ((og->d.ski = ASN1_OCTET_STRING_dup(ski)) == NULL)
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	} else {
		og->type = CMSX_ORIG_IAS;
		if (!enc_issuer_serial(originator->cert, &og->d.ias))
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	}
	if ((ukm = CMSX_MQV_UKM_new()) == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	CMSX_ORIG_PUBKEY_free(ukm->ephemeral);
	ukm->ephemeral = NULL;
	if (!cms_point_to_origpub(s->group, s->eph_pub, &ukm->ephemeral) || (len = i2d_CMSX_MQV_UKM(ukm, &der)) <= 0 ||
	    (s->kari->ukm = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(s->kari->ukm, der, len)) {
		st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot encode MQVuserKeyingMaterial");
		goto out;
	}
out:
	OPENSSL_free(der);
	CMSX_MQV_UKM_free(ukm);
	return st;
}

static smscms_status enc_recipient(smscms_ctx *ctx, const smscms_encrypt_opts *o, struct enc_state *s,
                                   X509 *rcert, size_t idx)
{
	unsigned char z[ENC_MAX_Z], kek[32], wrapped[ENC_MAX_WRAPPED];
	size_t z_len = cms_mqv_field_len(s->group), wrapped_len = 0;
	EC_POINT *rpub = NULL;
	CMSX_REK *rek = NULL;
	int wrap_nid = cms_kek_wrap_nid(s->key_len);
	/* BC 1.72 derives every MQV KEK from the raw ukm (measured: it also
	 * refuses the RFC 5753 form for sha1kdf); its ECDH follows the RFC. */
	int bc_form = o->bc_compat && o->ka == SMSCMS_KA_MQV;
	smscms_status st = SMSCMS_OK;
	int ok;

	if (o->ka == SMSCMS_KA_MQV) {
		ok = cms_cert_point(s->group, rcert, &rpub) &&
		     cms_mqv_shared(s->group, s->orig_priv, s->eph_priv, s->eph_pub, rpub, rpub, z, z_len);
	} else {
		ok = cms_ecdh_shared(s->eph, X509_get0_pubkey(rcert), z, z_len);
	}
	if (!ok) {
		st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "recipient %zu: key agreement failed", idx);
		goto out;
	}
	if (!cms_kek_from_z(cms_ctx_x963(ctx), cms_ctx_md(ctx, o->kdf), z, z_len, wrap_nid, NULL, 0, bc_form, kek, s->key_len) ||
	    !cms_kek_wrap(cms_ctx_wrap(ctx, s->key_len), kek, s->key_len, s->cek, s->key_len, wrapped, &wrapped_len)) {
		st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "recipient %zu: key derivation or wrap failed", idx);
		goto out;
	}
	if ((rek = CMSX_REK_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(rek->encrypted_key, wrapped, (int)wrapped_len)) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	if (o->rid == SMSCMS_RID_SKI) {
		rek->rid->type = CMSX_RID_KEYID;
		if ((rek->rid->d.rkeyid = CMSX_RKEYID_new()) == NULL ||
		    !ASN1_STRING_copy(rek->rid->d.rkeyid->ski, X509_get0_subject_key_id(rcert))) {
			st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
			goto out;
		}
	} else {
		rek->rid->type = CMSX_RID_IAS;
		if (!enc_issuer_serial(rcert, &rek->rid->d.ias)) {
			st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
			goto out;
		}
	}
	if (!sk_CMSX_REK_push(s->kari->reks, rek)) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	rek = NULL;
out:
	CMSX_REK_free(rek);
	EC_POINT_free(rpub);
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(kek, sizeof(kek));
	return st;
}

static smscms_status enc_kari(smscms_ctx *ctx, const smscms_encrypt_opts *o,
                              const smscms_identity *originator,
                              X509 *const *recipients, size_t n, struct enc_state *s)
{
	X509_ALGOR *wrap = NULL;
	CMSX_RECIPINFO *ri = NULL;
	smscms_status st;
	size_t i;
	int ok;

	if ((s->kari = CMSX_KARI_new()) == NULL || !ASN1_INTEGER_set(s->kari->version, 3))
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if ((st = enc_kari_originator(ctx, o, originator, s)) != SMSCMS_OK)
		return st;
	/* keyEncryptionAlgorithm: the scheme, parameters = the key wrap
	 * AlgorithmIdentifier with absent parameters (RFC 3565). */
	if ((wrap = X509_ALGOR_new()) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	ok = X509_ALGOR_set0(wrap, OBJ_nid2obj(cms_kek_wrap_nid(s->key_len)), V_ASN1_UNDEF, NULL);
	if (ok) {
		ASN1_OBJECT *scheme = cms_scheme_oid(o->ka, o->kdf);

		ok = scheme != NULL && enc_algor_set_seq(s->kari->kea, scheme, wrap, ASN1_ITEM_rptr(X509_ALGOR));
		if (!ok)
			ASN1_OBJECT_free(scheme);
	}
	X509_ALGOR_free(wrap);
	if (!ok)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot encode the key agreement algorithm");
	for (i = 0; i < n; i++)
		if ((st = enc_recipient(ctx, o, s, recipients[i], i + 1)) != SMSCMS_OK)
			return st;
	if ((ri = CMSX_RECIPINFO_new()) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	ri->type = CMSX_RI_KARI;
	ri->d.kari = s->kari;
	if (!sk_CMSX_RECIPINFO_push(s->env->recipient_infos, ri)) {
		ri->d.kari = NULL;
		CMSX_RECIPINFO_free(ri);
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	}
	s->kari = NULL;
	return SMSCMS_OK;
}

static smscms_status enc_keys(smscms_ctx *ctx, const smscms_encrypt_opts *o,
                              const smscms_identity *originator, struct enc_state *s)
{
	/* MQV: the originator's group is on the same curve (checked) and is
	 * only read, so it is borrowed instead of built per message. */
	if (o->ka == SMSCMS_KA_MQV)
		s->group = originator->group;
	else
		s->group = s->group_owned = EC_GROUP_new_by_curve_name(s->nid);
	if (s->group == NULL || (s->eph = cms_key_generate(s->nid)) == NULL)
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot generate the ephemeral key");
	if (o->ka == SMSCMS_KA_MQV &&
	    (!cms_key_priv(s->eph, &s->eph_priv) || !cms_key_point(s->group, s->eph, &s->eph_pub) ||
	     (s->orig_priv = BN_dup(originator->priv)) == NULL))
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot read the MQV keys");
	if (RAND_priv_bytes(s->cek, (int)s->key_len) != 1 || RAND_bytes(s->nonce, sizeof(s->nonce)) != 1)
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "random generator failed");
	return SMSCMS_OK;
}

smscms_status smscms_encrypt(smscms_ctx *ctx, const smscms_encrypt_opts *opts,
                             const smscms_identity *originator,
                             X509 *const *recipients, size_t n_recipients,
                             const unsigned char *pt, size_t pt_len,
                             unsigned char **der, size_t *der_len)
{
	struct enc_state s;
	smscms_encrypt_opts defaults;
	smscms_status st;
	int len;

	if (ctx == NULL || der == NULL || der_len == NULL || (pt == NULL && pt_len > 0))
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "encrypt: missing argument");
	*der = NULL;
	*der_len = 0;
	if (opts == NULL) {
		smscms_encrypt_opts_init(&defaults);
		opts = &defaults;
	}
	memset(&s, 0, sizeof(s));
	s.key_len = cms_cipher_keylen(opts->cipher);
	if ((st = enc_check_args(ctx, opts, originator, recipients, n_recipients, &s)) != SMSCMS_OK)
		goto out;
	if ((st = enc_keys(ctx, opts, originator, &s)) != SMSCMS_OK)
		goto out;
	if ((s.env = CMSX_AUTHENV_new()) == NULL || !ASN1_INTEGER_set(s.env->version, 0)) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	if (opts->originator_info && (st = enc_originator_info(ctx, originator, &s)) != SMSCMS_OK)
		goto out;
	if ((st = enc_attrs(ctx, opts, &s)) != SMSCMS_OK)
		goto out;
	if (opts->compress &&
	    (st = cms_compress_wrap(ctx, opts->content_type_nid == NID_pkcs7_signed ? NID_pkcs7_signed : NID_pkcs7_data,
	                            pt, pt_len, &s.zipped, &s.zipped_len)) != SMSCMS_OK)
		goto out;
	if ((st = enc_content(ctx, opts, &s, opts->compress ? s.zipped : pt,
	                      opts->compress ? s.zipped_len : pt_len)) != SMSCMS_OK)
		goto out;
	if ((st = enc_kari(ctx, opts, originator, recipients, n_recipients, &s)) != SMSCMS_OK)
		goto out;
	if ((s.ci = CMSX_CONTENTINFO_new()) != NULL) {
		ASN1_TYPE_free(s.ci->content);
		s.ci->content = cms_asn1_any_sequence(s.env, ASN1_ITEM_rptr(CMSX_AUTHENV));
	}
	if (s.ci == NULL || s.ci->content == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot encode AuthEnvelopedData");
		goto out;
	}
	ASN1_OBJECT_free(s.ci->content_type);
	s.ci->content_type = OBJ_nid2obj(NID_id_smime_ct_authEnvelopedData);
	if ((len = i2d_CMSX_CONTENTINFO(s.ci, der)) <= 0) {
		*der = NULL;
		st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot encode ContentInfo");
		goto out;
	}
	*der_len = (size_t)len;
	st = SMSCMS_OK;
out:
	enc_state_free(&s);
	return st;
}
