/*
 * common/signed_data.c: what the device signs verifies against the E2E root
 * and hands back the content byte for byte, the signer and its chain and
 * the signing time; a signer from another PKI, a revoked signer, tampered
 * content, something that is not SignedData, trailing bytes and a message
 * over the size bound are refused with a line that says which.
 * Certificates come from pki/sms-pki, run once into a private directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "common/crl_set.h"
#include "common/signed_data.h"
#include "tests/unit/pki_test_support.h"

#define EQ1 "e2e/ma/000001/acc/00001/dev/EQ1"
#define CONTENT "{\"equipment\":\"EQ1\",\"seq\":1}"
#define MAX_DER 65536

static char dir[64];

#define PKI(sub, ...) pts_run("%s/pki/sms-pki --dir %s/%s --pki e2e " __VA_ARGS__ " >/dev/null 2>&1", pts_root_dir(), dir, sub)

static int setup(void **state)
{
	(void)state;
	if (pts_tmpdir(dir, sizeof(dir), "signed-data") != 0)
		return -1;
	if (PKI("pki", "init") || PKI("pki", "master 000001") || PKI("pki", "account 000001 00001") ||
	    PKI("pki", "device 000001 00001 EQ1") ||
	    PKI("other", "init") || PKI("other", "master 000001") || PKI("other", "account 000001 00001") ||
	    PKI("other", "device 000001 00001 EQ1") ||
	    pts_run("cp -a %s/pki %s/revoked", dir, dir) || PKI("revoked", "revoke ma/000001/acc/00001/dev/EQ1")) {
		fprintf(stderr, "# sms-pki failed\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return pts_remove(dir);
}

static STACK_OF(X509_INFO) *read_infos(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	STACK_OF(X509_INFO) *infos;

	assert_non_null(b);
	infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(infos);
	return infos;
}

/* Signs CONTENT with the identity under pki_sub/EQ1. */
static unsigned char *sign_as(const char *pki_sub, size_t *len)
{
	char path[256], err[256];
	STACK_OF(X509) *chain = sk_X509_new_null();
	STACK_OF(X509_INFO) *infos;
	X509 *cert;
	EVP_PKEY *key;
	unsigned char *der = NULL;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/" EQ1 "/cert.pem", dir, pki_sub);
	assert_non_null(cert = signed_data_load_cert(path, err, sizeof err));
	snprintf(path, sizeof path, "%s/%s/" EQ1 "/key.pem", dir, pki_sub);
	assert_non_null(f = fopen(path, "r"));
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(key);
	snprintf(path, sizeof path, "%s/%s/" EQ1 "/chain.pem", dir, pki_sub);
	infos = read_infos(path);
	while (sk_X509_INFO_num(infos) > 0) {
		X509_INFO *xi = sk_X509_INFO_shift(infos);

		if (xi->x509 != NULL && sk_X509_push(chain, xi->x509))
			xi->x509 = NULL;
		X509_INFO_free(xi);
	}
	sk_X509_INFO_free(infos);
	assert_int_equal(signed_data_sign(cert, key, chain, (const unsigned char *)CONTENT, strlen(CONTENT), &der, len,
	                                  err, sizeof err), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return der;
}

/* The E2E root of pki/, with the CRLs of crl_sub (NULL: none). */
static signed_data_trust *trust(const char *crl_sub)
{
	char root[256], crls[256], cas[256], err[512];
	const char *files[1] = { crls };
	STACK_OF(X509) *issuers;
	STACK_OF(X509_INFO) *infos;
	struct crl_set *set = NULL;
	signed_data_trust *t;
	int i;

	snprintf(root, sizeof root, "%s/pki/e2e/root/ca.crt", dir);
	assert_non_null(t = signed_data_trust_new(root, err, sizeof err));
	if (crl_sub == NULL)
		return t;
	issuers = sk_X509_new_null();
	snprintf(crls, sizeof crls, "%s/%s/e2e/crls.pem", dir, crl_sub);
	snprintf(cas, sizeof cas, "%s/pki/e2e/cas.pem", dir);
	for (i = 0; i < 2; i++) {
		infos = read_infos(i == 0 ? root : cas);
		while (sk_X509_INFO_num(infos) > 0) {
			X509_INFO *xi = sk_X509_INFO_shift(infos);

			if (xi->x509 != NULL && sk_X509_push(issuers, xi->x509))
				xi->x509 = NULL;
			X509_INFO_free(xi);
		}
		sk_X509_INFO_free(infos);
	}
	assert_int_equal(crl_set_load(files, 1, issuers, NULL, &set, err, sizeof err), 0);
	assert_int_equal(signed_data_trust_set_crls(t, crl_set_crls(set), err, sizeof err), 0);
	crl_set_free(set);
	sk_X509_pop_free(issuers, X509_free);
	return t;
}

/* Verifies der; on refusal the message must contain reason. */
static void expect(const char *crl_sub, const unsigned char *der, size_t len, const char *reason)
{
	signed_data_trust *t = trust(crl_sub);
	signed_data_info info;
	char err[512] = "";
	int rc = signed_data_verify(t, "test", der, len, MAX_DER, &info, err, sizeof err);

	if (reason == NULL) {
		assert_int_equal(rc, 0);
		signed_data_info_clear(&info);
	} else {
		printf("# refused: %s\n", err);
		assert_int_equal(rc, -1);
		assert_null(info.content);
		assert_null(info.signer);
		assert_non_null(strstr(err, reason));
		assert_true(strncmp(err, "test: ", 6) == 0);
	}
	signed_data_trust_free(t);
}

static void signed_content_verifies(void **state)
{
	signed_data_trust *t = trust("pki");
	signed_data_info info;
	char err[512], subject[256];
	size_t len;
	unsigned char *der = sign_as("pki", &len);
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(signed_data_verify(t, "test", der, len, MAX_DER, &info, err, sizeof err), 0);
	assert_int_equal(info.content_len, strlen(CONTENT));
	assert_memory_equal(info.content, CONTENT, info.content_len);
	X509_NAME_oneline(X509_get_subject_name(info.signer), subject, sizeof subject);
	assert_non_null(strstr(subject, "serialNumber=EQ1"));
	/* device, account CA, master-account CA, root */
	assert_int_equal(sk_X509_num(info.chain), 4);
	assert_int_equal(X509_cmp(sk_X509_value(info.chain, 0), info.signer), 0);
	assert_true(info.signing_time >= now - 60 && info.signing_time <= now + 60);
	signed_data_info_clear(&info);
	signed_data_trust_free(t);
	OPENSSL_free(der);
}

static void other_pki_refused(void **state)
{
	size_t len;
	unsigned char *der = sign_as("other", &len);

	(void)state;
	expect(NULL, der, len, "signer chain does not verify");
	OPENSSL_free(der);
}

static void revoked_signer_refused(void **state)
{
	size_t len;
	unsigned char *der = sign_as("pki", &len);

	(void)state;
	expect("pki", der, len, NULL);
	expect("revoked", der, len, "certificate revoked");
	OPENSSL_free(der);
}

static void tampered_content_refused(void **state)
{
	size_t len, i;
	unsigned char *der = sign_as("pki", &len);

	(void)state;
	for (i = 0; i + strlen(CONTENT) <= len && memcmp(der + i, CONTENT, strlen(CONTENT)) != 0; i++)
		;
	assert_true(i + strlen(CONTENT) <= len);
	der[i + strlen(CONTENT) - 2] ^= 0x01; /* the seq digit */
	expect(NULL, der, len, "signature does not verify");
	OPENSSL_free(der);
}

static void malformed_refused(void **state)
{
	static const unsigned char junk[] = "this is not CMS";
	size_t len;
	unsigned char *der = sign_as("pki", &len), *longer = malloc(len + 1);

	(void)state;
	assert_non_null(longer);
	expect(NULL, junk, sizeof junk - 1, "not DER CMS");
	memcpy(longer, der, len);
	longer[len] = 0;
	expect(NULL, longer, len + 1, "bytes after the DER");
	expect(NULL, der, 0, "empty or larger");
	{
		signed_data_trust *t = trust(NULL);
		signed_data_info info;
		char err[256];

		assert_int_equal(signed_data_verify(t, "test", der, len, len - 1, &info, err, sizeof err), -1);
		assert_non_null(strstr(err, "larger than"));
		signed_data_trust_free(t);
	}
	free(longer);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signed_content_verifies),
		cmocka_unit_test(other_pki_refused),
		cmocka_unit_test(revoked_signer_refused),
		cmocka_unit_test(tampered_content_refused),
		cmocka_unit_test(malformed_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
