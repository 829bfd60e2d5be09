/*
 * sms-audit configuration (libconfig), example in audit.conf.example:
 *
 *   broker: { host, port (8883), cafile, cert, key (the customer's account
 *             or master-account TLS client certificate), client_id
 *             ("<identity>@sms-audit"), keepalive (60), session_expiry (30 days) }
 *   e2e:    { cert, key, chain (the customer's E2E identity: what snapshots
 *             are encrypted for), trust_root, crls, ca_certs, services_ca
 *             (issues the receipt signer), receipt_signer
 *             ("vendor-snapshot-service"), known_recipients = [ certificate
 *             files ] (named in reports instead of issuer and serial) }
 *   store:  { path } (the SQLite file)
 *   metrics: { dir, interval (15 s) }: dir/sms-audit.prom, written by `run`
 *            (common/conf_blocks.h, audit_metrics.h)
 *   receipt_grace (600 s: a snapshot unreceipted for longer is a finding),
 *   log_file,
 *   dictionaries: directory of channel dictionaries (common/snapshot_dict.h):
 *   compact snapshots are read by them; one naming another is a finding
 *
 * Unknown keys are errors, paths are relative to the file, one line
 * "FILE:LINE: key problem" per error (common/conf.h).
 */
#ifndef SMS_AUDIT_CONFIG_H
#define SMS_AUDIT_CONFIG_H

#include <stddef.h>

#include "common/conf_blocks.h"
#include "common/snapshot_json.h"

#define AUDIT_MAX_KNOWN 16

typedef struct {
	conf_broker broker;
	unsigned int session_expiry;
	conf_e2e e2e;
	char *services_ca, *receipt_signer;
	char *known[AUDIT_MAX_KNOWN];
	size_t n_known;
	char *store_path;
	long long receipt_grace;
	char *log_file;
	char *dictionaries;             /* NULL: full-form snapshots only */
	snapshot_dicts *dicts;          /* loaded from it */
	conf_metrics metrics;           /* common/conf_blocks.h */
	int check_run;                  /* AUDIT_CHECK_RUN was given */
} audit_config;

/* 0, or -1 with the one-line reason in err. Free with audit_config_free.
 * check_files: AUDIT_CHECK_FILES opens every file named; AUDIT_CHECK_RUN
 * also wants metrics.dir writable (only `run` writes there: report, export
 * and verify may run as a user who may only read). */
#define AUDIT_CHECK_FILES 1
#define AUDIT_CHECK_RUN 2
int audit_config_load(const char *path, audit_config *cfg, int check_files, char *err, size_t errlen);
void audit_config_free(audit_config *cfg);

#endif
