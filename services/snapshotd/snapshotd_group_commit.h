/*
 * Group commit across the workers' MQTT sessions. libmosquitto hands a
 * session one message at a time and the PUBACK must wait for the commit,
 * so one session commits (and flushes the WAL) once per snapshot. Here a
 * worker with a snapshot to store joins a queue; whoever finds no commit
 * running leads: it stores what is queued (up to max_batch, oldest first)
 * in one transaction on its own connection (snapshot_store_put_batch),
 * and every worker of that batch returns from its message only after that
 * commit, so commit-before-acknowledge holds for each. While one batch
 * commits, the next one queues: with W workers a batch holds up to W.
 * No thread of its own; the leader is always a worker inside its message
 * callback.
 */
#ifndef SMS_SNAPSHOTD_GROUP_COMMIT_H
#define SMS_SNAPSHOTD_GROUP_COMMIT_H

#include <stddef.h>

#include "services/snapshotd/snapshot_store.h"

typedef struct group_commit group_commit;

group_commit *group_commit_new(size_t max_batch);
void group_commit_free(group_commit *g);

/* Stores item (with whatever else is queued) and returns item->result once
 * it is committed or has failed; store is the caller's own connection,
 * used when the caller leads. */
store_result group_commit_put(group_commit *g, snapshot_store *store, store_item *item);

#endif
