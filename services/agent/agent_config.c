/* sms-agent configuration; contract in agent_config.h. */
#include "services/agent/agent_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/conf_blocks.h"

static const char *const known_keys[] = {
	CONF_BROKER_KEYS, "broker.session_expiry", "broker.backoff_max_ms",
	CONF_METRICS_KEYS,
	CONF_E2E_KEYS, "e2e.services_ca", "e2e.recipients", "e2e.receipt_signer",
	"spool.dir", "spool.max_file", "spool.max_values", "spool.scan_interval_ms",
	"outbox.dir", "outbox.max_entries", "outbox.max_bytes", "outbox.max_age_days", "outbox.resend_interval",
	"outbox.window",
	"crl.dir", "crl.tls_ca_certs",
	"stats_interval", "log_file",
	"e2e.sign_snapshots", "socket.path", "socket.mode", "socket.uid", "socket.gid", "socket.timeout_ms",
	"firmware.dir", "firmware.slots", "firmware.device_type", "firmware.max_image", "firmware.window",
	"firmware.progress_every", "firmware.install_hook", "firmware.health_hook", "firmware.hook_timeout",
	"firmware.versions",
	NULL
};

static int load_ints(conf_file *f, agent_config *cfg)
{
	long long expiry, backoff_max, max_file, max_values, scan_ms, max_entries, max_bytes,
		max_age_days, resend, window, stats;

	if (conf_int(f, "broker.session_expiry", 7 * 86400, 60, 0xFFFFFFFELL, &expiry) ||
	    conf_int(f, "broker.backoff_max_ms", 30000, 500, 3600000, &backoff_max) ||
	    conf_int(f, "spool.max_file", 65536, 256, 16 * 1024 * 1024, &max_file) ||
	    conf_int(f, "spool.max_values", 4096, 1, 1000000, &max_values) ||
	    conf_int(f, "spool.scan_interval_ms", 500, 10, 60000, &scan_ms) ||
	    conf_int(f, "outbox.max_entries", 100000, 1, 100000000, &max_entries) ||
	    conf_int(f, "outbox.max_bytes", 1LL << 30, 4096, 1LL << 40, &max_bytes) ||
	    conf_int(f, "outbox.max_age_days", 90, 0, 3650, &max_age_days) ||
	    conf_int(f, "outbox.resend_interval", 300, 1, 86400, &resend) ||
	    conf_int(f, "outbox.window", 64, 1, 65535, &window) ||
	    conf_int(f, "stats_interval", 60, 0, 86400, &stats))
		return -1;
	cfg->session_expiry = (unsigned int)expiry;
	cfg->backoff_max_ms = (long)backoff_max;
	cfg->max_file = (size_t)max_file;
	cfg->max_values = (size_t)max_values;
	cfg->scan_interval_ms = (int)scan_ms;
	cfg->max_entries = (size_t)max_entries;
	cfg->max_bytes = (unsigned long long)max_bytes;
	cfg->max_age_s = max_age_days * 86400;
	cfg->resend_interval = (int)resend;
	cfg->window = (int)window;
	cfg->stats_interval = (int)stats;
	return 0;
}

/* Snapshot signing and the local socket intake (both optional). */
static int load_signing_and_socket(conf_file *f, agent_config *cfg)
{
	long long uid, gid, timeout;
	char *mode = NULL, *end = NULL;
	long m;

	if (conf_bool(f, "e2e.sign_snapshots", 0, &cfg->sign_snapshots) ||
	    conf_path(f, "socket.path", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->socket_path) ||
	    conf_string(f, "socket.mode", CONF_OPTIONAL, "0600", &mode) ||
	    conf_int(f, "socket.uid", -1, -1, 0x7FFFFFFF, &uid) ||
	    conf_int(f, "socket.gid", -1, -1, 0x7FFFFFFF, &gid) ||
	    conf_int(f, "socket.timeout_ms", 5000, 10, 600000, &timeout))
		goto fail;
	/* libconfig has no octal integers: the mode is a string, "0660". */
	m = strtol(mode, &end, 8);
	if (mode[0] != '0' || *end != '\0' || m < 0 || m > 0777) {
		conf_fail(f, "socket.mode", "must be an octal mode in quotes, e.g. \"0660\"");
		goto fail;
	}
	free(mode);
	cfg->socket_mode = (unsigned int)m;
	cfg->socket_uid = (long)uid;
	cfg->socket_gid = (long)gid;
	cfg->socket_timeout_ms = (int)timeout;
	return 0;
fail:
	free(mode);
	return -1;
}

/* firmware.versions: "package=version" strings, each checked here so the
 * agent can trust them later. */
static int load_versions(conf_file *f, agent_config *cfg)
{
	const config_setting_t *list = config_lookup(&f->cfg, "firmware.versions");
	const char *v, *eq;
	char *end;
	long long n;
	int i;

	if (list == NULL)
		return 0;
	if (!config_setting_is_array(list) && !config_setting_is_list(list))
		return conf_fail(f, "firmware.versions", "must be a list like [ \"bootloader=3\" ]");
	if ((size_t)config_setting_length(list) > AGENT_MAX_VERSIONS)
		return conf_fail(f, "firmware.versions", "has more than %d entries", AGENT_MAX_VERSIONS);
	for (i = 0; i < config_setting_length(list); i++) {
		v = config_setting_get_string_elem(list, i);
		eq = v ? strchr(v, '=') : NULL;
		if (eq == NULL || eq == v || eq - v > 48 || eq[1] < '1' || eq[1] > '9')
			return conf_fail(f, "firmware.versions", "entry %d is not \"package=version\"", i);
		n = strtoll(eq + 1, &end, 10);
		if (*end != '\0' || n < 1 || n > (1LL << 53) - 1)
			return conf_fail(f, "firmware.versions", "entry %d: version must be 1 .. 2^53-1", i);
		if ((cfg->fw.versions[cfg->fw.n_versions] = strdup(v)) == NULL)
			return conf_fail(f, "firmware.versions", "out of memory");
		cfg->fw.n_versions++;
	}
	return 0;
}

