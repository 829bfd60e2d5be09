/* sms-snapshotd metrics; contract in snapshotd_metrics.h. */
#include "services/snapshotd/snapshotd_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/daemon_metrics.h"

#define P "sms_snapshotd"
#define MAX_REASONS 48

static pthread_mutex_t reasons_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[32];
	unsigned long long n;
} reasons[MAX_REASONS];

void snapshotd_metrics_count_rejected(const char *reason)
{
	int i;

	pthread_mutex_lock(&reasons_lock);
	for (i = 0; i < MAX_REASONS - 1; i++) {
		if (reasons[i].name[0] == '\0')
			snprintf(reasons[i].name, sizeof reasons[i].name, "%s", reason);
		if (strcmp(reasons[i].name, reason) == 0)
			break;
	}
	if (i == MAX_REASONS - 1)
		snprintf(reasons[i].name, sizeof reasons[i].name, "other");
	reasons[i].n++;
	pthread_mutex_unlock(&reasons_lock);
}

static void rejected_by_reason(metrics_buf *m)
{
	const char *labels[] = { "reason", NULL, NULL };
	int i;

	metrics_family(m, P "_rejected_total", METRIC_COUNTER,
	               "Messages stored as dead letters, by reason (t_dead_letter.reason)");
	pthread_mutex_lock(&reasons_lock);
	for (i = 0; i < MAX_REASONS && reasons[i].name[0] != '\0'; i++) {
		labels[1] = reasons[i].name;
		metrics_sample(m, labels, (double)reasons[i].n);
	}
	pthread_mutex_unlock(&reasons_lock);
}

typedef struct {
	unsigned long long stored, values, duplicates, rejected, db_retries, missing, receipts, digests, failed;
	long long last_stored;
} sums;

static sums sum_workers(snapshotd_worker *w, int n)
{
	sums s = { 0 };
	long long t;
	int i;

	for (i = 0; i < n; i++) {
		s.stored += atomic_load(&w[i].n.stored);
		s.values += atomic_load(&w[i].n.values);
		s.duplicates += atomic_load(&w[i].n.duplicates);
		s.rejected += atomic_load(&w[i].n.rejected);
		s.db_retries += atomic_load(&w[i].n.db_retries);
		s.missing += atomic_load(&w[i].n.missing);
		s.receipts += atomic_load(&w[i].n.receipts.sent);
		s.digests += atomic_load(&w[i].n.receipts.digests);
		s.failed += atomic_load(&w[i].n.receipts.failed);
		t = atomic_load(&w[i].n.last_stored);
		if (t > s.last_stored)
			s.last_stored = t;
	}
	return s;
}

/* Misses that keep pace with messages mean certificate_cache is below the fleet. */
static void certificate_cache(metrics_buf *m, snapshotd_shared *sh)
{
	unsigned long long hits, misses;
	size_t held;

	smscms_certcache_stats(sh->certs, &held, &hits, &misses);
	metrics_one(m, P "_certificate_cache_entries", METRIC_GAUGE,
	            "Decoded originator certificates held (certificate_cache is the bound)", (double)held);
	metrics_one(m, P "_certificate_cache_hits_total", METRIC_COUNTER,
	            "Originator certificates answered from the cache", (double)hits);
	metrics_one(m, P "_certificate_cache_misses_total", METRIC_COUNTER,
	            "Originator certificates parsed (first sight, or evicted)", (double)misses);
}

void snapshotd_metrics_write(const snapshotd_config *cfg, snapshotd_worker *workers, int n, const crl_watch *crls,
                             time_t started)
{
	mqtt_session *sessions[SNAPSHOTD_MAX_WORKERS];
	time_t now = time(NULL);
	metrics_buf m;
	sums s;
	int i;

	if (cfg->metrics.dir == NULL)
		return;
	s = sum_workers(workers, n);
	for (i = 0; i < n; i++)
		sessions[i] = workers[i].session;
	metrics_begin(&m);
	daemon_metrics_process(&m, P, started, now);
	metrics_one(&m, P "_messages_received_total", METRIC_COUNTER,
	            "Messages handled on the snapshot subscription: stored, duplicate or rejected",
	            (double)(s.stored + s.duplicates + s.rejected));
	metrics_one(&m, P "_snapshots_stored_total", METRIC_COUNTER, "Snapshots committed to PostgreSQL",
	            (double)s.stored);
	metrics_one(&m, P "_values_stored_total", METRIC_COUNTER, "Values of the stored snapshots", (double)s.values);
	metrics_one(&m, P "_duplicates_total", METRIC_COUNTER, "Re-sent snapshots acknowledged and not stored again",
	            (double)s.duplicates);
	rejected_by_reason(&m);
	metrics_one(&m, P "_database_retries_total", METRIC_COUNTER, "Database calls retried (outage, setup error)",
	            (double)s.db_retries);
	metrics_one(&m, P "_seq_missing_total", METRIC_COUNTER,
	            "Snapshots devices numbered that never reached us (gaps in seq)", (double)s.missing);
	metrics_one(&m, P "_receipts_published_total", METRIC_COUNTER, "Signed receipts published", (double)s.receipts);
	metrics_one(&m, P "_receipt_digests_total", METRIC_COUNTER, "Snapshots covered by the published receipts",
	            (double)s.digests);
	metrics_one(&m, P "_receipts_failed_total", METRIC_COUNTER, "Receipts that could not be signed or published",
	            (double)s.failed);
	metrics_one(&m, P "_last_stored_time_seconds", METRIC_GAUGE,
	            "Unix time the last snapshot was stored (0: none since start)", (double)s.last_stored);
	metrics_one(&m, P "_workers", METRIC_GAUGE, "Ingest workers running", (double)n);
	if (n > 0)
		certificate_cache(&m, workers[0].sh);
	daemon_metrics_sessions(&m, P, sessions, (size_t)n);
	daemon_metrics_crls(&m, P, crls, now);
	daemon_metrics_write(&m, cfg->metrics.dir, "sms-snapshotd");
}
