/*
 * sms-agent: the device agent installed on field equipment.
 *
 * Takes snapshot JSON files from a spool directory (agent_intake.h) and,
 * when socket.path is set, from a local unix socket (agent_socket.h),
 * signs each when e2e.sign_snapshots is on (SignedData inside the envelope),
 * encrypts each for every configured recipient (MQV, the device's E2E
 * identity as originator), keeps it in a durable outbox (agent_outbox.h)
 * and publishes it at QoS 1 on <ma>/<acc>/<eq>/snapshots. An entry stays
 * until a receipt on <ma>/<acc>/<eq>/receipts that verifies (receipt.h)
 * lists its digest; until then it is published again every
 * outbox.resend_interval, and at once when the broker has lost our session.
 *
 * Durability: a snapshot is accepted (its spool file removed, "accepted" answered) only once its
 * outbox file and directory entry are fsynced; it leaves the outbox only
 * by a verified receipt or by the stated bounds (oldest first, logged).
 *
 * CRLs (agent_crl.h): with crl.dir, CRLs from sms/crl/# are verified,
 * kept (highest crlNumber per issuer, durably) and used: the TLS ones on
 * the broker's chain from the next connect, the E2E ones (with the files
 * of e2e.crls) for receipts.
 *
 * Firmware (agent_firmware.h): with firmware.dir, offers on
 * <ma>/<acc>/<eq>/firmware, the release fetched from sms/firmware/...,
 * installed into the A/B slots, every step reported signed.
 *
 * Signals: SIGTERM/SIGINT disconnect and exit 0; SIGHUP scans the spool and
 * re-reads the E2E CRLs at once.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cms/smscms.h"
#include "common/crl_topic.h"
#include "common/crl_watch.h"
#include "common/daemon_cli.h"
#include "common/version.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/mqtt_session.h"
#include "common/receipt.h"
#include "common/role_cert.h"
#include "services/agent/agent_config.h"
#include "services/agent/agent_crl.h"
#include "services/agent/agent_firmware.h"
#include "services/agent/agent_intake.h"
#include "services/agent/agent_metrics.h"
#include "services/agent/agent_outbox.h"
#include "services/agent/agent_socket.h"
#include "common/signed_data.h"
#include "common/snapshot_dict.h"
#include "common/monotonic.h"
#include "common/x509_util.h"

#define EXPIRE_CHECK_S 60

typedef struct {
	const agent_config *cfg;
	identity id;
	char topic_snapshots[IDENTITY_SCOPE_MAX + 16], topic_receipts[IDENTITY_SCOPE_MAX + 16];
	smscms_ctx *ctx;                   /* supervising thread only */
	smscms_ctx *socket_ctx;            /* the socket intake's thread only */
	socket_intake *socket;
	smscms_identity *originator;
	X509 *recipients[AGENT_MAX_RECIPIENTS];
	size_t n_recipients;
	pthread_mutex_t verifier_lock;     /* receipts and CRLs arrive in the session thread, the
	                                      supervisor reloads e2e.crls: verifier and crl_store */
	receipt_verifier *verifier;
	crl_watch *crls;
	agent_crl *crl_store;              /* changed under verifier_lock */
	agent_outbox *outbox;
	agent_firmware *fw;                /* NULL without firmware.dir */
	mqtt_session *session;
	pthread_t session_thread;
	atomic_int session_done, inflight, disk_full;
	char session_err[600];
	intake_counts intake;
	atomic_ullong published, receipts_ok, receipts_refused;
	atomic_llong last_receipt;         /* Unix time, for metrics */
	time_t started;
} agent;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-agent --config FILE [--check-config] [--verbose]\n"
	        "\n"
	        "The device agent: takes snapshot JSON files from the spool directory\n"
	        "(and from the socket.path unix socket when configured),\n"
	        "encrypts them for the vendor and the customer, keeps them in a durable\n"
	        "outbox and publishes them until a signed receipt from the snapshot\n"
	        "service says they are stored. With a firmware group it also installs\n"
	        "signed, encrypted firmware releases into A/B slots (docs/firmware.md).\n"
	        "\n"
	        "  --config FILE  libconfig file (see services/agent/agent.conf.example)\n"
	        "  --check-config read the file and every file it names, then exit: 0, or 1\n"
	        "                 with one line FILE:LINE: problem\n"
	        "  --verbose      debug logging\n"
	        "  --help         this text\n"
	        "  --version      print the version\n"
	        "\n"
	        "Signals: TERM/INT disconnect and exit; HUP scans the spool and reloads CRLs now.\n"
	        "\n" SMS_EXIT_CODES_HELP);
}

