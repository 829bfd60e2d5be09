/*
 * smscms_decrypt: ContentInfo(AuthEnvelopedData) -> plaintext.
 *
 * Order of work: size limit, DER decoding, counts against the limits, the
 * content algorithm, then the RecipientEncryptedKey addressed to us, key
 * agreement and unwrap (RFC 5753 SharedInfo first, Bouncy Castle 1.72's raw
 * ukm form second for MQV), GCM decryption into a private buffer, the
 * originator chain, and only then the plaintext leaves.
 */
#include <limits.h>
#include <string.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "cms/cms_asn1.h"
#include "cms/cms_certcache.h"
#include "cms/cms_compress.h"
#include "cms/cms_gcm.h"
#include "cms/cms_kek.h"
#include "cms/cms_key.h"
#include "cms/cms_message.h"
#include "cms/cms_mqv.h"
#include "cms/cms_scheme.h"
#include "cms/cms_verifier.h"

#define DEC_MAX_Z 66

struct dec_state {
	CMSX_CONTENTINFO *ci;
	CMSX_AUTHENV *env;
	CMSX_GCM_PARAMS *gcm;
	smscms_cipher cipher;
	size_t key_len;
	size_t tag_len;
	smscms_ka ka;
	smscms_kdf kdf;
	int nid;
	int originator_key_form;
	int bc_shared_info;
	unsigned char cek[40];
	EC_POINT *orig_static;        /* MQV: originator's static public key */
	EC_POINT *eph_point;          /* MQV: ephemeral public key */
	EVP_PKEY *eph;                /* ECDH: ephemeral public key */
	X509 *orig_cert;              /* from originatorInfo, NULL if unknown */
	/* originatorInfo certificates, decoded on demand through the ctx's cache */
	struct cms_cert_info *certs;
	int n_certs;
	CMSX_MQV_UKM *mqv_ukm;
	X509_ALGOR *wrap;
	unsigned char *aad;
	unsigned char *pt;
	size_t pt_len;
	int compressed;               /* pt is what an RFC 3274 CompressedData held */
	int inner_nid;
};

static void dec_state_free(struct dec_state *s)
{
	CMSX_CONTENTINFO_free(s->ci);
	CMSX_AUTHENV_free(s->env);
	CMSX_GCM_PARAMS_free(s->gcm);
	OPENSSL_cleanse(s->cek, sizeof(s->cek));
	EC_POINT_free(s->orig_static);
	EC_POINT_free(s->eph_point);
	EVP_PKEY_free(s->eph);
	X509_free(s->orig_cert);
	for (int i = 0; i < s->n_certs; i++)
		X509_free(s->certs[i].cert);
	OPENSSL_free(s->certs);
	CMSX_MQV_UKM_free(s->mqv_ukm);
	X509_ALGOR_free(s->wrap);
	OPENSSL_free(s->aad);
	OPENSSL_clear_free(s->pt, s->pt_len);
}

static void *dec_any_sequence(const ASN1_TYPE *t, const ASN1_ITEM *it)
{
	if (t == NULL || t->type != V_ASN1_SEQUENCE || t->value.sequence == NULL)
		return NULL;
	return cms_asn1_decode_exact(t->value.sequence->data, (size_t)t->value.sequence->length, it);
}

