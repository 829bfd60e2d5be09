/*
 * sms_auth.so: mosquitto 2.0 plugin (API v5). The callbacks are thin; the
 * decisions live in sms_auth_acl.c and sms_auth_chain.c.
 *
 *   BASIC_AUTH  verify the client certificate chain, set username = identity,
 *               bind the client id to that identity
 *   ACL_CHECK   acl_allows() on the username: no allocation, lock or I/O
 *   TICK        every crl_check_interval s: reload changed CRLs, re-check the
 *               connected clients, disconnect the revoked and expired ones
 *   RELOAD      (SIGHUP) re-read the configuration and CRLs
 *   DISCONNECT  forget the client's stored chain
 *
 * mosquitto runs the callbacks on its single main thread, so plugin state is
 * not locked. Requires per_listener_settings false (mosquitto 2.0.11 does not
 * deliver MOSQ_EVT_TICK otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <uthash.h>

#include "plugin/sms_auth.h"
#include "common/crl_set.h"
#include "common/log.h"
#include "common/log_limit.h"
#include "common/version.h"

/* ACL denial lines: at most a burst of 20, then one a second; the rest is
 * counted and reported as one line (before the next denial line, or on a
 * tick once 10 s passed), so a client looping on a forbidden topic cannot
 * flood the broker's log. */
#define DENIAL_LOG_BURST 20
#define DENIAL_LOG_PER_SECOND 1.0
#define DENIAL_LOG_QUIET_MS 10000

_Static_assert(ACL_READ == MOSQ_ACL_READ && ACL_WRITE == MOSQ_ACL_WRITE &&
	       ACL_SUBSCRIBE == MOSQ_ACL_SUBSCRIBE && ACL_UNSUBSCRIBE == MOSQ_ACL_UNSUBSCRIBE,
	       "acl_access must mirror MOSQ_ACL_*");

/* A connected client's verified chain, for re-checks when CRLs change. */
struct sms_client {
	struct mosquitto *client;   /* key */
	STACK_OF(X509) *chain;
	time_t not_after;           /* earliest notAfter on the chain */
	bool is_role;
	UT_hash_handle hh;
};

/*
 * client_id_policy "any": which identity first used a client id. mosquitto
 * hands a session (its subscriptions and queued messages) to whoever
 * connects with the same client id, and drops the earlier connection.
 * Entries outlive connections because sessions do; they are not persisted,
 * so after a restart the first identity to come back claims an id (which is
 * why "prefix" is the default). At most client_id_owners_max entries.
 */
struct sms_owner {
	char *client_id;            /* key */
	char name[IDENTITY_SCOPE_MAX];
	UT_hash_handle hh;
};

struct sms_plugin {
	mosquitto_plugin_id_t *id;
	char *config_path;
	struct sms_config cfg;
	struct sms_trust trust;
	/* New connections are refused while the CRLs cannot be trusted. */
	bool crls_unusable;
	char crl_problem[400];
	bool recheck_pending;
	time_t next_check;
	struct sms_client *clients;
	struct sms_owner *owners;
	log_limit denial_log;
};

static time_t monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Client ids are chosen by the client: escaped before they reach the log. */
static const char *printable(const char *in, char *out, size_t outlen)
{
	return in ? log_escape(in, out, outlen) : "?";
}

static void client_forget(struct sms_plugin *p, struct sms_client *c)
{
	HASH_DEL(p->clients, c);
	sk_X509_pop_free(c->chain, X509_free);
	free(c);
}

static void refuse_log(struct mosquitto *client, X509 *leaf, const char *reason)
{
	char subject[512];
	const char *addr = mosquitto_client_address(client);

	if (leaf)
		sms_subject_string(leaf, subject, sizeof(subject));
	else
		snprintf(subject, sizeof(subject), "(none)");
	mosquitto_log_printf(MOSQ_LOG_WARNING, "sms_auth: refused client from %s, subject \"%s\": %s",
			     addr ? addr : "?", subject, reason);
}

