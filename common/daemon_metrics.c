/* Shared daemon metrics; contract in daemon_metrics.h. */
#include "common/daemon_metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/version.h"

static void name(char *buf, size_t len, const char *prefix, const char *suffix)
{
	snprintf(buf, len, "%s_%s", prefix, suffix);
}

void daemon_metrics_process(metrics_buf *m, const char *prefix, time_t started, time_t now)
{
	const char *labels[] = { "version", sms_version(), NULL };
	char n[128];

	name(n, sizeof n, prefix, "build_info");
	metrics_family(m, n, METRIC_GAUGE, "Always 1; the version label is the release of the SMS tree");
	metrics_sample(m, labels, 1);
	name(n, sizeof n, prefix, "start_time_seconds");
	metrics_one(m, n, METRIC_GAUGE, "Unix time the daemon started", (double)started);
	name(n, sizeof n, prefix, "metrics_written_time_seconds");
	metrics_one(m, n, METRIC_GAUGE, "Unix time this file was written (stale file: the daemon stopped)",
	            (double)now);
}

void daemon_metrics_sessions(metrics_buf *m, const char *prefix, mqtt_session *const *sessions, size_t n_sessions)
{
	char n[128], idx[24];
	const char *labels[] = { "session", idx, NULL };
	size_t i;

	name(n, sizeof n, prefix, "broker_connected");
	metrics_family(m, n, METRIC_GAUGE, "1 while the MQTT session is connected to the broker");
	for (i = 0; i < n_sessions; i++) {
		snprintf(idx, sizeof idx, "%zu", i);
		metrics_sample(m, labels, sessions[i] != NULL && mqtt_session_connected(sessions[i]) ? 1 : 0);
	}
	name(n, sizeof n, prefix, "broker_connects_total");
	metrics_family(m, n, METRIC_COUNTER, "Connections the broker accepted: the first one and every reconnect");
	for (i = 0; i < n_sessions; i++) {
		snprintf(idx, sizeof idx, "%zu", i);
		metrics_sample(m, labels, sessions[i] != NULL ? (double)mqtt_session_connects(sessions[i]) : 0);
	}
}

void daemon_metrics_crls(metrics_buf *m, const char *prefix, const crl_watch *w, time_t now)
{
	struct crl_set_summary sum;

	if (w == NULL)
		return;
	crl_set_summary(crl_watch_current(w), &sum);
	daemon_metrics_crl_summary(m, prefix, &sum, now);
}

void daemon_metrics_crl_summary(metrics_buf *m, const char *prefix, const struct crl_set_summary *sum, time_t now)
{
	char n[128];

	if (sum == NULL)
		return;
	name(n, sizeof n, prefix, "crl_loaded");
	metrics_one(m, n, METRIC_GAUGE, "1 when a verified set of CRLs is in use", sum->crls > 0 ? 1 : 0);
	if (sum->crls == 0)
		return;
	name(n, sizeof n, prefix, "crl_next_update_seconds");
	metrics_one(m, n, METRIC_GAUGE,
	            "Seconds until the earliest nextUpdate of the CRLs in use (negative: past, certificates refused)",
	            sum->earliest_next_update ? (double)(sum->earliest_next_update - now) : NAN);
	name(n, sizeof n, prefix, "crl_age_seconds");
	metrics_one(m, n, METRIC_GAUGE, "Seconds since the thisUpdate of the oldest CRL in use",
	            sum->oldest_this_update ? (double)(now - sum->oldest_this_update) : NAN);
	name(n, sizeof n, prefix, "crl_revoked_entries");
	metrics_one(m, n, METRIC_GAUGE, "Revoked certificates listed over every CRL in use", (double)sum->revoked);
}

void daemon_metrics_write(metrics_buf *m, const char *dir, const char *file_name)
{
	static char last_err[512];
	char err[512];

	if (metrics_write(m, dir, file_name, err, sizeof err) != 0) {
		if (strcmp(err, last_err) != 0)
			sms_log(LOG_LEVEL_WARNING, "%s (retried every metrics.interval; logged again when the cause changes)",
			        err);
		snprintf(last_err, sizeof last_err, "%s", err);
	} else if (last_err[0] != '\0') {
		sms_log(LOG_LEVEL_INFO, "metrics written again to %s/%s.prom", dir, file_name);
		last_err[0] = '\0';
	}
	metrics_free(m);
}
