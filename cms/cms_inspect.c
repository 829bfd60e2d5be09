/*
 * smscms_inspect: a readable dump of the message structure. Decrypts
 * nothing, so it works without any key; everything printed is unverified.
 */
#include <limits.h>
#include <string.h>
#include <openssl/objects.h>
#include "cms/cms_asn1.h"
#include "cms/cms_internal.h"
#include "cms/cms_message.h"
#include "cms/cms_scheme.h"

static void *insp_any(int type, const void *val, const ASN1_ITEM *it)
{
	const ASN1_STRING *s = val;

	if (type != V_ASN1_SEQUENCE || s == NULL)
		return NULL;
	return cms_asn1_decode_exact(s->data, (size_t)s->length, it);
}

static void insp_oid(FILE *out, const char *label, const ASN1_OBJECT *oid)
{
	char txt[100];
	int nid = OBJ_obj2nid(oid);
	smscms_ka ka;
	smscms_kdf kdf;

	OBJ_obj2txt(txt, sizeof(txt), oid, 1);
	if (cms_scheme_parse(oid, &ka, &kdf))
		fprintf(out, "%s: %s (%s, %s kdf)\n", label, txt, cms_ka_name(ka), cms_kdf_name(kdf));
	else
		fprintf(out, "%s: %s (%s)\n", label, txt, nid != NID_undef ? OBJ_nid2ln(nid) : "unknown");
}

static void insp_name(FILE *out, const char *label, const X509_NAME *name, const ASN1_INTEGER *serial)
{
	BIO *b = BIO_new_fp(out, BIO_NOCLOSE);

	if (b == NULL)
		return;
	BIO_printf(b, "%s", label);
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	if (serial != NULL) {
		BIO_printf(b, ", serial ");
		i2a_ASN1_INTEGER(b, serial);
	}
	BIO_printf(b, "\n");
	BIO_free(b);
}

static void insp_hex(FILE *out, const char *label, const ASN1_STRING *s)
{
	fprintf(out, "%s", label);
	for (int i = 0; i < s->length && i < 32; i++)
		fprintf(out, "%02x", s->data[i]);
	fprintf(out, "%s (%d bytes)\n", s->length > 32 ? "..." : "", s->length);
}

static void insp_pubkey(FILE *out, const char *label, const CMSX_ORIG_PUBKEY *k)
{
	fprintf(out, "%s: EC public key, %d bytes%s\n", label, k->public_key->length,
	        k->public_key->length == 65 ? " (P-256)" : k->public_key->length == 97 ? " (P-384)" :
	        k->public_key->length == 133 ? " (P-521)" : "");
}

static void insp_kari(FILE *out, const CMSX_KARI *kari)
{
	const ASN1_OBJECT *oid;
	const void *pval;
	X509_ALGOR *wrap;
	CMSX_MQV_UKM *ukm = NULL;
	int ptype, i;

	fprintf(out, "  KeyAgreeRecipientInfo version %ld\n", ASN1_INTEGER_get(kari->version));
	X509_ALGOR_get0(&oid, &ptype, &pval, kari->kea);
	insp_oid(out, "    scheme", oid);
	if ((wrap = insp_any(ptype, pval, ASN1_ITEM_rptr(X509_ALGOR))) != NULL) {
		insp_oid(out, "    key wrap", wrap->algorithm);
		X509_ALGOR_free(wrap);
	}
	switch (kari->originator->type) {
	case CMSX_ORIG_IAS:
		insp_name(out, "    originator: issuerAndSerialNumber ", kari->originator->d.ias->issuer,
		          kari->originator->d.ias->serial);
		break;
	case CMSX_ORIG_SKI:
		insp_hex(out, "    originator: subjectKeyIdentifier ", kari->originator->d.ski);
		break;
	default:
		insp_pubkey(out, "    originator: originatorKey", kari->originator->d.key);
	}
	if (kari->ukm != NULL) {
		ukm = cms_asn1_decode_exact(kari->ukm->data, (size_t)kari->ukm->length, ASN1_ITEM_rptr(CMSX_MQV_UKM));
		if (ukm != NULL) {
			insp_pubkey(out, "    ukm: MQVuserKeyingMaterial, ephemeral", ukm->ephemeral);
			if (ukm->added_ukm != NULL)
				insp_hex(out, "    addedukm: ", ukm->added_ukm);
			CMSX_MQV_UKM_free(ukm);
		} else {
			insp_hex(out, "    ukm: ", kari->ukm);
		}
	}
	for (i = 0; i < sk_CMSX_REK_num(kari->reks); i++) {
		const CMSX_REK *rek = sk_CMSX_REK_value(kari->reks, i);
		char label[64];

		snprintf(label, sizeof(label), "    recipient %d: ", i + 1);
		if (rek->rid->type == CMSX_RID_IAS)
			insp_name(out, label, rek->rid->d.ias->issuer, rek->rid->d.ias->serial);
		else
			insp_hex(out, label, rek->rid->d.rkeyid->ski);
		fprintf(out, "      wrapped key: %d bytes\n", rek->encrypted_key->length);
	}
}

