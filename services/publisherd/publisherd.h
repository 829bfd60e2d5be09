/*
 * sms-publisherd's shared state: what the supervising thread (rollouts,
 * releases, CRL reloads, metrics) and the MQTT loop thread (status
 * reports) both reach. Each thread has its own PostgreSQL session and its
 * own libsmscms context; the one object both use, the trust status
 * reports are verified with, is guarded by trust_lock (the supervisor
 * replaces its CRLs).
 */
#ifndef SMS_PUBLISHERD_H
#define SMS_PUBLISHERD_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/x509.h>

#include "cms/smscms.h"
#include "common/crl_watch.h"
#include "common/fw_manifest.h"
#include "common/mqtt_session.h"
#include "common/pg_session.h"
#include "common/signed_data.h"
#include "services/publisherd/publisherd_config.h"

#define PUBLISHERD_MAX_KEYS 64
#define PUBLISHERD_MAX_ROLLOUTS 256

typedef struct {
	long long release_id;
	unsigned char key[FW_KEY_LEN];
} publisherd_key;

typedef struct {
	long long rollout_id;
	double next_offer;               /* monotonic seconds */
} publisherd_pace;

typedef struct {
	atomic_ullong offers, reoffers, offer_failures;
	atomic_ullong reports_accepted, reports_refused, reports_ignored;
	atomic_ullong releases_published, pieces_published, bytes_published;
} publisherd_stats;

typedef struct {
	const publisherd_config *cfg;
	mqtt_session *session;
	atomic_int reconnected;          /* connections so far */
	atomic_int session_done;         /* the session ended for good */

	/* status reports (loop thread) */
	pthread_mutex_t trust_lock;
	signed_data_trust *status_trust;
	pg_session *db_status;

	/* supervisor */
	pg_session *db;
	crl_watch *crls;                 /* NULL without e2e.crls */
	X509 *services_ca;
	X509_STORE *devices;             /* E2E root, CAs, CRLs: device certificates are checked here */
	STACK_OF(X509) *cas;
	smscms_ctx *ctx;
	smscms_identity *me;
	smscms_verifier *verifier;       /* release keys: the signer's envelopes */
	publisherd_key keys[PUBLISHERD_MAX_KEYS];
	size_t n_keys;
	publisherd_pace pace[PUBLISHERD_MAX_ROLLOUTS];
	size_t n_pace;

	publisherd_stats stats;
} publisherd;

#endif
