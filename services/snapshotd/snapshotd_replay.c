/* Dead-letter replays; contract in snapshotd_replay.h. */
#include "services/snapshotd/snapshotd_replay.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define REPLAY_BATCH 100

/* Records a refusal on the dead letter; 0, or -1 when the database is not
 * available (the mark stays, the next round tries again). */
static int refused(snapshotd_replayer *r, const store_dead_letter *d, const char *reason, const char *detail)
{
	char outcome[400], err[512];

	snprintf(outcome, sizeof outcome, "%s: %s", reason, detail);
	if (snapshot_store_replay_failed(r->store, d->id, outcome, err, sizeof err) != STORE_OK) {
		sms_log(LOG_LEVEL_WARNING, "replay of dead letter %lld: %s; trying again later", d->id, err);
		return -1;
	}
	sms_log(LOG_LEVEL_WARNING, "replay of dead letter %lld on %s refused again (%s): %s", d->id, d->topic,
	        reason, detail);
	return 0;
}

static int store(snapshotd_replayer *r, const store_dead_letter *d, ingest_result *in)
{
	store_receipt rc;
	char err[512], detail[300];
	const store_signature sig = { in->signed_data, in->signed_data_len, in->signer, in->signing_time };

	switch (snapshot_store_put(r->store, d->digest, d->topic, &in->topic, &in->snap, in->originator,
	                           in->signed_data ? &sig : NULL, d->id, &rc, err, sizeof err)) {
	case STORE_OK:
	case STORE_DUPLICATE:
		sms_log(LOG_LEVEL_INFO, "replay of dead letter %lld on %s: snapshot %lld (seq %lld)", d->id,
		        d->topic, rc.snapshot_id, in->snap.seq);
		return 0;
	case STORE_REPLAY:
		snprintf(detail, sizeof detail, "these bytes came first on %.250s", rc.first_topic);
		ingest_sanitize(detail);
		return refused(r, d, "replay", detail);
	case STORE_REJECTED:
		snprintf(detail, sizeof detail, "%.290s", err);
		ingest_sanitize(detail);
		return refused(r, d, "db_rejected", detail);
	case STORE_RETRY:
	case STORE_SETUP:
		break;
	}
	sms_log(LOG_LEVEL_ERROR, "replay of dead letter %lld: %s; trying again later", d->id, err);
	return -1;
}

static int replay_one(snapshotd_replayer *r, const store_dead_letter *d)
{
	ingest_result in;
	int rc;

	pthread_rwlock_rdlock(&r->sh->verifier_lock);
	rc = snapshot_ingest(r->ctx, &r->sh->keys, d->topic, d->payload, d->len, &in);
	pthread_rwlock_unlock(&r->sh->verifier_lock);
	rc = rc == 0 ? store(r, d, &in) : refused(r, d, in.reason, in.detail);
	ingest_result_clear(&in);
	return rc;
}

/* One batch; stops at the first database failure (the rest stay marked). */
static void replay_round(snapshotd_replayer *r)
{
	store_dead_letter *rows = NULL;
	size_t n = 0, i;
	char err[512];

	if (snapshot_store_replay_fetch(r->store, REPLAY_BATCH, &rows, &n, err, sizeof err) != STORE_OK) {
		sms_log(LOG_LEVEL_WARNING, "dead-letter replays: %s; trying again later", err);
		return;
	}
	for (i = 0; i < n && !atomic_load(&r->sh->stop); i++)
		if (replay_one(r, &rows[i]) != 0)
			break;
	snapshot_store_replay_free(rows, n);
}

static void *replay_main(void *arg)
{
	snapshotd_replayer *r = arg;

	while (!snapshotd_pause(r->sh, r->sh->cfg->replay_interval * 1000L))
		replay_round(r);
	return NULL;
}

int snapshotd_replay_start(snapshotd_replayer *r, snapshotd_shared *sh, char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof *r);
	r->sh = sh;
	r->ctx = smscms_ctx_new();
	r->store = snapshot_store_new(sh->cfg->db_conninfo, "sms-snapshotd/replay");
	if (r->ctx == NULL || r->store == NULL) {
		snprintf(err, errlen, "dead-letter replays: out of memory");
		return -1;
	}
	smscms_ctx_use_certcache(r->ctx, sh->certs);
	rc = pthread_create(&r->thread, NULL, replay_main, r);
	if (rc != 0) {
		snprintf(err, errlen, "dead-letter replays: pthread_create: %s", strerror(rc));
		return -1;
	}
	r->started = 1;
	return 0;
}

void snapshotd_replay_join(snapshotd_replayer *r)
{
	if (r->started)
		pthread_join(r->thread, NULL);
	r->started = 0;
	snapshot_store_free(r->store);
	smscms_ctx_free(r->ctx);
	r->store = NULL;
	r->ctx = NULL;
}
