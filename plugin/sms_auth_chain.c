/*
 * Trust decisions: the plugin's own X509_STORE (trust anchor + CRLs of every
 * CA), chain verification with CRL checks on every level, and binding the
 * verified chain to an SMS identity.
 *
 * mosquitto hands the plugin the leaf only; the intermediates the client
 * sent in the handshake are gone, so they come from the configuration.
 * mosquitto's own crlfile checks the leaf only and is never reloaded while
 * running, which is why revocation is decided here.
 */
#include "plugin/sms_auth.h"
#include "common/crl_set.h"
#include "common/errf.h"
#include "common/x509_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

static int add_certs_from(const char *path, STACK_OF(X509) *sk, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos;
	int i, rc = -1, added = 0;

	if (x509_read_pem(path, &infos, err, errlen) != 0)
		return -1;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (!xi->x509)
			continue;
		if (!X509_up_ref(xi->x509)) {
			errf(err, errlen, "%s: %s", path, x509_ossl_reason());
			goto out;
		}
		if (!sk_X509_push(sk, xi->x509)) {
			X509_free(xi->x509);
			errf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		added++;
	}
	if (added == 0) {
		errf(err, errlen, "%s: holds no certificate", path);
		goto out;
	}
	rc = 0;
out:
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return rc;
}

static int load_one_cert(const char *path, X509 **out, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	int rc = -1;

	*out = NULL;
	if (!sk)
		return errf(err, errlen, "%s: out of memory", path);
	if (add_certs_from(path, sk, err, errlen) != 0)
		goto out;
	if (sk_X509_num(sk) != 1) {
		errf(err, errlen, "%s: holds more than one certificate; name exactly one", path);
		goto out;
	}
	*out = sk_X509_shift(sk);
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

static bool pem_name(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && (strcmp(name + n - 4, ".pem") == 0 || strcmp(name + n - 4, ".crt") == 0));
}

/* intermediates: one PEM file, or every *.pem / *.crt file of a directory. */
static int load_intermediates(const char *path, STACK_OF(X509) *sk, char *err, size_t errlen)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char file[4096];
	int rc = 0, found = 0;

	if (stat(path, &st) != 0)
		return errf(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_certs_from(path, sk, err, errlen);
	d = opendir(path);
	if (!d)
		return errf(err, errlen, "%s: %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !pem_name(de->d_name))
			continue;
		if ((size_t)snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >= sizeof(file)) {
			rc = errf(err, errlen, "%s/%s: path too long", path, de->d_name);
			break;
		}
		rc = add_certs_from(file, sk, err, errlen);
		found++;
	}
	closedir(d);
	if (rc == 0 && found == 0)
		rc = errf(err, errlen, "%s: directory holds no *.pem or *.crt file", path);
	return rc;
}

