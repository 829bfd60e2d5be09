/*
 * smscms: command-line front end of libsmscms.
 *
 *   smscms encrypt --cert C --key K [--chain F] --recipient R... [options]
 *   smscms decrypt --cert C --key K [--trust-root ROOT --crl F...] [--show-originator]
 *   smscms inspect [--in F]
 *   smscms --version
 *
 * Exit status: 0 success, 1 I/O error, 2 usage error, 10 + smscms_status for
 * a library failure (e.g. 15 malformed, 19 auth, 21 untrusted, 22 revoked).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include "cms/smscms.h"
#include "common/version.h"

#define MAX_FILES 64
#define CLI_MAX_INPUT (64u * 1024 * 1024)

struct cli {
	const char *cert, *key, *chain, *p12, *pass, *in, *out, *trust;
	const char *recipients[MAX_FILES];
	size_t n_recipients;
	const char *crls[MAX_FILES];
	size_t n_crls;
	int show_originator;
	size_t max_message;
	smscms_encrypt_opts opts;
};

static const char *prog = "smscms";

static void usage_encrypt(FILE *f)
{
	fprintf(f,
	"usage: %s encrypt (--cert C --key K [--chain F] | --p12 F --pass env:VAR)\n"
	"              --recipient R [--recipient R...] [--ka mqv|ecdh]\n"
	"              [--kdf sha1|sha224|sha256|sha384|sha512] [--cipher aes256-gcm|aes128-gcm]\n"
	"              [--rid ias|ski] [--bc-compat] [--no-originator-info] [--no-attrs]\n"
	"              [--signed] [--compress] [--in F] [--out F]\n"
	"Encrypts stdin (or --in) to DER AuthEnvelopedData on stdout (or --out).\n"
	"--signed: the input is a DER SignedData (e.g. openssl cms -sign -outform DER) and\n"
	"the encrypted content type is id-signedData instead of id-data.\n"
	"--compress: the encrypted content is RFC 3274 CompressedData (zlib) around it;\n"
	"decrypt undoes it (output at most --max-size bytes, default 1 MiB).\n"
	"Defaults: --ka mqv --kdf sha256 --cipher aes256-gcm --rid ias, originatorInfo and\n"
	"signingTime on. --bc-compat: originatorKey and Bouncy Castle 1.72 KDF input.\n", prog);
}

static void usage_decrypt(FILE *f)
{
	fprintf(f,
	"usage: %s decrypt (--cert C --key K | --p12 F --pass env:VAR)\n"
	"              [--trust-root ROOT [--crl F...]] [--show-originator] [--max-size N]\n"
	"              [--in F] [--out F]\n"
	"Writes the plaintext only after the GCM tag and (with --trust-root) the originator\n"
	"chain verified. --show-originator prints subject, signing time and scheme to stderr.\n", prog);
}

static void usage_inspect(FILE *f)
{
	fprintf(f, "usage: %s inspect [--in F]\nPrints the message structure; decrypts nothing.\n", prog);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s encrypt|decrypt|inspect [--help] ...\n       %s --version\n\n", prog, prog);
	usage_encrypt(f);
	fputc('\n', f);
	usage_decrypt(f);
	fputc('\n', f);
	usage_inspect(f);
	fprintf(f, "\nExit status: 0 ok, 1 I/O error, 2 usage error, 10+N library status N:\n");
	for (int i = 1; i < SMSCMS_STATUS_COUNT; i++)
		fprintf(f, "  %d %s\n", 10 + i, smscms_status_name((smscms_status)i));
}

static int die(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	return 1;
}

/* A command line that makes no sense: exit status 2. */
static int usage_error(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	return 2;
}

static int fail(smscms_ctx *ctx, smscms_status st)
{
	fprintf(stderr, "%s: %s: %s\n", prog, smscms_status_name(st), smscms_ctx_error(ctx));
	return 10 + (int)st;
}

static int read_all(const char *file, unsigned char **buf, size_t *len)
{
	FILE *f = file != NULL ? fopen(file, "rb") : stdin;
	size_t cap = 0, n = 0, r;
	unsigned char *b = NULL, *nb;

	if (f == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, file, strerror(errno));
		return 0;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= CLI_MAX_INPUT) {
				fprintf(stderr, "%s: input larger than %u bytes\n", prog, CLI_MAX_INPUT);
				goto fail;
			}
			cap = cap != 0 ? cap * 2 : 65536;
			if ((nb = realloc(b, cap)) == NULL)
				goto fail;
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error on %s\n", prog, file != NULL ? file : "stdin");
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*buf = b;
	*len = n;
	return 1;