/* client_id_policy "any": the first identity to use an id keeps it. */
static int claim_first_come(struct sms_plugin *p, const char *client_id, const char *name, char *err, size_t errlen)
{
	struct sms_owner *o = NULL;
	char safe[128];

	HASH_FIND_STR(p->owners, client_id, o);
	if (o) {
		if (strcmp(o->name, name) == 0)
			return 0;
		snprintf(err, errlen, "client id '%s' belongs to %s", printable(client_id, safe, sizeof(safe)), o->name);
		return -1;
	}
	/* Full: refuse rather than evict, since evicting would hand an id over. */
	if (HASH_COUNT(p->owners) >= (unsigned)p->cfg.client_id_owners_max) {
		snprintf(err, errlen, "client id '%s' is new and the table of client ids is full (client_id_owners_max %d)",
			 printable(client_id, safe, sizeof(safe)), p->cfg.client_id_owners_max);
		return -1;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->client_id = strdup(client_id))) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(o->name, sizeof(o->name), "%s", name);
	HASH_ADD_KEYPTR(hh, p->owners, o->client_id, strlen(o->client_id), o);
	return 0;
}

/*
 * mosquitto gives a session to whoever connects with its client id: an id
 * must never be usable by two identities. "prefix" makes that a property
 * of the id itself, so it holds across broker restarts with no state.
 */
static int claim_client_id(struct sms_plugin *p, const char *client_id, const char *name, char *err, size_t errlen)
{
	char safe[128];

	if (!client_id || !*client_id) {
		snprintf(err, errlen, "no client id");
		return -1;
	}
	if (p->cfg.client_id_policy == SMS_CLIENT_ID_ANY)
		return claim_first_come(p, client_id, name, err, errlen);
	if (sms_client_id_allowed(name, client_id))
		return 0;
	snprintf(err, errlen, "client id '%s' is not %s or %s@<printable ASCII> (client_id_policy prefix)",
		 printable(client_id, safe, sizeof(safe)), name, name);
	return -1;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct sms_plugin *p = userdata;
	struct sms_client *c = NULL;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf;
	identity id;
	char err[512];
	int rc = MOSQ_ERR_AUTH;

	(void)event;
	leaf = mosquitto_client_certificate(ed->client);
	if (!leaf) {
		refuse_log(ed->client, NULL, "no client certificate (listener needs require_certificate true)");
		return MOSQ_ERR_AUTH;
	}
	if (p->crls_unusable) {
		snprintf(err, sizeof(err), "revocation status cannot be checked (%s)", p->crl_problem);
		refuse_log(ed->client, leaf, err);
		goto out;
	}
	if (sms_authenticate(&p->trust, &p->cfg, leaf, &id, &chain, err, sizeof(err)) != 0) {
		refuse_log(ed->client, leaf, err);
		goto out;
	}
	if (claim_client_id(p, mosquitto_client_id(ed->client), id.name, err, sizeof(err)) != 0) {
		refuse_log(ed->client, leaf, err);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse_log(ed->client, leaf, "out of memory");
		goto out;
	}
	if (mosquitto_set_username(ed->client, id.name) != MOSQ_ERR_SUCCESS) {
		refuse_log(ed->client, leaf, "cannot set the username");
		goto out;
	}
	c->client = ed->client;
	c->chain = chain;
	c->not_after = sms_chain_not_after(chain);
	c->is_role = id.kind == IDENTITY_ROLE;
	chain = NULL;
	{
		struct sms_client *old = NULL;

		HASH_FIND_PTR(p->clients, &c->client, old);
		if (old)
			client_forget(p, old);
	}
	HASH_ADD_PTR(p->clients, client, c);
	c = NULL;
	mosquitto_log_printf(MOSQ_LOG_INFO, "sms_auth: client %s from %s authenticated as %s",
			     printable(mosquitto_client_id(ed->client), err, sizeof(err)),
			     mosquitto_client_address(ed->client) ? mosquitto_client_address(ed->client) : "?",
			     id.name);
	rc = MOSQ_ERR_SUCCESS;
out:
	free(c);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	return rc;
}

static const char *access_name(int access)
{
	switch (access) {
	case MOSQ_ACL_READ: return "read";
	case MOSQ_ACL_WRITE: return "write";
	case MOSQ_ACL_SUBSCRIBE: return "subscribe";
	case MOSQ_ACL_UNSUBSCRIBE: return "unsubscribe";
	}
	return "access";
}

