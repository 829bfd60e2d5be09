/* The agent's durable outbox; contract in agent_outbox.h. */
#include "services/agent/agent_outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/receipt.h"
#include "common/write_all.h"

#define NAME_LEN (16 + 1 + 2 * OUTBOX_DIGEST_LEN + 4) /* "<16 hex>-<64 hex>.cms" */
#define MAX_ENTRY_BYTES (16u * 1024 * 1024)

typedef struct {
	char name[NAME_LEN + 1];
	unsigned char digest[OUTBOX_DIGEST_LEN];
	size_t size;
	time_t created;
	double sent;              /* monotonic; 0: not sent since open/all_due */
} entry;

struct agent_outbox {
	pthread_mutex_t lock;
	char *dir;
	int dirfd;
	outbox_limits lim;
	entry *e;
	size_t n, cap;
	size_t cursor;            /* where outbox_next_due looks first */
	unsigned long long bytes, last_ns;
	time_t wall_seen;         /* the clocks at the last outbox_expire */
	double mono_seen;
	outbox_stats st;
};

/* ---------------------------------------------------------- file names */

static int parse_name(const char *name, entry *out)
{
	unsigned long long ns = 0;
	int i, v;

	if (strlen(name) != NAME_LEN || name[16] != '-' || strcmp(name + NAME_LEN - 4, ".cms") != 0)
		return -1;
	for (i = 0; i < 16; i++) {
		if ((v = OPENSSL_hexchar2int((unsigned char)name[i])) < 0 || (name[i] >= 'A' && name[i] <= 'F'))
			return -1;
		ns = ns << 4 | (unsigned long long)v;
	}
	for (i = 0; i < OUTBOX_DIGEST_LEN; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)name[17 + 2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)name[18 + 2 * i]);

		if (hi < 0 || lo < 0)
			return -1;
		out->digest[i] = (unsigned char)(hi << 4 | lo);
	}
	snprintf(out->name, sizeof out->name, "%s", name);
	out->created = (time_t)(ns / 1000000000ULL);
	out->sent = 0;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* ------------------------------------------------------- index changes */

static int push(agent_outbox *o, const entry *en)
{
	entry *grown;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 256;

		grown = realloc(o->e, cap * sizeof *grown);
		if (grown == NULL)
			return -1;
		o->e = grown;
		o->cap = cap;
	}
	o->e[o->n++] = *en;
	o->bytes += en->size;
	return 0;
}

static void drop_index(agent_outbox *o, size_t i)
{
	o->bytes -= o->e[i].size;
	if (i < o->cursor)
		o->cursor--;
	memmove(&o->e[i], &o->e[i + 1], (o->n - i - 1) * sizeof *o->e);
	o->n--;
}

static void sync_dir(agent_outbox *o)
{
	if (fsync(o->dirfd) != 0)
		sms_log(LOG_LEVEL_ERROR, "outbox %s: fsync of the directory failed: %s", o->dir, strerror(errno));
}

/* Unlinks entry i and forgets it; the caller syncs the directory. */
static void delete_entry(agent_outbox *o, size_t i)
{
	if (unlinkat(o->dirfd, o->e[i].name, 0) != 0 && errno != ENOENT)
		sms_log(LOG_LEVEL_ERROR, "outbox %s: cannot delete %s: %s", o->dir, o->e[i].name, strerror(errno));
	drop_index(o, i);
}

static void move_aside(agent_outbox *o, const char *name, const char *why)
{
	char to[NAME_LEN + 64];

	snprintf(to, sizeof to, "corrupt/%s", name);
	if (renameat(o->dirfd, name, o->dirfd, to) != 0)
		sms_log(LOG_LEVEL_ERROR, "outbox %s: cannot move %s aside: %s", o->dir, name, strerror(errno));
	else
		sms_log(LOG_LEVEL_ERROR, "outbox %s: entry %s %s; moved to corrupt/%s (it will not be sent)", o->dir,
		        name, why, name);
	o->st.corrupt++;
}

