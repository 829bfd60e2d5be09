/*
 * services/agent/agent_crl.c: CRLs from sms/crl/# are taken only when they
 * verify against the agent's CAs and are newer than the one held per
 * issuer; older ones, the held number with other bytes, other issuers'
 * topics and forgeries are refused; what was taken survives a reopen.
 * Real CRLs come from pki/sms-pki; the hostile ones are signed here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/crl_topic.h"
#include "common/log.h"
#include "services/agent/agent_crl.h"
#include "tests/unit/pki_test_support.h"

static char dir[64], pki[96], store[96];

static int setup(void **state)
{
	(void)state;
	sms_log_init("test_agent_crl", LOG_LEVEL_ERROR);
	if (pts_tmpdir(dir, sizeof dir, "agentcrl") != 0)
		return -1;
	snprintf(pki, sizeof pki, "%s/pki", dir);
	snprintf(store, sizeof store, "%s/store", dir);
	return pts_pki(pki, "init") || pts_pki(pki, "master 000001") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return pts_remove(dir);
}

static const char *path_of(const char *rel)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", pki, rel);
	return buf[k];
}

static agent_crl *open_store(void)
{
	const char *tls[] = { path_of("tls/root/ca.crt"), path_of("tls/cas.pem") };
	const char *const *files[CRL_PKI_COUNT] = { tls, NULL };
	const size_t n[CRL_PKI_COUNT] = { 2, 0 };
	char err[300];
	agent_crl *s = agent_crl_open(store, files, n, err, sizeof err);

	if (s == NULL)
		fail_msg("%s", err);
	return s;
}

static X509_CRL *read_crl(const char *rel)
{
	FILE *f = fopen(path_of(rel), "r");
	X509_CRL *crl = f ? PEM_read_X509_CRL(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	assert_non_null(crl);
	return crl;
}

typedef struct {
	char topic[CRL_TOPIC_MAX];
	unsigned char *der;
	size_t len;
} msg;

static msg as_msg(const X509_CRL *crl)
{
	msg m;
	char err[200];
	int n;

	memset(&m, 0, sizeof m);
	if (crl_topic_for(CRL_PKI_TLS, crl, m.topic, sizeof m.topic, err, sizeof err) != 0)
		fail_msg("%s", err);
	n = i2d_X509_CRL(crl, &m.der);
	assert_true(n > 0);
	m.len = (size_t)n;
	return m;
}

static void msg_free(msg *m)
{
	OPENSSL_free(m->der);
}

/* crl re-signed with the key in rel_key after lastUpdate moved by secs. */
static X509_CRL *resigned(const X509_CRL *crl, const char *rel_key, long secs)
{
	FILE *f = fopen(path_of(rel_key), "r");
	EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	X509_CRL *c = X509_CRL_dup(crl);
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), 0, secs);

	if (f)
		fclose(f);
	assert_non_null(key);
	assert_non_null(c);
	assert_int_equal(X509_CRL_set1_lastUpdate(c, t), 1);
	assert_true(X509_CRL_sign(c, key, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	EVP_PKEY_free(key);
	return c;
}

static agent_crl_verdict offer(agent_crl *s, const msg *m, char *why, size_t whylen)
{
	return agent_crl_offer(s, m->topic, m->der, m->len, why, whylen);
}

static void held_number_is(agent_crl *s, const char *want)
{
	const STACK_OF(X509_CRL) *held = agent_crl_held(s, CRL_PKI_TLS);
	char num[64];
	int i, found = 0;

	for (i = 0; i < sk_X509_CRL_num(held); i++) {
		X509_NAME *n = X509_CRL_get_issuer(sk_X509_CRL_value(held, i));
		char name[256];

		X509_NAME_oneline(n, name, sizeof name);
		if (strstr(name, "Services") == NULL)
			continue;
		crl_number_string(sk_X509_CRL_value(held, i), num, sizeof num);
		assert_string_equal(num, want);
		found = 1;
	}
	assert_true(found);
}

/* First, again, newer, then the older one replayed. */
static void test_highest_number_wins(void **state)
{
	X509_CRL *v1 = read_crl("tls/services/crl.pem"), *v2;
	msg m1 = as_msg(v1), m2;
	char why[600];
	agent_crl *s;

	(void)state;
	s = open_store();
	assert_int_equal(offer(s, &m1, why, sizeof why), AGENT_CRL_STORED);
	assert_non_null(strstr(why, "stored in tls-"));
	assert_int_equal(offer(s, &m1, why, sizeof why), AGENT_CRL_SAME);
	assert_int_equal(pts_pki(pki, "crl"), 0);
	v2 = read_crl("tls/services/crl.pem");
	m2 = as_msg(v2);
	assert_string_equal(m1.topic, m2.topic);
	assert_int_equal(offer(s, &m2, why, sizeof why), AGENT_CRL_STORED);
	assert_non_null(strstr(why, "replacing"));
	held_number_is(s, "2");
	assert_int_equal(offer(s, &m1, why, sizeof why), AGENT_CRL_OLDER);
	assert_non_null(strstr(why, "crlNumber 1 is older than the one held"));
	assert_non_null(strstr(why, "crlNumber 2"));
	assert_non_null(strstr(why, "CN=SMS TLS Services CA"));
	held_number_is(s, "2");
	agent_crl_close(s);
	/* The store on disk is what was held: the replay changed nothing. */
	s = open_store();
	held_number_is(s, "2");
	assert_int_equal(offer(s, &m1, why, sizeof why), AGENT_CRL_OLDER);
	assert_int_equal(offer(s, &m2, why, sizeof why), AGENT_CRL_SAME);
	agent_crl_close(s);
	msg_free(&m1);
	msg_free(&m2);
	X509_CRL_free(v1);
	X509_CRL_free(v2);
}

/* The held crlNumber with other bytes (a second CRL under one number). */
static void test_same_number_other_content(void **state)
{
	X509_CRL *cur = read_crl("tls/services/crl.pem"), *twin = resigned(cur, "private/tls/services/ca.key", 60);
	msg mc = as_msg(cur), mt = as_msg(twin);
	char why[600];
	agent_crl *s = open_store();

	(void)state;
	assert_int_not_equal(offer(s, &mc, why, sizeof why), AGENT_CRL_REFUSED);
	assert_int_equal(offer(s, &mt, why, sizeof why), AGENT_CRL_CONFLICT);
	assert_non_null(strstr(why, "other content"));
	assert_int_equal(offer(s, &mc, why, sizeof why), AGENT_CRL_SAME);
	agent_crl_close(s);
	msg_free(&mc);
	msg_free(&mt);
	X509_CRL_free(cur);
	X509_CRL_free(twin);
}

static void test_refusals(void **state)
{
	X509_CRL *cur = read_crl("tls/services/crl.pem");
	X509_CRL *forged = resigned(cur, "private/tls/ma/000001/ca.key", 3600);
	X509_CRL *root = read_crl("tls/root/crl.pem");
	msg m = as_msg(cur), mf = as_msg(forged), mr = as_msg(root);
	unsigned char *longer = malloc(m.len + 1);
	char why[600], topic[CRL_TOPIC_MAX];
	agent_crl *s = open_store();

	(void)state;
	assert_non_null(longer);
	assert_int_equal(agent_crl_offer(s, m.topic, (const unsigned char *)"junk", 4, why, sizeof why),
	                 AGENT_CRL_REFUSED);
	assert_int_equal(agent_crl_offer(s, m.topic, m.der, 0, why, sizeof why), AGENT_CRL_REFUSED);
	memcpy(longer, m.der, m.len);
	longer[m.len] = 0;
	assert_int_equal(agent_crl_offer(s, m.topic, longer, m.len + 1, why, sizeof why), AGENT_CRL_REFUSED);
	assert_non_null(strstr(why, "bytes after it"));
	/* The root's CRL on the services CA's topic. */
	assert_int_equal(agent_crl_offer(s, m.topic, mr.der, mr.len, why, sizeof why), AGENT_CRL_REFUSED);
	assert_non_null(strstr(why, "published for issuer key id"));
	/* Right issuer name and key id, another CA's key. */
	assert_int_equal(offer(s, &mf, why, sizeof why), AGENT_CRL_REFUSED);
	assert_non_null(strstr(why, "does not verify"));
	/* The E2E side has no CAs here: a TLS CRL offered as E2E is nobody's. */
	snprintf(topic, sizeof topic, "sms/crl/e2e/%s", strrchr(m.topic, '/') + 1);
	assert_int_equal(agent_crl_offer(s, topic, m.der, m.len, why, sizeof why), AGENT_CRL_UNKNOWN);
	assert_int_equal(agent_crl_offer(s, "sms/crl/xyz/00", m.der, m.len, why, sizeof why), AGENT_CRL_REFUSED);
	assert_int_equal(agent_crl_offer(s, "sms/crl/tls/ABCD", m.der, m.len, why, sizeof why), AGENT_CRL_REFUSED);
	assert_int_equal(agent_crl_offer(s, "sms/crl/tls/abc", m.der, m.len, why, sizeof why), AGENT_CRL_REFUSED);
	assert_int_equal(agent_crl_offer(s, "000001/crl/tls/ab", m.der, m.len, why, sizeof why), AGENT_CRL_REFUSED);
	free(longer);
	agent_crl_close(s);
	msg_free(&m);
	msg_free(&mf);
	msg_free(&mr);
	X509_CRL_free(cur);
	X509_CRL_free(forged);
	X509_CRL_free(root);
}

/* A stored file that no longer verifies goes aside; temporary files go. */
static void test_reopen_moves_bad_files_aside(void **state)
{
	char p[300];
	struct stat st;
	FILE *f;
	agent_crl *s;

	(void)state;
	snprintf(p, sizeof p, "%s/tls-00aa.crl", store);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("not a CRL", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/.tls-00bb.crl.tmp", store);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	s = open_store();
	assert_true(sk_X509_CRL_num(agent_crl_held(s, CRL_PKI_TLS)) >= 1);
	agent_crl_close(s);
	snprintf(p, sizeof p, "%s/tls-00aa.crl.refused", store);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof p, "%s/tls-00aa.crl", store);
	assert_int_not_equal(stat(p, &st), 0);
	snprintf(p, sizeof p, "%s/.tls-00bb.crl.tmp", store);
	assert_int_not_equal(stat(p, &st), 0);
}

static void test_merge_keeps_the_higher_number(void **state)
{
	X509_CRL *old = read_crl("tls/services/crl.pem"), *root = read_crl("tls/root/crl.pem"), *cur;
	STACK_OF(X509_CRL) *a = sk_X509_CRL_new_null(), *b = sk_X509_CRL_new_null(), *m;
	char num[64];

	(void)state;
	assert_int_equal(pts_pki(pki, "crl"), 0);
	cur = read_crl("tls/services/crl.pem");
	sk_X509_CRL_push(a, old);
	sk_X509_CRL_push(b, cur);
	sk_X509_CRL_push(b, root);
	m = agent_crl_merge(a, b);
	assert_non_null(m);
	assert_int_equal(sk_X509_CRL_num(m), 2);
	crl_number_string(sk_X509_CRL_value(m, 0), num, sizeof num);
	assert_string_equal(num, "3");
	sk_X509_CRL_pop_free(m, X509_CRL_free);
	m = agent_crl_merge(b, a);
	assert_int_equal(sk_X509_CRL_num(m), 2);
	crl_number_string(sk_X509_CRL_value(m, 0), num, sizeof num);
	assert_string_equal(num, "3");
	sk_X509_CRL_pop_free(m, X509_CRL_free);
	sk_X509_CRL_pop_free(a, X509_CRL_free);
	sk_X509_CRL_pop_free(b, X509_CRL_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_highest_number_wins),
		cmocka_unit_test(test_same_number_other_content),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_reopen_moves_bad_files_aside),
		cmocka_unit_test(test_merge_keeps_the_higher_number),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
