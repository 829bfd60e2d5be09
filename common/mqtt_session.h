/*
 * One MQTT client session over TLS for every daemon (libmosquitto 2.0, MQTT 5).
 *
 * - Connects with the TLS files of the config, a persistent session by
 *   default (clean start off, session expiry interval set), and restores
 *   the subscriptions on every connect.
 * - Reconnects with capped exponential backoff and full jitter; the backoff
 *   only resets after a connection stayed up for MQTT_SESSION_STABLE_S, so two
 *   clients fighting over one client id settle at the cap instead of
 *   knocking each other off every second. A session taken over by another
 *   client, a refused CONNACK, a TLS failure and a keepalive loss each get
 *   one line that says which. (mosquitto 2.0.11 closes a taken-over session
 *   without a DISCONNECT, 2.0.15 and later send reason 0x8E; for the former,
 *   MQTT_SESSION_TAKEOVER_DROPS silent closes in a row, each within
 *   MQTT_SESSION_STABLE_S of the CONNACK, are reported as a likely takeover.)
 * - Before the first connection ever succeeded, a TLS failure or a refused
 *   CONNACK is fatal: mqtt_session_run returns -1 with the reason, so a
 *   wrong CA or certificate stops the daemon at start with one line.
 *
 * - With check_crls, the session sets TLS up itself (an OpenSSL SSL_CTX
 *   handed to libmosquitto: TLS 1.2 or later, peer verification against
 *   cafile, host name or IP address checked by OpenSSL) and checks the
 *   broker's whole chain against the CRLs given with mqtt_session_set_crls,
 *   from the next handshake on. A certificate those CRLs revoke is refused
 *   (one line naming it; never fatal, the broker may get a new certificate
 *   and the session keeps retrying). A CA without a CRL there, or a CRL
 *   past nextUpdate (or not yet valid), does not refuse the broker: the
 *   agent gets fresh CRLs only through the broker, so failing closed there
 *   would cut it off for good; an old CRL still revokes what it lists.
 *
 * Acknowledgement rule (DESIGN.md "Reliability rules"): libmosquitto queues
 * the PUBACK of a QoS 1 message before it calls on_message and, in threaded
 * mode (always set here), writes it only after on_message returned. So a
 * message callback returns only once its work is durable. While it waits
 * (database down) no packet leaves, not even PINGREQ; the broker drops a
 * client after 1.5 x keepalive of silence. mqtt_session_hold() bounds the
 * wait to what keepalive allows and then abandons the connection (shuts the
 * socket down so the queued PUBACK can never be sent); the broker redelivers
 * the message to the persistent session. Before reconnecting the session
 * asks handlers.ready(), so it does not fetch the same message again just to
 * abandon it.
 *
 * Receive Maximum: libmosquitto reads on while TLS has bytes pending, and
 * the PUBACKs of what it read leave only when it stops reading. With the
 * broker free to push its whole backlog (tens of thousands of messages),
 * a subscriber that stores one message at a time sends no PUBACK for
 * minutes, the broker drops it for silence and redelivers everything in
 * flight. A subscriber sets receive_max so the broker stops after that
 * many unacknowledged messages, and the acknowledgements keep flowing.
 *
 * Threads: mqtt_session_run blocks and drives the loop in the caller's
 * thread (or mqtt_session_start runs it in a thread of its own);
 * mqtt_session_stop and mqtt_session_publish may be called from any thread.
 */
#ifndef SMS_MQTT_SESSION_H
#define SMS_MQTT_SESSION_H

#include <stddef.h>
#include <mosquitto.h>
#include <openssl/x509.h>

#define MQTT_SESSION_STABLE_S 30
#define MQTT_SESSION_TAKEOVER_DROPS 3
#define MQTT_SESSION_MAX_SUBS 8

typedef struct {
	const char *host;
	int port;
	const char *cafile, *cert, *key;   /* PEM files; cert may hold the chain */
	const char *client_id;
	int keepalive;                     /* seconds, >= 5 */
	int clean_start;                   /* 0: persistent session */
	unsigned int session_expiry;       /* seconds the broker keeps the session */
	long backoff_min_ms, backoff_max_ms;
	int max_inflight;                  /* our QoS 1 publishes in flight; 0: default */
	int receive_max;                   /* QoS 1 messages the broker may have in flight to us
	                                      (MQTT 5 Receive Maximum); 0: libmosquitto's 65535 */
	const char *name;                  /* for log lines, e.g. "worker 0" */
	int check_crls;                    /* see above: own SSL_CTX, CRLs of mqtt_session_set_crls */
} mqtt_session_config;

