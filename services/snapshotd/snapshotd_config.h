/*
 * sms-snapshotd configuration (libconfig). Example in services/snapshotd/snapshotd.conf.example:
 *
 *   broker:   { host, port, cafile, cert, key, client_id, keepalive,
 *               subscription }
 * (How many QoS 1 messages are in flight towards us is the broker's
 * max_inflight_messages; the MQTT 3.1.1 client has no say.)
 *   e2e:      { cert, key, chain (optional), trust_root, crls = [ ... ],
 *               ca_certs = [ ... ] (the CAs that sign the CRLs; needed with crls),
 *               crl_check_interval (s, 60), crl_warn_days (7) }
 *   database: { conninfo, sql_dir (for --migrate), replay_interval }
 *   limits:   { max_payload, max_values, dead_letter_max_bytes }
 *   e2e.require_signature (false): only snapshots signed by their equipment
 *             (SignedData inside the envelope) are stored
 *   receipts: { enabled (true), batch_ms (500), max_digests (1024, at most
 *               RECEIPT_MAX_DIGESTS) }: signed receipts on
 *               <ma>/<acc>/<eq>/receipts, snapshotd_receipts.h
 *   metrics:  { dir, interval (15 s) }: Prometheus text file
 *   dictionaries: directory of channel dictionaries (common/snapshot_dict.h)
 *               for compact snapshots; without it only the full form is read
 *               dir/sms-snapshotd.prom (common/conf_blocks.h, snapshotd_metrics.h)
 *   workers, stats_interval, log_file (stderr when absent)
 *   commits_in_flight (SNAPSHOTD_COMMITS_IN_FLIGHT): with workers > 1,
 *               group-commit batches that may commit at once: while one
 *               waits for its WAL flush the next runs
 *               (snapshotd_group_commit.h)
 *   certificate_cache (SNAPSHOTD_CERT_CACHE): decoded originator
 *               certificates kept, shared by the workers (smscms_certcache_new):
 *               about 6 KB each; size it above the fleet, or every message
 *               parses its certificate again (least recently used goes)
 *
 * Unknown keys are errors; paths are relative to the file's directory; with
 * check_files every file named must be readable (each error is one line
 * "FILE:LINE: key problem").
 * broker.client_id defaults to NULL: the daemon then uses
 * "<identity of broker.cert>@sms-snapshotd" (mqtt_client_id_for_cert), the
 * form the plugin's client-id policy admits.
 * Required: broker.host, broker.cafile/cert/key, e2e.cert/key/trust_root,
 * database.conninfo. workers > 1 requires a "$share/<group>/..." subscription
 * (otherwise every worker would receive every message).
 */
#ifndef SMS_SNAPSHOTD_CONFIG_H
#define SMS_SNAPSHOTD_CONFIG_H

#include <stddef.h>

#include "common/conf_blocks.h"
#include "common/snapshot_json.h"

#define SNAPSHOTD_MAX_WORKERS 32
#define SNAPSHOTD_CERT_CACHE 16384   /* a fleet of 10,000 takes ~60 MB */
/* Two: with a few workers, more leaders would leave little to group
 * (services_fleet.t, 4 workers: three gave one transaction per snapshot).
 * fleet.bench, 2 cores: 16 workers stored 760-808/s with three. */
#define SNAPSHOTD_COMMITS_IN_FLIGHT 2

typedef struct {
	conf_broker broker;             /* common/conf_blocks.h */
	char *subscription;
	conf_e2e e2e;

	char *db_conninfo;
	char *sql_dir;
	int replay_interval;           /* seconds between polls for dead letters to replay */

	size_t max_payload;
	size_t max_values;
	size_t dead_letter_max_bytes;  /* payload bytes kept per dead letter */
	int receipts_enabled;
	int require_signature;       /* e2e.require_signature: unsigned snapshots are dead letters */
	long receipt_batch_ms;         /* a batch waits at most this long */
	size_t receipt_max_digests;    /* a full batch goes out at once */
	int workers;
	size_t certificate_cache;      /* decoded originator certificates, all workers */
	int commits_in_flight;         /* group-commit batches committing at once (workers > 1) */
	int stats_interval;
	char *log_file;
	char *dictionaries;          /* directory of channel dictionaries (*.json), NULL: none */
	snapshot_dicts *dicts;       /* loaded from it; compact snapshots name one of these */
	conf_metrics metrics;           /* common/conf_blocks.h */
} snapshotd_config;

/* 0 on success, -1 with "file:line: key reason" in err. Free with snapshotd_config_free. */
int snapshotd_config_load(const char *path, snapshotd_config *cfg, int check_files, char *err, size_t errlen);
void snapshotd_config_free(snapshotd_config *cfg);

#endif
