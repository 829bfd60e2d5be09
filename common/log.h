/*
 * One logger for every daemon: one line per record,
 * "2026-11-21T10:00:00Z prog[pid] level: message", on stderr or appended to
 * a file. Thread-safe (one write per record). Every record goes through
 * log_escape: bytes outside printable ASCII (newlines, escapes, UTF-8
 * lookalikes) become \xNN, so a value from a certificate or a topic can
 * neither forge a record nor hide in the terminal. Callers never pass key
 * material.
 */
#ifndef SMS_LOG_H
#define SMS_LOG_H

#include <stddef.h>

typedef enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level;

void sms_log_init(const char *progname, log_level max_level);
/* Appends to path from now on (NULL: stderr). 0, or -1 with errno set. */
int sms_log_to_file(const char *path);
void sms_log(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Text chosen by someone else (client ids, topic names) made safe for one
 * log line: bytes below 0x20, 0x7f, every byte >= 0x80 and '\' become
 * "\xHH" and "\\", so nothing can fake a line, steer a terminal or hide
 * behind a lookalike. Truncated to fit outlen (always terminated); returns out.
 */
const char *log_escape(const char *in, char *out, size_t outlen);

#endif