static smscms_status dec_parse(smscms_ctx *ctx, const smscms_limits *lim,
                               const unsigned char *der, size_t der_len, struct dec_state *s)
{
	size_t n_certs = 0;
	smscms_status st;
	long version;

	if ((st = cms_message_decode(ctx, lim, der, der_len, &s->ci, &s->env)) != SMSCMS_OK)
		return st;
	version = ASN1_INTEGER_get(s->env->version);
	if (version != 0)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "AuthEnvelopedData version %ld (expected 0)", version);
	if ((size_t)sk_CMSX_RECIPINFO_num(s->env->recipient_infos) > lim->max_recipients)
		return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "%d RecipientInfos exceed the limit of %zu",
		                 sk_CMSX_RECIPINFO_num(s->env->recipient_infos), lim->max_recipients);
	if (s->env->originator_info != NULL) {
		/* sk_*_num is -1 for an absent set. */
		if (sk_ASN1_TYPE_num(s->env->originator_info->certs) > 0)
			n_certs += (size_t)sk_ASN1_TYPE_num(s->env->originator_info->certs);
		if (sk_X509_CRL_num(s->env->originator_info->crls) > 0)
			n_certs += (size_t)sk_X509_CRL_num(s->env->originator_info->crls);
		if (n_certs > lim->max_certificates)
			return cms_error(ctx, SMSCMS_ERR_TOO_LARGE,
			                 "originatorInfo holds %zu certificates and CRLs, limit %zu",
			                 n_certs, lim->max_certificates);
		s->n_certs = sk_ASN1_TYPE_num(s->env->originator_info->certs);
		if (s->n_certs > 0 && (s->certs = OPENSSL_zalloc((size_t)s->n_certs * sizeof(*s->certs))) == NULL)
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		if (s->n_certs < 0)
			s->n_certs = 0;
	}
	return SMSCMS_OK;
}

static smscms_status dec_content_algorithm(smscms_ctx *ctx, struct dec_state *s)
{
	const CMSX_ENC_CONTENT *ec = s->env->enc_content;
	const ASN1_OBJECT *oid;
	const void *pval;
	ASN1_TYPE param;
	int ptype;
	long icv;

	X509_ALGOR_get0(&oid, &ptype, &pval, ec->algorithm);
	if (!cms_scheme_cipher_parse(oid, &s->cipher)) {
		char txt[80];

		OBJ_obj2txt(txt, sizeof(txt), oid, 1);
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "content encryption %s is not AES-GCM", txt);
	}
	s->key_len = cms_cipher_keylen(s->cipher);
	param.type = ptype;
	param.value.ptr = (char *)pval;
	if ((s->gcm = dec_any_sequence(&param, ASN1_ITEM_rptr(CMSX_GCM_PARAMS))) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "GCMParameters missing or not DER");
	if (s->gcm->nonce->length != 12)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "GCM nonce of %d bytes (only 12 supported)",
		                 s->gcm->nonce->length);
	icv = s->gcm->icv_len != NULL ? ASN1_INTEGER_get(s->gcm->icv_len) : 12;
	if (icv < 12 || icv > 16)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "GCM tag length %ld not in 12..16", icv);
	s->tag_len = (size_t)icv;
	if ((size_t)s->env->mac->length != s->tag_len)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "mac of %d bytes, GCMParameters say %zu",
		                 s->env->mac->length, s->tag_len);
	if (ec->content == NULL)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "detached content is not supported");
	return SMSCMS_OK;
}

static int dec_rid_matches(const CMSX_KARI_RID *rid, X509 *cert)
{
	const ASN1_OCTET_STRING *ski;

	if (rid->type == CMSX_RID_IAS)
		return X509_NAME_cmp(rid->d.ias->issuer, X509_get_issuer_name(cert)) == 0 &&
		       ASN1_INTEGER_cmp(rid->d.ias->serial, X509_get0_serialNumber(cert)) == 0;
	ski = X509_get0_subject_key_id(cert);
	return ski != NULL && ASN1_OCTET_STRING_cmp(rid->d.rkeyid->ski, ski) == 0;
}