static void log_suppressed(unsigned long long n, const char *when)
{
	mosquitto_log_printf(MOSQ_LOG_WARNING, "sms_auth: %llu similar lines suppressed (ACL denials%s)", n, when);
}

/* Only on the refusing path: the allowing one stays free of work. */
static void log_denial(struct sms_plugin *p, const struct mosquitto_evt_acl_check *ed)
{
	char id[200], topic[300];
	const char *who = mosquitto_client_username(ed->client);
	unsigned long long before;

	if (!log_limit_take(&p->denial_log, monotonic_ms(), &before))
		return;
	if (before > 0)
		log_suppressed(before, "");
	mosquitto_log_printf(MOSQ_LOG_WARNING, "sms_auth: denied %s on \"%s\" to %s (client %s)",
			     access_name(ed->access), printable(ed->topic, topic, sizeof(topic)), who ? who : "?",
			     printable(mosquitto_client_id(ed->client), id, sizeof(id)));
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct sms_plugin *p = userdata;

	(void)event;
	if (acl_allows(&p->cfg, mosquitto_client_username(ed->client), ed->access, ed->topic))
		return MOSQ_ERR_SUCCESS;
	log_denial(p, ed);
	return MOSQ_ERR_ACL_DENIED;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct sms_plugin *p = userdata;
	struct sms_client *c = NULL;

	(void)event;
	/* The client id may already be gone (refused connects): key is the pointer. */
	HASH_FIND_PTR(p->clients, &ed->client, c);
	if (c)
		client_forget(p, c);
	return MOSQ_ERR_SUCCESS;
}

/* Client ids to disconnect, collected first: a kick re-enters on_disconnect. */
struct kick_list {
	char **ids;
	size_t n, cap;
};

static void kick_queue(struct kick_list *k, struct mosquitto *client, const char *why)
{
	const char *id = mosquitto_client_id(client);
	const char *user = mosquitto_client_username(client);
	char **grown, safe_id[256];

	mosquitto_log_printf(MOSQ_LOG_WARNING, "sms_auth: disconnecting client %s (%s) from %s: %s",
			     printable(id, safe_id, sizeof(safe_id)), user ? user : "?",
			     mosquitto_client_address(client) ? mosquitto_client_address(client) : "?", why);
	if (!id)
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;

		grown = realloc(k->ids, cap * sizeof(*grown));
		if (!grown) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: out of memory queueing a disconnect of %s", safe_id);
			return;
		}
		k->ids = grown;
		k->cap = cap;
	}
	k->ids[k->n] = strdup(id);
	if (k->ids[k->n])
		k->n++;
}

static void kick_all(struct kick_list *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		int rc = mosquitto_kick_client_by_clientid(k->ids[i], false);

		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NOT_FOUND) {
			char safe_id[256];

			mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: disconnecting %s failed: %s",
					     printable(k->ids[i], safe_id, sizeof(safe_id)), mosquitto_strerror(rc));
		}
		free(k->ids[i]);
	}
	free(k->ids);
	memset(k, 0, sizeof(*k));
}

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	snprintf(buf, len, "none");
	if (t && gmtime_r(&t, &tm))
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What was loaded, per issuer: which CRL (crlNumber) and until when. */
static void log_each_crl(const struct crl_set *set)
{
	struct crl_set_entry e;
	char this_update[32], next_update[32];
	size_t i;

	for (i = 0; i < crl_set_count(set); i++) {
		crl_set_entry_at(set, i, &e);
		iso_time(e.this_update, this_update, sizeof(this_update));
		iso_time(e.next_update, next_update, sizeof(next_update));
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				     "sms_auth: CRL of \"%s\": crlNumber %s, thisUpdate %s, nextUpdate %s, %zu revoked",
				     e.issuer, e.crl_number, this_update, next_update, e.revoked);
	}
}

/* The one line operators and tests look for after every accepted CRL load. */
static void log_crls_loaded(const struct sms_trust *t, const char *why)
{
	struct crl_set_summary s;
	char next[32] = "none";
	struct tm tm;

	crl_set_summary(t->crls, &s);
	if (s.earliest_next_update && gmtime_r(&s.earliest_next_update, &tm))
		strftime(next, sizeof(next), "%Y-%m-%dT%H:%M:%SZ", &tm);
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			     "sms_auth: CRLs %s: %zu issuers, %zu CRLs, %zu revoked entries, earliest nextUpdate %s",
			     why, s.issuers, s.crls, s.revoked, next);
	log_each_crl(t->crls);
}

