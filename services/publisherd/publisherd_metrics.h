/*
 * sms-publisherd metrics (DIR/sms-publisherd.prom, metrics.interval), with
 * the daemon set of common/daemon_metrics.h (prefix sms_publisherd):
 *   sms_publisherd_offers_total, _reoffers_total, _offer_failures_total
 *   sms_publisherd_reports_total{outcome="accepted|ignored|refused"}
 *   sms_publisherd_releases_published_total, _pieces_published_total,
 *   sms_publisherd_published_bytes_total (manifests and pieces)
 */
#ifndef SMS_PUBLISHERD_METRICS_H
#define SMS_PUBLISHERD_METRICS_H

#include <time.h>

#include "services/publisherd/publisherd.h"

void publisherd_metrics_write(publisherd *p, time_t started);

#endif
