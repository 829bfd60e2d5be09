/*
 * Group commit across the workers' MQTT sessions. libmosquitto hands a
 * session one message at a time and the PUBACK must wait for the commit,
 * so one session commits (and flushes the WAL) once per snapshot. Here a
 * worker with a snapshot to store joins a queue; while fewer than
 * max_in_flight batches are committing, a worker whose snapshot is still
 * queued leads: it stores what is queued (up to max_batch, oldest first)
 * in one transaction on its own connection (snapshot_store_put_batch),
 * and every worker of that batch returns from its message only after that
 * commit, so commit-before-acknowledge holds for each. With two batches in
 * flight one flushes the WAL while the other runs on the second core.
 * No thread of its own; the leader is always a worker inside its message
 * callback.
 */
#ifndef SMS_SNAPSHOTD_GROUP_COMMIT_H
#define SMS_SNAPSHOTD_GROUP_COMMIT_H

#include <stddef.h>

#include "services/snapshotd/snapshot_store.h"

typedef struct group_commit group_commit;

group_commit *group_commit_new(size_t max_batch, size_t max_in_flight);
void group_commit_free(group_commit *g);

/* Stores item (with whatever else is queued) and returns item->result once
 * it is committed or has failed; store is the caller's own connection,
 * used when the caller leads. */
store_result group_commit_put(group_commit *g, snapshot_store *store, store_item *item);

#endif
