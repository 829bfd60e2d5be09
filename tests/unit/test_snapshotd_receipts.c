/*
 * services/snapshotd/snapshotd_receipts.c: what goes out, when. A full
 * batch at once, the rest after batch_ms (or at a forced flush), one
 * receipt per equipment covering each digest once, a failed publish
 * dropping its batch (counted), the oldest batch going out when every slot
 * is taken. Each receipt published is verified as an agent verifies it
 * (common/receipt.h, the E2E PKI from pki/sms-pki).
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "services/snapshotd/snapshotd_receipts.h"
#include "tests/unit/pki_test_support.h"

#define ROLE "vendor-snapshot-service"
#define EQ1 "000001/00001/EQ1"
#define EQ2 "000001/00001/EQ2"
#define MAX_SENT 300

static char dir[64];
static X509 *cert;
static EVP_PKEY *key;
static STACK_OF(X509) *chain;
static receipt_verifier *verifier;

/* What the queue handed to publish. */
static struct sent {
	char topic[128];
	unsigned char *der;
	size_t len;
} sent[MAX_SENT];
static size_t n_sent;
static int refuse_publish;

static int capture(void *ud, const char *topic, const unsigned char *der, size_t len, char *err, size_t errlen)
{
	(void)ud;
	if (refuse_publish) {
		snprintf(err, errlen, "refused by the test");
		return -1;
	}
	assert_true(n_sent < MAX_SENT);
	snprintf(sent[n_sent].topic, sizeof sent[n_sent].topic, "%s", topic);
	sent[n_sent].der = malloc(len);
	assert_non_null(sent[n_sent].der);
	memcpy(sent[n_sent].der, der, len);
	sent[n_sent].len = len;
	n_sent++;
	return 0;
}

static void forget_sent(void)
{
	size_t i;

	for (i = 0; i < n_sent; i++)
		free(sent[i].der);
	n_sent = 0;
}

static FILE *open_in_pki(const char *rel)
{
	char path[256];

	snprintf(path, sizeof path, "%s/pki/e2e/%s", dir, rel);
	return fopen(path, "r");
}

