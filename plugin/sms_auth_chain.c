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

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The reason OpenSSL gave last, for messages; clears the queue. */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/* Reads every certificate and CRL of a PEM file. */
static int read_pem(const char *path, STACK_OF(X509_INFO) **out, char *err, size_t errlen)
{
	BIO *bio = BIO_new_file(path, "r");

	*out = NULL;
	if (!bio)
		return fail(err, errlen, "%s: cannot be read (%s)", path, strerror(errno));
	*out = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!*out)
		return fail(err, errlen, "%s: not PEM (%s)", path, ossl_reason());
	return 0;
}

static int add_certs_from(const char *path, STACK_OF(X509) *sk, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos;
	int i, rc = -1, added = 0;

	if (read_pem(path, &infos, err, errlen) != 0)
		return -1;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (!xi->x509)
			continue;
		if (!X509_up_ref(xi->x509)) {
			fail(err, errlen, "%s: %s", path, ossl_reason());
			goto out;
		}
		if (!sk_X509_push(sk, xi->x509)) {
			X509_free(xi->x509);
			fail(err, errlen, "%s: out of memory", path);
			goto out;
		}
		added++;
	}
	if (added == 0) {
		fail(err, errlen, "%s: holds no certificate", path);
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
		return fail(err, errlen, "%s: out of memory", path);
	if (add_certs_from(path, sk, err, errlen) != 0)
		goto out;
	if (sk_X509_num(sk) != 1) {
		fail(err, errlen, "%s: holds more than one certificate; name exactly one", path);
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
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_certs_from(path, sk, err, errlen);
	d = opendir(path);
	if (!d)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !pem_name(de->d_name))
			continue;
		if ((size_t)snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >= sizeof(file)) {
			rc = fail(err, errlen, "%s/%s: path too long", path, de->d_name);
			break;
		}
		rc = add_certs_from(file, sk, err, errlen);
		found++;
	}
	closedir(d);
	if (rc == 0 && found == 0)
		rc = fail(err, errlen, "%s: directory holds no *.pem or *.crt file", path);
	return rc;
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

static int load_crls(const struct sms_config *cfg, struct sms_trust *t, char *err, size_t errlen)
{
	size_t i;
	int j;

	t->crl_files = calloc(cfg->ncrl_files, sizeof(*t->crl_files));
	if (!t->crl_files)
		return fail(err, errlen, "out of memory");
	for (i = 0; i < cfg->ncrl_files; i++) {
		STACK_OF(X509_INFO) *infos;
		struct sms_crl_file *cf = &t->crl_files[i];
		int crls = 0, rc = 0;

		cf->path = strdup(cfg->crl_files[i]);
		if (!cf->path)
			return fail(err, errlen, "out of memory");
		t->ncrl_files++;
		/* stat before reading: a change racing the read is seen next time. */
		if (stat(cf->path, &cf->st) != 0)
			return fail(err, errlen, "CRL file %s: %s", cf->path, strerror(errno));
		if (read_pem(cf->path, &infos, err, errlen) != 0)
			return -1;
		for (j = 0; rc == 0 && j < sk_X509_INFO_num(infos); j++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, j);
			time_t next;

			if (!xi->crl)
				continue;
			if (!X509_STORE_add_crl(t->store, xi->crl)) {
				rc = fail(err, errlen, "CRL file %s: %s", cf->path, ossl_reason());
				break;
			}
			crls++;
			next = asn1_to_time(X509_CRL_get0_nextUpdate(xi->crl));
			if (next && (!t->earliest_next_update || next < t->earliest_next_update))
				t->earliest_next_update = next;
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		if (rc != 0)
			return -1;
		if (crls == 0)
			return fail(err, errlen, "CRL file %s: holds no CRL", cf->path);
	}
	return 0;
}

