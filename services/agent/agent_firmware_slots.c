/* A/B slots and hooks; contract in agent_firmware_slots.h. */
#include "services/agent/agent_firmware_slots.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/monotonic.h"
#include "common/write_all.h"
#include "services/agent/agent_firmware_fs.h"

#define COPY_CHUNK (64 * 1024)

char fw_slots_other(char slot)
{
	return slot == 'a' ? 'b' : 'a';
}

char fw_slots_current(const char *dir, char *err, size_t errlen)
{
	char path[4096], target[8];
	ssize_t n;

	snprintf(path, sizeof path, "%s/current", dir);
	n = readlink(path, target, sizeof target - 1);
	if (n < 0) {
		snprintf(err, errlen, "%s: not a symlink: %s", path, strerror(errno));
		return 0;
	}
	target[n] = '\0';
	if (strcmp(target, "a") != 0 && strcmp(target, "b") != 0) {
		snprintf(err, errlen, "%s points to \"%s\", neither a nor b", path, target);
		return 0;
	}
	return target[0];
}

int fw_slots_switch(const char *dir, char slot, char *err, size_t errlen)
{
	char tmp[4096], path[4096], target[2] = { slot, '\0' };

	snprintf(tmp, sizeof tmp, "%s/.current.tmp", dir);
	snprintf(path, sizeof path, "%s/current", dir);
	if ((unlink(tmp) != 0 && errno != ENOENT) || symlink(target, tmp) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot switch to slot %s: %s", path, target, strerror(errno));
		return -1;
	}
	return fw_fs_sync_dir(dir, err, errlen);
}

int fw_slots_prepare(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	const char *s;

	if (fw_fs_mkdirs(dir, err, errlen) != 0)
		return -1;
	for (s = "ab"; *s; s++) {
		snprintf(path, sizeof path, "%s/%c", dir, *s);
		if (fw_fs_mkdirs(path, err, errlen) != 0)
			return -1;
	}
	if (fw_slots_current(dir, err, errlen) != 0)
		return 0;
	snprintf(path, sizeof path, "%s/current", dir);
	if (access(path, F_OK) == 0 || errno != ENOENT) {
		snprintf(err, errlen, "%s exists but is not a symlink to a or b", path);
		return -1;
	}
	return fw_slots_switch(dir, 'a', err, errlen);
}

/* ------------------------------------------------------------ hooks */

static void child_exec(char *const argv[])
{
	sigset_t none;

	/* The agent blocks its signals for sigtimedwait; a hook must not inherit that. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
	dprintf(STDERR_FILENO, "sms-agent: cannot run hook %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int fw_hook_run(char *const argv[], int timeout_s, char *err, size_t errlen)
{
	struct timespec step = { 0, 20 * 1000000L };
	double deadline = monotonic_seconds() + timeout_s;
	pid_t pid = fork(), r;
	int status;

	if (pid < 0) {
		snprintf(err, errlen, "hook %s: fork failed: %s", argv[0], strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_exec(argv);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && monotonic_seconds() < deadline)
		nanosleep(&step, NULL);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(err, errlen, "hook %s: killed after %d s", argv[0], timeout_s);
		return -1;
	}
	if (r < 0) {
		snprintf(err, errlen, "hook %s: waitpid failed: %s", argv[0], strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(err, errlen, "hook %s exited with %d", argv[0], WEXITSTATUS(status));
	else
		snprintf(err, errlen, "hook %s killed by signal %d", argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

/* ---------------------------------------------------------- install */

static int copy_fd(int in, int out)
{
	unsigned char buf[COPY_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (write_all(out, buf, (size_t)n) != 0)
			return -1;
	}
}

/* The default install: SLOTDIR/image replaced by a copy of image. */
static int copy_image(const char *slotdir, const char *image, char *err, size_t errlen)
{
	char tmp[4096], final[4096];
	int in = open(image, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;

	snprintf(tmp, sizeof tmp, "%s/.image.tmp", slotdir);
	snprintf(final, sizeof final, "%s/image", slotdir);
	if (in < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", image, strerror(errno));
		return -1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || copy_fd(in, out) != 0 || fsync(out) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(out) != 0 || rename(tmp, final) != 0) {
		out = -1;
		snprintf(err, errlen, "%s: cannot replace: %s", final, strerror(errno));
		goto out;
	}
	out = -1;
	rc = fw_fs_sync_dir(slotdir, err, errlen);
out:
	if (out >= 0)
		close(out);
	if (rc != 0)
		unlink(tmp);
	close(in);
	return rc;
}

int fw_slots_install(const char *dir, char slot, const char *image, const char *hook, int timeout_s, char *err,
                     size_t errlen)
{
	char slotdir[4096];
	char *argv[4];

	snprintf(slotdir, sizeof slotdir, "%s/%c", dir, slot);
	if (hook == NULL)
		return copy_image(slotdir, image, err, errlen);
	argv[0] = (char *)hook;
	argv[1] = (char *)image;
	argv[2] = slotdir;
	argv[3] = NULL;
	return fw_hook_run(argv, timeout_s, err, errlen);
}

int fw_slots_health(const char *dir, const char *hook, int timeout_s, char *err, size_t errlen)
{
	char slotdir[4096], slot;
	char *argv[3];

	if (hook == NULL)
		return 0;
	if ((slot = fw_slots_current(dir, err, errlen)) == 0)
		return -1;
	snprintf(slotdir, sizeof slotdir, "%s/%c", dir, slot);
	argv[0] = (char *)hook;
	argv[1] = slotdir;
	argv[2] = NULL;
	return fw_hook_run(argv, timeout_s, err, errlen);
}
