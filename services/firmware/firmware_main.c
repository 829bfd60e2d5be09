/*
 * sms-firmware: the release engineer's and vendor ops' tool for firmware
 * rollouts (docs/firmware.md). Command line here; the commands in
 * firmware_release.c and firmware_rollout.c.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "services/firmware/firmware_cli.h"

int firmware_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("sms-firmware: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-firmware [--conninfo C] COMMAND ...\n"
	        "\n"
	        "Release engineer (on the signing host, with the offline signer key):\n"
	        "  release create IMAGE --package NAME --version N --hardware TYPE [--hardware TYPE]...\n"
	        "                 [--min-version M] [--requires NAME>=V]... [--expires DATE]\n"
	        "                 [--piece-size BYTES] --signer-cert FILE --signer-key FILE\n"
	        "                 [--signer-chain FILE] --publisher-cert FILE [--out DIR]\n"
	        "      encrypts IMAGE once (AES-256-GCM), signs the manifest as\n"
	        "      vendor-firmware-signer, wraps the content key for the publisher's\n"
	        "      E2E certificate (vendor-firmware-service) and stores the release;\n"
	        "      with --out DIR, offline: writes the bundle to DIR, no database\n"
	        "  release import DIR --e2e-root FILE --services-ca FILE\n"
	        "      stores a bundle after its manifest and every piece verified\n"
	        "  release list\n"
	        "\n"
	        "Vendor ops:\n"
	        "  rollout create RELEASE --target T [--rate N/min] [--abort-failures P%%]\n"
	        "                 [--deadline TIME] [--phase 5%%,25%%,100%%]\n"
	        "      T is device:MA/ACC/EQ, account:MA/ACC, master:MA or type:DEVICE_TYPE;\n"
	        "      accounts, masters and types select the known devices of the release's\n"
	        "      hardware. Defaults: 60/min, one phase of 100%%, no abort threshold,\n"
	        "      no deadline. The next phase starts when every device of the previous\n"
	        "      ones finished and failures stayed below the threshold.\n"
	        "  rollout pause ID | rollout resume ID | rollout abort ID\n"
	        "  rollout status ID [--watch [SECONDS]]   devices per state, progress\n"
	        "  device history MA/ACC/EQ                every firmware transition\n"
	        "\n"
	        "  --conninfo C   libpq connection string (default: libpq's environment,\n"
	        "                 PGHOST, PGUSER, ...); the login needs the role sms_firmware\n"
	        "  --quiet        no progress lines\n"
	        "  --help, --version\n"
	        "\n"
	        "TIME and DATE: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or +N(s|m|h|d) from now.\n"
	        "--expires defaults to a year.\n"
	        SMS_EXIT_CODES_HELP);
}

static int number(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int add(const char **list, size_t *n, size_t max, const char *v, const char *opt)
{
	if (*n == max) {
		fprintf(stderr, "sms-firmware: at most %zu %s\n", max, opt);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

/* 0, or the exit status (2 for a usage error, 0 after --help). */
static int parse(int argc, char **argv, firmware_opts *o, int *done)
{
	static const struct option longopts[] = {
		{ "conninfo", required_argument, NULL, 'c' }, { "package", required_argument, NULL, 'p' },
		{ "version", optional_argument, NULL, 'v' }, { "min-version", required_argument, NULL, 'm' },
		{ "hardware", required_argument, NULL, 'H' }, { "requires", required_argument, NULL, 'r' },
		{ "expires", required_argument, NULL, 'e' }, { "piece-size", required_argument, NULL, 'P' },
		{ "signer-cert", required_argument, NULL, 's' }, { "signer-key", required_argument, NULL, 'k' },
		{ "signer-chain", required_argument, NULL, 'C' }, { "publisher-cert", required_argument, NULL, 'u' },
		{ "target", required_argument, NULL, 't' }, { "rate", required_argument, NULL, 'R' },
		{ "abort-failures", required_argument, NULL, 'a' }, { "deadline", required_argument, NULL, 'd' },
		{ "phase", required_argument, NULL, 'f' }, { "watch", optional_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' },
		{ "out", required_argument, NULL, 'o' }, { "e2e-root", required_argument, NULL, 'E' },
		{ "services-ca", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	long long v;
	int opt;

	*done = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->conninfo = optarg; break;
		case 'p': o->package = optarg; break;
		case 'v':
			/* --version alone prints ours; --version N is the release's. */
			if (optarg == NULL && (optind >= argc || number(argv[optind], 1, FW_VERSION_MAX, &v) != 0)) {
				sms_print_version(stdout, "sms-firmware");
				*done = 1;
				return 0;
			}
			if (number(optarg != NULL ? optarg : argv[optind++], 1, FW_VERSION_MAX, &o->version) != 0)
				goto bad_number;
			break;
		case 'm':
			if (number(optarg, 1, FW_VERSION_MAX, &o->min_version) != 0)
				goto bad_number;
			break;
		case 'P':
			if (number(optarg, FW_PIECE_SIZE_MIN, FW_PIECE_SIZE_MAX, &o->piece_size) != 0)
				goto bad_number;
			break;
		case 'H':
			if (add(o->hardware, &o->n_hardware, FW_MANIFEST_MAX_HARDWARE, optarg, "--hardware") != 0)
				return 2;
			break;
		case 'r':
			if (add(o->requires, &o->n_requires, FW_MANIFEST_MAX_REQUIRES, optarg, "--requires") != 0)
				return 2;
			break;
		case 'e': o->expires = optarg; break;
		case 's': o->signer_cert = optarg; break;
		case 'k': o->signer_key = optarg; break;
		case 'C': o->signer_chain = optarg; break;
		case 'u': o->publisher_cert = optarg; break;
		case 't': o->target = optarg; break;
		case 'R': o->rate = optarg; break;
		case 'a': o->abort_failures = optarg; break;
		case 'd': o->deadline = optarg; break;
		case 'f': o->phases = optarg; break;
		case 'w':
			o->watch = 2;
			if (optarg == NULL && optind < argc && number(argv[optind], 1, 3600, &v) == 0)
				optarg = argv[optind++];
			if (optarg != NULL) {
				if (number(optarg, 1, 3600, &v) != 0)
					goto bad_number;
				o->watch = (int)v;
			}
			break;
		case 'q': o->quiet = 1; break;
		case 'o': o->out_dir = optarg; break;
		case 'E': o->e2e_root = optarg; break;
		case 'S': o->services_ca = optarg; break;
		case 'h': usage(stdout); *done = 1; return 0;
		default:
			fprintf(stderr, "sms-firmware: unknown option or missing argument '%s'; see --help\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	return 0;
bad_number:
	fprintf(stderr, "sms-firmware: --%s: not a valid number\n",
	        opt == 'v' ? "version" : opt == 'm' ? "min-version" : opt == 'P' ? "piece-size" : "watch");
	return 2;
}

static int dispatch(const firmware_opts *o, int n, char **w)
{
	if (n == 3 && strcmp(w[0], "release") == 0 && strcmp(w[1], "create") == 0)
		return firmware_release_create(o, w[2]);
	if (n == 3 && strcmp(w[0], "release") == 0 && strcmp(w[1], "import") == 0)
		return firmware_release_import(o, w[2]);
	if (n == 2 && strcmp(w[0], "release") == 0 && strcmp(w[1], "list") == 0)
		return firmware_release_list(o);
	if (n == 3 && strcmp(w[0], "rollout") == 0 && strcmp(w[1], "create") == 0)
		return firmware_rollout_create(o, w[2]);
	if (n == 3 && strcmp(w[0], "rollout") == 0 &&
	    (strcmp(w[1], "pause") == 0 || strcmp(w[1], "resume") == 0 || strcmp(w[1], "abort") == 0))
		return firmware_rollout_control(o, w[1], w[2]);
	if (n == 3 && strcmp(w[0], "rollout") == 0 && strcmp(w[1], "status") == 0)
		return firmware_rollout_status(o, w[2]);
	if (n == 3 && strcmp(w[0], "device") == 0 && strcmp(w[1], "history") == 0)
		return firmware_device_history(o, w[2]);
	fprintf(stderr, "sms-firmware: expected release create|import|list, rollout create|pause|resume|abort|status or "
	                "device history; see --help\n");
	return 2;
}

int main(int argc, char **argv)
{
	firmware_opts o;
	int rc, done;

	memset(&o, 0, sizeof o);
	o.conninfo = "";
	if ((rc = parse(argc, argv, &o, &done)) != 0 || done)
		return rc;
	return dispatch(&o, argc - optind, argv + optind);
}
