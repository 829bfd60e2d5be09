/* sms-publisherd configuration; contract in publisherd_config.h. */
#include "services/publisherd/publisherd_config.h"

#include <stdlib.h>
#include <string.h>

#include "common/conf.h"

static const char *const known_keys[] = {
	CONF_BROKER_KEYS, CONF_E2E_KEYS, "e2e.services_ca", "e2e.device_certs", "database.conninfo",
	"poll_interval", "reoffer_interval", "log_file", CONF_METRICS_KEYS, NULL
};

static int load(conf_file *f, void *out, int readable)
{
	publisherd_config *cfg = out;
	long long poll, reoffer;

	if (conf_check_keys(f, known_keys) || conf_broker_load(f, readable, &cfg->broker) ||
	    conf_e2e_load(f, readable, &cfg->e2e) ||
	    conf_path(f, "e2e.services_ca", CONF_REQUIRED, readable, &cfg->services_ca) ||
	    conf_path(f, "e2e.device_certs", CONF_REQUIRED, readable, &cfg->device_certs) ||
	    conf_string(f, "database.conninfo", CONF_REQUIRED, NULL, &cfg->db_conninfo) ||
	    conf_int(f, "poll_interval", 1, 1, 3600, &poll) ||
	    conf_int(f, "reoffer_interval", 300, 1, 7 * 86400, &reoffer) ||
	    conf_path(f, "log_file", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->log_file) ||
	    conf_metrics_load(f, readable, &cfg->metrics))
		return -1;
	cfg->poll_interval = (int)poll;
	cfg->reoffer_interval = (int)reoffer;
	return 0;
}

static void free_config(void *cfg)
{
	publisherd_config_free(cfg);
}

int publisherd_config_load(const char *path, publisherd_config *cfg, int check_files, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	return conf_load(path, check_files, load, free_config, cfg, err, errlen);
}

void publisherd_config_free(publisherd_config *cfg)
{
	conf_broker_free(&cfg->broker);
	conf_e2e_free(&cfg->e2e);
	free(cfg->services_ca);
	free(cfg->device_certs);
	free(cfg->db_conninfo);
	free(cfg->log_file);
	conf_metrics_free(&cfg->metrics);
	memset(cfg, 0, sizeof *cfg);
}
