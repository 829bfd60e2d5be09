/*
 * The command line every daemon shares: --config FILE, --check-config,
 * --verbose, --help, --version, plus flags of the program's own (e.g. --migrate).
 * A usage error is one line on stderr and exit status 2; --help prints
 * the program's usage (to stdout) and exits 0, --version prints
 * "<prog> (sms) <version>" (common/version.h) and exits 0. daemon_log_start then opens the log
 * (stderr, or log_file from the configuration).
 *
 * --check-config (check_only): the program reads its configuration and
 * opens every file it names, then exits 0 printing nothing, or 1 with one
 * line "FILE:LINE: key problem" on stderr (silence is the success, so an
 * ExecStartPre or a script can run it without filtering its output).
 */
#ifndef SMS_DAEMON_CLI_H
#define SMS_DAEMON_CLI_H

#include <signal.h>
#include <stdio.h>

#define DAEMON_MAX_FLAGS 4

typedef struct {
	const char *name;           /* long option without "--" */
	int *set;                   /* set to 1 when given */
} daemon_flag;

typedef struct {
	const char *config_path;
	int check_only, verbose;
} daemon_args;

/* 0, or -1 and *exit_code (0 after --help or --version, 2 after a usage error). flags may
 * be NULL; it ends with { NULL, NULL }. */
int daemon_args_parse(int argc, char **argv, const char *prog, void (*usage)(FILE *),
                      const daemon_flag *flags, daemon_args *out, int *exit_code);

/* sms_log_init at info (debug with --verbose) and, with log_file, append
 * there. -1 after one line on stderr naming the file. */
int daemon_log_start(const char *prog, const daemon_args *a, const char *log_file);

/* The signals a daemon's supervising thread waits for (sigtimedwait):
 * TERM and INT stop, HUP reloads. */
void daemon_signal_set(sigset_t *set);
/* Blocks those and PIPE (a broker or database going away must show as a
 * write error, not kill us) in the calling thread and every thread it
 * starts afterwards; 0, or -1. */
int daemon_block_signals(void);

#endif
