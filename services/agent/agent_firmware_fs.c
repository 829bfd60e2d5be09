/* Durable file operations of the firmware modules; contract in agent_firmware_fs.h. */
#include "services/agent/agent_firmware_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/write_all.h"

int fw_fs_sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: fsync of the directory failed: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int fw_fs_replace(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
	char tmp[4096], final[4096];
	int fd;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= sizeof tmp ||
	    (size_t)snprintf(final, sizeof final, "%s/%s", dir, name) >= sizeof final) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, final) != 0) {
		snprintf(err, errlen, "%s: cannot replace: %s", final, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return fw_fs_sync_dir(dir, err, errlen);
}

int fw_fs_mkdirs(const char *dir, char *err, size_t errlen)
{
	char path[4096], *slash;
	struct stat st;

	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	slash = strrchr(path, '/');
	if (slash != NULL && slash != path) {
		*slash = '\0';
		if (fw_fs_mkdirs(path, err, errlen) != 0)
			return -1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create the directory: %s", dir, strerror(errno));
		return -1;
	}
	return slash != NULL && slash != path ? fw_fs_sync_dir(path, err, errlen) : 0;
}

int fw_fs_remove_tree(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", dir, strerror(errno)), -1);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) != 0 && (errno != EISDIR || fw_fs_remove_tree(path, err, errlen) != 0)) {
			snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
			rc = -1;
			break;
		}
	}
	closedir(d);
	if (rc == 0 && rmdir(dir) != 0) {
		snprintf(err, errlen, "%s: cannot remove: %s", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}

int fw_fs_read(const char *path, size_t max, unsigned char **out, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	struct stat st;
	ssize_t r;
	size_t got = 0;

	*out = NULL;
	*len = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (size_t)st.st_size > max) {
		snprintf(err, errlen, "%s: unreadable or larger than %zu bytes", path, max);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: read failed: %s", path, r < 0 ? strerror(errno) : "short file");
			goto fail;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*len = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}
