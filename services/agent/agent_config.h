/*
 * sms-agent configuration (libconfig). Example in services/agent/agent.conf.example:
 *
 *   broker: { host, port (8883), cafile, cert, key, client_id (the TLS
 *             identity's path), keepalive (60), session_expiry (7 days),
 *             backoff_max_ms (30000: reconnect attempts back off up to this) }
 *   e2e:    { cert, key, chain, trust_root, services_ca, recipients = [ ... ]
 *             (vendor snapshot service + the customer's account clients),
 *             receipt_signer ("vendor-snapshot-service"), crls = [ ... ],
 *             ca_certs = [ ... ] (needed with crls), crl_check_interval (60),
 *             crl_warn_days (7) } (broker and e2e: common/conf_blocks.h)
 *   spool:  { dir, max_file (65536), max_values (4096), scan_interval_ms (500) }
 *   outbox: { dir, max_entries (100000), max_bytes (1 GiB), max_age_days (90),
 *             resend_interval (300 s), window (64 unacknowledged publishes) }
 *   crl:    { dir (CRLs from sms/crl/#, services/agent/agent_crl.h; absent:
 *             no CRL intake), tls_ca_certs = [ ... ] (the TLS CAs besides
 *             broker.cafile whose CRLs count, e.g. the services CA that
 *             issues the broker's certificate) }; the E2E CAs are
 *             e2e.trust_root, e2e.services_ca and e2e.ca_certs
 *   socket: { path (absent: no socket intake), mode ("0600", octal string), uid, gid (-1: any
 *             peer; else SO_PEERCRED must match), timeout_ms (5000 per client) }
 *   e2e.sign_snapshots (false): each snapshot is SignedData inside the envelope
 *   metrics:  { dir, interval (15 s) }: dir/sms-agent.prom (agent_metrics.h)
 *   stats_interval (60 s, 0: off), log_file (stderr when absent)
 *   firmware: { dir (absent: no firmware updates; state, pieces, staging),
 *             slots (the A/B pair: slots/a, slots/b, slots/current),
 *             device_type (matched against the manifest's hardware),
 *             max_image (256 MiB: larger -> insufficientMemory), window (4
 *             pieces subscribed at a time), progress_every (16 pieces
 *             between downloading reports), install_hook, health_hook
 *             (programs; absent: copy into SLOT/image, always healthy),
 *             hook_timeout (300 s), versions = [ "bootloader=3", ... ] (what
 *             is installed besides what the agent installed: dependencies
 *             and the first version of a package) }
 *
 * Unknown keys are errors; paths are relative to the file's directory; with
 * check_files every input file named must be readable. Each error is one
 * line "FILE:LINE: key problem".
 */
#ifndef SMS_AGENT_CONFIG_H
#define SMS_AGENT_CONFIG_H

#include <stddef.h>

#include "common/conf_blocks.h"

#define AGENT_MAX_RECIPIENTS 16
#define AGENT_MAX_VERSIONS 32

typedef struct {
	conf_broker broker;             /* common/conf_blocks.h */
	unsigned int session_expiry;
	long backoff_max_ms;

	conf_e2e e2e;
	char *e2e_services_ca;
	char *recipients[AGENT_MAX_RECIPIENTS];
	size_t n_recipients;
	char *receipt_signer;

	char *spool_dir;
	size_t max_file, max_values;
	int scan_interval_ms;

	char *outbox_dir;
	size_t max_entries;
	unsigned long long max_bytes;
	long long max_age_s;
	int resend_interval, window;

	char *crl_dir;
	char *crl_tls_ca_certs[CONF_MAX_CRLS];
	size_t n_crl_tls_ca_certs;

	int stats_interval;
	char *log_file;

	int sign_snapshots;
	char *socket_path;
	unsigned int socket_mode;
	long socket_uid, socket_gid;    /* -1: not checked */
	int socket_timeout_ms;
	conf_metrics metrics;           /* common/conf_blocks.h */

	struct {
		char *dir, *slots, *device_type, *install_hook, *health_hook;
		unsigned long long max_image;
		int window, progress_every, hook_timeout;
		char *versions[AGENT_MAX_VERSIONS];   /* "package=version" as checked at load */
		size_t n_versions;
	} fw;
} agent_config;

/* 0, or -1 with "file:line: key reason" in err. Free with agent_config_free. */
int agent_config_load(const char *path, agent_config *cfg, int check_files, char *err, size_t errlen);
void agent_config_free(agent_config *cfg);

#endif
