/*
 * sms-agent's metrics file (metrics.dir/sms-agent.prom, every
 * metrics.interval and at exit; common/metrics.h):
 *
 *   sms_agent_spool_accepted_total           counter  snapshot files taken into the outbox
 *   sms_agent_spool_rejected_total           counter  files moved to spool.dir/rejected
 *   sms_agent_published_total                counter  publishes (first sends and re-sends)
 *   sms_agent_receipts_verified_total        counter
 *   sms_agent_receipts_refused_total         counter  receipts that did not verify
 *   sms_agent_last_receipt_time_seconds      gauge    Unix time of the last verified receipt (0: none)
 *   sms_agent_outbox_entries                 gauge    outbox depth
 *   sms_agent_outbox_bytes                   gauge
 *   sms_agent_outbox_added_total, _removed_total (receipted), _evicted_total (bounds), _corrupt_total
 *   sms_agent_disk_full                      gauge    1 while new input is refused for lack of space
 * with a firmware group (agent_firmware.h):
 *   sms_agent_firmware_phase                 gauge    rollout in progress: 0 none, 1 manifest, 2 downloading,
 *                                                     3 installing, 4 switched (health check)
 *   sms_agent_firmware_pieces, _pieces_held  gauge    of the rollout in progress
 *   sms_agent_firmware_reports_total{state}  counter succeeded, failed, rejected reports sent
 * and the shared ones of common/daemon_metrics.h (build info, start time,
 * broker connection, reconnects, E2E CRL age and nextUpdate).
 */
#ifndef SMS_AGENT_METRICS_H
#define SMS_AGENT_METRICS_H

#include <time.h>

#include "common/crl_watch.h"
#include "common/mqtt_session.h"
#include "services/agent/agent_firmware.h"
#include "services/agent/agent_outbox.h"

typedef struct {
	outbox_stats outbox;
	unsigned long long accepted, rejected, published, receipts_ok, receipts_refused;
	long long last_receipt;
	int disk_full;
	time_t started;
	const agent_firmware_stats *fw;   /* NULL without a firmware group */
} agent_metrics_input;

void agent_metrics_write(const char *dir, const agent_metrics_input *in, mqtt_session *session,
                         const crl_watch *crls);

#endif
