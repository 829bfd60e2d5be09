/*
 * Releases as the publisher handles them:
 *  - the content key comes only from the release's wrapped key: an
 *    AuthEnvelopedData for our E2E identity whose originator chain
 *    verifies (E2E root, CRLs) and is the role vendor-firmware-signer of
 *    the services CA. Unwrapped keys stay in memory (wiped at exit), never
 *    in a log line or the database.
 *  - each release with a running or paused rollout is published once:
 *    manifest and pieces, QoS 1, retained, on sms/firmware/<release>/...,
 *    then published_at is set; after a reconnect (the broker may have lost
 *    its retained messages) they are published again.
 * Supervisor thread only.
 */
#ifndef SMS_PUBLISHERD_RELEASE_H
#define SMS_PUBLISHERD_RELEASE_H

#include "services/publisherd/publisherd.h"

/* The key of release_id into key: 0, or -1 with err. */
int publisherd_release_key(publisherd *p, long long release_id, unsigned char key[FW_KEY_LEN], char *err,
                           size_t errlen);
/* Publishes what is due (again: every active release). PG_OK or the class
 * of the database failure (logged). */
pg_class publisherd_publish_releases(publisherd *p, int again);
/* Wipes the cached keys. */
void publisherd_release_forget(publisherd *p);

#endif
