/*
 * sms-publisherd: drives firmware rollouts from PostgreSQL (docs/firmware.md).
 * It connects as the role vendor-firmware-service (TLS and E2E), publishes
 * each release's manifest and ciphertext pieces once, retained, on
 * sms/firmware/<release>/..., offers each targeted device the release's
 * content key in an envelope only that device opens, and moves each device
 * through its states from the signed status reports on
 * +/+/+/firmware/status. It never holds the signer key: a manifest is
 * published exactly as the release engineer signed it.
 *
 * Threads: the MQTT loop (status reports, publisherd_status.h) and this
 * supervisor (releases, rollouts, CRL reloads, metrics). Signals:
 * TERM/INT disconnect and exit 0; HUP re-reads the CRL files now.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <openssl/crypto.h>
#include <openssl/x509_vfy.h>

#include "common/daemon_cli.h"
#include "common/db_privileges.h"
#include "common/log.h"
#include "common/monotonic.h"
#include "common/x509_util.h"
#include "services/publisherd/publisherd.h"
#include "services/publisherd/publisherd_metrics.h"
#include "services/publisherd/publisherd_release.h"
#include "services/publisherd/publisherd_rollout.h"
#include "services/publisherd/publisherd_status.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-publisherd --config FILE [--check-config] [--verbose]\n"
	        "\n"
	        "Drives the firmware rollouts sms-firmware created: publishes each release's\n"
	        "signed manifest and encrypted pieces once, retained, on sms/firmware/<release>/,\n"
	        "sends each targeted device an offer on <ma>/<acc>/<eq>/firmware (the content key,\n"
	        "encrypted for that device only) at the rollout's rate and phases, re-offers\n"
	        "devices that do not answer, and records every verified status report from\n"
	        "+/+/+/firmware/status. Deadlines, abort thresholds, pause and abort apply.\n"
	        "\n"
	        "  --config FILE  libconfig file (see services/publisherd/publisherd.conf.example)\n"
	        "  --check-config read the file, every file it names, the E2E identity and CRLs,\n"
	        "                 then exit: 0, or 1 with one line naming the problem\n"
	        "  --verbose      debug logging\n"
	        "  --help, --version\n"
	        "\n"
	        "Signals: TERM/INT disconnect and exit; HUP re-reads the CRL files.\n");
}

/* ------------------------------------------------------------ trust */

static int load_cas(publisherd *p, char *err, size_t errlen)
{
	const conf_e2e *e = &p->cfg->e2e;
	size_t i;

	if ((p->cas = sk_X509_new_null()) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	for (i = 0; i < e->n_ca_certs; i++)
		if (x509_add_certs_from_pem(p->cas, e->ca_certs[i], err, errlen) != 0)
			return -1;
	return 0;
}

/* The store device certificates are checked in: root, and the CRLs in use. */
static int build_device_store(publisherd *p, char *err, size_t errlen)
{
	const STACK_OF(X509_CRL) *crls = p->crls != NULL ? crl_set_crls(crl_watch_current(p->crls)) : NULL;
	X509_STORE *st = X509_STORE_new();
	X509 *root = x509_read_cert(p->cfg->e2e.trust_root);
	int i, ok = st != NULL && root != NULL && X509_STORE_add_cert(st, root) == 1;

	for (i = 0; ok && crls != NULL && i < sk_X509_CRL_num(crls); i++)
		ok = X509_STORE_add_crl(st, sk_X509_CRL_value(crls, i)) == 1;
	if (ok && crls != NULL && sk_X509_CRL_num(crls) > 0)
		ok = X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) == 1;
	X509_free(root);
	if (!ok) {
		X509_STORE_free(st);
		snprintf(err, errlen, "e2e.trust_root %s: cannot build the device certificate store", p->cfg->e2e.trust_root);
		return -1;
	}
	X509_STORE_free(p->devices);
	p->devices = st;
	return 0;
}

/* Hands the CRLs in use to everything that verifies. */
static int apply_crls(publisherd *p, char *err, size_t errlen)
{
	const STACK_OF(X509_CRL) *crls;
	int rc;

	if (p->crls == NULL)
		return build_device_store(p, err, errlen);
	crls = crl_set_crls(crl_watch_current(p->crls));
	if (smscms_verifier_set_crls(p->ctx, p->verifier, crls) != SMSCMS_OK) {
		snprintf(err, errlen, "CRLs: %s", smscms_ctx_error(p->ctx));
		return -1;
	}
	pthread_mutex_lock(&p->trust_lock);
	rc = signed_data_trust_set_crls(p->status_trust, crls, err, errlen);
	pthread_mutex_unlock(&p->trust_lock);
	return rc != 0 ? -1 : build_device_store(p, err, errlen);
}

