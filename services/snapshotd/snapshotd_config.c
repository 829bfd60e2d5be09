/* sms-snapshotd configuration; contract in snapshotd_config.h. */
#include "services/snapshotd/snapshotd_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>

#ifndef SMS_SQL_DIR
#define SMS_SQL_DIR "/usr/local/share/sms/sql"
#endif

static int copy_string(const config_t *c, const char *path, int required, const char *def, char **out,
                       char *err, size_t errlen)
{
	const char *v = NULL;

	if (config_lookup_string(c, path, &v) != CONFIG_TRUE) {
		if (config_lookup(c, path) != NULL) {
			snprintf(err, errlen, "%s must be a string", path);
			return -1;
		}
		if (required) {
			snprintf(err, errlen, "%s is required", path);
			return -1;
		}
		v = def;
	}
	if (v == NULL) {
		*out = NULL;
		return 0;
	}
	*out = strdup(v);
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int int_in_range(const config_t *c, const char *path, long long def, long long lo, long long hi,
                        long long *out, char *err, size_t errlen)
{
	long long v;

	if (config_lookup_int64(c, path, &v) != CONFIG_TRUE) {
		if (config_lookup(c, path) != NULL) {
			snprintf(err, errlen, "%s must be an integer", path);
			return -1;
		}
		v = def;
	}
	if (v < lo || v > hi) {
		snprintf(err, errlen, "%s = %lld is outside %lld..%lld", path, v, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int load_crls(const config_t *c, snapshotd_config *cfg, char *err, size_t errlen)
{
	const config_setting_t *list = config_lookup(c, "e2e.crls");
	int i, n;

	if (list == NULL)
		return 0;
	if (!config_setting_is_array(list) && !config_setting_is_list(list)) {
		snprintf(err, errlen, "e2e.crls must be a list of file names");
		return -1;
	}
	n = config_setting_length(list);
	if (n > SNAPSHOTD_MAX_CRLS) {
		snprintf(err, errlen, "e2e.crls has %d entries, limit %d", n, SNAPSHOTD_MAX_CRLS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *v = config_setting_get_string_elem(list, i);
		if (v == NULL) {
			snprintf(err, errlen, "e2e.crls[%d] is not a string", i);
			return -1;
		}
		cfg->e2e_crls[i] = strdup(v);
		if (cfg->e2e_crls[i] == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		cfg->n_e2e_crls++;
	}
	return 0;
}

static int load(const config_t *c, snapshotd_config *cfg, char *err, size_t errlen)
{
	long long v;

	if (copy_string(c, "broker.host", 1, NULL, &cfg->broker_host, err, errlen) ||
	    copy_string(c, "broker.cafile", 1, NULL, &cfg->tls_cafile, err, errlen) ||
	    copy_string(c, "broker.cert", 1, NULL, &cfg->tls_cert, err, errlen) ||
	    copy_string(c, "broker.key", 1, NULL, &cfg->tls_key, err, errlen) ||
	    copy_string(c, "broker.client_id", 0, "sms-snapshotd", &cfg->client_id, err, errlen) ||
	    copy_string(c, "broker.subscription", 0, "+/+/+/snapshots", &cfg->subscription, err, errlen) ||
	    copy_string(c, "e2e.cert", 1, NULL, &cfg->e2e_cert, err, errlen) ||
	    copy_string(c, "e2e.key", 1, NULL, &cfg->e2e_key, err, errlen) ||
	    copy_string(c, "e2e.chain", 0, NULL, &cfg->e2e_chain, err, errlen) ||
	    copy_string(c, "e2e.trust_root", 1, NULL, &cfg->e2e_trust_root, err, errlen) ||
	    copy_string(c, "database.conninfo", 1, NULL, &cfg->db_conninfo, err, errlen) ||
	    copy_string(c, "database.sql_dir", 0, SMS_SQL_DIR, &cfg->sql_dir, err, errlen) ||
	    load_crls(c, cfg, err, errlen))
		return -1;
	if (int_in_range(c, "broker.port", 8883, 1, 65535, &v, err, errlen))
		return -1;
	cfg->broker_port = (int)v;
	if (int_in_range(c, "broker.keepalive", 60, 5, 3600, &v, err, errlen))
		return -1;
	cfg->keepalive = (int)v;
	if (int_in_range(c, "limits.max_payload", 1024 * 1024, 256, 256LL * 1024 * 1024, &v, err, errlen))
		return -1;
	cfg->max_payload = (size_t)v;
	if (int_in_range(c, "limits.max_values", 4096, 1, 1000000, &v, err, errlen))
		return -1;
	cfg->max_values = (size_t)v;
	/* A dead letter keeps enough to see what the device sent, not a
	 * faulty device's megabytes (digest and length are kept in full). */
	if (int_in_range(c, "limits.dead_letter_max_bytes", 4096, 0, 256LL * 1024 * 1024, &v, err, errlen))
		return -1;
	cfg->dead_letter_max_bytes = (size_t)v;
	if (int_in_range(c, "database.replay_interval", 5, 1, 3600, &v, err, errlen))
		return -1;
	cfg->replay_interval = (int)v;
	if (int_in_range(c, "workers", 1, 1, SNAPSHOTD_MAX_WORKERS, &v, err, errlen))
		return -1;
	cfg->workers = (int)v;
	if (int_in_range(c, "stats_interval", 30, 0, 86400, &v, err, errlen))
		return -1;
	cfg->stats_interval = (int)v;
	if (strlen(cfg->client_id) == 0 || strlen(cfg->client_id) > 60) {
		snprintf(err, errlen, "broker.client_id must be 1..60 bytes");
		return -1;
	}
	if (cfg->workers > 1 && strncmp(cfg->subscription, "$share/", 7) != 0) {
		snprintf(err, errlen, "workers = %d needs a \"$share/<group>/...\" subscription", cfg->workers);
		return -1;
	}
	return 0;
}

int snapshotd_config_load(const char *path, snapshotd_config *cfg, char *err, size_t errlen)
{
	config_t c;
	char inner[400];
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	config_init(&c);
	if (config_read_file(&c, path) != CONFIG_TRUE) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read file", path);
		else
			snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&c), config_error_text(&c));
		goto out;
	}
	if (load(&c, cfg, inner, sizeof inner) != 0) {
		snprintf(err, errlen, "%s: %s", path, inner);
		snapshotd_config_free(cfg);
		goto out;
	}
	rc = 0;
out:
	config_destroy(&c);
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
	free(cfg->db_conninfo);
	free(cfg->sql_dir);
	memset(cfg, 0, sizeof *cfg);
}
