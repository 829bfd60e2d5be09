/* sms-snapshotd configuration; contract in snapshotd_config.h. */
#include "services/snapshotd/snapshotd_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/conf_blocks.h"
#include "common/receipt.h"
#include "common/snapshot_dict.h"

#ifndef SMS_SQL_DIR
#define SMS_SQL_DIR "/usr/local/share/sms/sql"
#endif

static const char *const known_keys[] = {
	CONF_BROKER_KEYS, "broker.subscription",
	CONF_E2E_KEYS, "e2e.require_signature",
	CONF_METRICS_KEYS,
	"database.conninfo", "database.sql_dir",
	"database.replay_interval",
	"limits.max_payload", "limits.max_values", "limits.dead_letter_max_bytes",
	"receipts.enabled", "receipts.batch_ms", "receipts.max_digests",
	"workers", "stats_interval", "log_file", "dictionaries", "certificate_cache",
	"commits_in_flight",
	NULL
};

static int load_ints(conf_file *f, snapshotd_config *cfg)
{
	long long max_payload, max_values, dl_max, replay, workers, stats, batch_ms, max_digests, certs, in_flight;

	if (conf_int(f, "limits.max_payload", 1024 * 1024, 256, 256LL * 1024 * 1024, &max_payload) ||
	    conf_int(f, "limits.max_values", 4096, 1, 1000000, &max_values) ||
	    /* A dead letter keeps enough to see what the device sent, not a
	     * faulty device's megabytes (digest and length are kept in full). */
	    conf_int(f, "limits.dead_letter_max_bytes", 4096, 0, 256LL * 1024 * 1024, &dl_max) ||
	    conf_int(f, "database.replay_interval", 5, 1, 3600, &replay) ||
	    conf_int(f, "workers", 1, 1, SNAPSHOTD_MAX_WORKERS, &workers) ||
	    conf_int(f, "certificate_cache", SNAPSHOTD_CERT_CACHE, 1, 1 << 24, &certs) ||
	    conf_int(f, "commits_in_flight", SNAPSHOTD_COMMITS_IN_FLIGHT, 1, SNAPSHOTD_MAX_WORKERS, &in_flight) ||
	    conf_int(f, "stats_interval", 30, 0, 86400, &stats) ||
	    conf_bool(f, "receipts.enabled", 1, &cfg->receipts_enabled) ||
	    conf_bool(f, "e2e.require_signature", 0, &cfg->require_signature) ||
	    conf_int(f, "receipts.batch_ms", 500, 1, 60000, &batch_ms) ||
	    conf_int(f, "receipts.max_digests", 1024, 1, RECEIPT_MAX_DIGESTS, &max_digests))
		return -1;
	cfg->receipt_batch_ms = (long)batch_ms;
	cfg->receipt_max_digests = (size_t)max_digests;
	cfg->max_payload = (size_t)max_payload;
	cfg->max_values = (size_t)max_values;
	cfg->dead_letter_max_bytes = (size_t)dl_max;
	cfg->replay_interval = (int)replay;
	cfg->workers = (int)workers;
	cfg->certificate_cache = (size_t)certs;
	cfg->commits_in_flight = (int)in_flight;
	cfg->stats_interval = (int)stats;
	return 0;
}

static int load(conf_file *f, void *out, int readable)
{
	snapshotd_config *cfg = out;

	if (conf_check_keys(f, known_keys) ||
	    conf_broker_load(f, readable, &cfg->broker) ||
	    conf_e2e_load(f, readable, &cfg->e2e) ||
	    conf_metrics_load(f, readable, &cfg->metrics) ||
	    conf_string(f, "broker.subscription", CONF_OPTIONAL, "+/+/+/snapshots", &cfg->subscription) ||
	    conf_string(f, "database.conninfo", CONF_REQUIRED, NULL, &cfg->db_conninfo) ||
	    conf_path(f, "database.sql_dir", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->sql_dir) ||
	    conf_path(f, "log_file", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->log_file) ||
	    load_ints(f, cfg))
		return -1;
	if (conf_path(f, "dictionaries", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->dictionaries))
		return -1;
	if (cfg->dictionaries != NULL) {
		char err[600];
		if (snapshot_dicts_load_dir(cfg->dictionaries, &cfg->dicts, err, sizeof err) != 0)
			return conf_fail(f, "dictionaries", "%s", err);
	}
	if (cfg->sql_dir == NULL && (cfg->sql_dir = strdup(SMS_SQL_DIR)) == NULL)
		return conf_fail(f, NULL, "out of memory");
	if (cfg->workers > 1 && strncmp(cfg->subscription, "$share/", 7) != 0)
		return conf_fail(f, "workers", "= %d needs a \"$share/<group>/...\" subscription", cfg->workers);
	return 0;
}

static void free_config(void *cfg)
{
	snapshotd_config_free(cfg);
}

int snapshotd_config_load(const char *path, snapshotd_config *cfg, int check_files, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	return conf_load(path, check_files, load, free_config, cfg, err, errlen);
}

void snapshotd_config_free(snapshotd_config *cfg)
{
	conf_broker_free(&cfg->broker);
	conf_e2e_free(&cfg->e2e);
	free(cfg->subscription);
	free(cfg->db_conninfo);
	free(cfg->sql_dir);
	free(cfg->log_file);
	free(cfg->dictionaries);
	snapshot_dicts_free(cfg->dicts);
	conf_metrics_free(&cfg->metrics);
	memset(cfg, 0, sizeof *cfg);
}
