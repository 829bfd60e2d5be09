/*
 * The rollout driver: one pass over the database per poll, everything it
 * decides is stored before the next pass, so a restart (kill -9 included)
 * continues where the database says and never offers a finished device
 * again.
 *
 * Per pass:
 *  - aborted rollouts (sms-firmware rollout abort, or the threshold): every
 *    device not finished -> aborted;
 *  - running or paused rollouts past their deadline: every device not
 *    finished -> timed_out, the rollout finished (deadline);
 *  - per running rollout: when every device of the current phase finished,
 *    the share of failed + rejected among them above abort_failures
 *    aborts the rollout (abort_threshold); otherwise the next phase opens,
 *    or after the last one the rollout is finished (completed);
 *  - offers, at most rate_per_min a minute per rollout (paced, no burst
 *    beyond one second's share): first devices offered more than
 *    reoffer_interval ago that did not answer, then queued devices of the
 *    open phases in their shuffled order. A device whose E2E certificate
 *    is missing, revoked or not its own is failed (noDecryptKey, detail
 *    "publisher: ...") instead of being offered.
 * Paused rollouts get no offers; reports still move their devices.
 * Supervisor thread only.
 */
#ifndef SMS_PUBLISHERD_ROLLOUT_H
#define SMS_PUBLISHERD_ROLLOUT_H

#include "services/publisherd/publisherd.h"

/* PG_OK, or the class of the database failure (logged). */
pg_class publisherd_drive(publisherd *p);

#endif