int sms_trust_load(const struct sms_config *cfg, struct sms_trust *t, char *err, size_t errlen)
{
	X509 *anchor = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->store = X509_STORE_new();
	t->intermediates = sk_X509_new_null();
	if (!t->store || !t->intermediates) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	if (load_one_cert(cfg->trust_anchor, &anchor, err, errlen) != 0)
		goto out;
	if (!X509_STORE_add_cert(t->store, anchor)) {
		fail(err, errlen, "trust anchor %s: %s", cfg->trust_anchor, ossl_reason());
		goto out;
	}
	if (load_one_cert(cfg->service_ca, &t->service_ca, err, errlen) != 0)
		goto out;
	if (cfg->intermediates && load_intermediates(cfg->intermediates, t->intermediates, err, errlen) != 0)
		goto out;
	/* Every CA on the path needs a current CRL; a missing one is a refusal. */
	if (!X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
				  X509_V_FLAG_X509_STRICT) ||
	    !X509_STORE_set_purpose(t->store, X509_PURPOSE_SSL_CLIENT)) {
		fail(err, errlen, "trust store flags: %s", ossl_reason());
		goto out;
	}
	if (load_crls(cfg, t, err, errlen) != 0)
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
	size_t i;

	if (!t)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->intermediates, X509_free);
	X509_free(t->service_ca);
	for (i = 0; i < t->ncrl_files; i++)
		free(t->crl_files[i].path);
	free(t->crl_files);
	memset(t, 0, sizeof(*t));
}

bool sms_trust_crls_changed(const struct sms_trust *t)
{
	size_t i;

	for (i = 0; i < t->ncrl_files; i++) {
		const struct stat *old = &t->crl_files[i].st;
		struct stat now;

		if (stat(t->crl_files[i].path, &now) != 0)
			return true;
		if (now.st_ino != old->st_ino || now.st_dev != old->st_dev || now.st_size != old->st_size ||
		    now.st_mtim.tv_sec != old->st_mtim.tv_sec || now.st_mtim.tv_nsec != old->st_mtim.tv_nsec ||
		    now.st_ctim.tv_sec != old->st_ctim.tv_sec || now.st_ctim.tv_nsec != old->st_ctim.tv_nsec)
			return true;
	}
	return false;
}

int sms_trust_expired_crls(const struct sms_trust *t, time_t now, char *buf, size_t buflen)
{
	STACK_OF(X509_OBJECT) *objs;
	size_t used = 0;
	int i, n = 0;

	if (buflen)
		buf[0] = '\0';
	if (!t->store || (t->earliest_next_update && t->earliest_next_update > now) || !t->earliest_next_update)
		return 0;
	objs = X509_STORE_get0_objects(t->store);
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		time_t next;
		char issuer[256];

		if (!crl)
			continue;
		next = asn1_to_time(X509_CRL_get0_nextUpdate(crl));
		if (!next || next > now)
			continue;
		if (!X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer)))
			snprintf(issuer, sizeof(issuer), "?");
		if (used < buflen) {
			int w = snprintf(buf + used, buflen - used, "%s%s", n ? ", " : "", issuer);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}

/* <0, 0, >0 as a is older, as new as, newer than b (same issuer). */
static int crl_age_cmp(X509_CRL *a, X509_CRL *b)
{
	ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
	ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
	int day = 0, sec = 0, c;

	if (na && nb) {
		c = ASN1_INTEGER_cmp(na, nb);
	} else if (ASN1_TIME_diff(&day, &sec, X509_CRL_get0_lastUpdate(b), X509_CRL_get0_lastUpdate(a))) {
		c = day ? day : sec;
	} else {
		c = 0;
	}
	ASN1_INTEGER_free(na);
	ASN1_INTEGER_free(nb);
	return c;
}

