/*
 * common/crl_set.c: every CRL verified against its issuer's key, the whole
 * load refused when one is not, rollback refused, summary and expiry lists.
 * Real CRLs come from pki/sms-pki in a private directory; the hostile ones
 * (broken signature, a stranger's key under the right issuer name, another
 * PKI's CA) are made here with OpenSSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/crl_set.h"
#include "common/x509_util.h"
#include "tests/unit/pki_test_support.h"

static char dir[64], pki[96], other[96];

static int setup(void **state)
{
	(void)state;
	if (pts_tmpdir(dir, sizeof(dir), "crlset") != 0)
		return -1;
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	return pts_pki(pki, "init") || pts_pki(pki, "master 000001") || pts_pki(pki, "account 000001 00002") ||
	       pts_pki(other, "init") || pts_pki(other, "master 000009") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return pts_remove(dir);
}

static char *path_of(const char *rel)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	return buf[k];
}

/* Trust anchor + intermediates of the test PKI. */
static STACK_OF(X509) *issuers(void)
{
	static const char *const files[] = { "pki/tls/root/ca.crt", "pki/tls/cas.pem" };
	STACK_OF(X509) *sk = sk_X509_new_null();
	char err[256];
	size_t f;
	int i;

	assert_non_null(sk);
	for (f = 0; f < 2; f++) {
		STACK_OF(X509_INFO) *infos;

		if (x509_read_pem(path_of(files[f]), &infos, err, sizeof(err)) != 0)
			fail_msg("%s", err);
		for (i = 0; i < sk_X509_INFO_num(infos); i++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, i);

			if (xi->x509 && X509_up_ref(xi->x509))
				assert_int_not_equal(sk_X509_push(sk, xi->x509), 0);
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
	}
	return sk;
}

static X509_CRL *read_crl(const char *path)
{
	FILE *f = fopen(path, "r");
	X509_CRL *crl;

	assert_non_null(f);
	crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(crl);
	return crl;
}

static void write_crls(const char *path, X509_CRL *const *crls, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509_CRL(f, crls[i]), 1);
	assert_int_equal(fclose(f), 0);
}

static X509_NAME *subject_of(const char *cert_path)
{
	FILE *f = fopen(cert_path, "r");
	X509 *x;
	X509_NAME *n;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	n = X509_NAME_dup(X509_get_subject_name(x));
	X509_free(x);
	assert_non_null(n);
	return n;
}

/* A CRL under issuer's name with a high crlNumber, signed by a fresh key. */
static X509_CRL *forged_crl(const X509_NAME *issuer)
{
	X509_CRL *crl = X509_CRL_new();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
	ASN1_TIME *next = ASN1_TIME_set(NULL, time(NULL) + 86400);
	ASN1_INTEGER *number = ASN1_INTEGER_new();

	assert_non_null(crl);
	assert_non_null(key);
	assert_non_null(now);
	assert_non_null(next);
	assert_non_null(number);
	assert_int_equal(ASN1_INTEGER_set(number, 999), 1);
	assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, issuer), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, now), 1);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, next), 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0), 1);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	EVP_PKEY_free(key);
	return crl;
}

/* The same CRL with one bit of its signature flipped. */
static X509_CRL *broken_crl(const char *path)
{
	X509_CRL *crl = read_crl(path), *bad;
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509_CRL(crl, &der);

	assert_true(len > 10);
	der[len - 1] ^= 0x01;
	p = der;
	bad = d2i_X509_CRL(NULL, &p, len);
	assert_non_null(bad);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	return bad;
}

static int load(const char *file, const STACK_OF(X509) *cas, const struct crl_set *prev, struct crl_set **out,
		char *err, size_t errlen)
{
	const char *files[] = { file };

	return crl_set_load(files, 1, cas, prev, out, err, errlen);
}

