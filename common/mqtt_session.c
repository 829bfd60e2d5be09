/* MQTT client session for every daemon; contract in mqtt_session.h. */
#include "common/mqtt_session.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <mqtt_protocol.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/identity.h"
#include "common/log.h"
#include "common/monotonic.h"
#include "common/sleep_unless.h"
#include "common/x509_util.h"

struct mqtt_session {
	char *host, *cafile, *cert, *key, *client_id, *name;
	int port, keepalive, clean_start, qos;
	long backoff_min, backoff_max;
	int max_inflight;
	int receive_max;
	char *subs[MQTT_SESSION_MAX_SUBS];
	size_t n_subs;
	mqtt_session_handlers h;
	void *ud;
	struct mosquitto *mosq;
	mosquitto_property *connect_props;
	atomic_int stop, connected;
	atomic_ullong connects;          /* CONNACKs accepted, for metrics */
	/* Touched by the loop thread only. */
	int ever_connected, abandoned, connack_rc, disconnect_rc;
	int short_drops;        /* connections the broker closed soon after CONNACK, in a row */
	int peer_revoked;       /* the last handshake refused a revoked broker certificate */
	char tls_error[512];
	/* check_crls: our SSL_CTX, and the CRLs for the next handshake. */
	SSL_CTX *ssl_ctx;
	pthread_mutex_t crl_lock;
	STACK_OF(X509_CRL) *crls_next;
	int crls_changed;
	double msg_started;
	const char *msg_topic;
	/* mqtt_session_start / _join */
	pthread_t thread;
	atomic_int finished;
	int thread_started, result;
	char result_err[400];
};

int mqtt_client_id_for_cert(const char *cert_file, const char *what, char *buf, size_t len, char *err,
                            size_t errlen)
{
	FILE *f = fopen(cert_file, "r");
	X509 *x = NULL;
	identity id;
	char why[200];
	int rc = -1;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", cert_file, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		snprintf(err, errlen, "%s holds no PEM certificate", cert_file);
		goto out;
	}
	if (identity_from_subject(X509_get_subject_name(x), &id, why, sizeof why) != 0) {
		snprintf(err, errlen, "%s: no SMS identity in the subject: %s", cert_file, why);
		goto out;
	}
	if ((size_t)snprintf(buf, len, "%s@%s", id.name, what) >= len) {
		snprintf(err, errlen, "client id for %s is too long", cert_file);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	return rc;
}

long mqtt_backoff_next(long cur, long min, long max)
{
	long next = cur * 2;

	if (next < min)
		next = min;
	return next > max ? max : next;
}

long mqtt_backoff_jitter(long base)
{
	unsigned int seed = (unsigned int)(monotonic_seconds() * 1e6) ^ (unsigned int)(uintptr_t)&base;

	if (base < 2)
		return base;
	return base / 2 + (long)(rand_r(&seed) % (unsigned long)(base / 2 + 1));
}

static int pause_ms(mqtt_session *s, long ms)
{
	return sleep_unless(&s->stop, ms);
}

/* ------------------------------------------------------------ callbacks */

static void on_log(struct mosquitto *mosq, void *ud, int level, const char *str)
{
	mqtt_session *s = ud;

	(void)mosq;
	/* TLS failures arrive only here ("OpenSSL Error[0]: ... certificate verify failed"). */
	if (level == MOSQ_LOG_ERR && s->tls_error[0] == '\0')
		snprintf(s->tls_error, sizeof s->tls_error, "%s", str);
}

