/*
 * libFuzzer target for the decrypt path (and smscms_inspect, which parses
 * the same structures). The recipient identity is derived from a fixed
 * scalar at start-up so the seed corpus (real messages addressed to it)
 * reaches the key agreement, unwrap and GCM code. Every input is decrypted
 * twice: without a verifier, and with one whose trust root (and CRL) is a
 * fuzz root CA, also from a fixed scalar, so the seeds whose originator it
 * issued reach the chain check, the certificate cache and the CRL lookup.
 *
 * SMS_FUZZ_WRITE_SEEDS=DIR makes the initializer write fresh seed messages
 * to DIR (how tests/fuzz/corpus/cms_decrypt was made).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "cms/smscms.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static smscms_identity *recipient;
static smscms_ctx *ctx;
static FILE *devnull;
static smscms_verifier *verifier;
static EVP_PKEY *root_key;
static X509 *root_cert;

static void fz_die(const char *what)
{
	fprintf(stderr, "fuzz_cms_decrypt init: %s\n", what);
	exit(2);
}

/* P-256 key with private scalar d (fixed, so runs are reproducible). */
static EVP_PKEY *fz_key(unsigned long d)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BIGNUM *priv = BN_new();
	EC_POINT *pub = g != NULL ? EC_POINT_new(g) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	unsigned char oct[65];

	if (g == NULL || priv == NULL || pub == NULL || bld == NULL || pc == NULL ||
	    !BN_set_word(priv, d) || !BN_lshift(priv, priv, 200) || !BN_add_word(priv, d) ||
	    !EC_POINT_mul(g, pub, priv, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED, oct, sizeof(oct), NULL) != sizeof(oct) ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, oct, sizeof(oct)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 || EVP_PKEY_fromdata(pc, &key, EVP_PKEY_KEYPAIR, params) <= 0)
		fz_die("key");
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pc);
	EC_POINT_free(pub);
	BN_free(priv);
	EC_GROUP_free(g);
	return key;
}

static void fz_add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	if (ext == NULL || !X509_add_ext(x, ext, -1))
		fz_die("certificate extension");
	X509_EXTENSION_free(ext);
}

/* A certificate for key; self-signed unless issuer/issuer_key are given. */
static X509 *fz_cert(const char *cn, EVP_PKEY *key, long serial, int ca, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;

	if (x == NULL || name == NULL || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -86400) || !X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400) ||
	    !X509_set_pubkey(x, key))
		fz_die("certificate");
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	fz_add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (ca) {
		fz_add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
		fz_add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else if (issuer) {
		fz_add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	}
	if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
		fz_die("certificate signature");
	X509_NAME_free(name);
	return x;
}

static smscms_identity *fz_identity(const char *cn, unsigned long d, long serial, int issued)
{
	EVP_PKEY *key = fz_key(d);
	X509 *x = fz_cert(cn, key, serial, 0, issued ? root_cert : NULL, issued ? root_key : NULL);
	smscms_identity *id = NULL;

	if (smscms_identity_new(ctx, x, key, NULL, &id) != SMSCMS_OK)
		fz_die(smscms_ctx_error(ctx));
	X509_free(x);
	EVP_PKEY_free(key);
	return id;
}

/* An empty CRL of the fuzz root, so the verifier runs with CRL checks on. */
static X509_CRL *fz_root_crl(void)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_adj(NULL, time(NULL), -1, 0);
	ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), 3650, 0);

	if (crl == NULL || now == NULL || next == NULL || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(root_cert)) ||
	    !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next) ||
	    X509_CRL_sign(crl, root_key, EVP_sha256()) <= 0)
		fz_die("CRL");
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	return crl;
}

/* The verifier reads files: write root and CRL to a scratch directory, read, remove. */
static void fz_verifier(void)
{
	char dir[] = "/tmp/fuzz-verifier.XXXXXX", root[64], crls[64];
	const char *crl_files[1] = { crls };
	X509_CRL *crl;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		fz_die("mkdtemp");
	snprintf(root, sizeof(root), "%s/root.pem", dir);
	snprintf(crls, sizeof(crls), "%s/crl.pem", dir);
	crl = fz_root_crl();
	if ((f = fopen(root, "w")) == NULL || !PEM_write_X509(f, root_cert) || fclose(f) != 0 ||
	    (f = fopen(crls, "w")) == NULL || !PEM_write_X509_CRL(f, crl) || fclose(f) != 0)
		fz_die("writing the verifier files");
	X509_CRL_free(crl);
	if (smscms_verifier_new(ctx, root, crl_files, 1, &verifier) != SMSCMS_OK)
		fz_die(smscms_ctx_error(ctx));
	if (unlink(root) != 0 || unlink(crls) != 0 || rmdir(dir) != 0)
		fz_die("removing the verifier files");
}

