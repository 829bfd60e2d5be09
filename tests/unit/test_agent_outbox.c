/*
 * services/agent/agent_outbox.c on a private directory: entries survive a
 * reopen in order, the bounds evict oldest first and count it, removal is
 * by digest only, a truncated or foreign file is moved to corrupt/, a
 * leftover temporary file is deleted, re-sending follows resend_s, and
 * max_age evicts by the creation time in the name, but never by a clock
 * that was not set or that jumped forward while the agent ran.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/receipt.h"
#include "services/agent/agent_outbox.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/sms-outbox-test.XXXXXX");
	sms_log_init("test_agent_outbox", LOG_LEVEL_ERROR);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static agent_outbox *open_fresh(const char *sub, size_t max_entries, unsigned long long max_bytes, long long max_age)
{
	outbox_limits lim = { max_entries, max_bytes, max_age };
	char path[128], err[256];
	agent_outbox *o;

	snprintf(path, sizeof path, "%s/%s", dir, sub);
	o = outbox_open(path, &lim, err, sizeof err);
	assert_non_null(o);
	return o;
}

/* Payload i: "payload <i>" padded to size, and its SHA-256. */
static void payload(int i, size_t size, unsigned char *buf, unsigned char digest[OUTBOX_DIGEST_LEN])
{
	memset(buf, 'x', size);
	snprintf((char *)buf, size, "payload %d", i);
	assert_int_equal(EVP_Digest(buf, size, digest, NULL, EVP_sha256(), NULL), 1);
}

static void add(agent_outbox *o, int i, size_t size, unsigned char digest[OUTBOX_DIGEST_LEN])
{
	unsigned char buf[512];
	char err[256];

	payload(i, size, buf, digest);
	assert_int_equal(outbox_add(o, buf, size, digest, err, sizeof err), OUTBOX_OK);
}

static void stats(agent_outbox *o, outbox_stats *st)
{
	outbox_get_stats(o, st);
}

static void survives_reopen_in_order(void **state)
{
	unsigned char d[3][OUTBOX_DIGEST_LEN], got[OUTBOX_DIGEST_LEN], want[512], *p;
	agent_outbox *o = open_fresh("reopen", 10, 1 << 20, 0);
	outbox_stats st;
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		add(o, i, 100, d[i]);
	outbox_close(o);
	o = open_fresh("reopen", 10, 1 << 20, 0);
	stats(o, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.bytes, 300);
	for (i = 0; i < 3; i++) {
		assert_int_equal(outbox_next_due(o, 100.0, 10.0, &p, &len, got), 1);
		payload(i, 100, want, d[i]);
		assert_int_equal(len, 100);
		assert_memory_equal(p, want, 100);
		assert_memory_equal(got, d[i], OUTBOX_DIGEST_LEN);
		free(p);
	}
	assert_int_equal(outbox_next_due(o, 105.0, 10.0, &p, &len, got), 0);
	assert_int_equal(outbox_next_due(o, 111.0, 10.0, &p, &len, got), 1); /* re-sent after resend_s */
	assert_memory_equal(got, d[0], OUTBOX_DIGEST_LEN);
	free(p);
	outbox_all_due(o);
	assert_int_equal(outbox_next_due(o, 112.0, 10.0, &p, &len, got), 1);
	assert_memory_equal(got, d[0], OUTBOX_DIGEST_LEN);
	free(p);
	outbox_close(o);
}

static void bounds_evict_oldest_first(void **state)
{
	unsigned char d[4][OUTBOX_DIGEST_LEN], got[OUTBOX_DIGEST_LEN], *p;
	agent_outbox *o = open_fresh("bounds", 2, 250, 0);
	outbox_stats st;
	size_t len;

	(void)state;
	add(o, 0, 100, d[0]);
	add(o, 1, 100, d[1]);
	add(o, 2, 100, d[2]);   /* max_entries: 0 goes */
	add(o, 3, 200, d[3]);   /* max_bytes 250: 1 and 2 go */
	stats(o, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.evicted, 3);
	assert_int_equal(outbox_next_due(o, 1.0, 10.0, &p, &len, got), 1);
	assert_memory_equal(got, d[3], OUTBOX_DIGEST_LEN);
	free(p);
	outbox_close(o);
}

static void remove_by_digest_only(void **state)
{
	unsigned char d[3][OUTBOX_DIGEST_LEN], other[1][OUTBOX_DIGEST_LEN] = { { 0x42 } };
	agent_outbox *o = open_fresh("remove", 10, 1 << 20, 0);
	outbox_stats st;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		add(o, i, 50, d[i]);
	assert_int_equal(outbox_remove(o, (const unsigned char (*)[OUTBOX_DIGEST_LEN])other, 1), 0);
	assert_int_equal(outbox_remove(o, (const unsigned char (*)[OUTBOX_DIGEST_LEN])&d[1], 1), 1);
	assert_int_equal(outbox_remove(o, (const unsigned char (*)[OUTBOX_DIGEST_LEN])&d[1], 1), 0);
	outbox_close(o);
	o = open_fresh("remove", 10, 1 << 20, 0);
	stats(o, &st);
	assert_int_equal(st.entries, 2);
	outbox_close(o);
}

