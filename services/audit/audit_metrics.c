/* sms-audit run's metrics; contract in audit_metrics.h. */
#include "services/audit/audit_metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/daemon_metrics.h"

#define P "sms_audit"

static const char *const kinds[AUDIT_METRICS_KINDS] = { "snapshot", "receipt", "firmware", "status", "other" };
static const char *const known_codes[] = { "not_for_us", "unknown_originator", "revoked_originator",
	                                   "topic_mismatch", "tampered", "undecodable", "bad_signature",
	                                   "outside_subtree", NULL };

int audit_metrics_init(audit_metrics *m, time_t started)
{
	int i;

	memset(m, 0, sizeof *m);
	m->started = started;
	for (i = 0; known_codes[i] != NULL; i++)
		snprintf(m->codes[i].code, sizeof m->codes[i].code, "%s", known_codes[i]);
	return pthread_mutex_init(&m->lock, NULL) == 0 ? 0 : -1;
}

void audit_metrics_destroy(audit_metrics *m)
{
	pthread_mutex_destroy(&m->lock);
}

static int kind_index(const char *kind)
{
	int i;

	for (i = 0; i < AUDIT_METRICS_KINDS - 1; i++)
		if (strcmp(kinds[i], kind) == 0)
			return i;
	return AUDIT_METRICS_KINDS - 1;   /* "other", and whatever a later analysis calls a new kind */
}

/* Under m->lock. A code beyond the table's room counts in the last slot, "other". */
static void count_code(audit_metrics *m, const char *code)
{
	int i;

	for (i = 0; i < AUDIT_METRICS_CODES - 1; i++) {
		if (m->codes[i].code[0] == '\0')
			snprintf(m->codes[i].code, sizeof m->codes[i].code, "%s", code);
		if (strcmp(m->codes[i].code, code) == 0)
			break;
	}
	if (i == AUDIT_METRICS_CODES - 1)
		snprintf(m->codes[i].code, sizeof m->codes[i].code, "other");
	m->codes[i].n++;
}

void audit_metrics_stored(audit_metrics *m, const analysis *a, time_t now)
{
	size_t i;

	atomic_fetch_add(&m->stored[kind_index(a->kind)], 1);
	atomic_store(&m->last_message, (long long)now);
	if (a->n_findings == 0)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < a->n_findings; i++)
		count_code(m, a->findings[i].code);
	pthread_mutex_unlock(&m->lock);
}

void audit_metrics_duplicate(audit_metrics *m, time_t now)
{
	atomic_fetch_add(&m->duplicates, 1);
	atomic_store(&m->last_message, (long long)now);
}

void audit_metrics_crls(audit_metrics *m, const audit_keys *keys)
{
	struct crl_set_summary sum;
	int have = audit_keys_crl_summary(keys, &sum);

	pthread_mutex_lock(&m->lock);
	m->have_crls = have;
	if (have)
		m->crls = sum;
	pthread_mutex_unlock(&m->lock);
}

/* The file and its WAL: what the store costs on disk (a missing WAL is 0). */
static double store_bytes(const char *path)
{
	char wal[4200];
	struct stat st;
	double n = 0;

	if (stat(path, &st) == 0)
		n += (double)st.st_size;
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (stat(wal, &st) == 0)
		n += (double)st.st_size;
	return n;
}

static void stored_by_kind(audit_metrics *m, metrics_buf *b)
{
	const char *labels[] = { "kind", NULL, NULL };
	int i;

	metrics_family(b, P "_messages_stored_total", METRIC_COUNTER, "New messages committed to the store, by kind");
	for (i = 0; i < AUDIT_METRICS_KINDS; i++) {
		labels[1] = kinds[i];
		metrics_sample(b, labels, (double)atomic_load(&m->stored[i]));
	}
}

/* Under m->lock. */
static void findings_by_code(audit_metrics *m, metrics_buf *b)
{
	const char *labels[] = { "code", NULL, NULL };
	int i;

	metrics_family(b, P "_findings_total", METRIC_COUNTER,
	               "Findings recorded with the messages stored, by code (not the report's cross-message ones)");
	for (i = 0; i < AUDIT_METRICS_CODES && m->codes[i].code[0] != '\0'; i++) {
		labels[1] = m->codes[i].code;
		metrics_sample(b, labels, (double)m->codes[i].n);
	}
}

void audit_metrics_write(audit_metrics *m, const char *dir, const char *store_path, mqtt_session *session)
{
	struct crl_set_summary crls;
	time_t now = time(NULL);
	metrics_buf b;
	int have_crls;

	metrics_begin(&b);
	daemon_metrics_process(&b, P, m->started, now);
	stored_by_kind(m, &b);
	metrics_one(&b, P "_duplicates_total", METRIC_COUNTER,
	            "Messages already in the store (redeliveries, identical re-sends): counted, not stored again",
	            (double)atomic_load(&m->duplicates));
	pthread_mutex_lock(&m->lock);
	findings_by_code(m, &b);
	crls = m->crls;
	have_crls = m->have_crls;
	pthread_mutex_unlock(&m->lock);
	metrics_one(&b, P "_store_bytes", METRIC_GAUGE, "Bytes of the store on disk: the SQLite file and its WAL",
	            store_bytes(store_path));
	metrics_one(&b, P "_last_message_time_seconds", METRIC_GAUGE,
	            "Unix time the last message was committed (stored or counted as duplicate; 0: none since start)",
	            (double)atomic_load(&m->last_message));
	daemon_metrics_sessions(&b, P, &session, 1);
	daemon_metrics_crl_summary(&b, P, have_crls ? &crls : NULL, now);
	daemon_metrics_write(&b, dir, "sms-audit");
}
