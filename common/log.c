/* Log records; contract in log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "sms";
static log_level log_max = LOG_LEVEL_INFO;
static FILE *log_file;

void sms_log_init(const char *progname, log_level max_level)
{
	log_progname = progname;
	log_max = max_level;
}

int sms_log_to_file(const char *path)
{
	FILE *f;

	if (path == NULL) {
		if (log_file != NULL)
			fclose(log_file);
		log_file = NULL;
		return 0;
	}
	f = fopen(path, "a");
	if (f == NULL)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_file != NULL)
		fclose(log_file);
	log_file = f;
	return 0;
}

void sms_log(log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024], safe[2048], ts[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_escape(msg, safe, sizeof safe);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(log_file ? log_file : stderr, "%s %s[%ld] %s: %s\n", ts, log_progname, (long)getpid(),
	        names[level], safe);
}

const char *log_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!outlen)
		return out;
	for (; in && *in; in++) {
		unsigned char c = (unsigned char)*in;
		bool plain = c >= 0x20 && c < 0x7f && c != '\\';
		size_t need = plain ? 1 : (c == '\\' ? 2 : 4);

		if (o + need >= outlen)
			break;
		if (plain) {
			out[o++] = (char)c;
		} else if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}