/* Loads CRLs anew into a fresh store; the old one stays if that fails. */
static bool reload_trust(struct sms_plugin *p, const struct sms_config *cfg)
{
	struct sms_trust fresh;
	char err[512];

	if (sms_trust_load(cfg, &p->trust, &fresh, err, sizeof(err)) != 0) {
		p->crls_unusable = true;
		snprintf(p->crl_problem, sizeof(p->crl_problem), "%.300s", err);
		mosquitto_log_printf(MOSQ_LOG_ERR,
				     "sms_auth: CRL reload failed: %s; refusing new connections, keeping %u connected",
				     err, HASH_COUNT(p->clients));
		return false;
	}
	sms_trust_free(&p->trust);
	p->trust = fresh;
	log_crls_loaded(&p->trust, "reloaded");
	if (p->crls_unusable)
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "sms_auth: CRLs readable again; accepting connections");
	p->crls_unusable = false;
	p->crl_problem[0] = '\0';
	return true;
}

static void recheck_clients(struct sms_plugin *p, struct kick_list *k)
{
	struct sms_client *c, *tmp;
	unsigned unsure = 0;
	char err[256], first[256] = "";

	HASH_ITER(hh, p->clients, c, tmp) {
		switch (sms_trust_recheck(&p->trust, c->chain, c->is_role, err, sizeof(err))) {
		case SMS_RECHECK_OK:
			break;
		case SMS_RECHECK_REVOKED:
		case SMS_RECHECK_EXPIRED:
		case SMS_RECHECK_NOT_ROLE:
			kick_queue(k, c->client, err);
			break;
		case SMS_RECHECK_UNSURE:
			if (!unsure++)
				snprintf(first, sizeof(first), "%s", err);
			break;
		}
	}
	if (unsure)
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: %u connected clients kept although %s", unsure, first);
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct sms_plugin *p = userdata;
	struct kick_list kicks = { NULL, 0, 0 };
	struct sms_client *c, *tmp;
	time_t now = monotonic_s(), wall = time(NULL);
	unsigned long long n_suppressed;
	char expired[512];

	(void)event;
	(void)event_data;
	if ((n_suppressed = log_limit_flush(&p->denial_log, monotonic_ms(), DENIAL_LOG_QUIET_MS)) > 0)
		log_suppressed(n_suppressed, " in the last seconds");
	if (now < p->next_check && !p->recheck_pending)
		return MOSQ_ERR_SUCCESS;
	p->next_check = now + p->cfg.crl_check_interval;

	if (p->recheck_pending || p->crls_unusable || crl_set_files_changed(p->trust.crls)) {
		if (reload_trust(p, &p->cfg))
			recheck_clients(p, &kicks);
		p->recheck_pending = false;
	}
	if (p->crls_unusable)
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: CRLs unusable (%s): new connections refused",
				     p->crl_problem);
	if (crl_set_expiring(p->trust.crls, wall, 0, expired, sizeof(expired)) > 0)
		mosquitto_log_printf(MOSQ_LOG_ERR,
				     "sms_auth: CRL past nextUpdate from %s: new connections below it refused, "
				     "connected clients kept", expired);
	HASH_ITER(hh, p->clients, c, tmp) {
		if (c->not_after && c->not_after <= wall)
			kick_queue(&kicks, c->client, "certificate or an issuing CA has expired");
	}
	kick_all(&kicks);
	return MOSQ_ERR_SUCCESS;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	struct sms_plugin *p = userdata;
	struct sms_config fresh;
	struct sms_trust trust;
	char err[512];

	(void)event;
	(void)event_data;
	if (sms_config_load(p->config_path, &fresh, err, sizeof(err)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: reload refused, keeping the running configuration: %s", err);
		return MOSQ_ERR_SUCCESS;
	}
	/* All or nothing: a new file whose CRLs or CAs do not load changes nothing. */
	if (sms_trust_load(&fresh, &p->trust, &trust, err, sizeof(err)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: reload refused, keeping the running configuration: %s "
				     "(configured in %s)", err, p->config_path);
		sms_config_free(&fresh);
		return MOSQ_ERR_SUCCESS;
	}
	sms_trust_free(&p->trust);
	p->trust = trust;
	log_crls_loaded(&p->trust, "reloaded");
	p->crls_unusable = false;
	p->crl_problem[0] = '\0';
	sms_config_free(&p->cfg);
	p->cfg = fresh;
	/* Kicks happen in the next tick, not inside the reload. */
	p->recheck_pending = true;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "sms_auth: reloaded %s (%zu roles, %zu CRL files)",
			     p->config_path, p->cfg.nroles, p->cfg.ncrls);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;

	for (i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

static void plugin_free(struct sms_plugin *p)
{
	struct sms_client *c, *tmp;
	struct sms_owner *o, *otmp;

	if (!p)
		return;
	HASH_ITER(hh, p->clients, c, tmp)
		client_forget(p, c);
	HASH_ITER(hh, p->owners, o, otmp) {
		HASH_DEL(p->owners, o);
		free(o->client_id);
		free(o);
	}
	sms_trust_free(&p->trust);
	sms_config_free(&p->cfg);
	free(p->config_path);
	free(p);
}

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} callbacks[] = {
	{ MOSQ_EVT_BASIC_AUTH, on_basic_auth },
	{ MOSQ_EVT_ACL_CHECK, on_acl_check },
	{ MOSQ_EVT_TICK, on_tick },
	{ MOSQ_EVT_RELOAD, on_reload },
	{ MOSQ_EVT_DISCONNECT, on_disconnect },
};

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
			  struct mosquitto_opt *options, int option_count)
{
	struct sms_plugin *p;
	const char *path = NULL;
	char err[512];
	size_t i;
	int k, rc;

