/*
 * The plugin's configuration file (libconfig). Everything is checked here,
 * once, so that a typo stops the broker at start with the file and line
 * instead of silently granting or denying at run time. See acl/sms_auth.conf.
 */
#include "plugin/sms_auth.h"
#include "common/ident_grammar.h"

#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfg_ctx {
	const char *path;
	char *dir;              /* directory of the file, for relative paths */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail_at(struct cfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	unsigned line = s ? config_setting_source_line(s) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(c->err, c->errlen, "%s:%u: %s", c->path, line, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
	return -1;
}

static char *dup_path(struct cfg_ctx *c, const char *value)
{
	char *out;
	size_t n;

	if (value[0] == '/' || !c->dir)
		return strdup(value);
	n = strlen(c->dir) + 1 + strlen(value) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", c->dir, value);
	return out;
}

/* A non-empty string setting, or NULL with err set. */
static const char *string_of(struct cfg_ctx *c, const config_setting_t *s, const char *what)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		fail_at(c, s, "%s must be a string", what);
		return NULL;
	}
	v = config_setting_get_string(s);
	if (!v || !*v) {
		fail_at(c, s, "%s is empty", what);
		return NULL;
	}
	return v;
}

static int take_path(struct cfg_ctx *c, const config_setting_t *root, const char *key, bool required, char **out)
{
	const config_setting_t *s = config_setting_get_member(root, key);
	const char *v;

	*out = NULL;
	if (!s)
		return required ? fail_at(c, NULL, "'%s' is missing", key) : 0;
	v = string_of(c, s, key);
	if (!v)
		return -1;
	*out = dup_path(c, v);
	return *out ? 0 : fail_at(c, s, "out of memory");
}

/* A filter usable as a grant: valid, not a shared-subscription form. */
static int check_pattern(struct cfg_ctx *c, const config_setting_t *s, const char *what, const char *f)
{
	if (!acl_filter_valid(f))
		return fail_at(c, s, "%s '%s' is not a valid MQTT topic filter", what, f);
	if (strncmp(f, "$share/", 7) == 0)
		return fail_at(c, s, "%s '%s': grant the filter itself, not a $share/ form", what, f);
	return 0;
}

static int take_string_list(struct cfg_ctx *c, const config_setting_t *root, const char *key,
			    bool required, bool paths, char ***out, size_t *n)
{
	const config_setting_t *s = config_setting_get_member(root, key);
	int i, count;

	*out = NULL;
	*n = 0;
	if (!s)
		return required ? fail_at(c, NULL, "'%s' is missing", key) : 0;
	if (!config_setting_is_aggregate(s) || config_setting_type(s) == CONFIG_TYPE_GROUP)
		return fail_at(c, s, "'%s' must be a list of strings, like [ \"...\" ]", key);
	count = config_setting_length(s);
	if (required && count == 0)
		return fail_at(c, s, "'%s' is empty", key);
	*out = calloc((size_t)count + 1, sizeof(char *));
	if (!*out)
		return fail_at(c, s, "out of memory");
	for (i = 0; i < count; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = string_of(c, e, key);

		if (!v)
			return -1;
		if (!paths && check_pattern(c, e, key, v) != 0)
			return -1;
		(*out)[i] = paths ? dup_path(c, v) : strdup(v);
		if (!(*out)[i])
			return fail_at(c, e, "out of memory");
		(*n)++;
	}
	return 0;
}

static int parse_access(struct cfg_ctx *c, const config_setting_t *s, unsigned *out)
{
	const char *v = string_of(c, s, "access");

	if (!v)
		return -1;
	/* Receiving without subscribing is useless, so "read" includes it;
	 * "subscribe" alone lets a role subscribe wide and receive narrow. */
	if (strcmp(v, "read") == 0)
		*out = ACL_READ | ACL_SUBSCRIBE;
	else if (strcmp(v, "write") == 0)
		*out = ACL_WRITE;
	else if (strcmp(v, "readwrite") == 0)
		*out = ACL_READ | ACL_SUBSCRIBE | ACL_WRITE;
	else if (strcmp(v, "subscribe") == 0)
		*out = ACL_SUBSCRIBE;
	else
		return fail_at(c, s, "access '%s' is not one of read, write, readwrite, subscribe", v);
	return 0;
}