/* Finds our RecipientEncryptedKey; counts every REK against the limit. */
static smscms_status dec_find_recipient(smscms_ctx *ctx, const smscms_limits *lim,
                                        const smscms_identity *rcpt, struct dec_state *s,
                                        CMSX_KARI **kari_out, CMSX_REK **rek_out)
{
	size_t total = 0;
	int i, j, others = 0;

	*kari_out = NULL;
	*rek_out = NULL;
	for (i = 0; i < sk_CMSX_RECIPINFO_num(s->env->recipient_infos); i++) {
		CMSX_RECIPINFO *ri = sk_CMSX_RECIPINFO_value(s->env->recipient_infos, i);

		if (ri->type != CMSX_RI_KARI) {
			others++;
			total++;
			continue;
		}
		total += (size_t)sk_CMSX_REK_num(ri->d.kari->reks);
		if (total > lim->max_recipients)
			return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "more than %zu recipients", lim->max_recipients);
		for (j = 0; *rek_out == NULL && j < sk_CMSX_REK_num(ri->d.kari->reks); j++) {
			CMSX_REK *rek = sk_CMSX_REK_value(ri->d.kari->reks, j);

			if (dec_rid_matches(rek->rid, rcpt->cert)) {
				*kari_out = ri->d.kari;
				*rek_out = rek;
			}
		}
	}
	if (*rek_out != NULL)
		return SMSCMS_OK;
	if (others > 0 && others == sk_CMSX_RECIPINFO_num(s->env->recipient_infos))
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED,
		                 "no KeyAgreeRecipientInfo (only other RecipientInfo kinds)");
	return cms_error(ctx, SMSCMS_ERR_NOT_RECIPIENT, "no recipient addresses %s",
	                 "our certificate (issuer/serial or subjectKeyIdentifier)");
}

/* Certificate i of originatorInfo, decoded on first use; NULL when it is
 * not a DER X.509 certificate. */
static const struct cms_cert_info *dec_cert(smscms_ctx *ctx, struct dec_state *s, int i)
{
	const ASN1_TYPE *t = sk_ASN1_TYPE_value(s->env->originator_info->certs, i);

	if (s->certs[i].cert != NULL)
		return &s->certs[i];
	if (t == NULL || t->type != V_ASN1_SEQUENCE || t->value.sequence == NULL ||
	    t->value.sequence->length <= 0)
		return NULL;
	if (!cms_certcache_decode(ctx, t->value.sequence->data, (size_t)t->value.sequence->length,
	                          &s->certs[i]))
		return NULL;
	return &s->certs[i];
}

/* 1 when the certificate's key is the point p on group. */
static int dec_cert_has_point(const struct cms_cert_info *ci, const EC_GROUP *group, const EC_POINT *p)
{
	EC_POINT *q = NULL;
	int eq;

	if (ci->nid != EC_GROUP_get_curve_name(group) ||
	    !cms_point_from_oct(group, ci->pub, ci->pub_len, &q))
		return 0;
	eq = EC_POINT_cmp(group, q, p, NULL) == 0;
	EC_POINT_free(q);
	return eq;
}

static const struct cms_cert_info *dec_find_cert(smscms_ctx *ctx, struct dec_state *s,
                                                 const CMSX_ORIGINATOR *og,
                                                 const EC_GROUP *group, const EC_POINT *key)
{
	int i;

	for (i = 0; i < s->n_certs; i++) {
		const struct cms_cert_info *ci = dec_cert(ctx, s, i);
		const ASN1_OCTET_STRING *ski;
		X509 *x;

		if (ci == NULL)
			continue;
		x = ci->cert;
		switch (og->type) {
		case CMSX_ORIG_IAS:
			if (X509_NAME_cmp(og->d.ias->issuer, X509_get_issuer_name(x)) == 0 &&
			    ASN1_INTEGER_cmp(og->d.ias->serial, X509_get0_serialNumber(x)) == 0)
				return ci;
			break;
		case CMSX_ORIG_SKI:
			ski = X509_get0_subject_key_id(x);
			if (ski != NULL && ASN1_OCTET_STRING_cmp(og->d.ski, ski) == 0)
				return ci;
			break;
		case CMSX_ORIG_KEY:
			if (dec_cert_has_point(ci, group, key))
				return ci;
			break;
		}
	}
	return NULL;
}

/* Originator keys: the ephemeral and, for MQV, the static key. MQV works on
 * points of the recipient's group directly, which skips building EVP_PKEYs
 * (provider decoder look-ups) for every message. */
