/* Spool directory intake; contract in agent_intake.h. */
#include "services/agent/agent_intake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/snapshot_json.h"

static int candidate(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".json") == 0;
}

int intake_prepare(const intake_config *cfg, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/rejected", cfg->dir);
	if ((mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) || (mkdir(path, 0700) != 0 && errno != EEXIST)) {
		snprintf(err, errlen, "spool: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void sync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0)
		sms_log(LOG_LEVEL_ERROR, "spool: fsync of %s failed: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* rejected/<name>.reason first, then the rename: a crash in between leaves
 * the file in the spool, to be judged again. */
static void reject(const intake_config *cfg, const char *name, const char *why, intake_counts *c)
{
	char from[4096], to[4096], reason[4200];
	FILE *f;

	snprintf(from, sizeof from, "%s/%s", cfg->dir, name);
	snprintf(to, sizeof to, "%s/rejected/%s", cfg->dir, name);
	snprintf(reason, sizeof reason, "%s.reason", to);
	f = fopen(reason, "w");
	if (f == NULL || fprintf(f, "%s\n", why) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		sms_log(LOG_LEVEL_ERROR, "spool: cannot write %s (%s); %s stays in the spool", reason, strerror(errno),
		        name);
		if (f != NULL)
			fclose(f);
		return;
	}
	fclose(f);
	if (rename(from, to) != 0) {
		sms_log(LOG_LEVEL_ERROR, "spool: cannot move %s to rejected/: %s", name, strerror(errno));
		return;
	}
	c->rejected++;
	sms_log(LOG_LEVEL_WARNING, "spool: rejected %s: %s (moved to rejected/%s)", name, why, name);
}

/* The file's bytes, at most max; NULL with why. */
static char *read_file(const char *path, size_t max, size_t *len, char *why, size_t whylen)
{
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, whylen, "not a readable regular file: %s", strerror(errno));
		goto out;
	}
	if (sb.st_size <= 0 || (unsigned long long)sb.st_size > max) {
		snprintf(why, whylen, "size %lld bytes, allowed 1..%zu", (long long)sb.st_size, max);
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	while (got <= (size_t)sb.st_size && (r = read(fd, buf + got, (size_t)sb.st_size + 1 - got)) > 0)
		got += (size_t)r;
	if (got != (size_t)sb.st_size) {
		snprintf(why, whylen, "changed while being read (write elsewhere, then rename into the spool)");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[got] = '\0';
	*len = got;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

int intake_check(const intake_config *cfg, const char *json, size_t len, char *why, size_t whylen)
{
	char err[256];
	snapshot snap;
	snapshot_status st = snapshot_parse_dict(json, len, cfg->max_values, cfg->dicts, &snap, err, sizeof err);
	int rc = -1;

	if (st != SNAPSHOT_OK) {
		snprintf(why, whylen, "%s: %s", snapshot_status_name(st), err);
		return -1;
	}
	if (strcmp(snap.equipment, cfg->equipment) != 0)
		snprintf(why, whylen, "equipment \"%.64s\" is not this equipment (%s)", snap.equipment, cfg->equipment);
	else
		rc = 0;
	snapshot_free(&snap);
	return rc;
}

/* 1 taken (stored or rejected), 0 left for later. */
static int take_one(const intake_config *cfg, const char *name, intake_store_fn store, void *ud,
                    intake_counts *c)
{
	char path[4096], why[512];
	size_t len = 0;
	char *json;
	intake_verdict v;

	snprintf(path, sizeof path, "%s/%s", cfg->dir, name);
	json = read_file(path, cfg->max_file, &len, why, sizeof why);
	if (json == NULL || intake_check(cfg, json, len, why, sizeof why) != 0) {
		reject(cfg, name, why, c);
		free(json);
		return 1;
	}
	v = store(ud, json, len, why, sizeof why);
	free(json);
	if (v == INTAKE_LATER) {
		c->deferred = 1;
		return 0;
	}
	if (v == INTAKE_REFUSED) {
		reject(cfg, name, why, c);
		return 1;
	}
	if (unlink(path) != 0)
		sms_log(LOG_LEVEL_ERROR, "spool: %s is in the outbox but cannot be removed: %s (it will be sent twice, "
		        "stored once)", name, strerror(errno));
	c->accepted++;
	return 1;
}

size_t intake_scan(const intake_config *cfg, intake_store_fn store, void *ud, intake_counts *c)
{
	struct dirent **list = NULL;
	size_t taken = 0;
	int n, i;

	c->deferred = 0;
	n = scandir(cfg->dir, &list, candidate, alphasort);
	if (n < 0) {
		sms_log(LOG_LEVEL_ERROR, "spool: cannot list %s: %s", cfg->dir, strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (taken < cfg->max_per_scan && !c->deferred && take_one(cfg, list[i]->d_name, store, ud, c))
			taken++;
		free(list[i]);
	}
	free(list);
	if (taken > 0)
		sync_path(cfg->dir);
	return taken;
}
