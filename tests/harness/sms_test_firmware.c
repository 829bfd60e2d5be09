/*
 * sms-test-firmware: the vendor side as the agent_firmware.t suite needs
 * it, including what a real publisher never does (expired or foreign
 * releases, signers that must be refused), built only on the common
 * modules the publisher uses (common/fw_manifest, fw_offer, fw_status):
 *
 *   release --out DIR --image FILE --package P --version N --hardware H[,H]
 *           [--min-version M] [--requires PKG=V]... [--expires-in S]
 *           [--piece-size B] --cert C --key K [--chain CH]
 *       DIR/manifest.der (signed by C), DIR/piece.<n>, DIR/key.hex,
 *       DIR/pieces (the count). The image is read and encrypted as a stream.
 *   offer --out FILE --key-file DIR/key.hex --to DEVICE_CERT --equipment EQ
 *         --rollout N --release R --package P --version V --cert C --key K [--chain CH]
 *   status --root ROOT --equipment EQ [--crls FILE] < lines "HEX" (mosquitto_sub -F %x)
 *       one line per report: "state rollout release [code] [pieces/of] installed=V",
 *       exit 1 when any report does not verify.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cms/smscms.h"
#include "common/fw_load_error.h"
#include "common/fw_manifest.h"
#include "common/fw_offer.h"
#include "common/fw_status.h"

#define CHUNK 65536

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "sms-test-firmware: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

typedef struct {
	const char *out, *image, *package, *hardware, *cert, *key, *chain, *key_file, *to, *equipment, *release,
		*root, *crls;
	const char *requires[FW_MANIFEST_MAX_REQUIRES];
	size_t n_requires;
	long long version, min_version, rollout, piece_size, expires_in;
} args;

static smscms_identity *load_identity(smscms_ctx *ctx, const args *a)
{
	smscms_identity *id = NULL;

	if (a->cert == NULL || a->key == NULL)
		die("--cert and --key are required", NULL);
	if (smscms_identity_load_pem(ctx, a->cert, a->key, a->chain, &id) != SMSCMS_OK)
		die("cannot load the identity", smscms_ctx_error(ctx));
	return id;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("cannot write", path);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Encrypts the image into pieces while hashing plaintext and pieces. */
static void encrypt_pieces(const args *a, fw_manifest *m, const unsigned char key[FW_KEY_LEN])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_MD_CTX *pt_md = EVP_MD_CTX_new();
	unsigned char *in = malloc((size_t)m->piece_size), *ct = malloc((size_t)m->piece_size + 16);
	FILE *f = fopen(a->image, "rb");
	char name[32];
	size_t n, i;
	int l;

	if (c == NULL || pt_md == NULL || in == NULL || ct == NULL || f == NULL)
		die("cannot read", a->image);
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, m->nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &l, (const unsigned char *)m->release, (int)strlen(m->release)) != 1 ||
	    EVP_DigestInit_ex(pt_md, EVP_sha256(), NULL) != 1)
		die("AES-GCM setup failed", NULL);
	for (i = 0; i < m->n_pieces; i++) {
		n = fread(in, 1, fw_manifest_piece_len(m, i), f);
		if (n != fw_manifest_piece_len(m, i) || EVP_DigestUpdate(pt_md, in, n) != 1 ||
		    EVP_EncryptUpdate(c, ct, &l, in, (int)n) != 1 || (size_t)l != n ||
		    EVP_Digest(ct, n, m->pieces[i], NULL, EVP_sha256(), NULL) != 1)
			die("encryption failed", a->image);
		snprintf(name, sizeof name, "piece.%zu", i);
		write_file(a->out, name, ct, n);
	}
	if (EVP_EncryptFinal_ex(c, ct, &l) != 1 || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, FW_TAG_LEN, m->tag) != 1 ||
	    EVP_DigestFinal_ex(pt_md, m->sha256, NULL) != 1)
		die("encryption failed", a->image);
	fclose(f);
	free(in);
	free(ct);
	EVP_MD_CTX_free(pt_md);
	EVP_CIPHER_CTX_free(c);
}

