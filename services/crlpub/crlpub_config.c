/* sms-crlpub configuration; contract in crlpub_config.h. */
#include "services/crlpub/crlpub_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"

static const char *const known_keys[] = {
	CONF_BROKER_KEYS, "tls.crls", "tls.ca_certs", "e2e.crls", "e2e.ca_certs",
	"check_interval", "republish_interval", "warn_days", "log_file", CONF_METRICS_KEYS,
	NULL
};

static int load_pki(conf_file *f, const char *group, int readable, crlpub_pki_files *out)
{
	char crls[32], cas[32];

	snprintf(crls, sizeof crls, "%s.crls", group);
	snprintf(cas, sizeof cas, "%s.ca_certs", group);
	if (conf_path_list(f, crls, readable, out->crls, CONF_MAX_CRLS, &out->n_crls) ||
	    conf_path_list(f, cas, readable, out->ca_certs, CONF_MAX_CRLS, &out->n_ca_certs))
		return -1;
	if (out->n_crls > 0 && out->n_ca_certs == 0)
		return conf_fail(f, crls, "needs %s (the CAs that sign these CRLs)", cas);
	return 0;
}

static int load(conf_file *f, void *out, int readable)
{
	crlpub_config *cfg = out;
	long long check, republish, warn;

	if (conf_check_keys(f, known_keys) ||
	    conf_broker_load(f, readable, &cfg->broker) ||
	    load_pki(f, "tls", readable, &cfg->pki[CRL_PKI_TLS]) ||
	    load_pki(f, "e2e", readable, &cfg->pki[CRL_PKI_E2E]) ||
	    conf_int(f, "check_interval", 10, 1, 86400, &check) ||
	    conf_int(f, "republish_interval", 3600, 10, 7 * 86400, &republish) ||
	    conf_int(f, "warn_days", 7, 0, 365, &warn) ||
	    conf_path(f, "log_file", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->log_file) ||
	    conf_metrics_load(f, readable, &cfg->metrics))
		return -1;
	if (cfg->pki[CRL_PKI_TLS].n_crls == 0 && cfg->pki[CRL_PKI_E2E].n_crls == 0)
		return conf_fail(f, "tls.crls", "nothing to publish: give tls.crls or e2e.crls (or both)");
	cfg->check_interval = (int)check;
	cfg->republish_interval = (int)republish;
	cfg->warn_days = (int)warn;
	return 0;
}

static void free_config(void *cfg)
{
	crlpub_config_free(cfg);
}

int crlpub_config_load(const char *path, crlpub_config *cfg, int check_files, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	return conf_load(path, check_files, load, free_config, cfg, err, errlen);
}

void crlpub_config_free(crlpub_config *cfg)
{
	size_t p, i;

	conf_broker_free(&cfg->broker);
	for (p = 0; p < CRL_PKI_COUNT; p++) {
		for (i = 0; i < cfg->pki[p].n_crls; i++)
			free(cfg->pki[p].crls[i]);
		for (i = 0; i < cfg->pki[p].n_ca_certs; i++)
			free(cfg->pki[p].ca_certs[i]);
	}
	free(cfg->log_file);
	conf_metrics_free(&cfg->metrics);
	memset(cfg, 0, sizeof *cfg);
}
