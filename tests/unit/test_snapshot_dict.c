/*
 * Channel dictionaries and the compact snapshot form (common/snapshot_dict.h,
 * common/snapshot_json.h): full -> compact -> the same snapshot, null for
 * channels not reported, the dictionary named by the SHA-256 of its bytes,
 * unknown dictionaries (or another device type's) refused as such, damaged
 * compact snapshots and bad dictionary files refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "common/snapshot_dict.h"
#include "common/snapshot_json.h"

static const char dict_json[] =
	"{\"device_type\":\"FM\",\"version\":3,\"channels\":["
	"{\"group\":\"engine\",\"channel\":\"operating_hours\",\"unit\":\"h\"},"
	"{\"group\":\"filter\",\"channel\":\"state\"},"
	"{\"group\":\"engine\",\"channel\":\"rpm\",\"unit\":\"1/min\"}]}";

static const char full_json[] =
	"{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
	"\"values\":[{\"group\":\"filter\",\"channel\":\"state\",\"value\":\"ok\"},"
	"{\"group\":\"engine\",\"channel\":\"operating_hours\",\"unit\":\"h\",\"value\":12345.5}]}";

static snapshot_dicts *one_set(snapshot_dict *d)
{
	snapshot_dicts *set = calloc(1, sizeof *set);

	assert_non_null(set);
	set->d = calloc(1, sizeof *set->d);
	assert_non_null(set->d);
	set->d[0] = d;
	set->n = 1;
	return set;
}

static const snapshot_value *find(const snapshot *s, const char *group, const char *channel)
{
	for (size_t i = 0; i < s->n_values; i++)
		if (strcmp(s->values[i].group, group) == 0 && strcmp(s->values[i].channel, channel) == 0)
			return &s->values[i];
	return NULL;
}

static void test_dict_digest_is_sha256_of_bytes(void **state)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[65], err[200], spaced[sizeof dict_json + 1];
	snapshot_dict *d, *d2;

	(void)state;
	SHA256((const unsigned char *)dict_json, strlen(dict_json), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(snapshot_dict_parse(dict_json, strlen(dict_json), &d, err, sizeof err), 0);
	assert_string_equal(d->digest, hex);
	assert_string_equal(d->device_type, "FM");
	assert_int_equal(d->version, 3);
	assert_int_equal(d->n, 3);
	assert_string_equal(d->channels[1].unit, "");
	/* The same channels with one more space are another dictionary. */
	snprintf(spaced, sizeof spaced, " %s", dict_json);
	assert_int_equal(snapshot_dict_parse(spaced, strlen(spaced), &d2, err, sizeof err), 0);
	assert_string_not_equal(d->digest, d2->digest);
	snapshot_dict_free(d2);
	snapshot_dict_free(d);
}

static void test_compact_roundtrip(void **state)
{
	snapshot_dict *d;
	snapshot_dicts *set;
	snapshot full, back;
	char err[300], *compact;
	const snapshot_value *v;

	(void)state;
	assert_int_equal(snapshot_dict_parse(dict_json, strlen(dict_json), &d, err, sizeof err), 0);
	set = one_set(d);
	assert_int_equal(snapshot_parse(full_json, strlen(full_json), 100, &full, err, sizeof err), SNAPSHOT_OK);
	assert_int_equal(snapshot_dict_compact(d, &full, &compact, err, sizeof err), 0);
	/* Names travel no more: only the digest and the values in dictionary order. */
	assert_null(strstr(compact, "operating_hours"));
	assert_non_null(strstr(compact, d->digest));
	assert_non_null(strstr(compact, "\"values\":[12345.5,\"ok\",null]"));
	assert_int_equal(snapshot_parse_dict(compact, strlen(compact), 100, set, &back, err, sizeof err), SNAPSHOT_OK);
	assert_string_equal(back.dictionary, d->digest);
	assert_null(full.dictionary);
	assert_string_equal(back.equipment, full.equipment);
	assert_string_equal(back.device_type, full.device_type);
	assert_string_equal(back.taken_at, full.taken_at);
	assert_int_equal(back.seq, full.seq);
	assert_int_equal(back.n_values, full.n_values);
	for (size_t i = 0; i < full.n_values; i++) {
		v = find(&back, full.values[i].group, full.values[i].channel);
		assert_non_null(v);
		assert_string_equal(v->unit, full.values[i].unit);
		assert_int_equal(v->is_text, full.values[i].is_text);
		if (v->is_text)
			assert_string_equal(v->text, full.values[i].text);
		else
			assert_true(v->num == full.values[i].num);
	}
	assert_null(find(&back, "engine", "rpm"));
	snapshot_free(&back);
	snapshot_free(&full);
	free(compact);
	snapshot_dicts_free(set);
}

static void test_compact_unknown_dictionary(void **state)
{
	snapshot_dict *d;
	snapshot_dicts *set;
	snapshot s;
	char err[300], json[600];

	(void)state;
	assert_int_equal(snapshot_dict_parse(dict_json, strlen(dict_json), &d, err, sizeof err), 0);
	set = one_set(d);
	snprintf(json, sizeof json,
	         "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
	         "\"dictionary\":\"%064d\",\"values\":[1,2,3]}", 0);
	assert_int_equal(snapshot_parse_dict(json, strlen(json), 100, set, &s, err, sizeof err),
	                 SNAPSHOT_UNKNOWN_DICTIONARY);
	assert_non_null(strstr(err, "not known"));
	assert_string_equal(snapshot_status_name(SNAPSHOT_UNKNOWN_DICTIONARY), "unknown_dictionary");
	/* A decoder without dictionaries (snapshot_parse) says the same, never guesses. */
	snprintf(json, sizeof json,
	         "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
	         "\"dictionary\":\"%s\",\"values\":[1,2,3]}", d->digest);
	assert_int_equal(snapshot_parse(json, strlen(json), 100, &s, err, sizeof err), SNAPSHOT_UNKNOWN_DICTIONARY);
	assert_int_equal(snapshot_parse_dict(json, strlen(json), 100, set, &s, err, sizeof err), SNAPSHOT_OK);
	snapshot_free(&s);
	/* Another device type's snapshot naming this dictionary. */
	snprintf(json, sizeof json,
	         "{\"equipment\":\"EQ1\",\"device_type\":\"PUMP\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
	         "\"dictionary\":\"%s\",\"values\":[1,2,3]}", d->digest);
	assert_int_equal(snapshot_parse_dict(json, strlen(json), 100, set, &s, err, sizeof err),
	                 SNAPSHOT_UNKNOWN_DICTIONARY);
	snapshot_dicts_free(set);
}

