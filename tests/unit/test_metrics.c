/*
 * common/metrics: the file it writes is what Prometheus' own parser
 * (python3-prometheus-client, tests/unit/prom_parse.py) reads back, with
 * escaped label values and help text, NaN/Inf, HELP/TYPE once per family;
 * the file is replaced atomically (no temporary left, the old file kept
 * when a build fails) and a directory that cannot be written is named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "common/metrics.h"
#include "tests/unit/pki_test_support.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return pts_tmpdir(dir, sizeof dir, "metrics");
}

static int teardown(void **state)
{
	(void)state;
	return pts_remove(dir);
}

/* The parser's view of dir/<name>.prom, or NULL when it refused the file. */
static char *parse(const char *name)
{
	char cmd[1024], *out = calloc(1, 65536);
	size_t n;
	FILE *p;
	int rc;

	assert_non_null(out);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/prom_parse.py %s/%s.prom", pts_root_dir(), dir, name);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	rc = pclose(p);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void build_sample_set(metrics_buf *m)
{
	const char *reason_bad[] = { "reason", "bad \"json\"\\ and\nnewline", NULL };
	const char *reason_rev[] = { "reason", "revoked", NULL };
	const char *two[] = { "worker", "0", "state", "connected", NULL };

	metrics_begin(m);
	metrics_family(m, "sms_test_rejected_total", METRIC_COUNTER, "Rejected \\ messages\nby reason");
	metrics_sample(m, reason_bad, 3);
	metrics_sample(m, reason_rev, 1);
	metrics_one(m, "sms_test_outbox_bytes", METRIC_GAUGE, "Bytes in the outbox", 1073741824.0);
	metrics_family(m, "sms_test_connected", METRIC_GAUGE, "1 while connected");
	metrics_sample(m, two, 1);
	metrics_one(m, "sms_test_crl_next_update_seconds", METRIC_GAUGE, "Seconds to nextUpdate", -INFINITY);
	metrics_one(m, "sms_test_unknown", METRIC_GAUGE, "Not known yet", NAN);
}

static void test_reference_parser_reads_it(void **state)
{
	metrics_buf m;
	char err[256], *got;

	(void)state;
	build_sample_set(&m);
	assert_int_equal(metrics_write(&m, dir, "sms-test", err, sizeof err), 0);
	metrics_free(&m);
	got = parse("sms-test");
	assert_non_null(got);
	/* The client strips _total from a counter's family name, not from the sample. */
	assert_string_equal(got,
		"sms_test_rejected_total{reason='bad \"json\"\\\\ and\\nnewline'} counter "
		"'Rejected \\\\ messages\\nby reason' 3.0\n"
		"sms_test_rejected_total{reason='revoked'} counter 'Rejected \\\\ messages\\nby reason' 1.0\n"
		"sms_test_outbox_bytes{} gauge 'Bytes in the outbox' 1073741824.0\n"
		"sms_test_connected{state='connected',worker='0'} gauge '1 while connected' 1.0\n"
		"sms_test_crl_next_update_seconds{} gauge 'Seconds to nextUpdate' -inf\n"
		"sms_test_unknown{} gauge 'Not known yet' nan\n");
	free(got);
}

static void test_help_and_type_once_per_family(void **state)
{
	metrics_buf m;
	const char *text;

	(void)state;
	build_sample_set(&m);
	text = metrics_text(&m);
	assert_non_null(strstr(text, "# HELP sms_test_rejected_total Rejected \\\\ messages\\nby reason\n"
	                             "# TYPE sms_test_rejected_total counter\n"));
	assert_null(strstr(strstr(text, "# TYPE sms_test_rejected_total") + 1, "# TYPE sms_test_rejected_total"));
	metrics_free(&m);
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0))
			n++;
	closedir(d);
	return n;
}

static void test_bad_name_keeps_previous_file(void **state)
{
	metrics_buf m;
	char err[256], *got;

	(void)state;
	metrics_begin(&m);
	metrics_one(&m, "sms_test_up", METRIC_GAUGE, "up", 1);
	assert_int_equal(metrics_write(&m, dir, "keep", err, sizeof err), 0);
	metrics_free(&m);

	metrics_begin(&m);
	metrics_one(&m, "sms_test_up", METRIC_GAUGE, "up", 0);
	metrics_one(&m, "sms-test-bad", METRIC_GAUGE, "a dash is not allowed", 1);
	assert_int_equal(metrics_write(&m, dir, "keep", err, sizeof err), -1);
	assert_non_null(strstr(err, "sms-test-bad"));
	metrics_free(&m);

	metrics_begin(&m);
	metrics_family(&m, "sms_test_labels", METRIC_GAUGE, "reserved label");
	metrics_sample(&m, (const char *[]){ "__name__", "x", NULL }, 1);
	assert_int_equal(metrics_write(&m, dir, "keep", err, sizeof err), -1);
	metrics_free(&m);

	got = parse("keep");
	assert_non_null(got);
	assert_string_equal(got, "sms_test_up{} gauge 'up' 1.0\n");
	free(got);
	assert_int_equal(count_entries(), 1); /* keep.prom, no temporary file */
}

/* The daemons run with UMask 0027/0077; node-exporter must still read it. */
static void test_readable_by_others_whatever_the_umask(void **state)
{
	metrics_buf m;
	char err[256], path[300];
	struct stat st;
	mode_t old;

	(void)state;
	old = umask(077);
	metrics_begin(&m);
	metrics_one(&m, "sms_test_up", METRIC_GAUGE, "up", 1);
	assert_int_equal(metrics_write(&m, dir, "mode", err, sizeof err), 0);
	metrics_free(&m);
	umask(old);
	snprintf(path, sizeof path, "%s/mode.prom", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_unwritable_directory_is_named(void **state)
{
	metrics_buf m;
	char err[512], missing[300];

	(void)state;
	snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
	metrics_begin(&m);
	metrics_one(&m, "sms_test_up", METRIC_GAUGE, "up", 1);
	assert_int_equal(metrics_write(&m, missing, "x", err, sizeof err), -1);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file or directory"));
	metrics_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reference_parser_reads_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_type_once_per_family, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_name_keeps_previous_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_by_others_whatever_the_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_directory_is_named, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
