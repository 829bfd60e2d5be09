/* Whole-store verification; contract in audit_verify.h. */
#include "services/audit/audit_verify.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/snapshot_json.h"
#include "services/audit/audit_analysis.h"
#include "services/audit/audit_store.h"

typedef struct {
	audit_keys *keys;
	audit_keys *keys_no_crls;      /* to tell "revoked since" from "edited" */
	audit_store *store;
	FILE *out, *progress;
	unsigned char prev[STORE_DIGEST_LEN];
	long long checked, total, problems, digests, revoked_since;
	time_t last_progress;
	struct timespec t0;
	int chain_broken;
} verifier;

static void problem(verifier *v, const store_raw *m, const char *what)
{
	char topic[300];

	v->problems++;
	if (v->problems <= VERIFY_MAX_LINES)
		fprintf(v->out, "message %lld (%s, received %s): %s\n", m->id, log_escape(m->topic, topic, sizeof topic),
		        m->received_at, what);
}

/* A fresh analysis of the raw message in canonical form (malloc'd; NULL
 * when it could not be made); *n_digests for the receipted count; *signer
 * (when signer is not NULL) the certificate that verified, or NULL. */
static char *derive_again(audit_keys *k, const store_raw *m, size_t *n_digests, X509 **signer)
{
	analysis a;
	char *now = NULL, *findings = NULL, *digests = NULL;

	if (analysis_run(k, m->topic, m->payload, m->len, &a) != 0) {
		analysis_clear(&a);
		return NULL;
	}
	*n_digests = a.n_digests;
	if (signer != NULL) {
		*signer = a.signer;
		a.signer = NULL;
	}
	findings = analysis_findings_text(&a);
	digests = analysis_digests_text(&a);
	if (findings != NULL && digests != NULL)
		now = analysis_canonical(a.kind, a.equipment, a.originator, a.recipients, a.for_us, a.seq, a.taken_at,
		                         a.signed_at, a.content, findings, digests);
	free(findings);
	free(digests);
	analysis_clear(&a);
	return now;
}

/* The stored rows match the analysis without CRLs but not the one with
 * them. Innocent only when the certificate was revoked after the message
 * was received: then it verified when it was stored. Revoked before, the
 * auditor recorded revoked_originator (or bad_signature) and someone erased it. */