int sms_trust_check_rollback(const struct sms_trust *current, const struct sms_trust *fresh, char *err, size_t errlen)
{
	STACK_OF(X509_OBJECT) *now = X509_STORE_get0_objects(current->store);
	STACK_OF(X509_OBJECT) *next = X509_STORE_get0_objects(fresh->store);
	int i, j;

	for (i = 0; i < sk_X509_OBJECT_num(next); i++) {
		X509_CRL *n = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(next, i));
		bool newer_or_same = false, older = false;

		if (!n)
			continue;
		/* Against the newest CRL the issuer had; a new issuer is fine. */
		for (j = 0; j < sk_X509_OBJECT_num(now); j++) {
			X509_CRL *o = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(now, j));

			if (!o || X509_NAME_cmp(X509_CRL_get_issuer(o), X509_CRL_get_issuer(n)) != 0)
				continue;
			if (crl_age_cmp(n, o) < 0)
				older = true;
			else
				newer_or_same = true;
		}
		if (older && !newer_or_same) {
			char issuer[256];

			if (!X509_NAME_oneline(X509_CRL_get_issuer(n), issuer, sizeof(issuer)))
				snprintf(issuer, sizeof(issuer), "?");
			return fail(err, errlen, "CRL of %s is older than the one in use (replayed?)", issuer);
		}
	}
	return 0;
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
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	if (!buflen)
		return;
	snprintf(buf, buflen, "(unprintable subject)");
	if (!bio)
		return;
	/* RFC 2253 escapes controls and every non-ASCII byte (of the UTF-8
	 * form): a hostile subject cannot forge log lines or terminal codes. */
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_get_mem_data(bio, &data);
		if (n >= 0)
			snprintf(buf, buflen, "%.*s", (int)(n < (long)buflen ? n : (long)buflen - 1), data);
	}
	BIO_free(bio);
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

int sms_authenticate(const struct sms_trust *t, const struct sms_config *cfg, X509 *leaf,
		     identity *id, STACK_OF(X509) **chain_out, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	const char *taken;
	char why[160];
	bool from_service_ca;
	int verr;

	*chain_out = NULL;
	if (!leaf)
		return fail(err, errlen, "no client certificate");
	if (verify_chain(t, leaf, t->intermediates, NULL, NULL, &chain, &verr) != 0)
		return fail(err, errlen, "certificate chain not valid: %s", X509_verify_cert_error_string(verr));
	if (identity_from_subject(X509_get_subject_name(leaf), id, why, sizeof(why)) != 0) {
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "not an SMS identity: %s", why);
	}
	from_service_ca = issued_by(chain, t->service_ca);
	if (id->kind == IDENTITY_ROLE && !from_service_ca) {
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "role '%s' claimed by a certificate not issued by the services CA", id->role);
	}
	if (id->kind != IDENTITY_ROLE && from_service_ca) {
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "the services CA issues roles only, not '%s'", id->name);
	}
	if (id->kind == IDENTITY_ROLE && !sms_config_role(cfg, id->role)) {
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "role '%s' is not configured", id->role);
	}
	taken = id->kind == IDENTITY_ROLE ? NULL : public_namespace_taken(cfg, id);
	if (taken) {
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "master account '%s' collides with public_read filter '%s'",
			    id->master, taken);
	}
	*chain_out = chain;
	return 0;
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
		fail(err, errlen, "no stored chain");
		return SMS_RECHECK_UNSURE;
	}
	leaf = sk_X509_value(chain, 0);
	untrusted = untrusted_for(t, chain);
	if (!untrusted) {
		fail(err, errlen, "out of memory");
		return SMS_RECHECK_UNSURE;
	}
	verify_chain(t, leaf, untrusted, recheck_cb, &seen, &now_chain, &verr);
	sk_X509_free(untrusted);
	if (seen.revoked) {
		sk_X509_pop_free(now_chain, X509_free);
		fail(err, errlen, "certificate or an issuing CA is revoked");
		return SMS_RECHECK_REVOKED;
	}
	if (seen.expired) {
		sk_X509_pop_free(now_chain, X509_free);
		fail(err, errlen, "certificate or an issuing CA has expired");
		return SMS_RECHECK_EXPIRED;
	}
	if (seen.other) {
		sk_X509_pop_free(now_chain, X509_free);
		fail(err, errlen, "revocation status unknown: %s", X509_verify_cert_error_string(seen.first_other));
		return SMS_RECHECK_UNSURE;
	}
	if (is_role && !issued_by(now_chain, t->service_ca)) {
		sk_X509_pop_free(now_chain, X509_free);
		fail(err, errlen, "role certificate no longer issued by the configured services CA");
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
		time_t t = asn1_to_time(X509_get0_notAfter(sk_X509_value(chain, i)));

		if (!t)
			return 0;
		if (!min || t < min)
			min = t;
	}
	return min;
}
