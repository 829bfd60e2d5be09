/* The CRL namespace and crlNumber order; contract in crl_topic.h. */
#include "common/crl_topic.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "common/errf.h"

static const char *const pki_names[CRL_PKI_COUNT] = { "tls", "e2e" };

const char *crl_pki_name(crl_pki pki)
{
	return pki >= 0 && pki < CRL_PKI_COUNT ? pki_names[pki] : "?";
}

int crl_issuer_key_id(const X509_CRL *crl, char *hex, size_t hexlen, char *err, size_t errlen)
{
	AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
	int rc = -1, i, n;

	if (akid == NULL || akid->keyid == NULL || (n = ASN1_STRING_length(akid->keyid)) <= 0) {
		errf(err, errlen, "the CRL has no authorityKeyIdentifier keyIdentifier");
		goto out;
	}
	if (n > CRL_KEYID_MAX || hexlen < (size_t)n * 2 + 1) {
		errf(err, errlen, "the CRL's authorityKeyIdentifier is %d bytes, more than %d", n, CRL_KEYID_MAX);
		goto out;
	}
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", ASN1_STRING_get0_data(akid->keyid)[i]);
	rc = 0;
out:
	AUTHORITY_KEYID_free(akid);
	return rc;
}

int crl_topic_for(crl_pki pki, const X509_CRL *crl, char *buf, size_t len, char *err, size_t errlen)
{
	char hex[CRL_KEYID_HEX_MAX];

	if (crl_issuer_key_id(crl, hex, sizeof hex, err, errlen) != 0)
		return -1;
	if ((size_t)snprintf(buf, len, "%s%s/%s", CRL_TOPIC_PREFIX, crl_pki_name(pki), hex) >= len)
		return errf(err, errlen, "CRL topic too long");
	return 0;
}

int crl_topic_parse(const char *topic, crl_pki *pki, char *hex, size_t hexlen, char *err, size_t errlen)
{
	const char *rest, *id;
	size_t n, i;
	int p;

	if (strncmp(topic, CRL_TOPIC_PREFIX, strlen(CRL_TOPIC_PREFIX)) != 0)
		return errf(err, errlen, "not below %s", CRL_TOPIC_PREFIX);
	rest = topic + strlen(CRL_TOPIC_PREFIX);
	for (p = 0; p < CRL_PKI_COUNT; p++) {
		n = strlen(pki_names[p]);
		if (strncmp(rest, pki_names[p], n) == 0 && rest[n] == '/')
			break;
	}
	if (p == CRL_PKI_COUNT)
		return errf(err, errlen, "the level after %s is neither tls nor e2e", CRL_TOPIC_PREFIX);
	id = rest + strlen(pki_names[p]) + 1;
	n = strlen(id);
	if (n == 0 || n % 2 != 0 || n > 2 * CRL_KEYID_MAX || n >= hexlen)
		return errf(err, errlen, "the issuer key id level is not 2..%d hex digits", 2 * CRL_KEYID_MAX);
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return errf(err, errlen, "the issuer key id level is not lowercase hex");
	memcpy(hex, id, n + 1);
	*pki = (crl_pki)p;
	return 0;
}

int crl_number_cmp(const X509_CRL *a, const X509_CRL *b, int *cmp)
{
	ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
	ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
	int rc = -1;

	if (na != NULL && nb != NULL) {
		*cmp = ASN1_INTEGER_cmp(na, nb);
		rc = 0;
	}
	ASN1_INTEGER_free(na);
	ASN1_INTEGER_free(nb);
	return rc;
}

void crl_number_string(const X509_CRL *crl, char *buf, size_t len)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	BIGNUM *bn = n ? ASN1_INTEGER_to_BN(n, NULL) : NULL;
	char *dec = bn ? BN_bn2dec(bn) : NULL;

	snprintf(buf, len, "%s", dec ? dec : "none");
	OPENSSL_free(dec);
	BN_free(bn);
	ASN1_INTEGER_free(n);
}
