/* One message -> its derived facts; contract in audit_analysis.h. */
#include "services/audit/audit_analysis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/x509_util.h"
#include "common/snapshot_json.h"
#include "common/snapshot_topic.h"

#define MAX_PAYLOAD (1024 * 1024)
#define MAX_VALUES 100000

typedef struct {
	char id[SMSCMS_RECIPIENT_ID_MAX];
	char name[160];
} known_recipient;

struct audit_keys {
	smscms_ctx *ctx;
	smscms_identity *us;
	smscms_verifier *verifier;
	receipt_verifier *receipts;
	X509_STORE *status_store;      /* E2E root (+ CRLs) for signed status reports */
	X509 *root;
	STACK_OF(X509) *cas;           /* root and e2e.ca_certs: the CAs above an originator */
	crl_watch *crls;
	identity scope_id;
	char scope[IDENTITY_SCOPE_MAX];
	known_recipient known[AUDIT_MAX_KNOWN * 2 + 2];
	size_t n_known;
	const snapshot_dicts *dicts;   /* the config's, for compact snapshots */
};

/* ------------------------------------------------------------ keys */

/* A recipient is named by its subject; both identifier forms are known. */
static void add_known(audit_keys *k, X509 *cert, const char *label)
{
	char subject[140] = "";
	int form;

	if (label == NULL) {
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
		label = subject;
	}
	for (form = 0; form < 2 && k->n_known < sizeof k->known / sizeof k->known[0]; form++) {
		known_recipient *r = &k->known[k->n_known];

		if (smscms_recipient_id_of_cert(cert, form, r->id, sizeof r->id) != 0)
			continue;
		snprintf(r->name, sizeof r->name, "%s", label);
		k->n_known++;
	}
}

static int load_scope(audit_keys *k, const char *tls_cert, char *err, size_t errlen)
{
	X509 *x = x509_read_cert(tls_cert);
	char why[200];
	int rc = -1;

	if (x == NULL)
		snprintf(err, errlen, "%s: no readable certificate", tls_cert);
	else if (identity_from_subject(X509_get_subject_name(x), &k->scope_id, why, sizeof why) != 0)
		snprintf(err, errlen, "%s: subject refused: %s", tls_cert, why);
	else if (k->scope_id.kind != IDENTITY_ACCOUNT && k->scope_id.kind != IDENTITY_MASTER)
		snprintf(err, errlen, "%s: not an account or master-account client certificate "
		         "(O=ma, OU=acc, CN=... or O=ma, CN=...)", tls_cert);
	else
		rc = 0;
	if (rc == 0)
		snprintf(k->scope, sizeof k->scope, "%s", identity_scope(&k->scope_id));
	X509_free(x);
	return rc;
}

static int set_crls(audit_keys *k, char *err, size_t errlen)
{
	const struct crl_set *set = crl_watch_current(k->crls);
	X509_STORE *st = X509_STORE_new();

	if (smscms_verifier_set_crls(k->ctx, k->verifier, crl_set_crls(set)) != SMSCMS_OK) {
		snprintf(err, errlen, "E2E CRLs: %s", smscms_ctx_error(k->ctx));
		X509_STORE_free(st);
		return -1;
	}
	if (receipt_verifier_set_crls(k->receipts, crl_set_crls(set), err, errlen) != 0 || st == NULL ||
	    X509_STORE_add_cert(st, k->root) != 1 || crl_set_add_to_store(set, st, err, errlen) != 0) {
		if (st == NULL)
			snprintf(err, errlen, "out of memory");
		X509_STORE_free(st);
		return -1;
	}
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	X509_STORE_free(k->status_store);
	k->status_store = st;
	return 0;
}