/* ------------------------------------------------------------- keys */

static int cert_identity(const char *path, identity *id, char *err, size_t errlen)
{
	X509 *cert = x509_read_cert(path);
	char why[200];
	int rc = -1;

	if (cert == NULL)
		snprintf(err, errlen, "%s: no readable certificate", path);
	else if (identity_from_subject(X509_get_subject_name(cert), id, why, sizeof why) != 0)
		snprintf(err, errlen, "%s: subject refused: %s", path, why);
	else if (id->kind != IDENTITY_EQUIPMENT)
		snprintf(err, errlen, "%s: not an equipment certificate (O=ma, OU=acc, serialNumber=eq)", path);
	else
		rc = 0;
	X509_free(cert);
	return rc;
}

/* Whether tenant identity t's scope holds equipment self: t is its
 * customer's account or master account. */
static int is_customer_of(const identity *t, const identity *self)
{
	if (t->kind == IDENTITY_MASTER)
		return strcmp(t->master, self->master) == 0;
	return t->kind == IDENTITY_ACCOUNT && strcmp(t->master, self->master) == 0 &&
	       strcmp(t->account, self->account) == 0;
}

/* One recipient: 0 and *r, or -1 with err. */
static int recipient_identity(const char *path, X509 *services_ca, identity *r, char *err, size_t errlen)
{
	X509 *cert = x509_read_cert(path);
	char why[200];
	int rc = -1;

	if (cert == NULL || identity_from_subject(X509_get_subject_name(cert), r, why, sizeof why) != 0)
		snprintf(err, errlen, "e2e.recipients: %s: no certificate with an SMS identity", path);
	/* A role is honoured only on a certificate the services CA signed (a
	 * customer's CA must not mint a "vendor" recipient). */
	else if (r->kind == IDENTITY_ROLE && role_cert_check(cert, services_ca, r->role, "", why, sizeof why) != 0)
		snprintf(err, errlen, "e2e.recipients: %s names role %s but is not issued by e2e.services_ca", path,
		         r->role);
	else
		rc = 0;
	X509_free(cert);
	return rc;
}

/*
 * Who may read what this device sends is decided here, once, so a wrong
 * line in the config cannot leak snapshots: every recipient is a vendor
 * role or a client of this device's own account or master account (never
 * another device, never another customer), and the receipt signer's role
 * is among them (it could not decrypt otherwise, so nothing would ever be
 * receipted and the outbox would only grow). A device whose customer is
 * not a recipient is allowed (the customer's auditor reports it) but said.
 */
static int check_recipients(const agent_config *cfg, const identity *self, char *err, size_t errlen)
{
	X509 *services_ca = x509_read_cert(cfg->e2e_services_ca);
	int has_signer = 0, has_customer = 0, rc = -1;
	identity r;
	size_t i;

	if (services_ca == NULL) {
		snprintf(err, errlen, "e2e.services_ca %s: no readable certificate", cfg->e2e_services_ca);
		return -1;
	}
	for (i = 0; i < cfg->n_recipients; i++) {
		if (recipient_identity(cfg->recipients[i], services_ca, &r, err, errlen) != 0)
			goto out;
		if (r.kind == IDENTITY_ROLE) {
			has_signer |= strcmp(r.role, cfg->receipt_signer) == 0;
		} else if (is_customer_of(&r, self)) {
			has_customer = 1;
		} else {
			snprintf(err, errlen, "e2e.recipients: %s is %s, which is neither a vendor role nor a client of "
			         "this device's account %s/%s: it must not read this device's snapshots",
			         cfg->recipients[i], r.name, self->master, self->account);
			goto out;
		}
	}
	if (!has_signer) {
		snprintf(err, errlen, "e2e.recipients: none is the receipt signer's role (%s): it could not decrypt, so "
		         "nothing would ever be receipted", cfg->receipt_signer);
		goto out;
	}
	if (!has_customer)
		sms_log(LOG_LEVEL_WARNING, "e2e.recipients names no client of account %s/%s or master account %s: the "
		        "customer cannot read what this device sends (its auditor reports every snapshot)",
		        self->master, self->account, self->master);
	rc = 0;
out:
	X509_free(services_ca);
	return rc;
}

