/* One ingest worker; contract in snapshotd_worker.h. */
#include "services/snapshotd/snapshotd_worker.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "common/identity.h"
#include "common/log.h"
#include "common/sleep_unless.h"
#include "services/snapshotd/snapshotd_metrics.h"

#define BACKOFF_MIN_MS 100
#define SNAPSHOTD_RECEIVE_MAX 16
#define BACKOFF_MAX_MS 5000

/* A transient database error: count it, say so, and wait before the next try
 * (the message stays unacknowledged meanwhile). Returns 1 when the message
 * has to be given up instead (stopping, or waited as long as keepalive
 * allows): the session has then abandoned the connection. */
static int db_retry_wait(snapshotd_worker *w, const char *err, long *backoff)
{
	atomic_fetch_add(&w->n.db_retries, 1);
	sms_log(LOG_LEVEL_WARNING, "worker %d: %s; retrying in %ld ms (message not acknowledged)",
	              w->index, err, *backoff);
	if (mqtt_session_hold(w->session, *backoff, "the database is unavailable") != 0)
		return 1;
	*backoff = mqtt_backoff_next(*backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
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
 * came before on another topic): dead-letter it. After 0, *is_snapshot says
 * whether a snapshot holds it: stored now, or earlier (a re-send); not so a
 * duplicate of a message that was dead-lettered before (no snapshot id). */
/* sms-db devices wants last seen to the minute, not a database write per
 * message: the workers remember (device, certificate) per slot and write
 * again after DEVICE_SEEN_EVERY_S or when the certificate changes. One
 * table for all workers: a shared subscription hands a device's next
 * snapshot to any worker, so per-worker tables missed (W-1)/W of the time
 * and cost a second transaction per snapshot. Sized for a fleet of tens of
 * thousands (16 bytes a slot): with fewer slots than devices, slots collide. */
#define DEVICE_SEEN_SLOTS 65536
#define DEVICE_SEEN_EVERY_S 60

static pthread_mutex_t device_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t key;
	time_t at;
} device_seen_cache[DEVICE_SEEN_SLOTS];

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ '/') * 1099511628211ULL;
}

/* Ops data only: the snapshot is committed already, so a failure here is a
 * warning and never holds the message. */
static void note_device_seen(snapshotd_worker *w, const ingest_result *r)
{
	uint64_t key = fnv1a(fnv1a(fnv1a(fnv1a(14695981039346656037ULL, r->topic.master), r->topic.account),
	                           r->topic.equipment), r->cert_serial);
	size_t slot = (size_t)(key % DEVICE_SEEN_SLOTS);
	time_t now = time(NULL);
	char err[512];
	int fresh;

	pthread_mutex_lock(&device_seen_lock);
	fresh = device_seen_cache[slot].key == key && now - device_seen_cache[slot].at < DEVICE_SEEN_EVERY_S;
	pthread_mutex_unlock(&device_seen_lock);
	if (fresh)
		return;
	if (snapshot_store_device_seen(w->store, &r->topic, r->cert_serial, r->cert_issuer, r->cert_not_after, err,
	                               sizeof err) != STORE_OK) {
		sms_log(LOG_LEVEL_WARNING, "worker %d: device %s/%s/%s: last seen and certificate not recorded: %s",
		        w->index, r->topic.master, r->topic.account, r->topic.equipment, err);
		return;
	}
	pthread_mutex_lock(&device_seen_lock);
	device_seen_cache[slot].key = key;
	device_seen_cache[slot].at = now;
	pthread_mutex_unlock(&device_seen_lock);
}

/* On the worker's own connection, or with the other workers' snapshots in
 * one transaction (snapshotd_group_commit.h) when there are several; either
 * way values go by COPY (snapshot_store_put_batch). */
static store_result put_snapshot(snapshotd_worker *w, const unsigned char digest[32], const char *topic,
                                 const ingest_result *r, const store_signature *sig, store_receipt *rc, char *err,
                                 size_t errlen)
{
	store_item it = { .digest = digest, .topic = topic, .t = &r->topic, .snap = &r->snap,
	                  .originator = r->originator, .sig = sig };

	if (w->sh->commits == NULL)
		snapshot_store_put_batch(w->store, &it, 1);
	else
		group_commit_put(w->sh->commits, w->store, &it);
	*rc = it.rc;
	snprintf(err, errlen, "%s", it.err);
	return it.result;
}

