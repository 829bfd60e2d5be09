/* sms-snapshotd configuration; contract in snapshotd_config.h. */
#include "services/snapshotd/snapshotd_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/receipt.h"

#ifndef SMS_SQL_DIR
#define SMS_SQL_DIR "/usr/local/share/sms/sql"
#endif

static const char *const known_keys[] = {
	"broker.host", "broker.port", "broker.cafile", "broker.cert", "broker.key", "broker.client_id",
	"broker.keepalive", "broker.subscription",
	"e2e.cert", "e2e.key", "e2e.chain", "e2e.trust_root", "e2e.crls", "e2e.ca_certs",
	"e2e.crl_check_interval", "e2e.crl_warn_days",
	"database.conninfo", "database.sql_dir",
	"database.replay_interval",
	"limits.max_payload", "limits.max_values", "limits.dead_letter_max_bytes",
	"receipts.enabled", "receipts.batch_ms", "receipts.max_digests",
	"workers", "stats_interval", "log_file",
	NULL
};

static int load_ints(conf_file *f, snapshotd_config *cfg)
{
	long long port, keepalive, max_payload, max_values, dl_max, replay, workers, stats, crl_interval, crl_warn;
	long long batch_ms, max_digests;

	if (conf_int(f, "broker.port", 8883, 1, 65535, &port) ||
	    conf_int(f, "broker.keepalive", 60, 5, 3600, &keepalive) ||
	    conf_int(f, "limits.max_payload", 1024 * 1024, 256, 256LL * 1024 * 1024, &max_payload) ||
	    conf_int(f, "limits.max_values", 4096, 1, 1000000, &max_values) ||
	    /* A dead letter keeps enough to see what the device sent, not a
	     * faulty device's megabytes (digest and length are kept in full). */
	    conf_int(f, "limits.dead_letter_max_bytes", 4096, 0, 256LL * 1024 * 1024, &dl_max) ||
	    conf_int(f, "database.replay_interval", 5, 1, 3600, &replay) ||
	    conf_int(f, "workers", 1, 1, SNAPSHOTD_MAX_WORKERS, &workers) ||
	    conf_int(f, "stats_interval", 30, 0, 86400, &stats) ||
	    conf_int(f, "e2e.crl_check_interval", 60, 1, 86400, &crl_interval) ||
	    conf_int(f, "e2e.crl_warn_days", 7, 0, 365, &crl_warn) ||
	    conf_bool(f, "receipts.enabled", 1, &cfg->receipts_enabled) ||
	    conf_int(f, "receipts.batch_ms", 500, 1, 60000, &batch_ms) ||
	    conf_int(f, "receipts.max_digests", 1024, 1, RECEIPT_MAX_DIGESTS, &max_digests))
		return -1;
	cfg->receipt_batch_ms = (long)batch_ms;
	cfg->receipt_max_digests = (size_t)max_digests;
	cfg->crl_check_interval = (int)crl_interval;
	cfg->crl_warn_days = (int)crl_warn;
	cfg->broker_port = (int)port;
	cfg->keepalive = (int)keepalive;
	cfg->max_payload = (size_t)max_payload;
	cfg->max_values = (size_t)max_values;
	cfg->dead_letter_max_bytes = (size_t)dl_max;
	cfg->replay_interval = (int)replay;
	cfg->workers = (int)workers;
	cfg->stats_interval = (int)stats;
	return 0;
}

static int load(conf_file *f, snapshotd_config *cfg, int readable)
{
	if (conf_check_keys(f, known_keys) ||
	    conf_string(f, "broker.host", CONF_REQUIRED, NULL, &cfg->broker_host) ||
	    conf_path(f, "broker.cafile", CONF_REQUIRED, readable, &cfg->tls_cafile) ||
	    conf_path(f, "broker.cert", CONF_REQUIRED, readable, &cfg->tls_cert) ||
	    conf_path(f, "broker.key", CONF_REQUIRED, readable, &cfg->tls_key) ||
	    conf_string(f, "broker.client_id", CONF_OPTIONAL, NULL, &cfg->client_id) ||
	    conf_string(f, "broker.subscription", CONF_OPTIONAL, "+/+/+/snapshots", &cfg->subscription) ||
	    conf_path(f, "e2e.cert", CONF_REQUIRED, readable, &cfg->e2e_cert) ||
	    conf_path(f, "e2e.key", CONF_REQUIRED, readable, &cfg->e2e_key) ||
	    conf_path(f, "e2e.chain", CONF_OPTIONAL, readable, &cfg->e2e_chain) ||
	    conf_path(f, "e2e.trust_root", CONF_REQUIRED, readable, &cfg->e2e_trust_root) ||
	    conf_path_list(f, "e2e.crls", readable, cfg->e2e_crls, SNAPSHOTD_MAX_CRLS, &cfg->n_e2e_crls) ||
	    conf_path_list(f, "e2e.ca_certs", readable, cfg->e2e_ca_certs, SNAPSHOTD_MAX_CRLS, &cfg->n_e2e_ca_certs) ||
	    conf_string(f, "database.conninfo", CONF_REQUIRED, NULL, &cfg->db_conninfo) ||
	    conf_path(f, "database.sql_dir", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->sql_dir) ||
	    conf_path(f, "log_file", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->log_file) ||
	    load_ints(f, cfg))
		return -1;
	if (cfg->sql_dir == NULL && (cfg->sql_dir = strdup(SMS_SQL_DIR)) == NULL)
		return conf_fail(f, NULL, "out of memory");
	if (cfg->n_e2e_crls > 0 && cfg->n_e2e_ca_certs == 0)
		return conf_fail(f, "e2e.crls", "needs e2e.ca_certs, the CA certificates that sign the CRLs "
		                 "(sms-pki writes them to e2e/cas.pem): a CRL is used only after its signature verified");
	if (cfg->client_id != NULL && strlen(cfg->client_id) > 60)
		return conf_fail(f, "broker.client_id", "must be 1..60 bytes");
	if (cfg->workers > 1 && strncmp(cfg->subscription, "$share/", 7) != 0)
		return conf_fail(f, "workers", "= %d needs a \"$share/<group>/...\" subscription", cfg->workers);
	return 0;
}

int snapshotd_config_load(const char *path, snapshotd_config *cfg, int check_files, char *err, size_t errlen)
{
	conf_file f;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	if (conf_open(&f, path, err, errlen) != 0)
		goto out;
	if (load(&f, cfg, check_files ? CONF_PATH_READABLE : CONF_PATH_ANY) != 0) {
		snapshotd_config_free(cfg);
		goto out;
	}
	rc = 0;
out:
	conf_close(&f);
	return rc;
}

void snapshotd_config_free(snapshotd_config *cfg)
{
	size_t i;

	free(cfg->broker_host);
	free(cfg->tls_cafile);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->client_id);
	free(cfg->subscription);
	free(cfg->e2e_cert);
	free(cfg->e2e_key);
	free(cfg->e2e_chain);
	free(cfg->e2e_trust_root);
	for (i = 0; i < cfg->n_e2e_crls; i++)
		free(cfg->e2e_crls[i]);
	for (i = 0; i < cfg->n_e2e_ca_certs; i++)
		free(cfg->e2e_ca_certs[i]);
	free(cfg->db_conninfo);
	free(cfg->sql_dir);
	free(cfg->log_file);
	memset(cfg, 0, sizeof *cfg);
}
