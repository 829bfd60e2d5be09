/* Group commit across workers; contract in snapshotd_group_commit.h. */
#include "services/snapshotd/snapshotd_group_commit.h"

#include <pthread.h>
#include <stdlib.h>

struct waiter {
	store_item *item;
	int done;
	struct waiter *next;
};

struct group_commit {
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct waiter *head, *tail;   /* queued, oldest first */
	int leading;                  /* a batch is being committed */
	size_t max_batch;
	store_item *batch;            /* the leader's copy of its batch */
	struct waiter **members;
};

group_commit *group_commit_new(size_t max_batch)
{
	group_commit *g = calloc(1, sizeof *g);

	if (g == NULL)
		return NULL;
	g->max_batch = max_batch > 0 ? max_batch : 1;
	g->batch = calloc(g->max_batch, sizeof *g->batch);
	g->members = calloc(g->max_batch, sizeof *g->members);
	if (g->batch == NULL || g->members == NULL || pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g->batch);
		free(g->members);
		free(g);
		return NULL;
	}
	if (pthread_cond_init(&g->done, NULL) != 0) {
		pthread_mutex_destroy(&g->lock);
		free(g->batch);
		free(g->members);
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
	free(g->batch);
	free(g->members);
	free(g);
}

/* Called with the lock held and leading set; returns with both again. */
static void lead_one_batch(group_commit *g, snapshot_store *store)
{
	size_t n = 0, i;

	while (g->head != NULL && n < g->max_batch) {
		g->members[n] = g->head;
		g->batch[n] = *g->head->item;
		g->head = g->head->next;
		n++;
	}
	if (g->head == NULL)
		g->tail = NULL;
	pthread_mutex_unlock(&g->lock);
	snapshot_store_put_batch(store, g->batch, n);
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < n; i++) {
		*g->members[i]->item = g->batch[i];
		g->members[i]->done = 1;
	}
	pthread_cond_broadcast(&g->done);
}

store_result group_commit_put(group_commit *g, snapshot_store *store, store_item *item)
{
	struct waiter me = { item, 0, NULL };

	pthread_mutex_lock(&g->lock);
	if (g->tail != NULL)
		g->tail->next = &me;
	else
		g->head = &me;
	g->tail = &me;
	while (!me.done) {
		if (g->leading) {
			pthread_cond_wait(&g->done, &g->lock);
			continue;
		}
		g->leading = 1;
		lead_one_batch(g, store);
		g->leading = 0;
		/* Whoever is still queued needs a new leader. */
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->lock);
	return item->result;
}