static void insp_attrs(FILE *out, const char *label, STACK_OF(X509_ATTRIBUTE) *attrs)
{
	int i;

	if (attrs == NULL) {
		fprintf(out, "%s: none\n", label);
		return;
	}
	fprintf(out, "%s: %d\n", label, sk_X509_ATTRIBUTE_num(attrs));
	for (i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(attrs, i);
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(a, 0);

		insp_oid(out, "  attribute", X509_ATTRIBUTE_get0_object(a));
		if (v != NULL && (v->type == V_ASN1_UTCTIME || v->type == V_ASN1_GENERALIZEDTIME)) {
			BIO *b = BIO_new_fp(out, BIO_NOCLOSE);

			if (b != NULL) {
				BIO_printf(b, "    value: ");
				ASN1_TIME_print(b, (ASN1_TIME *)v->value.ptr);
				BIO_printf(b, "\n");
				BIO_free(b);
			}
		}
	}
}

smscms_status smscms_inspect(smscms_ctx *ctx, const smscms_limits *limits,
                             const unsigned char *der, size_t der_len, FILE *out)
{
	CMSX_CONTENTINFO *ci = NULL;
	CMSX_AUTHENV *env = NULL;
	CMSX_GCM_PARAMS *gcm = NULL;
	smscms_limits defaults;
	const ASN1_OBJECT *oid;
	const void *pval;
	smscms_status st = SMSCMS_OK;
	int ptype, i;

	if (ctx == NULL || der == NULL || out == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "inspect: missing argument");
	if (limits == NULL) {
		smscms_limits_init(&defaults);
		limits = &defaults;
	}
	st = cms_message_decode(ctx, limits, der, der_len, &ci, &env);
	if (ci == NULL)
		return st;
	fprintf(out, "size: %zu bytes\n", der_len);
	insp_oid(out, "content type", ci->content_type);
	if (st != SMSCMS_OK)
		goto out;
	fprintf(out, "version: %ld\n", ASN1_INTEGER_get(env->version));
	if (env->originator_info == NULL) {
		fprintf(out, "originatorInfo: absent\n");
	} else {
		fprintf(out, "originatorInfo: %d certificates, %d CRLs\n",
		        sk_ASN1_TYPE_num(env->originator_info->certs) > 0 ? sk_ASN1_TYPE_num(env->originator_info->certs) : 0,
		        sk_X509_CRL_num(env->originator_info->crls) > 0 ? sk_X509_CRL_num(env->originator_info->crls) : 0);
		for (i = 0; i < sk_ASN1_TYPE_num(env->originator_info->certs); i++) {
			X509 *x = cms_asn1_cert_decode(sk_ASN1_TYPE_value(env->originator_info->certs, i));

			if (x == NULL) {
				fprintf(out, "  certificate: (not a DER X.509 certificate)\n");
				continue;
			}
			insp_name(out, "  certificate: ", X509_get_subject_name(x), X509_get0_serialNumber(x));
			X509_free(x);
		}
	}
	fprintf(out, "recipientInfos: %d\n", sk_CMSX_RECIPINFO_num(env->recipient_infos));
	for (i = 0; i < sk_CMSX_RECIPINFO_num(env->recipient_infos); i++) {
		const CMSX_RECIPINFO *ri = sk_CMSX_RECIPINFO_value(env->recipient_infos, i);

		if (ri->type == CMSX_RI_KARI)
			insp_kari(out, ri->d.kari);
		else
			fprintf(out, "  RecipientInfo alternative %d (not supported)\n", ri->type);
	}
	insp_oid(out, "encrypted content type", env->enc_content->content_type);
	X509_ALGOR_get0(&oid, &ptype, &pval, env->enc_content->algorithm);
	insp_oid(out, "content encryption", oid);
	if ((gcm = insp_any(ptype, pval, ASN1_ITEM_rptr(CMSX_GCM_PARAMS))) != NULL)
		fprintf(out, "  nonce: %d bytes, tag length: %ld\n", gcm->nonce->length,
		        gcm->icv_len != NULL ? ASN1_INTEGER_get(gcm->icv_len) : 12);
	fprintf(out, "encrypted content: %d bytes\n",
	        env->enc_content->content != NULL ? env->enc_content->content->length : 0);
	insp_attrs(out, "authAttrs", env->auth_attrs);
	fprintf(out, "mac: %d bytes\n", env->mac->length);
	insp_attrs(out, "unauthAttrs", env->unauth_attrs);
out:
	CMSX_GCM_PARAMS_free(gcm);
	CMSX_AUTHENV_free(env);
	CMSX_CONTENTINFO_free(ci);
	return st;
}