static smscms_status dec_originator_keys(smscms_ctx *ctx, const smscms_identity *rcpt,
                                         const CMSX_KARI *kari, struct dec_state *s)
{
	const CMSX_ORIGINATOR *og = kari->originator;
	const struct cms_cert_info *ci;

	s->originator_key_form = og->type == CMSX_ORIG_KEY;
	if (s->ka == SMSCMS_KA_ECDH) {
		if (og->type != CMSX_ORIG_KEY)
			return cms_error(ctx, SMSCMS_ERR_MALFORMED, "ECDH originator is not an originatorKey");
		if (!cms_key_from_origpub(s->nid, og->d.key, &s->eph))
			return cms_error(ctx, SMSCMS_ERR_MALFORMED, "ECDH ephemeral key is not a valid point on %s",
			                 OBJ_nid2sn(s->nid));
		return SMSCMS_OK;
	}
	if (kari->ukm == NULL ||
	    (s->mqv_ukm = cms_asn1_decode_exact(kari->ukm->data, (size_t)kari->ukm->length,
	                           ASN1_ITEM_rptr(CMSX_MQV_UKM))) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "MQV ukm is not a DER MQVuserKeyingMaterial");
	if (!cms_point_from_origpub(rcpt->group, s->mqv_ukm->ephemeral, &s->eph_point))
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "MQV ephemeral key is not a valid point on %s",
		                 OBJ_nid2sn(s->nid));
	if (og->type == CMSX_ORIG_KEY) {
		if (!cms_point_from_origpub(rcpt->group, og->d.key, &s->orig_static))
			return cms_error(ctx, SMSCMS_ERR_MALFORMED, "MQV originatorKey is not a valid point on %s",
			                 OBJ_nid2sn(s->nid));
		if ((ci = dec_find_cert(ctx, s, og, rcpt->group, s->orig_static)) != NULL &&
		    X509_up_ref(ci->cert))
			s->orig_cert = ci->cert;
		return SMSCMS_OK;
	}
	if ((ci = dec_find_cert(ctx, s, og, NULL, NULL)) == NULL)
		return cms_error(ctx, SMSCMS_ERR_ORIGINATOR, "MQV originator %s not among the %d certificates carried",
		                 og->type == CMSX_ORIG_IAS ? "issuerAndSerialNumber" : "subjectKeyIdentifier",
		                 s->n_certs);
	if (ci->nid != s->nid)
		return cms_error(ctx, SMSCMS_ERR_ORIGINATOR, "MQV originator certificate is not on %s",
		                 OBJ_nid2sn(s->nid));
	if (!X509_up_ref(ci->cert))
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	s->orig_cert = ci->cert;
	if (!cms_point_from_oct(rcpt->group, ci->pub, ci->pub_len, &s->orig_static))
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "MQV originator certificate key is not a valid point on %s",
		                 OBJ_nid2sn(s->nid));
	return SMSCMS_OK;
}

static int dec_unwrap(smscms_ctx *ctx, struct dec_state *s, const unsigned char *z, size_t z_len, int wrap_nid,
                      size_t kek_len, const ASN1_OCTET_STRING *ukm, int bc_form,
                      const ASN1_OCTET_STRING *wrapped)
{
	unsigned char kek[32];
	size_t cek_len = 0;
	int ok;

	if ((size_t)wrapped->length > sizeof(s->cek))
		return 0;
	ok = cms_kek_from_z(cms_ctx_x963(ctx), cms_ctx_md(ctx, s->kdf), z, z_len, wrap_nid,
	                    ukm != NULL ? ukm->data : NULL, ukm != NULL ? (size_t)ukm->length : 0,
	                    bc_form, kek, kek_len) &&
	     cms_kek_unwrap(cms_ctx_wrap(ctx, kek_len), kek, kek_len, wrapped->data, (size_t)wrapped->length, s->cek, &cek_len) &&
	     cek_len == s->key_len;
	OPENSSL_cleanse(kek, sizeof(kek));
	return ok;
}

