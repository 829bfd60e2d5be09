/* Token bucket for log lines; contract in log_limit.h. */
#include "common/log_limit.h"

#include <string.h>

void log_limit_init(log_limit *l, double per_second, double burst)
{
	memset(l, 0, sizeof(*l));
	l->rate = per_second;
	l->burst = burst;
	l->tokens = burst;
}

static void refill(log_limit *l, long long now_ms)
{
	if (!l->started) {
		l->started = 1;
		l->last_ms = now_ms;
		return;
	}
	if (now_ms > l->last_ms) {
		l->tokens += (double)(now_ms - l->last_ms) * l->rate / 1000.0;
		if (l->tokens > l->burst)
			l->tokens = l->burst;
		l->last_ms = now_ms;
	}
}

int log_limit_take(log_limit *l, long long now_ms, unsigned long long *suppressed_before)
{
	refill(l, now_ms);
	*suppressed_before = 0;
	if (l->tokens < 1.0) {
		if (l->suppressed++ == 0)
			l->first_suppressed_ms = now_ms;
		return 0;
	}
	l->tokens -= 1.0;
	*suppressed_before = l->suppressed;
	l->suppressed = 0;
	return 1;
}

unsigned long long log_limit_flush(log_limit *l, long long now_ms, long long quiet_ms)
{
	unsigned long long n = l->suppressed;

	if (n == 0 || now_ms - l->first_suppressed_ms < quiet_ms)
		return 0;
	l->suppressed = 0;
	return n;
}
