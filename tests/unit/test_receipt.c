/*
 * common/receipt.c: a receipt from the snapshot service's E2E role
 * certificate verifies and lists its digests; every other signer (a device,
 * a customer's client, another role, another PKI, an expired or revoked
 * role certificate), another device's receipt, tampered content or
 * signature and content outside the closed schema are refused.
 * Certificates come from pki/sms-pki, run once into a private directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>

#include "common/crl_set.h"
#include "common/receipt.h"
#include "tests/unit/pki_test_support.h"

#define EQ1 "000001/00001/EQ1"
#define ROLE "vendor-snapshot-service"
#define VSS "pki/e2e/services/roles/" ROLE

static char dir[64];

#define PKI(sub, ...) pts_run("%s/pki/sms-pki --dir %s/%s --pki e2e " __VA_ARGS__ " >/dev/null 2>&1", pts_root_dir(), dir, sub)

static int setup(void **state)
{
	(void)state;
	if (pts_tmpdir(dir, sizeof(dir), "receipt") != 0)
		return -1;
	if (PKI("pki", "init") || PKI("pki", "master 000001") || PKI("pki", "account 000001 00001") ||
	    PKI("pki", "device 000001 00001 EQ1") || PKI("pki", "client 000001 00001 auditor") ||
	    PKI("pki", "service " ROLE) || PKI("pki", "service vendor-firmware-service") ||
	    PKI("other", "init") || PKI("other", "service " ROLE) ||
	    /* Same CAs, the role re-issued with a validity that ended in 2021. */
	    pts_run("cp -a %s/pki %s/expired", dir, dir) ||
	    PKI("expired", "--force --start-date 20200101000000Z --end-date 20210101000000Z service " ROLE) ||
	    /* Same certificate as in pki/, revoked in this copy's CRLs. */
	    pts_run("cp -a %s/pki %s/revoked", dir, dir) ||
	    PKI("revoked", "revoke services/roles/" ROLE)) {
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

static void *read_pem(const char *rel, int key)
{
	char path[256];
	void *obj;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL) : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(obj);
	return obj;
}

static STACK_OF(X509) *read_chain(const char *leaf)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char path[256];
	X509 *c;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/chain.pem", dir, leaf);
	f = fopen(path, "r");
	assert_non_null(f);
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, c);
	fclose(f);
	return sk;
}

static const unsigned char digests[3][RECEIPT_DIGEST_LEN] = { { 0x01, 0xab }, { 0x02, 0xcd }, { 0xff } };

