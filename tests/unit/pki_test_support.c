/* Shell helpers for the certificate unit tests (see pki_test_support.h). */
#include "tests/unit/pki_test_support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int pts_run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
}

const char *pts_root_dir(void)
{
	const char *r = getenv("SMS_ROOT");

	return r && *r ? r : ".";
}

int pts_tmpdir(char *buf, size_t len, const char *tag)
{
	if ((size_t)snprintf(buf, len, "/tmp/sms-%s-test.XXXXXX", tag) >= len)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

int pts_remove(const char *dir)
{
	return pts_run("rm -rf %s", dir) == 0 ? 0 : -1;
}

int pts_pki(const char *pki_dir, const char *args)
{
	if (pts_run("%s/pki/sms-pki --dir %s --pki tls %s >/dev/null 2>&1", pts_root_dir(), pki_dir, args) == 0)
		return 0;
	fprintf(stderr, "# sms-pki %s failed\n", args);
	return -1;
}
