/*
 * bench_plugin_acl: nanoseconds per ACL decision (acl_allows), the function
 * the plugin runs for every delivery, with the production roles of
 * acl/sms_auth.conf. Reference in the same run: strcmp of the topic with
 * itself, i.e. the cost of looking at the bytes once.
 *
 *   bench_plugin_acl [CONFIG] [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin/sms_auth.h"

static volatile int sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct bench_case {
	const char *label, *user;
	int access;
	const char *topic;
	int want;
};

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "acl/sms_auth.conf";
	long iters = argc > 2 ? atol(argv[2]) : 5000000;
	static const struct bench_case cases[] = {
		{ "device READ own topic", "000001/00002/EQID00000234", ACL_READ, "000001/00002/EQID00000234/firmware", 1 },
		{ "device WRITE other device (deny)", "000001/00002/EQID00000234", ACL_WRITE, "000001/00002/EQID00000235/snapshots", 0 },
		{ "device WRITE own snapshots", "000001/00002/EQID00000234", ACL_WRITE, "000001/00002/EQID00000234/snapshots", 1 },
		{ "device WRITE own receipts (deny)", "000001/00002/EQID00000234", ACL_WRITE, "000001/00002/EQID00000234/receipts", 0 },
		{ "account WRITE device snapshots (deny)", "000001/00002", ACL_WRITE, "000001/00002/EQID00000234/snapshots", 0 },
		{ "device SUBSCRIBE own/#", "000001/00002/EQID00000234", ACL_SUBSCRIBE, "000001/00002/EQID00000234/#", 1 },
		{ "account READ", "000001/00002", ACL_READ, "000001/00002/EQID00000234/snapshots", 1 },
		{ "role snapshot READ +/+/+/snapshots", "role:vendor-snapshot-service", ACL_READ, "000001/00002/EQID00000234/snapshots", 1 },
		{ "role MRO-Admin READ (rule 1 of 2)", "role:MRO-Admin", ACL_READ, "000001/00002/EQID00000234/snapshots", 1 },
		{ "public_read sms/crl/#", "000001/00002/EQID00000234", ACL_READ, "sms/crl/tls", 1 },
	};
	struct sms_config cfg;
	char err[512];
	double ref_ns, t0;
	size_t c;
	long i;

	if (sms_config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_plugin_acl: %s\n", err);
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		sink += strcmp(cases[0].topic, cases[i & 1].topic) == 0;
	ref_ns = (now_ns() - t0) / (double)iters;
	printf("%-40s %10s %12s\n", "ACL decision", "ns/check", "x reference");
	printf("%-40s %10.1f %12s\n", "reference: strcmp of the topic", ref_ns, "1.0");
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double ns;

		if ((int)acl_allows(&cfg, cases[c].user, cases[c].access, cases[c].topic) != cases[c].want) {
			fprintf(stderr, "bench_plugin_acl: '%s' gave the wrong decision\n", cases[c].label);
			sms_config_free(&cfg);
			return 1;
		}
		t0 = now_ns();
		for (i = 0; i < iters; i++)
			sink += acl_allows(&cfg, cases[c].user, cases[c].access, cases[c].topic);
		ns = (now_ns() - t0) / (double)iters;
		printf("%-40s %10.1f %12.1f\n", cases[c].label, ns, ref_ns > 0 ? ns / ref_ns : 0.0);
	}
	sms_config_free(&cfg);
	return 0;
}
