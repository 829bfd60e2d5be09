/*
 * What each SMS program needs from the database, as data: the schema version
 * the programs were built for, and per program the exact privileges it uses.
 * The same lists drive `sms-db roles` (the grants) and each program's
 * start-up check (pg_session_check_ready), so the two cannot drift apart.
 */
#ifndef SMS_DB_PRIVILEGES_H
#define SMS_DB_PRIVILEGES_H

#include <stddef.h>

#include "common/pg_session.h"

/* sql/NNN_*.sql these programs were written against. */
#define SMS_SCHEMA_VERSION 4
/* sql/007_ingest_by_copy.sql: what sms-snapshotd needs. */
#define SMS_SNAPSHOTD_SCHEMA_VERSION 7
/* sql/005_firmware.sql: what sms-firmware and sms-publisherd need. */
#define SMS_FIRMWARE_SCHEMA_VERSION 5

typedef struct {
	const char *role;         /* default NOLOGIN group role name */
	const char *program;      /* who uses it */
	const pg_need *needs;
	size_t n_needs;
} db_role_spec;

/* sms-snapshotd: ingest, dead letters, replays, partitions. */
extern const db_role_spec db_role_snapshotd;
/* sms-db dead-letters: list, request replays, purge. */
extern const db_role_spec db_role_admin;
/* Read-only access to the snapshot data (reports, the customer portal). */
extern const db_role_spec db_role_reader;
/* sms-firmware: releases, rollouts, their status and history. */
extern const db_role_spec db_role_firmware;
/* sms-publisherd: drives rollouts, records what devices report. */
extern const db_role_spec db_role_publisherd;

#endif