/* The E2E and the TLS certificate must name the same equipment: the topic
 * the broker lets us write and the originator the service checks. */
static int check_identities(const agent_config *cfg, identity *self, char *err, size_t errlen)
{
	identity tls;

	if (cert_identity(cfg->e2e.cert, self, err, errlen) != 0 ||
	    cert_identity(cfg->broker.cert, &tls, err, errlen) != 0)
		return -1;
	if (strcmp(self->name, tls.name) != 0) {
		snprintf(err, errlen, "e2e.cert is equipment %s but broker.cert is %s", self->name, tls.name);
		return -1;
	}
	return check_recipients(cfg, self, err, errlen);
}

static int load_identity(agent *a, char *err, size_t errlen)
{
	if (check_identities(a->cfg, &a->id, err, errlen) != 0)
		return -1;
	snprintf(a->topic_snapshots, sizeof a->topic_snapshots, "%s/snapshots", a->id.name);
	snprintf(a->topic_receipts, sizeof a->topic_receipts, "%s/receipts", a->id.name);
	return 0;
}

static int load_keys(agent *a, char *err, size_t errlen)
{
	const agent_config *cfg = a->cfg;
	size_t i;

	if (smscms_identity_load_pem(a->ctx, cfg->e2e.cert, cfg->e2e.key, cfg->e2e.chain, &a->originator) !=
	    SMSCMS_OK) {
		snprintf(err, errlen, "loading E2E identity %s: %s", cfg->e2e.cert, smscms_ctx_error(a->ctx));
		return -1;
	}
	for (i = 0; i < cfg->n_recipients; i++) {
		if (smscms_cert_load_pem(a->ctx, cfg->recipients[i], &a->recipients[i]) != SMSCMS_OK) {
			snprintf(err, errlen, "recipient %s: %s", cfg->recipients[i], smscms_ctx_error(a->ctx));
			return -1;
		}
		a->n_recipients++;
	}
	a->verifier = receipt_verifier_new(cfg->e2e.trust_root, cfg->e2e_services_ca, cfg->receipt_signer, err,
	                                   errlen);
	return a->verifier ? 0 : -1;
}

/* The E2E CRLs for receipts and, with firmware, for manifests and offers. */
static int use_e2e_crls(agent *a, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	if (receipt_verifier_set_crls(a->verifier, crls, err, errlen) != 0)
		return -1;
	return a->fw ? agent_firmware_set_crls(a->fw, crls, err, errlen) : 0;
}

/* The receipt verifier's CRLs: the files' (crl_watch) and those from the
 * broker (agent_crl), the newer per issuer. Caller holds verifier_lock
 * once the session runs. */
static int receipt_crls(agent *a, char *err, size_t errlen)
{
	const STACK_OF(X509_CRL) *files = a->crls ? crl_set_crls(crl_watch_current(a->crls)) : NULL;
	STACK_OF(X509_CRL) *all;
	int rc;

	if (a->crl_store == NULL)
		return use_e2e_crls(a, files, err, errlen);
	all = agent_crl_merge(agent_crl_held(a->crl_store, CRL_PKI_E2E), files);
	if (all == NULL) {
		snprintf(err, errlen, "out of memory merging the E2E CRLs");
		return -1;
	}
	rc = use_e2e_crls(a, all, err, errlen);
	sk_X509_CRL_pop_free(all, X509_CRL_free);
	return rc;
}

/* The E2E CRLs as every daemon treats them (crl_watch.h); the receipt
 * verifier starts without CRLs and gets only verified ones. */
static int watch_crls(agent *a, char *err, size_t errlen)
{
	const agent_config *cfg = a->cfg;

	if (cfg->e2e.n_crls > 0 && (a->crls = crl_watch_for_e2e("E2E CRLs", &cfg->e2e, err, errlen)) == NULL)
		return -1;
	return receipt_crls(a, err, errlen);
}

