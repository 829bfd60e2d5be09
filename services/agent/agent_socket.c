/* Unix-socket snapshot intake; contract in agent_socket.h. */
#define _GNU_SOURCE /* struct ucred */
#include "services/agent/agent_socket.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define POLL_STOP_MS 200

struct socket_intake {
	socket_intake_config cfg;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	int fd, bound;
	pthread_t thread;
	atomic_int stop;
	atomic_ullong accepted, refused;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A stale socket (an earlier run) is replaced; any other file is not ours. */
static int clear_path(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "socket %s: %s", path, strerror(errno)), -1);
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "socket %s: exists and is not a socket", path);
		return -1;
	}
	if (unlink(path) != 0) {
		snprintf(err, errlen, "socket %s: cannot remove the stale socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The umask keeps the node closed between bind and chmod; the daemon
 * starts this before any other thread creates files. */
static int listen_on(socket_intake *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	if (strlen(s->cfg.path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket %s: path longer than %zu bytes", s->cfg.path, sizeof sa.sun_path - 1);
		return -1;
	}
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->cfg.path);
	snprintf(s->path, sizeof s->path, "%s", s->cfg.path);
	if (clear_path(s->path, err, errlen) != 0)
		return -1;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0777);
	rc = bind(s->fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	s->bound = rc == 0;
	if (rc != 0 || chmod(s->path, (mode_t)s->cfg.mode) != 0 || listen(s->fd, 16) != 0) {
		snprintf(err, errlen, "socket %s: %s", s->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void answer(int fd, const char *word, const char *arg)
{
	char line[700];
	int n = snprintf(line, sizeof line, "%s %s\n", word, arg);

	/* The client may be gone: no SIGPIPE, nothing to do about it. */
	if (n > 0 && send(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, MSG_NOSIGNAL) < 0)
		sms_log(LOG_LEVEL_DEBUG, "socket: answer not delivered: %s", strerror(errno));
}

/* Reads what the client still sends, up to EOF, a bound or the timeout:
 * closing with unread data would reset the connection and lose the answer. */
static void drain(const socket_intake *s, int fd)
{
	long long deadline = now_ms() + s->cfg.timeout_ms;
	size_t total = 0, bound = 16 * s->cfg.check->max_file;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	ssize_t r;

	shutdown(fd, SHUT_WR);
	while (total < bound) {
		long long left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		r = recv(fd, buf, sizeof buf, 0);
		if (r <= 0)
			return;
		total += (size_t)r;
	}
}

static int peer_allowed(const socket_intake *s, int fd, char *why, size_t whylen)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (s->cfg.uid < 0 && s->cfg.gid < 0)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		snprintf(why, whylen, "peer credentials unavailable: %s", strerror(errno));
		return 0;
	}
	if ((s->cfg.uid >= 0 && (long)cr.uid != s->cfg.uid) || (s->cfg.gid >= 0 && (long)cr.gid != s->cfg.gid)) {
		snprintf(why, whylen, "peer uid %ld gid %ld is not the configured equipment user", (long)cr.uid,
		         (long)cr.gid);
		return 0;
	}
	return 1;
}

/* Everything up to EOF, at most max bytes, within the timeout. NULL with why. */
static char *read_message(const socket_intake *s, int fd, size_t *len, char *why, size_t whylen)
{
	size_t max = s->cfg.check->max_file, got = 0;
	long long deadline = now_ms() + s->cfg.timeout_ms;
	char *buf = malloc(max + 1);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;

	if (buf == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	for (;;) {
		long long left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			snprintf(why, whylen, "no end of message within %d ms (write the JSON, then shut down writing)",
			         s->cfg.timeout_ms);
			break;
		}
		r = recv(fd, buf + got, max + 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "connection failed mid-message: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			if (got == 0) {
				snprintf(why, whylen, "empty message");
				break;
			}
			buf[got] = '\0';
			*len = got;
			return buf;
		}
		got += (size_t)r;
		if (got > max) {
			snprintf(why, whylen, "message larger than max_file (%zu bytes)", max);
			break;
		}
	}
	free(buf);
	return NULL;
}

static void serve(socket_intake *s, int fd)
{
	char why[512], hex[SOCKET_DIGEST_HEX];
	size_t len = 0;
	char *json = NULL;
	intake_verdict v = INTAKE_REFUSED;

	if (!peer_allowed(s, fd, why, sizeof why))
		goto refused;
	if ((json = read_message(s, fd, &len, why, sizeof why)) == NULL ||
	    intake_check(s->cfg.check, json, len, why, sizeof why) != 0)
		goto refused;
	v = s->cfg.store(s->cfg.ud, json, len, hex, why, sizeof why);
	if (v == INTAKE_STORED) {
		atomic_fetch_add(&s->accepted, 1);
		answer(fd, "accepted", hex);
		goto out;
	}
	if (v == INTAKE_LATER)
		snprintf(why, sizeof why, "try again later: the outbox cannot take it now (see the agent's log)");
refused:
	atomic_fetch_add(&s->refused, 1);
	sms_log(LOG_LEVEL_WARNING, "socket: refused a snapshot: %s", why);
	answer(fd, "refused", why);
	drain(s, fd);
out:
	free(json);
}

static void *serve_main(void *arg)
{
	socket_intake *s = arg;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	int c;

	while (!atomic_load(&s->stop)) {
		if (poll(&p, 1, POLL_STOP_MS) <= 0)
			continue;
		c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				sms_log(LOG_LEVEL_WARNING, "socket: accept: %s", strerror(errno));
			continue;
		}
		serve(s, c);
		close(c);
	}
	return NULL;
}

socket_intake *socket_intake_start(const socket_intake_config *cfg, char *err, size_t errlen)
{
	socket_intake *s = calloc(1, sizeof *s);

	if (s == NULL) {
		snprintf(err, errlen, "socket: out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->fd = -1;
	if (listen_on(s, err, errlen) != 0)
		goto fail;
	if (pthread_create(&s->thread, NULL, serve_main, s) != 0) {
		snprintf(err, errlen, "socket: cannot start the thread");
		goto fail;
	}
	return s;
fail:
	if (s->bound)
		unlink(s->path);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

void socket_intake_counts(socket_intake *s, unsigned long long *accepted, unsigned long long *refused)
{
	*accepted = s ? atomic_load(&s->accepted) : 0;
	*refused = s ? atomic_load(&s->refused) : 0;
}

void socket_intake_stop(socket_intake *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	if (unlink(s->path) != 0)
		sms_log(LOG_LEVEL_WARNING, "socket: cannot remove %s: %s", s->path, strerror(errno));
	free(s);
}
