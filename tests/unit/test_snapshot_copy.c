/*
 * The client side of sql/007_ingest_by_copy.sql: the layout digest is
 * SHA-256 of "group\nchannel\nunit\n" per value (the bytes
 * sms_layout_digest hashes), order and field boundaries matter; the layout
 * set is bounded and forgets its oldest entry; the binary COPY rows are
 * exactly PostgreSQL's format (big-endian lengths and values, -1 for NULL,
 * IEEE 754 doubles as their bits). PostgreSQL reading them back is checked
 * in tests/integration/services_copy.t.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "common/snapshot_json.h"
#include "services/snapshotd/snapshot_copy.h"
#include "services/snapshotd/snapshot_layout.h"

static void parse(const char *values, snapshot *s)
{
	char json[1024];

	snprintf(json, sizeof json,
	         "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
	         "\"values\":%s}", values);
	assert_int_equal(snapshot_parse(json, strlen(json), 100, s, NULL, 0), SNAPSHOT_OK);
}

static void digest_of(const char *values, unsigned char out[32])
{
	snapshot s;

	parse(values, &s);
	assert_int_equal(snapshot_layout_digest(&s, out), 0);
	snapshot_free(&s);
}

static void test_layout_digest_is_sha256_of_the_lines(void **state)
{
	static const char lines[] = "engine\noperating_hours\nh\nfilter\nstate\n\n";
	unsigned char got[32], want[32];

	(void)state;
	digest_of("[{\"group\":\"engine\",\"channel\":\"operating_hours\",\"unit\":\"h\",\"value\":1},"
	          "{\"group\":\"filter\",\"channel\":\"state\",\"value\":\"ok\"}]", got);
	SHA256((const unsigned char *)lines, strlen(lines), want);
	assert_memory_equal(got, want, 32);
}

static void test_layout_digest_sees_order_and_boundaries(void **state)
{
	unsigned char a[32], b[32], c[32], d[32];

	(void)state;
	digest_of("[{\"group\":\"g\",\"channel\":\"x\",\"value\":1},{\"group\":\"g\",\"channel\":\"y\",\"value\":1}]", a);
	digest_of("[{\"group\":\"g\",\"channel\":\"y\",\"value\":1},{\"group\":\"g\",\"channel\":\"x\",\"value\":1}]", b);
	digest_of("[{\"group\":\"ab\",\"channel\":\"c\",\"value\":1}]", c);
	digest_of("[{\"group\":\"a\",\"channel\":\"bc\",\"value\":1}]", d);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(c, d, 32);
	/* The unit is part of the layout: another unit is another layout. */
	digest_of("[{\"group\":\"g\",\"channel\":\"x\",\"unit\":\"bar\",\"value\":1},"
	          "{\"group\":\"g\",\"channel\":\"y\",\"value\":1}]", b);
	assert_memory_not_equal(a, b, 32);
}

static void test_layout_set_is_bounded(void **state)
{
	layout_set *set = layout_set_new(2);
	unsigned char d1[32], d2[32], d3[32];

	(void)state;
	assert_non_null(set);
	memset(d1, 1, 32);
	memset(d2, 2, 32);
	memset(d3, 3, 32);
	assert_false(layout_set_has(set, "FM", d1));
	assert_int_equal(layout_set_add(set, "FM", d1), 0);
	assert_true(layout_set_has(set, "FM", d1));
	assert_false(layout_set_has(set, "PUMP", d1));   /* the same list of another type */
	assert_int_equal(layout_set_add(set, "FM", d1), 0);   /* again: no second entry */
	assert_int_equal(layout_set_add(set, "FM", d2), 0);
	assert_int_equal(layout_set_add(set, "FM", d3), 0);   /* full: the oldest (d1) goes */
	assert_false(layout_set_has(set, "FM", d1));
	assert_true(layout_set_has(set, "FM", d2));
	assert_true(layout_set_has(set, "FM", d3));
	layout_set_clear(set);
	assert_false(layout_set_has(set, "FM", d2));
	assert_false(layout_set_has(set, "FM", d3));
	layout_set_free(set);
}

static const unsigned char *expect(const unsigned char *p, const char *hex)
{
	unsigned int byte;

	for (; *hex; hex += 2, p++) {
		assert_int_equal(sscanf(hex, "%2x", &byte), 1);
		if (*p != byte)
			fail_msg("byte %02x, expected %02x (at \"%.8s\")", *p, byte, hex);
	}
	return p;
}

static void test_copy_rows_are_postgres_binary_copy(void **state)
{
	static const int ids[2] = { 7, 300 };
	copy_rows c;
	snapshot s;
	const unsigned char *p;

	(void)state;
	parse("[{\"group\":\"engine\",\"channel\":\"hours\",\"unit\":\"h\",\"value\":12345.5},"
	      "{\"group\":\"filter\",\"channel\":\"state\",\"value\":\"ok\"}]", &s);
	copy_rows_begin(&c);
	copy_rows_add(&c, 0x0102030405LL, 849139200000000LL, ids, &s);
	copy_rows_end(&c);
	assert_false(c.failed);
	assert_int_equal(c.rows, 2);
	p = expect(c.buf, "5047434f50590aff0d0a00" "00000000" "00000000");
	/* 5 fields: snapshot_id, taken_at (us since 2000), channel_id, value_num, value_text NULL */
	p = expect(p, "0005" "00000008" "0000000102030405" "00000008" "00030449a0618000" "00000004" "00000007"
	              "00000008" "40c81cc000000000" "ffffffff");
	/* the text value: value_num NULL, value_text "ok" */
	p = expect(p, "0005" "00000008" "0000000102030405" "00000008" "00030449a0618000" "00000004" "0000012c"
	              "ffffffff" "00000002" "6f6b");
	p = expect(p, "ffff");
	assert_int_equal((size_t)(p - c.buf), c.len);
	copy_rows_free(&c);
	snapshot_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_digest_is_sha256_of_the_lines),
		cmocka_unit_test(test_layout_digest_sees_order_and_boundaries),
		cmocka_unit_test(test_layout_set_is_bounded),
		cmocka_unit_test(test_copy_rows_are_postgres_binary_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
