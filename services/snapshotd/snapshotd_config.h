/*
 * sms-snapshotd configuration (libconfig). Example in services/snapshotd/snapshotd.conf.example:
 *
 *   broker:   { host, port, cafile, cert, key, client_id, keepalive,
 *               subscription }
 * (How many QoS 1 messages are in flight towards us is the broker's
 * max_inflight_messages; the MQTT 3.1.1 client has no say.)
 *   e2e:      { cert, key, chain (optional), trust_root, crls = [ ... ] }
 *   database: { conninfo, sql_dir (for --migrate), replay_interval }
 *   limits:   { max_payload, max_values, dead_letter_max_bytes }
 *   workers, stats_interval
 *
 * Required: broker.host, broker.cafile/cert/key, e2e.cert/key/trust_root,
 * database.conninfo. workers > 1 requires a "$share/<group>/..." subscription
 * (otherwise every worker would receive every message).
 */
#ifndef SMS_SNAPSHOTD_CONFIG_H
#define SMS_SNAPSHOTD_CONFIG_H

#include <stddef.h>

#define SNAPSHOTD_MAX_CRLS 16
#define SNAPSHOTD_MAX_WORKERS 32

typedef struct {
	char *broker_host;
	int broker_port;
	char *tls_cafile, *tls_cert, *tls_key;
	char *client_id;
	int keepalive;
	char *subscription;

	char *e2e_cert, *e2e_key, *e2e_chain, *e2e_trust_root;
	char *e2e_crls[SNAPSHOTD_MAX_CRLS];
	size_t n_e2e_crls;

	char *db_conninfo;
	char *sql_dir;
	int replay_interval;           /* seconds between polls for dead letters to replay */

	size_t max_payload;
	size_t max_values;
	size_t dead_letter_max_bytes;  /* payload bytes kept per dead letter */
	int workers;
	int stats_interval;
} snapshotd_config;

/* 0 on success, -1 with "file:line: reason" in err. Free with snapshotd_config_free. */
int snapshotd_config_load(const char *path, snapshotd_config *cfg, char *err, size_t errlen);
void snapshotd_config_free(snapshotd_config *cfg);

#endif
