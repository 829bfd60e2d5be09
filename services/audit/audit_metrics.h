/*
 * `sms-audit run`'s metrics file (metrics.dir/sms-audit.prom, written by
 * the supervising thread every metrics.interval and at exit;
 * common/metrics.h):
 *
 *   sms_audit_messages_stored_total{kind}     counter  new messages committed to the store, by kind
 *                                                      (snapshot, receipt, firmware, status, other)
 *   sms_audit_duplicates_total                counter  redeliveries and identical re-sends (counted in the store)
 *   sms_audit_findings_total{code}            counter  findings recorded with stored messages (audit_analysis.h
 *                                                      codes; the report's cross-message ones are not here)
 *   sms_audit_store_bytes                     gauge    the SQLite file and its write-ahead log on disk
 *   sms_audit_last_message_time_seconds       gauge    Unix time of the last message committed (0: none)
 * and the shared ones of common/daemon_metrics.h (build info, start time,
 * broker connection and connects, E2E CRL age and nextUpdate).
 *
 * The session thread counts (audit_metrics_stored, _duplicate, _crls) and
 * the supervisor writes: the counters are atomic, the rest is under a lock,
 * so the writer never touches the store or the CRLs the session uses.
 */
#ifndef SMS_AUDIT_METRICS_H
#define SMS_AUDIT_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "common/crl_set.h"
#include "common/mqtt_session.h"
#include "services/audit/audit_analysis.h"

#define AUDIT_METRICS_KINDS 5
#define AUDIT_METRICS_CODES 16

typedef struct {
	time_t started;
	atomic_ullong stored[AUDIT_METRICS_KINDS], duplicates;
	atomic_llong last_message;
	pthread_mutex_t lock;          /* codes and crls */
	struct {
		char code[32];
		unsigned long long n;
	} codes[AUDIT_METRICS_CODES];  /* the known codes first, at 0: a rate() needs the series from the start */
	struct crl_set_summary crls;
	int have_crls;
} audit_metrics;

/* 0, or -1 when the lock cannot be made. */
int audit_metrics_init(audit_metrics *m, time_t started);
void audit_metrics_destroy(audit_metrics *m);

/* A new message committed at now, with what analysis found. */
void audit_metrics_stored(audit_metrics *m, const analysis *a, time_t now);
void audit_metrics_duplicate(audit_metrics *m, time_t now);
/* The CRLs in use changed (or at start); keys is the session thread's. */
void audit_metrics_crls(audit_metrics *m, const audit_keys *keys);

void audit_metrics_write(audit_metrics *m, const char *dir, const char *store_path, mqtt_session *session);

#endif
