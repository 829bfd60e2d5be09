/*
 * `sms-audit export`: the decrypted snapshots for the customer's own tools.
 *   csv:   one row per value: device, received_at, digest, seq, taken_at,
 *          device_type, group, channel, unit, value, findings
 *   jsonl: one line per snapshot: {"equipment", "received_at", "digest",
 *          "findings": [codes], "snapshot": <the JSON as the device sent it>}
 * Only what was decrypted for us is there; see the report for the rest.
 */
#ifndef SMS_AUDIT_EXPORT_H
#define SMS_AUDIT_EXPORT_H

#include <stdio.h>

#include "common/snapshot_json.h"
#include "services/audit/audit_store.h"

typedef enum { EXPORT_CSV, EXPORT_JSONL } export_format;

/* 0, or -1 with err. */
/* dicts (may be NULL): the channel dictionaries compact snapshots name. */
int audit_export(audit_store *s, const store_filter *f, export_format fmt, const snapshot_dicts *dicts, FILE *out,
                 char *err, size_t errlen);

#endif
