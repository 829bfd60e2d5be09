/*
 * sms-audit: the customer's own record of what its equipment sent.
 *
 *   sms-audit run    --config F     keep every message of our subtree (audit_intake.h)
 *   sms-audit report --config F ... per device: what, when, to whom, findings (audit_report.h)
 *   sms-audit export --config F ... decrypted snapshots as CSV / JSON Lines (audit_export.h)
 *   sms-audit verify --config F     re-check the whole store from raw (audit_verify.h)
 *
 * Usage errors: one line, exit 2.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common/daemon_cli.h"
#include "common/identity.h"
#include "common/snapshot_json.h"
#include "common/log.h"
#include "common/version.h"
#include "common/x509_util.h"
#include "services/audit/audit_config.h"
#include "services/audit/audit_export.h"
#include "services/audit/audit_intake.h"
#include "services/audit/audit_report.h"
#include "services/audit/audit_store.h"
#include "services/audit/audit_verify.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-audit COMMAND --config FILE [options]\n"
	        "\n"
	        "The customer's auditor: keeps every message its equipment sent (and what\n"
	        "the vendor sent back) in a local SQLite store, decrypts what is encrypted\n"
	        "for the customer and checks who sent it.\n"
	        "\n"
	        "  run     --config FILE [--verbose]        subscribe and store (until SIGTERM)\n"
	        "  run     --config FILE --check-config     read the file and open every file it names,\n"
	        "                                           then exit: 0, or 1 with one line FILE:LINE\n"
	        "  report  --config FILE [--device EQ] [--since T] [--format table|csv|json|html]\n"
	        "                        [--output FILE]    per device: what was sent, when, to whom, findings\n"
	        "  export  --config FILE [--device EQ] [--since T] [--format csv|jsonl] [--output FILE]\n"
	        "                                           the decrypted snapshots\n"
	        "  verify  --config FILE                    re-check the whole store from the raw messages\n"
	        "\n"
	        "  --help, --version\n"
	        "T is an ISO 8601 UTC time or date (2026-12-01, 2026-12-01T10:00:00Z).\n"
	        SMS_EXIT_CODES_HELP "verify exits 1 also when the store does not verify.\n"
	        "See sms-audit(1).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sms-audit: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (sms-audit --help)\n");
	return 2;
}

typedef struct {
	const char *config, *device, *since, *format, *output;
	int verbose, check_only;
} options;

/* Which options a command takes beyond --config, --verbose and --help. */
enum { OPT_FILTERS = 1, OPT_CHECK = 2 };

