/*
 * sms-test-receipt: signs a receipt (common/receipt.h) for the integration
 * tests, standing in for the snapshot service until it publishes receipts
 * itself. The digests are hex arguments, or the SHA-256 of files with --of.
 *
 *   sms-test-receipt --cert C --key K [--chain CH] --equipment ma/acc/eq
 *                    --out FILE (HEX... | --of FILE...)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/receipt.h"

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "sms-test-receipt: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static void *read_pem(const char *path, int key)
{
	FILE *f = fopen(path, "r");
	void *obj;

	if (f == NULL)
		die("cannot open", path);
	obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL) : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (obj == NULL)
		die("no PEM object in", path);
	return obj;
}

static STACK_OF(X509) *read_chain(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	FILE *f;
	X509 *c;

	if (path == NULL)
		return sk;
	if ((f = fopen(path, "r")) == NULL)
		die("cannot open", path);
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, c);
	fclose(f);
	return sk;
}

static void file_digest(const char *path, unsigned char out[RECEIPT_DIGEST_LEN])
{
	unsigned char buf[65536];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		die("cannot hash", path);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		EVP_DigestUpdate(md, buf, n);
	fclose(f);
	EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
}

static void hex_digest(const char *hex, unsigned char out[RECEIPT_DIGEST_LEN])
{
	long len = 0;
	unsigned char *b = OPENSSL_hexstr2buf(hex, &len);

	if (b == NULL || len != RECEIPT_DIGEST_LEN)
		die("not a 64-digit hex digest", hex);
	memcpy(out, b, RECEIPT_DIGEST_LEN);
	OPENSSL_free(b);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "chain", required_argument, NULL, 'C' }, { "equipment", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' }, { "of", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	const char *cert_file = NULL, *key_file = NULL, *chain_file = NULL, *equipment = NULL, *out = NULL;
	unsigned char (*digests)[RECEIPT_DIGEST_LEN], *der = NULL;
	int opt, files = 0, i, n;
	size_t der_len = 0;
	char err[512];
	FILE *f;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cert_file = optarg; break;
		case 'k': key_file = optarg; break;
		case 'C': chain_file = optarg; break;
		case 'e': equipment = optarg; break;
		case 'o': out = optarg; break;
		case 'f': files = 1; break;
		case 'h':
			puts("usage: sms-test-receipt --cert C --key K [--chain CH] --equipment ma/acc/eq --out FILE "
			     "(HEX... | --of FILE...)");
			return 0;
		default: return 2;
		}
	}
	n = argc - optind;
	if (cert_file == NULL || key_file == NULL || equipment == NULL || out == NULL || n <= 0)
		die("--cert, --key, --equipment, --out and at least one digest are required", NULL);
	digests = calloc((size_t)n, sizeof *digests);
	if (digests == NULL)
		die("out of memory", NULL);
	for (i = 0; i < n; i++) {
		if (files)
			file_digest(argv[optind + i], digests[i]);
		else
			hex_digest(argv[optind + i], digests[i]);
	}
	X509 *cert = read_pem(cert_file, 0);
	EVP_PKEY *key = read_pem(key_file, 1);
	STACK_OF(X509) *chain = read_chain(chain_file);

	if (receipt_sign(cert, key, chain, equipment, time(NULL), (const unsigned char (*)[RECEIPT_DIGEST_LEN])digests,
	                 (size_t)n, &der, &der_len, err, sizeof err) != 0)
		die(err, NULL);
	f = fopen(out, "wb");
	if (f == NULL || fwrite(der, 1, der_len, f) != der_len || fclose(f) != 0)
		die("cannot write", out);
	OPENSSL_free(der);
	free(digests);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return 0;
}
