/*
 * One version for every program of the tree: the VERSION file at the top,
 * handed to the compiler by the Makefile as SMS_VERSION. --version prints
 * "<program> (sms) <version>" on stdout and the program exits 0.
 */
#ifndef SMS_VERSION_H
#define SMS_VERSION_H

#include <stdio.h>

/* The exit statuses every program states at the end of its --help. */
#define SMS_EXIT_CODES_HELP \
	"Exit status: 0 success, 1 a runtime or configuration error (one line on stderr\n" \
	"or in the log), 2 a usage error (one line).\n"

/* The version string, e.g. "0.11.0". */
const char *sms_version(void);
/* "<prog> (sms) <version>\n" on f. */
void sms_print_version(FILE *f, const char *prog);

#endif