static int parse_rule(struct cfg_ctx *c, const config_setting_t *s, struct sms_rule *rule)
{
	const config_setting_t *a, *f;
	const char *filter;
	unsigned i;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail_at(c, s, "a rule must be { access = \"...\"; filter = \"...\"; }");
	for (i = 0; i < (unsigned)config_setting_length(s); i++) {
		const char *k = config_setting_name(config_setting_get_elem(s, i));

		if (strcmp(k, "access") != 0 && strcmp(k, "filter") != 0)
			return fail_at(c, config_setting_get_elem(s, i), "unknown rule setting '%s'", k);
	}
	a = config_setting_get_member(s, "access");
	f = config_setting_get_member(s, "filter");
	if (!a)
		return fail_at(c, s, "rule has no 'access'");
	if (!f)
		return fail_at(c, s, "rule has no 'filter'");
	if (parse_access(c, a, &rule->access) != 0)
		return -1;
	filter = string_of(c, f, "filter");
	if (!filter || check_pattern(c, f, "filter", filter) != 0)
		return -1;
	rule->filter = strdup(filter);
	return rule->filter ? 0 : fail_at(c, f, "out of memory");
}

static int parse_role(struct cfg_ctx *c, const config_setting_t *s, struct sms_role *role,
		      const struct sms_role *earlier, size_t nearlier)
{
	const config_setting_t *n, *rules;
	const char *name;
	size_t i;
	int count;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail_at(c, s, "a role must be { name = \"...\"; rules = ( ... ); }");
	for (i = 0; i < (size_t)config_setting_length(s); i++) {
		const char *k = config_setting_name(config_setting_get_elem(s, (unsigned)i));

		if (strcmp(k, "name") != 0 && strcmp(k, "rules") != 0)
			return fail_at(c, config_setting_get_elem(s, (unsigned)i), "unknown role setting '%s'", k);
	}
	n = config_setting_get_member(s, "name");
	if (!n)
		return fail_at(c, s, "role has no 'name'");
	name = string_of(c, n, "role name");
	if (!name)
		return -1;
	if (!ident_valid(name, strlen(name)))
		return fail_at(c, n, "role name '%s' can never be a certificate CN (identifiers: %s)", name,
			       IDENT_GRAMMAR_TEXT);
	for (i = 0; i < nearlier; i++)
		if (strcmp(earlier[i].name, name) == 0)
			return fail_at(c, n, "role '%s' is defined twice", name);
	role->name = strdup(name);
	if (!role->name)
		return fail_at(c, n, "out of memory");
	rules = config_setting_get_member(s, "rules");
	if (!rules || !config_setting_is_list(rules))
		return fail_at(c, rules ? rules : s, "role '%s' needs rules = ( { access = ...; filter = ...; }, ... )", name);
	count = config_setting_length(rules);
	if (count == 0)
		return fail_at(c, rules, "role '%s' has no rules", name);
	role->rules = calloc((size_t)count, sizeof(*role->rules));
	if (!role->rules)
		return fail_at(c, rules, "out of memory");
	for (i = 0; i < (size_t)count; i++) {
		if (parse_rule(c, config_setting_get_elem(rules, (unsigned)i), &role->rules[i]) != 0)
			return -1;
		role->nrules++;
	}
	return 0;
}

static int take_roles(struct cfg_ctx *c, const config_setting_t *root, struct sms_config *cfg)
{
	const config_setting_t *s = config_setting_get_member(root, "roles");
	int i, count;

	if (!s)
		return 0;
	if (!config_setting_is_list(s))
		return fail_at(c, s, "'roles' must be a list: roles = ( { name = ...; rules = ( ... ); }, ... )");
	count = config_setting_length(s);
	cfg->roles = calloc((size_t)count + 1, sizeof(*cfg->roles));
	if (!cfg->roles)
		return fail_at(c, s, "out of memory");
	for (i = 0; i < count; i++) {
		/* Counted first so that sms_config_free releases a half-parsed role. */
		cfg->nroles++;
		if (parse_role(c, config_setting_get_elem(s, (unsigned)i), &cfg->roles[i], cfg->roles, (size_t)i) != 0)
			return -1;
	}
	return 0;
}

/* An integer setting in [min, max], or def when absent. */
static int take_int(struct cfg_ctx *c, const config_setting_t *root, const char *key, int def, int min, int max,
		    int *out)
{
	const config_setting_t *s = config_setting_get_member(root, key);

	*out = def;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT)
		return fail_at(c, s, "%s must be an integer", key);
	*out = config_setting_get_int(s);
	if (*out < min || *out > max)
		return fail_at(c, s, "%s must be between %d and %d", key, min, max);
	return 0;
}

