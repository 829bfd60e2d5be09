/*
 * load_fleet: N device sessions in one thread of one process, each a TLS
 * MQTT 5 client with its own certificate (libmosquitto driven by an epoll
 * set over its sockets: mosquitto_socket, loop_read/loop_write/loop_misc,
 * want_write). Devices 0 .. target-1 connect at a bounded rate with a
 * bounded number of handshakes in flight; each, once connected, subscribes
 * like sms-agent (its receipts topic and the CRL filter) and publishes one
 * stamped payload (tests/bench/load_msg.h) to MA/ACC/EQ/snapshots with QoS 1
 * every interval seconds, at a phase of its own so the fleet's messages are
 * spread evenly over the interval. A session that fails or drops is
 * counted and connects again after LOAD_FLEET_RETRY_S.
 *
 * The credentials are borrowed for the fleet's lifetime. Each device gets
 * an SSL_CTX of its own at its first connect (TLS 1.2 or later, the broker
 * checked against the shared root store and the host's IP address or name).
 */
#ifndef SMS_LOAD_FLEET_H
#define SMS_LOAD_FLEET_H

#include <stddef.h>

#include <openssl/x509.h>

#define LOAD_FLEET_RETRY_S 2.0
#define LOAD_FLEET_HANDSHAKE_S 30.0

struct load_device {
	const char *ma, *acc, *eq;
	X509 *cert;
	EVP_PKEY *key;
};

struct load_fleet_cfg {
	const char *host;
	int port, keepalive;
	X509_STORE *roots;       /* checks the broker */
	STACK_OF(X509) *chain;   /* sent after every device certificate */
	const struct load_device *devices;
	size_t n;
	const unsigned char *payload;
	size_t payload_len;      /* >= LOAD_MSG_STAMP_LEN */
	int sources;             /* > 0: bind device i to 127.0.0.(2 + i % sources) */
	int max_pending;         /* handshakes in flight at most */
};

struct load_fleet_stats {
	size_t connected, connecting;
	long connects, refused, failures, drops; /* since start */
	double last_connack;                     /* monotonic seconds */
	long published, publish_errors, acked;   /* of the current step */
	double lag_max;                          /* publish later than due, s */
};

typedef struct load_fleet load_fleet;

load_fleet *load_fleet_new(const struct load_fleet_cfg *cfg, char *err, size_t errlen);
void load_fleet_free(load_fleet *f);

/* Devices 0 .. target-1 should be connected, at most rate new connects/s
 * (0: only max_pending bounds them). Lowering it disconnects the rest. */
void load_fleet_set_target(load_fleet *f, size_t target, double rate);
/* Publishing every interval seconds (0: none), stamped with step; the
 * step's counters in the stats start from zero. */
void load_fleet_set_publishing(load_fleet *f, double interval, unsigned step);
/* Waits up to timeout_ms for socket events and does what is due. */
void load_fleet_poll(load_fleet *f, int timeout_ms);
void load_fleet_stats(const load_fleet *f, struct load_fleet_stats *st);

#endif
