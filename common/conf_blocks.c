/* Shared configuration groups; contract in conf_blocks.h. */
#include "common/conf_blocks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int conf_broker_load(conf_file *f, int readable, conf_broker *out)
{
	long long port, keepalive;

	if (conf_string(f, "broker.host", CONF_REQUIRED, NULL, &out->host) ||
	    conf_path(f, "broker.cafile", CONF_REQUIRED, readable, &out->cafile) ||
	    conf_path(f, "broker.cert", CONF_REQUIRED, readable, &out->cert) ||
	    conf_path(f, "broker.key", CONF_REQUIRED, readable, &out->key) ||
	    conf_string(f, "broker.client_id", CONF_OPTIONAL, NULL, &out->client_id) ||
	    conf_int(f, "broker.port", 8883, 1, 65535, &port) ||
	    conf_int(f, "broker.keepalive", 60, 5, 3600, &keepalive))
		return -1;
	out->port = (int)port;
	out->keepalive = (int)keepalive;
	/* The broker's client-id policy wants room for "<identity>@...". */
	if (out->client_id != NULL && strlen(out->client_id) > 60)
		return conf_fail(f, "broker.client_id", "must be 1..60 bytes");
	return 0;
}

void conf_broker_free(conf_broker *b)
{
	free(b->host);
	free(b->cafile);
	free(b->cert);
	free(b->key);
	free(b->client_id);
	memset(b, 0, sizeof *b);
}

int conf_e2e_load(conf_file *f, int readable, conf_e2e *out)
{
	long long interval, warn_days;

	if (conf_path(f, "e2e.cert", CONF_REQUIRED, readable, &out->cert) ||
	    conf_path(f, "e2e.key", CONF_REQUIRED, readable, &out->key) ||
	    conf_path(f, "e2e.chain", CONF_OPTIONAL, readable, &out->chain) ||
	    conf_path(f, "e2e.trust_root", CONF_REQUIRED, readable, &out->trust_root) ||
	    conf_path_list(f, "e2e.crls", readable, out->crls, CONF_MAX_CRLS, &out->n_crls) ||
	    conf_path_list(f, "e2e.ca_certs", readable, out->ca_certs, CONF_MAX_CRLS, &out->n_ca_certs) ||
	    conf_int(f, "e2e.crl_check_interval", 60, 1, 86400, &interval) ||
	    conf_int(f, "e2e.crl_warn_days", 7, 0, 365, &warn_days))
		return -1;
	out->crl_check_interval = (int)interval;
	out->crl_warn_days = (int)warn_days;
	if (out->n_crls > 0 && out->n_ca_certs == 0)
		return conf_fail(f, "e2e.crls", "needs e2e.ca_certs, the CA certificates that sign the CRLs "
		                 "(sms-pki writes them to e2e/cas.pem): a CRL is used only after its signature verified");
	return 0;
}

void conf_e2e_free(conf_e2e *e)
{
	size_t i;

	free(e->cert);
	free(e->key);
	free(e->chain);
	free(e->trust_root);
	for (i = 0; i < e->n_crls; i++)
		free(e->crls[i]);
	for (i = 0; i < e->n_ca_certs; i++)
		free(e->ca_certs[i]);
	memset(e, 0, sizeof *e);
}

int conf_metrics_load(conf_file *f, int readable, conf_metrics *out)
{
	long long interval;
	struct stat st;

	if (conf_path(f, "metrics.dir", CONF_OPTIONAL, CONF_PATH_ANY, &out->dir) ||
	    conf_int(f, "metrics.interval", 15, 1, 3600, &interval))
		return -1;
	out->interval = (int)interval;
	if (out->dir == NULL || !readable)
		return 0;
	if (stat(out->dir, &st) != 0)
		return conf_fail(f, "metrics.dir", "cannot open %s: %s", out->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return conf_fail(f, "metrics.dir", "%s is not a directory", out->dir);
	if (access(out->dir, W_OK | X_OK) != 0)
		return conf_fail(f, "metrics.dir", "cannot write to %s: %s", out->dir, strerror(errno));
	return 0;
}

void conf_metrics_free(conf_metrics *m)
{
	free(m->dir);
	memset(m, 0, sizeof *m);
}
