/* Prometheus text files; contract in metrics.h. */
#include "common/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/write_all.h"

static int failed(const metrics_buf *m)
{
	return m->err[0] != '\0';
}

static void fail(metrics_buf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(metrics_buf *m, const char *fmt, ...)
{
	va_list ap;

	if (failed(m))
		return;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof m->err, fmt, ap);
	va_end(ap);
}

static void put(metrics_buf *m, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (failed(m))
		return;
	if (m->len + n + 1 > m->cap) {
		cap = m->cap ? m->cap : 1024;
		while (cap < m->len + n + 1)
			cap *= 2;
		p = realloc(m->buf, cap);
		if (p == NULL) {
			fail(m, "out of memory");
			return;
		}
		m->buf = p;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

static void puts_(metrics_buf *m, const char *s)
{
	put(m, s, strlen(s));
}

/* quote_too: label values escape '"' as well; help text does not. */
static void put_escaped(metrics_buf *m, const char *s, int quote_too)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(m, "\\\\");
		else if (*s == '\n')
			puts_(m, "\\n");
		else if (*s == '"' && quote_too)
			puts_(m, "\\\"");
		else
			put(m, s, 1);
	}
}

static int valid_name(const char *s, int label)
{
	size_t i;

	if (s == NULL || *s == '\0' || strlen(s) >= 128)
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	/* Label names starting with __ are reserved by Prometheus. */
	return !(label && s[0] == '_' && s[1] == '_');
}

void metrics_begin(metrics_buf *m)
{
	memset(m, 0, sizeof *m);
}

void metrics_free(metrics_buf *m)
{
	free(m->buf);
	memset(m, 0, sizeof *m);
}

void metrics_family(metrics_buf *m, const char *name, metric_type type, const char *help)
{
	if (!valid_name(name, 0)) {
		fail(m, "metric name '%.60s' is not [a-zA-Z_:][a-zA-Z0-9_:]*", name ? name : "(null)");
		return;
	}
	snprintf(m->family, sizeof m->family, "%s", name);
	puts_(m, "# HELP ");
	puts_(m, name);
	puts_(m, " ");
	put_escaped(m, help, 0);
	puts_(m, "\n# TYPE ");
	puts_(m, name);
	puts_(m, type == METRIC_COUNTER ? " counter\n" : " gauge\n");
}

static void put_value(metrics_buf *m, double v)
{
	char num[64];

	if (isnan(v))
		snprintf(num, sizeof num, "NaN");
	else if (isinf(v))
		snprintf(num, sizeof num, "%cInf", v > 0 ? '+' : '-');
	else
		snprintf(num, sizeof num, "%.17g", v);
	puts_(m, num);
}

void metrics_sample(metrics_buf *m, const char *const *labels, double value)
{
	size_t i;

	if (m->family[0] == '\0') {
		fail(m, "a sample before its family");
		return;
	}
	puts_(m, m->family);
	for (i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		if (!valid_name(labels[i], 1) || labels[i + 1] == NULL) {
			fail(m, "%s: label name '%.60s' is not [a-zA-Z_][a-zA-Z0-9_]* or has no value", m->family,
			     labels[i]);
			return;
		}
		puts_(m, i == 0 ? "{" : ",");
		puts_(m, labels[i]);
		puts_(m, "=\"");
		put_escaped(m, labels[i + 1], 1);
		puts_(m, "\"");
	}
	if (i > 0)
		puts_(m, "}");
	puts_(m, " ");
	put_value(m, value);
	puts_(m, "\n");
}

void metrics_one(metrics_buf *m, const char *name, metric_type type, const char *help, double value)
{
	metrics_family(m, name, type, help);
	metrics_sample(m, NULL, value);
}

const char *metrics_text(const metrics_buf *m)
{
	return m->buf != NULL ? m->buf : "";
}

int metrics_write(metrics_buf *m, const char *dir, const char *file_name, char *err, size_t errlen)
{
	char tmp[4096], final[4096];
	int fd, n1, n2;

	if (failed(m)) {
		snprintf(err, errlen, "metrics for %s not written: %s", file_name, m->err);
		return -1;
	}
	n1 = snprintf(tmp, sizeof tmp, "%s/.%s.prom.%ld.tmp", dir, file_name, (long)getpid());
	n2 = snprintf(final, sizeof final, "%s/%s.prom", dir, file_name);
	if (n1 < 0 || (size_t)n1 >= sizeof tmp || n2 < 0 || (size_t)n2 >= sizeof final) {
		snprintf(err, errlen, "metrics directory %.200s: path too long", dir);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "metrics file %s: %s", tmp, strerror(errno));
		return -1;
	}
	/* node-exporter reads the file as another user; the daemons' units set
	 * UMask 0027 or 0077, which would leave it 0640/0600. Nothing in it is
	 * secret. */
	if (fchmod(fd, 0644) != 0) {
		snprintf(err, errlen, "metrics file %s: chmod: %s", tmp, strerror(errno));
		goto fail;
	}
	if (write_all(fd, metrics_text(m), m->len) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "metrics file %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, final) != 0) {
		snprintf(err, errlen, "metrics file %s: %s", final, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}
