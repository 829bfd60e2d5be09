/*
 * sms-crlpub configuration (libconfig). Example in services/crlpub/crlpub.conf.example:
 *
 *   broker: { host, port (8883), cafile, cert, key, client_id
 *             ("role:<CN>@sms-crlpub"), keepalive (60) } (common/conf_blocks.h)
 *   tls:    { crls = [ ... ], ca_certs = [ ... ] }   the TLS PKI's CRL files and
 *   e2e:    { crls = [ ... ], ca_certs = [ ... ] }   the CAs that sign them (root
 *                                                    and intermediates); at least
 *                                                    one of the two groups
 *   check_interval (10 s between looks at the files), republish_interval
 *   (3600 s: every CRL sent again), warn_days (7: warn this long before a
 *   CRL's nextUpdate), log_file (stderr when absent)
 *   metrics: { dir, interval (15 s) }: dir/sms-crlpub.prom (common/conf_blocks.h,
 *            crlpub_metrics.h)
 *
 * Unknown keys are errors; paths are relative to the file's directory; with
 * check_files every file named must be readable. One line per error.
 */
#ifndef SMS_CRLPUB_CONFIG_H
#define SMS_CRLPUB_CONFIG_H

#include <stddef.h>

#include "common/conf_blocks.h"
#include "common/crl_topic.h"

typedef struct {
	char *crls[CONF_MAX_CRLS];
	size_t n_crls;
	char *ca_certs[CONF_MAX_CRLS];
	size_t n_ca_certs;
} crlpub_pki_files;

typedef struct {
	conf_broker broker;
	crlpub_pki_files pki[CRL_PKI_COUNT];
	int check_interval, republish_interval, warn_days;
	char *log_file;
	conf_metrics metrics;           /* common/conf_blocks.h */
} crlpub_config;

/* 0, or -1 with "file:line: key reason" in err. Free with crlpub_config_free. */
int crlpub_config_load(const char *path, crlpub_config *cfg, int check_files, char *err, size_t errlen);
void crlpub_config_free(crlpub_config *cfg);

#endif
