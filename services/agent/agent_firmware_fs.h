/*
 * The durable file operations the firmware modules share: a file replaced
 * whole (temporary file, fsync, rename(2), fsync of the directory), so a
 * reader after a crash (kill -9, power cut) finds the old or the new
 * content, never a mix; directories created and made durable.
 * Every function returns 0, or -1 with "PATH: what failed: strerror" in err.
 */
#ifndef SMS_AGENT_FIRMWARE_FS_H
#define SMS_AGENT_FIRMWARE_FS_H

#include <stddef.h>

/* dir/name replaced by data (dir/.name.tmp first). */
int fw_fs_replace(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen);
/* fsync of a directory (after a rename or unlink in it). */
int fw_fs_sync_dir(const char *dir, char *err, size_t errlen);
/* mkdir -p with mode 0700 for what is created, the parent fsynced. */
int fw_fs_mkdirs(const char *dir, char *err, size_t errlen);
/* dir and everything below it removed (a release's pieces); absent is fine. */
int fw_fs_remove_tree(const char *dir, char *err, size_t errlen);
/* Reads a whole file of at most max bytes: malloc'd, NUL-terminated
 * (not counted). 0; 1 when it does not exist; -1 with err. */
int fw_fs_read(const char *path, size_t max, unsigned char **out, size_t *len, char *err, size_t errlen);

#endif
