/* Group commit across workers; contract in snapshotd_group_commit.h. */
#include "services/snapshotd/snapshotd_group_commit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
	store_item *item;
	int taken;                    /* in a leader's batch */
	int done;                     /* and that batch is over */
	struct waiter *next;
};

/* A leader's copy of its batch; one per commit that may be in flight. */
struct leader_slot {
	int busy;
	store_item *batch;
	struct waiter **members;
};

struct group_commit {
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct waiter *head, *tail;   /* queued, oldest first */
	size_t max_batch, max_leaders, leaders;
	struct leader_slot *slots;
};

static void slots_free(struct leader_slot *slots, size_t n)
{
	size_t i;

	for (i = 0; slots != NULL && i < n; i++) {
		free(slots[i].batch);
		free(slots[i].members);
	}
	free(slots);
}

group_commit *group_commit_new(size_t max_batch, size_t max_in_flight)
{
	group_commit *g = calloc(1, sizeof *g);
	size_t i;
	int ok;

	if (g == NULL)
		return NULL;
	g->max_batch = max_batch > 0 ? max_batch : 1;
	g->max_leaders = max_in_flight > 0 ? max_in_flight : 1;
	g->slots = calloc(g->max_leaders, sizeof *g->slots);
	ok = g->slots != NULL;
	for (i = 0; ok && i < g->max_leaders; i++) {
		g->slots[i].batch = calloc(g->max_batch, sizeof *g->slots[i].batch);
		g->slots[i].members = calloc(g->max_batch, sizeof *g->slots[i].members);
		ok = g->slots[i].batch != NULL && g->slots[i].members != NULL;
	}
	if (!ok || pthread_mutex_init(&g->lock, NULL) != 0) {
		slots_free(g->slots, g->max_leaders);
		free(g);
		return NULL;
	}
	if (pthread_cond_init(&g->done, NULL) != 0) {
		pthread_mutex_destroy(&g->lock);
		slots_free(g->slots, g->max_leaders);
		free(g);
		return NULL;
	}
	return g;
}

void group_commit_free(group_commit *g)
{
	if (g == NULL)
		return;
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->lock);
	slots_free(g->slots, g->max_leaders);
	free(g);
}

static int device_cmp(const store_item *a, const store_item *b)
{
	int c = strcmp(a->t->master, b->t->master);

	if (c == 0)
		c = strcmp(a->t->account, b->t->account);
	return c != 0 ? c : strcmp(a->t->equipment, b->t->equipment);
}

/* Batches committing at the same time lock devices' rows (sms_ingest_head)
 * in this one order, so two of them cannot deadlock on devices. Stable:
 * one device's snapshots keep their order, which its seq gaps rely on. */
static void sort_by_device(store_item *batch, struct waiter **members, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		store_item it = batch[i];
		struct waiter *w = members[i];

		for (j = i; j > 0 && device_cmp(&batch[j - 1], &it) > 0; j--) {
			batch[j] = batch[j - 1];
			members[j] = members[j - 1];
		}
		batch[j] = it;
		members[j] = w;
	}
}

/* Called with the lock held and a leader's place taken; returns with the
 * lock held again. */
static void lead_one_batch(group_commit *g, snapshot_store *store)
{
	struct leader_slot *ls = g->slots;
	size_t n = 0, i;

	while (ls->busy)   /* fewer leaders than slots: one is free */
		ls++;
	ls->busy = 1;
	while (g->head != NULL && n < g->max_batch) {
		ls->members[n] = g->head;
		ls->batch[n] = *g->head->item;
		g->head->taken = 1;
		g->head = g->head->next;
		n++;
	}
	if (g->head == NULL)
		g->tail = NULL;
	pthread_mutex_unlock(&g->lock);
	sort_by_device(ls->batch, ls->members, n);
	snapshot_store_put_batch(store, ls->batch, n);
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < n; i++) {
		*ls->members[i]->item = ls->batch[i];
		ls->members[i]->done = 1;
	}
	ls->busy = 0;
}

store_result group_commit_put(group_commit *g, snapshot_store *store, store_item *item)
{
	struct waiter me = { item, 0, 0, NULL };

	pthread_mutex_lock(&g->lock);
	if (g->tail != NULL)
		g->tail->next = &me;
	else
		g->head = &me;
	g->tail = &me;
	while (!me.done) {
		/* Lead only while our snapshot still waits for a batch. */
		if (me.taken || g->leaders >= g->max_leaders) {
			pthread_cond_wait(&g->done, &g->lock);
			continue;
		}
		g->leaders++;
		lead_one_batch(g, store);
		g->leaders--;
		/* Members of that batch are done; whoever is still queued may lead. */
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->lock);
	return item->result;
}
