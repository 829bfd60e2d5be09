/* sms-agent metrics; contract in agent_metrics.h. */
#include "services/agent/agent_metrics.h"

#include "common/daemon_metrics.h"

#define P "sms_agent"

void agent_metrics_write(const char *dir, const agent_metrics_input *in, mqtt_session *session,
                         const crl_watch *crls)
{
	time_t now = time(NULL);
	metrics_buf m;

	metrics_begin(&m);
	daemon_metrics_process(&m, P, in->started, now);
	metrics_one(&m, P "_spool_accepted_total", METRIC_COUNTER, "Snapshot files taken from the spool into the outbox",
	            (double)in->accepted);
	metrics_one(&m, P "_spool_rejected_total", METRIC_COUNTER, "Spool files moved to spool.dir/rejected",
	            (double)in->rejected);
	metrics_one(&m, P "_published_total", METRIC_COUNTER, "Snapshot publishes, first sends and re-sends",
	            (double)in->published);
	metrics_one(&m, P "_receipts_verified_total", METRIC_COUNTER, "Receipts that verified", (double)in->receipts_ok);
	metrics_one(&m, P "_receipts_refused_total", METRIC_COUNTER, "Receipts that did not verify (nothing removed)",
	            (double)in->receipts_refused);
	metrics_one(&m, P "_last_receipt_time_seconds", METRIC_GAUGE,
	            "Unix time of the last verified receipt (0: none since start)", (double)in->last_receipt);
	metrics_one(&m, P "_outbox_entries", METRIC_GAUGE, "Snapshots in the outbox waiting for a receipt",
	            (double)in->outbox.entries);
	metrics_one(&m, P "_outbox_bytes", METRIC_GAUGE, "Bytes in the outbox", (double)in->outbox.bytes);
	metrics_one(&m, P "_outbox_added_total", METRIC_COUNTER, "Entries added to the outbox", (double)in->outbox.added);
	metrics_one(&m, P "_outbox_removed_total", METRIC_COUNTER, "Entries removed by a verified receipt",
	            (double)in->outbox.removed);
	metrics_one(&m, P "_outbox_evicted_total", METRIC_COUNTER, "Entries evicted by the outbox bounds (lost)",
	            (double)in->outbox.evicted);
	metrics_one(&m, P "_outbox_corrupt_total", METRIC_COUNTER, "Entries moved to outbox.dir/corrupt",
	            (double)in->outbox.corrupt);
	metrics_one(&m, P "_disk_full", METRIC_GAUGE, "1 while new input is refused for lack of disk space",
	            in->disk_full ? 1 : 0);
	daemon_metrics_sessions(&m, P, &session, 1);
	daemon_metrics_crls(&m, P, crls, now);
	daemon_metrics_write(&m, dir, "sms-agent");
}
