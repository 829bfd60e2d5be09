/*
 * bench_cms: libsmscms throughput on one thread, for tests/bench/cms.bench.
 *
 *   bench_cms encrypt  --cert C --key K [--chain F] --recipient R... [--ka mqv|ecdh]
 *                      [--bc-compat] --in PT [--seconds S] [--reps R]
 *   bench_cms decrypt  --cert C --key K --in DER [--trust ROOT --crl F [--cold]]
 *                      [--seconds S] [--reps R]
 *   bench_cms overhead --cert C --key K [--chain F] --recipient R... --in PT
 *                      [--no-originator-info] [--no-attrs]
 *
 * encrypt/decrypt print "reps=<rate of each window> n=N msgs_per_s=<median>"
 * after a short warm-up, R windows of S seconds each (default 1 x 2 s).
 * --cold empties the verifier's cache before every message. The library
 * offers no switch to disable the cache, so this uses
 * smscms_verifier_reload, which also re-reads the CRL files: an upper bound
 * on the cost of an uncached verification, not the exact figure.
 * overhead prints "n=<k> der=<bytes> overhead=<bytes>" for k = 1..#recipients,
 * recipients taken in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "cms/smscms.h"

#define MAX_RCPT 16
#define MAX_CRL 8
#define MAX_REPS 15

struct opts {
	const char *cmd, *cert, *key, *chain, *in, *trust;
	const char *recipients[MAX_RCPT];
	size_t n_recipients;
	const char *crls[MAX_CRL];
	size_t n_crls;
	double seconds;
	int reps;
	int cold;
	smscms_encrypt_opts enc;
};

static void usage(void)
{
	fputs("usage: bench_cms encrypt|decrypt|overhead --cert C --key K [--chain F]\n"
	      "       [--recipient R...] [--ka mqv|ecdh] [--bc-compat] [--trust ROOT --crl F [--cold]]\n"
	      "       [--no-originator-info] [--no-attrs] --in F [--seconds S] [--reps R]\n", stderr);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	smscms_encrypt_opts_init(&o->enc);
	o->seconds = 2.0;
	o->reps = 1;
	if (argc < 2)
		return 0;
	o->cmd = argv[1];
	if (strcmp(o->cmd, "encrypt") && strcmp(o->cmd, "decrypt") && strcmp(o->cmd, "overhead")) {
		fprintf(stderr, "bench_cms: unknown command %s\n", o->cmd);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--bc-compat")) { o->enc.bc_compat = 1; continue; }
		if (!strcmp(a, "--cold")) { o->cold = 1; continue; }
		if (!strcmp(a, "--no-originator-info")) { o->enc.originator_info = 0; continue; }
		if (!strcmp(a, "--no-attrs")) { o->enc.auth_attrs = 0; continue; }
		if (v == NULL) {
			fprintf(stderr, "bench_cms: %s needs a value\n", a);
			return 0;
		}
		i++;
		if (!strcmp(a, "--cert")) o->cert = v;
		else if (!strcmp(a, "--key")) o->key = v;
		else if (!strcmp(a, "--chain")) o->chain = v;
		else if (!strcmp(a, "--in")) o->in = v;
		else if (!strcmp(a, "--trust")) o->trust = v;
		else if (!strcmp(a, "--seconds")) o->seconds = atof(v);
		else if (!strcmp(a, "--reps")) o->reps = atoi(v);
		else if (!strcmp(a, "--ka") && !strcmp(v, "mqv")) o->enc.ka = SMSCMS_KA_MQV;
		else if (!strcmp(a, "--ka") && !strcmp(v, "ecdh")) o->enc.ka = SMSCMS_KA_ECDH;
		else if (!strcmp(a, "--recipient") && o->n_recipients < MAX_RCPT) o->recipients[o->n_recipients++] = v;
		else if (!strcmp(a, "--crl") && o->n_crls < MAX_CRL) o->crls[o->n_crls++] = v;
		else {
			fprintf(stderr, "bench_cms: unknown or repeated-too-often option %s %s\n", a, v);
			return 0;
		}
	}
	if (o->cert == NULL || o->key == NULL || o->in == NULL || o->seconds <= 0 ||
	    o->reps < 1 || o->reps > MAX_REPS) {
		fputs("bench_cms: --cert, --key and --in are required; --reps 1..15\n", stderr);
		return 0;
	}
	return 1;
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	if (f == NULL) {
		fprintf(stderr, "bench_cms: cannot open %s\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc(size > 0 ? (size_t)size : 1);
	if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)size;
out:
	fclose(f);
	if (buf == NULL)
		fprintf(stderr, "bench_cms: cannot read %s\n", path);
	return buf;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		fprintf(stderr, "bench_cms: cannot open %s\n", path);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		fprintf(stderr, "bench_cms: %s: no PEM certificate\n", path);
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One benchmarked operation; returns 1 on success. */
struct run {
	smscms_ctx *ctx;
	const struct opts *o;
	smscms_identity *id;
	X509 *rcpt[MAX_RCPT];
	smscms_verifier *verifier;
	unsigned char *in;
	size_t in_len;
};

