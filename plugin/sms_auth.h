/*
 * sms_auth: private interfaces of the broker plugin's modules.
 *
 *   sms_auth_acl.c     topic/filter algebra and the access decision (pure)
 *   sms_auth_config.c  libconfig file -> struct sms_config
 *   sms_auth_chain.c   trust store, CRLs, chain verification, identity binding
 *   sms_auth_plugin.c  mosquitto callbacks (the only file that knows mosquitto)
 *
 * Everything but the callbacks is testable without a broker. Errors come
 * back as text in (err, errlen) for the caller to log with its context.
 */
#ifndef SMS_AUTH_H
#define SMS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/identity.h"

/* Same values as mosquitto's MOSQ_ACL_* (checked in sms_auth_plugin.c). */
enum acl_access {
	ACL_READ = 0x01,
	ACL_WRITE = 0x02,
	ACL_SUBSCRIBE = 0x04,
	ACL_UNSUBSCRIBE = 0x08
};

#define SMS_ROLE_PREFIX "role:"
#define SMS_ROLE_PREFIX_LEN 5

/* ------------------------------------------------------------ config */

struct sms_rule {
	unsigned access;        /* ACL_READ | ACL_WRITE | ACL_SUBSCRIBE */
	char *filter;           /* valid MQTT filter, never $share */
};

struct sms_role {
	char *name;
	struct sms_rule *rules;
	size_t nrules;
};

/* Which client ids an identity may use (see acl/README.md "Client ids"). */
enum sms_client_id_policy {
	SMS_CLIENT_ID_PREFIX,   /* "<username>" or "<username>@<printable ASCII>" */
	SMS_CLIENT_ID_ANY       /* any; the first identity to use one keeps it */
};

struct sms_config {
	char *path;
	char *trust_root;       /* TLS root certificate (PEM) */
	char *intermediates;    /* PEM file or directory of PEM files; may be NULL */
	char *services_ca;      /* the only CA whose leaves may hold roles */
	char **crls;
	size_t ncrls;
	int crl_check_interval; /* seconds, >= 1 */
	enum sms_client_id_policy client_id_policy;
	int client_id_owners_max; /* SMS_CLIENT_ID_ANY: client ids remembered at most */
	char **public_read;     /* filters every authenticated client may read */
	size_t npublic_read;
	struct sms_role *roles;
	size_t nroles;
};

/*
 * Reads and checks the whole file. On error returns -1 with one line in err
 * naming the file, the line (when known) and the problem. Paths in the file
 * are relative to the file's directory.
 */
int sms_config_load(const char *path, struct sms_config *out, char *err, size_t errlen);
void sms_config_free(struct sms_config *cfg);
const struct sms_role *sms_config_role(const struct sms_config *cfg, const char *name);

/*
 * SMS_CLIENT_ID_PREFIX: true when client_id is username itself or username
 * followed by '@' and printable ASCII (no space: mosquitto logs client ids
 * as they are). '@' is outside the identifier grammar and
 * not '/', so no identity's ids can be another's: "000001" cannot use
 * "000001/00002/...", "EQ1" cannot use "EQ1-x"'s, a master account named
 * "role" cannot use "role:<r>".
 */
bool sms_client_id_allowed(const char *username, const char *client_id);

/* --------------------------------------------------------------- acl */

/* MQTT filter syntax: non-empty, '+' and '#' only as whole levels, '#' last. */
bool acl_filter_valid(const char *filter);
/* A topic one may publish to: non-empty, no '+' or '#'. */
bool acl_topic_valid(const char *topic);
/* "$share/<group>/<filter>" -> "<filter>"; other filters unchanged; NULL if malformed. */
const char *acl_share_strip(const char *filter);
/*
 * True iff every topic matched by filter is matched by pattern (MQTT
 * semantics: "a/#" matches "a"; leading wildcards do not match "$..."
 * topics). Invalid filters or patterns are never within anything.
 */
bool acl_filter_within(const char *filter, const char *pattern);
/* acl_filter_within(filter, "<scope>/#") for a literal scope, without the copy. */
bool acl_scope_contains(const char *scope, size_t scope_len, const char *filter);
/*
 * The decision for one request. username is what sms_auth set at connect
 * ("ma/acc/eq", "ma/acc", "ma", "role:<name>" or "bridge:<ma>/<name>");
 * topic is the topic (READ, WRITE) or the filter (SUBSCRIBE, UNSUBSCRIBE).
 * A tenant reads and subscribes within its scope; it writes only as the
 * channel's writer (DESIGN.md "The way back"): equipment "<own>/snapshots"
 * and "<own>/firmware/status", account and master-account clients nothing.
 * A customer-site bridge reads what its master account reads and writes
 * the equipment channels of every device below it. Roles get what their
 * rules say. No allocation, no I/O.
 */
bool acl_allows(const struct sms_config *cfg, const char *username, int access, const char *topic);

/* ------------------------------------------------------------- chain */

struct crl_set;

struct sms_trust {
	X509_STORE *store;      /* trust anchor + the verified CRLs, CRL checks on all levels */
	STACK_OF(X509) *intermediates;
	X509 *services_ca;
	struct crl_set *crls;   /* common/crl_set.h: every CRL verified against its issuer */
};

/*
 * Loads trust anchor, intermediates, service CA and CRLs named by cfg. Every
 * CRL must verify against one of those CAs, or nothing loads. With previous
 * (the trust in use) a CRL older than the one previous holds for the same
 * issuer is refused too (a replayed CRL would un-revoke).
 */
int sms_trust_load(const struct sms_config *cfg, const struct sms_trust *previous, struct sms_trust *out,
		   char *err, size_t errlen);
void sms_trust_free(struct sms_trust *t);

/*
 * Connect-time decision: verifies leaf (+ configured intermediates) against
 * the trust store with CRLs on every level, maps the subject to an
 * identity, honours roles only when the verified issuer is the service CA
 * and the role exists in cfg. On success *chain_out is the verified chain
 * (leaf first) for later re-checks.
 */
int sms_authenticate(const struct sms_trust *t, const struct sms_config *cfg, X509 *leaf,
		     identity *id, STACK_OF(X509) **chain_out, char *err, size_t errlen);

/* What a re-check of a stored chain found. */
enum sms_recheck {
	SMS_RECHECK_OK,          /* still valid */
	SMS_RECHECK_REVOKED,     /* certificate or an issuing CA revoked: disconnect */
	SMS_RECHECK_EXPIRED,     /* certificate or an issuing CA expired: disconnect */
	SMS_RECHECK_NOT_ROLE,    /* holds a role but no longer issued by services_ca: disconnect */
	SMS_RECHECK_UNSURE       /* CRLs unusable (missing, expired, bad): keep, log */
};
enum sms_recheck sms_trust_recheck(const struct sms_trust *t, const STACK_OF(X509) *chain,
				   bool is_role, char *err, size_t errlen);
/* Earliest notAfter over the chain (0 if unreadable). */
time_t sms_chain_not_after(const STACK_OF(X509) *chain);

/* RFC 2253 subject with controls and non-ASCII escaped: safe for logs. */
void sms_subject_string(const X509 *cert, char *buf, size_t buflen);

#endif
