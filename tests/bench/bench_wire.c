/*
 * bench_wire: where the bytes of one snapshot message go, and the
 * receiver's CPU to turn it into a snapshot. For each message file given:
 * total bytes, originatorInfo (certificate chain), recipientInfos, the
 * encrypted content, the rest of the envelope; then CPU time (this
 * process, CLOCK_PROCESS_CPUTIME_ID) per message for decrypt with the
 * originator chain verified against the E2E root and CRLs (the verifier's
 * cache warm, as in sms-snapshotd) plus snapshot_parse_dict, and for the
 * parse alone. Median of --reps windows of --seconds.
 * Output: one line per file, key=value, for tests/bench/wire.bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "cms/smscms.h"
#include "cms/cms_asn1.h"
#include "common/snapshot_dict.h"
#include "common/snapshot_json.h"
#include "common/x509_util.h"

#define MAX_REPS 15

struct bench {
	smscms_ctx *ctx;
	smscms_identity *id;
	smscms_verifier *verifier;
	snapshot_dicts *dicts;
	unsigned char *der;
	size_t der_len, values;
	unsigned char *pt;
	size_t pt_len;
};

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size)) != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
	} else if (buf != NULL) {
		*len = (size_t)size;
	}
	fclose(f);
	return buf;
}

/* DER sizes of the envelope's parts. */
static int breakdown(const unsigned char *der, size_t len, int *oi, int *ri, int *ec)
{
	CMSX_CONTENTINFO *ci = cms_asn1_decode_exact(der, len, ASN1_ITEM_rptr(CMSX_CONTENTINFO));
	CMSX_AUTHENV *env = NULL;
	const unsigned char *p;
	int ok = 0;

	if (ci == NULL || ci->content->type != V_ASN1_SEQUENCE)
		goto out;
	p = ci->content->value.sequence->data;
	env = cms_asn1_decode_exact(p, (size_t)ci->content->value.sequence->length, ASN1_ITEM_rptr(CMSX_AUTHENV));
	if (env == NULL)
		goto out;
	*oi = env->originator_info != NULL ? i2d_CMSX_ORIGINFO(env->originator_info, NULL) : 0;
	*ri = 0;
	for (int i = 0; i < sk_CMSX_RECIPINFO_num(env->recipient_infos); i++)
		*ri += i2d_CMSX_RECIPINFO(sk_CMSX_RECIPINFO_value(env->recipient_infos, i), NULL);
	*ec = i2d_CMSX_ENC_CONTENT(env->enc_content, NULL);
	ok = 1;
out:
	CMSX_AUTHENV_free(env);
	CMSX_CONTENTINFO_free(ci);
	return ok;
}

static int one_full(struct bench *b)
{
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	snapshot s;
	char err[300];
	int ok;

	if (smscms_decrypt(b->ctx, NULL, b->id, b->verifier, b->der, b->der_len, &pt, &pt_len, NULL) != SMSCMS_OK) {
		fprintf(stderr, "bench_wire: decrypt: %s\n", smscms_ctx_error(b->ctx));
		return 0;
	}
	ok = snapshot_parse_dict((const char *)pt, pt_len, 100000, b->dicts, &s, err, sizeof err) == SNAPSHOT_OK;
	if (!ok)
		fprintf(stderr, "bench_wire: parse: %s\n", err);
	b->values = s.n_values;
	snapshot_free(&s);
	if (b->pt == NULL) {
		b->pt = pt;
		b->pt_len = pt_len;
	} else {
		OPENSSL_clear_free(pt, pt_len);
	}
	return ok;
}

