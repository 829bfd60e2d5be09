/*
 * The agent's CRLs (DESIGN.md "The way back"), as they arrive from the
 * broker on sms/crl/<pki>/<issuer key id> (common/crl_topic.h).
 *
 * agent_crl_offer takes a CRL only when: it is one DER CRL (nothing
 * after it); its authorityKeyIdentifier is the topic's issuer key id; it
 * has a crlNumber; its issuer is one of the agent's CAs of that PKI and
 * its signature verifies with that CA's key (crl_set_verify_crl). Then, per
 * issuer key id, only a higher crlNumber than the one held replaces it:
 * a lower one (a replay that would un-revoke) and the same number with
 * other bytes (a second CRL under one number) are refused; the same bytes
 * again are just that. A CRL taken is first written to
 * <dir>/<pki>-<issuer key id>.crl (temporary file, fsync, rename, fsync of
 * the directory); only then is it in use, so what the agent acted on
 * survives kill -9 and power loss.
 *
 * agent_crl_open loads the directory with the same checks (a stored CRL
 * that no longer verifies is moved aside to <name>.refused, logged;
 * leftover temporary files are removed).
 *
 * No global state; one thread at a time (the agent's session thread).
 */
#ifndef SMS_AGENT_CRL_H
#define SMS_AGENT_CRL_H

#include <stddef.h>

#include <openssl/x509.h>

#include "common/crl_topic.h"

#define AGENT_CRL_MAX_DER (4 * 1024 * 1024)

typedef enum {
	AGENT_CRL_STORED,    /* first or newer for its issuer: stored, in use */
	AGENT_CRL_SAME,      /* the bytes held already */
	AGENT_CRL_OLDER,     /* lower crlNumber than the one held (replayed?) */
	AGENT_CRL_CONFLICT,  /* the held crlNumber with other bytes */
	AGENT_CRL_UNKNOWN,   /* the issuer is none of the agent's CAs */
	AGENT_CRL_REFUSED,   /* not a CRL, wrong topic, no crlNumber, bad signature */
	AGENT_CRL_IO,        /* could not be stored; nothing changed */
} agent_crl_verdict;

typedef struct agent_crl agent_crl;

/* ca_files[pki]: PEM files of the CAs whose CRLs are taken for that PKI
 * (roots and intermediates). Creates dir (0700) if needed. NULL with err. */
agent_crl *agent_crl_open(const char *dir, const char *const *ca_files[CRL_PKI_COUNT],
                          const size_t n_ca_files[CRL_PKI_COUNT], char *err, size_t errlen);
void agent_crl_close(agent_crl *s);

/* One message of the CRL namespace. why: one line for the log (issuer,
 * crlNumbers) for every verdict. */
agent_crl_verdict agent_crl_offer(agent_crl *s, const char *topic, const unsigned char *der, size_t len, char *why,
                                  size_t whylen);

/* The CRLs held for pki, at most one per issuer; owned by s, valid until
 * the next offer. */
const STACK_OF(X509_CRL) *agent_crl_held(const agent_crl *s, crl_pki pki);

/* A new stack (free with sk_X509_CRL_pop_free(.., X509_CRL_free)) of a and
 * b, per issuer name the one with the higher crlNumber (a's when equal or
 * unnumbered). NULL when out of memory. */
STACK_OF(X509_CRL) *agent_crl_merge(const STACK_OF(X509_CRL) *a, const STACK_OF(X509_CRL) *b);

#endif
