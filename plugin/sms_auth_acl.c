/*
 * Topic access decisions. Runs for every message delivered to every
 * subscriber, so nothing here allocates, locks or touches a file: the
 * identity is the username set at connect, role rules are looked up in the
 * (small) role table by name.
 *
 * Containment is decided level by level, not by matching strings against
 * each other: a filter is inside a pattern only if no topic can match the
 * filter without also matching the pattern.
 *
 * Direction (DESIGN.md "The way back"): a tenant's scope decides what it
 * reaches (thesis Table 4.1: read and subscribe on its whole subtree), the
 * channel decides who writes. Equipment writes only its own snapshots and
 * firmware/status; receipts, firmware, crl and commands come from vendor
 * roles (their rules in the configuration). Account and master-account
 * clients (customers) audit: they write nothing. Only WRITE is narrowed,
 * so the READ path is untouched.
 *
 * A customer-site bridge ("bridge:<ma>/<name>") carries its site's devices
 * and what comes back to them: it reads and subscribes what its master
 * account reads, and writes what the devices of that tree write, on their
 * behalf. It never reaches outside "<ma>": the scope comes from the
 * certificate, so the vendor side needs no per-customer configuration.
 */
#include "plugin/sms_auth.h"

#include <string.h>

/* One topic level [start, end): end points at '/' or the terminating NUL. */
static const char *level_end(const char *s)
{
	while (*s && *s != '/')
		s++;
	return s;
}

static bool level_is(const char *start, const char *end, char c)
{
	return end - start == 1 && start[0] == c;
}

bool acl_filter_valid(const char *filter)
{
	const char *s, *e;

	if (!filter || !*filter)
		return false;
	for (s = filter;; s = e + 1) {
		e = level_end(s);
		if (memchr(s, '#', (size_t)(e - s)) && !(level_is(s, e, '#') && *e == '\0'))
			return false;
		if (memchr(s, '+', (size_t)(e - s)) && !level_is(s, e, '+'))
			return false;
		if (*e == '\0')
			return true;
	}
}

bool acl_topic_valid(const char *topic)
{
	if (!topic || !*topic)
		return false;
	return strpbrk(topic, "+#") == NULL;
}

const char *acl_share_strip(const char *filter)
{
	const char *group, *slash;

	if (!filter)
		return NULL;
	if (strncmp(filter, "$share/", 7) != 0)
		return filter;
	group = filter + 7;
	slash = strchr(group, '/');
	if (!slash || slash == group)
		return NULL;
	if (memchr(group, '+', (size_t)(slash - group)) || memchr(group, '#', (size_t)(slash - group)))
		return NULL;
	if (slash[1] == '\0')
		return NULL;
	return slash + 1;
}

/* acl_filter_within for arguments already known to be valid filters: the
 * hot path validates the target once and the config validated the patterns
 * at load, so neither is re-scanned for every rule of every delivery. */
static bool filter_within(const char *filter, const char *pattern)
{
	const char *f = filter, *p = pattern, *fe, *pe;
	bool first = true;

	for (;;) {
		fe = level_end(f);
		pe = level_end(p);
		if (level_is(p, pe, '#'))
			/* A leading wildcard in the pattern does not reach "$..." topics. */
			return !(first && f[0] == '$');
		if (level_is(f, fe, '#')) {
			/* "x/#" also matches its parent "x"; "#" and "/#" have no
			 * parent (the empty topic does not exist), so there "#"
			 * means exactly "+/#". */
			bool has_parent = !(f == filter || f == filter + 1);

			return !has_parent && level_is(p, pe, '+') && strcmp(pe, "/#") == 0;
		}
		if (level_is(f, fe, '+')) {
			if (!level_is(p, pe, '+'))
				return false;
		} else if (level_is(p, pe, '+')) {
			if (first && f[0] == '$')
				return false;
		} else if (fe - f != pe - p || memcmp(f, p, (size_t)(fe - f)) != 0) {
			return false;
		}
		first = false;
		if (*fe == '\0' && *pe == '\0')
			return true;
		if (*fe == '\0')
			/* "a/#" also matches "a" itself. */
			return strcmp(pe + 1, "#") == 0;
		if (*pe == '\0')
			return false;
		f = fe + 1;
		p = pe + 1;
	}
}

bool acl_filter_within(const char *filter, const char *pattern)
{
	return acl_filter_valid(filter) && acl_filter_valid(pattern) && filter_within(filter, pattern);
}

/* The scope is literal (identity.c refuses + # $ and '/' inside values), so
 * prefix equality on whole levels is containment. */
static bool scope_contains(const char *scope, size_t scope_len, const char *filter)
{
	if (strncmp(filter, scope, scope_len) != 0)
		return false;
	return filter[scope_len] == '\0' || filter[scope_len] == '/';
}

bool acl_scope_contains(const char *scope, size_t scope_len, const char *filter)
{
	if (!scope || scope_len == 0 || !acl_filter_valid(filter))
		return false;
	return scope_contains(scope, scope_len, filter);
}

