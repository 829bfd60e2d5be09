/*
 * One logger for every daemon: one line per record,
 * "2026-11-21T10:00:00Z prog[pid] level: message", on stderr or appended to
 * a file. Thread-safe (one write per record). Bytes outside printable
 * ASCII (newlines, escapes, UTF-8 lookalikes) are written as \xNN, so a
 * value from a certificate or a topic can neither forge a record nor hide
 * in the terminal. Callers never pass key material.
 */
#ifndef SMS_LOG_H
#define SMS_LOG_H

typedef enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level;

void sms_log_init(const char *progname, log_level max_level);
/* Appends to path from now on (NULL: stderr). 0, or -1 with errno set. */
int sms_log_to_file(const char *path);
void sms_log(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
