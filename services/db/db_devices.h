/*
 * sms-db devices: one row per device from the database (t_device and what
 * sms-snapshotd records at ingest, sql/004_devices.sql): identity, device
 * type, first and last seen, taken_at of its last snapshot, number of
 * snapshots, the E2E certificate it last signed with (serial, issuer,
 * notAfter) and, when CRL files are given, whether one of them revokes
 * that certificate (same issuer name and serial; the files are read as
 * given: they are the operator's own, from sms-pki). Output as an aligned
 * table, CSV (RFC 4180) or a JSON array (cJSON).
 */
#ifndef SMS_DB_DEVICES_H
#define SMS_DB_DEVICES_H

#include <stddef.h>
#include <stdio.h>

#include "common/pg_session.h"

#define DB_DEVICES_MAX_CRLS 16

typedef enum { DB_DEVICES_TABLE, DB_DEVICES_CSV, DB_DEVICES_JSON } db_devices_format;

/* PG_OK after printing to out, or the error class with one line in err. */
pg_class db_devices_print(pg_session *db, db_devices_format format, const char *const *crl_files, size_t n_crl_files,
                          FILE *out, char *err, size_t errlen);

#endif
