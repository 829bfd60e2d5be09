/* sms-agent metrics; contract in agent_metrics.h. */
#include "services/agent/agent_metrics.h"

#include "common/daemon_metrics.h"

#define P "sms_agent"

static void firmware_metrics(metrics_buf *m, const agent_firmware_stats *fw)
{
	const char *const succeeded[] = { "state", "succeeded", NULL }, *const failed[] = { "state", "failed", NULL },
		*const rejected[] = { "state", "rejected", NULL };

	metrics_one(m, P "_firmware_phase", METRIC_GAUGE,
	            "Rollout in progress: 0 none, 1 manifest, 2 downloading, 3 installing, 4 switched (health check)",
	            fw->phase);
	metrics_one(m, P "_firmware_pieces", METRIC_GAUGE, "Pieces of the rollout in progress", fw->pieces);
	metrics_one(m, P "_firmware_pieces_held", METRIC_GAUGE, "Pieces of the rollout in progress on disk",
	            fw->pieces_held);
	metrics_family(m, P "_firmware_reports_total", METRIC_COUNTER, "Final firmware status reports sent, by state");
	metrics_sample(m, succeeded, (double)fw->succeeded);
	metrics_sample(m, failed, (double)fw->failed);
	metrics_sample(m, rejected, (double)fw->rejected);
}

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
	if (in->fw != NULL)
		firmware_metrics(&m, in->fw);
	daemon_metrics_sessions(&m, P, &session, 1);
	daemon_metrics_crls(&m, P, crls, now);
	daemon_metrics_write(&m, dir, "sms-agent");
}
