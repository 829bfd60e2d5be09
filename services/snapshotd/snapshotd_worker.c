/* One ingest worker; contract in snapshotd_worker.h. */
#include "services/snapshotd/snapshotd_worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <mosquitto.h>
#include <openssl/evp.h>

#include "common/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* Sleeps ms milliseconds in short steps; returns early (1) when stopping. */
static int pause_ms(snapshotd_shared *sh, long ms)
{
	struct timespec step = { 0, 50 * 1000000L };

	while (ms > 0) {
		if (atomic_load(&sh->stop))
			return 1;
		nanosleep(&step, NULL);
		ms -= 50;
	}
	return atomic_load(&sh->stop) != 0;
}

static long next_backoff(long ms)
{
	ms *= 2;
	return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

/* The message cannot be committed: make sure its queued PUBACK never leaves. */
static void abandon_connection(snapshotd_worker *w, const char *topic, const char *why)
{
	int fd = mosquitto_socket(w->mosq);

	sms_log(LOG_LEVEL_WARNING, "worker %d: message on %s left unacknowledged (%s); the broker will redeliver it",
	              w->index, topic, why);
	if (fd >= 0 && shutdown(fd, SHUT_RDWR) != 0)
		sms_log(LOG_LEVEL_ERROR, "worker %d: shutdown of broker socket failed: %s", w->index, strerror(errno));
}

/* A transient database error: count it, say so, and wait before the next try
 * (the message stays unacknowledged meanwhile). Returns 1 when we are
 * stopping instead. */
static int db_retry_wait(snapshotd_worker *w, const char *err, long *backoff)
{
	atomic_fetch_add(&w->n.db_retries, 1);
	sms_log(LOG_LEVEL_WARNING, "worker %d: %s; retrying in %ld ms (message not acknowledged)",
	              w->index, err, *backoff);
	if (pause_ms(w->sh, *backoff))
		return 1;
	*backoff = next_backoff(*backoff);
	return 0;
}

/* The database cannot take the message, as a snapshot or as a dead letter,
 * because the deployment is wrong (privileges, schema): not the message's
 * fault, so it is neither dead-lettered nor acknowledged; say so loudly on
 * every retry. */
static void log_kept_unacknowledged(snapshotd_worker *w, const char *topic, const char *err)
{
	sms_log(LOG_LEVEL_ERROR, "worker %d: message on %s kept unacknowledged, the database cannot take it "
	        "until this is fixed: %s", w->index, topic, err);
}

/* Snapshots that never reached us (broker queue limits, a device losing its
 * queue) show as a jump in the device's seq. */
static void report_missing(snapshotd_worker *w, const ingest_result *r, const store_receipt *rc)
{
	long long n = rc->missing_to - rc->missing_from + 1;

	if (rc->missing_from <= 0 || n <= 0)
		return;
	atomic_fetch_add(&w->n.missing, (unsigned long long)n);
	sms_log(LOG_LEVEL_WARNING, "device %s/%s/%s: %lld snapshot(s) missing between seq %lld and %lld "
	        "(dropped before they reached us?)", r->topic.master, r->topic.account, r->topic.equipment,
	        n, rc->missing_from - 1, rc->missing_to + 1);
}

/* Stores an accepted snapshot; retries transient and setup errors until it
 * is committed or we stop. Returns 0 handled, 1 stopping (not committed), or
 * -1 with the reason in r (the database refused this message, or its bytes
 * came before on another topic): dead-letter it. */
static int store_accepted(snapshotd_worker *w, const unsigned char digest[32], const char *topic,
                          ingest_result *r)
{
	char err[512];
	store_receipt rc;
	long backoff = BACKOFF_MIN_MS;
	store_result sr;

	for (;;) {
		sr = snapshot_store_put(w->store, digest, topic, &r->topic, &r->snap, r->originator, 0, &rc,
		                        err, sizeof err);
		switch (sr) {
		case STORE_OK:
			atomic_fetch_add(&w->n.stored, 1);
			atomic_fetch_add(&w->n.values, r->snap.n_values);
			report_missing(w, r, &rc);
			return 0;
		case STORE_DUPLICATE:
			atomic_fetch_add(&w->n.duplicates, 1);
			sms_log(LOG_LEVEL_INFO, "worker %d: duplicate snapshot on %s (seq %lld) acknowledged, not stored again",
			              w->index, topic, r->snap.seq);
			return 0;
		case STORE_REPLAY:
			snprintf(r->reason, sizeof r->reason, "%s", "replay");
			snprintf(r->detail, sizeof r->detail, "these bytes came first on %.250s", rc.first_topic);
			ingest_sanitize(r->detail);
			return -1;
		case STORE_REJECTED:
			snprintf(r->reason, sizeof r->reason, "%s", "db_rejected");
			snprintf(r->detail, sizeof r->detail, "%.300s", err);
			ingest_sanitize(r->detail);
			return -1;
		case STORE_SETUP:
			log_kept_unacknowledged(w, topic, err);
			break;
		case STORE_RETRY:
			break;
		}
		if (db_retry_wait(w, err, &backoff))
			return 1;
	}
}

static int store_rejected(snapshotd_worker *w, const unsigned char digest[32], const char *topic,
                          const struct mosquitto_message *msg, const ingest_result *r)
{
	char err[512];
	long backoff = BACKOFF_MIN_MS;
	store_result sr;

	for (;;) {
		sr = snapshot_store_dead_letter(w->store, digest, topic, msg->payload, (size_t)msg->payloadlen,
		                                w->sh->cfg->dead_letter_max_bytes, r->reason, r->detail,
		                                err, sizeof err);
		switch (sr) {
		case STORE_OK:
			atomic_fetch_add(&w->n.rejected, 1);
			sms_log(LOG_LEVEL_WARNING, "worker %d: snapshot on %s rejected (%s): %s", w->index,
			              topic, r->reason, r->detail);
			return 0;
		case STORE_DUPLICATE:
			atomic_fetch_add(&w->n.duplicates, 1);
			return 0;
		case STORE_REPLAY:
		case STORE_REJECTED:
		case STORE_SETUP:
			/* Nowhere else to keep it: the message waits, unacknowledged. */
			log_kept_unacknowledged(w, topic, err);
			break;
		case STORE_RETRY:
			break;
		}
		if (db_retry_wait(w, err, &backoff))
			return 1;
	}
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg)
{
	snapshotd_worker *w = ud;
	unsigned char digest[32];
	unsigned int dlen = 0;
	char topic[256];
	ingest_result r;
	int rc;

	(void)mosq;
	snprintf(topic, sizeof topic, "%s", msg->topic);
	ingest_sanitize(topic);
	if (msg->payloadlen < 0 ||
	    EVP_Digest(msg->payload, (size_t)msg->payloadlen, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32) {
		abandon_connection(w, topic, "SHA-256 failed");
		return;
	}
	pthread_rwlock_rdlock(&w->sh->verifier_lock);
	rc = snapshot_ingest(w->ctx, &w->sh->keys, msg->topic, msg->payload, (size_t)msg->payloadlen, &r);
	pthread_rwlock_unlock(&w->sh->verifier_lock);
	if (rc == 0) {
		rc = store_accepted(w, digest, topic, &r);
		if (rc == 1) {
			abandon_connection(w, topic, "stopping while the database is unavailable");
			goto out;
		}
	}
	if (rc != 0 && store_rejected(w, digest, topic, msg, &r) == 1)
		abandon_connection(w, topic, "stopping while the database is unavailable");
out:
	ingest_result_clear(&r);
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	snapshotd_worker *w = ud;
	int mrc;

	(void)props;
	if (rc != 0) {
		sms_log(LOG_LEVEL_ERROR, "worker %d: broker refused connection: %s", w->index,
		              mosquitto_connack_string(rc));
		return;
	}
	sms_log(LOG_LEVEL_INFO, "worker %d: connected as %s (session present: %s)", w->index, w->client_id,
	              (flags & 1) ? "yes" : "no");
	/* The session normally keeps the subscription; renewing it covers a
	 * broker that lost its state. */
	mrc = mosquitto_subscribe(mosq, NULL, w->sh->cfg->subscription, 1);
	if (mrc != MOSQ_ERR_SUCCESS)
		sms_log(LOG_LEVEL_ERROR, "worker %d: subscribe to %s failed: %s", w->index,
		              w->sh->cfg->subscription, mosquitto_strerror(mrc));
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted)
{
	snapshotd_worker *w = ud;

	(void)mosq;
	(void)mid;
	if (n < 1 || granted[0] > 1)
		sms_log(LOG_LEVEL_ERROR, "worker %d: subscription to %s refused by the broker", w->index,
		              w->sh->cfg->subscription);
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	snapshotd_worker *w = ud;

	(void)mosq;
	(void)props;
	if (rc != 0 && !atomic_load(&w->sh->stop))
		sms_log(LOG_LEVEL_WARNING, "worker %d: disconnected from broker: %s", w->index,
		              mosquitto_strerror(rc));
}

static void *worker_main(void *arg)
{
	snapshotd_worker *w = arg;
	const snapshotd_config *cfg = w->sh->cfg;
	long backoff = 1000;
	int rc;

	for (;;) {
		if (atomic_load(&w->sh->stop))
			return NULL;
		rc = mosquitto_connect(w->mosq, cfg->broker_host, cfg->broker_port, cfg->keepalive);
		if (rc == MOSQ_ERR_SUCCESS)
			break;
		sms_log(LOG_LEVEL_WARNING, "worker %d: cannot connect to %s:%d: %s; retrying in %ld ms", w->index,
		              cfg->broker_host, cfg->broker_port,
		              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), backoff);
		pause_ms(w->sh, backoff);
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
	backoff = 1000;
	while (!atomic_load(&w->sh->stop)) {
		/* Reconnects by itself after ordinary connection loss; returns on
		 * errors it deems fatal (TLS, protocol) or after our disconnect. */
		rc = mosquitto_loop_forever(w->mosq, 1000, 1);
		if (atomic_load(&w->sh->stop))
			break;
		sms_log(LOG_LEVEL_WARNING, "worker %d: broker session ended: %s; reconnecting in %ld ms", w->index,
		              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), backoff);
		if (pause_ms(w->sh, backoff))
			break;
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
		rc = mosquitto_reconnect(w->mosq);
		if (rc == MOSQ_ERR_SUCCESS)
			backoff = 1000;
	}
	return NULL;
}

int snapshotd_worker_start(snapshotd_worker *w, snapshotd_shared *sh, int index, char *err, size_t errlen)
{
	const snapshotd_config *cfg = sh->cfg;
	char app[128];
	int rc;

	memset(w, 0, sizeof *w);
	w->index = index;
	w->sh = sh;
	if (cfg->workers > 1)
		snprintf(w->client_id, sizeof w->client_id, "%s-%d", cfg->client_id, index);
	else
		snprintf(w->client_id, sizeof w->client_id, "%s", cfg->client_id);
	snprintf(app, sizeof app, "sms-snapshotd/%s", w->client_id);
	w->ctx = smscms_ctx_new();
	w->store = snapshot_store_new(cfg->db_conninfo, app);
	/* clean_session false: the broker keeps our subscription and queues
	 * QoS 1 messages while we are away. */
	w->mosq = mosquitto_new(w->client_id, false, w);
	if (w->ctx == NULL || w->store == NULL || w->mosq == NULL) {
		snprintf(err, errlen, "worker %d: out of memory", index);
		return -1;
	}
	/* Threaded mode: PUBACKs are written by the loop after on_message returns. */
	rc = mosquitto_threaded_set(w->mosq, true);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(w->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_set(w->mosq, cfg->tls_cafile, NULL, cfg->tls_cert, cfg->tls_key, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_reconnect_delay_set(w->mosq, 1, 30, true);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "worker %d: setting up the MQTT client (TLS files %s, %s, %s): %s", index,
		         cfg->tls_cafile, cfg->tls_cert, cfg->tls_key, mosquitto_strerror(rc));
		return -1;
	}
	mosquitto_connect_v5_callback_set(w->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(w->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(w->mosq, on_subscribe);
	mosquitto_message_callback_set(w->mosq, on_message);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "worker %d: pthread_create: %s", index, strerror(rc));
		return -1;
	}
	w->started = 1;
	return 0;
}

void snapshotd_worker_stop(snapshotd_worker *w)
{
	if (w->mosq != NULL)
		mosquitto_disconnect(w->mosq);
}

void snapshotd_worker_join(snapshotd_worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = 0;
	mosquitto_destroy(w->mosq);
	snapshot_store_free(w->store);
	smscms_ctx_free(w->ctx);
	w->mosq = NULL;
	w->store = NULL;
	w->ctx = NULL;
}

int snapshotd_pause(snapshotd_shared *sh, long ms)
{
	return pause_ms(sh, ms);
}