static int take_client_id_policy(struct cfg_ctx *c, const config_setting_t *root, enum sms_client_id_policy *out)
{
	const config_setting_t *s = config_setting_get_member(root, "client_id_policy");
	const char *v;

	*out = SMS_CLIENT_ID_PREFIX;
	if (!s)
		return 0;
	v = string_of(c, s, "client_id_policy");
	if (!v)
		return -1;
	if (strcmp(v, "prefix") == 0)
		*out = SMS_CLIENT_ID_PREFIX;
	else if (strcmp(v, "any") == 0)
		*out = SMS_CLIENT_ID_ANY;
	else
		return fail_at(c, s, "client_id_policy '%s' is not one of prefix, any", v);
	return 0;
}

static const char *const known_keys[] = {
	"trust_root", "intermediates", "crls", "crl_check_interval",
	"services_ca", "roles", "public_read", "client_id_policy", "client_id_owners_max", NULL
};

/* Names this file used before every tool agreed on one (README, "One
 * vocabulary"): refused with the new name, never read as an alias, so a
 * file means the same thing to every reader. */
static const struct {
	const char *old_name, *new_name;
} renamed_keys[] = {
	{ "trust_anchor", "trust_root" },
	{ "crl_files", "crls" },
	{ "service_ca", "services_ca" },
};

static int check_keys(struct cfg_ctx *c, const config_setting_t *root)
{
	int i, j, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *k = config_setting_name(s);

		for (j = 0; known_keys[j]; j++)
			if (strcmp(k, known_keys[j]) == 0)
				break;
		if (known_keys[j])
			continue;
		for (j = 0; j < (int)(sizeof renamed_keys / sizeof *renamed_keys); j++)
			if (strcmp(k, renamed_keys[j].old_name) == 0)
				return fail_at(c, s, "'%s' is now called '%s' (the same name in every SMS tool)", k,
				               renamed_keys[j].new_name);
		return fail_at(c, s, "unknown setting '%s'", k);
	}
	return 0;
}

int sms_config_load(const char *path, struct sms_config *out, char *err, size_t errlen)
{
	struct cfg_ctx c = { path, NULL, err, errlen };
	config_t lc;
	const config_setting_t *root;
	const char *slash;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	config_init(&lc);
	if (!path || !*path) {
		snprintf(err, errlen, "no configuration file given (plugin_opt_config)");
		goto out;
	}
	slash = strrchr(path, '/');
	if (slash) {
		c.dir = strndup(path, (size_t)(slash - path == 0 ? 1 : slash - path));
		if (!c.dir) {
			fail_at(&c, NULL, "out of memory");
			goto out;
		}
	}
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot be read", path);
		else
			snprintf(err, errlen, "%s:%d: %s", config_error_file(&lc) ? config_error_file(&lc) : path,
				 config_error_line(&lc), config_error_text(&lc));
		goto out;
	}
	root = config_root_setting(&lc);
	out->path = strdup(path);
	if (!out->path) {
		fail_at(&c, NULL, "out of memory");
		goto out;
	}
	if (check_keys(&c, root) != 0 ||
	    take_path(&c, root, "trust_root", true, &out->trust_root) != 0 ||
	    take_path(&c, root, "intermediates", false, &out->intermediates) != 0 ||
	    take_path(&c, root, "services_ca", true, &out->services_ca) != 0 ||
	    take_string_list(&c, root, "crls", true, true, &out->crls, &out->ncrls) != 0 ||
	    take_int(&c, root, "crl_check_interval", 60, 1, 86400, &out->crl_check_interval) != 0 ||
	    take_client_id_policy(&c, root, &out->client_id_policy) != 0 ||
	    take_int(&c, root, "client_id_owners_max", 100000, 1, 10000000, &out->client_id_owners_max) != 0 ||
	    take_string_list(&c, root, "public_read", false, false, &out->public_read, &out->npublic_read) != 0 ||
	    take_roles(&c, root, out) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		sms_config_free(out);
	config_destroy(&lc);
	free(c.dir);
	return rc;
}

static void free_list(char **list, size_t n)
{
	size_t i;

	for (i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

void sms_config_free(struct sms_config *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->trust_root);
	free(cfg->intermediates);
	free(cfg->services_ca);
	free_list(cfg->crls, cfg->ncrls);
	free_list(cfg->public_read, cfg->npublic_read);
	for (i = 0; cfg->roles && i < cfg->nroles; i++) {
		free(cfg->roles[i].name);
		for (j = 0; cfg->roles[i].rules && j < cfg->roles[i].nrules; j++)
			free(cfg->roles[i].rules[j].filter);
		free(cfg->roles[i].rules);
	}
	free(cfg->roles);
	memset(cfg, 0, sizeof(*cfg));
}