static smscms_status dec_key(smscms_ctx *ctx, const smscms_identity *rcpt, const CMSX_KARI *kari,
                             const CMSX_REK *rek, struct dec_state *s)
{
	unsigned char z[DEC_MAX_Z];
	const ASN1_OBJECT *oid;
	const void *pval;
	ASN1_TYPE param;
	const ASN1_OCTET_STRING *ukm;
	size_t z_len, kek_len;
	int ptype, wrap_nid, ok;
	smscms_status st = SMSCMS_OK;

	if (ASN1_INTEGER_get(kari->version) != 3)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "KeyAgreeRecipientInfo version %ld (expected 3)",
		                 ASN1_INTEGER_get(kari->version));
	X509_ALGOR_get0(&oid, &ptype, &pval, kari->kea);
	if (!cms_scheme_parse(oid, &s->ka, &s->kdf)) {
		char txt[80];

		OBJ_obj2txt(txt, sizeof(txt), oid, 1);
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "key agreement scheme %s is not supported", txt);
	}
	param.type = ptype;
	param.value.ptr = (char *)pval;
	if ((s->wrap = dec_any_sequence(&param, ASN1_ITEM_rptr(X509_ALGOR))) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "key wrap AlgorithmIdentifier missing or not DER");
	wrap_nid = OBJ_obj2nid(s->wrap->algorithm);
	if ((kek_len = cms_kek_len_for_nid(wrap_nid)) == 0)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "key wrap algorithm %s is not supported",
		                 wrap_nid != NID_undef ? OBJ_nid2sn(wrap_nid) : "(unknown)");
	s->nid = EC_GROUP_get_curve_name(rcpt->group);
	if ((st = dec_originator_keys(ctx, rcpt, kari, s)) != SMSCMS_OK)
		return st;

	z_len = cms_mqv_field_len(rcpt->group);
	if (s->ka == SMSCMS_KA_MQV) {
		ok = cms_mqv_shared(rcpt->group, rcpt->priv, rcpt->priv, rcpt->pub,
		                    s->orig_static, s->eph_point, z, z_len);
		ukm = s->mqv_ukm->added_ukm;
	} else {
		ok = cms_ecdh_shared(rcpt->key, s->eph, z, z_len);
		ukm = kari->ukm;
	}
	if (!ok) {
		st = cms_error(ctx, SMSCMS_ERR_KEY_UNWRAP, "%s key agreement failed", cms_ka_name(s->ka));
		goto out;
	}
	if (!dec_unwrap(ctx, s, z, z_len, wrap_nid, kek_len, ukm, 0, rek->encrypted_key)) {
		/* Bouncy Castle 1.72 feeds the raw addedukm to the KDF for MQV. */
		if (s->ka != SMSCMS_KA_MQV || !dec_unwrap(ctx, s, z, z_len, wrap_nid, kek_len, ukm, 1, rek->encrypted_key)) {
			st = cms_error(ctx, SMSCMS_ERR_KEY_UNWRAP,
			               "%s-%s: key unwrap failed (wrong key, tampered key or ukm)",
			               cms_ka_name(s->ka), cms_kdf_name(s->kdf));
			goto out;
		}
		s->bc_shared_info = 1;
	}
out:
	OPENSSL_cleanse(z, sizeof(z));
	return st;
}

static smscms_status dec_content(smscms_ctx *ctx, struct dec_state *s)
{
	const ASN1_OCTET_STRING *ct = s->env->enc_content->content;
	int aad_len = 0;

	if (s->env->auth_attrs != NULL &&
	    (aad_len = cms_asn1_attrs_aad(s->env->auth_attrs, &s->aad)) <= 0)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "authAttrs cannot be re-encoded");
	/* One spare byte so an empty plaintext still has a buffer. */
	if ((s->pt = OPENSSL_malloc((size_t)ct->length + 1)) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	s->pt_len = (size_t)ct->length;
	if (!cms_gcm_decrypt(cms_ctx_gcm(ctx, s->key_len), s->cek, s->key_len, s->gcm->nonce->data, (size_t)s->gcm->nonce->length,
	                     s->aad, (size_t)aad_len, ct->data, (size_t)ct->length,
	                     s->env->mac->data, s->tag_len, s->pt)) {
		OPENSSL_cleanse(s->pt, s->pt_len);
		return cms_error(ctx, SMSCMS_ERR_AUTH,
		                 "GCM tag does not verify: ciphertext, nonce or authAttrs were altered");
	}
	return SMSCMS_OK;
}

