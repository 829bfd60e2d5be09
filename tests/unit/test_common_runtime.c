/* Unit tests: common/conf (keys, paths, ranges), common/daemon_cli, and the backoff arithmetic of
 * common/mqtt_session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/conf.h"
#include "common/daemon_cli.h"
#include "common/mqtt_session.h"

static char dir[] = "/tmp/test_common_runtime.XXXXXX";
static char path[128];

static void write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/prog.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *const known[] = { "a.b.c", "a.d", "top", "list", NULL };

static void conf_nested_keys(void **state)
{
	char err[300];
	conf_file f;

	(void)state;
	write_conf("a = { b = { c = 1; }; d = \"x\"; };\ntop = 2;\n");
	assert_int_equal(conf_open(&f, path, err, sizeof err), 0);
	assert_int_equal(conf_check_keys(&f, known), 0);
	conf_close(&f);
	write_conf("a = { b = { c = 1; e = 2; }; };\n");
	assert_int_equal(conf_open(&f, path, err, sizeof err), 0);
	assert_int_equal(conf_check_keys(&f, known), -1);
	assert_non_null(strstr(err, "prog.conf:1: a.b.e is not a known key"));
	conf_close(&f);
	/* A known leaf used as a group is still unknown below it. */
	write_conf("\ntop = { x = 1; };\n");
	assert_int_equal(conf_open(&f, path, err, sizeof err), 0);
	assert_int_equal(conf_check_keys(&f, known), -1);
	assert_non_null(strstr(err, ":2: top.x is not a known key"));
	conf_close(&f);
}

static void conf_values(void **state)
{
	char err[300], *s = NULL, *p = NULL, *list[4];
	long long v = 0;
	size_t n = 0, i;
	int b = 0;
	conf_file f;

	(void)state;
	write_conf("a = { d = \"rel/file.pem\"; };\ntop = 70000;\nlist = [ \"/abs\", \"x\" ];\n");
	assert_int_equal(conf_open(&f, path, err, sizeof err), 0);
	assert_int_equal(conf_path(&f, "a.d", CONF_REQUIRED, CONF_PATH_ANY, &p), 0);
	snprintf(err, sizeof err, "%s/rel/file.pem", dir);
	assert_string_equal(p, err);
	assert_int_equal(conf_path_list(&f, "list", CONF_PATH_ANY, list, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0], "/abs");
	assert_int_equal(conf_bool(&f, "missing", 1, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(conf_string(&f, "nothere", CONF_OPTIONAL, "dflt", &s), 0);
	assert_string_equal(s, "dflt");
	free(s);
	assert_int_equal(conf_int(&f, "top", 1, 1, 65535, &v), -1);
	assert_non_null(strstr(err, ":2: top = 70000 is outside 1..65535"));
	/* After one error every further call fails at once and keeps the first error. */
	assert_int_equal(conf_string(&f, "a.d", CONF_REQUIRED, NULL, &s), -1);
	assert_non_null(strstr(err, "top = 70000"));
	conf_close(&f);
	free(p);
	for (i = 0; i < n; i++)
		free(list[i]);
}

static void conf_unreadable(void **state)
{
	char err[300], *p = NULL;
	conf_file f;

	(void)state;
	write_conf("a = { d = \"nothere.pem\"; };\n");
	assert_int_equal(conf_open(&f, path, err, sizeof err), 0);
	assert_int_equal(conf_path(&f, "a.d", CONF_REQUIRED, CONF_PATH_READABLE, &p), -1);
	assert_non_null(strstr(err, "a.d cannot open"));
	assert_non_null(strstr(err, "nothere.pem: No such file or directory"));
	conf_close(&f);
	free(p);
	assert_int_equal(conf_open(&f, "/nonexistent/x.conf", err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/x.conf: cannot read: No such file or directory"));
	conf_close(&f);
	write_conf("a = { d = ");
	assert_int_equal(conf_open(&f, path, err, sizeof err), -1);
	assert_non_null(strstr(err, "prog.conf:1:"));
	conf_close(&f);
}

static void backoff_bounds(void **state)
{
	long b = 0, j;
	int i;

	(void)state;
	b = mqtt_backoff_next(b, 500, 30000);
	assert_int_equal(b, 500);
	for (i = 0; i < 20; i++)
		b = mqtt_backoff_next(b, 500, 30000);
	assert_int_equal(b, 30000);
	for (i = 0; i < 1000; i++) {
		j = mqtt_backoff_jitter(30000);
		assert_true(j >= 15000 && j <= 30000);
	}
	assert_int_equal(mqtt_backoff_jitter(1), 1);
}

static int usage_calls;
static void count_usage(FILE *f)
{
	(void)f;
	usage_calls++;
}

static int parse(int argc, const char **argv, int *migrate, daemon_args *a, int *code)
{
	const daemon_flag flags[] = { { "migrate", migrate }, { NULL, NULL } };

	return daemon_args_parse(argc, (char **)argv, "prog", count_usage, flags, a, code);
}

static void cli_parse(void **state)
{
	const char *ok[] = { "prog", "--config", "/x.conf", "--migrate", "--verbose", "--check-config", NULL };
	const char *help[] = { "prog", "--help", NULL };
	const char *bad[] = { "prog", "--config", "/x.conf", "--bogus", NULL };
	const char *none[] = { "prog", "--verbose", NULL };
	const char *extra[] = { "prog", "--config", "/x.conf", "stray", NULL };
	daemon_args a;
	int migrate = 0, code = -1;

	(void)state;
	assert_int_equal(parse(6, ok, &migrate, &a, &code), 0);
	assert_string_equal(a.config_path, "/x.conf");
	assert_true(a.verbose && a.check_only && migrate);
	assert_int_equal(parse(2, help, &migrate, &a, &code), -1);
	assert_int_equal(code, 0);
	assert_int_equal(usage_calls, 1);
	assert_int_equal(parse(4, bad, &migrate, &a, &code), -1);
	assert_int_equal(code, 2);
	assert_int_equal(parse(2, none, &migrate, &a, &code), -1);
	assert_int_equal(code, 2);
	assert_int_equal(parse(4, extra, &migrate, &a, &code), -1);
	assert_int_equal(code, 2);
	/* Usage errors print one line, not the usage text. */
	assert_int_equal(usage_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conf_nested_keys),
		cmocka_unit_test(conf_values),
		cmocka_unit_test(conf_unreadable),
		cmocka_unit_test(backoff_bounds),
		cmocka_unit_test(cli_parse),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return rc;
}
