/*
 * Snapshot intake from the equipment's own software: a spool directory that
 * it moves finished files into (write elsewhere, then rename, so a file
 * seen here is complete). Only regular files named "*.json" that do not
 * start with '.' are taken, in name order.
 *
 * Each file is checked against the snapshot schema (snapshot_json.h) and
 * must name this equipment. A bad file is renamed to rejected/<name> with
 * rejected/<name>.reason holding the reason, and logged: never lost
 * silently. A good one goes to the store callback; the spool file is
 * removed only after the callback said the snapshot is durable. When the
 * callback cannot take it now (disk full), the file stays and the scan
 * stops; the next scan tries again.
 */
#ifndef SMS_AGENT_INTAKE_H
#define SMS_AGENT_INTAKE_H

#include <stddef.h>

typedef enum { INTAKE_STORED = 0, INTAKE_LATER, INTAKE_REFUSED } intake_verdict;

/* why: the reason for INTAKE_REFUSED (it goes to the .reason file). */
typedef intake_verdict (*intake_store_fn)(void *ud, const char *json, size_t len, char *why, size_t whylen);

typedef struct {
	const char *dir;
	const char *equipment;    /* the identifier in the JSON, e.g. "EQID00000234" */
	size_t max_file, max_values;
	size_t max_per_scan;      /* files taken per call, so a big spool does not starve sending */
	const struct snapshot_dicts *dicts; /* for compact snapshots (common/snapshot_dict.h), may be NULL */
} intake_config;

typedef struct {
	unsigned long long accepted, rejected;
	int deferred;             /* 1 when the last scan stopped at INTAKE_LATER */
} intake_counts;

/* The schema check every intake applies (the spool, agent_socket.h): 0, or
 * -1 with the reason in why. */
int intake_check(const intake_config *cfg, const char *json, size_t len, char *why, size_t whylen);
/* Creates dir/rejected when missing; -1 with err. */
int intake_prepare(const intake_config *cfg, char *err, size_t errlen);
/* Takes what is in the spool now; returns the number of files taken. */
size_t intake_scan(const intake_config *cfg, intake_store_fn store, void *ud, intake_counts *counts);

#endif
