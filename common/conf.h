/*
 * Helpers for the libconfig files of every program.
 *
 * - conf_open reads the file; every later error is one line
 *   "FILE:LINE: key problem" (the line of the setting when it has one).
 * - conf_check_keys refuses any setting that is not in the program's list of
 *   known keys ("broker.host", ...; a group is known when one of its keys
 *   is), so a misspelled key is an error, never silently ignored.
 * - Paths are relative to the directory of the file, not to the working
 *   directory (a daemon under systemd runs in /). conf_path with
 *   CONF_PATH_READABLE opens the file once so that a missing or unreadable
 *   file is named at start, not found out at the first connect.
 *
 * Calls return 0 or -1; after -1 the error is in the conf_file's buffer
 * and further calls return -1 at once, so they chain with ||.
 */
#ifndef SMS_CONF_H
#define SMS_CONF_H

#include <stddef.h>
#include <libconfig.h>

typedef struct {
	config_t cfg;
	char *path;
	char *dir;          /* directory of the file, for relative paths */
	char *err;
	size_t errlen;
	int failed;
} conf_file;

enum { CONF_OPTIONAL = 0, CONF_REQUIRED = 1 };
enum { CONF_PATH_ANY = 0, CONF_PATH_READABLE = 1 };

/* 0, or -1 with "FILE: cannot read: ..." / "FILE:LINE: syntax error" in err. */
int conf_open(conf_file *f, const char *path, char *err, size_t errlen);
void conf_close(conf_file *f);

/*
 * The frame of every program's config loader: conf_open, then
 * load(f, cfg, CONF_PATH_READABLE or CONF_PATH_ANY as check_files says),
 * conf_close. When load fails, free_cfg(cfg) releases what it filled in.
 * 0, or -1 with the one-line error in err.
 */
int conf_load(const char *path, int check_files, int (*load)(conf_file *f, void *cfg, int readable),
              void (*free_cfg)(void *cfg), void *cfg, char *err, size_t errlen);

/* known: NULL-terminated list of dotted keys. */
int conf_check_keys(conf_file *f, const char *const *known);

/* A string (copied; def when absent and not required; NULL stays NULL). */
int conf_string(conf_file *f, const char *key, int required, const char *def, char **out);
/* A path, made absolute against the file's directory. */
int conf_path(conf_file *f, const char *key, int required, int readable, char **out);
/* A list of paths (each made absolute, each checked when readable). *out
 * holds at most max entries. */
int conf_path_list(conf_file *f, const char *key, int readable, char **out, size_t max, size_t *n);
/* An integer in lo..hi (def when absent). */
int conf_int(conf_file *f, const char *key, long long def, long long lo, long long hi, long long *out);
/* A boolean (def when absent). */
int conf_bool(conf_file *f, const char *key, int def, int *out);

/* Reports an error about key (with its line when present); returns -1. */
int conf_fail(conf_file *f, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