static void check_revoked_since(verifier *v, const store_raw *m, X509 *signer)
{
	char topic[300], what[200], at[32];
	time_t revoked = 0, received = 0;
	struct tm tm;

	if (!snapshot_time_parse(m->received_at, &received))
		received = 0;
	if (audit_keys_revoked_at(v->keys, signer, &revoked) != 1) {
		problem(v, m, "derived rows match it only without the CRLs, but no revocation of its originator "
		        "explains that (edited by hand)");
		return;
	}
	if (received == 0 || revoked <= received) {
		if (gmtime_r(&revoked, &tm) == NULL || strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(at, sizeof at, "?");
		snprintf(what, sizeof what, "its originator was revoked at %s, not after it was received, but the "
		         "derived rows show no revocation (a finding erased by hand)", at);
		problem(v, m, what);
		return;
	}
	v->revoked_since++;
	fprintf(v->out, "message %lld (%s): its originator is revoked now; it verified when it was stored "
	        "(not a store problem)\n", m->id, log_escape(m->topic, topic, sizeof topic));
}

static void check_derived(verifier *v, const store_raw *m)
{
	size_t n_digests = 0, n2 = 0;
	char *now = derive_again(v->keys, m, &n_digests, NULL), *stored = store_derived_canonical(v->store, m->id);
	char *old = NULL;
	X509 *signer = NULL;

	v->digests += (long long)n_digests;
	if (stored == NULL) {
		problem(v, m, "no derived rows (deleted?)");
	} else if (now == NULL) {
		problem(v, m, "could not be analysed again (out of memory?)");
	} else if (strcmp(stored, now) != 0) {
		old = v->keys_no_crls != NULL ? derive_again(v->keys_no_crls, m, &n2, &signer) : NULL;
		if (old != NULL && strcmp(stored, old) == 0)
			check_revoked_since(v, m, signer);
		else
			problem(v, m, "derived rows differ from what the raw message says now (edited by hand)");
	}
	X509_free(signer);
	free(old);
	free(stored);
	free(now);
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int check_one(void *ud, const store_raw *m)
{
	verifier *v = ud;
	unsigned char digest[STORE_DIGEST_LEN], link[STORE_DIGEST_LEN];
	unsigned int n = 0;

	v->checked++;
	if (EVP_Digest(m->payload ? m->payload : (const unsigned char *)"", m->len, digest, &n, EVP_sha256(), NULL) != 1)
		return -1;
	if (m->digest_len != STORE_DIGEST_LEN || memcmp(digest, m->digest, STORE_DIGEST_LEN) != 0)
		problem(v, m, "payload does not match its stored SHA-256 (edited by hand)");
	if (m->digest_len == STORE_DIGEST_LEN &&
	    store_chain_link(v->prev, m->id, m->received_at, m->topic, m->digest, link) == 0 &&
	    (m->chain_len != STORE_DIGEST_LEN || memcmp(link, m->chain, STORE_DIGEST_LEN) != 0)) {
		/* Say it once; the rows after follow from the stored chain. */
		if (!v->chain_broken)
			problem(v, m, "hash chain broken here: this row or one before it was edited, inserted or deleted");
		v->chain_broken = 1;
	}
	if (m->chain_len == STORE_DIGEST_LEN)
		memcpy(v->prev, m->chain, STORE_DIGEST_LEN);
	check_derived(v, m);
	if (v->progress != NULL && time(NULL) - v->last_progress >= 2) {
		v->last_progress = time(NULL);
		fprintf(v->progress, "verify: %lld/%lld messages, %.0f/s\n", v->checked, v->total,
		        (double)v->checked / elapsed(&v->t0));
	}
	return 0;
}

static audit_keys *keys_without_crls(const audit_config *cfg, char *err, size_t errlen)
{
	audit_config c = *cfg;

	c.e2e.n_crls = 0;
	return audit_keys_new(&c, err, errlen);
}

int audit_verify(const audit_config *cfg, FILE *out, FILE *progress)
{
	verifier v;
	char err[600], head[2 * STORE_DIGEST_LEN + 1];
	long long derived, receipted;
	int rc = 2, i;

	memset(&v, 0, sizeof v);
	v.out = out;
	v.progress = progress;
	v.last_progress = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &v.t0);
	if ((v.keys = audit_keys_new(cfg, err, sizeof err)) == NULL ||
	    (v.store = store_open(cfg->store_path, 1, err, sizeof err)) == NULL ||
	    (cfg->e2e.n_crls > 0 && (v.keys_no_crls = keys_without_crls(cfg, err, sizeof err)) == NULL)) {
		fprintf(stderr, "sms-audit: %s\n", err);
		goto out;
	}
	if (store_read_begin(v.store, err, sizeof err) != 0) {
		fprintf(stderr, "sms-audit: %s\n", err);
		goto out;
	}
	v.total = store_count(v.store, "messages");
	if (store_each_raw(v.store, check_one, &v, err, sizeof err) != 0) {
		fprintf(stderr, "sms-audit: verify: %s\n", err[0] ? err : "SHA-256 failed");
		goto out;
	}
	derived = store_count(v.store, "derived");
	receipted = store_count(v.store, "receipted");
	if (derived != v.checked) {
		v.problems++;
		fprintf(out, "store: %lld derived rows for %lld messages (rows added or deleted by hand)\n", derived,
		        v.checked);
	}
	if (receipted != v.digests) {
		v.problems++;
		fprintf(out, "store: %lld receipted digests, the receipts list %lld (rows added or deleted by hand)\n",
		        receipted, v.digests);
	}
	if (v.problems > VERIFY_MAX_LINES)
		fprintf(out, "... and %lld more\n", v.problems - VERIFY_MAX_LINES);
	for (i = 0; i < STORE_DIGEST_LEN; i++)
		snprintf(head + 2 * i, 3, "%02x", v.prev[i]);
	fprintf(out, "verify: %lld message(s) checked in %.2f s, %lld problem(s), %lld from originators revoked since; "
	        "chain head %s\n", v.checked, elapsed(&v.t0), v.problems, v.revoked_since, v.checked ? head : "(empty)");
	rc = v.problems ? 1 : 0;
out:
	if (v.store != NULL)
		store_read_end(v.store);
	store_close(v.store);
	audit_keys_free(v.keys);
	audit_keys_free(v.keys_no_crls);
	return rc;
}
