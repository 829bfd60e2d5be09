/* The daemons' shared command line; contract in daemon_cli.h. */
#include "common/daemon_cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <string.h>

#include "common/log.h"
#include "common/version.h"

enum { OPT_CONFIG = 256, OPT_CHECK, OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_FLAG0 };

int daemon_args_parse(int argc, char **argv, const char *prog, void (*usage)(FILE *),
                      const daemon_flag *flags, daemon_args *out, int *exit_code)
{
	struct option longopts[6 + DAEMON_MAX_FLAGS] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
	};
	int n = 0, opt;

	memset(out, 0, sizeof *out);
	opterr = 0;
	optind = 0; /* glibc: start over, whatever was parsed before */
	for (; flags != NULL && flags[n].name != NULL && n < DAEMON_MAX_FLAGS; n++)
		longopts[5 + n] = (struct option){ flags[n].name, no_argument, NULL, OPT_FLAG0 + n };
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == OPT_CONFIG)
			out->config_path = optarg;
		else if (opt == OPT_CHECK)
			out->check_only = 1;
		else if (opt == OPT_VERBOSE)
			out->verbose = 1;
		else if (opt >= OPT_FLAG0 && opt < OPT_FLAG0 + n)
			*flags[opt - OPT_FLAG0].set = 1;
		else if (opt == OPT_VERSION) {
			sms_print_version(stdout, prog);
			*exit_code = 0;
			return -1;
		} else if (opt == OPT_HELP || opt == 'h') {
			usage(stdout);
			*exit_code = 0;
			return -1;
		} else {
			/* One line, not the whole usage text, on a usage error. */
			fprintf(stderr, "%s: unknown option or missing argument '%s'; see --help\n", prog,
			        argv[optind - 1]);
			*exit_code = 2;
			return -1;
		}
	}
	if (out->config_path == NULL || optind != argc) {
		fprintf(stderr, "%s: --config FILE is required (and nothing else); see --help\n", prog);
		*exit_code = 2;
		return -1;
	}
	return 0;
}

int daemon_log_start(const char *prog, const daemon_args *a, const char *log_file)
{
	sms_log_init(prog, a->verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (log_file != NULL && sms_log_to_file(log_file) != 0) {
		fprintf(stderr, "%s: %s: log_file %s: %s\n", prog, a->config_path, log_file, strerror(errno));
		return -1;
	}
	return 0;
}

void daemon_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int daemon_block_signals(void)
{
	sigset_t set;

	daemon_signal_set(&set);
	sigaddset(&set, SIGPIPE);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}
