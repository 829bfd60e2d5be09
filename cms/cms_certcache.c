/*
 * Decoded-certificate cache: SHA-256(DER) + full DER compare -> X509 and
 * its EC public point octets. Bounded, least recently used replaced.
 */
#include <limits.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include "cms/cms_certcache.h"

struct cms_cert_entry {
	unsigned char digest[32];
	unsigned char *der;           /* NULL: free slot */
	size_t der_len;
	unsigned long long used;
	struct cms_cert_info info;
};

struct cms_certcache {
	EVP_MD *sha256;
	unsigned long long tick;
	struct cms_cert_entry slot[CMS_CERTCACHE_SLOTS];
};

static void entry_clear(struct cms_cert_entry *e)
{
	OPENSSL_free(e->der);
	X509_free(e->info.cert);
	memset(e, 0, sizeof(*e));
}

void cms_certcache_free(struct cms_certcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CMS_CERTCACHE_SLOTS; i++)
		entry_clear(&c->slot[i]);
	EVP_MD_free(c->sha256);
	OPENSSL_free(c);
}

static struct cms_certcache *cache_get(smscms_ctx *ctx)
{
	struct cms_certcache *c = ctx->certs;

	if (c != NULL)
		return c;
	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL)
		return NULL;
	if ((c->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL) {
		OPENSSL_free(c);
		return NULL;
	}
	ctx->certs = c;
	return c;
}

/* The public point as the certificate carries it; oct2point on the
 * recipient's group validates it when it is used. */
static int info_fill(X509 *x, struct cms_cert_info *info)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);

	info->cert = x;
	info->nid = cms_key_curve(pk);
	info->pub_len = 0;
	if (info->nid == NID_undef)
		return 1;
	if (!EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, info->pub,
	                                     sizeof(info->pub), &info->pub_len) ||
	    info->pub_len == 0) {
		info->nid = NID_undef;
		info->pub_len = 0;
	}
	return 1;
}

static int info_copy(const struct cms_cert_info *from, struct cms_cert_info *to)
{
	if (!X509_up_ref(from->cert))
		return 0;
	*to = *from;
	return 1;
}

static X509 *cert_parse(const unsigned char *der, size_t der_len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der_len == 0 || der_len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)der_len);
	if (x != NULL && p != der + der_len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int cms_certcache_decode(smscms_ctx *ctx, const unsigned char *der, size_t der_len,
                         struct cms_cert_info *out)
{
	struct cms_certcache *c = cache_get(ctx);
	struct cms_cert_entry *victim;
	unsigned char digest[32];
	unsigned int dlen = 0;
	X509 *x;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (c == NULL || !EVP_Digest(der, der_len, digest, &dlen, c->sha256, NULL) || dlen != sizeof(digest))
		return 0;
	victim = &c->slot[0];
	for (i = 0; i < CMS_CERTCACHE_SLOTS; i++) {
		struct cms_cert_entry *e = &c->slot[i];

		if (e->der != NULL && e->der_len == der_len &&
		    memcmp(e->digest, digest, sizeof(digest)) == 0 &&
		    memcmp(e->der, der, der_len) == 0) {
			e->used = ++c->tick;
			return info_copy(&e->info, out);
		}
		if (victim->der != NULL && (e->der == NULL || e->used < victim->used))
			victim = e;
	}
	if ((x = cert_parse(der, der_len)) == NULL)
		return 0;
	entry_clear(victim);
	if ((victim->der = OPENSSL_memdup(der, der_len)) == NULL) {
		/* Still answer; the certificate is just not kept. */
		info_fill(x, out);
		return 1;
	}
	victim->der_len = der_len;
	memcpy(victim->digest, digest, sizeof(digest));
	victim->used = ++c->tick;
	info_fill(x, &victim->info);
	return info_copy(&victim->info, out);
}

size_t cms_certcache_size(const smscms_ctx *ctx)
{
	size_t i, n = 0;

	if (ctx == NULL || ctx->certs == NULL)
		return 0;
	for (i = 0; i < CMS_CERTCACHE_SLOTS; i++)
		n += ctx->certs->slot[i].der != NULL;
	return n;
}
