/*
 * Verified CRL sets; contract in crl_set.h.
 *
 * A CRL is a signed object: until its signature is checked against the
 * issuing CA's key it is only a claim. Loading verifies first, so the
 * broker's revocation scan and the rollback check only ever see CRLs their
 * issuer signed.
 */
#include "common/crl_set.h"
#include "common/errf.h"
#include "common/x509_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

struct crl_file {
	char *path;
	struct stat st;               /* as it was when loaded */
};

struct crl_set {
	struct crl_file *files;
	size_t nfiles;
	STACK_OF(X509_CRL) *crls;
};

static void issuer_string(const X509_CRL *crl, char *buf, size_t buflen)
{
	x509_name_string(X509_CRL_get_issuer(crl), buf, buflen);
}

/* False when the CRL names a key (authorityKeyIdentifier) other than ca's. */
static bool akid_matches(const X509_CRL *crl, X509 *ca)
{
	AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca);
	bool ok = true;

	if (akid && akid->keyid && skid)
		ok = ASN1_OCTET_STRING_cmp(akid->keyid, skid) == 0;
	AUTHORITY_KEYID_free(akid);
	return ok;
}

bool crl_set_verify_crl(X509_CRL *crl, const STACK_OF(X509) *issuers, bool *issuer_known)
{
	int i;

	*issuer_known = false;
	for (i = 0; i < sk_X509_num(issuers); i++) {
		X509 *ca = sk_X509_value(issuers, i);
		EVP_PKEY *key;

		if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) != 0)
			continue;
		*issuer_known = true;
		/* X509_get_key_usage() is all ones when the CA has no keyUsage. */
		if (!akid_matches(crl, ca) || !(X509_get_key_usage(ca) & KU_CRL_SIGN))
			continue;
		key = X509_get0_pubkey(ca);
		if (key && X509_CRL_verify(crl, key) == 1) {
			ERR_clear_error();
			return true;
		}
	}
	ERR_clear_error();
	return false;
}

static int take_crl(struct crl_set *set, const char *path, X509_CRL *crl, const STACK_OF(X509) *issuers,
		    char *err, size_t errlen)
{
	char issuer[256];
	bool known;

	if (!crl_set_verify_crl(crl, issuers, &known)) {
		issuer_string(crl, issuer, sizeof(issuer));
		if (!known)
			return errf(err, errlen, "CRL file %s: CRL of %s: issuer is not a configured CA", path, issuer);
		return errf(err, errlen, "CRL file %s: CRL of %s does not verify against its issuer's key", path, issuer);
	}
	if (!X509_CRL_up_ref(crl))
		return errf(err, errlen, "CRL file %s: %s", path, x509_ossl_reason());
	if (!sk_X509_CRL_push(set->crls, crl)) {
		X509_CRL_free(crl);
		return errf(err, errlen, "CRL file %s: out of memory", path);
	}
	return 0;
}

