/*
 * sms-db retention: keeps the last N months (or days) of snapshots.
 *
 * t_snapshot_values is partitioned by month on taken_at (sql/001), so every
 * monthly partition that lies wholly before the cut-off is dropped whole
 * (DROP TABLE: no row-by-row delete, no bloat). What is not partitioned is
 * deleted in batches of DB_RETENTION_BATCH rows, each batch its own
 * transaction: values older than the cut-off in the default partition, and
 * t_snapshot rows older than the cut-off (the ingest log and replayed dead
 * letters keep their rows, their snapshot reference becomes NULL: the
 * digest stays known, so a late re-send is still a duplicate). The cut-off
 * for months is the start of the current UTC month minus N months, so a
 * month is kept or dropped whole; for days it is now minus N days.
 * Dry run: the same plan printed, nothing changed. Needs the schema owner.
 */
#ifndef SMS_DB_RETENTION_H
#define SMS_DB_RETENTION_H

#include <stddef.h>
#include <stdio.h>

#include "common/pg_session.h"

#define DB_RETENTION_BATCH 10000
#define DB_RETENTION_BATCH_S "10000"

typedef struct {
	int n;
	int months;   /* 1: n months, 0: n days */
} db_keep;

/* "24months", "24 months", "1month", "90days", "90d": 0, or -1 with err. */
int db_keep_parse(const char *s, db_keep *out, char *err, size_t errlen);

/* Prints the plan (and, unless dry_run, carries it out) on out. */
pg_class db_retention_run(pg_session *db, const db_keep *keep, int dry_run, FILE *out, char *err, size_t errlen);

#endif
