/*
 * In-memory PKI for the cms unit tests (see cms_test_support.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "tests/unit/cms_test_support.h"

static char cts_tmp[64];

EVP_PKEY *cts_key(int nid)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid));

	assert_non_null(k);
	return k;
}

static void cts_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

X509 *cts_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
               int is_ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(name);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"SMS test", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	cts_ext(x, issuer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	cts_ext(x, issuer, NID_key_usage, is_ca ? "critical,keyCertSign,cRLSign" : "critical,keyAgreement");
	cts_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		cts_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

X509_CRL *cts_crl(X509 *issuer, EVP_PKEY *issuer_key, const long *serials, size_t n)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	size_t i;

	assert_non_null(crl);
	assert_non_null(t);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
	assert_non_null(X509_gmtime_adj(t, -60));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_non_null(X509_gmtime_adj(t, 86400));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	for (i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();

		assert_non_null(r);
		assert_non_null(sn);
		assert_int_equal(ASN1_INTEGER_set(sn, serials[i]), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, sn), 1);
		assert_non_null(X509_gmtime_adj(t, -30));
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_INTEGER_free(sn);
	}
	ASN1_TIME_free(t);
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_true(X509_CRL_sign(crl, issuer_key, EVP_sha256()) > 0);
	return crl;
}

smscms_identity *cts_identity(X509 *cert, EVP_PKEY *key, X509 *chain1)
{
	smscms_ctx *ctx = smscms_ctx_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	smscms_identity *id = NULL;

	assert_non_null(ctx);
	assert_non_null(chain);
	if (chain1 != NULL)
		assert_true(sk_X509_push(chain, chain1) > 0);
	assert_int_equal(smscms_identity_new(ctx, cert, key, chain, &id), SMSCMS_OK);
	sk_X509_free(chain);
	smscms_ctx_free(ctx);
	return id;
}

const char *cts_dir(void)
{
	if (cts_tmp[0] == '\0') {
		snprintf(cts_tmp, sizeof(cts_tmp), "/tmp/test_cms.XXXXXX");
		assert_non_null(mkdtemp(cts_tmp));
	}
	return cts_tmp;
}

void cts_dir_remove(void)
{
	char cmd[128];

	if (cts_tmp[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cts_tmp);
	assert_int_equal(system(cmd), 0);
	cts_tmp[0] = '\0';
}

const char *cts_write_cert(const char *name, X509 *x, char *buf, size_t len)
{
	FILE *f;

	snprintf(buf, len, "%s/%s", cts_dir(), name);
	f = fopen(buf, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
	return buf;
}

const char *cts_write_crls(const char *name, X509_CRL *const *crls, size_t n, char *buf, size_t len)
{
	FILE *f;
	size_t i;

	snprintf(buf, len, "%s/%s", cts_dir(), name);
	f = fopen(buf, "w");
	assert_non_null(f);
	for (i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509_CRL(f, crls[i]), 1);
	assert_int_equal(fclose(f), 0);
	return buf;
}

void cts_pki_init(struct cts_pki *p, int nid, const char *tag)
{
	char cn[64];

	memset(p, 0, sizeof(*p));
	p->nid = nid;
	p->root_key = cts_key(nid);
	snprintf(cn, sizeof(cn), "%s root", tag);
	p->root = cts_cert(cn, p->root_key, NULL, NULL, 1, 1);
	p->ca_key = cts_key(nid);
	snprintf(cn, sizeof(cn), "%s ca", tag);
	p->ca = cts_cert(cn, p->ca_key, p->root, p->root_key, 1, 2);
}

void cts_pki_free(struct cts_pki *p)
{
	X509_free(p->root);
	X509_free(p->ca);
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->ca_key);
	memset(p, 0, sizeof(*p));
}

smscms_identity *cts_leaf(struct cts_pki *p, const char *cn, long serial, int nid)
{
	EVP_PKEY *k = cts_key(nid != 0 ? nid : p->nid);
	X509 *x = cts_cert(cn, k, p->ca, p->ca_key, 0, serial);
	smscms_identity *id = cts_identity(x, k, p->ca);

	X509_free(x);
	EVP_PKEY_free(k);
	return id;
}
