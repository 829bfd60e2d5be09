/*
 * A set of CRLs read from PEM files, every one verified against the key of
 * its issuer before anything may rest on it (revocation, rollback checks).
 *
 * crl_set_load() reads every file (each must hold at least one CRL; other
 * PEM objects are ignored), and for every CRL finds its issuer among
 * `issuers` (trust anchor + intermediates): subject name equal to the CRL's
 * issuer name (X509_NAME_cmp), subjectKeyIdentifier equal to the CRL's
 * authorityKeyIdentifier when both are present, keyUsage (if any) with
 * cRLSign, and X509_CRL_verify() with that CA's public key. A CRL whose
 * issuer is unknown or whose signature does not verify refuses the whole
 * load: nothing of a bad file is ever used. With `previous` (the set in use),
 * the load is also refused when, for an issuer both sets know, the newest
 * CRL is older than the newest one in `previous` (crlNumber, else
 * lastUpdate): a replayed old CRL cannot un-revoke. All errors are one line
 * in err naming the file and, where it applies, the issuer (RFC 2253,
 * escaped).
 *
 * No mosquitto, no global state: the broker plugin and the services use it.
 */
#ifndef SMS_CRL_SET_H
#define SMS_CRL_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct crl_set;

struct crl_set_summary {
	size_t files;
	size_t issuers;               /* distinct issuer names */
	size_t crls;
	size_t revoked;               /* revoked entries over all CRLs */
	time_t earliest_next_update;  /* 0 when no CRL has a nextUpdate */
	time_t oldest_this_update;    /* thisUpdate of the oldest CRL; 0 when none */
};

/* 0 and *out (free with crl_set_free), or -1, *out NULL and the reason in err. */
int crl_set_load(const char *const *files, size_t n, const STACK_OF(X509) *issuers,
		 const struct crl_set *previous, struct crl_set **out, char *err, size_t errlen);
void crl_set_free(struct crl_set *set);

/* The check crl_set_load makes of each CRL, for CRLs that come from
 * elsewhere (the agent's MQTT intake): true when one of issuers is the CA
 * the CRL names (name, key identifier, cRLSign) and its key verifies the
 * signature. *issuer_known: some CA of that name is among issuers. */
bool crl_set_verify_crl(X509_CRL *crl, const STACK_OF(X509) *issuers, bool *issuer_known);

/* True when a file's stat() differs from when it was loaded (or it vanished). */
bool crl_set_files_changed(const struct crl_set *set);

/* The verified CRLs, owned by the set. */
const STACK_OF(X509_CRL) *crl_set_crls(const struct crl_set *set);

/* Adds every CRL to store (which takes its own references); -1 with err. */
int crl_set_add_to_store(const struct crl_set *set, X509_STORE *store, char *err, size_t errlen);

void crl_set_summary(const struct crl_set *set, struct crl_set_summary *out);
/* Adds from to into, as if both were one set (a daemon with one set per
 * PKI reports them together: the earliest nextUpdate is what to alert on). */
void crl_set_summary_add(struct crl_set_summary *into, const struct crl_set_summary *from);

/* One CRL of a set, for the lines operators read after a load. */
struct crl_set_entry {
	char issuer[256];            /* RFC 2253, log-safe (x509_name_string) */
	char crl_number[48];         /* decimal; "none" without the extension */
	time_t this_update, next_update;  /* 0 when absent */
	size_t revoked;
};

size_t crl_set_count(const struct crl_set *set);
/* The i-th CRL (i < crl_set_count). */
void crl_set_entry_at(const struct crl_set *set, size_t i, struct crl_set_entry *out);

/*
 * Number of CRLs whose nextUpdate is at or before now + within (within 0:
 * already past), listed in buf as "<issuer> (nextUpdate <ISO 8601>)", joined
 * by "; ", truncated to buflen.
 */
int crl_set_expiring(const struct crl_set *set, time_t now, time_t within, char *buf, size_t buflen);

#endif