static void fz_write_seeds(const char *dir)
{
	smscms_identity *orig = fz_identity("fuzz originator", 2, 2, 0);
	smscms_identity *issued = fz_identity("fuzz issued originator", 4, 4, 1);
	X509 *rc = smscms_identity_cert(recipient);
	static const char pt[] = "{\"equipment\":\"EQ1\",\"seq\":1}";
	struct { const char *name; smscms_ka ka; smscms_kdf kdf; int attrs, oi, bc; smscms_rid rid; int issued; } seeds[] = {
		{ "mqv-default.der", SMSCMS_KA_MQV, SMSCMS_KDF_SHA256, 1, 1, 0, SMSCMS_RID_ISSUER_SERIAL, 0 },
		{ "mqv-bc-ski.der", SMSCMS_KA_MQV, SMSCMS_KDF_SHA384, 1, 0, 1, SMSCMS_RID_SKI, 0 },
		{ "ecdh-noattrs.der", SMSCMS_KA_ECDH, SMSCMS_KDF_SHA1, 0, 0, 0, SMSCMS_RID_ISSUER_SERIAL, 0 },
		{ "ecdh-ski.der", SMSCMS_KA_ECDH, SMSCMS_KDF_SHA512, 1, 1, 0, SMSCMS_RID_SKI, 0 },
		/* originator issued by the fuzz root: passes the verifier */
		{ "mqv-verified.der", SMSCMS_KA_MQV, SMSCMS_KDF_SHA256, 1, 1, 0, SMSCMS_RID_ISSUER_SERIAL, 1 },
		{ "mqv-verified-ski.der", SMSCMS_KA_MQV, SMSCMS_KDF_SHA512, 1, 1, 0, SMSCMS_RID_SKI, 1 },
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		smscms_encrypt_opts o;
		unsigned char *der = NULL;
		size_t len = 0;
		char path[512];
		FILE *f;

		smscms_encrypt_opts_init(&o);
		o.ka = seeds[i].ka;
		o.kdf = seeds[i].kdf;
		o.auth_attrs = seeds[i].attrs;
		o.originator_info = seeds[i].oi;
		o.bc_compat = seeds[i].bc;
		o.rid = seeds[i].rid;
		if (smscms_encrypt(ctx, &o, seeds[i].issued ? issued : orig, &rc, 1, (const unsigned char *)pt,
				   sizeof(pt) - 1, &der, &len) != SMSCMS_OK)
			fz_die(smscms_ctx_error(ctx));
		snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
		if ((f = fopen(path, "wb")) == NULL || fwrite(der, 1, len, f) != len || fclose(f) != 0)
			fz_die(path);
		OPENSSL_free(der);
	}
	smscms_identity_free(orig);
	smscms_identity_free(issued);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("SMS_FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	if ((ctx = smscms_ctx_new()) == NULL || (devnull = fopen("/dev/null", "w")) == NULL)
		fz_die("context");
	root_key = fz_key(3);
	root_cert = fz_cert("fuzz root CA", root_key, 3, 1, NULL, NULL);
	fz_verifier();
	recipient = fz_identity("fuzz recipient", 1, 1, 0);
	if (seeds != NULL)
		fz_write_seeds(seeds);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	smscms_limits lim;
	smscms_originator orig;
	unsigned char *pt = NULL;
	size_t pt_len = 0;

	smscms_limits_init(&lim);
	lim.max_message = 64 * 1024;
	if (smscms_decrypt(ctx, &lim, recipient, NULL, data, size, &pt, &pt_len, &orig) == SMSCMS_OK) {
		OPENSSL_clear_free(pt, pt_len);
		smscms_originator_clear(&orig);
	}
	pt = NULL;
	if (smscms_decrypt(ctx, &lim, recipient, verifier, data, size, &pt, &pt_len, &orig) == SMSCMS_OK) {
		OPENSSL_clear_free(pt, pt_len);
		smscms_originator_clear(&orig);
	}
	(void)smscms_inspect(ctx, &lim, data, size, devnull);
	return 0;
}