/* A receipt for equipment signed with the identity in leaf ("pki/e2e/..."). */
static unsigned char *sign_as(const char *leaf, const char *equipment, size_t *len)
{
	char rel[256];
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain = read_chain(leaf);
	unsigned char *der = NULL;
	char err[256];

	snprintf(rel, sizeof rel, "%s/cert.pem", leaf);
	cert = read_pem(rel, 0);
	snprintf(rel, sizeof rel, "%s/key.pem", leaf);
	key = read_pem(rel, 1);
	assert_int_equal(receipt_sign(cert, key, chain, equipment, 1796342400, digests, 3, &der, len, err, sizeof err),
	                 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return der;
}

/* SignedData over arbitrary content with the real role key. */
static unsigned char *sign_raw(const char *json, size_t *len)
{
	X509 *cert = read_pem(VSS "/cert.pem", 0);
	EVP_PKEY *key = read_pem(VSS "/key.pem", 1);
	STACK_OF(X509) *chain = read_chain(VSS);
	BIO *in = BIO_new_mem_buf(json, (int)strlen(json));
	CMS_ContentInfo *cms = CMS_sign(cert, key, chain, in, CMS_BINARY | CMS_NOSMIMECAP);
	unsigned char *der = NULL;
	int n;

	assert_non_null(cms);
	n = i2d_CMS_ContentInfo(cms, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return der;
}

static receipt_verifier *verifier(const char *crl_pki)
{
	char root[256], sca[256], err[512], crlfile[256], cas[256];
	const char *issuers[2] = { root, cas };
	const char *files[1] = { crlfile };
	struct crl_set *set = NULL;
	receipt_verifier *v;

	snprintf(root, sizeof root, "%s/pki/e2e/root/ca.crt", dir);
	snprintf(sca, sizeof sca, "%s/pki/e2e/services/ca.crt", dir);
	v = receipt_verifier_new(root, sca, ROLE, err, sizeof err);
	assert_non_null(v);
	if (crl_pki != NULL) {
		STACK_OF(X509) *sk = sk_X509_new_null();
		STACK_OF(X509_INFO) *infos;
		BIO *b;
		int i;

		snprintf(crlfile, sizeof crlfile, "%s/%s/e2e/crls.pem", dir, crl_pki);
		snprintf(cas, sizeof cas, "%s/pki/e2e/cas.pem", dir);
		for (i = 0; i < 2; i++) {
			b = BIO_new_file(issuers[i], "r");
			assert_non_null(b);
			infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
			BIO_free(b);
			while (sk_X509_INFO_num(infos) > 0) {
				X509_INFO *xi = sk_X509_INFO_shift(infos);

				if (xi->x509 != NULL) {
					sk_X509_push(sk, xi->x509);
					xi->x509 = NULL;
				}
				X509_INFO_free(xi);
			}
			sk_X509_INFO_free(infos);
		}
		assert_int_equal(crl_set_load(files, 1, sk, NULL, &set, err, sizeof err), 0);
		assert_int_equal(receipt_verifier_set_crls(v, crl_set_crls(set), err, sizeof err), 0);
		crl_set_free(set);
		sk_X509_pop_free(sk, X509_free);
	}
	return v;
}

/* Verifies der as EQ1's receipt; returns 0/-1 and keeps the reason. */
static int check(receipt_verifier *v, const unsigned char *der, size_t len, const char *equipment, receipt *r,
                 char *err, size_t errlen)
{
	int rc = receipt_verify(v, der, len, equipment, r, err, errlen);

	if (rc != 0)
		printf("# refused: %s\n", err);
	return rc;
}

typedef void (*mutate_fn)(unsigned char *der, size_t *len);

/* A receipt signed by leaf for equipment, changed by mutate (may be NULL),
 * verified as expected_equipment's: refused with reason, nothing handed out. */
static void refused(const char *leaf, const char *equipment, const char *expected_equipment, const char *crl_pki,
                    mutate_fn mutate, const char *reason)
{
	receipt_verifier *v = verifier(crl_pki);
	size_t len;
	unsigned char *der = sign_as(leaf, equipment, &len);
	char err[512];
	receipt r;

	if (mutate != NULL)
		mutate(der, &len);
	assert_int_equal(check(v, der, len, expected_equipment, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, reason));
	assert_null(r.digests);
	OPENSSL_free(der);
	receipt_verifier_free(v);
}

static void refused_with(const char *leaf, const char *equipment, const char *expected_equipment,
                         const char *crl_pki, const char *reason)
{
	refused(leaf, equipment, expected_equipment, crl_pki, NULL, reason);
}

static void good_receipt(void **state)
{
	receipt_verifier *v = verifier("pki");
	size_t len;
	unsigned char *der = sign_as(VSS, EQ1, &len);
	char err[512];
	receipt r;

	(void)state;
	assert_int_equal(check(v, der, len, EQ1, &r, err, sizeof err), 0);
	assert_int_equal(r.n_digests, 3);
	assert_memory_equal(r.digests, digests, sizeof digests);
	assert_int_equal(r.receipted_at, 1796342400);
	assert_true(r.signing_time > 1700000000);
	receipt_free(&r);
	OPENSSL_free(der);
	receipt_verifier_free(v);
}

static void good_receipt_without_crls(void **state)
{
	receipt_verifier *v = verifier(NULL);
	size_t len;
	unsigned char *der = sign_as(VSS, EQ1, &len);
	char err[512];
	receipt r;

	(void)state;
	assert_int_equal(check(v, der, len, EQ1, &r, err, sizeof err), 0);
	receipt_free(&r);
	OPENSSL_free(der);
	receipt_verifier_free(v);
}

static void wrong_signer_device(void **state)
{
	(void)state;
	refused_with("pki/e2e/ma/000001/acc/00001/dev/EQ1", EQ1, EQ1, "pki", "not issued by the services CA");
}

static void wrong_signer_customer_client(void **state)
{
	(void)state;
	refused_with("pki/e2e/ma/000001/acc/00001/clients/auditor", EQ1, EQ1, "pki", "not issued by the services CA");
}

static void wrong_signer_other_role(void **state)
{
	(void)state;
	refused_with("pki/e2e/services/roles/vendor-firmware-service", EQ1, EQ1, "pki", "is not the role " ROLE);
}

static void wrong_signer_other_pki(void **state)
{
	(void)state;
	refused_with("other/e2e/services/roles/" ROLE, EQ1, EQ1, NULL, "signer chain does not verify");
}

static void expired_signer(void **state)
{
	(void)state;
	refused_with("expired/e2e/services/roles/" ROLE, EQ1, EQ1, NULL, "certificate has expired");
}

static void revoked_signer(void **state)
{
	(void)state;
	refused_with(VSS, EQ1, EQ1, "revoked", "certificate revoked");
}

static void wrong_device(void **state)
{
	(void)state;
	refused_with(VSS, "000001/00001/EQ2", EQ1, "pki", "not for this equipment");
	refused_with(VSS, "000001/00001", EQ1, "pki", "not for this equipment");
}

/* Flips the first byte of what inside der; the DER stays well-formed. */
static void flip_at(unsigned char *der, size_t len, const char *what, size_t off)
{
	size_t n = strlen(what), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(der + i, what, n) == 0) {
			der[i + off] = der[i + off] == '0' ? '1' : '0';
			return;
		}
	fail_msg("'%s' not in the DER", what);
}

static void flip_first_digest(unsigned char *der, size_t *len)
{
	flip_at(der, *len, "\"digests\":[\"", 12);
}

static void flip_signature(unsigned char *der, size_t *len)
{
	der[*len - 1] ^= 0x01; /* last byte of the ECDSA signature's s */
}

static void cut_last_byte(unsigned char *der, size_t *len)
{
	(void)der;
	(*len)--;
}

static void tampered_content(void **state)
{
	(void)state;
	refused(VSS, EQ1, EQ1, "pki", flip_first_digest, "signature does not verify");
}

static void tampered_signature(void **state)
{
	(void)state;
	refused(VSS, EQ1, EQ1, "pki", flip_signature, "signature does not verify");
}

static void truncated_and_trailing(void **state)
{
	receipt_verifier *v = verifier("pki");
	size_t len;
	unsigned char *der = sign_as(VSS, EQ1, &len), *longer;
	char err[512];
	receipt r;

	(void)state;
	refused(VSS, EQ1, EQ1, "pki", cut_last_byte, "not DER CMS");
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(check(v, longer, len + 1, EQ1, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "bytes after"));
	free(longer);
	OPENSSL_free(der);
	receipt_verifier_free(v);
}

static void content_outside_schema(void **state)
{
	static const char *const bad[] = {
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\"}",
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\",\"digests\":[]}",
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\",\"digests\":[\"ABCD\"]}",
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\",\"digests\":"
		"[\"01AB000000000000000000000000000000000000000000000000000000000000\"]}",
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-02-30T00:00:00Z\",\"digests\":"
		"[\"01ab000000000000000000000000000000000000000000000000000000000000\"]}",
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\",\"digests\":"
		"[\"01ab000000000000000000000000000000000000000000000000000000000000\"],\"more\":1}",
		"{\"equipment\":\"" EQ1 "\",\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\","
		"\"digests\":[\"01ab000000000000000000000000000000000000000000000000000000000000\"]}",
		"{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\",\"digests\":"
		"[\"01ab000000000000000000000000000000000000000000000000000000000000\"]} x",
	};
	static const char good[] = "{\"equipment\":\"" EQ1 "\",\"receipted_at\":\"2026-12-01T00:00:00Z\",\"digests\":"
	                           "[\"01ab000000000000000000000000000000000000000000000000000000000000\"]}";
	receipt_verifier *v = verifier("pki");
	unsigned char *der;
	char err[512];
	size_t len, i;
	receipt r;

	(void)state;
	der = sign_raw(good, &len);
	assert_int_equal(check(v, der, len, EQ1, &r, err, sizeof err), 0);
	assert_int_equal(r.n_digests, 1);
	assert_memory_equal(r.digests[0], digests[0], RECEIPT_DIGEST_LEN);
	receipt_free(&r);
	OPENSSL_free(der);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		der = sign_raw(bad[i], &len);
		assert_int_equal(check(v, der, len, EQ1, &r, err, sizeof err), -1);
		assert_null(r.digests);
		OPENSSL_free(der);
	}
	receipt_verifier_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_receipt),
		cmocka_unit_test(good_receipt_without_crls),
		cmocka_unit_test(wrong_signer_device),
		cmocka_unit_test(wrong_signer_customer_client),
		cmocka_unit_test(wrong_signer_other_role),
		cmocka_unit_test(wrong_signer_other_pki),
		cmocka_unit_test(expired_signer),
		cmocka_unit_test(revoked_signer),
		cmocka_unit_test(wrong_device),
		cmocka_unit_test(tampered_content),
		cmocka_unit_test(tampered_signature),
		cmocka_unit_test(truncated_and_trailing),
		cmocka_unit_test(content_outside_schema),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