fail:
	if (f != stdin)
		fclose(f);
	free(b);
	return 0;
}

static int write_all(const char *file, const unsigned char *buf, size_t len)
{
	FILE *f = file != NULL ? fopen(file, "wb") : stdout;
	int ok;

	if (f == NULL) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, file, strerror(errno));
		return 0;
	}
	ok = fwrite(buf, 1, len, f) == len;
	ok = (f != stdout ? fclose(f) : fflush(f)) == 0 && ok;
	if (!ok)
		fprintf(stderr, "%s: write error on %s\n", prog, file != NULL ? file : "stdout");
	return ok;
}

/* --pass env:VAR keeps the password off the command line. */
static const char *pass_from(const char *spec)
{
	if (spec == NULL)
		return "";
	if (strncmp(spec, "env:", 4) == 0)
		return getenv(spec + 4);
	return NULL;
}

static int pick(const char *val, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(val, names[i]) == 0) {
			*out = i;
			return 1;
		}
	}
	return 0;
}

enum { O_CERT = 256, O_KEY, O_CHAIN, O_P12, O_PASS, O_IN, O_OUT, O_RCPT, O_KA, O_KDF, O_CIPHER,
       O_RID, O_BC, O_NO_OI, O_NO_ATTRS, O_SIGNED, O_COMPRESS, O_TRUST, O_OLD_TRUST, O_CRL, O_SHOW, O_MAX, O_HELP };

static const struct option long_opts[] = {
	{ "cert", required_argument, NULL, O_CERT }, { "key", required_argument, NULL, O_KEY },
	{ "chain", required_argument, NULL, O_CHAIN }, { "p12", required_argument, NULL, O_P12 },
	{ "pass", required_argument, NULL, O_PASS }, { "in", required_argument, NULL, O_IN },
	{ "out", required_argument, NULL, O_OUT }, { "recipient", required_argument, NULL, O_RCPT },
	{ "ka", required_argument, NULL, O_KA }, { "kdf", required_argument, NULL, O_KDF },
	{ "cipher", required_argument, NULL, O_CIPHER }, { "rid", required_argument, NULL, O_RID },
	{ "bc-compat", no_argument, NULL, O_BC }, { "no-originator-info", no_argument, NULL, O_NO_OI },
	{ "no-attrs", no_argument, NULL, O_NO_ATTRS }, { "signed", no_argument, NULL, O_SIGNED },
	{ "compress", no_argument, NULL, O_COMPRESS }, { "trust-root", required_argument, NULL, O_TRUST },
	{ "crl", required_argument, NULL, O_CRL }, { "show-originator", no_argument, NULL, O_SHOW },
	{ "max-size", required_argument, NULL, O_MAX }, { "help", no_argument, NULL, O_HELP },
	/* Renamed: refused with the new name, never a silent alias. */
	{ "trust", required_argument, NULL, O_OLD_TRUST },
	{ NULL, 0, NULL, 0 }
};

