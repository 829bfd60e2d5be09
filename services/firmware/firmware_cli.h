/*
 * sms-firmware: what the command line parsed into, shared by its commands
 * (firmware_release.c, firmware_rollout.c), and the small value parsers
 * (times, rates, phases, percentages) each with one spelling.
 * Every command returns 0, or 1 after one line "sms-firmware: ..." on
 * stderr; usage errors are 2 (firmware_main.c).
 */
#ifndef SMS_FIRMWARE_CLI_H
#define SMS_FIRMWARE_CLI_H

#include <stddef.h>
#include <time.h>

#include "common/fw_manifest.h"

#define FIRMWARE_MAX_PHASES 16

typedef struct {
	const char *conninfo;           /* "" : libpq's environment (PGHOST, ...) */
	/* release create */
	const char *package;
	long long version, min_version;  /* min_version 0: = version */
	const char *hardware[FW_MANIFEST_MAX_HARDWARE];
	size_t n_hardware;
	const char *requires[FW_MANIFEST_MAX_REQUIRES];
	size_t n_requires;
	const char *expires;             /* NULL: a year */
	long long piece_size;            /* 0: 256 KiB, more when 4096 pieces are not enough */
	const char *signer_cert, *signer_key, *signer_chain, *publisher_cert;
	const char *out_dir;             /* release create --out: offline bundle, no database */
	const char *e2e_root, *services_ca;   /* release import: who may have signed */
	/* rollout create */
	const char *target;
	const char *rate, *abort_failures, *deadline, *phases;
	/* rollout status */
	int watch;                       /* seconds between refreshes, 0: once */
	int quiet;                       /* no progress lines */
} firmware_opts;

/* "2027-06-05T10:00:00Z", "2027-06-05" (midnight UTC) or "+N(s|m|h|d)"
 * after now: 0, or -1. */
int firmware_parse_time(const char *s, time_t now, time_t *out);
/* "N/min" or "N" (per minute), 1..1000000: 0, or -1. */
int firmware_parse_rate(const char *s, int *per_min);
/* "P%" or "P", 0..100 with at most two decimals, into hundredths: 0, or -1. */
int firmware_parse_percent(const char *s, int *hundredths);
/* "5%,25%,100%": strictly ascending, each 1..100, the last 100, at most
 * FIRMWARE_MAX_PHASES: 0, or -1. */
int firmware_parse_phases(const char *s, int *phases, size_t *n);

/* The commands. args are the words after the command ("create IMAGE"...). */
int firmware_release_create(const firmware_opts *o, const char *image);
int firmware_release_list(const firmware_opts *o);
int firmware_release_import(const firmware_opts *o, const char *dir);
int firmware_rollout_create(const firmware_opts *o, const char *release);
int firmware_rollout_control(const firmware_opts *o, const char *action, const char *id);
int firmware_rollout_status(const firmware_opts *o, const char *id);
int firmware_device_history(const firmware_opts *o, const char *equipment);

/* One line "sms-firmware: ..." on stderr; returns 1. */
int firmware_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
