/*
 * Decoded-certificate cache: SHA-256(DER) + full DER compare -> X509 and
 * its EC public point octets. Bounded, least recently used replaced, one
 * lock. Entries live in one array; a bucket array of chains finds them and
 * a doubly linked list through the same array keeps their age.
 */
#include <limits.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include "cms/cms_certcache.h"

#define NONE ((size_t)-1)

struct cms_cert_entry {
	unsigned char digest[32];
	unsigned char *der;           /* NULL: free slot */
	size_t der_len;
	size_t chain;                 /* next entry of the same bucket */
	size_t newer, older;          /* age list */
	struct cms_cert_info info;
};

struct smscms_certcache {
	pthread_mutex_t lock;
	EVP_MD *sha256;
	int refs;                     /* guarded by lock */
	size_t cap, held;
	size_t newest, oldest;
	size_t *bucket;               /* nbuckets heads, NONE when empty */
	size_t nbuckets;              /* a power of two, at least cap */
	struct cms_cert_entry *e;     /* cap entries */
	unsigned long long hits, misses;
};

smscms_certcache *smscms_certcache_new(size_t entries)
{
	smscms_certcache *c;
	size_t i;

	if (entries == 0 || entries > ((size_t)1 << 24) || (c = OPENSSL_zalloc(sizeof(*c))) == NULL)
		return NULL;
	c->cap = entries;
	for (c->nbuckets = 1; c->nbuckets < entries; c->nbuckets <<= 1)
		;
	c->newest = c->oldest = NONE;
	c->refs = 1;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		OPENSSL_free(c);
		return NULL;
	}
	if ((c->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL ||
	    (c->bucket = OPENSSL_malloc(c->nbuckets * sizeof(*c->bucket))) == NULL ||
	    (c->e = OPENSSL_zalloc(c->cap * sizeof(*c->e))) == NULL) {
		EVP_MD_free(c->sha256);
		OPENSSL_free(c->bucket);
		pthread_mutex_destroy(&c->lock);
		OPENSSL_free(c);
		return NULL;
	}
	for (i = 0; i < c->nbuckets; i++)
		c->bucket[i] = NONE;
	return c;
}

static void entry_clear(struct cms_cert_entry *e)
{
	OPENSSL_free(e->der);
	X509_free(e->info.cert);
	memset(e, 0, sizeof(*e));
}

void smscms_certcache_free(smscms_certcache *c)
{
	int last;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (!last)
		return;
	for (size_t i = 0; i < c->cap; i++)
		entry_clear(&c->e[i]);
	OPENSSL_free(c->e);
	OPENSSL_free(c->bucket);
	EVP_MD_free(c->sha256);
	pthread_mutex_destroy(&c->lock);
	OPENSSL_free(c);
}

void smscms_ctx_use_certcache(smscms_ctx *ctx, smscms_certcache *c)
{
	if (ctx == NULL || c == NULL || ctx->certs == c)
		return;
	pthread_mutex_lock(&c->lock);
	c->refs++;
	pthread_mutex_unlock(&c->lock);
	smscms_certcache_free(ctx->certs);
	ctx->certs = c;
}