static smscms_status dec_signing_time(smscms_ctx *ctx, const struct dec_state *s,
                                      int *has, time_t *when)
{
	int i;

	*has = 0;
	for (i = 0; i < sk_X509_ATTRIBUTE_num(s->env->auth_attrs); i++) {
		X509_ATTRIBUTE *attr = sk_X509_ATTRIBUTE_value(s->env->auth_attrs, i);
		ASN1_TYPE *v;
		struct tm tm;

		if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr)) != NID_pkcs9_signingTime)
			continue;
		if (X509_ATTRIBUTE_count(attr) != 1 || (v = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
		    (v->type != V_ASN1_UTCTIME && v->type != V_ASN1_GENERALIZEDTIME) ||
		    !ASN1_TIME_to_tm((ASN1_TIME *)v->value.ptr, &tm))
			return cms_error(ctx, SMSCMS_ERR_MALFORMED, "signingTime attribute is not one valid time");
		*when = timegm(&tm);
		*has = 1;
		return SMSCMS_OK;
	}
	return SMSCMS_OK;
}

static smscms_status dec_describe(smscms_ctx *ctx, struct dec_state *s, smscms_originator *orig)
{
	smscms_status st;
	BIO *b;
	int i, n;

	if ((st = dec_signing_time(ctx, s, &orig->has_signing_time, &orig->signing_time)) != SMSCMS_OK)
		return st;
	orig->content_type_nid = s->compressed ? s->inner_nid : OBJ_obj2nid(s->env->enc_content->content_type);
	orig->compressed = s->compressed;
	if (orig->content_type_nid != NID_pkcs7_data && orig->content_type_nid != NID_pkcs7_signed)
		orig->content_type_nid = NID_undef;
	orig->ka = s->ka;
	orig->kdf = s->kdf;
	orig->cipher = s->cipher;
	orig->curve_nid = s->nid;
	orig->originator_key_form = s->originator_key_form;
	orig->bc_shared_info = s->bc_shared_info;
	if (s->n_certs > 0) {
		if ((orig->chain = sk_X509_new_null()) == NULL)
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		for (i = 0; i < s->n_certs; i++) {
			X509 *x = s->certs[i].cert;

			if (x == NULL)
				continue;
			if (!X509_up_ref(x))
				return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
			if (!sk_X509_push(orig->chain, x)) {
				X509_free(x);
				return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
			}
		}
	}
	if (s->orig_cert == NULL)
		return SMSCMS_OK;
	if (!X509_up_ref(s->orig_cert))
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	orig->cert = s->orig_cert;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if (X509_NAME_print_ex(b, X509_get_subject_name(s->orig_cert), 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(b, orig->subject, sizeof(orig->subject) - 1);
		orig->subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	return SMSCMS_OK;
}

/* A cached verdict needs only the originator's certificate; otherwise every
 * certificate of originatorInfo is decoded as untrusted chain material. */
static smscms_status dec_verify(smscms_ctx *ctx, smscms_verifier *v, struct dec_state *s)
{
	STACK_OF(X509) *untrusted;
	smscms_status st;
	int i;

	if (cms_verifier_cached(v, s->orig_cert))
		return SMSCMS_OK;
	if ((untrusted = sk_X509_new_null()) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	for (i = 0; i < s->n_certs; i++) {
		const struct cms_cert_info *ci = dec_cert(ctx, s, i);

		if (ci == NULL) {
			sk_X509_free(untrusted);
			return cms_error(ctx, SMSCMS_ERR_MALFORMED,
			                 "originatorInfo certificate %d is not a DER X.509 certificate", i + 1);
		}
		if (!sk_X509_push(untrusted, ci->cert)) {
			sk_X509_free(untrusted);
			return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		}
	}
	st = cms_verifier_check(ctx, v, s->orig_cert, untrusted);
	sk_X509_free(untrusted);
	return st;
}

/* Only authenticated content reaches zlib: the tag (and the chain, with a
 * verifier) verified before this. */
static smscms_status dec_uncompress(smscms_ctx *ctx, const smscms_limits *lim, struct dec_state *s)
{
	unsigned char *out;
	size_t out_len;
	smscms_status st;

	if (OBJ_obj2nid(s->env->enc_content->content_type) != NID_id_smime_ct_compressedData)
		return SMSCMS_OK;
	if ((st = cms_compress_unwrap(ctx, lim->max_content, s->pt, s->pt_len, &s->inner_nid, &out, &out_len)) !=
	    SMSCMS_OK)
		return st;
	OPENSSL_clear_free(s->pt, s->pt_len);
	s->pt = out;
	s->pt_len = out_len;
	s->compressed = 1;
	return SMSCMS_OK;
}

smscms_status smscms_decrypt(smscms_ctx *ctx, const smscms_limits *limits,
                             const smscms_identity *recipient,
                             smscms_verifier *verifier,
                             const unsigned char *der, size_t der_len,
                             unsigned char **pt, size_t *pt_len,
                             smscms_originator *orig)
{
	struct dec_state s;
	smscms_limits defaults;
	smscms_originator local;
	CMSX_KARI *kari;
	CMSX_REK *rek;
	smscms_status st;

	if (ctx == NULL || recipient == NULL || recipient->key == NULL || der == NULL || pt == NULL || pt_len == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "decrypt: missing argument or recipient key");
	*pt = NULL;
	*pt_len = 0;
	if (limits == NULL) {
		smscms_limits_init(&defaults);
		limits = &defaults;
	}
	memset(&s, 0, sizeof(s));
	memset(&local, 0, sizeof(local));
	if (orig != NULL)
		memset(orig, 0, sizeof(*orig));

	if ((st = dec_parse(ctx, limits, der, der_len, &s)) != SMSCMS_OK ||
	    (st = dec_content_algorithm(ctx, &s)) != SMSCMS_OK ||
	    (st = dec_find_recipient(ctx, limits, recipient, &s, &kari, &rek)) != SMSCMS_OK ||
	    (st = dec_key(ctx, recipient, kari, rek, &s)) != SMSCMS_OK ||
	    (st = dec_content(ctx, &s)) != SMSCMS_OK)
		goto out;
	if (verifier != NULL) {
		if (s.ka == SMSCMS_KA_ECDH) {
			st = cms_error(ctx, SMSCMS_ERR_ORIGINATOR,
			               "ECDH does not authenticate the originator; chain verification needs MQV");
			goto out;
		}
		if (s.orig_cert == NULL) {
			st = cms_error(ctx, SMSCMS_ERR_ORIGINATOR,
			               "MQV originatorKey matches no certificate in originatorInfo");
			goto out;
		}
		if ((st = dec_verify(ctx, verifier, &s)) != SMSCMS_OK)
			goto out;
		local.chain_verified = 1;
	}
	if ((st = dec_uncompress(ctx, limits, &s)) != SMSCMS_OK ||
	    (st = dec_describe(ctx, &s, &local)) != SMSCMS_OK)
		goto out;
	*pt = s.pt;
	*pt_len = s.pt_len;
	s.pt = NULL;
	s.pt_len = 0;
	if (orig != NULL) {
		*orig = local;
		memset(&local, 0, sizeof(local));
	}
	ctx->err[0] = '\0';
out:
	smscms_originator_clear(&local);
	dec_state_free(&s);
	return st;
}
