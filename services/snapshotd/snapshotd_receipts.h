/*
 * Receipts from sms-snapshotd (DESIGN.md "Receipts"): after a snapshot is
 * committed (stored, or recognised as stored before: a re-send after a lost
 * receipt needs a receipt too) its payload's SHA-256 is queued for its
 * equipment; one signed receipt (common/receipt.h) covers every digest
 * queued for that equipment and is handed to the queue's publish function
 * for <ma>/<acc>/<eq>/receipts (the worker publishes it at QoS 1, not
 * retained, on its MQTT session):
 *   - at once, from the caller, when the equipment's batch holds
 *     max_digests digests;
 *   - otherwise from receipt_queue_flush_due, once the oldest digest in the
 *     batch waited batch_ms (the daemon's supervisor calls it).
 * Nothing is queued before the commit, so a receipt never covers a
 * snapshot that is not in the database. A receipt that cannot be signed or
 * published is logged and dropped: the snapshot is committed all the same,
 * the agent re-sends it and the duplicate is receipted then.
 *
 * One queue per worker, at most RECEIPT_QUEUE_DEVICES equipments pending
 * at once (a further one flushes the oldest batch first). A mutex guards the queue: add runs in the
 * worker's thread, flush_due in the supervisor's; the batch is signed and
 * published under it (a few hundred microseconds), which only delays the
 * worker's next add.
 */
#ifndef SMS_SNAPSHOTD_RECEIPTS_H
#define SMS_SNAPSHOTD_RECEIPTS_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/receipt.h"

#define RECEIPT_QUEUE_DEVICES 256

typedef struct {
	atomic_ullong sent;      /* receipts published */
	atomic_ullong digests;   /* digests they covered */
	atomic_ullong failed;    /* receipts not signed or not published (their digests dropped) */
} receipt_queue_counters;

typedef struct {
	X509 *cert;              /* the signer (role certificate of the E2E PKI); borrowed */
	EVP_PKEY *key;           /* borrowed */
	STACK_OF(X509) *chain;   /* borrowed, may be NULL */
	size_t max_digests;      /* 1..RECEIPT_MAX_DIGESTS */
	long batch_ms;           /* >= 1 */
	const char *name;        /* for log lines, e.g. "worker 0"; copied */
	receipt_queue_counters *n; /* where the queue counts; the caller's, outlives the queue */
	/* Sends one signed receipt (DER) on topic: 0, or -1 with err. Called
	 * with the queue's lock held, from add or flush_due's thread. */
	int (*publish)(void *ud, const char *topic, const unsigned char *der, size_t len, char *err, size_t errlen);
	void *publish_ud;
} receipt_queue_config;

typedef struct receipt_queue receipt_queue;

/* NULL with err. */
receipt_queue *receipt_queue_new(const receipt_queue_config *cfg, char *err, size_t errlen);
void receipt_queue_free(receipt_queue *q);

/* Queues digest for equipment ("ma/acc/eq") after its commit; a digest
 * already pending for it is not queued twice. Publishes the equipment's
 * batch at once when it is full. */
void receipt_queue_add(receipt_queue *q, const char *equipment, const unsigned char digest[RECEIPT_DIGEST_LEN]);
/* Publishes every batch whose oldest digest waited batch_ms; every batch
 * with force. Any thread. */
void receipt_queue_flush_due(receipt_queue *q, int force);

#endif
