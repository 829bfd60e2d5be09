/* Log records; contract in log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "sms-snapshotd";
static log_level log_max = LOG_LEVEL_INFO;

void sms_log_init(const char *progname, log_level max_level)
{
	log_progname = progname;
	log_max = max_level;
}

void sms_log(log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024], ts[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s[%ld] %s: %s\n", ts, log_progname, (long)getpid(), names[level], msg);
}
