/*
 * A sleep that a stop flag cuts short: daemons wait for backoffs in steps of
 * 50 ms so that SIGTERM is honoured within that, not after the backoff.
 */
#ifndef SMS_SLEEP_UNLESS_H
#define SMS_SLEEP_UNLESS_H

#include <stdatomic.h>

/* Sleeps ms milliseconds unless *stop becomes non-zero; returns 1 when
 * stopping (at once or early), 0 after the full sleep. */
int sleep_unless(const atomic_int *stop, long ms);

#endif
