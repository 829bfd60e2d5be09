/* Unit tests: snapshot topic parsing and snapshot JSON validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/snapshot_json.h"
#include "common/snapshot_topic.h"

static void topic_valid(void **state)
{
	snapshot_topic t;
	char err[200];

	(void)state;
	assert_int_equal(snapshot_topic_parse("000001/00002/EQID00000234/snapshots", &t, err, sizeof err), 0);
	assert_string_equal(t.master, "000001");
	assert_string_equal(t.account, "00002");
	assert_string_equal(t.equipment, "EQID00000234");
}

static void topic_invalid(void **state)
{
	static const char *const bad[] = {
		"", "snapshots", "a/b/snapshots", "a/b/c/d/snapshots", "a/b/c/snapshot", "a/b/c/snapshots/",
		"/b/c/snapshots", "a//c/snapshots", "a/b/+/snapshots", "a/#/c/snapshots", "$SYS/b/c/snapshots",
		"a/b/c d/snapshots", "a/b/c\x01/snapshots", "a/b/c/firmware",
		"a/b/EQ00000000000000000000000000000000000000000000000000000000000000000/snapshots",
	};
	snapshot_topic t;
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (snapshot_topic_parse(bad[i], &t, err, sizeof err) != -1)
			fail_msg("topic '%s' was accepted", bad[i]);
		assert_true(strlen(err) > 0);
	}
}

static void topic_level_max(void **state)
{
	char topic[200], eq[65];
	snapshot_topic t;
	char err[200];

	(void)state;
	memset(eq, 'E', 64);
	eq[64] = '\0';
	snprintf(topic, sizeof topic, "m/a/%s/snapshots", eq);
	assert_int_equal(snapshot_topic_parse(topic, &t, err, sizeof err), 0);
	assert_string_equal(t.equipment, eq);
}

static const char good[] =
	"{\"equipment\":\"EQID00000234\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\","
	"\"seq\":1234,\"values\":[{\"group\":\"engine\",\"channel\":\"operating_hours\",\"unit\":\"h\",\"value\":12345.5},"
	"{\"group\":\"filter\",\"channel\":\"state\",\"value\":\"ok\"},"
	"{\"group\":\"filter\",\"channel\":\"clogged\",\"value\":false}]}";

static void json_valid(void **state)
{
	snapshot s;
	char err[200];

	(void)state;
	assert_int_equal(snapshot_parse(good, strlen(good), 100, &s, err, sizeof err), SNAPSHOT_OK);
	assert_string_equal(s.equipment, "EQID00000234");
	assert_string_equal(s.device_type, "FM");
	assert_string_equal(s.taken_at, "2026-11-21T10:00:00Z");
	assert_int_equal(s.taken_at_time, 1795255200);
	assert_int_equal(s.seq, 1234);
	assert_int_equal(s.n_values, 3);
	assert_string_equal(s.values[0].group, "engine");
	assert_string_equal(s.values[0].channel, "operating_hours");
	assert_string_equal(s.values[0].unit, "h");
	assert_false(s.values[0].is_text);
	assert_true(s.values[0].num == 12345.5);
	assert_true(s.values[1].is_text);
	assert_string_equal(s.values[1].text, "ok");
	assert_string_equal(s.values[1].unit, "");
	assert_true(s.values[2].is_text);
	assert_string_equal(s.values[2].text, "false");
	snapshot_free(&s);
}

static void json_fraction_and_whitespace(void **state)
{
	const char *j = " {\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2024-02-29T23:59:59.123Z\","
	                "\"seq\":0,\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":-1e3}]}\n";
	snapshot s;
	char err[200];

	(void)state;
	assert_int_equal(snapshot_parse(j, strlen(j), 10, &s, err, sizeof err), SNAPSHOT_OK);
	assert_true(s.values[0].num == -1000.0);
	snapshot_free(&s);
}

typedef struct {
	const char *json;
	snapshot_status want;
} bad_case;

#define V1 "[{\"group\":\"g\",\"channel\":\"c\",\"value\":1}]"
#define HEAD "\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":1"

static const bad_case bad_cases[] = {
	{ "", SNAPSHOT_BAD_JSON },
	{ "{", SNAPSHOT_BAD_JSON },
	{ "{" HEAD ",\"values\":" V1 "} x", SNAPSHOT_BAD_JSON },
	{ "{" HEAD ",\"values\":" V1 "}{}", SNAPSHOT_BAD_JSON },
	{ "{" HEAD ",\"seq\":2,\"values\":" V1 "}", SNAPSHOT_BAD_JSON },          /* repeated key */
	{ "{" HEAD ",\"values\":[{\"group\":\"g\xff\",\"channel\":\"c\",\"value\":1}]}", SNAPSHOT_BAD_JSON },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\xc0\xaf\",\"channel\":\"c\",\"value\":1}]}", SNAPSHOT_BAD_JSON },
	{ "[]", SNAPSHOT_SCHEMA },
	{ "{" HEAD "}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":{}}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":" V1 ",\"extra\":1}", SNAPSHOT_SCHEMA },
	{ "{\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E/F\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01 00:00:00\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00+01:00\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-02-30T00:00:00Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2025-02-29T00:00:00Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"1999-12-31T23:59:59Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T24:00:00Z\",\"seq\":1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":-1,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":1.5,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":\"1\",\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{\"equipment\":\"E\",\"device_type\":\"T\",\"taken_at\":\"2026-01-01T00:00:00Z\",\"seq\":1e300,\"values\":" V1 "}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[1]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"channel\":\"c\",\"value\":1}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"\",\"value\":1}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\"}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":null}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":[1]}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":1,\"x\":2}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"unit\":5,\"value\":1}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\\n\",\"channel\":\"c\",\"value\":1}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":1},{\"group\":\"g\",\"channel\":\"c\",\"value\":2}]}", SNAPSHOT_SCHEMA },
	{ "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":1},{\"group\":\"g\",\"channel\":\"d\",\"value\":2},"
	  "{\"group\":\"g\",\"channel\":\"e\",\"value\":2}]}", SNAPSHOT_TOO_LARGE },
};

