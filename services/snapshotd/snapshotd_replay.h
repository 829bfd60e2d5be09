/*
 * Replays of dead letters: an operator marks them (sms-db dead-letters
 * replay) once the cause is fixed; this thread polls for marked rows every
 * database.replay_interval seconds and runs each through the same path as a
 * message from the broker (snapshot_ingest, then snapshot_store_put with the
 * dead letter's id). Stored: the dead letter records the snapshot; refused
 * again: it records the new reason and stays. The ingest log keeps it
 * exactly once, also when the broker delivers the same bytes meanwhile.
 * Truncated dead letters are never marked (the bytes are gone).
 */
#ifndef SMS_SNAPSHOTD_REPLAY_H
#define SMS_SNAPSHOTD_REPLAY_H

#include <pthread.h>

#include "services/snapshotd/snapshotd_worker.h"

typedef struct {
	snapshotd_shared *sh;
	snapshot_store *store;
	smscms_ctx *ctx;
	pthread_t thread;
	int started;
} snapshotd_replayer;

/* 0, or -1 with err. The thread ends when sh->stop is set. */
int snapshotd_replay_start(snapshotd_replayer *r, snapshotd_shared *sh, char *err, size_t errlen);
/* Waits for the thread (if started) and frees everything. */
void snapshotd_replay_join(snapshotd_replayer *r);

#endif
