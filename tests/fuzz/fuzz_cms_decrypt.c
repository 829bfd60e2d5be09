/*
 * libFuzzer target for the decrypt path (and smscms_inspect, which parses
 * the same structures). The recipient identity is derived from a fixed
 * scalar at start-up so the seed corpus (real messages addressed to it)
 * reaches the key agreement, unwrap and GCM code.
 *
 * SMS_FUZZ_WRITE_SEEDS=DIR makes the initializer write fresh seed messages
 * to DIR (how tests/fuzz/corpus/cms_decrypt was made).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>
#include "cms/smscms.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static smscms_identity *recipient;
static smscms_ctx *ctx;
static FILE *devnull;

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

static smscms_identity *fz_identity(const char *cn, unsigned long d, long serial)
{
	EVP_PKEY *key = fz_key(d);
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	smscms_identity *id = NULL;

	if (x == NULL || name == NULL || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) || !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_set_pubkey(x, key))
		fz_die("certificate");
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash")) == NULL ||
	    !X509_add_ext(x, ext, -1) || X509_sign(x, key, EVP_sha256()) <= 0)
		fz_die("certificate extension");
	X509_EXTENSION_free(ext);
	if (smscms_identity_new(ctx, x, key, NULL, &id) != SMSCMS_OK)
		fz_die(smscms_ctx_error(ctx));
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	return id;
}

static void fz_write_seeds(const char *dir)
{
	smscms_identity *orig = fz_identity("fuzz originator", 2, 2);
	X509 *rc = smscms_identity_cert(recipient);
	static const char pt[] = "{\"equipment\":\"EQ1\",\"seq\":1}";
	struct { const char *name; smscms_ka ka; smscms_kdf kdf; int attrs, oi, bc; smscms_rid rid; } seeds[] = {
		{ "mqv-default.der", SMSCMS_KA_MQV, SMSCMS_KDF_SHA256, 1, 1, 0, SMSCMS_RID_ISSUER_SERIAL },
		{ "mqv-bc-ski.der", SMSCMS_KA_MQV, SMSCMS_KDF_SHA384, 1, 0, 1, SMSCMS_RID_SKI },
		{ "ecdh-noattrs.der", SMSCMS_KA_ECDH, SMSCMS_KDF_SHA1, 0, 0, 0, SMSCMS_RID_ISSUER_SERIAL },
		{ "ecdh-ski.der", SMSCMS_KA_ECDH, SMSCMS_KDF_SHA512, 1, 1, 0, SMSCMS_RID_SKI },
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
		if (smscms_encrypt(ctx, &o, orig, &rc, 1, (const unsigned char *)pt, sizeof(pt) - 1, &der, &len) != SMSCMS_OK)
			fz_die(smscms_ctx_error(ctx));
		snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
		if ((f = fopen(path, "wb")) == NULL || fwrite(der, 1, len, f) != len || fclose(f) != 0)
			fz_die(path);
		OPENSSL_free(der);
	}
	smscms_identity_free(orig);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("SMS_FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	if ((ctx = smscms_ctx_new()) == NULL || (devnull = fopen("/dev/null", "w")) == NULL)
		fz_die("context");
	recipient = fz_identity("fuzz recipient", 1, 1);
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
	(void)smscms_inspect(ctx, &lim, data, size, devnull);
	return 0;
}