static int one_parse(struct bench *b)
{
	snapshot s;
	char err[300];
	int ok = snapshot_parse_dict((const char *)b->pt, b->pt_len, 100000, b->dicts, &s, err, sizeof err) ==
	         SNAPSHOT_OK;

	snapshot_free(&s);
	return ok;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median CPU microseconds per operation. */
static double measure(struct bench *b, int (*op)(struct bench *), double seconds, int reps)
{
	double per[MAX_REPS], t0, el;
	long n;

	for (t0 = cpu_now(); cpu_now() - t0 < seconds / 10;)
		if (!op(b))
			return -1;
	for (int i = 0; i < reps; i++) {
		n = 0;
		t0 = cpu_now();
		do {
			if (!op(b))
				return -1;
			n++;
		} while ((el = cpu_now() - t0) < seconds);
		per[i] = el / (double)n * 1e6;
	}
	qsort(per, (size_t)reps, sizeof(per[0]), cmp_double);
	return per[reps / 2];
}

/* The receiver's own CA certificates (sms-snapshotd: e2e.ca_certs). */
static int set_cas(struct bench *b, const char *path)
{
	STACK_OF(X509) *cas = sk_X509_new_null();
	char err[300];
	int rc = -1;

	if (cas == NULL || x509_add_certs_from_pem(cas, path, err, sizeof err) != 0)
		fprintf(stderr, "bench_wire: %s\n", cas == NULL ? "out of memory" : err);
	else if (smscms_verifier_set_intermediates(b->ctx, b->verifier, cas) != SMSCMS_OK)
		fprintf(stderr, "bench_wire: %s\n", smscms_ctx_error(b->ctx));
	else
		rc = 0;
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

int main(int argc, char **argv)
{
	struct bench b;
	const char *cert = NULL, *key = NULL, *trust = NULL, *crl = NULL, *dicts = NULL, *cas = NULL;
	double seconds = 0.5;
	int reps = 3, first = argc, rc = 1;
	char err[600];

	memset(&b, 0, sizeof b);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (argv[i][0] != '-') {
			first = i;
			break;
		}
		if (v == NULL)
			goto usage;
		if (!strcmp(argv[i], "--cert")) cert = v;
		else if (!strcmp(argv[i], "--key")) key = v;
		else if (!strcmp(argv[i], "--trust")) trust = v;
		else if (!strcmp(argv[i], "--crl")) crl = v;
		else if (!strcmp(argv[i], "--dictionaries")) dicts = v;
		else if (!strcmp(argv[i], "--ca")) cas = v;
		else if (!strcmp(argv[i], "--seconds")) seconds = atof(v);
		else if (!strcmp(argv[i], "--reps")) reps = atoi(v);
		else goto usage;
		i++;
	}
	if (cert == NULL || key == NULL || trust == NULL || first == argc || seconds <= 0 || reps < 1 || reps > MAX_REPS)
		goto usage;
	if ((b.ctx = smscms_ctx_new()) == NULL ||
	    smscms_identity_load_pem(b.ctx, cert, key, NULL, &b.id) != SMSCMS_OK ||
	    smscms_verifier_new(b.ctx, trust, crl != NULL ? &crl : NULL, crl != NULL, &b.verifier) != SMSCMS_OK) {
		fprintf(stderr, "bench_wire: %s\n", b.ctx != NULL ? smscms_ctx_error(b.ctx) : "out of memory");
		goto out;
	}
	if (cas != NULL && set_cas(&b, cas) != 0)
		goto out;
	if (dicts != NULL && snapshot_dicts_load_dir(dicts, &b.dicts, err, sizeof err) != 0) {
		fprintf(stderr, "bench_wire: %s\n", err);
		goto out;
	}
	for (int i = first; i < argc; i++) {
		int oi = 0, ri = 0, ec = 0;
		double full, parse;

		if ((b.der = read_file(argv[i], &b.der_len)) == NULL || !breakdown(b.der, b.der_len, &oi, &ri, &ec)) {
			fprintf(stderr, "bench_wire: %s: unreadable or not AuthEnvelopedData\n", argv[i]);
			goto out;
		}
		full = measure(&b, one_full, seconds, reps);
		parse = full >= 0 ? measure(&b, one_parse, seconds, reps) : -1;
		if (full < 0 || parse < 0)
			goto out;
		printf("file=%s bytes=%zu values=%zu originator_info=%d recipient_infos=%d enc_content=%d plaintext=%zu "
		       "cpu_us=%.1f parse_us=%.1f\n", argv[i], b.der_len, b.values, oi, ri, ec, b.pt_len, full, parse);
		free(b.der);
		b.der = NULL;
		OPENSSL_clear_free(b.pt, b.pt_len);
		b.pt = NULL;
	}
	rc = 0;
out:
	free(b.der);
	OPENSSL_clear_free(b.pt, b.pt_len);
	snapshot_dicts_free(b.dicts);
	smscms_verifier_free(b.verifier);
	smscms_identity_free(b.id);
	smscms_ctx_free(b.ctx);
	return rc;
usage:
	fputs("usage: bench_wire --cert C --key K --trust ROOT [--crl F] [--ca F] [--dictionaries DIR] [--seconds S] [--reps N] "
	      "MESSAGE...\n", stderr);
	return 2;
}