typedef struct mqtt_session mqtt_session;

typedef struct {
	/* Runs in the loop thread; see the acknowledgement rule above. */
	void (*on_message)(mqtt_session *s, void *ud, const struct mosquitto_message *msg);
	/* Optional: after the CONNACK, with the broker's session-present flag. */
	void (*on_connected)(mqtt_session *s, void *ud, int session_present);
	/* Optional: a publish with this mid was acknowledged (QoS 1) or sent (QoS 0). */
	void (*on_published)(mqtt_session *s, void *ud, int mid);
	/* Optional: asked before every (re)connect; 0 means "not yet" (the
	 * session backs off and asks again). */
	int (*ready)(void *ud);
} mqtt_session_handlers;

/* Copies what it needs from cfg and subs. NULL with the reason in err. */
mqtt_session *mqtt_session_new(const mqtt_session_config *cfg, const char *const *subs, size_t n_subs,
                               int qos, const mqtt_session_handlers *h, void *ud, char *err, size_t errlen);
void mqtt_session_free(mqtt_session *s);

/* Drives the session until mqtt_session_stop. 0 after a clean stop, -1 with
 * err when the broker or the TLS setup refused us before we ever connected. */
int mqtt_session_run(mqtt_session *s, char *err, size_t errlen);
/* mqtt_session_run in a thread of its own; _join returns its result. */
int mqtt_session_start(mqtt_session *s);
int mqtt_session_join(mqtt_session *s, char *err, size_t errlen);
/* After mqtt_session_start: 0 once connected, -1 with err when the session
 * ended fatally or timeout_s passed first. */
int mqtt_session_wait_connected(mqtt_session *s, int timeout_s, char *err, size_t errlen);

/* Asks the session to disconnect cleanly and run to return. Any thread. */
void mqtt_session_stop(mqtt_session *s);
int mqtt_session_connected(const mqtt_session *s);
/* Connections the broker accepted so far (the first one and every reconnect). */
unsigned long long mqtt_session_connects(mqtt_session *s);

/*
 * From inside on_message, when the message's work cannot be made durable
 * yet: waits ms (in short steps) and returns 0, so the caller tries again;
 * or returns -1 when it must give up: stopping, or the callback has used up
 * the time keepalive allows. On -1 the connection is already abandoned and
 * the reason logged with the message's topic; the callback just returns.
 */
int mqtt_session_hold(mqtt_session *s, long ms, const char *why);
/* Abandons the connection now (from on_message): the PUBACK never leaves. */
void mqtt_session_abandon(mqtt_session *s, const char *why);

/* QoS 0/1 publish from any thread. A QoS 1 message that libmosquitto queued
 * while disconnected counts as published (it reports NO_CONN but sends it
 * after the reconnect; retrying would send it twice). 0, or -1 with err. */
int mqtt_session_publish(mqtt_session *s, const char *topic, const void *payload, size_t len, int qos,
                         int retain, int *mid, char *err, size_t errlen);

/* Subscriptions besides the fixed ones of mqtt_session_new, from any
 * thread while connected (-1 with err when not): they are not restored by
 * the session; a caller that needs them after a reconnect without session
 * present renews them in on_connected. */
int mqtt_session_subscribe(mqtt_session *s, const char *filter, char *err, size_t errlen);
int mqtt_session_unsubscribe(mqtt_session *s, const char *filter, char *err, size_t errlen);

/* With check_crls: the CRLs (verified by the caller) the broker's chain is
 * checked against from the next connect on; NULL or empty: none. Takes its
 * own references; any thread. 0, or -1 with err. */
int mqtt_session_set_crls(mqtt_session *s, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen);

/* The default client id for a TLS certificate: "<identity>@<what>", the form
 * sms_auth's client_id_policy "prefix" admits (the identity is the
 * username the plugin gives that certificate). 0, or -1 with err. */
int mqtt_client_id_for_cert(const char *cert_file, const char *what, char *buf, size_t len, char *err,
                            size_t errlen);

/* The next backoff after cur: doubled, capped at max, never below min. */
long mqtt_backoff_next(long cur, long min, long max);
/* A delay drawn uniformly from [base/2, base] ("equal jitter"), so that a
 * fleet that lost the broker at once does not return at once. */
long mqtt_backoff_jitter(long base);

#endif
