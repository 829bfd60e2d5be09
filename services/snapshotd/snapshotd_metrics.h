/*
 * sms-snapshotd's metrics file (metrics.dir/sms-snapshotd.prom, written
 * by the supervisor every metrics.interval and at exit; common/metrics.h):
 *
 *   sms_snapshotd_messages_received_total      counter  stored + duplicate + rejected
 *   sms_snapshotd_snapshots_stored_total       counter
 *   sms_snapshotd_values_stored_total          counter
 *   sms_snapshotd_duplicates_total             counter  re-sends acknowledged, not stored again
 *   sms_snapshotd_rejected_total{reason}       counter  dead letters by reason (snapshot_ingest.h codes)
 *   sms_snapshotd_database_retries_total       counter
 *   sms_snapshotd_seq_missing_total            counter  snapshots devices sent that never reached us
 *   sms_snapshotd_receipts_published_total     counter
 *   sms_snapshotd_receipt_digests_total        counter  snapshots covered by those receipts
 *   sms_snapshotd_receipts_failed_total        counter  receipts not signed or not published
 *   sms_snapshotd_last_stored_time_seconds     gauge    Unix time of the last stored snapshot (0: none yet)
 *   sms_snapshotd_workers                      gauge
 * and the shared ones of common/daemon_metrics.h (build info, start time,
 * broker connection per worker, reconnects, E2E CRL age and nextUpdate).
 */
#ifndef SMS_SNAPSHOTD_METRICS_H
#define SMS_SNAPSHOTD_METRICS_H

#include <time.h>

#include "common/crl_watch.h"
#include "services/snapshotd/snapshotd_worker.h"

/* Counts one dead letter of reason (thread-safe; reasons beyond the table's
 * room count as "other"). */
void snapshotd_metrics_count_rejected(const char *reason);

void snapshotd_metrics_write(const snapshotd_config *cfg, snapshotd_worker *workers, int n, const crl_watch *crls,
                             time_t started);

#endif