static int load_file(struct crl_set *set, const char *path, const STACK_OF(X509) *issuers,
		     char *err, size_t errlen)
{
	struct crl_file *cf = &set->files[set->nfiles];
	STACK_OF(X509_INFO) *infos;
	int i, crls = 0, rc = 0;

	cf->path = strdup(path);
	if (!cf->path)
		return errf(err, errlen, "CRL file %s: out of memory", path);
	set->nfiles++;
	/* stat before reading: a change racing the read is seen next time. */
	if (stat(path, &cf->st) != 0)
		return errf(err, errlen, "CRL file %s: %s", path, strerror(errno));
	if (x509_read_pem(path, &infos, err, errlen) != 0)
		return -1;
	for (i = 0; rc == 0 && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (!xi->crl)
			continue;
		rc = take_crl(set, path, xi->crl, issuers, err, errlen);
		crls++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (rc == 0 && crls == 0)
		rc = errf(err, errlen, "CRL file %s: holds no CRL", path);
	return rc;
}

/* <0, 0, >0 as a is older, as new as, newer than b (same issuer). */
static int crl_age_cmp(const X509_CRL *a, const X509_CRL *b)
{
	ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
	ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
	int day = 0, sec = 0, c = 0;

	if (na && nb)
		c = ASN1_INTEGER_cmp(na, nb);
	else if (ASN1_TIME_diff(&day, &sec, X509_CRL_get0_lastUpdate(b), X509_CRL_get0_lastUpdate(a)))
		c = day ? day : sec;
	ASN1_INTEGER_free(na);
	ASN1_INTEGER_free(nb);
	return c;
}

/* The newest CRL of issuer in crls, NULL if it has none. */
static const X509_CRL *newest_of(const STACK_OF(X509_CRL) *crls, const X509_NAME *issuer)
{
	const X509_CRL *best = NULL;
	int i;

	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		const X509_CRL *c = sk_X509_CRL_value(crls, i);

		if (X509_NAME_cmp(X509_CRL_get_issuer(c), issuer) != 0)
			continue;
		if (!best || crl_age_cmp(c, best) > 0)
			best = c;
	}
	return best;
}

static int check_rollback(const struct crl_set *fresh, const struct crl_set *previous, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < sk_X509_CRL_num(fresh->crls); i++) {
		const X509_NAME *issuer = X509_CRL_get_issuer(sk_X509_CRL_value(fresh->crls, i));
		const X509_CRL *was = newest_of(previous->crls, issuer);
		char name[256];

		if (!was || crl_age_cmp(newest_of(fresh->crls, issuer), was) >= 0)
			continue;
		x509_name_string(issuer, name, sizeof(name));
		return errf(err, errlen, "CRL of %s is older than the one in use (replayed?)", name);
	}
	return 0;
}

int crl_set_load(const char *const *files, size_t n, const STACK_OF(X509) *issuers,
		 const struct crl_set *previous, struct crl_set **out, char *err, size_t errlen)
{
	struct crl_set *set = calloc(1, sizeof(*set));
	size_t i;
	int rc = -1;

	*out = NULL;
	if (!set || !(set->crls = sk_X509_CRL_new_null()) ||
	    (n && !(set->files = calloc(n, sizeof(*set->files))))) {
		errf(err, errlen, "out of memory loading CRLs");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (load_file(set, files[i], issuers, err, errlen) != 0)
			goto out;
	if (previous && check_rollback(set, previous, err, errlen) != 0)
		goto out;
	*out = set;
	set = NULL;
	rc = 0;
out:
	crl_set_free(set);
	return rc;
}

void crl_set_free(struct crl_set *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->nfiles; i++)
		free(set->files[i].path);
	free(set->files);
	sk_X509_CRL_pop_free(set->crls, X509_CRL_free);
	free(set);
}

static bool stat_differs(const struct stat *old, const struct stat *now)
{
	return now->st_ino != old->st_ino || now->st_dev != old->st_dev || now->st_size != old->st_size ||
	       now->st_mtim.tv_sec != old->st_mtim.tv_sec || now->st_mtim.tv_nsec != old->st_mtim.tv_nsec ||
	       now->st_ctim.tv_sec != old->st_ctim.tv_sec || now->st_ctim.tv_nsec != old->st_ctim.tv_nsec;
}

bool crl_set_files_changed(const struct crl_set *set)
{
	size_t i;

	for (i = 0; set && i < set->nfiles; i++) {
		struct stat now;

		if (stat(set->files[i].path, &now) != 0 || stat_differs(&set->files[i].st, &now))
			return true;
	}
	return false;
}

const STACK_OF(X509_CRL) *crl_set_crls(const struct crl_set *set)
{
	return set ? set->crls : NULL;
}