static void good_set(void **state)
{
	STACK_OF(X509) *cas = issuers();
	struct crl_set *set = NULL;
	struct crl_set_summary s;
	char err[512], buf[1024];

	(void)state;
	if (load(path_of("pki/tls/crls.pem"), cas, NULL, &set, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	crl_set_summary(set, &s);
	/* root, services, master-account and account CA */
	assert_int_equal(s.files, 1);
	assert_int_equal(s.issuers, 4);
	assert_int_equal(s.crls, 4);
	assert_int_equal(s.revoked, 0);
	assert_true(s.earliest_next_update > time(NULL));
	assert_int_equal(sk_X509_CRL_num(crl_set_crls(set)), 4);
	assert_false(crl_set_files_changed(set));
	assert_int_equal(crl_set_expiring(set, time(NULL), 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(crl_set_expiring(set, time(NULL), 40 * 86400, buf, sizeof(buf)), 4);
	assert_non_null(strstr(buf, "CN=SMS TLS Root CA,O=SMS Vendor (nextUpdate 20"));
	{
		X509_STORE *store = X509_STORE_new();

		assert_non_null(store);
		assert_int_equal(crl_set_add_to_store(set, store, err, sizeof(err)), 0);
		X509_STORE_free(store);
	}
	crl_set_free(set);
	sk_X509_pop_free(cas, X509_free);
}

/* One bad CRL among good ones refuses the file, naming file and issuer. */
static void refuse_whole(const char *label, X509_CRL *bad, const char *expect)
{
	STACK_OF(X509) *cas = issuers();
	struct crl_set *set = NULL;
	X509_CRL *crls[2];
	char err[512];

	crls[0] = read_crl(path_of("pki/tls/root/crl.pem"));
	crls[1] = bad;
	write_crls(path_of(label), crls, 2);
	assert_int_equal(load(path_of(label), cas, NULL, &set, err, sizeof(err)), -1);
	assert_null(set);
	assert_non_null(strstr(err, path_of(label)));
	if (!strstr(err, expect))
		fail_msg("'%s' does not say '%s'", err, expect);
	X509_CRL_free(crls[0]);
	X509_CRL_free(bad);
	sk_X509_pop_free(cas, X509_free);
}

static void broken_signature(void **state)
{
	(void)state;
	refuse_whole("broken.pem", broken_crl(path_of("pki/tls/ma/000001/acc/00002/crl.pem")),
		     "CRL of CN=SMS account CA,OU=00002,O=000001 does not verify against its issuer's key");
}

static void stranger_key_same_issuer_name(void **state)
{
	X509_NAME *acc = subject_of(path_of("pki/tls/ma/000001/acc/00002/ca.crt"));

	(void)state;
	refuse_whole("stranger.pem", forged_crl(acc),
		     "CRL of CN=SMS account CA,OU=00002,O=000001 does not verify against its issuer's key");
	X509_NAME_free(acc);
}

static void unknown_issuer(void **state)
{
	(void)state;
	refuse_whole("unknown.pem", read_crl(path_of("other/tls/ma/000009/crl.pem")),
		     "CRL of CN=SMS master-account CA,O=000009: issuer is not a configured CA");
}

/* Another PKI's CA with the very same name: the name alone proves nothing. */
static void same_name_other_pki(void **state)
{
	(void)state;
	refuse_whole("othername.pem", read_crl(path_of("other/tls/services/crl.pem")),
		     "CRL of CN=SMS TLS Services CA,O=SMS Vendor does not verify against its issuer's key");
}

static void replayed_older(void **state)
{
	STACK_OF(X509) *cas = issuers();
	struct crl_set *old = NULL, *fresh = NULL, *again = NULL, *replay = NULL;
	struct crl_set_summary s;
	char err[512];

	(void)state;
	assert_int_equal(pts_run("cp %s/pki/tls/crls.pem %s/crls.old", dir, dir), 0);
	if (load(path_of("crls.old"), cas, NULL, &old, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pts_pki(pki, "device 000001 00002 EQ1"), 0);
	assert_int_equal(pts_pki(pki, "revoke ma/000001/acc/00002/dev/EQ1"), 0);
	if (load(path_of("pki/tls/crls.pem"), cas, old, &fresh, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	crl_set_summary(fresh, &s);
	assert_int_equal(s.revoked, 1);
	/* The same CRLs again are not a rollback. */
	if (load(path_of("pki/tls/crls.pem"), cas, fresh, &again, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(load(path_of("crls.old"), cas, fresh, &replay, err, sizeof(err)), -1);
	assert_null(replay);
	assert_non_null(strstr(err, "is older than the one in use"));
	/* sms-pki renews every CA's CRL on revoke: the first issuer is named. */
	assert_non_null(strstr(err, "CRL of CN=SMS TLS Root CA,O=SMS Vendor is older"));
	/* The file that was loaded changed under the old set. */
	assert_false(crl_set_files_changed(fresh));
	assert_int_equal(pts_run("cp %s/crls.old %s/pki/tls/crls.pem", dir, dir), 0);
	assert_true(crl_set_files_changed(fresh));
	crl_set_free(old);
	crl_set_free(fresh);
	crl_set_free(again);
	sk_X509_pop_free(cas, X509_free);
}

static void unusable_files(void **state)
{
	STACK_OF(X509) *cas = issuers();
	struct crl_set *set = NULL;
	char err[512];

	(void)state;
	assert_int_equal(load("/nonexistent/crls.pem", cas, NULL, &set, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/crls.pem"));
	assert_int_equal(load(path_of("pki/tls/root/ca.crt"), cas, NULL, &set, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds no CRL"));
	assert_int_equal(pts_run("echo garbage > %s/garbage.pem", dir), 0);
	assert_int_equal(load(path_of("garbage.pem"), cas, NULL, &set, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "garbage.pem"));
	assert_null(set);
	sk_X509_pop_free(cas, X509_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_set),
		cmocka_unit_test(broken_signature),
		cmocka_unit_test(stranger_key_same_issuer_name),
		cmocka_unit_test(unknown_issuer),
		cmocka_unit_test(same_name_other_pki),
		cmocka_unit_test(replayed_older),
		cmocka_unit_test(unusable_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
