/* Receipt batches of one worker; contract in snapshotd_receipts.h. */
#include "services/snapshotd/snapshotd_receipts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/identity.h"
#include "common/log.h"

#define FIRST_CAPACITY 16

/* The digests pending for one equipment; equipment[0] == 0: slot free. */
typedef struct {
	char equipment[IDENTITY_SCOPE_MAX];
	unsigned char (*digests)[RECEIPT_DIGEST_LEN];
	size_t n, cap;
	long long since_ms;      /* when the first pending digest came */
} pending;

struct receipt_queue {
	pthread_mutex_t lock;
	receipt_queue_config cfg;
	char name[32];
	pending slot[RECEIPT_QUEUE_DEVICES];
};

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

receipt_queue *receipt_queue_new(const receipt_queue_config *cfg, char *err, size_t errlen)
{
	receipt_queue *q;

	if (cfg == NULL || cfg->cert == NULL || cfg->key == NULL || cfg->max_digests < 1 ||
	    cfg->max_digests > RECEIPT_MAX_DIGESTS || cfg->batch_ms < 1 || cfg->n == NULL || cfg->publish == NULL) {
		snprintf(err, errlen, "receipts: signer certificate and key, 1..%d digests, batch_ms >= 1, counters "
		         "and a publish function needed",
		         RECEIPT_MAX_DIGESTS);
		return NULL;
	}
	q = calloc(1, sizeof *q);
	if (q == NULL) {
		snprintf(err, errlen, "receipts: out of memory");
		return NULL;
	}
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q);
		snprintf(err, errlen, "receipts: pthread_mutex_init failed");
		return NULL;
	}
	q->cfg = *cfg;
	snprintf(q->name, sizeof q->name, "%s", cfg->name != NULL ? cfg->name : "receipts");
	q->cfg.name = q->name;
	return q;
}

void receipt_queue_free(receipt_queue *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < RECEIPT_QUEUE_DEVICES; i++)
		free(q->slot[i].digests);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Signs and publishes p's batch and empties the slot, whatever happens:
 * a receipt that did not go out is re-earned by the agent's re-send. */
static void publish_slot(receipt_queue *q, pending *p)
{
	char err[512], topic[IDENTITY_SCOPE_MAX + 16];
	unsigned char *der = NULL;
	size_t len = 0;

	if (receipt_sign(q->cfg.cert, q->cfg.key, q->cfg.chain, p->equipment, time(NULL),
	                 (const unsigned char (*)[RECEIPT_DIGEST_LEN])p->digests, p->n, &der, &len,
	                 err, sizeof err) != 0) {
		atomic_fetch_add(&q->cfg.n->failed, 1);
		sms_log(LOG_LEVEL_ERROR, "%s: receipt for %s (%zu snapshot(s)) not signed: %s; "
		        "the device will re-send them", q->name, p->equipment, p->n, err);
		goto out;
	}
	snprintf(topic, sizeof topic, "%s/receipts", p->equipment);
	if (q->cfg.publish(q->cfg.publish_ud, topic, der, len, err, sizeof err) != 0) {
		atomic_fetch_add(&q->cfg.n->failed, 1);
		sms_log(LOG_LEVEL_WARNING, "%s: receipt for %s (%zu snapshot(s)) not published: %s; "
		        "the device will re-send them", q->name, p->equipment, p->n, err);
		goto out;
	}
	atomic_fetch_add(&q->cfg.n->sent, 1);
	atomic_fetch_add(&q->cfg.n->digests, p->n);
	sms_log(LOG_LEVEL_DEBUG, "%s: receipt for %zu snapshot(s) published on %s", q->name, p->n, topic);
out:
	OPENSSL_free(der);
	p->n = 0;
	p->equipment[0] = '\0';
}

/* The slot of equipment, a free one, or the oldest one emptied for it. */
static pending *slot_for(receipt_queue *q, const char *equipment)
{
	pending *free_slot = NULL, *oldest = NULL;
	size_t i;

	for (i = 0; i < RECEIPT_QUEUE_DEVICES; i++) {
		pending *p = &q->slot[i];

		if (p->equipment[0] == '\0') {
			if (free_slot == NULL)
				free_slot = p;
		} else if (strcmp(p->equipment, equipment) == 0) {
			return p;
		} else if (oldest == NULL || p->since_ms < oldest->since_ms) {
			oldest = p;
		}
	}
	if (free_slot == NULL) {
		publish_slot(q, oldest);
		free_slot = oldest;
	}
	snprintf(free_slot->equipment, sizeof free_slot->equipment, "%s", equipment);
	return free_slot;
}

static int pending_has(const pending *p, const unsigned char digest[RECEIPT_DIGEST_LEN])
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (memcmp(p->digests[i], digest, RECEIPT_DIGEST_LEN) == 0)
			return 1;
	return 0;
}

/* Room for one more digest (capacity doubles up to max_digests). */
static int pending_reserve(pending *p, size_t max)
{
	size_t cap;
	void *d;

	if (p->n < p->cap)
		return 0;
	cap = p->cap == 0 ? FIRST_CAPACITY : p->cap * 2;
	if (cap > max)
		cap = max;
	d = realloc(p->digests, cap * sizeof *p->digests);
	if (d == NULL)
		return -1;
	p->digests = d;
	p->cap = cap;
	return 0;
}

void receipt_queue_add(receipt_queue *q, const char *equipment, const unsigned char digest[RECEIPT_DIGEST_LEN])
{
	pending *p;

	if (strlen(equipment) >= IDENTITY_SCOPE_MAX || equipment[0] == '\0') {
		atomic_fetch_add(&q->cfg.n->failed, 1);
		sms_log(LOG_LEVEL_ERROR, "%s: no receipt: equipment name of %zu bytes", q->name, strlen(equipment));
		return;
	}
	pthread_mutex_lock(&q->lock);
	p = slot_for(q, equipment);
	if (pending_has(p, digest))
		goto out;
	if (pending_reserve(p, q->cfg.max_digests) != 0) {
		atomic_fetch_add(&q->cfg.n->failed, 1);
		sms_log(LOG_LEVEL_ERROR, "%s: no receipt for a snapshot of %s: out of memory; the device will re-send it",
		        q->name, equipment);
		if (p->n == 0)
			p->equipment[0] = '\0';
		goto out;
	}
	if (p->n == 0)
		p->since_ms = monotonic_ms();
	memcpy(p->digests[p->n++], digest, RECEIPT_DIGEST_LEN);
	if (p->n >= q->cfg.max_digests)
		publish_slot(q, p);
out:
	pthread_mutex_unlock(&q->lock);
}

void receipt_queue_flush_due(receipt_queue *q, int force)
{
	long long now = monotonic_ms();
	size_t i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < RECEIPT_QUEUE_DEVICES; i++) {
		pending *p = &q->slot[i];

		if (p->equipment[0] != '\0' && p->n > 0 && (force || now - p->since_ms >= q->cfg.batch_ms))
			publish_slot(q, p);
	}
	pthread_mutex_unlock(&q->lock);
}