static void fill_manifest(const args *a, fw_manifest *m)
{
	char list[1024], *tok, *save = NULL;
	FILE *f;
	size_t i;

	memset(m, 0, sizeof *m);
	if (a->package == NULL || a->hardware == NULL || a->version < 1 || a->image == NULL || a->out == NULL)
		die("release needs --out --image --package --version --hardware", NULL);
	snprintf(m->package, sizeof m->package, "%s", a->package);
	m->version = a->version;
	m->min_version = a->min_version > 0 ? a->min_version : 1;
	if (fw_release_id(m->package, m->version, m->release, sizeof m->release) != 0)
		die("bad package or version", NULL);
	snprintf(list, sizeof list, "%s", a->hardware);
	for (tok = strtok_r(list, ",", &save); tok && m->n_hardware < FW_MANIFEST_MAX_HARDWARE;
	     tok = strtok_r(NULL, ",", &save))
		snprintf(m->hardware[m->n_hardware++], sizeof m->hardware[0], "%s", tok);
	for (i = 0; i < a->n_requires; i++) {
		const char *eq = strchr(a->requires[i], '=');

		if (eq == NULL || eq - a->requires[i] > FW_PACKAGE_MAX)
			die("--requires PKG=V", a->requires[i]);
		snprintf(m->requires[i].package, (size_t)(eq - a->requires[i]) + 1, "%s", a->requires[i]);
		m->requires[i].min_version = atoll(eq + 1);
		m->n_requires++;
	}
	m->created = time(NULL) - 3600;
	m->expires = time(NULL) + (a->expires_in != 0 ? a->expires_in : 86400);
	if (m->expires <= m->created)
		m->created = m->expires - 60;
	if ((f = fopen(a->image, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (m->size = ftell(f)) <= 0)
		die("cannot size", a->image);
	fclose(f);
	m->piece_size = a->piece_size > 0 ? a->piece_size : 262144;
	m->n_pieces = fw_manifest_piece_count(m->size, m->piece_size);
	if ((m->pieces = calloc(m->n_pieces, FW_DIGEST_LEN)) == NULL)
		die("out of memory", NULL);
	if (RAND_bytes(m->nonce, FW_NONCE_LEN) != 1)
		die("RAND_bytes failed", NULL);
}

static int cmd_release(const args *a)
{
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_identity *signer = load_identity(ctx, a);
	unsigned char key[FW_KEY_LEN], *der = NULL;
	char err[600], key_hex[2 * FW_KEY_LEN + 2], count[32];
	size_t len = 0;
	fw_manifest m;

	fill_manifest(a, &m);
	if (RAND_bytes(key, sizeof key) != 1)
		die("RAND_bytes failed", NULL);
	encrypt_pieces(a, &m, key);
	if (fw_manifest_sign(smscms_identity_cert(signer), smscms_identity_key(signer), smscms_identity_chain(signer), &m,
	                     &der, &len, err, sizeof err) != 0)
		die("manifest not signed", err);
	write_file(a->out, "manifest.der", der, len);
	hex(key, sizeof key, key_hex);
	strcat(key_hex, "\n");
	write_file(a->out, "key.hex", key_hex, strlen(key_hex));
	snprintf(count, sizeof count, "%zu\n", m.n_pieces);
	write_file(a->out, "pieces", count, strlen(count));
	printf("%s: %lld bytes, %zu pieces\n", m.release, m.size, m.n_pieces);
	OPENSSL_free(der);
	OPENSSL_cleanse(key, sizeof key);
	fw_manifest_free(&m);
	smscms_identity_free(signer);
	smscms_ctx_free(ctx);
	return 0;
}

static int cmd_offer(const args *a)
{
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_identity *publisher = load_identity(ctx, a);
	X509 *device = NULL;
	unsigned char *der = NULL;
	char err[600], key_hex[2 * FW_KEY_LEN + 8];
	size_t len = 0, i;
	unsigned int b;
	fw_offer o;
	FILE *f;

	memset(&o, 0, sizeof o);
	if (a->out == NULL || a->key_file == NULL || a->to == NULL || a->equipment == NULL || a->release == NULL ||
	    a->package == NULL)
		die("offer needs --out --key-file --to --equipment --release --package --version --rollout", NULL);
	if ((f = fopen(a->key_file, "r")) == NULL || fgets(key_hex, sizeof key_hex, f) == NULL)
		die("cannot read", a->key_file);
	fclose(f);
	for (i = 0; i < FW_KEY_LEN; i++) {
		if (sscanf(key_hex + 2 * i, "%2x", &b) != 1)
			die("bad key file", a->key_file);
		o.key[i] = (unsigned char)b;
	}
	snprintf(o.equipment, sizeof o.equipment, "%s", a->equipment);
	snprintf(o.release, sizeof o.release, "%s", a->release);
	snprintf(o.package, sizeof o.package, "%s", a->package);
	o.version = a->version;
	o.rollout = a->rollout;
	o.offered_at = time(NULL);
	if (smscms_cert_load_pem(ctx, a->to, &device) != SMSCMS_OK)
		die("cannot load --to", smscms_ctx_error(ctx));
	if (fw_offer_encrypt(ctx, publisher, device, &o, &der, &len, err, sizeof err) != 0)
		die("offer not encrypted", err);
	f = fopen(a->out, "wb");
	if (f == NULL || fwrite(der, 1, len, f) != len || fclose(f) != 0)
		die("cannot write", a->out);
	fw_offer_clear(&o);
	OPENSSL_free(der);
	X509_free(device);
	smscms_identity_free(publisher);
	smscms_ctx_free(ctx);
	return 0;
}

static STACK_OF(X509_CRL) *read_crls(const char *path)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	X509_CRL *c;
	FILE *f;

	if (path == NULL)
		return sk;
	if ((f = fopen(path, "r")) == NULL)
		die("cannot open", path);
	while ((c = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL)
		sk_X509_CRL_push(sk, c);
	fclose(f);
	return sk;
}

/* One report: verified and printed, or "REFUSED reason"; 0 when it verified. */
static int print_status(const signed_data_trust *t, const char *equipment, const char *line)
{
	size_t n = strlen(line) / 2, i;
	unsigned char *der = malloc(n + 1);
	unsigned int b;
	char err[600];
	fw_status s;
	int rc = 1;

	for (i = 0; der != NULL && i < n; i++) {
		if (sscanf(line + 2 * i, "%2x", &b) != 1)
			break;
		der[i] = (unsigned char)b;
	}
	if (der == NULL || i != n) {
		printf("REFUSED not hex\n");
	} else if (fw_status_verify(t, der, n, equipment, &s, err, sizeof err) != 0) {
		printf("REFUSED %s\n", err);
	} else {
		printf("%s %lld %s", fw_report_state_name(s.state), s.rollout, s.release);
		if (s.code != 0)
			printf(" %s", fw_load_error_name(s.code));
		if (s.state == FW_REPORT_DOWNLOADING)
			printf(" %lld/%lld", s.pieces, s.of);
		printf(" installed=%lld\n", s.installed_version);
		rc = 0;
	}
	free(der);
	return rc;
}

static int cmd_status(const args *a)
{
	signed_data_trust *t;
	STACK_OF(X509_CRL) *crls;
	char err[600], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (a->root == NULL || a->equipment == NULL)
		die("status needs --root and --equipment", NULL);
	if ((t = signed_data_trust_new(a->root, err, sizeof err)) == NULL)
		die("trust root", err);
	crls = read_crls(a->crls);
	if (sk_X509_CRL_num(crls) > 0 && signed_data_trust_set_crls(t, crls, err, sizeof err) != 0)
		die("CRLs", err);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > 0)
			rc |= print_status(t, a->equipment, line);
	}
	free(line);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	signed_data_trust_free(t);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", 1, NULL, 'o' }, { "image", 1, NULL, 'i' }, { "package", 1, NULL, 'p' },
		{ "version", 1, NULL, 'v' }, { "hardware", 1, NULL, 'h' }, { "min-version", 1, NULL, 'm' },
		{ "requires", 1, NULL, 'r' }, { "expires-in", 1, NULL, 'e' }, { "piece-size", 1, NULL, 's' },
		{ "cert", 1, NULL, 'c' }, { "key", 1, NULL, 'k' }, { "chain", 1, NULL, 'C' },
		{ "key-file", 1, NULL, 'K' }, { "to", 1, NULL, 't' }, { "equipment", 1, NULL, 'q' },
		{ "rollout", 1, NULL, 'R' }, { "release", 1, NULL, 'l' }, { "root", 1, NULL, 'T' },
		{ "crls", 1, NULL, 'L' }, { NULL, 0, NULL, 0 }
	};
	args a;
	const char *cmd;
	int c;

	memset(&a, 0, sizeof a);
	if (argc < 2)
		die("usage: sms-test-firmware release|offer|status OPTIONS", NULL);
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a.out = optarg; break;
		case 'i': a.image = optarg; break;
		case 'p': a.package = optarg; break;
		case 'v': a.version = atoll(optarg); break;
		case 'h': a.hardware = optarg; break;
		case 'm': a.min_version = atoll(optarg); break;
		case 'r':
			if (a.n_requires == FW_MANIFEST_MAX_REQUIRES)
				die("too many --requires", NULL);
			a.requires[a.n_requires++] = optarg;
			break;
		case 'e': a.expires_in = atoll(optarg); break;
		case 's': a.piece_size = atoll(optarg); break;
		case 'c': a.cert = optarg; break;
		case 'k': a.key = optarg; break;
		case 'C': a.chain = optarg; break;
		case 'K': a.key_file = optarg; break;
		case 't': a.to = optarg; break;
		case 'q': a.equipment = optarg; break;
		case 'R': a.rollout = atoll(optarg); break;
		case 'l': a.release = optarg; break;
		case 'T': a.root = optarg; break;
		case 'L': a.crls = optarg; break;
		default: die("unknown option", NULL);
		}
	}
	if (strcmp(cmd, "release") == 0)
		return cmd_release(&a);
	if (strcmp(cmd, "offer") == 0)
		return cmd_offer(&a);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&a);
	die("unknown command", cmd);
	return 1;
}
