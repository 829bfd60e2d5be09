/* The auditor's session; contract in audit_intake.h. */
#include "services/audit/audit_intake.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/daemon_cli.h"
#include "common/log.h"
#include "common/mqtt_session.h"
#include "common/monotonic.h"
#include "services/audit/audit_analysis.h"
#include "services/audit/audit_metrics.h"
#include "services/audit/audit_store.h"

#define STATS_INTERVAL_S 60

typedef struct {
	const audit_config *cfg;
	/* The keys (verifiers, CRLs) are used by the session thread in
	 * on_message and reloaded by the supervisor, which must not wait for a
	 * message to take a new CRL: this lock serialises the two. */
	pthread_mutex_t keys_lock;
	audit_keys *keys;
	audit_store *store;
	mqtt_session *session;
	atomic_int done;
	atomic_ullong stored, duplicates, findings;
	audit_metrics metrics;
	char err[600];
	int result;
} intake;

static void count_findings(intake *in, const analysis *a)
{
	char topic[300];

	if (a->n_findings == 0)
		return;
	atomic_fetch_add(&in->findings, a->n_findings);
	sms_log(LOG_LEVEL_WARNING, "finding on %s: %s: %.300s", log_escape(a->equipment, topic, sizeof topic),
	        a->findings[0].code, a->findings[0].detail);
}

/* analysis_run under the keys lock; *a keeps its own references, so the
 * lock is not held while the store commits or the session holds. */
static int analyse(intake *in, const struct mosquitto_message *msg, analysis *a)
{
	int rc;

	pthread_mutex_lock(&in->keys_lock);
	rc = analysis_run(in->keys, msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, a);
	pthread_mutex_unlock(&in->keys_lock);
	return rc;
}

static void on_message(mqtt_session *s, void *ud, const struct mosquitto_message *msg)
{
	intake *in = ud;
	analysis a;
	char err[512], topic[300];
	long backoff = 100;

	while (analyse(in, msg, &a) != 0) {
		analysis_clear(&a);
		if (mqtt_session_hold(s, backoff, "analysis failed (out of memory?)") != 0)
			return;
	}
	for (;;) {
		/* One time for the row and the metrics: the last message time is a received_at of the store. */
		time_t received = time(NULL);
		store_put_result r = store_put(in->store, msg->topic, msg->payload,
		                               msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, msg->qos, msg->retain,
		                               received, &a, err, sizeof err);

		if (r == STORE_PUT_NEW) {
			atomic_fetch_add(&in->stored, 1);
			audit_metrics_stored(&in->metrics, &a, received);
			count_findings(in, &a);
			break;
		}
		if (r == STORE_PUT_DUPLICATE) {
			atomic_fetch_add(&in->duplicates, 1);
			audit_metrics_duplicate(&in->metrics, received);
			sms_log(LOG_LEVEL_DEBUG, "duplicate on %s counted", log_escape(msg->topic, topic, sizeof topic));
			break;
		}
		sms_log(LOG_LEVEL_ERROR, "message on %s not stored (not acknowledged): %s",
		        log_escape(msg->topic, topic, sizeof topic), err);
		/* Returning would acknowledge a message we do not hold. */
		if (mqtt_session_hold(s, backoff, "the store cannot take the message") != 0)
			break;
		backoff = mqtt_backoff_next(backoff, 100, 5000);
	}
	analysis_clear(&a);
}

static void on_connected(mqtt_session *s, void *ud, int session_present)
{
	(void)s;
	(void)ud;
	sms_log(LOG_LEVEL_INFO, "session %s", session_present ? "resumed (the broker kept what came meanwhile)" :
	                                      "new (nothing queued for us before now)");
}

static void *session_main(void *arg)
{
	intake *in = arg;

	in->result = mqtt_session_run(in->session, in->err, sizeof in->err);
	atomic_store(&in->done, 1);
	kill(getpid(), SIGTERM);   /* wakes the supervisor */
	return NULL;
}

static void write_metrics(intake *in)
{
	if (in->cfg->metrics.dir != NULL)
		audit_metrics_write(&in->metrics, in->cfg->metrics.dir, in->cfg->store_path, in->session);
}

/* Every e2e.crl_check_interval (crl_watch.h), or at once when force
 * (SIGHUP), with or without traffic. The metrics keep a copy of the CRL
 * summary, taken under the same lock. */
static void poll_crls(intake *in, int force)
{
	pthread_mutex_lock(&in->keys_lock);
	if (audit_keys_poll_crls(in->keys, force) == 1)
		audit_metrics_crls(&in->metrics, in->keys);
	pthread_mutex_unlock(&in->keys_lock);
}

