/*
 * Seconds on CLOCK_MONOTONIC, for intervals, timeouts and backoff: a step
 * of the wall clock (NTP, an operator) neither stretches nor skips them.
 * Only differences mean anything.
 */
#ifndef SMS_MONOTONIC_H
#define SMS_MONOTONIC_H

double monotonic_seconds(void);

#endif