	for (k = 0; k < option_count; k++) {
		if (strcmp(options[k].key, "config") == 0) {
			path = options[k].value;
		} else {
			mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: unknown option plugin_opt_%s (only plugin_opt_config)",
					     options[k].key);
			return MOSQ_ERR_INVAL;
		}
	}
	if (!path) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: plugin_opt_config <file> is missing");
		return MOSQ_ERR_INVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->config_path = strdup(path))) {
		free(p);
		return MOSQ_ERR_NOMEM;
	}
	p->id = identifier;
	if (sms_config_load(path, &p->cfg, err, sizeof(err)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: %s", err);
		plugin_free(p);
		return MOSQ_ERR_INVAL;
	}
	/* At start a CRL problem is a configuration error: refuse to run. */
	if (sms_trust_load(&p->cfg, NULL, &p->trust, err, sizeof(err)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: %s (configured in %s)", err, path);
		plugin_free(p);
		return MOSQ_ERR_INVAL;
	}
	log_crls_loaded(&p->trust, "loaded");
	for (i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++) {
		rc = mosquitto_callback_register(identifier, callbacks[i].event, callbacks[i].cb, NULL, p);
		if (rc != MOSQ_ERR_SUCCESS) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "sms_auth: cannot register callback %d: %s",
					     callbacks[i].event, mosquitto_strerror(rc));
			while (i-- > 0)
				mosquitto_callback_unregister(identifier, callbacks[i].event, callbacks[i].cb, NULL);
			plugin_free(p);
			return rc;
		}
	}
	p->next_check = monotonic_s() + p->cfg.crl_check_interval;
	log_limit_init(&p->denial_log, DENIAL_LOG_PER_SECOND, DENIAL_LOG_BURST);
	*userdata = p;
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			     "sms_auth: loaded %s (sms %s; %zu roles, %zu CRL files, check every %d s, client_id_policy %s)",
			     path, sms_version(), p->cfg.nroles, p->cfg.ncrls, p->cfg.crl_check_interval,
			     p->cfg.client_id_policy == SMS_CLIENT_ID_ANY ? "any" : "prefix");
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct sms_plugin *p = userdata;
	size_t i;

	(void)options;
	(void)option_count;
	if (!p)
		return MOSQ_ERR_SUCCESS;
	for (i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++)
		mosquitto_callback_unregister(p->id, callbacks[i].event, callbacks[i].cb, NULL);
	plugin_free(p);
	return MOSQ_ERR_SUCCESS;
}