void smscms_certcache_stats(smscms_certcache *c, size_t *held, unsigned long long *hits,
                            unsigned long long *misses)
{
	pthread_mutex_lock(&c->lock);
	*held = c->held;
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

static smscms_certcache *cache_get(smscms_ctx *ctx)
{
	if (ctx->certs == NULL)
		ctx->certs = smscms_certcache_new(CMS_CERTCACHE_SLOTS);
	return ctx->certs;
}

static size_t *bucket_of(smscms_certcache *c, const unsigned char *digest)
{
	size_t h;

	memcpy(&h, digest, sizeof(h));
	return &c->bucket[h & (c->nbuckets - 1)];
}

static void age_unlink(smscms_certcache *c, size_t i)
{
	struct cms_cert_entry *e = &c->e[i];

	if (e->newer != NONE)
		c->e[e->newer].older = e->older;
	else
		c->newest = e->older;
	if (e->older != NONE)
		c->e[e->older].newer = e->newer;
	else
		c->oldest = e->newer;
}

static void age_push_newest(smscms_certcache *c, size_t i)
{
	c->e[i].newer = NONE;
	c->e[i].older = c->newest;
	if (c->newest != NONE)
		c->e[c->newest].newer = i;
	c->newest = i;
	if (c->oldest == NONE)
		c->oldest = i;
}

/* The entry holding exactly der, or NONE. Caller holds the lock. */
static size_t find(smscms_certcache *c, const unsigned char *digest, const unsigned char *der, size_t der_len)
{
	size_t i;

	for (i = *bucket_of(c, digest); i != NONE; i = c->e[i].chain) {
		const struct cms_cert_entry *e = &c->e[i];

		if (e->der_len == der_len && memcmp(e->digest, digest, sizeof(e->digest)) == 0 &&
		    memcmp(e->der, der, der_len) == 0)
			return i;
	}
	return NONE;
}

/* Empties entry i: out of its bucket chain and the age list. */
static void evict(smscms_certcache *c, size_t i)
{
	size_t *p = bucket_of(c, c->e[i].digest);

	while (*p != i)
		p = &c->e[*p].chain;
	*p = c->e[i].chain;
	age_unlink(c, i);
	entry_clear(&c->e[i]);
	c->held--;
}

/* The public point as the certificate carries it; oct2point on the
 * recipient's group validates it when it is used. */
static void info_fill(X509 *x, struct cms_cert_info *info)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);

	info->cert = x;
	info->nid = cms_key_curve(pk);
	info->pub_len = 0;
	if (info->nid == NID_undef)
		return;
	if (!EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, info->pub,
	                                     sizeof(info->pub), &info->pub_len) ||
	    info->pub_len == 0) {
		info->nid = NID_undef;
		info->pub_len = 0;
	}
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

/* Keeps the parse in a free or the oldest entry and answers from it; when
 * another thread stored the same certificate meanwhile, answers from that
 * one. Takes ownership of info->cert and der_copy. Caller holds the lock. */
static int store(smscms_certcache *c, const unsigned char *digest, unsigned char *der_copy, size_t der_len,
                 struct cms_cert_info *info, struct cms_cert_info *out)
{
	size_t i = find(c, digest, der_copy, der_len), *b;
	struct cms_cert_entry *e;

	if (i != NONE) {
		X509_free(info->cert);
		OPENSSL_free(der_copy);
		return info_copy(&c->e[i].info, out);
	}
	/* Entries leave only to make room, so 0..held-1 are the ones in use. */
	if (c->held == c->cap)
		evict(c, i = c->oldest);
	else
		i = c->held;
	e = &c->e[i];
	memcpy(e->digest, digest, sizeof(e->digest));
	e->der = der_copy;
	e->der_len = der_len;
	e->info = *info;
	b = bucket_of(c, digest);
	e->chain = *b;
	*b = i;
	age_push_newest(c, i);
	c->held++;
	return info_copy(&e->info, out);
}

int cms_certcache_decode(smscms_ctx *ctx, const unsigned char *der, size_t der_len,
                         struct cms_cert_info *out)
{
	smscms_certcache *c = cache_get(ctx);
	struct cms_cert_info parsed;
	unsigned char digest[32], *copy;
	unsigned int dlen = 0;
	size_t i;
	X509 *x;
	int ok;

	memset(out, 0, sizeof(*out));
	if (c == NULL || !EVP_Digest(der, der_len, digest, &dlen, c->sha256, NULL) || dlen != sizeof(digest))
		return 0;
	pthread_mutex_lock(&c->lock);
	if ((i = find(c, digest, der, der_len)) != NONE) {
		age_unlink(c, i);
		age_push_newest(c, i);
		c->hits++;
		ok = info_copy(&c->e[i].info, out);
		pthread_mutex_unlock(&c->lock);
		return ok;
	}
	c->misses++;
	pthread_mutex_unlock(&c->lock);

	/* The expensive part, outside the lock. */
	if ((x = cert_parse(der, der_len)) == NULL)
		return 0;
	memset(&parsed, 0, sizeof(parsed));
	info_fill(x, &parsed);
	if ((copy = OPENSSL_memdup(der, der_len)) == NULL) {
		/* Still answer; the certificate is just not kept. */
		*out = parsed;
		return 1;
	}
	pthread_mutex_lock(&c->lock);
	ok = store(c, digest, copy, der_len, &parsed, out);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

size_t cms_certcache_size(const smscms_ctx *ctx)
{
	size_t n;

	if (ctx == NULL || ctx->certs == NULL)
		return 0;
	pthread_mutex_lock(&ctx->certs->lock);
	n = ctx->certs->held;
	pthread_mutex_unlock(&ctx->certs->lock);
	return n;
}
