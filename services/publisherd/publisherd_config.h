/*
 * sms-publisherd configuration (libconfig). Example in
 * services/publisherd/publisherd.conf.example:
 *
 *   broker: { host, port, cafile, cert, key, client_id
 *             ("role:vendor-firmware-service@sms-publisherd"), keepalive }
 *   e2e:    { cert, key, chain (the vendor-firmware-service E2E identity),
 *             trust_root, crls, ca_certs, crl_check_interval, crl_warn_days,
 *             services_ca (who may sign releases and be a role),
 *             device_certs (the E2E PKI directory as sms-pki export firmware
 *             writes it: device_certs/ma/<MA>/acc/<ACC>/dev/<EQ>/cert.pem) }
 *   database: { conninfo }            (login in the role sms_publisherd)
 *   poll_interval (1 s between looks at the rollouts), reoffer_interval
 *   (300 s: a device that has not answered an offer gets it again),
 *   log_file, metrics: { dir, interval }  (common/conf_blocks.h)
 *
 * Unknown keys are errors; paths are relative to the file's directory;
 * with check_files every file named must be readable. One line per error.
 */
#ifndef SMS_PUBLISHERD_CONFIG_H
#define SMS_PUBLISHERD_CONFIG_H

#include "common/conf_blocks.h"

typedef struct {
	conf_broker broker;
	conf_e2e e2e;
	char *services_ca, *device_certs;
	char *db_conninfo;
	int poll_interval, reoffer_interval;
	char *log_file;
	conf_metrics metrics;
} publisherd_config;

/* 0, or -1 with "file:line: key reason" in err. Free with publisherd_config_free. */
int publisherd_config_load(const char *path, publisherd_config *cfg, int check_files, char *err, size_t errlen);
void publisherd_config_free(publisherd_config *cfg);

#endif