static int parse(int argc, char **argv, int allowed, options *o)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' }, { "device", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' }, { "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' }, { "verbose", no_argument, NULL, 'v' },
		{ "check-config", no_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof *o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'k':
			if (!(allowed & OPT_CHECK))
				return usage_error("%s takes no such option", argv[0]);
			o->check_only = 1;
			break;
		case 'd': case 's': case 'f': case 'o':
			if (!(allowed & OPT_FILTERS))
				return usage_error("%s takes no such option", argv[0]);
			if (c == 'd') o->device = optarg;
			if (c == 's') o->since = optarg;
			if (c == 'f') o->format = optarg;
			if (c == 'o') o->output = optarg;
			break;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument %s", argv[optind]);
	if (o->config == NULL)
		return usage_error("%s needs --config FILE", argv[0]);
	return -1;
}

/* "YYYY-MM-DD" or a full time: the text the store compares against. */
static int since_valid(const char *s)
{
	char full[40];
	time_t t;

	if (strlen(s) == 10) {
		snprintf(full, sizeof full, "%sT00:00:00Z", s);
		return snapshot_time_parse(full, &t);
	}
	return snapshot_time_parse(s, &t);
}

/* The report is titled with the identity the store was filled as. */
static int scope_name(const audit_config *cfg, report_model *m)
{
	X509 *x = x509_read_cert(cfg->broker.cert);
	identity id;
	char why[200];
	int rc = -1;

	if (x == NULL || identity_from_subject(X509_get_subject_name(x), &id, why, sizeof why) != 0) {
		fprintf(stderr, "sms-audit: %s: not a readable SMS certificate\n", cfg->broker.cert);
	} else {
		free(m->scope);
		m->scope = strdup(id.name);
		rc = m->scope != NULL ? 0 : -1;
	}
	X509_free(x);
	return rc;
}

/* checks: AUDIT_CHECK_FILES, with AUDIT_CHECK_RUN for run (audit_config.h). */
static int load(const options *o, audit_config *cfg, int checks)
{
	char err[600];

	if (audit_config_load(o->config, cfg, checks, err, sizeof err) != 0) {
		fprintf(stderr, "sms-audit: %s\n", err);
		return -1;
	}
	return 0;
}

static FILE *open_output(const char *path)
{
	FILE *f;

	if (path == NULL)
		return stdout;
	if ((f = fopen(path, "w")) == NULL)
		perror(path);
	return f;
}

static int close_output(FILE *f, const char *path)
{
	if (f == stdout)
		return fflush(f) == 0 ? 0 : -1;
	if (fclose(f) != 0) {
		fprintf(stderr, "sms-audit: %s: write error\n", path);
		return -1;
	}
	return 0;
}

static void filter_from(const options *o, const audit_config *cfg, store_filter *f)
{
	f->device = o->device;
	f->since = o->since;
	f->now = time(NULL);
	f->grace = cfg->receipt_grace;
}

static int cmd_run(int argc, char **argv)
{
	options o;
	audit_config cfg;
	daemon_args a = { 0 };
	int rc = parse(argc, argv, OPT_CHECK, &o);

	if (rc >= 0)
		return rc;
	if (load(&o, &cfg, AUDIT_CHECK_FILES | AUDIT_CHECK_RUN) != 0)
		return 1;
	/* The rule of every daemon's --check-config: silent when valid. */
	if (o.check_only) {
		audit_config_free(&cfg);
		return 0;
	}
	a.config_path = o.config;
	a.verbose = o.verbose;
	rc = daemon_log_start("sms-audit", &a, cfg.log_file) != 0 ? 1 : audit_intake_run(&cfg);
	audit_config_free(&cfg);
	return rc;
}

static int cmd_report(int argc, char **argv)
{
	options o;
	audit_config cfg;
	report_format fmt = REPORT_TABLE;
	report_model model = { 0 };
	store_filter f;
	audit_store *s = NULL;
	char err[600], now[24];
	time_t t = time(NULL);
	struct tm tm;
	FILE *out = NULL;
	int rc = parse(argc, argv, OPT_FILTERS, &o);

	if (rc >= 0)
		return rc;
	if (o.format != NULL && report_format_parse(o.format, &fmt) != 0)
		return usage_error("--format %s: table, csv, json or html", o.format);
	if (o.since != NULL && !since_valid(o.since))
		return usage_error("--since %s: not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", o.since);
	if (load(&o, &cfg, AUDIT_CHECK_FILES) != 0)
		return 1;
	rc = 1;
	filter_from(&o, &cfg, &f);
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	model.generated_at = strdup(now);
	if ((s = store_open(cfg.store_path, 1, err, sizeof err)) == NULL ||
	    store_load_report(s, &f, &model, err, sizeof err) != 0) {
		fprintf(stderr, "sms-audit: %s\n", err);
		goto out;
	}
	if (scope_name(&cfg, &model) != 0 || (out = open_output(o.output)) == NULL)
		goto out;
	if (report_write(&model, fmt, out) != 0)
		fprintf(stderr, "sms-audit: report: write error\n");
	else
		rc = 0;
	if (close_output(out, o.output) != 0)
		rc = 1;
out:
	store_close(s);
	report_model_free(&model);
	audit_config_free(&cfg);
	return rc;
}

static int cmd_export(int argc, char **argv)
{
	options o;
	audit_config cfg;
	export_format fmt = EXPORT_CSV;
	store_filter f;
	audit_store *s = NULL;
	char err[600] = "";
	FILE *out = NULL;
	int rc = parse(argc, argv, OPT_FILTERS, &o);

	if (rc >= 0)
		return rc;
	if (o.format != NULL && strcmp(o.format, "csv") != 0 && strcmp(o.format, "jsonl") != 0)
		return usage_error("--format %s: csv or jsonl", o.format);
	if (o.format != NULL && strcmp(o.format, "jsonl") == 0)
		fmt = EXPORT_JSONL;
	if (o.since != NULL && !since_valid(o.since))
		return usage_error("--since %s: not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", o.since);
	if (load(&o, &cfg, AUDIT_CHECK_FILES) != 0)
		return 1;
	rc = 1;
	filter_from(&o, &cfg, &f);
	if ((s = store_open(cfg.store_path, 1, err, sizeof err)) == NULL) {
		fprintf(stderr, "sms-audit: %s\n", err);
		goto out;
	}
	if ((out = open_output(o.output)) == NULL)
		goto out;
	if (audit_export(s, &f, fmt, cfg.dicts, out, err, sizeof err) != 0)
		fprintf(stderr, "sms-audit: %s\n", err);
	else
		rc = 0;
	if (close_output(out, o.output) != 0)
		rc = 1;
out:
	store_close(s);
	audit_config_free(&cfg);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	options o;
	audit_config cfg;
	int rc = parse(argc, argv, 0, &o);

	if (rc >= 0)
		return rc;
	if (load(&o, &cfg, AUDIT_CHECK_FILES) != 0)
		return 1;
	sms_log_init("sms-audit", LOG_LEVEL_WARNING);
	rc = audit_verify(&cfg, stdout, isatty(STDERR_FILENO) || getenv("SMS_AUDIT_PROGRESS") ? stderr : NULL);
	audit_config_free(&cfg);
	return rc == 2 ? 1 : rc;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = { { "run", cmd_run }, { "report", cmd_report }, { "export", cmd_export }, { "verify", cmd_verify } };
	size_t i;

	if (argc < 2)
		return usage_error("%s", "a command is needed: run, report, export or verify");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		sms_print_version(stdout, "sms-audit");
		return 0;
	}
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	return usage_error("unknown command %s", argv[1]);
}