static void evict(agent_outbox *o, size_t i, const char *why)
{
	char hex[2 * OUTBOX_DIGEST_LEN + 1];

	receipt_digest_hex(o->e[i].digest, hex);
	sms_log(LOG_LEVEL_WARNING, "outbox %s: evicting unreceipted snapshot %s (%s); %llu evicted so far", o->dir, hex,
	        why, o->st.evicted + 1);
	delete_entry(o, i);
	o->st.evicted++;
}

/* ------------------------------------------------------------- opening */

static void scan_one(agent_outbox *o, const char *name)
{
	struct stat sb;
	entry en;

	if (strncmp(name, ".tmp-", 5) == 0) {
		/* A write that never reached its rename: never accepted. */
		if (unlinkat(o->dirfd, name, 0) != 0)
			sms_log(LOG_LEVEL_ERROR, "outbox %s: cannot delete leftover %s: %s", o->dir, name, strerror(errno));
		return;
	}
	if (fstatat(o->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(sb.st_mode))
		return;
	memset(&en, 0, sizeof en);
	if (!S_ISREG(sb.st_mode) || parse_name(name, &en) != 0) {
		move_aside(o, name, "has a name or type the outbox never writes");
		return;
	}
	if (sb.st_size <= 0 || (unsigned long long)sb.st_size > MAX_ENTRY_BYTES) {
		move_aside(o, name, "is empty or too large");
		return;
	}
	en.size = (size_t)sb.st_size;
	if (push(o, &en) != 0)
		sms_log(LOG_LEVEL_ERROR, "outbox %s: out of memory indexing %s", o->dir, name);
}

static int scan(agent_outbox *o, char *err, size_t errlen)
{
	int fd = dup(o->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		snprintf(err, errlen, "outbox %s: cannot list: %s", o->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			scan_one(o, de->d_name);
	closedir(d);
	if (o->n > 1)
		qsort(o->e, o->n, sizeof *o->e, entry_cmp);
	sync_dir(o);
	return 0;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "outbox: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

agent_outbox *outbox_open(const char *dir, const outbox_limits *lim, char *err, size_t errlen)
{
	agent_outbox *o = calloc(1, sizeof *o);
	char corrupt[4096];

	if (o == NULL || (o->dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "outbox: out of memory");
		free(o);
		return NULL;
	}
	o->dirfd = -1;
	o->lim = *lim;
	pthread_mutex_init(&o->lock, NULL);
	snprintf(corrupt, sizeof corrupt, "%s/corrupt", dir);
	if (make_dir(dir, err, errlen) != 0 || make_dir(corrupt, err, errlen) != 0)
		goto fail;
	o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0) {
		snprintf(err, errlen, "outbox %s: cannot open: %s", dir, strerror(errno));
		goto fail;
	}
	if (scan(o, err, errlen) != 0)
		goto fail;
	return o;
fail:
	outbox_close(o);
	return NULL;
}

void outbox_close(agent_outbox *o)
{
	if (o == NULL)
		return;
	if (o->dirfd >= 0)
		close(o->dirfd);
	pthread_mutex_destroy(&o->lock);
	free(o->e);
	free(o->dir);
	free(o);
}

/* -------------------------------------------------------------- adding */

/* Temporary file, fsync, rename, fsync of the directory. */
static outbox_status write_durably(agent_outbox *o, const char *name, const unsigned char *payload, size_t len,
                                   char *err, size_t errlen)
{
	char tmp[NAME_LEN + 8];
	int fd, saved;

	snprintf(tmp, sizeof tmp, ".tmp-%s", name);
	fd = openat(o->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write_all(fd, payload, len) != 0 || fsync(fd) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	if (close(fd) != 0 || renameat(o->dirfd, tmp, o->dirfd, name) != 0 || fsync(o->dirfd) != 0)
		goto fail;
	return OUTBOX_OK;
fail:
	saved = errno;
	unlinkat(o->dirfd, tmp, 0);
	snprintf(err, errlen, "outbox %s: cannot store a snapshot: %s", o->dir, strerror(saved));
	return (saved == ENOSPC || saved == EDQUOT) ? OUTBOX_NO_SPACE : OUTBOX_ERROR;
}

static void make_room(agent_outbox *o, size_t len)
{
	while (o->n > 0 && (o->n + 1 > o->lim.max_entries || o->bytes + len > o->lim.max_bytes))
		evict(o, 0, o->n + 1 > o->lim.max_entries ? "outbox full: max_entries, oldest first"
		                                           : "outbox full: max_bytes, oldest first");
}

/* Strictly increasing creation stamps keep names unique and in order. */
static unsigned long long next_stamp(agent_outbox *o)
{
	struct timespec ts;
	unsigned long long ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
	if (o->n > 0 && ns <= o->last_ns)
		ns = o->last_ns + 1;
	o->last_ns = ns;
	return ns;
}

outbox_status outbox_add(agent_outbox *o, const unsigned char *payload, size_t len,
                         const unsigned char digest[OUTBOX_DIGEST_LEN], char *err, size_t errlen)
{
	char hex[2 * OUTBOX_DIGEST_LEN + 1];
	outbox_status st;
	entry en;

	if (len == 0 || len > MAX_ENTRY_BYTES || len > o->lim.max_bytes) {
		snprintf(err, errlen, "outbox %s: a payload of %zu bytes exceeds the entry limits", o->dir, len);
		return len == 0 ? OUTBOX_ERROR : OUTBOX_TOO_LARGE;
	}
	memset(&en, 0, sizeof en);
	receipt_digest_hex(digest, hex);
	pthread_mutex_lock(&o->lock);
	if (o->last_ns == 0 && o->n > 0)
		o->last_ns = (unsigned long long)o->e[o->n - 1].created * 1000000000ULL;
	snprintf(en.name, sizeof en.name, "%016llx-%s.cms", next_stamp(o), hex);
	memcpy(en.digest, digest, OUTBOX_DIGEST_LEN);
	en.size = len;
	en.created = time(NULL);
	make_room(o, len);
	st = write_durably(o, en.name, payload, len, err, errlen);
	if (st == OUTBOX_OK && push(o, &en) != 0) {
		/* On disk but not indexed: it is found again at the next open. */
		snprintf(err, errlen, "outbox %s: out of memory indexing a stored snapshot", o->dir);
		st = OUTBOX_ERROR;
	}
	if (st == OUTBOX_OK)
		o->st.added++;
	pthread_mutex_unlock(&o->lock);
	return st;
}

/* ------------------------------------------------ removing and expiring */

size_t outbox_remove(agent_outbox *o, const unsigned char (*digests)[OUTBOX_DIGEST_LEN], size_t n)
{
	size_t removed = 0, i, k;

	pthread_mutex_lock(&o->lock);
	for (k = 0; k < n; k++)
		for (i = 0; i < o->n; i++)
			if (CRYPTO_memcmp(o->e[i].digest, digests[k], OUTBOX_DIGEST_LEN) == 0) {
				delete_entry(o, i);
				removed++;
				break;
			}
	if (removed > 0)
		sync_dir(o);
	o->st.removed += removed;
	pthread_mutex_unlock(&o->lock);
	return removed;
}

/* A forward jump of the wall clock since the last call moves the creation
 * time of every entry made before it by the jump, so that age counts time
 * that passed, not a correction of the clock. */
static void absorb_clock_jump(agent_outbox *o, time_t now, double mono)
{
	long long jump;
	size_t i, moved = 0;

	if (o->mono_seen > 0) {
		jump = (long long)(now - o->wall_seen) - (long long)(mono - o->mono_seen);
		if (jump > OUTBOX_CLOCK_JUMP_S) {
			for (i = 0; i < o->n; i++)
				if (o->e[i].created >= OUTBOX_CLOCK_FLOOR && o->e[i].created <= o->wall_seen) {
					o->e[i].created += (time_t)jump;
					moved++;
				}
			sms_log(LOG_LEVEL_WARNING, "outbox %s: the wall clock jumped forward by %lld s; the age of %zu "
			        "entries made before the jump counts from it", o->dir, jump, moved);
		}
	}
	o->wall_seen = now;
	o->mono_seen = mono;
}

size_t outbox_expire(agent_outbox *o, time_t now, double mono)
{
	size_t n = 0, i = 0;

	if (o->lim.max_age_s <= 0 || now < OUTBOX_CLOCK_FLOOR)
		return 0;
	pthread_mutex_lock(&o->lock);
	absorb_clock_jump(o, now, mono);
	/* Not a prefix: unset-clock entries sort first and jumps move ages. */
	while (i < o->n) {
		if (o->e[i].created >= OUTBOX_CLOCK_FLOOR && (long long)(now - o->e[i].created) > o->lim.max_age_s) {
			evict(o, i, "older than max_age");
			n++;
		} else {
			i++;
		}
	}
	if (n > 0)
		sync_dir(o);
	pthread_mutex_unlock(&o->lock);
	return n;
}

/* ------------------------------------------------------------- sending */

/* The file of entry i, checked against the digest in its name. */
static unsigned char *read_entry(agent_outbox *o, size_t i, const char **why)
{
	unsigned char md[OUTBOX_DIGEST_LEN], *buf = NULL;
	unsigned int mdlen = 0;
	size_t got = 0;
	ssize_t r;
	int fd = openat(o->dirfd, o->e[i].name, O_RDONLY | O_CLOEXEC);

	*why = "cannot be read";
	if (fd < 0 || (buf = malloc(o->e[i].size + 1)) == NULL)
		goto fail;
	while ((r = read(fd, buf + got, o->e[i].size + 1 - got)) > 0)
		got += (size_t)r;
	if (r < 0)
		goto fail;
	*why = "does not match the digest in its name (truncated or corrupted)";
	if (got != o->e[i].size || EVP_Digest(buf, got, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    CRYPTO_memcmp(md, o->e[i].digest, OUTBOX_DIGEST_LEN) != 0)
		goto fail;
	close(fd);
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Entries are sent in order, so looking from after the last one sent finds
 * the next due one at once; a full round finds none. */
int outbox_next_due(agent_outbox *o, double now, double resend_s, unsigned char **payload, size_t *len,
                    unsigned char digest[OUTBOX_DIGEST_LEN])
{
	const char *why;
	size_t looked = 0, i;
	int found = 0;

	pthread_mutex_lock(&o->lock);
	while (looked < o->n) {
		i = o->cursor < o->n ? o->cursor : 0;
		if (o->e[i].sent != 0 && now - o->e[i].sent < resend_s) {
			o->cursor = i + 1;
			looked++;
			continue;
		}
		*payload = read_entry(o, i, &why);
		if (*payload == NULL) {
			move_aside(o, o->e[i].name, why);
			o->cursor = i;
			drop_index(o, i);
			sync_dir(o);
			continue;
		}
		*len = o->e[i].size;
		memcpy(digest, o->e[i].digest, OUTBOX_DIGEST_LEN);
		o->e[i].sent = now;
		o->cursor = i + 1;
		found = 1;
		break;
	}
	pthread_mutex_unlock(&o->lock);
	return found;
}

void outbox_all_due(agent_outbox *o)
{
	size_t i;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++)
		o->e[i].sent = 0;
	o->cursor = 0;
	pthread_mutex_unlock(&o->lock);
}

void outbox_get_stats(agent_outbox *o, outbox_stats *out)
{
	pthread_mutex_lock(&o->lock);
	*out = o->st;
	out->entries = o->n;
	out->bytes = o->bytes;
	pthread_mutex_unlock(&o->lock);
}