static void json_invalid(void **state)
{
	snapshot s;
	char err[200];
	size_t i;
	snapshot_status st;

	(void)state;
	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		err[0] = '\0';
		st = snapshot_parse(bad_cases[i].json, strlen(bad_cases[i].json), 2, &s, err, sizeof err);
		if (st != bad_cases[i].want)
			fail_msg("case %zu: got %s, want %s (%s): %s", i, snapshot_status_name(st),
			         snapshot_status_name(bad_cases[i].want), err, bad_cases[i].json);
		assert_true(strlen(err) > 0);
		assert_null(s.tree);
		assert_null(s.values);
	}
}

static void json_long_text(void **state)
{
	char j[1024], text[300];
	snapshot s;
	char err[200];

	(void)state;
	memset(text, 'x', 257);
	text[257] = '\0';
	snprintf(j, sizeof j, "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":\"%s\"}]}", text);
	assert_int_equal(snapshot_parse(j, strlen(j), 10, &s, err, sizeof err), SNAPSHOT_SCHEMA);
	text[256] = '\0';
	snprintf(j, sizeof j, "{" HEAD ",\"values\":[{\"group\":\"g\",\"channel\":\"c\",\"value\":\"%s\"}]}", text);
	assert_int_equal(snapshot_parse(j, strlen(j), 10, &s, err, sizeof err), SNAPSHOT_OK);
	snapshot_free(&s);
}

static void json_embedded_nul(void **state)
{
	/* The length is authoritative: a NUL inside the buffer is not the end. */
	static const char j[] = "{" HEAD ",\"values\":" V1 "}\0garbage";
	snapshot s;
	char err[200];

	(void)state;
	assert_int_not_equal(snapshot_parse(j, sizeof j - 1, 10, &s, err, sizeof err), SNAPSHOT_OK);
	assert_int_equal(snapshot_parse(j, strlen(j), 10, &s, err, sizeof err), SNAPSHOT_OK);
	snapshot_free(&s);
}

static void json_status_names(void **state)
{
	(void)state;
	assert_string_equal(snapshot_status_name(SNAPSHOT_BAD_JSON), "bad_json");
	assert_string_equal(snapshot_status_name(SNAPSHOT_SCHEMA), "schema");
	assert_string_equal(snapshot_status_name(SNAPSHOT_TOO_LARGE), "too_large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(topic_valid),
		cmocka_unit_test(topic_invalid),
		cmocka_unit_test(topic_level_max),
		cmocka_unit_test(json_valid),
		cmocka_unit_test(json_fraction_and_whitespace),
		cmocka_unit_test(json_invalid),
		cmocka_unit_test(json_long_text),
		cmocka_unit_test(json_embedded_nul),
		cmocka_unit_test(json_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