static void corrupt_entries_moved_aside(void **state)
{
	unsigned char d[2][OUTBOX_DIGEST_LEN], got[OUTBOX_DIGEST_LEN], *p;
	agent_outbox *o = open_fresh("corrupt", 10, 1 << 20, 0);
	char path[256], cmd[512];
	outbox_stats st;
	size_t len;

	(void)state;
	add(o, 0, 100, d[0]);
	add(o, 1, 100, d[1]);
	outbox_close(o);
	/* Truncate the first entry, leave a temporary file and a foreign one. */
	snprintf(cmd, sizeof cmd, "cd %s/corrupt && f=$(ls *.cms | head -n 1) && truncate -s 10 $f && "
	         "echo x > .tmp-leftover && echo y > notes.txt", dir);
	assert_int_equal(system(cmd), 0);
	o = open_fresh("corrupt", 10, 1 << 20, 0);
	snprintf(path, sizeof path, "%s/corrupt/.tmp-leftover", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/corrupt/corrupt/notes.txt", dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(outbox_next_due(o, 1.0, 10.0, &p, &len, got), 1);
	assert_memory_equal(got, d[1], OUTBOX_DIGEST_LEN); /* the truncated one is skipped */
	free(p);
	stats(o, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.corrupt, 2);
	snprintf(cmd, sizeof cmd, "test $(ls %s/corrupt/corrupt | wc -l) -eq 2", dir);
	assert_int_equal(system(cmd), 0);
	outbox_close(o);
}

static void max_age_by_creation_time(void **state)
{
	unsigned char d[OUTBOX_DIGEST_LEN];
	agent_outbox *o = open_fresh("age", 10, 1 << 20, 3600);
	time_t now = time(NULL);
	outbox_stats st;

	(void)state;
	add(o, 0, 100, d);
	add(o, 1, 100, d);
	assert_int_equal(outbox_expire(o, now, 1000.0), 0);
	assert_int_equal(outbox_expire(o, now - 86400, 1001.0), 0); /* a clock set back evicts nothing */
	assert_int_equal(outbox_expire(o, now + 3700, 1000.0 + 3700), 2);
	stats(o, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.evicted, 2);
	outbox_close(o);
}

/* An entry stamped by a clock that was never set (before the floor), as a
 * device that lost its RTC writes it, is never aged out; a clock set before
 * the floor ages nothing at all. */
static void unset_clock_never_ages(void **state)
{
	unsigned char buf[64], d[OUTBOX_DIGEST_LEN];
	char path[256], hex[2 * OUTBOX_DIGEST_LEN + 1];
	agent_outbox *o;
	outbox_stats st;
	FILE *f;

	(void)state;
	o = open_fresh("unset", 10, 1 << 20, 3600);
	outbox_close(o);
	payload(7, sizeof buf, buf, d);
	receipt_digest_hex(d, hex);
	/* 1970-01-01T00:16:40Z in ns, as after a cold start without a clock. */
	snprintf(path, sizeof path, "%s/unset/%016llx-%s.cms", dir, 1000ULL * 1000000000ULL, hex);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, sizeof buf, f), sizeof buf);
	assert_int_equal(fclose(f), 0);
	o = open_fresh("unset", 10, 1 << 20, 3600);
	add(o, 1, 100, d);
	assert_int_equal(outbox_expire(o, OUTBOX_CLOCK_FLOOR - 1, 10.0), 0);
	assert_int_equal(outbox_expire(o, time(NULL) + 7200, 10.0 + 7200), 1);
	stats(o, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.evicted, 1);
	outbox_close(o);
}

/* NTP setting the clock 100 days ahead while the agent runs does not age
 * what was stored before: the age counts from the jump. */
static void forward_jump_does_not_age(void **state)
{
	unsigned char d[OUTBOX_DIGEST_LEN];
	agent_outbox *o = open_fresh("jump", 10, 1 << 20, 3600);
	time_t now = time(NULL), later = now + 100 * 86400;
	outbox_stats st;

	(void)state;
	add(o, 0, 100, d);
	add(o, 1, 100, d);
	assert_int_equal(outbox_expire(o, now, 500.0), 0);
	assert_int_equal(outbox_expire(o, later, 560.0), 0);
	stats(o, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(outbox_expire(o, later + 3000, 560.0 + 3000), 0);
	assert_int_equal(outbox_expire(o, later + 3700, 560.0 + 3700), 2);
	outbox_close(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(survives_reopen_in_order),
		cmocka_unit_test(bounds_evict_oldest_first),
		cmocka_unit_test(remove_by_digest_only),
		cmocka_unit_test(corrupt_entries_moved_aside),
		cmocka_unit_test(max_age_by_creation_time),
		cmocka_unit_test(unset_clock_never_ages),
		cmocka_unit_test(forward_jump_does_not_age),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
