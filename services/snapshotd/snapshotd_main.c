/*
 * sms-snapshotd: subscribes to equipment snapshots, decrypts and verifies
 * them, and stores them in PostgreSQL exactly once (see snapshotd_worker.h
 * for the acknowledgement rule, snapshot_ingest.h for the checks).
 *
 * Signals: SIGTERM/SIGINT finish the current message, disconnect cleanly and
 * exit 0; SIGHUP re-reads the E2E CRLs at once (they are also re-read by
 * themselves within e2e.crl_check_interval of a change).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include <mosquitto.h>

#include "common/json_arena.h"
#include "common/crl_watch.h"
#include "common/signed_data.h"
#include "common/daemon_cli.h"
#include "common/version.h"
#include "common/db_migrate.h"
#include "common/mqtt_session.h"
#include "services/snapshotd/snapshotd_config.h"
#include "common/log.h"
#include "common/x509_util.h"
#include "common/monotonic.h"
#include "services/snapshotd/snapshotd_metrics.h"
#include "services/snapshotd/snapshotd_replay.h"
#include "services/snapshotd/snapshotd_worker.h"

#define PARTITION_CHECK_SECONDS 3600

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-snapshotd --config FILE [--check-config] [--migrate] [--verbose]\n"
	        "\n"
	        "Stores the snapshots equipment publishes on <ma>/<acc>/<eq>/snapshots in\n"
	        "PostgreSQL, after decrypting them and checking that the originator\n"
	        "certificate is that equipment. Rejected messages go to t_dead_letter.\n"
	        "\n"
	        "  --config FILE  libconfig file (see services/snapshotd/snapshotd.conf.example)\n"
	        "  --check-config read the file and every file it names, then exit: 0, or 1\n"
	        "                 with one line FILE:LINE: problem\n"
	        "  --migrate      apply pending schema migrations (database.sql_dir) first\n"
	        "  --verbose      debug logging\n"
	        "  --help         this text\n"
	        "  --version      print the version\n"
	        "\n"
	        "Signals: TERM/INT finish the current message and exit; HUP reloads CRLs now\n"
	        "(changed CRL files are also picked up within e2e.crl_check_interval).\n"
	        "\n" SMS_EXIT_CODES_HELP);
}

static int run_migrations(const snapshotd_config *cfg)
{
	char err[512];
	PGconn *conn = PQconnectdb(cfg->db_conninfo);
	int n, rc = -1;

	if (PQstatus(conn) != CONNECTION_OK) {
		sms_log(LOG_LEVEL_ERROR, "migrate: cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		goto out;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	n = db_migrate(conn, cfg->sql_dir, err, sizeof err);
	if (n < 0) {
		sms_log(LOG_LEVEL_ERROR, "migrate: %s", err);
		goto out;
	}
	sms_log(LOG_LEVEL_INFO, "migrate: %d migration(s) applied from %s", n, cfg->sql_dir);
	rc = 0;
out:
	PQfinish(conn);
	return rc;
}

/* Without broker.client_id: "<identity of broker.cert>@sms-snapshotd". */
static int default_client_id(snapshotd_config *cfg, char *err, size_t errlen)
{
	char id[160], why[400];

	if (mqtt_client_id_for_cert(cfg->broker.cert, "sms-snapshotd", id, sizeof id, why, sizeof why) != 0) {
		snprintf(err, errlen, "broker.client_id is not set and none follows from broker.cert: %s", why);
		return -1;
	}
	cfg->broker.client_id = strdup(id);
	if (cfg->broker.client_id == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Signed snapshots' signers chain to the same E2E root, with the same CRLs. */
static int load_signature_trust(const snapshotd_config *cfg, crl_watch *crls, signed_data_trust **t)
{
	char err[600];

	if ((*t = signed_data_trust_new(cfg->e2e.trust_root, err, sizeof err)) == NULL ||
	    (crls != NULL && signed_data_trust_set_crls(*t, crl_set_crls(crl_watch_current(crls)), err, sizeof err) != 0)) {
		sms_log(LOG_LEVEL_ERROR, "snapshot signatures: %s", err);
		return -1;
	}
	return 0;
}

/* e2e.ca_certs as chain material: a device may then send its certificate
 * without the CAs above it (fewer bytes on the wire, same verification). */
static int load_intermediates(smscms_ctx *ctx, const snapshotd_config *cfg, smscms_verifier *v)
{
	STACK_OF(X509) *cas = sk_X509_new_null();
	char err[600];
	size_t i;
	int rc = -1;

	if (cas == NULL) {
		sms_log(LOG_LEVEL_ERROR, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->e2e.n_ca_certs; i++) {
		if (x509_add_certs_from_pem(cas, cfg->e2e.ca_certs[i], err, sizeof err) != 0) {
			sms_log(LOG_LEVEL_ERROR, "e2e.ca_certs: %s", err);
			goto out;
		}
	}
	if (sk_X509_num(cas) > 0 && smscms_verifier_set_intermediates(ctx, v, cas) != SMSCMS_OK) {
		sms_log(LOG_LEVEL_ERROR, "e2e.ca_certs: %s", smscms_ctx_error(ctx));
		goto out;
	}
	rc = 0;
out:
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

/* The verifier starts without CRLs and gets them only through the watch,
 * so nothing ever rests on a CRL whose signature did not verify. */
static int load_keys(smscms_ctx *ctx, const snapshotd_config *cfg, crl_watch *crls, smscms_identity **id,
                     smscms_verifier **v)
{
	if (smscms_identity_load_pem(ctx, cfg->e2e.cert, cfg->e2e.key, cfg->e2e.chain, id) != SMSCMS_OK) {
		sms_log(LOG_LEVEL_ERROR, "loading E2E identity %s: %s", cfg->e2e.cert, smscms_ctx_error(ctx));
		return -1;
	}
	if (smscms_verifier_new(ctx, cfg->e2e.trust_root, NULL, 0, v) != SMSCMS_OK) {
		sms_log(LOG_LEVEL_ERROR, "loading E2E trust root %s: %s", cfg->e2e.trust_root, smscms_ctx_error(ctx));
		return -1;
	}
	if (crls != NULL && smscms_verifier_set_crls(ctx, *v, crl_set_crls(crl_watch_current(crls))) != SMSCMS_OK) {
		sms_log(LOG_LEVEL_ERROR, "E2E CRLs: %s", smscms_ctx_error(ctx));
		return -1;
	}
	return load_intermediates(ctx, cfg, *v);
}

/* The E2E CRL files as the plugin treats its own (crl_watch.h). */
static crl_watch *watch_crls(const snapshotd_config *cfg)
{
	crl_watch *w;
	char err[800];

	if (cfg->e2e.n_crls == 0)
		return NULL;
	w = crl_watch_for_e2e("E2E CRLs", &cfg->e2e, err, sizeof err);
	if (w == NULL)
		sms_log(LOG_LEVEL_ERROR, "E2E CRLs refused at start: %s", err);
	return w;
}

/* A new verified set goes to the verifier; a refused one was logged by the watch. */
static void poll_crls(snapshotd_shared *sh, smscms_ctx *ctx, crl_watch *crls, int force)
{
	smscms_status st;
	char err[300];
	int sig;

	if (crls == NULL || crl_watch_poll(crls, time(NULL), force) != 1)
		return;
	pthread_rwlock_wrlock(&sh->verifier_lock);
	st = smscms_verifier_set_crls(ctx, sh->keys.verifier, crl_set_crls(crl_watch_current(crls)));
	sig = signed_data_trust_set_crls(sh->signatures, crl_set_crls(crl_watch_current(crls)), err, sizeof err);
	pthread_rwlock_unlock(&sh->verifier_lock);
	if (st != SMSCMS_OK)
		sms_log(LOG_LEVEL_ERROR, "E2E CRLs verified but not taken by the verifier: %s", smscms_ctx_error(ctx));
	if (sig != 0)
		sms_log(LOG_LEVEL_ERROR, "E2E CRLs verified but not taken for snapshot signatures: %s", err);
}

typedef struct {
	unsigned long long stored, values, duplicates, rejected, db_retries, missing;
	unsigned long long receipts, receipted, receipts_failed;
} totals;

static totals sum_counters(const snapshotd_worker *w, int n)
{
	totals t = { 0 };
	int i;

	for (i = 0; i < n; i++) {
		t.stored += atomic_load(&w[i].n.stored);
		t.values += atomic_load(&w[i].n.values);
		t.duplicates += atomic_load(&w[i].n.duplicates);
		t.rejected += atomic_load(&w[i].n.rejected);
		t.db_retries += atomic_load(&w[i].n.db_retries);
		t.missing += atomic_load(&w[i].n.missing);
		t.receipts += atomic_load(&w[i].n.receipts.sent);
		t.receipted += atomic_load(&w[i].n.receipts.digests);
		t.receipts_failed += atomic_load(&w[i].n.receipts.failed);
	}
	return t;
}

static void log_rates(const totals *now, const totals *before, double secs)
{
	if (secs <= 0)
		return;
	sms_log(LOG_LEVEL_INFO, "rate: %.1f snapshots/s, %.0f values/s over %.0f s; totals: %llu stored, "
	              "%llu values, %llu duplicate, %llu rejected, %llu database retries, %llu missing (seq gaps), "
	              "%llu receipts for %llu snapshots (%llu not sent)",
	              (double)(now->stored - before->stored) / secs, (double)(now->values - before->values) / secs,
	              secs, now->stored, now->values, now->duplicates, now->rejected, now->db_retries, now->missing,
	              now->receipts, now->receipted, now->receipts_failed);
}

/* Partitions for the coming months; the ingest function creates missing
 * ones too, this keeps DDL out of the message path. */
static void ensure_partitions(const snapshotd_config *cfg)
{
	char err[512];
	snapshot_store *s = snapshot_store_new(cfg->db_conninfo, "sms-snapshotd/maintenance");

	if (s == NULL)
		return;
	if (snapshot_store_ensure_partitions(s, err, sizeof err) != STORE_OK)
		sms_log(LOG_LEVEL_WARNING, "partition maintenance: %s", err);
	snapshot_store_free(s);
}

/* Refuses to start, with one line, when the database lacks what we need. */
static int check_database(const snapshotd_config *cfg)
{
	char err[1024];
	snapshot_store *s = snapshot_store_new(cfg->db_conninfo, "sms-snapshotd/check");
	int rc = -1;

	if (s == NULL) {
		sms_log(LOG_LEVEL_ERROR, "database check: out of memory");
		return -1;
	}
	if (snapshot_store_check_ready(s, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_ERROR, "not starting: %s", err);
	else
		rc = 0;
	snapshot_store_free(s);
	return rc;
}

/* The supervisor wakes once a second, or often enough that a receipt waits
 * about receipts.batch_ms (at most half of it again). */
static struct timespec supervise_tick(const snapshotd_config *cfg)
{
	long ms = 1000;
	struct timespec t;

	if (cfg->receipts_enabled && cfg->receipt_batch_ms / 2 < ms)
		ms = cfg->receipt_batch_ms / 2 > 10 ? cfg->receipt_batch_ms / 2 : 10;
	t.tv_sec = ms / 1000;
	t.tv_nsec = (ms % 1000) * 1000000L;
	return t;
}

static void flush_receipts(snapshotd_worker *workers, int n, int force)
{
	int i;

	for (i = 0; i < n; i++)
		snapshotd_worker_flush_receipts(&workers[i], force);
}

/* Waits for signals with the other threads blocking them. Returns at SIGTERM/SIGINT. */
static void supervise(snapshotd_shared *sh, snapshotd_worker *workers, int n, smscms_ctx *ctx, crl_watch *crls)
{
	const snapshotd_config *cfg = sh->cfg;
	struct timespec tick = supervise_tick(cfg);
	double last_stats = monotonic_seconds(), last_parts = last_stats, last_metrics = 0, now;
	time_t started = time(NULL);
	totals before = { 0 }, cur;
	sigset_t set;
	int sig;

	daemon_signal_set(&set);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			sms_log(LOG_LEVEL_INFO, "%s: finishing current messages and disconnecting",
			              sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		flush_receipts(workers, n, 0);
		poll_crls(sh, ctx, crls, sig == SIGHUP);
		if (atomic_load(&sh->failed))
			break;
		now = monotonic_seconds();
		if (cfg->stats_interval > 0 && now - last_stats >= cfg->stats_interval) {
			cur = sum_counters(workers, n);
			log_rates(&cur, &before, now - last_stats);
			before = cur;
			last_stats = now;
		}
		if (now - last_metrics >= cfg->metrics.interval) {
			snapshotd_metrics_write(cfg, workers, n, crls, started);
			last_metrics = now;
		}
		if (now - last_parts >= PARTITION_CHECK_SECONDS) {
			ensure_partitions(cfg);
			last_parts = now;
		}
	}
	/* What is committed gets its receipt before we leave (libmosquitto
	 * sends it ahead of the DISCONNECT); a digest queued after this is
	 * receipted when the agent re-sends. */
	flush_receipts(workers, n, 1);
	snapshotd_metrics_write(cfg, workers, n, crls, started);
	atomic_store(&sh->stop, 1);
	for (sig = 0; sig < n; sig++)
		snapshotd_worker_stop(&workers[sig]);
}

int main(int argc, char **argv)
{
	snapshotd_config cfg;
	daemon_args args;
	snapshotd_shared sh;
	snapshotd_worker workers[SNAPSHOTD_MAX_WORKERS];
	snapshotd_replayer replayer;
	smscms_identity *id = NULL;
	smscms_verifier *verifier = NULL;
	smscms_ctx *ctx = NULL;
	crl_watch *crls = NULL;
	const char *config_path;
	char err[600];
	int migrate = 0, rc = 1, i, started = 0, lock_ok = 0;
	const daemon_flag flags[] = { { "migrate", &migrate }, { NULL, NULL } };
	totals t;

	/* Before any thread: snapshot trees in arenas (json_arena.h). */
	json_arena_install();
	if (daemon_args_parse(argc, argv, "sms-snapshotd", usage, flags, &args, &rc) != 0)
		return rc;
	config_path = args.config_path;
	if (snapshotd_config_load(config_path, &cfg, 1, err, sizeof err) != 0) {
		fprintf(stderr, "sms-snapshotd: %s\n", err);
		return 1;
	}
	if (cfg.broker.client_id == NULL && default_client_id(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "sms-snapshotd: %s: %s\n", config_path, err);
		snapshotd_config_free(&cfg);
		return 1;
	}
	/* --check-config: silent when valid, one line when not (daemon_cli.h). */
	if (args.check_only) {
		snapshotd_config_free(&cfg);
		return 0;
	}
	if (daemon_log_start("sms-snapshotd", &args, cfg.log_file) != 0) {
		snapshotd_config_free(&cfg);
		return 1;
	}
	memset(&sh, 0, sizeof sh);
	memset(&replayer, 0, sizeof replayer);
	sh.cfg = &cfg;
	/* Every thread inherits this mask; only supervise() takes the signals. */
	if (daemon_block_signals() != 0) {
		fprintf(stderr, "sms-snapshotd: cannot block signals\n");
		goto out;
	}
	if (migrate && run_migrations(&cfg) != 0)
		goto out;
	if (cfg.e2e.n_crls > 0 && (crls = watch_crls(&cfg)) == NULL)
		goto out;
	ctx = smscms_ctx_new();
	if (ctx == NULL || load_keys(ctx, &cfg, crls, &id, &verifier) != 0 ||
	    load_signature_trust(&cfg, crls, &sh.signatures) != 0)
		goto out;
	if (pthread_rwlock_init(&sh.verifier_lock, NULL) != 0) {
		sms_log(LOG_LEVEL_ERROR, "pthread_rwlock_init failed");
		goto out;
	}
	lock_ok = 1;
	if (cfg.workers > 1 && (sh.commits = group_commit_new((size_t)cfg.workers, (size_t)cfg.commits_in_flight)) == NULL) {
		sms_log(LOG_LEVEL_ERROR, "out of memory");
		goto out;
	}
	if ((sh.certs = smscms_certcache_new(cfg.certificate_cache)) == NULL) {
		sms_log(LOG_LEVEL_ERROR, "out of memory for a cache of %zu certificates", cfg.certificate_cache);
		goto out;
	}
	sh.keys.recipient = id;
	sh.keys.verifier = verifier;
	sh.keys.max_payload = cfg.max_payload;
	sh.keys.max_values = cfg.max_values;
	sh.keys.signatures = sh.signatures;
	sh.keys.require_signature = cfg.require_signature;
	sh.keys.dicts = cfg.dicts;
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		sms_log(LOG_LEVEL_ERROR, "mosquitto_lib_init failed");
		goto out;
	}
	if (check_database(&cfg) != 0)
		goto out_lib;
	ensure_partitions(&cfg);
	for (i = 0; i < cfg.workers; i++) {
		if (snapshotd_worker_start(&workers[i], &sh, i, err, sizeof err) != 0) {
			sms_log(LOG_LEVEL_ERROR, "%s", err);
			started = i + 1; /* the failed one holds partial state to free */
			atomic_store(&sh.stop, 1);
			for (i = 0; i < started; i++)
				snapshotd_worker_stop(&workers[i]);
			goto join;
		}
	}
	started = cfg.workers;
	if (snapshotd_replay_start(&replayer, &sh, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "%s", err);
		atomic_store(&sh.stop, 1);
		for (i = 0; i < started; i++)
			snapshotd_worker_stop(&workers[i]);
		goto join;
	}
	sms_log(LOG_LEVEL_INFO, "started: %d worker(s), broker %s:%d, subscription %s, receipts %s", cfg.workers,
	              cfg.broker.host, cfg.broker.port, cfg.subscription, cfg.receipts_enabled ? "on" : "off");
	supervise(&sh, workers, started, ctx, crls);
	rc = atomic_load(&sh.failed) ? 1 : 0;
join:
	for (i = 0; i < started; i++)
		snapshotd_worker_join(&workers[i]);
	snapshotd_replay_join(&replayer);
out_lib:
	mosquitto_lib_cleanup();
	if (rc == 0) {
		t = sum_counters(workers, started);
		sms_log(LOG_LEVEL_INFO, "stopped cleanly: %llu stored, %llu values, %llu duplicate, %llu rejected, "
		        "%llu receipts", t.stored, t.values, t.duplicates, t.rejected, t.receipts);
	}
out:
	if (lock_ok)
		pthread_rwlock_destroy(&sh.verifier_lock);
	group_commit_free(sh.commits);
	smscms_certcache_free(sh.certs);
	smscms_verifier_free(verifier);
	signed_data_trust_free(sh.signatures);
	crl_watch_free(crls);
	smscms_identity_free(id);
	smscms_ctx_free(ctx);
	snapshotd_config_free(&cfg);
	return rc;
}