bool sms_client_id_allowed(const char *username, const char *client_id)
{
	size_t n;
	const char *c;

	if (!username || !client_id || !*username)
		return false;
	n = strlen(username);
	if (strncmp(client_id, username, n) != 0 || (client_id[n] != '\0' && client_id[n] != '@'))
		return false;
	/* mosquitto logs client ids raw: keep what it would print plain. */
	for (c = client_id + n; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return false;
	return true;
}

const struct sms_role *sms_config_role(const struct sms_config *cfg, const char *name)
{
	size_t i;

	if (!cfg || !name)
		return NULL;
	for (i = 0; i < cfg->nroles; i++)
		if (strcmp(cfg->roles[i].name, name) == 0)
			return &cfg->roles[i];
	return NULL;
}

/*
 * A username sms_auth would have set for a tenant: 1-3 non-empty levels
 * without wildcards or '$'. Anything else (say, a username restored from a
 * persistence file written under another configuration) grants nothing.
 */
static bool scope_valid(const char *scope, size_t *len)
{
	const char *s;
	int levels = 1;

	if (!*scope || *scope == '/')
		return false;
	for (s = scope; *s; s++) {
		if (*s == '+' || *s == '#' || *s == '$')
			return false;
		if (*s == '/') {
			if (s[1] == '/' || s[1] == '\0' || ++levels > 3)
				return false;
		}
	}
	*len = (size_t)(s - scope);
	return true;
}

/* The channels below "<ma>/<acc>/<eq>/" that the equipment itself writes. */
static const char *const equipment_writes[] = { "snapshots", "firmware/status", NULL };

/* WRITE for a tenant whose scope (levels counted by scope_valid) contains
 * topic: equipment on its own writer channels, nobody else. */
static bool tenant_may_write(const char *scope, size_t scope_len, const char *topic)
{
	const char *channel = topic + scope_len;
	const char *s;
	size_t i;
	int levels = 1;

	for (s = scope; s < scope + scope_len; s++)
		if (*s == '/')
			levels++;
	if (levels != 3 || *channel != '/')
		return false;
	channel++;
	for (i = 0; equipment_writes[i]; i++)
		if (strcmp(channel, equipment_writes[i]) == 0)
			return true;
	return false;
}

/* "<ma>/<acc>/<eq>/<channel>" with an equipment writer channel, for any
 * acc and eq of the master account ma_len bytes long at topic's start. */
static bool bridge_may_write(size_t ma_len, const char *topic)
{
	const char *acc, *eq, *channel;
	size_t i;

	if (topic[ma_len] != '/')
		return false;
	acc = topic + ma_len + 1;
	eq = level_end(acc);
	if (eq == acc || *eq != '/')
		return false;
	eq++;
	channel = level_end(eq);
	if (channel == eq || *channel != '/')
		return false;
	channel++;
	for (i = 0; equipment_writes[i]; i++)
		if (strcmp(channel, equipment_writes[i]) == 0)
			return true;
	return false;
}

/* The master account of a bridge username "bridge:<ma>/<name>" (a literal
 * level, as identity.c made it); false for anything else. */
static bool bridge_master(const char *username, const char **ma, size_t *len)
{
	const char *m = username + IDENTITY_BRIDGE_PREFIX_LEN, *end = level_end(m), *c;

	if (end == m || *end != '/' || end[1] == '\0' || strchr(end + 1, '/'))
		return false;
	for (c = m; c < end; c++)
		if (*c == '+' || *c == '#' || *c == '$')
			return false;
	*ma = m;
	*len = (size_t)(end - m);
	return true;
}

static bool role_allows(const struct sms_role *role, unsigned need, const char *target)
{
	size_t i;

	for (i = 0; i < role->nrules; i++)
		if ((role->rules[i].access & need) && filter_within(target, role->rules[i].filter))
			return true;
	return false;
}

bool acl_allows(const struct sms_config *cfg, const char *username, int access, const char *topic)
{
	const char *target;
	size_t i;

	if (!cfg || !username || !*username || !topic)
		return false;
	switch (access) {
	case ACL_READ:
	case ACL_WRITE:
		/* mosquitto refuses wildcards in PUBLISH; refuse again here. A
		 * valid topic is also a valid filter, as filter_within needs. */
		if (!acl_topic_valid(topic))
			return false;
		target = topic;
		break;
	case ACL_SUBSCRIBE:
	case ACL_UNSUBSCRIBE:
		target = acl_share_strip(topic);
		if (!target || !acl_filter_valid(target))
			return false;
		break;
	default:
		return false;
	}
	/* Unsubscribing can only reduce what a client receives; it must keep
	 * working after a reload took a grant away. */
	if (access == ACL_UNSUBSCRIBE)
		return true;

	if (strncmp(username, SMS_ROLE_PREFIX, SMS_ROLE_PREFIX_LEN) == 0) {
		const struct sms_role *role = sms_config_role(cfg, username + SMS_ROLE_PREFIX_LEN);

		if (!role)
			return false;
		if (role_allows(role, (unsigned)access, target))
			return true;
	} else if (strncmp(username, IDENTITY_BRIDGE_PREFIX, IDENTITY_BRIDGE_PREFIX_LEN) == 0) {
		const char *ma;
		size_t len;

		if (!bridge_master(username, &ma, &len))
			return false;
		if (scope_contains(ma, len, target))
			return access != ACL_WRITE || bridge_may_write(len, target);
	} else {
		size_t len;

		if (!scope_valid(username, &len))
			return false;
		if (scope_contains(username, len, target))
			return access != ACL_WRITE || tenant_may_write(username, len, target);
	}
	if (access == ACL_READ || access == ACL_SUBSCRIBE)
		for (i = 0; i < cfg->npublic_read; i++)
			if (filter_within(target, cfg->public_read[i]))
				return true;
	return false;
}