/* Returns -1 to continue, otherwise the exit status. */
static int parse_args(int argc, char **argv, const char *cmd, struct cli *c)
{
	static const char *const kas[] = { "mqv", "ecdh" };
	static const char *const kdfs[] = { "sha1", "sha224", "sha256", "sha384", "sha512" };
	static const char *const ciphers[] = { "aes256-gcm", "aes128-gcm" };
	static const char *const rids[] = { "ias", "ski" };
	int o, v;
	char *end;

	smscms_encrypt_opts_init(&c->opts);
	opterr = 0; /* our one line, not getopt's as well */
	while ((o = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (o) {
		case O_CERT: c->cert = optarg; break;
		case O_KEY: c->key = optarg; break;
		case O_CHAIN: c->chain = optarg; break;
		case O_P12: c->p12 = optarg; break;
		case O_PASS: c->pass = optarg; break;
		case O_IN: c->in = optarg; break;
		case O_OUT: c->out = optarg; break;
		case O_TRUST: c->trust = optarg; break;
		case O_OLD_TRUST: return usage_error("--trust is now --trust-root (the name every tool uses)");
		case O_SHOW: c->show_originator = 1; break;
		case O_BC: c->opts.bc_compat = 1; break;
		case O_NO_OI: c->opts.originator_info = 0; break;
		case O_NO_ATTRS: c->opts.auth_attrs = 0; break;
		case O_SIGNED: c->opts.content_type_nid = NID_pkcs7_signed; break;
		case O_COMPRESS: c->opts.compress = 1; break;
		case O_RCPT:
			if (c->n_recipients == MAX_FILES)
				return usage_error("too many --recipient");
			c->recipients[c->n_recipients++] = optarg;
			break;
		case O_CRL:
			if (c->n_crls == MAX_FILES)
				return usage_error("too many --crl");
			c->crls[c->n_crls++] = optarg;
			break;
		case O_KA:
			if (!pick(optarg, kas, 2, &v))
				return usage_error("--ka must be mqv or ecdh");
			c->opts.ka = (smscms_ka)v;
			break;
		case O_KDF:
			if (!pick(optarg, kdfs, 5, &v))
				return usage_error("--kdf must be sha1, sha224, sha256, sha384 or sha512");
			c->opts.kdf = (smscms_kdf)v;
			break;
		case O_CIPHER:
			if (!pick(optarg, ciphers, 2, &v))
				return usage_error("--cipher must be aes256-gcm or aes128-gcm");
			c->opts.cipher = (smscms_cipher)v;
			break;
		case O_RID:
			if (!pick(optarg, rids, 2, &v))
				return usage_error("--rid must be ias or ski");
			c->opts.rid = (smscms_rid)v;
			break;
		case O_MAX:
			errno = 0;
			c->max_message = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || c->max_message == 0)
				return usage_error("--max-size needs a positive number of bytes");
			break;
		case O_HELP:
			if (strcmp(cmd, "encrypt") == 0)
				usage_encrypt(stdout);
			else if (strcmp(cmd, "decrypt") == 0)
				usage_decrypt(stdout);
			else
				usage_inspect(stdout);
			return 0;
		default:
			return usage_error("bad option (see --help)");
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument (see --help)");
	return -1;
}

static int load_identity(smscms_ctx *ctx, const struct cli *c, smscms_identity **id)
{
	smscms_status st;
	const char *pw;

	if (c->p12 != NULL) {
		if ((pw = pass_from(c->pass)) == NULL) {
			return usage_error("--pass must be env:VAR naming a set variable");
		}
		st = smscms_identity_load_p12(ctx, c->p12, pw, id);
	} else {
		if (c->cert == NULL || c->key == NULL) {
			return usage_error("--cert and --key (or --p12) are required");
		}
		st = smscms_identity_load_pem(ctx, c->cert, c->key, c->chain, id);
	}
	return st == SMSCMS_OK ? 0 : fail(ctx, st);
}

static int cmd_encrypt(smscms_ctx *ctx, struct cli *c)
{
	smscms_identity *id = NULL;
	X509 *rcpt[MAX_FILES] = { NULL };
	unsigned char *pt = NULL, *der = NULL;
	size_t pt_len = 0, der_len = 0, i;
	smscms_status st;
	int rc;

	if (c->n_recipients == 0)
		return usage_error("encrypt needs at least one --recipient");
	if ((rc = load_identity(ctx, c, &id)) != 0)
		goto out;
	for (i = 0; i < c->n_recipients; i++) {
		if ((st = smscms_cert_load_pem(ctx, c->recipients[i], &rcpt[i])) != SMSCMS_OK) {
			rc = fail(ctx, st);
			goto out;
		}
	}
	if (!read_all(c->in, &pt, &pt_len)) {
		rc = 1;
		goto out;
	}
	st = smscms_encrypt(ctx, &c->opts, id, rcpt, c->n_recipients, pt, pt_len, &der, &der_len);
	if (st != SMSCMS_OK) {
		rc = fail(ctx, st);
		goto out;
	}
	rc = write_all(c->out, der, der_len) ? 0 : 1;
out:
	for (i = 0; i < c->n_recipients; i++)
		X509_free(rcpt[i]);
	if (pt != NULL)
		OPENSSL_cleanse(pt, pt_len);
	free(pt);
	OPENSSL_free(der);
	smscms_identity_free(id);
	return rc;
}

static void show_originator(const smscms_originator *o)
{
	char when[32] = "-";
	struct tm tm;

	if (o->has_signing_time && gmtime_r(&o->signing_time, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "originator: %s\nsigning-time: %s\nscheme: %s-%s %s %s%s%s%s\nchain: %s\n",
	        o->subject[0] != '\0' ? o->subject : "(unknown)", when,
	        o->ka == SMSCMS_KA_MQV ? "mqv" : "ecdh",
	        (const char *[]){ "sha1", "sha224", "sha256", "sha384", "sha512" }[o->kdf],
	        o->cipher == SMSCMS_AES128_GCM ? "aes128-gcm" : "aes256-gcm",
	        OBJ_nid2sn(o->curve_nid),
	        o->originator_key_form ? " originatorKey" : "",
	        o->bc_shared_info ? " bc-shared-info" : "",
	        o->compressed ? " compressed" : "",
	        o->chain_verified ? "verified" : "not verified");
}

static int cmd_decrypt(smscms_ctx *ctx, struct cli *c)
{
	smscms_identity *id = NULL;
	smscms_verifier *v = NULL;
	smscms_originator orig;
	smscms_limits lim;
	unsigned char *der = NULL, *pt = NULL;
	size_t der_len = 0, pt_len = 0;
	smscms_status st;
	int rc;

	memset(&orig, 0, sizeof(orig));
	smscms_limits_init(&lim);
	if (c->max_message != 0)
		lim.max_message = lim.max_content = c->max_message;
	if (c->n_crls > 0 && c->trust == NULL)
		return usage_error("--crl needs --trust-root");
	if ((rc = load_identity(ctx, c, &id)) != 0)
		goto out;
	if (c->trust != NULL &&
	    (st = smscms_verifier_new(ctx, c->trust, c->crls, c->n_crls, &v)) != SMSCMS_OK) {
		rc = fail(ctx, st);
		goto out;
	}
	if (!read_all(c->in, &der, &der_len)) {
		rc = 1;
		goto out;
	}
	st = smscms_decrypt(ctx, &lim, id, v, der, der_len, &pt, &pt_len, &orig);
	if (st != SMSCMS_OK) {
		rc = fail(ctx, st);
		goto out;
	}
	if (c->show_originator)
		show_originator(&orig);
	rc = write_all(c->out, pt, pt_len) ? 0 : 1;
out:
	OPENSSL_clear_free(pt, pt_len);
	free(der);
	smscms_originator_clear(&orig);
	smscms_verifier_free(v);
	smscms_identity_free(id);
	return rc;
}

static int cmd_inspect(smscms_ctx *ctx, struct cli *c)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	smscms_limits lim;
	smscms_status st;
	int rc = 0;

	smscms_limits_init(&lim);
	if (c->max_message != 0)
		lim.max_message = c->max_message;
	if (!read_all(c->in, &der, &der_len))
		return 1;
	if ((st = smscms_inspect(ctx, &lim, der, der_len, stdout)) != SMSCMS_OK)
		rc = fail(ctx, st);
	free(der);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c;
	smscms_ctx *ctx;
	const char *cmd;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "%s: expected a command (encrypt, decrypt, inspect); see --help\n", prog);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		sms_print_version(stdout, prog);
		return 0;
	}
	cmd = argv[1];
	if (strcmp(cmd, "encrypt") != 0 && strcmp(cmd, "decrypt") != 0 && strcmp(cmd, "inspect") != 0) {
		fprintf(stderr, "%s: unknown command '%s' (encrypt, decrypt, inspect)\n", prog, cmd);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	if ((rc = parse_args(argc - 1, argv + 1, cmd, &c)) >= 0)
		return rc;
	if ((ctx = smscms_ctx_new()) == NULL)
		return die("out of memory");
	if (strcmp(cmd, "encrypt") == 0)
		rc = cmd_encrypt(ctx, &c);
	else if (strcmp(cmd, "decrypt") == 0)
		rc = cmd_decrypt(ctx, &c);
	else
		rc = cmd_inspect(ctx, &c);
	smscms_ctx_free(ctx);
	return rc;
}