int crl_set_add_to_store(const struct crl_set *set, X509_STORE *store, char *err, size_t errlen)
{
	int i;

	for (i = 0; set && i < sk_X509_CRL_num(set->crls); i++)
		if (!X509_STORE_add_crl(store, sk_X509_CRL_value(set->crls, i)))
			return errf(err, errlen, "adding a CRL to the trust store: %s", x509_ossl_reason());
	return 0;
}

void crl_set_summary(const struct crl_set *set, struct crl_set_summary *out)
{
	int i, j;

	memset(out, 0, sizeof(*out));
	if (!set)
		return;
	out->files = set->nfiles;
	for (i = 0; i < sk_X509_CRL_num(set->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(set->crls, i);
		time_t next = x509_time(X509_CRL_get0_nextUpdate(crl));
		time_t this_update = x509_time(X509_CRL_get0_lastUpdate(crl));
		int revoked = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
		bool first_of_issuer = true;

		for (j = 0; j < i && first_of_issuer; j++)
			first_of_issuer = X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(set->crls, j)),
							X509_CRL_get_issuer(crl)) != 0;
		out->issuers += first_of_issuer;
		out->crls++;
		/* -1 for a CRL without entries (no stack at all). */
		out->revoked += revoked > 0 ? (size_t)revoked : 0;
		if (next && (!out->earliest_next_update || next < out->earliest_next_update))
			out->earliest_next_update = next;
		if (this_update && (!out->oldest_this_update || this_update < out->oldest_this_update))
			out->oldest_this_update = this_update;
	}
}

void crl_set_summary_add(struct crl_set_summary *into, const struct crl_set_summary *from)
{
	into->files += from->files;
	into->issuers += from->issuers;
	into->crls += from->crls;
	into->revoked += from->revoked;
	if (from->earliest_next_update &&
	    (!into->earliest_next_update || from->earliest_next_update < into->earliest_next_update))
		into->earliest_next_update = from->earliest_next_update;
	if (from->oldest_this_update &&
	    (!into->oldest_this_update || from->oldest_this_update < into->oldest_this_update))
		into->oldest_this_update = from->oldest_this_update;
}

int crl_set_expiring(const struct crl_set *set, time_t now, time_t within, char *buf, size_t buflen)
{
	size_t used = 0;
	int i, n = 0;

	if (buflen)
		buf[0] = '\0';
	for (i = 0; set && i < sk_X509_CRL_num(set->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(set->crls, i);
		time_t next = x509_time(X509_CRL_get0_nextUpdate(crl));
		char issuer[256], when[32];
		struct tm tm;

		if (!next || next > now + within)
			continue;
		issuer_string(crl, issuer, sizeof(issuer));
		if (!gmtime_r(&next, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
			snprintf(when, sizeof(when), "?");
		if (used < buflen) {
			int w = snprintf(buf + used, buflen - used, "%s%s (nextUpdate %s)", n ? "; " : "", issuer, when);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}

size_t crl_set_count(const struct crl_set *set)
{
	return set ? (size_t)sk_X509_CRL_num(set->crls) : 0;
}

void crl_set_entry_at(const struct crl_set *set, size_t i, struct crl_set_entry *out)
{
	X509_CRL *crl = sk_X509_CRL_value(set->crls, (int)i);
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	BIGNUM *bn = num ? ASN1_INTEGER_to_BN(num, NULL) : NULL;
	char *dec = bn ? BN_bn2dec(bn) : NULL;
	int revoked = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));

	memset(out, 0, sizeof(*out));
	x509_name_string(X509_CRL_get_issuer(crl), out->issuer, sizeof(out->issuer));
	snprintf(out->crl_number, sizeof(out->crl_number), "%s", dec ? dec : "none");
	out->this_update = x509_time(X509_CRL_get0_lastUpdate(crl));
	out->next_update = x509_time(X509_CRL_get0_nextUpdate(crl));
	out->revoked = revoked > 0 ? (size_t)revoked : 0;
	OPENSSL_free(dec);
	BN_free(bn);
	ASN1_INTEGER_free(num);
}