static void poll_crls(agent *a, int force)
{
	char err[300];

	if (a->crls == NULL || crl_watch_poll(a->crls, time(NULL), force) != 1)
		return;
	pthread_mutex_lock(&a->verifier_lock);
	if (receipt_crls(a, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_ERROR, "E2E CRLs verified but not taken for receipts: %s", err);
	pthread_mutex_unlock(&a->verifier_lock);
}

/* The CRL store of crl.dir, checked against broker.cafile + crl.tls_ca_certs
 * (TLS) and the E2E root, services CA and e2e.ca_certs. */
static int open_crl_store(agent *a, char *err, size_t errlen)
{
	const agent_config *cfg = a->cfg;
	const char *tls[CONF_MAX_CRLS + 1], *e2e[CONF_MAX_CRLS + 2];
	const char *const *files[CRL_PKI_COUNT] = { tls, e2e };
	size_t n[CRL_PKI_COUNT] = { 0, 0 }, i;

	if (cfg->crl_dir == NULL)
		return 0;
	tls[n[0]++] = cfg->broker.cafile;
	for (i = 0; i < cfg->n_crl_tls_ca_certs; i++)
		tls[n[0]++] = cfg->crl_tls_ca_certs[i];
	e2e[n[1]++] = cfg->e2e.trust_root;
	e2e[n[1]++] = cfg->e2e_services_ca;
	for (i = 0; i < cfg->e2e.n_ca_certs; i++)
		e2e[n[1]++] = cfg->e2e.ca_certs[i];
	a->crl_store = agent_crl_open(cfg->crl_dir, files, n, err, errlen);
	if (a->crl_store == NULL)
		return -1;
	sms_log(LOG_LEVEL_INFO, "CRL store %s: %d TLS and %d E2E CRL(s) held", cfg->crl_dir,
	        sk_X509_CRL_num(agent_crl_held(a->crl_store, CRL_PKI_TLS)),
	        sk_X509_CRL_num(agent_crl_held(a->crl_store, CRL_PKI_E2E)));
	return 0;
}

/* A message on sms/crl/...: stored when it is newer, then in use. */
static void on_crl(agent *a, const struct mosquitto_message *msg)
{
	char why[900], err[300];
	agent_crl_verdict v;
	int rc;

	pthread_mutex_lock(&a->verifier_lock);
	v = agent_crl_offer(a->crl_store, msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
	                    why, sizeof why);
	rc = 0;
	if (v == AGENT_CRL_STORED) {
		if (strncmp(msg->topic, CRL_TOPIC_PREFIX "tls/", strlen(CRL_TOPIC_PREFIX "tls/")) == 0)
			rc = mqtt_session_set_crls(a->session, agent_crl_held(a->crl_store, CRL_PKI_TLS), err, sizeof err);
		else
			rc = receipt_crls(a, err, sizeof err);
	}
	pthread_mutex_unlock(&a->verifier_lock);
	switch (v) {
	case AGENT_CRL_STORED:
		sms_log(LOG_LEVEL_INFO, "CRL on %s: %s", msg->topic, why);
		break;
	case AGENT_CRL_SAME:
	case AGENT_CRL_UNKNOWN:
		sms_log(LOG_LEVEL_DEBUG, "CRL on %s ignored: %s", msg->topic, why);
		return;
	case AGENT_CRL_IO:
		sms_log(LOG_LEVEL_ERROR, "CRL on %s not stored: %s; the CRLs held stay in use", msg->topic, why);
		return;
	default:
		sms_log(LOG_LEVEL_WARNING, "refused a CRL on %s: %s", msg->topic, why);
		return;
	}
	if (rc != 0)
		sms_log(LOG_LEVEL_ERROR, "CRL on %s stored but not in use yet: %s", msg->topic, err);
}

/* ------------------------------------------------------------ intake */

/* With e2e.sign_snapshots the envelope carries SignedData(JSON) signed with
 * the same E2E identity (RFC 5652 nesting: inner content type id-signedData),
 * else the JSON itself. *pt is OPENSSL_malloc'd when signed, else json. */
static int sign_if_asked(const agent *a, const char *json, size_t len, const unsigned char **pt, size_t *pt_len,
                         unsigned char **owned, char *why, size_t whylen)
{
	char err[400];

	*owned = NULL;
	*pt = (const unsigned char *)json;
	*pt_len = len;
	if (!a->cfg->sign_snapshots)
		return 0;
	if (signed_data_sign(smscms_identity_cert(a->originator), smscms_identity_key(a->originator),
	                     smscms_identity_chain(a->originator), (const unsigned char *)json, len, owned, pt_len, err,
	                     sizeof err) != 0) {
		snprintf(why, whylen, "cannot be signed: %s", err);
		return -1;
	}
	*pt = *owned;
	return 0;
}

/* The snapshot in the compact form of the agent's dictionary, or NULL when
 * there is none or it does not list every channel (then the full form goes). */
static char *compact_form(const agent *a, const char *json, size_t len)
{
	snapshot s;
	char err[300], *out = NULL;

	if (a->cfg->dicts == NULL ||
	    snapshot_parse_dict(json, len, a->cfg->max_values, a->cfg->dicts, &s, err, sizeof err) != SNAPSHOT_OK)
		return NULL;
	if (snapshot_dict_compact(a->cfg->dicts->d[0], &s, &out, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_DEBUG, "intake: sent in the full form: %s", err);
	snapshot_free(&s);
	return out;
}

/* Signs (when configured), encrypts and stores the snapshot durably; ctx
 * belongs to the calling thread. */
static intake_verdict seal(agent *a, smscms_ctx *ctx, const char *json, size_t len,
                           unsigned char digest[OUTBOX_DIGEST_LEN], char *why, size_t whylen)
{
	smscms_encrypt_opts opts;
	unsigned char *der = NULL, *signed_der = NULL;
	const unsigned char *pt;
	unsigned int dlen = 0;
	size_t der_len = 0, pt_len = 0;
	char err[400];
	intake_verdict v = INTAKE_LATER;
	outbox_status st;
	char *compact = compact_form(a, json, len);

	if (compact != NULL) {
		json = compact;
		len = strlen(compact);
	}
	smscms_encrypt_opts_init(&opts);
	opts.compress = a->cfg->compress;
	if (sign_if_asked(a, json, len, &pt, &pt_len, &signed_der, why, whylen) != 0) {
		free(compact);
		return INTAKE_REFUSED;
	}
	if (signed_der != NULL)
		opts.content_type_nid = NID_pkcs7_signed;
	if (smscms_encrypt(ctx, &opts, a->originator, a->recipients, a->n_recipients, pt, pt_len, &der, &der_len) !=
	    SMSCMS_OK) {
		snprintf(why, whylen, "cannot be encrypted: %s", smscms_ctx_error(ctx));
		v = INTAKE_REFUSED;
		goto out;
	}
	if (EVP_Digest(der, der_len, digest, &dlen, EVP_sha256(), NULL) != 1) {
		sms_log(LOG_LEVEL_ERROR, "intake: SHA-256 failed; input kept");
		goto out;
	}
	st = outbox_add(a->outbox, der, der_len, digest, err, sizeof err);
	if (st == OUTBOX_OK) {
		if (atomic_exchange(&a->disk_full, 0))
			sms_log(LOG_LEVEL_INFO, "outbox: space again, taking new input");
		v = INTAKE_STORED;
	} else if (st == OUTBOX_TOO_LARGE) {
		/* No eviction makes room for it: kept, it would block the spool. */
		snprintf(why, whylen, "too large once encrypted: %s", err);
		v = INTAKE_REFUSED;
	} else if (st == OUTBOX_NO_SPACE) {
		if (!atomic_exchange(&a->disk_full, 1))
			sms_log(LOG_LEVEL_ERROR, "%s: refusing new input until there is space; the spool and the "
			        "outbox are kept", err);
	} else {
		sms_log(LOG_LEVEL_ERROR, "%s; the input is kept", err);
	}
out:
	OPENSSL_free(der);
	OPENSSL_free(signed_der);
	free(compact);
	return v;
}

/* The spool's callback (supervising thread). */
static intake_verdict seal_and_store(void *ud, const char *json, size_t len, char *why, size_t whylen)
{
	agent *a = ud;
	unsigned char digest[OUTBOX_DIGEST_LEN];

	return seal(a, a->ctx, json, len, digest, why, whylen);
}

/* The socket's callback (its own thread, its own ctx). */
static intake_verdict seal_for_socket(void *ud, const char *json, size_t len, char hex[SOCKET_DIGEST_HEX], char *why,
                                      size_t whylen)
{
	agent *a = ud;
	unsigned char digest[OUTBOX_DIGEST_LEN];
	intake_verdict v = seal(a, a->socket_ctx, json, len, digest, why, whylen);

	if (v == INTAKE_STORED)
		receipt_digest_hex(digest, hex);
	return v;
}

static int start_socket(agent *a, const intake_config *ic, char *err, size_t errlen)
{
	const agent_config *cfg = a->cfg;
	const socket_intake_config sc = { .path = cfg->socket_path, .mode = cfg->socket_mode, .uid = cfg->socket_uid,
	                                  .gid = cfg->socket_gid, .timeout_ms = cfg->socket_timeout_ms, .check = ic,
	                                  .store = seal_for_socket, .ud = a };

	if (cfg->socket_path == NULL)
		return 0;
	if ((a->socket_ctx = smscms_ctx_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->socket = socket_intake_start(&sc, err, errlen);
	return a->socket ? 0 : -1;
}

/* ---------------------------------------------------------- session */

static void on_receipt(mqtt_session *s, void *ud, const struct mosquitto_message *msg)
{
	agent *a = ud;
	char err[400];
	receipt r;
	size_t removed;
	int rc;

	(void)s;
	if (a->crl_store != NULL && strncmp(msg->topic, CRL_TOPIC_PREFIX, strlen(CRL_TOPIC_PREFIX)) == 0) {
		on_crl(a, msg);
		return;
	}
	if (a->fw != NULL && agent_firmware_wants(a->fw, msg->topic)) {
		agent_firmware_on_message(a->fw, msg);
		return;
	}
	if (strcmp(msg->topic, a->topic_receipts) != 0 || msg->payloadlen <= 0) {
		sms_log(LOG_LEVEL_WARNING, "ignoring a message on %s", msg->topic);
		return;
	}
	pthread_mutex_lock(&a->verifier_lock);
	rc = receipt_verify(a->verifier, msg->payload, (size_t)msg->payloadlen, a->id.name, &r, err, sizeof err);
	pthread_mutex_unlock(&a->verifier_lock);
	if (rc != 0) {
		atomic_fetch_add(&a->receipts_refused, 1);
		sms_log(LOG_LEVEL_WARNING, "refused a receipt on %s (%d bytes): %s; nothing removed from the outbox",
		        msg->topic, msg->payloadlen, err);
		return;
	}
	/* Deleting inside the callback: the receipt is acknowledged after. */
	removed = outbox_remove(a->outbox, (const unsigned char (*)[OUTBOX_DIGEST_LEN])r.digests, r.n_digests);
	atomic_fetch_add(&a->receipts_ok, 1);
	atomic_store(&a->last_receipt, (long long)time(NULL));
	sms_log(LOG_LEVEL_INFO, "receipt for %zu snapshot(s): %zu outbox entr%s removed", r.n_digests, removed,
	        removed == 1 ? "y" : "ies");
	receipt_free(&r);
}

static void on_connected(mqtt_session *s, void *ud, int session_present)
{
	agent *a = ud;

	(void)s;
	atomic_store(&a->inflight, 0);
	if (!session_present) {
		/* The broker lost (or never had) our session: whatever it had
		 * acknowledged may be gone with it. */
		outbox_all_due(a->outbox);
		sms_log(LOG_LEVEL_INFO, "no session on the broker: every unreceipted snapshot is due again");
	}
	if (a->fw != NULL)
		agent_firmware_on_connected(a->fw);
}

static void on_published(mqtt_session *s, void *ud, int mid)
{
	agent *a = ud;
	int cur = atomic_load(&a->inflight);

	(void)s;
	(void)mid;
	while (cur > 0 && !atomic_compare_exchange_weak(&a->inflight, &cur, cur - 1))
		;
}

static void *session_main(void *arg)
{
	agent *a = arg;

	if (mqtt_session_run(a->session, a->session_err, sizeof a->session_err) != 0)
		sms_log(LOG_LEVEL_ERROR, "%s", a->session_err);
	atomic_store(&a->session_done, 1);
	return NULL;
}

static int start_session(agent *a, char *err, size_t errlen)
{
	const agent_config *cfg = a->cfg;
	const char *subs[3] = { a->topic_receipts, CRL_TOPIC_FILTER, NULL };
	size_t n_subs = 1;
	mqtt_session_handlers h = { .on_message = on_receipt, .on_connected = on_connected,
	                            .on_published = on_published };
	mqtt_session_config mc = {
		.host = cfg->broker.host, .port = cfg->broker.port, .cafile = cfg->broker.cafile, .cert = cfg->broker.cert,
		.key = cfg->broker.key, .client_id = cfg->broker.client_id ? cfg->broker.client_id : a->id.name,
		.keepalive = cfg->broker.keepalive, .clean_start = 0, .session_expiry = cfg->session_expiry,
		.backoff_max_ms = cfg->backoff_max_ms, .max_inflight = cfg->window, .name = "broker",
		.check_crls = a->crl_store != NULL,
	};

	if (a->crl_store != NULL)
		n_subs++;
	if (a->fw != NULL)
		subs[n_subs++] = agent_firmware_offer_topic(a->fw);
	a->session = mqtt_session_new(&mc, subs, n_subs, 1, &h, a, err, errlen);
	if (a->session == NULL)
		return -1;
	if (a->fw != NULL)
		agent_firmware_attach(a->fw, a->session);
	if (a->crl_store != NULL &&
	    mqtt_session_set_crls(a->session, agent_crl_held(a->crl_store, CRL_PKI_TLS), err, errlen) != 0)
		return -1;
	if (pthread_create(&a->session_thread, NULL, session_main, a) != 0) {
		snprintf(err, errlen, "cannot start the session thread");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- sending */

static void publish_due(agent *a)
{
	unsigned char *payload, digest[OUTBOX_DIGEST_LEN];
	char err[300];
	size_t len;
	int mid;

	while (mqtt_session_connected(a->session) && atomic_load(&a->inflight) < a->cfg->window &&
	       outbox_next_due(a->outbox, monotonic_seconds(), a->cfg->resend_interval, &payload, &len, digest)) {
		atomic_fetch_add(&a->inflight, 1);
		if (mqtt_session_publish(a->session, a->topic_snapshots, payload, len, 1, 0, &mid, err, sizeof err)) {
			atomic_fetch_sub(&a->inflight, 1);
			sms_log(LOG_LEVEL_WARNING, "%s; sent again within outbox.resend_interval", err);
			free(payload);
			return;
		}
		atomic_fetch_add(&a->published, 1);
		free(payload);
	}
}

static void log_stats(agent *a)
{
	outbox_stats st;

	outbox_get_stats(a->outbox, &st);
	sms_log(LOG_LEVEL_INFO, "stats: outbox %zu entries, %llu bytes; accepted %llu, rejected %llu, published %llu, "
	        "receipts %llu (refused %llu), removed %llu, evicted %llu, corrupt %llu", st.entries, st.bytes,
	        a->intake.accepted, a->intake.rejected, (unsigned long long)atomic_load(&a->published),
	        (unsigned long long)atomic_load(&a->receipts_ok), (unsigned long long)atomic_load(&a->receipts_refused),
	        st.removed, st.evicted, st.corrupt);
}

static void write_metrics(agent *a)
{
	agent_metrics_input in = {
		.accepted = a->intake.accepted, .rejected = a->intake.rejected,
		.published = atomic_load(&a->published), .receipts_ok = atomic_load(&a->receipts_ok),
		.receipts_refused = atomic_load(&a->receipts_refused), .last_receipt = atomic_load(&a->last_receipt),
		.disk_full = atomic_load(&a->disk_full), .started = a->started,
	};
	agent_firmware_stats fw;

	if (a->cfg->metrics.dir == NULL)
		return;
	outbox_get_stats(a->outbox, &in.outbox);
	if (a->fw != NULL) {
		agent_firmware_get_stats(a->fw, &fw);
		in.fw = &fw;
	}
	agent_metrics_write(a->cfg->metrics.dir, &in, a->session, a->crls);
}

/* Signals, spool, sending, bounds, CRLs, until SIGTERM/SIGINT. */
static void supervise(agent *a, const intake_config *ic)
{
	const agent_config *cfg = a->cfg;
	struct timespec tick = { cfg->scan_interval_ms / 1000, (long)(cfg->scan_interval_ms % 1000) * 1000000L };
	double last_stats = monotonic_seconds(), last_expire = 0, last_metrics = 0, now;
	sigset_t set;
	int sig;

	a->started = time(NULL);
	daemon_signal_set(&set);
	while (!atomic_load(&a->session_done)) {
		now = monotonic_seconds();
		if (now - last_expire >= EXPIRE_CHECK_S) {
			outbox_expire(a->outbox, time(NULL), now);
			last_expire = now;
		}
		while (intake_scan(ic, seal_and_store, a, &a->intake) > 0 && !a->intake.deferred)
			publish_due(a);
		publish_due(a);
		if (a->fw != NULL)
			agent_firmware_tick(a->fw);
		if (cfg->stats_interval > 0 && now - last_stats >= cfg->stats_interval) {
			log_stats(a);
			last_stats = now;
		}
		if (now - last_metrics >= cfg->metrics.interval) {
			write_metrics(a);
			last_metrics = now;
		}
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			sms_log(LOG_LEVEL_INFO, "%s: disconnecting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		poll_crls(a, sig == SIGHUP);
	}
}

/* ------------------------------------------------------------- main */

static int setup(agent *a, char *err, size_t errlen)
{
	const agent_config *cfg = a->cfg;
	outbox_limits lim = { cfg->max_entries, cfg->max_bytes, cfg->max_age_s };

	if (load_identity(a, err, errlen) != 0)
		return -1;
	if ((a->ctx = smscms_ctx_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_keys(a, err, errlen) != 0)
		return -1;
	if (cfg->fw.dir != NULL && (a->fw = agent_firmware_open(cfg, &a->id, a->originator, err, errlen)) == NULL)
		return -1;
	if (open_crl_store(a, err, errlen) != 0 || watch_crls(a, err, errlen) != 0)
		return -1;
	a->outbox = outbox_open(cfg->outbox_dir, &lim, err, errlen);
	return a->outbox ? 0 : -1;
}

static void teardown(agent *a)
{
	size_t i;

	socket_intake_stop(a->socket);
	smscms_ctx_free(a->socket_ctx);
	mqtt_session_free(a->session);
	agent_firmware_close(a->fw);
	outbox_close(a->outbox);
	crl_watch_free(a->crls);
	agent_crl_close(a->crl_store);
	receipt_verifier_free(a->verifier);
	for (i = 0; i < a->n_recipients; i++)
		X509_free(a->recipients[i]);
	smscms_identity_free(a->originator);
	smscms_ctx_free(a->ctx);
}

static int run(const agent_config *cfg)
{
	agent a;
	char err[800];
	intake_config ic;
	outbox_stats st;
	int rc = 1, started = 0;

	memset(&a, 0, sizeof a);
	a.cfg = cfg;
	pthread_mutex_init(&a.verifier_lock, NULL);
	if (setup(&a, err, sizeof err) != 0)
		goto fail;
	ic = (intake_config){ .dir = cfg->spool_dir, .equipment = a.id.equipment, .max_file = cfg->max_file,
	                      .max_values = cfg->max_values, .max_per_scan = (size_t)cfg->window,
	                      .dicts = cfg->dicts };
	if (intake_prepare(&ic, err, sizeof err) != 0 || start_socket(&a, &ic, err, sizeof err) != 0)
		goto fail;
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		snprintf(err, sizeof err, "mosquitto_lib_init failed");
		goto fail;
	}
	if (start_session(&a, err, sizeof err) != 0)
		goto cleanup;
	started = 1;
	outbox_get_stats(a.outbox, &st);
	sms_log(LOG_LEVEL_INFO, "started: equipment %s, outbox %s with %zu unreceipted entries (%llu bytes), spool %s, "
	        "broker %s:%d", a.id.name, cfg->outbox_dir, st.entries, st.bytes, cfg->spool_dir, cfg->broker.host,
	        cfg->broker.port);
	supervise(&a, &ic);
	rc = atomic_load(&a.session_done) ? 1 : 0;
	mqtt_session_stop(a.session);
	pthread_join(a.session_thread, NULL);
	log_stats(&a);
	write_metrics(&a);
cleanup:
	mosquitto_lib_cleanup();
	if (!started)
		sms_log(LOG_LEVEL_ERROR, "%s", err);
	teardown(&a);
	pthread_mutex_destroy(&a.verifier_lock);
	return rc;
fail:
	sms_log(LOG_LEVEL_ERROR, "%s", err);
	teardown(&a);
	pthread_mutex_destroy(&a.verifier_lock);
	return 1;
}

int main(int argc, char **argv)
{
	agent_config cfg;
	daemon_args args;
	char err[600];
	int rc;

	if (daemon_args_parse(argc, argv, "sms-agent", usage, NULL, &args, &rc) != 0)
		return rc;
	if (agent_config_load(args.config_path, &cfg, 1, err, sizeof err) != 0) {
		fprintf(stderr, "sms-agent: %s\n", err);
		return 1;
	}
	/* --check-config: silent when valid, one line when not (daemon_cli.h). */
	if (args.check_only) {
		identity self;

		rc = check_identities(&cfg, &self, err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "sms-agent: %s\n", err);
		agent_config_free(&cfg);
		return rc != 0;
	}
	if (daemon_log_start("sms-agent", &args, cfg.log_file) != 0) {
		agent_config_free(&cfg);
		return 1;
	}
	if (daemon_block_signals() != 0) {
		fprintf(stderr, "sms-agent: cannot block signals\n");
		agent_config_free(&cfg);
		return 1;
	}
	rc = run(&cfg);
	agent_config_free(&cfg);
	return rc;
}
