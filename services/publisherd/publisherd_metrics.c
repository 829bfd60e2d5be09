/* sms-publisherd metrics; contract in publisherd_metrics.h. */
#include "services/publisherd/publisherd_metrics.h"

#include "common/daemon_metrics.h"

#define P "sms_publisherd"

static void reports(metrics_buf *m, publisherd_stats *s)
{
	const char *labels[] = { "outcome", NULL, NULL };

	metrics_family(m, P "_reports_total", METRIC_COUNTER,
	               "Firmware status reports: accepted (stored), ignored (verified, changes nothing), refused");
	labels[1] = "accepted";
	metrics_sample(m, labels, (double)atomic_load(&s->reports_accepted));
	labels[1] = "ignored";
	metrics_sample(m, labels, (double)atomic_load(&s->reports_ignored));
	labels[1] = "refused";
	metrics_sample(m, labels, (double)atomic_load(&s->reports_refused));
}

void publisherd_metrics_write(publisherd *p, time_t started)
{
	publisherd_stats *s = &p->stats;
	time_t now = time(NULL);
	metrics_buf m;

	if (p->cfg->metrics.dir == NULL)
		return;
	metrics_begin(&m);
	daemon_metrics_process(&m, P, started, now);
	metrics_one(&m, P "_offers_total", METRIC_COUNTER, "First offers sent to devices",
	            (double)atomic_load(&s->offers));
	metrics_one(&m, P "_reoffers_total", METRIC_COUNTER, "Offers sent again to devices that did not answer",
	            (double)atomic_load(&s->reoffers));
	metrics_one(&m, P "_offer_failures_total", METRIC_COUNTER, "Offers that could not be built or sent",
	            (double)atomic_load(&s->offer_failures));
	reports(&m, s);
	metrics_one(&m, P "_releases_published_total", METRIC_COUNTER, "Releases published (manifest and pieces)",
	            (double)atomic_load(&s->releases_published));
	metrics_one(&m, P "_pieces_published_total", METRIC_COUNTER, "Ciphertext pieces published",
	            (double)atomic_load(&s->pieces_published));
	metrics_one(&m, P "_published_bytes_total", METRIC_COUNTER, "Bytes of manifests and pieces published",
	            (double)atomic_load(&s->bytes_published));
	daemon_metrics_sessions(&m, P, &p->session, 1);
	daemon_metrics_crls(&m, P, p->crls, now);
	daemon_metrics_write(&m, p->cfg->metrics.dir, "sms-publisherd");
}
