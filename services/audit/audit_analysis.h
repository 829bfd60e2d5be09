/*
 * What one message on the customer's subtree says, derived from its topic
 * and payload bytes alone (so `verify` can derive it again and compare):
 *
 *   <ma>/<acc>/<eq>/snapshots        decrypted for our E2E identity; the
 *       originator chain verified against the E2E root and CRLs; the
 *       originator must be equipment <ma>/<acc>/<eq> and the JSON must name
 *       <eq>; the recipients the envelope names are listed.
 *   <ma>/<acc>/<eq>/receipts         receipt.h: signed by the vendor's
 *       receipt signer for this equipment; its digests are kept.
 *   <ma>/<acc>/<eq>/firmware/status  CMS SignedData by equipment <eq>
 *       (chain against the E2E root and CRLs).
 *   <ma>/<acc>/<eq>/firmware         an offer for the device: recipients only.
 *   .../crl, .../commands, .../commands/result   kept as received, not analysed.
 *   anything else                    kept, with a finding.
 *
 * Findings (stable codes): not_for_us (with the recipients), unknown_originator,
 * revoked_originator, topic_mismatch, tampered, undecodable, bad_signature,
 * outside_subtree. Findings that need more than one message (never_receipted,
 * receipt_unseen) are the report's (audit_store.h).
 *
 * An audit_keys is used by one thread at a time.
 */
#ifndef SMS_AUDIT_ANALYSIS_H
#define SMS_AUDIT_ANALYSIS_H

#include <stddef.h>
#include <openssl/x509.h>

#include "cms/smscms.h"
#include "common/crl_watch.h"
#include "common/identity.h"
#include "common/receipt.h"
#include "services/audit/audit_config.h"

#define ANALYSIS_MAX_FINDINGS 4
#define ANALYSIS_MAX_RECIPIENTS 16
#define ANALYSIS_DETAIL_MAX 700

typedef struct {
	char code[32];
	char detail[ANALYSIS_DETAIL_MAX];
} analysis_finding;

typedef struct {
	char kind[16];            /* snapshot, receipt, status, firmware, other */
	char equipment[IDENTITY_SCOPE_MAX];   /* "ma/acc/eq" of the topic, "" when none */
	char originator[512];     /* verified originator / signer subject, "" when none */
	char recipients[ANALYSIS_MAX_RECIPIENTS * 160];   /* "; "-joined names, "" when not an envelope */
	int for_us;
	long long seq;            /* snapshots; -1 when none */
	char taken_at[40];
	char signed_at[24];       /* signingTime of the envelope / signature, "" when none */
	char *content;            /* decrypted snapshot JSON or signed status content, NUL-terminated */
	size_t content_len;
	unsigned char (*digests)[RECEIPT_DIGEST_LEN];   /* receipts: what they confirm */
	size_t n_digests;
	analysis_finding findings[ANALYSIS_MAX_FINDINGS];
	size_t n_findings;
	X509 *signer;             /* the originator or signer certificate that verified (own reference), NULL
	                             when none: `verify` asks the CRLs when it was revoked */
} analysis;

typedef struct audit_keys audit_keys;

/* Loads identities, verifiers and CRLs of cfg; the scope (what we may see)
 * is the identity of broker.cert. NULL with err. */
audit_keys *audit_keys_new(const audit_config *cfg, char *err, size_t errlen);
void audit_keys_free(audit_keys *k);
/* "ma/acc" or "ma". */
const char *audit_keys_scope(const audit_keys *k);
/* Re-reads the CRL files when their interval passed (force: now). 1 when
 * a new set is in use, else 0. */
int audit_keys_poll_crls(audit_keys *k, int force);
/* The summary of the CRLs in use (crl_set.h): 1 and *out, 0 when
 * e2e.crls names none. By the thread that uses k, like everything here. */
int audit_keys_crl_summary(const audit_keys *k, struct crl_set_summary *out);

/* The earliest revocationDate, in the CRLs k holds now, of cert or of a CA
 * above it (the E2E root and e2e.ca_certs): 1 and *when; 0 when none of them
 * is revoked. */
int audit_keys_revoked_at(const audit_keys *k, X509 *cert, time_t *when);

/* Fills *a (release with analysis_clear). 0, or -1 when the message could
 * not be analysed for a reason of ours (out of memory, OpenSSL): not the
 * message's fault, try again. */
int analysis_run(audit_keys *k, const char *topic, const unsigned char *payload, size_t len, analysis *a);
void analysis_clear(analysis *a);

/* The derived facts as one canonical text (malloc'd), for `verify`. */
char *analysis_canonical(const char *kind, const char *equipment, const char *originator, const char *recipients,
                         int for_us, long long seq, const char *taken_at, const char *signed_at,
                         const char *content, const char *findings, const char *digests);
/* "code: detail\n" per finding and lowercase hex per digest ("\n"-joined) as stored. */
char *analysis_findings_text(const analysis *a);
char *analysis_digests_text(const analysis *a);

#endif