/* The firmware group: all of it or nothing (no dir: no firmware updates). */
static int load_firmware(conf_file *f, int readable, agent_config *cfg)
{
	long long max_image, window, progress, timeout;

	if (conf_path(f, "firmware.dir", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->fw.dir) ||
	    conf_path(f, "firmware.slots", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->fw.slots) ||
	    conf_string(f, "firmware.device_type", CONF_OPTIONAL, NULL, &cfg->fw.device_type) ||
	    conf_path(f, "firmware.install_hook", CONF_OPTIONAL, readable, &cfg->fw.install_hook) ||
	    conf_path(f, "firmware.health_hook", CONF_OPTIONAL, readable, &cfg->fw.health_hook) ||
	    conf_int(f, "firmware.max_image", 256LL << 20, 1, 1LL << 40, &max_image) ||
	    conf_int(f, "firmware.window", 4, 1, 64, &window) ||
	    conf_int(f, "firmware.progress_every", 16, 1, 4096, &progress) ||
	    conf_int(f, "firmware.hook_timeout", 300, 1, 86400, &timeout) || load_versions(f, cfg))
		return -1;
	cfg->fw.max_image = (unsigned long long)max_image;
	cfg->fw.window = (int)window;
	cfg->fw.progress_every = (int)progress;
	cfg->fw.hook_timeout = (int)timeout;
	if (cfg->fw.dir == NULL)
		return 0;
	if (cfg->fw.slots == NULL)
		return conf_fail(f, "firmware.slots", "is required with firmware.dir (the A/B slot directory)");
	if (cfg->fw.device_type == NULL || cfg->fw.device_type[0] == '\0')
		return conf_fail(f, "firmware.device_type", "is required with firmware.dir (matched against the "
		                 "manifest's hardware)");
	return 0;
}

static int load(conf_file *f, void *out, int readable)
{
	agent_config *cfg = out;

	if (conf_check_keys(f, known_keys) ||
	    conf_broker_load(f, readable, &cfg->broker) ||
	    conf_e2e_load(f, readable, &cfg->e2e) ||
	    conf_metrics_load(f, readable, &cfg->metrics) ||
	    conf_path(f, "e2e.services_ca", CONF_REQUIRED, readable, &cfg->e2e_services_ca) ||
	    conf_path_list(f, "e2e.recipients", readable, cfg->recipients, AGENT_MAX_RECIPIENTS, &cfg->n_recipients) ||
	    conf_string(f, "e2e.receipt_signer", CONF_OPTIONAL, "vendor-snapshot-service", &cfg->receipt_signer) ||
	    conf_path(f, "spool.dir", CONF_REQUIRED, CONF_PATH_ANY, &cfg->spool_dir) ||
	    conf_path(f, "outbox.dir", CONF_REQUIRED, CONF_PATH_ANY, &cfg->outbox_dir) ||
	    conf_path(f, "log_file", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->log_file) ||
	    conf_path(f, "crl.dir", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->crl_dir) ||
	    conf_path_list(f, "crl.tls_ca_certs", readable, cfg->crl_tls_ca_certs, CONF_MAX_CRLS,
	                   &cfg->n_crl_tls_ca_certs) ||
	    load_ints(f, cfg) || load_signing_and_socket(f, cfg) || load_firmware(f, readable, cfg))
		return -1;
	if (cfg->n_recipients == 0)
		return conf_fail(f, "e2e.recipients", "must name at least the vendor snapshot service's certificate "
		                 "(and the customer's account client certificates)");
	if (strcmp(cfg->spool_dir, cfg->outbox_dir) == 0)
		return conf_fail(f, "outbox.dir", "must not be the spool directory");
	return 0;
}

static void free_config(void *cfg)
{
	agent_config_free(cfg);
}

int agent_config_load(const char *path, agent_config *cfg, int check_files, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	return conf_load(path, check_files, load, free_config, cfg, err, errlen);
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

void agent_config_free(agent_config *cfg)
{
	conf_broker_free(&cfg->broker);
	conf_e2e_free(&cfg->e2e);
	free(cfg->e2e_services_ca);
	free_list(cfg->recipients, cfg->n_recipients);
	free(cfg->receipt_signer);
	free(cfg->spool_dir);
	free(cfg->outbox_dir);
	free(cfg->log_file);
	free(cfg->crl_dir);
	free_list(cfg->crl_tls_ca_certs, cfg->n_crl_tls_ca_certs);
	free(cfg->socket_path);
	conf_metrics_free(&cfg->metrics);
	free(cfg->fw.dir);
	free(cfg->fw.slots);
	free(cfg->fw.device_type);
	free(cfg->fw.install_hook);
	free(cfg->fw.health_hook);
	free_list(cfg->fw.versions, cfg->fw.n_versions);
	memset(cfg, 0, sizeof *cfg);
}
