/*
 * A token bucket for log lines that someone else can make us write (an
 * ACL denial per publish): at most burst lines at once, then rate per
 * second; what is held back is counted, and the count is reported as one
 * "N similar lines suppressed" line, either before the next line that may
 * go out or, when the flood stops, once the quiet period has passed.
 *
 * No allocation, no locks, no clock of its own (the caller passes
 * milliseconds of a monotonic clock), so it fits the broker's main loop.
 */
#ifndef SMS_LOG_LIMIT_H
#define SMS_LOG_LIMIT_H

typedef struct {
	double tokens, rate, burst;
	long long last_ms;
	unsigned long long suppressed;   /* held back since the last report */
	long long first_suppressed_ms;
	int started;
} log_limit;

void log_limit_init(log_limit *l, double per_second, double burst);

/* 1: write this line (first report *suppressed_before lines held back, and
 * that count is reset); 0: hold it back (counted). */
int log_limit_take(log_limit *l, long long now_ms, unsigned long long *suppressed_before);

/* Lines held back for at least quiet_ms with none let through since:
 * their count (reset), else 0. For a periodic tick. */
unsigned long long log_limit_flush(log_limit *l, long long now_ms, long long quiet_ms);

#endif
