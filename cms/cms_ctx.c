/*
 * Context, error messages, option defaults and small shared helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include "cms/cms_certcache.h"

static const char *const status_names[SMSCMS_STATUS_COUNT] = {
	[SMSCMS_OK] = "ok",
	[SMSCMS_ERR_ARGUMENT] = "argument",
	[SMSCMS_ERR_MEMORY] = "memory",
	[SMSCMS_ERR_IO] = "io",
	[SMSCMS_ERR_TOO_LARGE] = "too-large",
	[SMSCMS_ERR_MALFORMED] = "malformed",
	[SMSCMS_ERR_UNSUPPORTED] = "unsupported",
	[SMSCMS_ERR_NOT_RECIPIENT] = "not-recipient",
	[SMSCMS_ERR_KEY_UNWRAP] = "key-unwrap",
	[SMSCMS_ERR_AUTH] = "auth",
	[SMSCMS_ERR_ORIGINATOR] = "originator",
	[SMSCMS_ERR_UNTRUSTED] = "untrusted",
	[SMSCMS_ERR_REVOKED] = "revoked",
	[SMSCMS_ERR_CRYPTO] = "crypto",
};

const char *smscms_status_name(smscms_status st)
{
	if ((unsigned)st >= SMSCMS_STATUS_COUNT)
		return "unknown";
	return status_names[st];
}

smscms_ctx *smscms_ctx_new(void)
{
	return OPENSSL_zalloc(sizeof(smscms_ctx));
}

void smscms_ctx_free(smscms_ctx *ctx)
{
	if (ctx == NULL)
		return;
	smscms_certcache_free(ctx->certs);
	for (size_t i = 0; i < 5; i++)
		EVP_MD_free(ctx->alg.md[i]);
	EVP_KDF_free(ctx->alg.x963);
	EVP_CIPHER_free(ctx->alg.wrap128);
	EVP_CIPHER_free(ctx->alg.wrap256);
	EVP_CIPHER_free(ctx->alg.gcm128);
	EVP_CIPHER_free(ctx->alg.gcm256);
	OPENSSL_free(ctx);
}

const char *smscms_ctx_error(const smscms_ctx *ctx)
{
	return ctx != NULL ? ctx->err : "no context";
}

/* The OpenSSL error queue is drained here so one failure never bleeds into
 * the message of the next call; its most specific reason is appended. */
smscms_status cms_error(smscms_ctx *ctx, smscms_status st, const char *fmt, ...)
{
	unsigned long e, last = 0;
	va_list ap;
	int n;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (ctx == NULL)
		return st;
	va_start(ap, fmt);
	n = vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(ctx->err) - 1 && last != 0 &&
	    ERR_reason_error_string(last) != NULL)
		snprintf(ctx->err + n, sizeof(ctx->err) - (size_t)n, " (%s)",
		         ERR_reason_error_string(last));
	return st;
}

void smscms_encrypt_opts_init(smscms_encrypt_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->ka = SMSCMS_KA_MQV;
	opts->kdf = SMSCMS_KDF_SHA256;
	opts->cipher = SMSCMS_AES256_GCM;
	opts->rid = SMSCMS_RID_ISSUER_SERIAL;
	opts->originator_info = 1;
	opts->auth_attrs = 1;
}

void smscms_limits_init(smscms_limits *limits)
{
	limits->max_message = 1024 * 1024;
	limits->max_recipients = 64;
	limits->max_certificates = 16;
	limits->max_content = 1024 * 1024;
}

void smscms_originator_clear(smscms_originator *orig)
{
	if (orig == NULL)
		return;
	X509_free(orig->cert);
	sk_X509_pop_free(orig->chain, X509_free);
	memset(orig, 0, sizeof(*orig));
}

int cms_key_curve(const EVP_PKEY *pkey)
{
	char name[64];
	size_t len = 0;
	int nid;

	if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC"))
		return NID_undef;
	if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	                                    name, sizeof(name), &len))
		return NID_undef;
	nid = OBJ_txt2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1)
		return NID_undef;
	return nid;
}

const EVP_MD *cms_kdf_md(smscms_kdf kdf)
{
	switch (kdf) {
	case SMSCMS_KDF_SHA1: return EVP_sha1();
	case SMSCMS_KDF_SHA224: return EVP_sha224();
	case SMSCMS_KDF_SHA256: return EVP_sha256();
	case SMSCMS_KDF_SHA384: return EVP_sha384();
	case SMSCMS_KDF_SHA512: return EVP_sha512();
	}
	return NULL;
}

const EVP_MD *cms_ctx_md(smscms_ctx *ctx, smscms_kdf kdf)
{
	static const char *const names[] = { "SHA1", "SHA2-224", "SHA2-256", "SHA2-384", "SHA2-512" };

	if ((unsigned)kdf >= 5)
		return NULL;
	if (ctx->alg.md[kdf] == NULL)
		ctx->alg.md[kdf] = EVP_MD_fetch(NULL, names[kdf], NULL);
	return ctx->alg.md[kdf];
}

EVP_KDF *cms_ctx_x963(smscms_ctx *ctx)
{
	if (ctx->alg.x963 == NULL)
		ctx->alg.x963 = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_X963KDF, NULL);
	return ctx->alg.x963;
}

static const EVP_CIPHER *ctx_cipher(EVP_CIPHER **slot, const char *name)
{
	if (*slot == NULL)
		*slot = EVP_CIPHER_fetch(NULL, name, NULL);
	return *slot;
}

const EVP_CIPHER *cms_ctx_wrap(smscms_ctx *ctx, size_t kek_len)
{
	if (kek_len == 16)
		return ctx_cipher(&ctx->alg.wrap128, "AES-128-WRAP");
	if (kek_len == 32)
		return ctx_cipher(&ctx->alg.wrap256, "AES-256-WRAP");
	return NULL;
}

const EVP_CIPHER *cms_ctx_gcm(smscms_ctx *ctx, size_t key_len)
{
	if (key_len == 16)
		return ctx_cipher(&ctx->alg.gcm128, "AES-128-GCM");
	if (key_len == 32)
		return ctx_cipher(&ctx->alg.gcm256, "AES-256-GCM");
	return NULL;
}

const char *cms_kdf_name(smscms_kdf kdf)
{
	static const char *const names[] = { "sha1", "sha224", "sha256", "sha384", "sha512" };

	return (unsigned)kdf < 5 ? names[kdf] : "?";
}

const char *cms_ka_name(smscms_ka ka)
{
	return ka == SMSCMS_KA_MQV ? "mqv" : ka == SMSCMS_KA_ECDH ? "ecdh" : "?";
}

const char *cms_cipher_name(smscms_cipher c)
{
	return c == SMSCMS_AES256_GCM ? "aes256-gcm" : c == SMSCMS_AES128_GCM ? "aes128-gcm" : "?";
}

size_t cms_cipher_keylen(smscms_cipher c)
{
	return c == SMSCMS_AES128_GCM ? 16 : 32;
}