/* Every CA the configuration names: the only keys a CRL may be signed with. */
static STACK_OF(X509) *crl_issuers(const struct sms_trust *t, X509 *anchor)
{
	STACK_OF(X509) *sk = sk_X509_dup(t->intermediates);

	if (!sk)
		return NULL;
	if (!sk_X509_push(sk, anchor) || !sk_X509_push(sk, t->services_ca)) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

static int load_crls(const struct sms_config *cfg, const struct sms_trust *previous, X509 *anchor,
		     struct sms_trust *t, char *err, size_t errlen)
{
	STACK_OF(X509) *issuers = crl_issuers(t, anchor);
	int rc;

	if (!issuers)
		return errf(err, errlen, "out of memory");
	rc = crl_set_load((const char *const *)cfg->crls, cfg->ncrls, issuers,
			  previous ? previous->crls : NULL, &t->crls, err, errlen);
	sk_X509_free(issuers);
	if (rc != 0)
		return -1;
	return crl_set_add_to_store(t->crls, t->store, err, errlen);
}

int sms_trust_load(const struct sms_config *cfg, const struct sms_trust *previous, struct sms_trust *t,
		   char *err, size_t errlen)
{
	X509 *anchor = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->store = X509_STORE_new();
	t->intermediates = sk_X509_new_null();
	if (!t->store || !t->intermediates) {
		errf(err, errlen, "out of memory");
		goto out;
	}
	if (load_one_cert(cfg->trust_root, &anchor, err, errlen) != 0)
		goto out;
	if (!X509_STORE_add_cert(t->store, anchor)) {
		errf(err, errlen, "trust_root %s: %s", cfg->trust_root, x509_ossl_reason());
		goto out;
	}
	if (load_one_cert(cfg->services_ca, &t->services_ca, err, errlen) != 0)
		goto out;
	if (cfg->intermediates && load_intermediates(cfg->intermediates, t->intermediates, err, errlen) != 0)
		goto out;
	/* Every CA on the path needs a current CRL; a missing one is a refusal. */
	if (!X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
				  X509_V_FLAG_X509_STRICT) ||
	    !X509_STORE_set_purpose(t->store, X509_PURPOSE_SSL_CLIENT)) {
		errf(err, errlen, "trust store flags: %s", x509_ossl_reason());
		goto out;
	}
	if (load_crls(cfg, previous, anchor, t, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	X509_free(anchor);
	if (rc != 0)
		sms_trust_free(t);
	return rc;
}

void sms_trust_free(struct sms_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->intermediates, X509_free);
	X509_free(t->services_ca);
	crl_set_free(t->crls);
	memset(t, 0, sizeof(*t));
}

static int verify_chain(const struct sms_trust *t, X509 *leaf, STACK_OF(X509) *untrusted,
			int (*cb)(int, X509_STORE_CTX *), void *cb_data,
			STACK_OF(X509) **chain_out, int *verr)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = -1;

	*verr = X509_V_ERR_UNSPECIFIED;
	if (chain_out)
		*chain_out = NULL;
	if (!ctx)
		return -1;
	if (!X509_STORE_CTX_init(ctx, t->store, leaf, untrusted))
		goto out;
	if (cb) {
		X509_STORE_CTX_set_verify_cb(ctx, cb);
		if (!X509_STORE_CTX_set_app_data(ctx, cb_data))
			goto out;
	}
	ok = X509_verify_cert(ctx);
	*verr = X509_STORE_CTX_get_error(ctx);
	if (ok == 1 && chain_out) {
		*chain_out = X509_STORE_CTX_get1_chain(ctx);
		if (!*chain_out)
			ok = -1;
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok == 1 ? 0 : -1;
}

void sms_subject_string(const X509 *cert, char *buf, size_t buflen)
{
	x509_name_string(X509_get_subject_name(cert), buf, buflen);
}

/* The CA that issued the leaf in a verified chain is element 1. */
static bool issued_by(const STACK_OF(X509) *chain, const X509 *ca)
{
	return sk_X509_num(chain) >= 2 && X509_cmp(sk_X509_value(chain, 1), ca) == 0;
}

static STACK_OF(X509) *untrusted_for(const struct sms_trust *t, const STACK_OF(X509) *extra)
{
	STACK_OF(X509) *sk = sk_X509_dup(t->intermediates);
	int i;

	if (!sk)
		return NULL;
	for (i = 0; extra && i < sk_X509_num(extra); i++)
		if (!sk_X509_push(sk, sk_X509_value(extra, i))) {
			sk_X509_free(sk);
			return NULL;
		}
	return sk;
}

/*
 * A tenant owns everything below its master account's level. If that level
 * is also the first level of a public_read filter (a master account named
 * "sms" next to "sms/crl/#"), the tenant could write into the namespace every
 * client reads, such as the CRL channel: such an identity is refused.
 */
static const char *public_namespace_taken(const struct sms_config *cfg, const identity *id)
{
	size_t i, len = strlen(id->master);

	for (i = 0; i < cfg->npublic_read; i++) {
		const char *p = cfg->public_read[i];

		if (strncmp(p, id->master, len) == 0 && (p[len] == '/' || p[len] == '\0'))
			return p;
	}
	return NULL;
}

/*
 * What a client certificate must be, beyond a valid chain: an end entity
 * (not a CA, no certificate or CRL signing key) made for TLS clients. The
 * purpose check of X509_verify_cert() lets a certificate without any
 * extendedKeyUsage through, and judges a CA certificate at depth 0 as a
 * leaf; neither is an SMS client.
 */
static int leaf_problem(X509 *leaf, char *err, size_t errlen)
{
	uint32_t flags = X509_get_extension_flags(leaf);

	if (flags & EXFLAG_CA)
		return errf(err, errlen, "a CA certificate (basicConstraints CA:TRUE) is not a client identity");
	if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(leaf) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
		return errf(err, errlen, "a certificate with keyCertSign or cRLSign key usage is not a client identity");
	if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT))
		return errf(err, errlen, "certificate lacks extendedKeyUsage clientAuth");
	return 0;
}