static void test_compact_damaged(void **state)
{
	static const char *const values[] = {
		"[1,2]",               /* fewer than the dictionary's channels */
		"[1,2,3,4]",           /* more */
		"[null,null,null]",    /* nothing reported */
		"[1,{\"a\":1},3]",     /* not a value */
		"[1,2,1e999]",         /* not finite */
		"{\"a\":1}",           /* not an array */
	};
	snapshot_dict *d;
	snapshot_dicts *set;
	snapshot s;
	char err[300], json[700];
	size_t len, cut;

	(void)state;
	assert_int_equal(snapshot_dict_parse(dict_json, strlen(dict_json), &d, err, sizeof err), 0);
	set = one_set(d);
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		snprintf(json, sizeof json,
		         "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
		         "\"dictionary\":\"%s\",\"values\":%s}", d->digest, values[i]);
		assert_int_not_equal(snapshot_parse_dict(json, strlen(json), 100, set, &s, err, sizeof err), SNAPSHOT_OK);
	}
	/* Too many values for max_values. */
	snprintf(json, sizeof json,
	         "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
	         "\"dictionary\":\"%s\",\"values\":[1,\"ok\",3]}", d->digest);
	assert_int_equal(snapshot_parse_dict(json, strlen(json), 2, set, &s, err, sizeof err), SNAPSHOT_TOO_LARGE);
	/* Every truncation of a good compact snapshot is refused. */
	len = strlen(json);
	for (cut = 0; cut < len; cut++)
		assert_int_not_equal(snapshot_parse_dict(json, cut, 100, set, &s, err, sizeof err), SNAPSHOT_OK);
	assert_int_equal(snapshot_parse_dict(json, len, 100, set, &s, err, sizeof err), SNAPSHOT_OK);
	snapshot_free(&s);
	snapshot_dicts_free(set);
}

static void test_compact_refuses_unlisted_channel(void **state)
{
	static const char other[] =
		"{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
		"\"values\":[{\"group\":\"engine\",\"channel\":\"oil\",\"value\":1}]}";
	static const char unit[] =
		"{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"2026-11-21T10:00:00Z\",\"seq\":7,"
		"\"values\":[{\"group\":\"engine\",\"channel\":\"rpm\",\"unit\":\"Hz\",\"value\":1}]}";
	snapshot_dict *d;
	snapshot s;
	char err[300], *out;

	(void)state;
	assert_int_equal(snapshot_dict_parse(dict_json, strlen(dict_json), &d, err, sizeof err), 0);
	assert_int_equal(snapshot_parse(other, strlen(other), 10, &s, err, sizeof err), SNAPSHOT_OK);
	assert_int_equal(snapshot_dict_compact(d, &s, &out, err, sizeof err), -1);
	assert_null(out);
	snapshot_free(&s);
	assert_int_equal(snapshot_parse(unit, strlen(unit), 10, &s, err, sizeof err), SNAPSHOT_OK);
	assert_int_equal(snapshot_dict_compact(d, &s, &out, err, sizeof err), -1);
	snapshot_free(&s);
	snapshot_dict_free(d);
}

static void test_bad_dictionaries(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"device_type\":\"FM\",\"version\":1,\"channels\":[]}",
		"{\"device_type\":\"FM\",\"version\":1.5,\"channels\":[{\"group\":\"g\",\"channel\":\"c\"}]}",
		"{\"device_type\":\"FM\",\"channels\":[{\"group\":\"g\",\"channel\":\"c\"}]}",
		"{\"device_type\":\"FM\",\"version\":1,\"channels\":[{\"group\":\"g\",\"channel\":\"c\"}],\"x\":1}",
		"{\"device_type\":\"FM\",\"version\":1,\"channels\":[{\"group\":\"g\",\"channel\":\"c\"},"
		"{\"group\":\"g\",\"channel\":\"c\",\"unit\":\"h\"}]}",
		"{\"device_type\":\"FM\",\"version\":1,\"channels\":[{\"group\":\"g\",\"channel\":\"\"}]}",
		"{\"device_type\":\"FM\",\"version\":1,\"channels\":[{\"group\":\"g\",\"channel\":\"c\",\"x\":\"y\"}]}",
		"{\"device_type\":\"\",\"version\":1,\"channels\":[{\"group\":\"g\",\"channel\":\"c\"}]}",
	};
	snapshot_dict *d;
	char err[300];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(snapshot_dict_parse(bad[i], strlen(bad[i]), &d, err, sizeof err), -1);
		assert_null(d);
		assert_true(err[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_digest_is_sha256_of_bytes),
		cmocka_unit_test(test_compact_roundtrip),
		cmocka_unit_test(test_compact_unknown_dictionary),
		cmocka_unit_test(test_compact_damaged),
		cmocka_unit_test(test_compact_refuses_unlisted_channel),
		cmocka_unit_test(test_bad_dictionaries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