static int load_cas(audit_keys *k, const audit_config *cfg, char *err, size_t errlen)
{
	size_t i;

	if ((k->cas = sk_X509_new_null()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (x509_add_certs_from_pem(k->cas, cfg->e2e.trust_root, err, errlen) != 0)
		return -1;
	for (i = 0; i < cfg->e2e.n_ca_certs; i++)
		if (x509_add_certs_from_pem(k->cas, cfg->e2e.ca_certs[i], err, errlen) != 0)
			return -1;
	return 0;
}

static int load_verifiers(audit_keys *k, const audit_config *cfg, char *err, size_t errlen)
{
	if (load_cas(k, cfg, err, errlen) != 0)
		return -1;
	if (smscms_verifier_new(k->ctx, cfg->e2e.trust_root, NULL, 0, &k->verifier) != SMSCMS_OK ||
	    smscms_verifier_set_intermediates(k->ctx, k->verifier, k->cas) != SMSCMS_OK) {
		snprintf(err, errlen, "trust root %s: %s", cfg->e2e.trust_root, smscms_ctx_error(k->ctx));
		return -1;
	}
	k->receipts = receipt_verifier_new(cfg->e2e.trust_root, cfg->services_ca, cfg->receipt_signer, err, errlen);
	if (k->receipts == NULL)
		return -1;
	if ((k->root = x509_read_cert(cfg->e2e.trust_root)) == NULL) {
		snprintf(err, errlen, "%s: no readable certificate", cfg->e2e.trust_root);
		return -1;
	}
	if (cfg->e2e.n_crls == 0) {
		k->status_store = X509_STORE_new();
		if (k->status_store == NULL || X509_STORE_add_cert(k->status_store, k->root) != 1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	k->crls = crl_watch_for_e2e("E2E CRLs", &cfg->e2e, err, errlen);
	return k->crls != NULL ? set_crls(k, err, errlen) : -1;
}

audit_keys *audit_keys_new(const audit_config *cfg, char *err, size_t errlen)
{
	audit_keys *k = calloc(1, sizeof *k);
	size_t i;

	if (k == NULL || (k->ctx = smscms_ctx_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (load_scope(k, cfg->broker.cert, err, errlen) != 0)
		goto fail;
	if (smscms_identity_load_pem(k->ctx, cfg->e2e.cert, cfg->e2e.key, cfg->e2e.chain, &k->us) != SMSCMS_OK) {
		snprintf(err, errlen, "E2E identity %s: %s", cfg->e2e.cert, smscms_ctx_error(k->ctx));
		goto fail;
	}
	if (load_verifiers(k, cfg, err, errlen) != 0)
		goto fail;
	k->dicts = cfg->dicts;
	add_known(k, smscms_identity_cert(k->us), "us");
	for (i = 0; i < cfg->n_known; i++) {
		X509 *x = x509_read_cert(cfg->known[i]);

		if (x == NULL) {
			snprintf(err, errlen, "e2e.known_recipients: %s: no readable certificate", cfg->known[i]);
			goto fail;
		}
		add_known(k, x, NULL);
		X509_free(x);
	}
	return k;
fail:
	audit_keys_free(k);
	return NULL;
}

void audit_keys_free(audit_keys *k)
{
	if (k == NULL)
		return;
	smscms_identity_free(k->us);
	smscms_verifier_free(k->verifier);
	receipt_verifier_free(k->receipts);
	X509_STORE_free(k->status_store);
	X509_free(k->root);
	sk_X509_pop_free(k->cas, X509_free);
	crl_watch_free(k->crls);
	smscms_ctx_free(k->ctx);
	free(k);
}

const char *audit_keys_scope(const audit_keys *k)
{
	return k->scope;
}

int audit_keys_poll_crls(audit_keys *k, int force)
{
	char err[300];

	if (k->crls == NULL || crl_watch_poll(k->crls, time(NULL), force) != 1)
		return 0;
	if (set_crls(k, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "E2E CRLs verified but not taken: %s", err);
		return 0;
	}
	return 1;
}

int audit_keys_crl_summary(const audit_keys *k, struct crl_set_summary *out)
{
	if (k->crls == NULL)
		return 0;
	crl_set_summary(crl_watch_current(k->crls), out);
	return 1;
}

/* cert's revocationDate in a CRL of its issuer: 1 and *when, or 0. */
static int revoked_in(const STACK_OF(X509_CRL) *crls, X509 *cert, time_t *when)
{
	X509_REVOKED *rev = NULL;
	int i;

	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) == 0 &&
		    X509_CRL_get0_by_cert(crl, &rev, cert) == 1) {
			*when = x509_time(X509_REVOKED_get0_revocationDate(rev));
			return 1;
		}
	}
	return 0;
}

/* The CA among k->cas that issued x, NULL for none or a self-signed x. */
static X509 *issuer_of(const audit_keys *k, X509 *x)
{
	int i;

	if (X509_check_issued(x, x) == X509_V_OK)
		return NULL;
	for (i = 0; i < sk_X509_num(k->cas); i++)
		if (X509_check_issued(sk_X509_value(k->cas, i), x) == X509_V_OK)
			return sk_X509_value(k->cas, i);
	return NULL;
}

int audit_keys_revoked_at(const audit_keys *k, X509 *cert, time_t *when)
{
	const STACK_OF(X509_CRL) *crls;
	time_t t;
	int found = 0, depth;

	if (k->crls == NULL || cert == NULL)
		return 0;
	crls = crl_set_crls(crl_watch_current(k->crls));
	/* The chain is short (root, master, account, leaf); the bound stops a loop. */
	for (depth = 0; cert != NULL && depth < 8; depth++, cert = issuer_of(k, cert))
		if (revoked_in(crls, cert, &t) && (!found || t < *when)) {
			*when = t;
			found = 1;
		}
	return found;
}

/* ------------------------------------------------------------ helpers */

static void finding(analysis *a, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void finding(analysis *a, const char *code, const char *fmt, ...)
{
	analysis_finding *f;
	va_list ap;
	char *p;

	if (a->n_findings >= ANALYSIS_MAX_FINDINGS)
		return;
	f = &a->findings[a->n_findings++];
	snprintf(f->code, sizeof f->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof f->detail, fmt, ap);
	va_end(ap);
	/* One line per finding in every format. */
	for (p = f->detail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%s", "");
}

static int set_content(analysis *a, const unsigned char *p, size_t len)
{
	a->content = malloc(len + 1);
	if (a->content == NULL)
		return -1;
	memcpy(a->content, p, len);
	a->content[len] = '\0';
	a->content_len = len;
	return 0;
}

/* "ma/acc/eq" bound to an identity from a certificate: 1 when it is that equipment. */
static int owns(X509 *cert, const char *equipment, char *who, size_t wholen)
{
	identity id;
	char err[160];

	if (identity_from_subject(X509_get_subject_name(cert), &id, err, sizeof err) != 0) {
		snprintf(who, wholen, "not an SMS identity (%s)", err);
		return 0;
	}
	snprintf(who, wholen, "%s", id.name);
	return id.kind == IDENTITY_EQUIPMENT && strcmp(id.name, equipment) == 0;
}

static void name_recipients(audit_keys *k, const unsigned char *der, size_t len, analysis *a)
{
	char (*ids)[SMSCMS_RECIPIENT_ID_MAX] = malloc(sizeof *ids * ANALYSIS_MAX_RECIPIENTS);
	size_t n = 0, i, j, off = 0;

	if (ids == NULL || smscms_recipients(k->ctx, NULL, der, len, ids, ANALYSIS_MAX_RECIPIENTS, &n) != SMSCMS_OK)
		n = 0;
	for (i = 0; i < n; i++) {
		const char *name = ids[i];

		for (j = 0; j < k->n_known; j++)
			if (strcmp(k->known[j].id, ids[i]) == 0) {
				name = k->known[j].name;
				if (strcmp(name, "us") == 0)
					a->for_us = 1;
				break;
			}
		off += (size_t)snprintf(a->recipients + off, sizeof a->recipients - off, "%s%.150s",
		                        i > 0 ? "; " : "", name);
		if (off >= sizeof a->recipients)
			break;
	}
	free(ids);
}

/* ------------------------------------------------------------ channels */

static int analyse_snapshot(audit_keys *k, const unsigned char *der, size_t len, analysis *a)
{
	smscms_originator orig;
	smscms_status st;
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	snapshot snap;
	snapshot_status js;
	char who[IDENTITY_SCOPE_MAX + 80], err[300];
	int rc = 0;

	memset(&orig, 0, sizeof orig);
	snprintf(a->kind, sizeof a->kind, "snapshot");
	name_recipients(k, der, len, a);
	st = smscms_decrypt(k->ctx, NULL, k->us, k->verifier, der, len, &pt, &pt_len, &orig);
	if (orig.cert != NULL && orig.chain_verified)
		snprintf(a->originator, sizeof a->originator, "%s", orig.subject);
	if (orig.has_signing_time)
		iso_time(orig.signing_time, a->signed_at, sizeof a->signed_at);
	switch (st) {
	case SMSCMS_OK:
		break;
	case SMSCMS_ERR_NOT_RECIPIENT:
		finding(a, "not_for_us", "encrypted for: %s", a->recipients[0] ? a->recipients : "(no recipient named)");
		goto out;
	case SMSCMS_ERR_UNTRUSTED:
	case SMSCMS_ERR_ORIGINATOR:
		finding(a, "unknown_originator", "%s", smscms_ctx_error(k->ctx));
		goto out;
	case SMSCMS_ERR_REVOKED:
		finding(a, "revoked_originator", "%s", smscms_ctx_error(k->ctx));
		goto out;
	case SMSCMS_ERR_AUTH:
	case SMSCMS_ERR_KEY_UNWRAP:
		finding(a, "tampered", "%s", smscms_ctx_error(k->ctx));
		goto out;
	case SMSCMS_ERR_MEMORY:
	case SMSCMS_ERR_CRYPTO:
	case SMSCMS_ERR_ARGUMENT:
		rc = -1;
		goto out;
	default:
		finding(a, "undecodable", "%s: %s", smscms_status_name(st), smscms_ctx_error(k->ctx));
		goto out;
	}
	if (orig.cert == NULL || !orig.chain_verified) {
		finding(a, "unknown_originator", "originator certificate not verified");
		goto out;
	}
	if (X509_up_ref(orig.cert) != 1) {
		rc = -1;
		goto out;
	}
	a->signer = orig.cert;
	if (!owns(orig.cert, a->equipment, who, sizeof who))
		finding(a, "topic_mismatch", "originator %s does not own topic %s", who, a->equipment);
	if (set_content(a, pt, pt_len) != 0) {
		rc = -1;
		goto out;
	}
	js = snapshot_parse_dict((const char *)pt, pt_len, MAX_VALUES, k->dicts, &snap, err, sizeof err);
	if (js != SNAPSHOT_OK) {
		finding(a, js == SNAPSHOT_UNKNOWN_DICTIONARY ? "unknown_dictionary" : "undecodable", "snapshot JSON: %s",
		        err);
		goto out;
	}
	a->seq = snap.seq;
	snprintf(a->taken_at, sizeof a->taken_at, "%s", snap.taken_at);
	/* split_topic made equipment "ma/acc/eq": the JSON must name the same eq. */
	if (strcmp(strrchr(a->equipment, '/') + 1, snap.equipment) != 0)
		finding(a, "topic_mismatch", "snapshot names equipment %.64s, topic %s", snap.equipment, a->equipment);
	snapshot_free(&snap);
out:
	if (pt != NULL)
		OPENSSL_clear_free(pt, pt_len);
	smscms_originator_clear(&orig);
	return rc;
}

/* The certificate of a verified SignedData's one signer (own reference), or
 * NULL. receipt_verify keeps its signer to itself; `verify` needs it. */
static X509 *receipt_signer(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	STACK_OF(CMS_SignerInfo) *sis = cms != NULL ? CMS_get0_SignerInfos(cms) : NULL;
	STACK_OF(X509) *certs = cms != NULL ? CMS_get1_certs(cms) : NULL;
	X509 *signer = NULL;
	int i;

	for (i = 0; sk_CMS_SignerInfo_num(sis) == 1 && i < sk_X509_num(certs); i++)
		if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, 0), sk_X509_value(certs, i)) == 0) {
			signer = sk_X509_value(certs, i);
			if (X509_up_ref(signer) != 1)
				signer = NULL;
			break;
		}
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return signer;
}

static int analyse_receipt(audit_keys *k, const unsigned char *der, size_t len, analysis *a)
{
	receipt r;
	char err[400];

	snprintf(a->kind, sizeof a->kind, "receipt");
	memset(&r, 0, sizeof r);
	if (receipt_verify(k->receipts, der, len, a->equipment, &r, err, sizeof err) != 0) {
		finding(a, "bad_signature", "receipt refused: %s", err);
		return 0;
	}
	iso_time(r.signing_time, a->signed_at, sizeof a->signed_at);
	a->signer = receipt_signer(der, len);
	a->digests = r.digests;
	a->n_digests = r.n_digests;
	r.digests = NULL;
	r.n_digests = 0;
	receipt_free(&r);
	return 0;
}

static void openssl_error(char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(err, errlen, "unknown reason");
	else
		ERR_error_string_n(e, err, errlen);
	ERR_clear_error();
}

/* Status reports convince a third party, so they are signed (DESIGN.md). */
static int analyse_status(audit_keys *k, const unsigned char *der, size_t len, analysis *a)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	BIO *out = BIO_new(BIO_s_mem());
	STACK_OF(X509) *signers = NULL;
	char err[300], who[IDENTITY_SCOPE_MAX + 80];
	char *data;
	long n;
	int rc = 0;

	snprintf(a->kind, sizeof a->kind, "status");
	if (out == NULL) {
		rc = -1;
		goto out;
	}
	if (cms == NULL || p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		finding(a, "undecodable", "not a DER CMS SignedData");
		goto out;
	}
	if (CMS_verify(cms, NULL, k->status_store, NULL, out, CMS_BINARY) != 1) {
		openssl_error(err, sizeof err);
		finding(a, "bad_signature", "status report signature: %s", err);
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (signers == NULL || sk_X509_num(signers) != 1) {
		finding(a, "bad_signature", "status report needs exactly one signer");
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(sk_X509_value(signers, 0)), a->originator, sizeof a->originator);
	if (X509_up_ref(sk_X509_value(signers, 0)) != 1) {
		rc = -1;
		goto out;
	}
	a->signer = sk_X509_value(signers, 0);
	if (!owns(sk_X509_value(signers, 0), a->equipment, who, sizeof who))
		finding(a, "topic_mismatch", "signer %s does not own topic %s", who, a->equipment);
	n = BIO_get_mem_data(out, &data);
	if (n >= 0 && set_content(a, (const unsigned char *)data, (size_t)n) != 0)
		rc = -1;
out:
	ERR_clear_error();
	sk_X509_free(signers);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* ------------------------------------------------------------ entry */

/* topic = <scope>/.../<ma>/<acc>/<eq>/<channel...>: equipment and channel. */
static const char *split_topic(const audit_keys *k, const char *topic, analysis *a)
{
	size_t sl = strlen(k->scope);
	const char *s = topic, *channel;
	int level;

	if (strncmp(topic, k->scope, sl) != 0 || topic[sl] != '/')
		return NULL;
	for (level = 0; level < 3; level++) {
		const char *e = strchr(s, '/');

		if (e == NULL || !snapshot_topic_level_valid(s, (size_t)(e - s)))
			return NULL;
		s = e + 1;
	}
	channel = s;
	if ((size_t)(channel - 1 - topic) >= sizeof a->equipment)
		return NULL;
	memcpy(a->equipment, topic, (size_t)(channel - 1 - topic));
	a->equipment[channel - 1 - topic] = '\0';
	return channel;
}

int analysis_run(audit_keys *k, const char *topic, const unsigned char *payload, size_t len, analysis *a)
{
	const char *channel;

	memset(a, 0, sizeof *a);
	a->seq = -1;
	ERR_clear_error();
	channel = split_topic(k, topic, a);
	if (channel == NULL) {
		snprintf(a->kind, sizeof a->kind, "other");
		a->equipment[0] = '\0';
		finding(a, "outside_subtree", "topic is not <ma>/<acc>/<eq>/<channel> inside %s", k->scope);
		return 0;
	}
	if (len == 0 || len > MAX_PAYLOAD) {
		snprintf(a->kind, sizeof a->kind, "%s", strcmp(channel, "snapshots") == 0 ? "snapshot" : "other");
		finding(a, "undecodable", "payload of %zu bytes", len);
		return 0;
	}
	if (strcmp(channel, "snapshots") == 0)
		return analyse_snapshot(k, payload, len, a);
	if (strcmp(channel, "receipts") == 0)
		return analyse_receipt(k, payload, len, a);
	if (strcmp(channel, "firmware/status") == 0)
		return analyse_status(k, payload, len, a);
	if (strcmp(channel, "firmware") == 0) {
		snprintf(a->kind, sizeof a->kind, "firmware");
		name_recipients(k, payload, len, a);
		return 0;
	}
	snprintf(a->kind, sizeof a->kind, "other");
	/* Channels of the topic tree this version does not analyse: kept as received. */
	if (strcmp(channel, "crl") != 0 && strcmp(channel, "commands") != 0 && strcmp(channel, "commands/result") != 0)
		finding(a, "outside_subtree", "channel %.60s is not one the design defines", channel);
	return 0;
}

void analysis_clear(analysis *a)
{
	if (a->content != NULL)
		OPENSSL_clear_free(a->content, a->content_len + 1);
	free(a->digests);
	X509_free(a->signer);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ text forms */

char *analysis_findings_text(const analysis *a)
{
	size_t i, len = 1, off = 0;
	char *s;

	for (i = 0; i < a->n_findings; i++)
		len += strlen(a->findings[i].code) + strlen(a->findings[i].detail) + 3;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < a->n_findings; i++)
		off += (size_t)snprintf(s + off, len - off, "%s: %s\n", a->findings[i].code, a->findings[i].detail);
	return s;
}

char *analysis_digests_text(const analysis *a)
{
	char *s = malloc(a->n_digests * (2 * RECEIPT_DIGEST_LEN + 1) + 1);
	size_t i;

	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < a->n_digests; i++) {
		receipt_digest_hex(a->digests[i], s + i * (2 * RECEIPT_DIGEST_LEN + 1));
		s[(i + 1) * (2 * RECEIPT_DIGEST_LEN + 1) - 1] = '\n';
		s[(i + 1) * (2 * RECEIPT_DIGEST_LEN + 1)] = '\0';
	}
	return s;
}

char *analysis_canonical(const char *kind, const char *equipment, const char *originator, const char *recipients,
                         int for_us, long long seq, const char *taken_at, const char *signed_at,
                         const char *content, const char *findings, const char *digests)
{
	const char *parts[] = { kind, equipment, originator, recipients, taken_at, signed_at, content, findings,
		                digests };
	size_t i, len = 64;
	char *s;
	size_t off;

	for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
		len += strlen(parts[i] ? parts[i] : "") + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	off = (size_t)snprintf(s, len, "%d|%lld", for_us, seq);
	for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
		off += (size_t)snprintf(s + off, len - off, "|%s", parts[i] ? parts[i] : "");
	return s;
}