static void supervise(intake *in)
{
	sigset_t set;
	struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
	time_t last = time(NULL);
	double last_metrics = 0;
	int sig;

	daemon_signal_set(&set);
	while (!atomic_load(&in->done)) {
		if (monotonic_seconds() - last_metrics >= in->cfg->metrics.interval) {
			write_metrics(in);
			last_metrics = monotonic_seconds();
		}
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		poll_crls(in, sig == SIGHUP);
		if (time(NULL) - last >= STATS_INTERVAL_S) {
			last = time(NULL);
			sms_log(LOG_LEVEL_INFO, "%llu stored, %llu duplicate, %llu finding(s) so far",
			        atomic_load(&in->stored), atomic_load(&in->duplicates), atomic_load(&in->findings));
		}
	}
	mqtt_session_stop(in->session);
}

static int client_id(const audit_config *cfg, char *buf, size_t len)
{
	char why[300];

	if (cfg->broker.client_id != NULL) {
		snprintf(buf, len, "%s", cfg->broker.client_id);
		return 0;
	}
	if (mqtt_client_id_for_cert(cfg->broker.cert, "sms-audit", buf, len, why, sizeof why) != 0) {
		sms_log(LOG_LEVEL_ERROR, "broker.client_id is not set and none follows from broker.cert: %s", why);
		return -1;
	}
	return 0;
}

int audit_intake_run(const audit_config *cfg)
{
	intake in;
	char err[600], sub[IDENTITY_SCOPE_MAX + 4], id[300];
	const char *subs[1] = { sub };
	const mqtt_session_handlers h = { .on_message = on_message, .on_connected = on_connected };
	mqtt_session_config mc = {
		.host = cfg->broker.host, .port = cfg->broker.port, .cafile = cfg->broker.cafile,
		.cert = cfg->broker.cert, .key = cfg->broker.key, .keepalive = cfg->broker.keepalive,
		.clean_start = 0, .session_expiry = cfg->session_expiry,
		.backoff_min_ms = 1000, .backoff_max_ms = 30000, .name = "audit",
	};
	pthread_t thread;
	int rc = 1;

	memset(&in, 0, sizeof in);
	in.cfg = cfg;
	if (client_id(cfg, id, sizeof id) != 0)
		return 1;
	mc.client_id = id;
	if (daemon_block_signals() != 0) {
		sms_log(LOG_LEVEL_ERROR, "cannot block signals");
		return 1;
	}
	if (pthread_mutex_init(&in.keys_lock, NULL) != 0) {
		sms_log(LOG_LEVEL_ERROR, "cannot create the keys lock");
		return 1;
	}
	if (audit_metrics_init(&in.metrics, time(NULL)) != 0) {
		sms_log(LOG_LEVEL_ERROR, "cannot create the metrics lock");
		pthread_mutex_destroy(&in.keys_lock);
		return 1;
	}
	if ((in.keys = audit_keys_new(cfg, err, sizeof err)) == NULL ||
	    (in.store = store_open(cfg->store_path, 0, err, sizeof err)) == NULL) {
		sms_log(LOG_LEVEL_ERROR, "%s", err);
		goto out;
	}
	audit_metrics_crls(&in.metrics, in.keys);   /* before the session thread starts: no lock needed yet */
	snprintf(sub, sizeof sub, "%s/#", audit_keys_scope(in.keys));
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		sms_log(LOG_LEVEL_ERROR, "mosquitto_lib_init failed");
		goto out;
	}
	in.session = mqtt_session_new(&mc, subs, 1, 1, &h, &in, err, sizeof err);
	if (in.session == NULL) {
		sms_log(LOG_LEVEL_ERROR, "%s", err);
		goto out_lib;
	}
	if (pthread_create(&thread, NULL, session_main, &in) != 0) {
		sms_log(LOG_LEVEL_ERROR, "pthread_create failed");
		goto out_lib;
	}
	sms_log(LOG_LEVEL_INFO, "started: auditing %s as %s, store %s", sub, id, cfg->store_path);
	supervise(&in);
	pthread_join(thread, NULL);
	write_metrics(&in);   /* after the join: the final counts, the session no longer running */
	if (in.result != 0) {
		sms_log(LOG_LEVEL_ERROR, "%s", in.err);
	} else {
		sms_log(LOG_LEVEL_INFO, "stopped cleanly: %llu stored, %llu duplicate, %llu finding(s)",
		        atomic_load(&in.stored), atomic_load(&in.duplicates), atomic_load(&in.findings));
		rc = 0;
	}
out_lib:
	mqtt_session_free(in.session);
	mosquitto_lib_cleanup();
out:
	store_close(in.store);
	audit_keys_free(in.keys);
	audit_metrics_destroy(&in.metrics);
	pthread_mutex_destroy(&in.keys_lock);
	return rc;
}
