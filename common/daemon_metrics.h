/*
 * The metrics every daemon exports besides its own counters, so the same
 * thing has the same name in every program (<p> is "sms_snapshotd",
 * "sms_agent", ...):
 *
 *   <p>_build_info{version}             gauge 1, the VERSION of the tree
 *   <p>_start_time_seconds              gauge, Unix time the daemon started
 *   <p>_metrics_written_time_seconds    gauge, Unix time of this file
 *   <p>_broker_connected{session}       gauge 1/0 per MQTT session
 *   <p>_broker_connects_total{session}  counter, connections accepted (1 + reconnects)
 *   <p>_crl_loaded                      gauge 1 when a verified CRL set is in use
 *   <p>_crl_next_update_seconds         gauge, earliest nextUpdate minus now (negative: past)
 *   <p>_crl_age_seconds                 gauge, now minus the oldest CRL's thisUpdate
 *   <p>_crl_revoked_entries             gauge, revoked entries over every CRL
 *
 * daemon_metrics_due says when the next file is due (metrics.interval).
 */
#ifndef SMS_DAEMON_METRICS_H
#define SMS_DAEMON_METRICS_H

#include <stddef.h>
#include <time.h>

#include "common/crl_watch.h"
#include "common/metrics.h"
#include "common/mqtt_session.h"

void daemon_metrics_process(metrics_buf *m, const char *prefix, time_t started, time_t now);
/* sessions[i] may be NULL (not started): reported as not connected. */
void daemon_metrics_sessions(metrics_buf *m, const char *prefix, mqtt_session *const *sessions, size_t n);
/* w may be NULL (no CRLs configured): nothing is written then. */
void daemon_metrics_crls(metrics_buf *m, const char *prefix, const crl_watch *w, time_t now);
/* The same from a summary taken earlier, for a daemon whose CRLs belong to
 * another thread (it keeps a copy) or that has several sets (it adds them
 * with crl_set_summary_add). sum NULL: nothing is written. */
void daemon_metrics_crl_summary(metrics_buf *m, const char *prefix, const struct crl_set_summary *sum, time_t now);

/* Writes m to dir/<file_name>.prom; a failure is logged (once per cause
 * change, not every interval) and otherwise ignored: metrics never stop a
 * daemon. Frees m's text. */
void daemon_metrics_write(metrics_buf *m, const char *dir, const char *file_name);

#endif