/*
 * The single value of nid in name, as UTF-8, into buf (IDENTITY_VALUE_MAX
 * + 1 bytes); 1 found, 0 absent, -1 repeated or unreadable or too long.
 */
static int name_value(const X509_NAME *name, int nid, char *buf)
{
	int at = X509_NAME_get_index_by_NID(name, nid, -1), len;
	unsigned char *utf8 = NULL;

	if (at < 0)
		return 0;
	if (X509_NAME_get_index_by_NID(name, nid, at) >= 0)
		return -1;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
	if (len < 0 || len > IDENTITY_VALUE_MAX || memchr(utf8, '\0', (size_t)len)) {
		OPENSSL_free(utf8);
		return -1;
	}
	memcpy(buf, utf8, (size_t)len);
	buf[len] = '\0';
	OPENSSL_free(utf8);
	return 1;
}

/* True when ca's subject has exactly O = o and, with ou, OU = ou (else no OU). */
static bool ca_names(X509 *ca, const char *o, const char *ou)
{
	const X509_NAME *n = X509_get_subject_name(ca);
	char v[IDENTITY_VALUE_MAX + 1];
	int has_ou;

	if (name_value(n, NID_organizationName, v) != 1 || strcmp(v, o) != 0)
		return false;
	has_ou = name_value(n, NID_organizationalUnitName, v);
	if (!ou)
		return has_ou == 0;
	return has_ou == 1 && strcmp(v, ou) == 0;
}

/*
 * OpenSSL matches directoryName constraints case-insensitively (and a CA may
 * have none), but topics are case-sensitive: the tenant's O and OU must be
 * byte for byte those of the master-account and account CAs on its verified
 * chain, and the chain must have exactly the shape sms-pki issues:
 * root -> master-account CA -> account CA -> leaf (equipment, account
 * clients), root -> master-account CA -> leaf (master-account clients).
 */
static int binding_problem(const STACK_OF(X509) *chain, const identity *id, char *err, size_t errlen)
{
	bool below_account = id->kind == IDENTITY_EQUIPMENT || id->kind == IDENTITY_ACCOUNT;
	int want = below_account ? 4 : 3;

	if (sk_X509_num(chain) != want)
		return errf(err, errlen, "'%s' needs a chain root -> master-account CA%s -> leaf, got %d certificates",
			    id->name, below_account ? " -> account CA" : "", sk_X509_num(chain));
	if (below_account && !ca_names(sk_X509_value(chain, 1), id->master, id->account))
		return errf(err, errlen, "O/OU of '%s' are not byte for byte those of its account CA", id->name);
	if (!ca_names(sk_X509_value(chain, want - 2), id->master, NULL))
		return errf(err, errlen, "O of '%s' is not byte for byte that of its master-account CA", id->name);
	return 0;
}

/* Everything but the chain itself that decides whether id may connect. */
static int identity_problem(const struct sms_trust *t, const struct sms_config *cfg, const STACK_OF(X509) *chain,
			    const identity *id, char *err, size_t errlen)
{
	bool from_service_ca = issued_by(chain, t->services_ca);
	const char *taken;

	if (id->kind == IDENTITY_ROLE && !from_service_ca)
		return errf(err, errlen, "role '%s' claimed by a certificate not issued by the services CA", id->role);
	if (id->kind != IDENTITY_ROLE && from_service_ca)
		return errf(err, errlen, "the services CA issues roles only, not '%s'", id->name);
	if (id->kind == IDENTITY_ROLE) {
		if (!sms_config_role(cfg, id->role))
			return errf(err, errlen, "role '%s' is not configured", id->role);
		return 0;
	}
	taken = public_namespace_taken(cfg, id);
	if (taken)
		return errf(err, errlen, "master account '%s' collides with public_read filter '%s'", id->master, taken);
	return binding_problem(chain, id, err, errlen);
}