static void subscribe_all(mqtt_session *s)
{
	size_t i;
	int rc;

	for (i = 0; i < s->n_subs; i++) {
		rc = mosquitto_subscribe_v5(s->mosq, NULL, s->subs[i], s->qos, 0, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			sms_log(LOG_LEVEL_ERROR, "%s: subscribe to %s failed: %s", s->name, s->subs[i],
			        mosquitto_strerror(rc));
	}
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	mqtt_session *s = ud;

	(void)mosq;
	(void)props;
	s->connack_rc = rc;
	if (rc != 0)
		return;
	s->ever_connected = 1;
	atomic_store(&s->connected, 1);
	atomic_fetch_add(&s->connects, 1);
	sms_log(LOG_LEVEL_INFO, "%s: connected as %s to %s:%d (session present: %s)", s->name, s->client_id,
	        s->host, s->port, (flags & 1) ? "yes" : "no");
	/* The session normally keeps the subscriptions; renewing them covers
	 * a broker that lost its state. */
	subscribe_all(s);
	if (s->h.on_connected)
		s->h.on_connected(s, s->ud, flags & 1);
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
	mqtt_session *s = ud;
	int i;

	(void)mosq;
	(void)mid;
	(void)props;
	for (i = 0; i < n; i++)
		if (granted[i] >= 0x80)
			sms_log(LOG_LEVEL_ERROR, "%s: the broker refused a subscription (%s); check the role's rules",
			        s->name, mosquitto_reason_string(granted[i]));
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	mqtt_session *s = ud;

	(void)mosq;
	(void)props;
	s->disconnect_rc = rc;
	atomic_store(&s->connected, 0);
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int reason, const mosquitto_property *props)
{
	mqtt_session *s = ud;

	(void)mosq;
	(void)props;
	if (reason >= 0x80)
		sms_log(LOG_LEVEL_WARNING, "%s: the broker refused publish %d: %s", s->name, mid,
		        mosquitto_reason_string(reason));
	if (s->h.on_published)
		s->h.on_published(s, s->ud, mid);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	mqtt_session *s = ud;

	(void)mosq;
	(void)props;
	if (s->abandoned)
		return; /* the PUBACK cannot leave any more: the broker redelivers */
	s->msg_started = monotonic_seconds();
	s->msg_topic = msg->topic;
	s->h.on_message(s, s->ud, msg);
	s->msg_topic = NULL;
}

/* ----------------------------------------------------- message waiting */

void mqtt_session_abandon(mqtt_session *s, const char *why)
{
	int fd = mosquitto_socket(s->mosq);

	if (s->abandoned)
		return;
	s->abandoned = 1;
	sms_log(LOG_LEVEL_WARNING, "%s: leaving the broker with the message on %s unacknowledged (%s); "
	        "the broker redelivers it to this session", s->name, s->msg_topic ? s->msg_topic : "?", why);
	if (fd >= 0 && shutdown(fd, SHUT_RDWR) != 0)
		sms_log(LOG_LEVEL_ERROR, "%s: shutdown of the broker socket failed: %s", s->name, strerror(errno));
}

/* What a callback may spend: the client's last packet may be almost
 * keepalive old when the message arrives, and the broker gives up at 1.5 x. */
static double hold_budget_s(const mqtt_session *s)
{
	double b = s->keepalive / 2.0 - 1.0;

	return b < 1.0 ? 1.0 : b;
}

int mqtt_session_hold(mqtt_session *s, long ms, const char *why)
{
	char reason[300];
	double spent = monotonic_seconds() - s->msg_started;

	if (atomic_load(&s->stop)) {
		snprintf(reason, sizeof reason, "stopping while %s", why);
		mqtt_session_abandon(s, reason);
		return -1;
	}
	if (spent + (double)ms / 1000.0 > hold_budget_s(s)) {
		snprintf(reason, sizeof reason, "%s for %.0f s, as long as keepalive %d s allows", why, spent,
		         s->keepalive);
		mqtt_session_abandon(s, reason);
		return -1;
	}
	if (pause_ms(s, ms)) {
		snprintf(reason, sizeof reason, "stopping while %s", why);
		mqtt_session_abandon(s, reason);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- setup */

static char *dup_or_null(const char *v, int *failed)
{
	char *c;

	if (v == NULL)
		return NULL;
	c = strdup(v);
	if (c == NULL)
		*failed = 1;
	return c;
}

static int copy_config(mqtt_session *s, const mqtt_session_config *cfg, const char *const *subs, size_t n)
{
	int failed = 0;
	size_t i;

	s->host = dup_or_null(cfg->host, &failed);
	s->cafile = dup_or_null(cfg->cafile, &failed);
	s->cert = dup_or_null(cfg->cert, &failed);
	s->key = dup_or_null(cfg->key, &failed);
	s->client_id = dup_or_null(cfg->client_id, &failed);
	s->name = dup_or_null(cfg->name ? cfg->name : "mqtt", &failed);
	for (i = 0; i < n; i++)
		s->subs[s->n_subs++] = dup_or_null(subs[i], &failed);
	s->port = cfg->port;
	s->keepalive = cfg->keepalive;
	s->clean_start = cfg->clean_start;
	s->backoff_min = cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : 500;
	s->backoff_max = cfg->backoff_max_ms >= s->backoff_min ? cfg->backoff_max_ms : 30000;
	s->max_inflight = cfg->max_inflight;
	s->receive_max = cfg->receive_max;
	return failed ? -1 : 0;
}

/* ------------------------------------------------ TLS with our CRLs */

static int ssl_ctx_index = -1;
static pthread_once_t ssl_ctx_index_once = PTHREAD_ONCE_INIT;

static void make_ssl_ctx_index(void)
{
	ssl_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The policy of mqtt_session.h: a revoked certificate anywhere on the
 * broker's chain refuses it; a missing or stale CRL does not. */
static int verify_broker(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	mqtt_session *s = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ssl_ctx_index) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	char subject[200], serial[80] = "?";
	ASN1_INTEGER *sn;
	BIGNUM *bn;
	char *hex;

	if (ok)
		return 1;
	if (s == NULL)
		return 0;
	switch (X509_STORE_CTX_get_error(x)) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		return 1;
	case X509_V_ERR_CERT_REVOKED:
		s->peer_revoked = 1;
		if (cert != NULL)
			x509_name_string(X509_get_subject_name(cert), subject, sizeof subject);
		else
			snprintf(subject, sizeof subject, "?");
		sn = cert ? X509_get_serialNumber(cert) : NULL;
		if (sn != NULL && (bn = ASN1_INTEGER_to_BN(sn, NULL)) != NULL) {
			if ((hex = BN_bn2hex(bn)) != NULL)
				snprintf(serial, sizeof serial, "%s", hex);
			OPENSSL_free(hex);
			BN_free(bn);
		}
		snprintf(s->tls_error, sizeof s->tls_error, "the broker's certificate chain is revoked: %s (serial %s, "
		         "depth %d) is on a CRL we hold", subject, serial, X509_STORE_CTX_get_error_depth(x));
		return 0;
	default:
		return 0;
	}
}

/* A trust store with the root and the CRLs: what the next handshake uses. */
static X509_STORE *crl_store(const mqtt_session *s, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int i;

	if (st == NULL || X509_STORE_load_file(st, s->cafile) != 1) {
		snprintf(err, errlen, "%s: loading cafile %s: %s", s->name, s->cafile, x509_ossl_reason());
		X509_STORE_free(st);
		return NULL;
	}
	for (i = 0; i < sk_X509_CRL_num(crls); i++)
		if (X509_STORE_add_crl(st, sk_X509_CRL_value(crls, i)) != 1) {
			snprintf(err, errlen, "%s: adding a CRL to the TLS store: %s", s->name, x509_ossl_reason());
			X509_STORE_free(st);
			return NULL;
		}
	if (sk_X509_CRL_num(crls) > 0)
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	return st;
}

/* In the loop thread, before a connect: the CRLs given since the last one. */
static void take_new_crls(mqtt_session *s)
{
	STACK_OF(X509_CRL) *crls = NULL;
	X509_STORE *st;
	char err[300];

	if (s->ssl_ctx == NULL)
		return;
	pthread_mutex_lock(&s->crl_lock);
	if (s->crls_changed) {
		crls = s->crls_next;
		s->crls_next = NULL;
		s->crls_changed = 0;
	}
	pthread_mutex_unlock(&s->crl_lock);
	if (crls == NULL)
		return;
	st = crl_store(s, crls, err, sizeof err);
	if (st == NULL)
		sms_log(LOG_LEVEL_ERROR, "%s; the previous CRLs stay in use", err);
	else {
		SSL_CTX_set_cert_store(s->ssl_ctx, st);
		sms_log(LOG_LEVEL_INFO, "%s: the broker's certificate chain is checked against %d CRL(s) from now on",
		        s->name, sk_X509_CRL_num(crls));
	}
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

int mqtt_session_set_crls(mqtt_session *s, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *copy = sk_X509_CRL_new_null();
	int i;

	if (s->ssl_ctx == NULL) {
		sk_X509_CRL_free(copy);
		snprintf(err, errlen, "%s: CRLs given to a session without check_crls", s->name);
		return -1;
	}
	for (i = 0; copy != NULL && i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *c = sk_X509_CRL_value(crls, i);

		if (X509_CRL_up_ref(c) != 1 || !sk_X509_CRL_push(copy, c)) {
			sk_X509_CRL_pop_free(copy, X509_CRL_free);
			copy = NULL;
		}
	}
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory taking the CRLs", s->name);
		return -1;
	}
	pthread_mutex_lock(&s->crl_lock);
	sk_X509_CRL_pop_free(s->crls_next, X509_CRL_free);
	s->crls_next = copy;
	s->crls_changed = 1;
	pthread_mutex_unlock(&s->crl_lock);
	return 0;
}

/*
 * libmosquitto 2.0.11 with MOSQ_OPT_SSL_CTX and its defaults on never
 * initialises its TLS ex_data index (eclipse/mosquitto#2463, fixed in
 * 2.0.15), so its own verify callback refuses every broker. With the
 * defaults off it uses our context as it is: everything it would set is
 * set here, host name checking by OpenSSL instead of its own.
 */
static int own_tls(mqtt_session *s, char *err, size_t errlen)
{
	X509_VERIFY_PARAM *vp;
	unsigned char ip[16];
	X509_STORE *st;
	int rc;

	pthread_once(&ssl_ctx_index_once, make_ssl_ctx_index);
	s->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (s->ssl_ctx == NULL || ssl_ctx_index < 0 || SSL_CTX_set_ex_data(s->ssl_ctx, ssl_ctx_index, s) != 1 ||
	    SSL_CTX_set_min_proto_version(s->ssl_ctx, TLS1_2_VERSION) != 1)
		goto ossl;
	SSL_CTX_set_options(s->ssl_ctx, SSL_OP_NO_COMPRESSION);
	if ((st = crl_store(s, NULL, err, errlen)) == NULL)
		return -1;
	SSL_CTX_set_cert_store(s->ssl_ctx, st);
	if (SSL_CTX_use_certificate_chain_file(s->ssl_ctx, s->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->ssl_ctx, s->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(s->ssl_ctx) != 1)
		goto ossl;
	SSL_CTX_set_verify(s->ssl_ctx, SSL_VERIFY_PEER, verify_broker);
	vp = SSL_CTX_get0_param(s->ssl_ctx);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (inet_pton(AF_INET, s->host, ip) == 1 || inet_pton(AF_INET6, s->host, ip) == 1)
		rc = X509_VERIFY_PARAM_set1_ip_asc(vp, s->host);
	else
		rc = X509_VERIFY_PARAM_set1_host(vp, s->host, 0);
	if (rc != 1)
		goto ossl;
	rc = mosquitto_int_option(s->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_void_option(s->mosq, MOSQ_OPT_SSL_CTX, s->ssl_ctx);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "%s: handing the TLS context to libmosquitto: %s", s->name, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
ossl:
	snprintf(err, errlen, "%s: setting up TLS with cafile %s, cert %s, key %s: %s", s->name, s->cafile, s->cert,
	         s->key, x509_ossl_reason());
	return -1;
}

static int setup_client(mqtt_session *s, unsigned int session_expiry, int check_crls, char *err, size_t errlen)
{
	int rc;

	s->mosq = mosquitto_new(s->client_id, s->clean_start != 0, s);
	if (s->mosq == NULL) {
		snprintf(err, errlen, "%s: cannot create the MQTT client: %s", s->name, strerror(errno));
		return -1;
	}
	/* Threaded mode: PUBACKs leave only after on_message returned. */
	rc = mosquitto_threaded_set(s->mosq, true);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	/* Without it Nagle holds the tail of a snapshot until the broker's
	 * delayed ACK: 43 ms p50 on loopback against 5 ms (docs/scaling.md). */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (rc == MOSQ_ERR_SUCCESS && check_crls) {
		if (own_tls(s, err, errlen) != 0)
			return -1;
	} else if (rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_tls_set(s->mosq, s->cafile, NULL, s->cert, s->key, NULL);
	}
	if (rc == MOSQ_ERR_SUCCESS && s->max_inflight > 0)
		rc = mosquitto_max_inflight_messages_set(s->mosq, (unsigned int)s->max_inflight);
	if (rc == MOSQ_ERR_SUCCESS && s->receive_max > 0)
		rc = mosquitto_int_option(s->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, s->receive_max);
	if (rc == MOSQ_ERR_SUCCESS && !s->clean_start)
		rc = mosquitto_property_add_int32(&s->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
		                                  session_expiry);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "%s: setting up TLS with cafile %s, cert %s, key %s: %s", s->name, s->cafile,
		         s->cert, s->key, mosquitto_strerror(rc));
		return -1;
	}
	mosquitto_log_callback_set(s->mosq, on_log);
	mosquitto_connect_v5_callback_set(s->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(s->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(s->mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(s->mosq, on_publish);
	if (s->h.on_message)
		mosquitto_message_v5_callback_set(s->mosq, on_message);
	return 0;
}

mqtt_session *mqtt_session_new(const mqtt_session_config *cfg, const char *const *subs, size_t n_subs,
                               int qos, const mqtt_session_handlers *h, void *ud, char *err, size_t errlen)
{
	mqtt_session *s;

	if (n_subs > MQTT_SESSION_MAX_SUBS || cfg->host == NULL || cfg->client_id == NULL || cfg->keepalive < 5) {
		snprintf(err, errlen, "mqtt session: host, client id, keepalive >= 5 and at most %d subscriptions needed",
		         MQTT_SESSION_MAX_SUBS);
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(err, errlen, "mqtt session: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->crl_lock, NULL);
	if (copy_config(s, cfg, subs, n_subs) != 0) {
		snprintf(err, errlen, "mqtt session: out of memory");
		mqtt_session_free(s);
		return NULL;
	}
	s->qos = qos;
	if (h != NULL)
		s->h = *h;
	s->ud = ud;
	if (setup_client(s, cfg->session_expiry, cfg->check_crls, err, errlen) != 0) {
		mqtt_session_free(s);
		return NULL;
	}
	return s;
}

void mqtt_session_free(mqtt_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	mosquitto_destroy(s->mosq);
	SSL_CTX_free(s->ssl_ctx);   /* libmosquitto held a reference of its own */
	sk_X509_CRL_pop_free(s->crls_next, X509_CRL_free);
	pthread_mutex_destroy(&s->crl_lock);
	mosquitto_property_free_all(&s->connect_props);
	for (i = 0; i < s->n_subs; i++)
		free(s->subs[i]);
	free(s->host);
	free(s->cafile);
	free(s->cert);
	free(s->key);
	free(s->client_id);
	free(s->name);
	free(s);
}

/* ---------------------------------------------------------------- run */

static const char *connect_error(mqtt_session *s, int rc, int saved_errno)
{
	if (rc == MOSQ_ERR_ERRNO)
		return strerror(saved_errno);
	if (rc == MOSQ_ERR_TLS && s->tls_error[0])
		return s->tls_error;
	return mosquitto_strerror(rc);
}

/* A refusal that will not go away by retrying: wrong client id, identity
 * not admitted, banned (MQTT 5 CONNACK reason codes). */
static int connack_is_final(int rc)
{
	return rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION || rc == MQTT_RC_CLIENTID_NOT_VALID ||
	       rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED || rc == MQTT_RC_BANNED ||
	       rc == MQTT_RC_BAD_AUTHENTICATION_METHOD;
}

/*
 * Before the first connection ever succeeded, a TLS failure is a setup
 * error (wrong cafile, certificate, key), not an outage. libmosquitto
 * reports it from mosquitto_connect when the handshake completes there and
 * from mosquitto_loop when it completes later, so both paths ask this.
 */
static int tls_refusal_is_final(const mqtt_session *s, int rc)
{
	/* A revoked broker is the broker's fault, not our setup's: retry. */
	return !s->ever_connected && s->connack_rc < 0 && rc == MOSQ_ERR_TLS && !s->peer_revoked;
}

static int tls_refusal(mqtt_session *s, int rc, int saved_errno, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: TLS with %s:%d failed: %s (broker cafile %s, cert %s)", s->name, s->host, s->port,
	         connect_error(s, rc, saved_errno), s->cafile, s->cert);
	return -1;
}

/* One line on why a connection that was up ended. */
static void log_session_end(mqtt_session *s, int rc, int saved_errno, long next_ms)
{
	if (s->abandoned)
		sms_log(LOG_LEVEL_WARNING, "%s: reconnecting in %ld ms once ready", s->name, next_ms);
	else if (s->connack_rc > 0)
		sms_log(LOG_LEVEL_ERROR, "%s: the broker refused the connection: %s; retrying in %ld ms", s->name,
		        mosquitto_reason_string(s->connack_rc), next_ms);
	else if (s->disconnect_rc == MQTT_RC_SESSION_TAKEN_OVER)
		sms_log(LOG_LEVEL_ERROR, "%s: session taken over: another client connected with client id '%s' "
		        "(a second instance with the same client_id?); retrying in %ld ms", s->name, s->client_id,
		        next_ms);
	else if (s->disconnect_rc >= 0x80)
		sms_log(LOG_LEVEL_WARNING, "%s: the broker closed the session: %s; reconnecting in %ld ms", s->name,
		        mosquitto_reason_string(s->disconnect_rc), next_ms);
	else if (rc == MOSQ_ERR_KEEPALIVE || s->disconnect_rc == MOSQ_ERR_KEEPALIVE)
		sms_log(LOG_LEVEL_WARNING, "%s: no answer from the broker within keepalive (%d s); reconnecting in "
		        "%ld ms", s->name, s->keepalive, next_ms);
	else if (s->short_drops >= MQTT_SESSION_TAKEOVER_DROPS)
		/* mosquitto before 2.0.15 closes a taken-over session without a
		 * DISCONNECT; a streak of silent closes right after CONNACK is
		 * what a takeover looks like from here. */
		sms_log(LOG_LEVEL_ERROR, "%s: session taken over? the broker closed the connection %d times in a row "
		        "within %d s of accepting it, without a reason: another client is probably using client id "
		        "'%s' (a second instance with the same client_id?), or the broker drops this identity; "
		        "retrying in %ld ms", s->name, s->short_drops, MQTT_SESSION_STABLE_S, s->client_id, next_ms);
	else
		sms_log(LOG_LEVEL_WARNING, "%s: connection to the broker lost: %s; reconnecting in %ld ms", s->name,
		        connect_error(s, rc, saved_errno), next_ms);
}

/* Lets a DISCONNECT queued by mqtt_session_stop leave before we return. */
static void flush_disconnect(mqtt_session *s)
{
	int i;

	for (i = 0; i < 20 && mosquitto_loop(s->mosq, 100, 1) == MOSQ_ERR_SUCCESS; i++)
		;
}

/* libmosquitto 2.0.11 initialises OpenSSL lazily, at the first TLS connect,
 * behind an unlocked flag: two sessions connecting at once both run it and
 * leak its UI method. Connects are rare, so they are simply serialised. */
static pthread_mutex_t connect_lock = PTHREAD_MUTEX_INITIALIZER;

static int connect_once(mqtt_session *s, int *saved_errno)
{
	int rc;

	take_new_crls(s);
	s->tls_error[0] = '\0';
	s->peer_revoked = 0;
	s->connack_rc = -1;
	s->disconnect_rc = 0;
	s->abandoned = 0;
	pthread_mutex_lock(&connect_lock);
	errno = 0;
	rc = mosquitto_connect_bind_v5(s->mosq, s->host, s->port, s->keepalive, NULL, s->connect_props);
	*saved_errno = errno;
	pthread_mutex_unlock(&connect_lock);
	return rc;
}

int mqtt_session_run(mqtt_session *s, char *err, size_t errlen)
{
	long backoff = s->backoff_min, wait;
	double up_since;
	int rc, saved_errno;

	while (!atomic_load(&s->stop)) {
		if (s->h.ready && !s->h.ready(s->ud)) {
			pause_ms(s, mqtt_backoff_jitter(backoff));
			backoff = mqtt_backoff_next(backoff, s->backoff_min, s->backoff_max);
			continue;
		}
		rc = connect_once(s, &saved_errno);
		if (rc != MOSQ_ERR_SUCCESS) {
			if (tls_refusal_is_final(s, rc))
				return tls_refusal(s, rc, saved_errno, err, errlen);
			wait = mqtt_backoff_jitter(backoff);
			sms_log(LOG_LEVEL_WARNING, "%s: cannot connect to %s:%d: %s; retrying in %ld ms", s->name, s->host,
			        s->port, connect_error(s, rc, saved_errno), wait);
			pause_ms(s, wait);
			backoff = mqtt_backoff_next(backoff, s->backoff_min, s->backoff_max);
			continue;
		}
		up_since = monotonic_seconds();
		do {
			rc = mosquitto_loop(s->mosq, 1000, 1);
			saved_errno = errno;
		} while (rc == MOSQ_ERR_SUCCESS && !atomic_load(&s->stop));
		if (atomic_load(&s->stop))
			break;
		atomic_store(&s->connected, 0);
		if (tls_refusal_is_final(s, rc))
			return tls_refusal(s, rc, saved_errno, err, errlen);
		if (!s->ever_connected && s->connack_rc > 0 && connack_is_final(s->connack_rc)) {
			snprintf(err, errlen, "%s: the broker %s:%d refused the connection: %s (client id '%s', cert %s)",
			         s->name, s->host, s->port, mosquitto_reason_string(s->connack_rc), s->client_id, s->cert);
			return -1;
		}
		if (monotonic_seconds() - up_since >= MQTT_SESSION_STABLE_S && s->connack_rc == 0) {
			backoff = s->backoff_min;
			s->short_drops = 0;
		} else if (s->connack_rc == 0 && s->disconnect_rc < 0x80 && !s->abandoned && rc != MOSQ_ERR_KEEPALIVE) {
			/* A keepalive timeout is our side giving up on a silent
			 * peer, never the broker closing: no takeover sign. */
			s->short_drops++;
		}
		wait = mqtt_backoff_jitter(backoff);
		log_session_end(s, rc, saved_errno, wait);
		pause_ms(s, wait);
		backoff = mqtt_backoff_next(backoff, s->backoff_min, s->backoff_max);
	}
	flush_disconnect(s);
	atomic_store(&s->connected, 0);
	return 0;
}

static void *session_thread(void *arg)
{
	mqtt_session *s = arg;

	s->result = mqtt_session_run(s, s->result_err, sizeof s->result_err);
	atomic_store(&s->finished, 1);
	return NULL;
}

int mqtt_session_start(mqtt_session *s)
{
	if (pthread_create(&s->thread, NULL, session_thread, s) != 0)
		return -1;
	s->thread_started = 1;
	return 0;
}

int mqtt_session_join(mqtt_session *s, char *err, size_t errlen)
{
	if (!s->thread_started)
		return 0;
	pthread_join(s->thread, NULL);
	s->thread_started = 0;
	if (s->result != 0)
		snprintf(err, errlen, "%s", s->result_err);
	return s->result;
}

int mqtt_session_wait_connected(mqtt_session *s, int timeout_s, char *err, size_t errlen)
{
	struct timespec step = { 0, 50 * 1000000L };
	double until = monotonic_seconds() + timeout_s;

	while (monotonic_seconds() < until) {
		if (atomic_load(&s->connected))
			return 0;
		if (atomic_load(&s->finished)) {
			snprintf(err, errlen, "%s", s->result != 0 ? s->result_err : "session stopped");
			return -1;
		}
		nanosleep(&step, NULL);
	}
	snprintf(err, errlen, "%s: no connection to %s:%d within %d s", s->name, s->host, s->port, timeout_s);
	return -1;
}

void mqtt_session_stop(mqtt_session *s)
{
	atomic_store(&s->stop, 1);
	mosquitto_disconnect_v5(s->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
}

int mqtt_session_connected(const mqtt_session *s)
{
	return atomic_load(&s->connected);
}

unsigned long long mqtt_session_connects(mqtt_session *s)
{
	return atomic_load(&s->connects);
}

int mqtt_session_publish(mqtt_session *s, const char *topic, const void *payload, size_t len, int qos,
                         int retain, int *mid, char *err, size_t errlen)
{
	int rc;

	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "publish to %s: payload of %zu bytes is too large", topic, len);
		return -1;
	}
	rc = mosquitto_publish_v5(s->mosq, mid, topic, (int)len, payload, qos, retain != 0, NULL);
	if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && qos > 0))
		return 0;
	snprintf(err, errlen, "publish to %s: %s", topic, mosquitto_strerror(rc));
	return -1;
}

int mqtt_session_subscribe(mqtt_session *s, const char *filter, char *err, size_t errlen)
{
	int rc = mosquitto_subscribe_v5(s->mosq, NULL, filter, s->qos, 0, NULL);

	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	snprintf(err, errlen, "subscribe to %s: %s", filter, mosquitto_strerror(rc));
	return -1;
}

int mqtt_session_unsubscribe(mqtt_session *s, const char *filter, char *err, size_t errlen)
{
	int rc = mosquitto_unsubscribe_v5(s->mosq, NULL, filter, NULL);

	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	snprintf(err, errlen, "unsubscribe from %s: %s", filter, mosquitto_strerror(rc));
	return -1;
}