static int setup(void **state)
{
	char err[512] = "", r[256], sca[256];
	FILE *f;
	X509 *c;

	(void)state;
	if (pts_tmpdir(dir, sizeof dir, "receipts") != 0 ||
	    pts_run("%s/pki/sms-pki --dir %s/pki --pki e2e init >/dev/null 2>&1 && "
	            "%s/pki/sms-pki --dir %s/pki --pki e2e service " ROLE " >/dev/null 2>&1",
	            pts_root_dir(), dir, pts_root_dir(), dir) != 0)
		return -1;
	if ((f = open_in_pki("services/roles/" ROLE "/cert.pem")) == NULL)
		return -1;
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = open_in_pki("services/roles/" ROLE "/key.pem")) == NULL)
		return -1;
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = open_in_pki("services/roles/" ROLE "/chain.pem")) == NULL || (chain = sk_X509_new_null()) == NULL)
		return -1;
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, c);
	fclose(f);
	snprintf(r, sizeof r, "%s/pki/e2e/root/ca.crt", dir);
	snprintf(sca, sizeof sca, "%s/pki/e2e/services/ca.crt", dir);
	verifier = receipt_verifier_new(r, sca, ROLE, err, sizeof err);
	if (cert == NULL || key == NULL || verifier == NULL) {
		fprintf(stderr, "# setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	forget_sent();
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	receipt_verifier_free(verifier);
	return pts_remove(dir);
}

static receipt_queue *queue(size_t max_digests, long batch_ms, receipt_queue_counters *n)
{
	receipt_queue_config cfg = {
		.cert = cert, .key = key, .chain = chain, .max_digests = max_digests, .batch_ms = batch_ms,
		.name = "test", .n = n, .publish = capture,
	};
	char err[256];
	receipt_queue *q;

	memset(n, 0, sizeof *n);
	forget_sent();
	refuse_publish = 0;
	q = receipt_queue_new(&cfg, err, sizeof err);
	assert_non_null(q);
	return q;
}

static void digest_of(unsigned char d[RECEIPT_DIGEST_LEN], unsigned v)
{
	memset(d, 0, RECEIPT_DIGEST_LEN);
	memcpy(d, &v, sizeof v);
}

/* sent[i] is a receipt for equipment, on its topic, verifying, listing
 * exactly the digests of values want[0..n). */
static void assert_receipt(size_t i, const char *equipment, const unsigned *want, size_t n)
{
	char topic[128], err[512];
	unsigned char d[RECEIPT_DIGEST_LEN];
	receipt r;
	size_t k;

	assert_true(i < n_sent);
	snprintf(topic, sizeof topic, "%s/receipts", equipment);
	assert_string_equal(sent[i].topic, topic);
	if (receipt_verify(verifier, sent[i].der, sent[i].len, equipment, &r, err, sizeof err) != 0)
		fail_msg("receipt %zu refused: %s", i, err);
	assert_int_equal(r.n_digests, n);
	for (k = 0; k < n; k++) {
		digest_of(d, want[k]);
		assert_memory_equal(r.digests[k], d, RECEIPT_DIGEST_LEN);
	}
	receipt_free(&r);
}

static void full_batch_goes_at_once(void **state)
{
	static const unsigned want[] = { 1, 2, 3 };
	receipt_queue_counters n;
	receipt_queue *q = queue(3, 600000, &n);
	unsigned char d[RECEIPT_DIGEST_LEN];
	unsigned i;

	(void)state;
	for (i = 1; i <= 2; i++) {
		digest_of(d, i);
		receipt_queue_add(q, EQ1, d);
	}
	receipt_queue_flush_due(q, 0);
	assert_int_equal(n_sent, 0);   /* neither full nor due */
	digest_of(d, 3);
	receipt_queue_add(q, EQ1, d);
	assert_int_equal(n_sent, 1);
	assert_receipt(0, EQ1, want, 3);
	assert_int_equal(atomic_load(&n.sent), 1);
	assert_int_equal(atomic_load(&n.digests), 3);
	receipt_queue_flush_due(q, 1);
	assert_int_equal(n_sent, 1);   /* nothing left */
	receipt_queue_free(q);
}

static void one_receipt_per_equipment_each_digest_once(void **state)
{
	static const unsigned want1[] = { 1, 2 }, want2[] = { 1 };
	receipt_queue_counters n;
	receipt_queue *q = queue(100, 600000, &n);
	unsigned char d[RECEIPT_DIGEST_LEN];

	(void)state;
	digest_of(d, 1);
	receipt_queue_add(q, EQ1, d);
	receipt_queue_add(q, EQ1, d);    /* a re-send before the receipt went out */
	receipt_queue_add(q, EQ2, d);    /* same bytes, another device: its own receipt */
	digest_of(d, 2);
	receipt_queue_add(q, EQ1, d);
	receipt_queue_flush_due(q, 1);
	assert_int_equal(n_sent, 2);
	if (strcmp(sent[0].topic, EQ1 "/receipts") == 0) {
		assert_receipt(0, EQ1, want1, 2);
		assert_receipt(1, EQ2, want2, 1);
	} else {
		assert_receipt(1, EQ1, want1, 2);
		assert_receipt(0, EQ2, want2, 1);
	}
	assert_int_equal(atomic_load(&n.digests), 3);
	receipt_queue_free(q);
}

static void due_after_batch_ms(void **state)
{
	static const unsigned want[] = { 7 };
	const struct timespec pause = { 0, 300 * 1000000L };
	receipt_queue_counters n;
	receipt_queue *q = queue(100, 200, &n);
	unsigned char d[RECEIPT_DIGEST_LEN];

	(void)state;
	digest_of(d, 7);
	receipt_queue_add(q, EQ1, d);
	receipt_queue_flush_due(q, 0);
	assert_int_equal(n_sent, 0);
	nanosleep(&pause, NULL);
	receipt_queue_flush_due(q, 0);
	assert_int_equal(n_sent, 1);
	assert_receipt(0, EQ1, want, 1);
	receipt_queue_free(q);
}

static void failed_publish_drops_the_batch(void **state)
{
	static const unsigned want[] = { 9 };
	receipt_queue_counters n;
	receipt_queue *q = queue(100, 600000, &n);
	unsigned char d[RECEIPT_DIGEST_LEN];

	(void)state;
	digest_of(d, 8);
	receipt_queue_add(q, EQ1, d);
	refuse_publish = 1;
	receipt_queue_flush_due(q, 1);
	assert_int_equal(atomic_load(&n.failed), 1);
	assert_int_equal(atomic_load(&n.sent), 0);
	refuse_publish = 0;
	/* The re-send of 8 would be queued again; a new digest goes alone. */
	digest_of(d, 9);
	receipt_queue_add(q, EQ1, d);
	receipt_queue_flush_due(q, 1);
	assert_int_equal(n_sent, 1);
	assert_receipt(0, EQ1, want, 1);
	receipt_queue_free(q);
}

static void oldest_goes_when_every_slot_is_taken(void **state)
{
	static const unsigned want[] = { 0 };
	receipt_queue_counters n;
	receipt_queue *q = queue(100, 600000, &n);
	unsigned char d[RECEIPT_DIGEST_LEN];
	char eq[64];
	unsigned i;

	(void)state;
	digest_of(d, 0);
	for (i = 0; i < RECEIPT_QUEUE_DEVICES; i++) {
		snprintf(eq, sizeof eq, "000001/00001/EQ%u", i);
		receipt_queue_add(q, eq, d);
	}
	assert_int_equal(n_sent, 0);
	receipt_queue_add(q, "000001/00001/EQ-new", d);
	assert_int_equal(n_sent, 1);
	assert_receipt(0, "000001/00001/EQ0", want, 1);
	receipt_queue_flush_due(q, 1);
	assert_int_equal(n_sent, RECEIPT_QUEUE_DEVICES + 1);
	receipt_queue_free(q);
}

static void config_refused(void **state)
{
	receipt_queue_counters n;
	receipt_queue_config cfg = {
		.cert = cert, .key = key, .max_digests = RECEIPT_MAX_DIGESTS + 1, .batch_ms = 1, .n = &n,
		.publish = capture,
	};
	char err[256];

	(void)state;
	assert_null(receipt_queue_new(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "digests"));
	cfg.max_digests = 1;
	cfg.publish = NULL;
	assert_null(receipt_queue_new(&cfg, err, sizeof err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_batch_goes_at_once),
		cmocka_unit_test(one_receipt_per_equipment_each_digest_once),
		cmocka_unit_test(due_after_batch_ms),
		cmocka_unit_test(failed_publish_drops_the_batch),
		cmocka_unit_test(oldest_goes_when_every_slot_is_taken),
		cmocka_unit_test(config_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
