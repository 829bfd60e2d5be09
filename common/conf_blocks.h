/*
 * The configuration groups every MQTT daemon shares, read once here so that
 * the same key means the same thing in every program:
 *
 *   broker: { host, port (8883), cafile, cert, key, client_id (NULL: the
 *             program derives "<identity>@<program>"), keepalive (60) }
 *   e2e:    { cert, key, chain, trust_root, crls = [ ... ], ca_certs = [ ... ]
 *             (the CAs that sign the CRLs; required with crls),
 *             crl_check_interval (60 s), crl_warn_days (7) }
 *   metrics: { dir (optional: no metrics without it; a directory the daemon
 *             can write, e.g. node-exporter's textfile directory),
 *             interval (15 s) }: DIR/<program>.prom, common/metrics.h
 *
 * A program lists CONF_BROKER_KEYS and CONF_E2E_KEYS among its known keys
 * and adds its own keys to the same groups.
 */
#ifndef SMS_CONF_BLOCKS_H
#define SMS_CONF_BLOCKS_H

#include <stddef.h>

#include "common/conf.h"

#define CONF_MAX_CRLS 16

#define CONF_BROKER_KEYS "broker.host", "broker.port", "broker.cafile", "broker.cert", "broker.key", \
	"broker.client_id", "broker.keepalive"
#define CONF_METRICS_KEYS "metrics.dir", "metrics.interval"
#define CONF_E2E_KEYS "e2e.cert", "e2e.key", "e2e.chain", "e2e.trust_root", "e2e.crls", "e2e.ca_certs", \
	"e2e.crl_check_interval", "e2e.crl_warn_days"

typedef struct {
	char *host;
	int port;
	char *cafile, *cert, *key;
	char *client_id;
	int keepalive;
} conf_broker;

typedef struct {
	char *cert, *key, *chain, *trust_root;
	char *crls[CONF_MAX_CRLS];
	size_t n_crls;
	char *ca_certs[CONF_MAX_CRLS];
	size_t n_ca_certs;
	int crl_check_interval, crl_warn_days;
} conf_e2e;

typedef struct {
	char *dir;       /* NULL: no metrics */
	int interval;
} conf_metrics;

/* 0, or -1 with the error in f (conf.h). readable: CONF_PATH_READABLE or _ANY. */
int conf_broker_load(conf_file *f, int readable, conf_broker *out);
void conf_broker_free(conf_broker *b);
int conf_e2e_load(conf_file *f, int readable, conf_e2e *out);
void conf_e2e_free(conf_e2e *e);
/* With readable, metrics.dir must be a directory we may create files in. */
int conf_metrics_load(conf_file *f, int readable, conf_metrics *out);
void conf_metrics_free(conf_metrics *m);

#endif
