/* Unit tests: sms-snapshotd configuration loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "services/snapshotd/snapshotd_config.h"

static char path[64];

static void write_config(const char *text)
{
	int fd;
	FILE *f;

	snprintf(path, sizeof path, "/tmp/test_services_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define REQUIRED \
	"broker = { host = \"127.0.0.1\"; cafile = \"ca\"; cert = \"c\"; key = \"k\"; };\n" \
	"e2e = { cert = \"ec\"; key = \"ek\"; trust_root = \"root\"; crls = [ \"a.pem\", \"b.pem\" ];" \
	" ca_certs = [ \"cas.pem\" ]; };\n" \
	"database = { conninfo = \"dbname=sms\"; };\n"

static void config_defaults(void **state)
{
	snapshotd_config c;
	char err[300];

	(void)state;
	write_config(REQUIRED);
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), 0);
	unlink(path);
	assert_string_equal(c.broker.host, "127.0.0.1");
	assert_int_equal(c.broker.port, 8883);
	assert_string_equal(c.subscription, "+/+/+/snapshots");
	/* No default in the file: the daemon derives "<identity>@sms-snapshotd"
	 * from broker.cert at start (the plugin's client-id policy). */
	assert_null(c.broker.client_id);
	assert_int_equal(c.workers, 1);
	assert_int_equal(c.e2e.n_crls, 2);
	/* Relative paths are taken relative to the file, not the working directory. */
	assert_string_equal(c.e2e.crls[1], "/tmp/b.pem");
	assert_null(c.e2e.chain);
	assert_int_equal(c.max_payload, 1024 * 1024);
	assert_int_equal(c.max_values, 4096);
	/* Receipts are on unless switched off: agents keep snapshots until one comes. */
	assert_int_equal(c.receipts_enabled, 1);
	assert_int_equal(c.receipt_batch_ms, 500);
	assert_int_equal(c.receipt_max_digests, 1024);
	snapshotd_config_free(&c);
}

static void config_full(void **state)
{
	snapshotd_config c;
	char err[300];

	(void)state;
	write_config(REQUIRED
	             "broker: { port = 18883; client_id = \"ingest\"; subscription = \"$share/g/+/+/+/snapshots\";"
	             " keepalive = 30; };\n"
	             "limits = { max_payload = 65536; max_values = 400; };\nworkers = 4;\nstats_interval = 5;\n");
	/* libconfig refuses a repeated group: this must fail with a line number. */
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, ":4:"));
	unlink(path);
	write_config("broker = { host = \"h\"; cafile = \"ca\"; cert = \"c\"; key = \"k\"; port = 18883;"
	             " client_id = \"ingest\"; subscription = \"$share/g/+/+/+/snapshots\"; };\n"
	             "e2e = { cert = \"ec\"; key = \"ek\"; trust_root = \"root\"; chain = \"ch\"; };\n"
	             "database = { conninfo = \"dbname=sms\"; sql_dir = \"/x\"; };\n"
	             "limits = { max_payload = 65536; max_values = 400; };\nworkers = 4;\nstats_interval = 5;\n");
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), 0);
	unlink(path);
	assert_int_equal(c.broker.port, 18883);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.max_payload, 65536);
	assert_int_equal(c.max_values, 400);
	assert_string_equal(c.e2e.chain, "/tmp/ch");
	assert_string_equal(c.sql_dir, "/x");
	assert_int_equal(c.e2e.n_crls, 0);
	snapshotd_config_free(&c);
	write_config(REQUIRED "receipts = { enabled = false; batch_ms = 50; max_digests = 4096; };\n");
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), 0);
	unlink(path);
	assert_int_equal(c.receipts_enabled, 0);
	assert_int_equal(c.receipt_batch_ms, 50);
	assert_int_equal(c.receipt_max_digests, 4096);
	snapshotd_config_free(&c);
}

static void config_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "broker = { cafile = \"ca\"; cert = \"c\"; key = \"k\"; };", "broker.host is required" },
		{ REQUIRED "workers = 2;", "$share" },
		{ REQUIRED "workers = 0;", "workers" },
		{ REQUIRED "limits = { max_payload = 10; };", "limits.max_payload" },
		{ REQUIRED "stats_interval = \"x\";", "must be an integer" },
		{ "broker = { host = 5; };", "broker.host must be a string" },
		{ "broker = { host = \"h\" ", ":1:" },
		/* One receipt holds at most RECEIPT_MAX_DIGESTS (receipt.h). */
		{ REQUIRED "receipts = { max_digests = 4097; };", "receipts.max_digests" },
		{ REQUIRED "receipts = { batch_ms = 0; };", "receipts.batch_ms" },
		{ REQUIRED "receipts = { enabled = 1; };", "receipts.enabled must be true or false" },
		{ REQUIRED "receipts = { batchms = 5; };", "batchms" },
	};
	snapshotd_config c;
	char err[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_config(cases[i].text);
		assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), -1);
		unlink(path);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: error '%s' does not mention '%s'", i, err, cases[i].want);
	}
	assert_int_equal(snapshotd_config_load("/nonexistent/sms.conf", &c, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot read"));
}

/* A misspelled key is an error with its file and line, never ignored. */
static void config_unknown_key(void **state)
{
	snapshotd_config c;
	char err[300], want[128];

	(void)state;
	write_config(REQUIRED "stats_intervall = 5;\n");
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:4: stats_intervall is not a known key", path);
	unlink(path);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not say '%s'", err, want);
	write_config(REQUIRED "broker2 = { host = \"x\"; };\n");
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), -1);
	unlink(path);
	assert_non_null(strstr(err, "broker2 is not a known key"));
	write_config(REQUIRED "database = { conninfo = \"x\"; sqldir = \"/x\"; };\n");
	assert_int_equal(snapshotd_config_load(path, &c, 0, err, sizeof err), -1);
	unlink(path);
}

/* With check_files, a file that cannot be opened is named with its key. */
static void config_missing_file(void **state)
{
	snapshotd_config c;
	char err[300], dir[] = "/tmp/test_services_config_dir.XXXXXX", conf[96], file[96];
	const char *names[] = { "ca", "c", "ec", "ek", "root", "a.pem", "b.pem", "cas.pem" };
	size_t i;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(file, sizeof file, "%s/%s", dir, names[i]);
		f = fopen(file, "w");
		assert_non_null(f);
		fclose(f);
	}
	snprintf(conf, sizeof conf, "%s/snapshotd.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs(REQUIRED, f);
	fclose(f);
	/* Everything but the TLS key ("k") exists. */
	assert_int_equal(snapshotd_config_load(conf, &c, 1, err, sizeof err), -1);
	snprintf(file, sizeof file, "broker.key cannot open %s/k: No such file or directory", dir);
	if (strstr(err, file) == NULL)
		fail_msg("error '%s' does not say '%s'", err, file);
	snprintf(file, sizeof file, "%s/k", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(snapshotd_config_load(conf, &c, 1, err, sizeof err), 0);
	snapshotd_config_free(&c);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(file, sizeof file, "%s/%s", dir, names[i]);
		unlink(file);
	}
	snprintf(file, sizeof file, "%s/k", dir);
	unlink(file);
	unlink(conf);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_defaults),
		cmocka_unit_test(config_full),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(config_unknown_key),
		cmocka_unit_test(config_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
