/* sms-crlpub metrics; contract in crlpub_metrics.h. */
#include "services/crlpub/crlpub_metrics.h"

#include <math.h>

#include "common/daemon_metrics.h"

#define P "sms_crlpub"

/* One family with a sample per PKI this publisher serves. */
static void pki_family(metrics_buf *m, crlpub *const *pub, const char *name, metric_type type, const char *help,
                       const double value[CRL_PKI_COUNT])
{
	const char *labels[] = { "pki", NULL, NULL };
	int i;

	metrics_family(m, name, type, help);
	for (i = 0; i < CRL_PKI_COUNT; i++)
		if (pub[i] != NULL) {
			labels[1] = crl_pki_name((crl_pki)i);
			metrics_sample(m, labels, value[i]);
		}
}

static void per_pki(metrics_buf *m, crlpub *const *pub)
{
	double published[CRL_PKI_COUNT] = { 0 }, failures[CRL_PKI_COUNT] = { 0 }, last[CRL_PKI_COUNT] = { 0 };
	crlpub_stats st;
	int i;

	for (i = 0; i < CRL_PKI_COUNT; i++)
		if (pub[i] != NULL) {
			crlpub_get_stats(pub[i], &st);
			published[i] = (double)st.published;
			failures[i] = (double)st.failures;
			last[i] = (double)st.last_published;
		}
	pki_family(m, pub, P "_crls_published_total", METRIC_COUNTER,
	           "CRLs published (changed, republished, sent again after a reconnect)", published);
	pki_family(m, pub, P "_publish_failures_total", METRIC_COUNTER,
	           "CRL publishes that failed (each tried again at the next poll)", failures);
	pki_family(m, pub, P "_last_publish_time_seconds", METRIC_GAUGE,
	           "Unix time of the last successful CRL publish (0: none since start)", last);
}

/* One gauge per issuer topic: its crlNumber (next_update 0) or nextUpdate (1). */
static void per_crl(metrics_buf *m, crlpub *const *pub, int next_update)
{
	const char *labels[] = { "pki", NULL, "issuer_key_id", NULL, NULL };
	crlpub_sent e;
	size_t j;
	int i;

	if (next_update)
		metrics_family(m, P "_crl_next_update_time_seconds", METRIC_GAUGE,
		               "nextUpdate (Unix time) of the CRL last published for this issuer (NaN: none)");
	else
		metrics_family(m, P "_crl_number", METRIC_GAUGE,
		               "crlNumber of the CRL last published for this issuer (NaN: none)");
	for (i = 0; i < CRL_PKI_COUNT; i++) {
		for (j = 0; pub[i] != NULL && crlpub_sent_at(pub[i], j, &e); j++) {
			if (!e.sent)
				continue;
			labels[1] = crl_pki_name((crl_pki)i);
			labels[3] = e.key_id;
			if (next_update)
				metrics_sample(m, labels, e.next_update ? (double)e.next_update : NAN);
			else
				metrics_sample(m, labels, e.crl_number);
		}
	}
}

void crlpub_metrics_write(const char *dir, crlpub *const *pub, mqtt_session *session, time_t started)
{
	struct crl_set_summary all = { 0 }, one;
	time_t now = time(NULL);
	metrics_buf m;
	int i;

	metrics_begin(&m);
	daemon_metrics_process(&m, P, started, now);
	per_pki(&m, pub);
	per_crl(&m, pub, 0);
	per_crl(&m, pub, 1);
	daemon_metrics_sessions(&m, P, &session, 1);
	for (i = 0; i < CRL_PKI_COUNT; i++)
		if (pub[i] != NULL) {
			crlpub_summary(pub[i], &one);
			crl_set_summary_add(&all, &one);
		}
	daemon_metrics_crl_summary(&m, P, &all, now);
	daemon_metrics_write(&m, dir, "sms-crlpub");
}
