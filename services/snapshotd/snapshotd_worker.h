/*
 * One ingest worker: its own MQTT session (common/mqtt_session: persistent
 * session, QoS 1), its own PostgreSQL connection and its own smscms_ctx,
 * driven by one thread. Several workers share the load through a $share
 * subscription, and commit their snapshots together (group commit,
 * snapshotd_group_commit.h).
 *
 * Acknowledgement rule (mqtt_session.h): the message callback returns only
 * once the message's effect (snapshot or dead letter, plus its digest) is
 * committed. While the database is down it retries for as long as
 * keepalive allows, then abandons the connection (the PUBACK never leaves,
 * the broker redelivers) and reconnects once the database answers again.
 *
 * Receipts (snapshotd_receipts.h): with receipts.enabled, the digest of every
 * message committed as a snapshot (stored now, or before: a re-send) is
 * queued after the commit; dead-lettered messages get none, also when their
 * bytes come again and are recognised as handled. The worker publishes a full
 * batch itself; snapshotd_worker_flush_receipts publishes the others once
 * they waited receipts.batch_ms.
 */
#ifndef SMS_SNAPSHOTD_WORKER_H
#define SMS_SNAPSHOTD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/mqtt_session.h"
#include "services/snapshotd/snapshotd_receipts.h"
#include "services/snapshotd/snapshot_ingest.h"
#include "services/snapshotd/snapshot_store.h"
#include "services/snapshotd/snapshotd_config.h"
#include "services/snapshotd/snapshotd_group_commit.h"

typedef struct {
	const snapshotd_config *cfg;
	ingest_keys keys;
	smscms_certcache *certs;         /* decoded originator certificates, every ctx */
	signed_data_trust *signatures;   /* keys.signatures, writable for CRL reloads */
	pthread_rwlock_t verifier_lock;  /* read: decrypt and signatures; write: CRL reload */
	group_commit *commits;           /* snapshots of all workers, NULL with one worker */
	atomic_int stop;
	atomic_int failed;               /* a worker's session ended fatally */
} snapshotd_shared;

typedef struct {
	atomic_ullong stored, values, duplicates, rejected, db_retries;
	atomic_ullong missing;  /* snapshots devices sent that never reached us (seq gaps) */
	atomic_llong last_stored;  /* Unix time of the last stored snapshot, for metrics */
	receipt_queue_counters receipts;
} snapshotd_counters;

typedef struct {
	int index;
	snapshotd_shared *sh;
	mqtt_session *session;
	snapshot_store *store;
	smscms_ctx *ctx;
	receipt_queue *receipts;         /* NULL: receipts.enabled is false */
	pthread_t thread;
	int started;
	char client_id[96];
	int result;
	char error[400];
	snapshotd_counters n;
} snapshotd_worker;

/* Creates the clients and starts the thread; 0 or -1 with err. */
int snapshotd_worker_start(snapshotd_worker *w, snapshotd_shared *sh, int index, char *err, size_t errlen);
/* Asks the worker to finish its current message and disconnect. */
void snapshotd_worker_stop(snapshotd_worker *w);
/* Publishes the receipts due (all with force); any thread. */
void snapshotd_worker_flush_receipts(snapshotd_worker *w, int force);
/* Waits for the thread and frees everything. */
void snapshotd_worker_join(snapshotd_worker *w);
/* Sleeps ms milliseconds; returns early (1) when the daemon is stopping. */
int snapshotd_pause(snapshotd_shared *sh, long ms);

#endif
