/*
 * The error convention of common/ and plugin/: a function that fails
 * formats one line of context into the caller's (err, errlen) and returns
 * -1. errf() is that, for `return errf(err, errlen, "...", ...);`.
 * err may be NULL or errlen 0 (nothing is written).
 */
#ifndef SMS_ERRF_H
#define SMS_ERRF_H

#include <stddef.h>

int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
