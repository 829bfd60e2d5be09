/*
 * Metrics in the Prometheus text exposition format (version 0.0.4), written
 * the way node-exporter's textfile collector reads them: the whole file is
 * built in memory, written to a temporary file in the same directory,
 * fsync'd and renamed over DIR/<name>.prom, so a scrape never sees half a
 * file. Every family gets its # HELP and # TYPE lines once, before its
 * samples; label values and help text are escaped as the format says
 * (\\, \" and \n), names are checked against [a-zA-Z_:][a-zA-Z0-9_:]*.
 *
 * Usage: metrics_begin, then per family metrics_family and its samples,
 * then metrics_write. A bad name or an allocation failure makes the build
 * fail and metrics_write return -1 with the reason; nothing is half written.
 */
#ifndef SMS_METRICS_H
#define SMS_METRICS_H

#include <stddef.h>

typedef enum { METRIC_COUNTER, METRIC_GAUGE } metric_type;

typedef struct {
	char *buf;
	size_t len, cap;
	char family[128];      /* the family samples are added to */
	char err[160];         /* first build error, "" while fine */
} metrics_buf;

void metrics_begin(metrics_buf *m);
void metrics_free(metrics_buf *m);

/* Starts a family: "# HELP name help" and "# TYPE name counter|gauge". */
void metrics_family(metrics_buf *m, const char *name, metric_type type, const char *help);
/*
 * One sample of the current family. labels: NULL, or name, value, name,
 * value, ..., NULL. NaN and infinities are written as NaN, +Inf, -Inf.
 */
void metrics_sample(metrics_buf *m, const char *const *labels, double value);
/* Family and one unlabelled sample in one call. */
void metrics_one(metrics_buf *m, const char *name, metric_type type, const char *help, double value);

/* The text built so far (NUL-terminated; "" when empty). */
const char *metrics_text(const metrics_buf *m);

/*
 * Writes the text to dir/<file_name>.prom atomically (temporary file
 * ".<file_name>.prom.<pid>.tmp", fsync, rename), mode 0644 whatever the
 * umask (node-exporter is another user). 0, or -1 with a line in
 * err naming the file; the previous file stays then.
 */
int metrics_write(metrics_buf *m, const char *dir, const char *file_name, char *err, size_t errlen);

#endif
