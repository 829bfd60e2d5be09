/* sms-audit configuration; contract in audit_config.h. */
#include "services/audit/audit_config.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/conf.h"
#include "common/snapshot_dict.h"

static const char *const known_keys[] = {
	CONF_BROKER_KEYS, "broker.session_expiry",
	CONF_E2E_KEYS, "e2e.services_ca", "e2e.receipt_signer", "e2e.known_recipients",
	"store.path", "receipt_grace", "log_file", "dictionaries", CONF_METRICS_KEYS,
	NULL
};

/* run creates the store file but not its directory (under systemd that is
 * the unit's StateDirectory), so a missing directory is named at start
 * rather than by SQLite at the first open. Not whether it is writable: the
 * reading commands may run as a user who may only read the store. */
static int store_dir_ok(conf_file *f, const char *store_path)
{
	char *copy = strdup(store_path);
	const char *dir;
	struct stat st;
	int rc;

	if (copy == NULL)
		return conf_fail(f, "store.path", "out of memory");
	dir = dirname(copy);
	if (stat(dir, &st) != 0)
		rc = conf_fail(f, "store.path", "cannot open %s: %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		rc = conf_fail(f, "store.path", "%s is not a directory", dir);
	else
		rc = 0;
	free(copy);
	return rc;
}

static int load(conf_file *f, void *out, int readable)
{
	audit_config *cfg = out;
	long long expiry;

	if (conf_check_keys(f, known_keys) ||
	    conf_broker_load(f, readable, &cfg->broker) ||
	    conf_int(f, "broker.session_expiry", 30 * 86400, 60, 0xFFFFFFFELL, &expiry) ||
	    conf_e2e_load(f, readable, &cfg->e2e) ||
	    conf_path(f, "e2e.services_ca", CONF_REQUIRED, readable, &cfg->services_ca) ||
	    conf_string(f, "e2e.receipt_signer", CONF_OPTIONAL, "vendor-snapshot-service", &cfg->receipt_signer) ||
	    conf_path_list(f, "e2e.known_recipients", readable, cfg->known, AUDIT_MAX_KNOWN, &cfg->n_known) ||
	    conf_path(f, "store.path", CONF_REQUIRED, CONF_PATH_ANY, &cfg->store_path) ||
	    conf_int(f, "receipt_grace", 600, 0, 30LL * 86400, &cfg->receipt_grace) ||
	    conf_path(f, "log_file", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->log_file) ||
	    conf_metrics_load(f, readable && cfg->check_run, &cfg->metrics) ||
	    (readable && store_dir_ok(f, cfg->store_path) != 0) ||
	    conf_path(f, "dictionaries", CONF_OPTIONAL, CONF_PATH_ANY, &cfg->dictionaries))
		return -1;
	if (cfg->dictionaries != NULL) {
		char err[600];
		if (snapshot_dicts_load_dir(cfg->dictionaries, &cfg->dicts, err, sizeof err) != 0)
			return conf_fail(f, "dictionaries", "%s", err);
	}
	cfg->session_expiry = (unsigned int)expiry;
	return 0;
}

static void free_config(void *cfg)
{
	audit_config_free(cfg);
}

int audit_config_load(const char *path, audit_config *cfg, int check_files, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->check_run = (check_files & AUDIT_CHECK_RUN) != 0;
	return conf_load(path, (check_files & AUDIT_CHECK_FILES) != 0, load, free_config, cfg, err, errlen);
}

void audit_config_free(audit_config *cfg)
{
	size_t i;

	free(cfg->dictionaries);
	snapshot_dicts_free(cfg->dicts);
	conf_broker_free(&cfg->broker);
	conf_e2e_free(&cfg->e2e);
	free(cfg->services_ca);
	free(cfg->receipt_signer);
	for (i = 0; i < cfg->n_known; i++)
		free(cfg->known[i]);
	free(cfg->store_path);
	free(cfg->log_file);
	conf_metrics_free(&cfg->metrics);
	memset(cfg, 0, sizeof *cfg);
}