int sms_authenticate(const struct sms_trust *t, const struct sms_config *cfg, X509 *leaf,
		     identity *id, STACK_OF(X509) **chain_out, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	char why[160];
	int verr, rc = -1;

	*chain_out = NULL;
	if (!leaf)
		return errf(err, errlen, "no client certificate");
	if (verify_chain(t, leaf, t->intermediates, NULL, NULL, &chain, &verr) != 0)
		return errf(err, errlen, "certificate chain not valid: %s", X509_verify_cert_error_string(verr));
	if (leaf_problem(leaf, err, errlen) != 0)
		goto out;
	if (identity_from_certificate(leaf, id, why, sizeof(why)) != 0) {
		errf(err, errlen, "not an SMS identity: %s", why);
		goto out;
	}
	if (identity_problem(t, cfg, chain, id, err, errlen) != 0)
		goto out;
	*chain_out = chain;
	chain = NULL;
	rc = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

/* Re-check: look at every problem instead of stopping at the first one. */
struct recheck_seen {
	bool revoked, expired, other;
	int first_other;
};

static int recheck_cb(int ok, X509_STORE_CTX *ctx)
{
	struct recheck_seen *seen = X509_STORE_CTX_get_app_data(ctx);
	int e = X509_STORE_CTX_get_error(ctx);

	if (ok)
		return 1;
	if (e == X509_V_ERR_CERT_REVOKED)
		seen->revoked = true;
	else if (e == X509_V_ERR_CERT_HAS_EXPIRED)
		seen->expired = true;
	else if (!seen->other) {
		seen->other = true;
		seen->first_other = e;
	}
	return 1;
}

enum sms_recheck sms_trust_recheck(const struct sms_trust *t, const STACK_OF(X509) *chain,
				   bool is_role, char *err, size_t errlen)
{
	struct recheck_seen seen = { false, false, false, 0 };
	STACK_OF(X509) *untrusted, *now_chain = NULL;
	X509 *leaf;
	int verr;

	if (!chain || sk_X509_num(chain) < 1) {
		errf(err, errlen, "no stored chain");
		return SMS_RECHECK_UNSURE;
	}
	leaf = sk_X509_value(chain, 0);
	untrusted = untrusted_for(t, chain);
	if (!untrusted) {
		errf(err, errlen, "out of memory");
		return SMS_RECHECK_UNSURE;
	}
	verify_chain(t, leaf, untrusted, recheck_cb, &seen, &now_chain, &verr);
	sk_X509_free(untrusted);
	if (seen.revoked) {
		sk_X509_pop_free(now_chain, X509_free);
		errf(err, errlen, "certificate or an issuing CA is revoked");
		return SMS_RECHECK_REVOKED;
	}
	if (seen.expired) {
		sk_X509_pop_free(now_chain, X509_free);
		errf(err, errlen, "certificate or an issuing CA has expired");
		return SMS_RECHECK_EXPIRED;
	}
	if (seen.other) {
		sk_X509_pop_free(now_chain, X509_free);
		errf(err, errlen, "revocation status unknown: %s", X509_verify_cert_error_string(seen.first_other));
		return SMS_RECHECK_UNSURE;
	}
	if (is_role && !issued_by(now_chain, t->services_ca)) {
		sk_X509_pop_free(now_chain, X509_free);
		errf(err, errlen, "role certificate no longer issued by the configured services CA");
		return SMS_RECHECK_NOT_ROLE;
	}
	sk_X509_pop_free(now_chain, X509_free);
	return SMS_RECHECK_OK;
}

time_t sms_chain_not_after(const STACK_OF(X509) *chain)
{
	time_t min = 0;
	int i;

	for (i = 0; chain && i < sk_X509_num(chain); i++) {
		time_t t = x509_time(X509_get0_notAfter(sk_X509_value(chain, i)));

		if (!t)
			return 0;
		if (!min || t < min)
			min = t;
	}
	return min;
}
