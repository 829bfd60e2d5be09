/*
 * smscms_recipients: who an AuthEnvelopedData addresses, without any key.
 * The auditor names the recipients of a message it cannot read; what this
 * returns is unverified (anyone can write any recipient identifier).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>
#include "cms/cms_asn1.h"
#include "cms/cms_internal.h"
#include "cms/cms_message.h"

/* "issuer=<RFC 2253>, serial=<hex>" into buf; 0, or -1 when it does not fit. */
static int ias_text(const X509_NAME *issuer, const ASN1_INTEGER *serial, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	char *data;
	long n;
	int rc = -1;

	if (b == NULL || hex == NULL || X509_NAME_print_ex(b, issuer, 0, XN_FLAG_RFC2253) < 0)
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n < 0 || snprintf(buf, len, "issuer=%.*s, serial=%s", (int)n, data, hex) >= (int)len)
		goto out;
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	BIO_free(b);
	return rc;
}

static int ski_text(const ASN1_OCTET_STRING *ski, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "ski=");
	int i;

	for (i = 0; i < ski->length; i++) {
		if (off + 3 > len)
			return -1;
		off += (size_t)snprintf(buf + off, len - off, "%02x", ski->data[i]);
	}
	return 0;
}

int smscms_recipient_id_of_cert(X509 *cert, int ski_form, char *buf, size_t len)
{
	const ASN1_OCTET_STRING *ski;

	if (cert == NULL || buf == NULL || len == 0)
		return -1;
	if (!ski_form)
		return ias_text(X509_get_issuer_name(cert), X509_get0_serialNumber(cert), buf, len);
	ski = X509_get0_subject_key_id(cert);
	return ski != NULL ? ski_text(ski, buf, len) : -1;
}

static smscms_status add_rek(smscms_ctx *ctx, const CMSX_REK *rek, char (*out)[SMSCMS_RECIPIENT_ID_MAX],
                             size_t max, size_t *n)
{
	int rc;

	if (*n >= max)
		return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "more than %zu recipients", max);
	if (rek->rid->type == CMSX_RID_IAS)
		rc = ias_text(rek->rid->d.ias->issuer, rek->rid->d.ias->serial, out[*n], SMSCMS_RECIPIENT_ID_MAX);
	else
		rc = ski_text(rek->rid->d.rkeyid->ski, out[*n], SMSCMS_RECIPIENT_ID_MAX);
	if (rc != 0)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "recipient %zu: identifier too long", *n + 1);
	(*n)++;
	return SMSCMS_OK;
}

smscms_status smscms_recipients(smscms_ctx *ctx, const smscms_limits *limits, const unsigned char *der,
                                size_t der_len, char (*out)[SMSCMS_RECIPIENT_ID_MAX], size_t max, size_t *n)
{
	CMSX_CONTENTINFO *ci = NULL;
	CMSX_AUTHENV *env = NULL;
	smscms_limits defaults;
	smscms_status st = SMSCMS_OK;
	int i, j;

	if (ctx == NULL || der == NULL || out == NULL || n == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "recipients: missing argument");
	*n = 0;
	if (limits == NULL) {
		smscms_limits_init(&defaults);
		limits = &defaults;
	}
	if ((st = cms_message_decode(ctx, limits, der, der_len, &ci, &env)) != SMSCMS_OK)
		goto out;
	for (i = 0; i < sk_CMSX_RECIPINFO_num(env->recipient_infos) && st == SMSCMS_OK; i++) {
		const CMSX_RECIPINFO *ri = sk_CMSX_RECIPINFO_value(env->recipient_infos, i);

		if (ri->type != CMSX_RI_KARI)
			continue;
		for (j = 0; j < sk_CMSX_REK_num(ri->d.kari->reks) && st == SMSCMS_OK; j++)
			st = add_rek(ctx, sk_CMSX_REK_value(ri->d.kari->reks, j), out, max, n);
	}
out:
	CMSX_AUTHENV_free(env);
	CMSX_CONTENTINFO_free(ci);
	return st;
}