static int open_trust(publisherd *p, char *err, size_t errlen)
{
	const conf_e2e *e = &p->cfg->e2e;

	if ((p->ctx = smscms_ctx_new()) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	if (smscms_identity_load_pem(p->ctx, e->cert, e->key, e->chain, &p->me) != SMSCMS_OK ||
	    smscms_verifier_new(p->ctx, e->trust_root, NULL, 0, &p->verifier) != SMSCMS_OK) {
		snprintf(err, errlen, "e2e: %s", smscms_ctx_error(p->ctx));
		return -1;
	}
	if ((p->services_ca = x509_read_cert(p->cfg->services_ca)) == NULL) {
		snprintf(err, errlen, "e2e.services_ca %s: no readable certificate", p->cfg->services_ca);
		return -1;
	}
	if ((p->status_trust = signed_data_trust_new(e->trust_root, err, errlen)) == NULL || load_cas(p, err, errlen) != 0)
		return -1;
	if (e->n_crls > 0 && (p->crls = crl_watch_for_e2e("E2E CRLs", e, err, errlen)) == NULL)
		return -1;
	return apply_crls(p, err, errlen);
}

static void close_trust(publisherd *p)
{
	publisherd_release_forget(p);
	smscms_verifier_free(p->verifier);
	smscms_identity_free(p->me);
	smscms_ctx_free(p->ctx);
	X509_free(p->services_ca);
	signed_data_trust_free(p->status_trust);
	crl_watch_free(p->crls);
	X509_STORE_free(p->devices);
	sk_X509_pop_free(p->cas, X509_free);
}

/* ------------------------------------------------------------ database */

static int open_db(publisherd *p, char *err, size_t errlen)
{
	const db_role_spec *r = &db_role_publisherd;

	p->db = pg_session_new(p->cfg->db_conninfo, "sms-publisherd");
	p->db_status = pg_session_new(p->cfg->db_conninfo, "sms-publisherd status");
	if (p->db == NULL || p->db_status == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	if (pg_session_connect_retry(p->db, 30000, err, errlen) != PG_OK ||
	    pg_session_check_ready(p->db, r->program, SMS_FIRMWARE_SCHEMA_VERSION, r->needs, r->n_needs, err, errlen) !=
	            PG_OK)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- running */

static void on_connected(mqtt_session *s, void *ud, int session_present)
{
	publisherd *p = ud;

	(void)s;
	(void)session_present;
	atomic_fetch_add(&p->reconnected, 1);
}

static void *session_main(void *arg)
{
	publisherd *p = arg;
	char err[600];

	if (mqtt_session_run(p->session, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_ERROR, "%s", err);
	atomic_store(&p->session_done, 1);
	return NULL;
}

static int start_session(publisherd *p, pthread_t *thread, const char *client_id, char *err, size_t errlen)
{
	const publisherd_config *cfg = p->cfg;
	static const char *const subs[1] = { "+/+/+/firmware/status" };
	mqtt_session_handlers h = { .on_message = publisherd_on_status, .on_connected = on_connected };
	mqtt_session_config mc = {
		.host = cfg->broker.host, .port = cfg->broker.port, .cafile = cfg->broker.cafile,
		.cert = cfg->broker.cert, .key = cfg->broker.key, .client_id = client_id,
		.keepalive = cfg->broker.keepalive, .clean_start = 0, .session_expiry = 7 * 86400,
		.name = "broker",
	};

	/* Persistent session: reports sent while we are away wait at the broker. */
	if ((p->session = mqtt_session_new(&mc, subs, 1, 1, &h, p, err, errlen)) == NULL)
		return -1;
	if (pthread_create(thread, NULL, session_main, p) != 0) {
		snprintf(err, errlen, "cannot start the session thread");
		return -1;
	}
	return 0;
}

/* One pass: CRLs, releases, rollouts. */
static void pass(publisherd *p, int force_crls, int *connects_seen)
{
	char err[800];
	int connects = atomic_load(&p->reconnected);

	if (p->crls != NULL && crl_watch_poll(p->crls, time(NULL), force_crls) == 1 && apply_crls(p, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_ERROR, "new CRLs not applied: %s", err);
	if (!mqtt_session_connected(p->session))
		return;
	if (pg_session_connect(p->db, err, sizeof err) != PG_OK) {
		sms_log(LOG_LEVEL_WARNING, "database: %s (trying again)", err);
		return;
	}
	/* After a reconnect the broker may have lost its retained messages. */
	if (publisherd_publish_releases(p, connects > 1 && connects != *connects_seen) != PG_OK)
		return;
	*connects_seen = connects;
	publisherd_drive(p);
}

static void supervise(publisherd *p, time_t started)
{
	struct timespec tick = { p->cfg->poll_interval, 0 };
	double last_metrics = 0;
	int sig = 0, connects_seen = 1;
	sigset_t set;

	daemon_signal_set(&set);
	for (;;) {
		pass(p, sig == SIGHUP, &connects_seen);
		if (monotonic_seconds() - last_metrics >= p->cfg->metrics.interval) {
			publisherd_metrics_write(p, started);
			last_metrics = monotonic_seconds();
		}
		if (atomic_load(&p->session_done))
			break;
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			sms_log(LOG_LEVEL_INFO, "%s: disconnecting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP)
			sms_log(LOG_LEVEL_INFO, "SIGHUP: re-reading the CRL files");
	}
	publisherd_metrics_write(p, started);
}

static int run(const publisherd_config *cfg, const char *client_id)
{
	publisherd p;
	pthread_t thread;
	char err[800];
	int rc = 1, started = 0;

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	pthread_mutex_init(&p.trust_lock, NULL);
	if (open_trust(&p, err, sizeof err) != 0 || open_db(&p, err, sizeof err) != 0)
		goto out;
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		snprintf(err, sizeof err, "mosquitto_lib_init failed");
		goto out;
	}
	if (start_session(&p, &thread, client_id, err, sizeof err) == 0) {
		started = 1;
		sms_log(LOG_LEVEL_INFO, "started: firmware rollouts via %s:%d as %s", cfg->broker.host, cfg->broker.port,
		        client_id);
		supervise(&p, time(NULL));
		rc = atomic_load(&p.session_done) ? 1 : 0;
		mqtt_session_stop(p.session);
		pthread_join(thread, NULL);
	}
	mqtt_session_free(p.session);
	mosquitto_lib_cleanup();
out:
	if (!started)
		sms_log(LOG_LEVEL_ERROR, "%s", err);
	pg_session_free(p.db);
	pg_session_free(p.db_status);
	close_trust(&p);
	pthread_mutex_destroy(&p.trust_lock);
	return rc;
}

/* --check-config also opens the E2E identity, the trust and the CRLs. */
static int check_all(const publisherd_config *cfg)
{
	publisherd p;
	char err[800];
	int rc;

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	pthread_mutex_init(&p.trust_lock, NULL);
	sms_log_init("sms-publisherd", LOG_LEVEL_ERROR);
	rc = open_trust(&p, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "sms-publisherd: %s\n", err);
	close_trust(&p);
	pthread_mutex_destroy(&p.trust_lock);
	return rc;
}

int main(int argc, char **argv)
{
	publisherd_config cfg;
	daemon_args args;
	char err[600], id[128];
	const char *client_id;
	int rc;

	if (daemon_args_parse(argc, argv, "sms-publisherd", usage, NULL, &args, &rc) != 0)
		return rc;
	if (publisherd_config_load(args.config_path, &cfg, 1, err, sizeof err) != 0) {
		fprintf(stderr, "sms-publisherd: %s\n", err);
		return 1;
	}
	client_id = cfg.broker.client_id;
	if (client_id == NULL) {
		if (mqtt_client_id_for_cert(cfg.broker.cert, "sms-publisherd", id, sizeof id, err, sizeof err) != 0) {
			fprintf(stderr, "sms-publisherd: broker.client_id is not set and none follows from broker.cert: %s\n",
			        err);
			publisherd_config_free(&cfg);
			return 1;
		}
		client_id = id;
	}
	if (args.check_only) {
		rc = check_all(&cfg);
		publisherd_config_free(&cfg);
		return rc == 0 ? 0 : 1;
	}
	if (daemon_log_start("sms-publisherd", &args, cfg.log_file) != 0 || daemon_block_signals() != 0) {
		publisherd_config_free(&cfg);
		return 1;
	}
	rc = run(&cfg, client_id);
	publisherd_config_free(&cfg);
	return rc;
}
