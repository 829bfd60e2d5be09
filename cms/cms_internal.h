/*
 * Internal definitions shared by the libsmscms modules: the opaque structs
 * behind smscms.h and the error setter. Not installed.
 */
#ifndef CMS_INTERNAL_H
#define CMS_INTERNAL_H

#include <pthread.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include "cms/smscms.h"

#define CMS_ERR_MAX 384

/* Algorithms fetched once per ctx: the implicit fetch behind EVP_sha256(),
 * EVP_aes_256_gcm() or EVP_KDF_fetch() per message takes provider locks and
 * allocates every time. NULL until first use. */
struct cms_algs {
	EVP_MD *md[5];                /* indexed by smscms_kdf */
	EVP_KDF *x963;
	EVP_CIPHER *wrap128, *wrap256, *gcm128, *gcm256;
};

struct smscms_ctx {
	char err[CMS_ERR_MAX];
	struct cms_algs alg;
	/* Decoded originatorInfo certificates (cms_certcache.h): a private
	 * cache created on first decrypt, or a shared one; the ctx holds a
	 * reference either way. */
	smscms_certcache *certs;
};

struct smscms_identity {
	X509 *cert;
	EVP_PKEY *key;                /* NULL for recipient-only certificates */
	STACK_OF(X509) *chain;        /* issuing CAs, root excluded; never NULL */
	/* Derived once at creation so each message skips the conversions. */
	EC_GROUP *group;
	BIGNUM *priv;                 /* NULL without key */
	EC_POINT *pub;
};

/* Records "message: openssl-reason" in ctx and returns st. printf-style. */
smscms_status cms_error(smscms_ctx *ctx, smscms_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Curve NID of an EC key, NID_undef when not an EC key on a supported curve. */
int cms_key_curve(const EVP_PKEY *pkey);

/* Digest of a KDF hash choice. */
const EVP_MD *cms_kdf_md(smscms_kdf kdf);
/* The same algorithms fetched once and held by ctx. Each returns NULL when
 * the fetch fails (callers then fail as for any crypto error). */
const EVP_MD *cms_ctx_md(smscms_ctx *ctx, smscms_kdf kdf);
EVP_KDF *cms_ctx_x963(smscms_ctx *ctx);
const EVP_CIPHER *cms_ctx_wrap(smscms_ctx *ctx, size_t kek_len);
const EVP_CIPHER *cms_ctx_gcm(smscms_ctx *ctx, size_t key_len);
const char *cms_kdf_name(smscms_kdf kdf);
const char *cms_ka_name(smscms_ka ka);
const char *cms_cipher_name(smscms_cipher c);
size_t cms_cipher_keylen(smscms_cipher c);

#endif
