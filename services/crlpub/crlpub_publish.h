/*
 * What the CRL publisher does, apart from its daemon (sms-crlpub today;
 * the firmware/CRL publisher daemon can take this module as it is).
 *
 * One crlpub per PKI (tls or e2e). Its CRL files are watched with the
 * broker plugin's rules (crl_watch.h): every CRL verified against the
 * configured CA certificates, a file with one CRL that does not verify (or
 * whose issuer is not configured) refused whole and the set published
 * before kept, an older CRL than the one in use refused as a replay, one
 * line per accepted load or refusal, and a warning at most hourly while
 * any CRL is less than warn_before seconds from its nextUpdate (or past it).
 *
 * crlpub_poll sends, for every issuer of the accepted set, its newest CRL
 * (highest crlNumber) as DER on "sms/crl/<pki>/<issuer key id>"
 * (crl_topic.h) whenever those bytes differ from what was last sent there
 * successfully, and every CRL again when `all` is set (the daemon sets it
 * at its republish interval and after each reconnect). The caller's send
 * publishes retained at QoS 1. A CRL without an authorityKeyIdentifier has
 * no topic: logged, not sent.
 *
 * Single-threaded: the daemon's supervising thread owns it.
 */
#ifndef SMS_CRLPUB_PUBLISH_H
#define SMS_CRLPUB_PUBLISH_H

#include <stddef.h>
#include <time.h>

#include "common/crl_set.h"
#include "common/crl_topic.h"

typedef struct crlpub crlpub;

/* 0 when sent (or queued to be), -1 with err. */
typedef int (*crlpub_send_fn)(void *ud, const char *topic, const unsigned char *der, size_t len, char *err,
                              size_t errlen);

/* Loads and verifies the first set; NULL with the reason in err. */
crlpub *crlpub_new(crl_pki pki, const char *const *crl_files, size_t n_crl_files, const char *const *ca_files,
                   size_t n_ca_files, int check_interval, time_t warn_before, char *err, size_t errlen);
void crlpub_free(crlpub *p);

/* Looks at the files when check_interval passed (or force), then sends what
 * changed (everything with all); send NULL: only look at the files. The number of CRLs sent, -1 when a send
 * failed (logged; tried again at the next poll). */
int crlpub_poll(crlpub *p, time_t now, int force, int all, crlpub_send_fn send, void *ud);

/* CRLs of the set in use, and how many of them were sent at least once. */
void crlpub_counts(const crlpub *p, size_t *crls, size_t *sent);

/* For the metrics (crlpub_metrics.h). */
typedef struct {
	unsigned long long published;   /* sends that succeeded, republishes included */
	unsigned long long failures;    /* sends that failed (each tried again later) */
	time_t last_published;          /* the poll's now of the last successful send; 0: none */
} crlpub_stats;

void crlpub_get_stats(const crlpub *p, crlpub_stats *out);
/* The summary of the set in use (crl_set.h). */
void crlpub_summary(const crlpub *p, struct crl_set_summary *out);

/* What was last sent successfully on one issuer's topic. */
typedef struct {
	int sent;                 /* 0: the first send on this topic failed, nothing below is set */
	const char *key_id;       /* the topic's last level, lowercase hex */
	double crl_number;        /* NaN without one; exact below 2^53 (a gauge is a double) */
	time_t next_update;       /* 0 when the CRL has none */
} crlpub_sent;

/* The i-th issuer a send was tried for: 1 and *out, 0 when i is past the last one. */
int crlpub_sent_at(const crlpub *p, size_t i, crlpub_sent *out);

#endif
