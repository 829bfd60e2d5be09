/* libconfig helpers; contract in conf.h. */
#include "common/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_error(conf_file *f, unsigned line, const char *key, const char *msg)
{
	f->failed = 1;
	if (line > 0 && key != NULL)
		snprintf(f->err, f->errlen, "%s:%u: %s %s", f->path, line, key, msg);
	else if (key != NULL)
		snprintf(f->err, f->errlen, "%s: %s %s", f->path, key, msg);
	else
		snprintf(f->err, f->errlen, "%s: %s", f->path, msg);
}

int conf_fail(conf_file *f, const char *key, const char *fmt, ...)
{
	const config_setting_t *s = key ? config_lookup(&f->cfg, key) : NULL;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	set_error(f, s ? config_setting_source_line(s) : 0, key, msg);
	return -1;
}

int conf_open(conf_file *f, const char *path, char *err, size_t errlen)
{
	const char *slash;
	FILE *fp;

	memset(f, 0, sizeof *f);
	config_init(&f->cfg);
	f->err = err;
	f->errlen = errlen;
	f->path = strdup(path);
	slash = strrchr(path, '/');
	f->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
	if (f->path == NULL || f->dir == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	/* libconfig says only "file I/O error": open it ourselves for errno. */
	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		f->failed = 1;
		return -1;
	}
	if (config_read(&f->cfg, fp) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&f->cfg), config_error_text(&f->cfg));
		f->failed = 1;
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

void conf_close(conf_file *f)
{
	config_destroy(&f->cfg);
	free(f->path);
	free(f->dir);
	f->path = f->dir = NULL;
}

int conf_load(const char *path, int check_files, int (*load)(conf_file *f, void *cfg, int readable),
              void (*free_cfg)(void *cfg), void *cfg, char *err, size_t errlen)
{
	conf_file f;
	int rc = -1;

	if (conf_open(&f, path, err, errlen) != 0)
		goto out;
	if (load(&f, cfg, check_files ? CONF_PATH_READABLE : CONF_PATH_ANY) != 0) {
		free_cfg(cfg);
		goto out;
	}
	rc = 0;
out:
	conf_close(&f);
	return rc;
}

/* "a.b.c" is known, or a prefix of a known key ("a", "a.b") for groups. */
static int key_known(const char *key, int is_group, const char *const *known)
{
	size_t n = strlen(key);

	for (; *known; known++) {
		if (strcmp(*known, key) == 0)
			return 1;
		if (is_group && strncmp(*known, key, n) == 0 && (*known)[n] == '.')
			return 1;
	}
	return 0;
}

static int check_group(conf_file *f, const config_setting_t *group, const char *prefix, const char *const *known)
{
	char key[256];
	int i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		int is_group = config_setting_type(s) == CONFIG_TYPE_GROUP;

		snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", name ? name : "?");
		if (!key_known(key, is_group, known)) {
			set_error(f, config_setting_source_line(s), key, "is not a known key (misspelled?)");
			return -1;
		}
		if (is_group && check_group(f, s, key, known) != 0)
			return -1;
	}
	return 0;
}

int conf_check_keys(conf_file *f, const char *const *known)
{
	if (f->failed)
		return -1;
	return check_group(f, config_root_setting(&f->cfg), "", known);
}

int conf_string(conf_file *f, const char *key, int required, const char *def, char **out)
{
	const config_setting_t *s;
	const char *v = def;

	*out = NULL;
	if (f->failed)
		return -1;
	s = config_lookup(&f->cfg, key);
	if (s == NULL && required)
		return conf_fail(f, key, "is required");
	if (s != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return conf_fail(f, key, "must be a string");
		v = config_setting_get_string(s);
		if (v == NULL || v[0] == '\0')
			return conf_fail(f, key, "is empty");
	}
	if (v == NULL)
		return 0;
	*out = strdup(v);
	return *out ? 0 : conf_fail(f, key, "out of memory");
}

static char *absolute_path(const conf_file *f, const char *v)
{
	size_t n;
	char *out;

	if (v[0] == '/')
		return strdup(v);
	n = strlen(f->dir) + 1 + strlen(v) + 1;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s/%s", f->dir, v);
	return out;
}

static int check_readable(conf_file *f, const char *key, const char *path)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return conf_fail(f, key, "cannot open %s: %s", path, strerror(errno));
	fclose(fp);
	return 0;
}

int conf_path(conf_file *f, const char *key, int required, int readable, char **out)
{
	char *v;

	if (conf_string(f, key, required, NULL, &v) != 0 || v == NULL)
		return f->failed ? -1 : 0;
	*out = absolute_path(f, v);
	free(v);
	if (*out == NULL)
		return conf_fail(f, key, "out of memory");
	return readable ? check_readable(f, key, *out) : 0;
}

int conf_path_list(conf_file *f, const char *key, int readable, char **out, size_t max, size_t *n)
{
	const config_setting_t *list;
	int i, count;

	*n = 0;
	if (f->failed)
		return -1;
	list = config_lookup(&f->cfg, key);
	if (list == NULL)
		return 0;
	if (!config_setting_is_array(list) && !config_setting_is_list(list))
		return conf_fail(f, key, "must be a list of file names, like [ \"a.pem\" ]");
	count = config_setting_length(list);
	if ((size_t)count > max)
		return conf_fail(f, key, "has %d entries, at most %zu are allowed", count, max);
	for (i = 0; i < count; i++) {
		const char *v = config_setting_get_string_elem(list, i);

		if (v == NULL || v[0] == '\0')
			return conf_fail(f, key, "entry %d is not a file name", i);
		out[*n] = absolute_path(f, v);
		if (out[*n] == NULL)
			return conf_fail(f, key, "out of memory");
		(*n)++;
		if (readable && check_readable(f, key, out[*n - 1]) != 0)
			return -1;
	}
	return 0;
}

int conf_int(conf_file *f, const char *key, long long def, long long lo, long long hi, long long *out)
{
	const config_setting_t *s;
	long long v = def;

	if (f->failed)
		return -1;
	s = config_lookup(&f->cfg, key);
	if (s != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
			return conf_fail(f, key, "must be an integer");
		v = config_setting_get_int64(s);
	}
	if (v < lo || v > hi)
		return conf_fail(f, key, "= %lld is outside %lld..%lld", v, lo, hi);
	*out = v;
	return 0;
}

int conf_bool(conf_file *f, const char *key, int def, int *out)
{
	const config_setting_t *s;

	if (f->failed)
		return -1;
	s = config_lookup(&f->cfg, key);
	if (s == NULL) {
		*out = def;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_fail(f, key, "must be true or false");
	*out = config_setting_get_bool(s);
	return 0;
}
