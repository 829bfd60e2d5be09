/*
 * common/json_arena: a snapshot parsed into an arena reads the same as one
 * parsed by cJSON alone; a parse that fails part way leaves nothing behind;
 * other cJSON use on any thread is untouched by the hooks; threads parse
 * into their own arenas at once. Leaks show under valgrind and ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <cJSON.h>

#include "common/json_arena.h"
#include "common/snapshot_json.h"

/* A full-form snapshot of n values, every 5th a text. */
static char *snapshot_text(int n)
{
	size_t cap = 128 + (size_t)n * 96, len;
	char *s = malloc(cap);
	int i;

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "{\"equipment\":\"EQ1\",\"device_type\":\"FM\","
	                                "\"taken_at\":\"2026-12-05T08:00:00Z\",\"seq\":7,\"values\":[");
	for (i = 0; i < n; i++) {
		if (i % 5 == 4)
			len += (size_t)snprintf(s + len, cap - len, "%s{\"group\":\"g%d\",\"channel\":\"c%d\",\"value\":\"t%d\"}",
			                        i ? "," : "", i / 10, i, i);
		else
			len += (size_t)snprintf(s + len, cap - len,
			                        "%s{\"group\":\"g%d\",\"channel\":\"c%d\",\"unit\":\"h\",\"value\":%d.25}",
			                        i ? "," : "", i / 10, i, i);
	}
	snprintf(s + len, cap - len, "]}");
	return s;
}

static void check_snapshot(const snapshot *s, int n)
{
	char name[32];
	int i;

	assert_int_equal(s->n_values, n);
	assert_string_equal(s->equipment, "EQ1");
	assert_int_equal(s->seq, 7);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "c%d", i);
		assert_string_equal(s->values[i].channel, name);
		if (i % 5 == 4) {
			snprintf(name, sizeof name, "t%d", i);
			assert_true(s->values[i].is_text);
			assert_string_equal(s->values[i].text, name);
		} else {
			assert_false(s->values[i].is_text);
			assert_true(s->values[i].num == i + 0.25);
		}
	}
}

/* Before the hooks: no arena; after: the tree is in one, reads the same. */
static void test_parse_into_arena(void **state)
{
	char *text = snapshot_text(2000), err[256];
	snapshot s;

	(void)state;
	assert_int_equal(snapshot_parse(text, strlen(text), 4096, &s, err, sizeof err), SNAPSHOT_OK);
	assert_null(s.arena);
	check_snapshot(&s, 2000);
	snapshot_free(&s);
	json_arena_install();
	/* 2,000 values take several arena blocks. */
	assert_int_equal(snapshot_parse(text, strlen(text), 4096, &s, err, sizeof err), SNAPSHOT_OK);
	assert_non_null(s.arena);
	check_snapshot(&s, 2000);
	snapshot_free(&s);
	free(text);
}

/* Failures at every depth: cJSON frees what it built so far through the
 * hooks, into the arena; nothing leaks and nothing is freed twice. */
static void test_failed_parse_leaves_nothing(void **state)
{
	char *text = snapshot_text(300), err[256];
	size_t len = strlen(text), cut;
	snapshot s;

	(void)state;
	json_arena_install();
	for (cut = 1; cut < len; cut += 97) {
		assert_int_equal(snapshot_parse(text, cut, 4096, &s, err, sizeof err), SNAPSHOT_BAD_JSON);
		assert_null(s.tree);
		assert_null(s.arena);
	}
	/* Valid JSON, refused by the schema after the parse: the arena goes too. */
	const char *odd = "{\"equipment\":\"EQ1\",\"x\":[1,2,{\"y\":\"z\"}]}";

	assert_int_equal(snapshot_parse(odd, strlen(odd), 4096, &s, err, sizeof err), SNAPSHOT_SCHEMA);
	assert_null(s.arena);
	free(text);
}

/* The hooks installed, cJSON built and printed outside any arena parse
 * is plain malloc/free (valgrind would see a free of arena memory). */
static void test_other_cjson_untouched(void **state)
{
	cJSON *o;
	char *out;

	(void)state;
	json_arena_install();
	o = cJSON_CreateObject();
	assert_non_null(o);
	for (int i = 0; i < 200; i++)
		assert_non_null(cJSON_AddNumberToObject(o, "n", i));
	out = cJSON_PrintUnformatted(o);
	assert_non_null(out);
	cJSON_Delete(o);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_int_equal(cJSON_GetArraySize(o), 200);
	cJSON_Delete(o);
	cJSON_free(out);
}

#define THREADS 4

static void *parse_many(void *arg)
{
	const char *text = arg;
	char err[256];
	snapshot s;
	cJSON *plain;
	intptr_t bad = 0;

	for (int k = 0; k < 50; k++) {
		if (snapshot_parse(text, strlen(text), 4096, &s, err, sizeof err) != SNAPSHOT_OK || s.n_values != 400 ||
		    strcmp(s.values[399].channel, "c399") != 0)
			bad++;
		/* Interleaved: cJSON outside the arena on the same thread. */
		plain = cJSON_CreateString("outside");
		cJSON_Delete(plain);
		snapshot_free(&s);
	}
	return (void *)bad;
}

static void test_threads_parse_at_once(void **state)
{
	char *text = snapshot_text(400);
	pthread_t t[THREADS];
	void *bad;
	int i;

	(void)state;
	json_arena_install();
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parse_many, text), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_into_arena),
		cmocka_unit_test(test_failed_parse_leaves_nothing),
		cmocka_unit_test(test_other_cjson_untouched),
		cmocka_unit_test(test_threads_parse_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