static int one_encrypt(struct run *r)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	smscms_status st = smscms_encrypt(r->ctx, &r->o->enc, r->id, r->rcpt, r->o->n_recipients,
	                                  r->in, r->in_len, &der, &der_len);
	OPENSSL_free(der);
	if (st != SMSCMS_OK)
		fprintf(stderr, "bench_cms: encrypt: %s\n", smscms_ctx_error(r->ctx));
	return st == SMSCMS_OK;
}

static int one_decrypt(struct run *r)
{
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	smscms_status st;

	if (r->o->cold && smscms_verifier_reload(r->ctx, r->verifier) != SMSCMS_OK) {
		fprintf(stderr, "bench_cms: verifier reload: %s\n", smscms_ctx_error(r->ctx));
		return 0;
	}
	st = smscms_decrypt(r->ctx, NULL, r->id, r->verifier, r->in, r->in_len, &pt, &pt_len, NULL);
	OPENSSL_clear_free(pt, pt_len);
	if (st != SMSCMS_OK)
		fprintf(stderr, "bench_cms: decrypt: %s\n", smscms_ctx_error(r->ctx));
	return st == SMSCMS_OK;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Warm-up, then o->reps windows of o->seconds; prints the median window. */
static int measure(struct run *r, int (*op)(struct run *))
{
	double warm = r->o->seconds / 10, t0, el, rates[MAX_REPS];
	long n, total = 0;
	int reps = r->o->reps;

	for (t0 = now(); now() - t0 < warm;)
		if (!op(r))
			return 0;
	for (int i = 0; i < reps; i++) {
		n = 0;
		t0 = now();
		do {
			if (!op(r))
				return 0;
			n++;
		} while ((el = now() - t0) < r->o->seconds);
		rates[i] = (double)n / el;
		total += n;
	}
	printf("reps=");
	for (int i = 0; i < reps; i++)
		printf("%s%.1f", i ? "," : "", rates[i]);
	qsort(rates, (size_t)reps, sizeof(rates[0]), cmp_double);
	printf(" n=%ld msgs_per_s=%.1f\n", total, rates[reps / 2]);
	return 1;
}

static int overhead(struct run *r)
{
	for (size_t k = 1; k <= r->o->n_recipients; k++) {
		unsigned char *der = NULL;
		size_t der_len = 0;
		if (smscms_encrypt(r->ctx, &r->o->enc, r->id, r->rcpt, k, r->in, r->in_len,
		                   &der, &der_len) != SMSCMS_OK) {
			fprintf(stderr, "bench_cms: encrypt for %zu recipients: %s\n", k, smscms_ctx_error(r->ctx));
			return 0;
		}
		printf("n=%zu der=%zu overhead=%zu\n", k, der_len, der_len - r->in_len);
		OPENSSL_free(der);
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r;
	int ok = 0;

	memset(&r, 0, sizeof(r));
	if (!parse_opts(argc, argv, &o)) {
		usage();
		return 2;
	}
	r.o = &o;
	if ((r.ctx = smscms_ctx_new()) == NULL)
		return 1;
	if (smscms_identity_load_pem(r.ctx, o.cert, o.key, o.chain, &r.id) != SMSCMS_OK) {
		fprintf(stderr, "bench_cms: %s\n", smscms_ctx_error(r.ctx));
		goto out;
	}
	for (size_t i = 0; i < o.n_recipients; i++)
		if ((r.rcpt[i] = read_cert(o.recipients[i])) == NULL)
			goto out;
	if ((r.in = read_file(o.in, &r.in_len)) == NULL)
		goto out;
	if (o.trust != NULL &&
	    smscms_verifier_new(r.ctx, o.trust, o.crls, o.n_crls, &r.verifier) != SMSCMS_OK) {
		fprintf(stderr, "bench_cms: %s\n", smscms_ctx_error(r.ctx));
		goto out;
	}
	if (!strcmp(o.cmd, "encrypt") && o.n_recipients > 0)
		ok = measure(&r, one_encrypt);
	else if (!strcmp(o.cmd, "decrypt"))
		ok = measure(&r, one_decrypt);
	else if (!strcmp(o.cmd, "overhead") && o.n_recipients > 0)
		ok = overhead(&r);
	else
		usage();
out:
	smscms_verifier_free(r.verifier);
	for (size_t i = 0; i < o.n_recipients; i++)
		X509_free(r.rcpt[i]);
	free(r.in);
	smscms_identity_free(r.id);
	smscms_ctx_free(r.ctx);
	return ok ? 0 : 1;
}
