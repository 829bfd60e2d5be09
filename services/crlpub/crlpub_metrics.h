/*
 * sms-crlpub's metrics file (metrics.dir/sms-crlpub.prom, written by the
 * supervising thread every metrics.interval and at exit; common/metrics.h):
 *
 *   sms_crlpub_crls_published_total{pki}         counter  CRLs sent (changes, republishes, after reconnects)
 *   sms_crlpub_publish_failures_total{pki}       counter  sends that failed (tried again at the next poll)
 *   sms_crlpub_last_publish_time_seconds{pki}    gauge    Unix time of the last successful send (0: none)
 *   sms_crlpub_crl_number{pki,issuer_key_id}     gauge    crlNumber of the CRL last sent on that topic
 *   sms_crlpub_crl_next_update_time_seconds{pki,issuer_key_id}
 *                                                gauge    its nextUpdate, Unix time
 * and the shared ones of common/daemon_metrics.h (build info, start time,
 * broker connection and connects; crl_* over the CRLs of both PKIs in use,
 * so crl_next_update_seconds is the earliest nextUpdate of all of them).
 * A PKI without CRL files has no samples.
 */
#ifndef SMS_CRLPUB_METRICS_H
#define SMS_CRLPUB_METRICS_H

#include <time.h>

#include "common/mqtt_session.h"
#include "services/crlpub/crlpub_publish.h"

/* pub[CRL_PKI_COUNT], an entry NULL when that PKI is not configured. */
void crlpub_metrics_write(const char *dir, crlpub *const *pub, mqtt_session *session, time_t started);

#endif