static int store_accepted(snapshotd_worker *w, const unsigned char digest[32], const char *topic,
                          ingest_result *r, int *is_snapshot)
{
	char err[512];
	store_receipt rc;
	long backoff = BACKOFF_MIN_MS;
	store_result sr;
	const store_signature sig = { r->signed_data, r->signed_data_len, r->signer, r->signing_time };

	for (;;) {
		sr = put_snapshot(w, digest, topic, r, r->signed_data ? &sig : NULL, &rc, err, sizeof err);
		switch (sr) {
		case STORE_OK:
			*is_snapshot = 1;
			atomic_fetch_add(&w->n.stored, 1);
			atomic_fetch_add(&w->n.values, r->snap.n_values);
			atomic_store(&w->n.last_stored, (long long)time(NULL));
			report_missing(w, r, &rc);
			note_device_seen(w, r);
			return 0;
		case STORE_DUPLICATE:
			note_device_seen(w, r);
			*is_snapshot = rc.snapshot_id > 0;
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
			snapshotd_metrics_count_rejected(r->reason);
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

/* After the commit only: a receipt says "committed as a snapshot". */
static void queue_receipt(snapshotd_worker *w, const ingest_result *r, const unsigned char digest[32])
{
	char equipment[IDENTITY_SCOPE_MAX];
	int n;

	if (w->receipts == NULL)
		return;
	n = snprintf(equipment, sizeof equipment, "%s/%s/%s", r->topic.master, r->topic.account, r->topic.equipment);
	if (n < 0 || (size_t)n >= sizeof equipment) {
		sms_log(LOG_LEVEL_ERROR, "worker %d: no receipt: equipment name too long", w->index);
		return;
	}
	receipt_queue_add(w->receipts, equipment, digest);
}

static void on_message(mqtt_session *session, void *ud, const struct mosquitto_message *msg)
{
	snapshotd_worker *w = ud;
	unsigned char digest[32];
	unsigned int dlen = 0;
	char topic[256];
	ingest_result r;
	int rc, is_snapshot = 0;

	snprintf(topic, sizeof topic, "%s", msg->topic);
	ingest_sanitize(topic);
	if (msg->payloadlen < 0 ||
	    EVP_Digest(msg->payload, (size_t)msg->payloadlen, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32) {
		mqtt_session_abandon(session, "SHA-256 failed");
		return;
	}
	pthread_rwlock_rdlock(&w->sh->verifier_lock);
	rc = snapshot_ingest(w->ctx, &w->sh->keys, msg->topic, msg->payload, (size_t)msg->payloadlen, &r);
	pthread_rwlock_unlock(&w->sh->verifier_lock);
	if (rc == 0) {
		rc = store_accepted(w, digest, topic, &r, &is_snapshot);
		if (rc == 1)
			goto out; /* abandoned: redelivered later */
		if (rc == 0 && is_snapshot)
			queue_receipt(w, &r, digest);
	}
	if (rc != 0)
		store_rejected(w, digest, topic, msg, &r);
out:
	ingest_result_clear(&r);
}

/* Before every (re)connect: no point fetching a message we could not store. */
static int database_ready(void *ud)
{
	snapshotd_worker *w = ud;
	char err[512];

	if (snapshot_store_connect(w->store, err, sizeof err) == 0)
		return 1;
	sms_log(LOG_LEVEL_WARNING, "worker %d: waiting for the database before taking messages: %s", w->index, err);
	return 0;
}

static void *worker_main(void *arg)
{
	snapshotd_worker *w = arg;

	w->result = mqtt_session_run(w->session, w->error, sizeof w->error);
	if (w->result != 0) {
		sms_log(LOG_LEVEL_ERROR, "%s", w->error);
		atomic_store(&w->sh->failed, 1);
	}
	return NULL;
}

/* QoS 1, not retained: for the device's session, not for whoever comes later. */
static int publish_receipt(void *ud, const char *topic, const unsigned char *der, size_t len, char *err,
                           size_t errlen)
{
	snapshotd_worker *w = ud;

	return mqtt_session_publish(w->session, topic, der, len, 1, 0, NULL, err, errlen);
}

/* Receipts are signed with the E2E identity snapshots are encrypted for:
 * the vendor-snapshot-service role certificate agents accept as signer. */
static int start_receipts(snapshotd_worker *w, const char *name, char *err, size_t errlen)
{
	const snapshotd_config *cfg = w->sh->cfg;
	const smscms_identity *id = w->sh->keys.recipient;
	const receipt_queue_config rc = {
		.cert = smscms_identity_cert(id), .key = smscms_identity_key(id),
		.chain = smscms_identity_chain(id),
		.max_digests = cfg->receipt_max_digests, .batch_ms = cfg->receipt_batch_ms, .name = name,
		.n = &w->n.receipts, .publish = publish_receipt, .publish_ud = w,
	};

	w->receipts = receipt_queue_new(&rc, err, errlen);
	return w->receipts != NULL ? 0 : -1;
}

int snapshotd_worker_start(snapshotd_worker *w, snapshotd_shared *sh, int index, char *err, size_t errlen)
{
	const snapshotd_config *cfg = sh->cfg;
	const mqtt_session_handlers handlers = { .on_message = on_message, .ready = database_ready };
	const char *subs[1] = { cfg->subscription };
	mqtt_session_config mc = {
		.host = cfg->broker.host, .port = cfg->broker.port,
		.cafile = cfg->broker.cafile, .cert = cfg->broker.cert, .key = cfg->broker.key,
		.keepalive = cfg->broker.keepalive,
		/* Persistent session: the broker keeps our subscription and
		 * queues QoS 1 messages while we are away. */
		.clean_start = 0, .session_expiry = UINT32_MAX,
		.backoff_min_ms = 1000, .backoff_max_ms = 30000,
		/* One message at a time: a small window keeps the PUBACKs
		 * flowing through a backlog (mqtt_session.h, Receive Maximum). */
		.receive_max = SNAPSHOTD_RECEIVE_MAX,
	};
	char app[128], name[32];
	int rc;

	memset(w, 0, sizeof *w);
	w->index = index;
	w->sh = sh;
	if (cfg->workers > 1)
		snprintf(w->client_id, sizeof w->client_id, "%s-%d", cfg->broker.client_id, index);
	else
		snprintf(w->client_id, sizeof w->client_id, "%s", cfg->broker.client_id);
	snprintf(app, sizeof app, "sms-snapshotd/%s", w->client_id);
	snprintf(name, sizeof name, "worker %d", index);
	mc.client_id = w->client_id;
	mc.name = name;
	w->ctx = smscms_ctx_new();
	w->store = snapshot_store_new(cfg->db_conninfo, app);
	if (w->ctx == NULL || w->store == NULL) {
		snprintf(err, errlen, "worker %d: out of memory", index);
		return -1;
	}
	smscms_ctx_use_certcache(w->ctx, sh->certs);
	w->session = mqtt_session_new(&mc, subs, 1, 1, &handlers, w, err, errlen);
	if (w->session == NULL)
		return -1;
	if (cfg->receipts_enabled && start_receipts(w, name, err, errlen) != 0)
		return -1;
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
	if (w->session != NULL)
		mqtt_session_stop(w->session);
}

void snapshotd_worker_flush_receipts(snapshotd_worker *w, int force)
{
	if (w->receipts != NULL && w->session != NULL)
		receipt_queue_flush_due(w->receipts, force);
}

void snapshotd_worker_join(snapshotd_worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = 0;
	mqtt_session_free(w->session);
	snapshot_store_free(w->store);
	smscms_ctx_free(w->ctx);
	receipt_queue_free(w->receipts);
	w->receipts = NULL;
	w->session = NULL;
	w->store = NULL;
	w->ctx = NULL;
}

int snapshotd_pause(snapshotd_shared *sh, long ms)
{
	return sleep_unless(&sh->stop, ms);
}
