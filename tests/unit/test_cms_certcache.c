/*
 * The decoded-certificate cache (cms/cms_certcache.c): a repeated
 * certificate is served from the cache, a changed one never is, the size
 * stays bounded, decrypt reuses the cache across messages, and a cache
 * shared by several ctxs (threads) answers each with what it asked for,
 * replacing the least recently used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "cms/cms_certcache.h"
#include "tests/unit/cms_test_support.h"

struct fixture {
	EVP_PKEY *key;
	X509 *cert;
	unsigned char *der;
	size_t der_len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int len;

	assert_non_null(f);
	f->key = cts_key(NID_X9_62_prime256v1);
	f->cert = cts_cert("cache-leaf", f->key, NULL, NULL, 0, 7);
	len = i2d_X509(f->cert, &f->der);
	assert_true(len > 0);
	f->der_len = (size_t)len;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	OPENSSL_free(f->der);
	X509_free(f->cert);
	EVP_PKEY_free(f->key);
	free(f);
	return 0;
}

/* DER of the fixture certificate with the last signature byte set to v:
 * still a well-formed certificate, but different bytes. */
static unsigned char *variant(const struct fixture *f, unsigned char v)
{
	unsigned char *d = OPENSSL_memdup(f->der, f->der_len);

	assert_non_null(d);
	d[f->der_len - 1] = v;
	return d;
}

static void test_hit_returns_same_parse(void **state)
{
	struct fixture *f = *state;
	smscms_ctx *ctx = smscms_ctx_new();
	struct cms_cert_info a, b;
	unsigned char pub[CMS_CERTCACHE_MAX_PUB];
	size_t pub_len = 0;

	assert_non_null(ctx);
	assert_int_equal(cms_certcache_decode(ctx, f->der, f->der_len, &a), 1);
	assert_int_equal(cms_certcache_decode(ctx, f->der, f->der_len, &b), 1);
	assert_ptr_equal(a.cert, b.cert);
	assert_int_equal(cms_certcache_size(ctx), 1);
	assert_int_equal(X509_cmp(a.cert, f->cert), 0);
	assert_int_equal(a.nid, NID_X9_62_prime256v1);
	assert_true(EVP_PKEY_get_octet_string_param(f->key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &pub_len));
	assert_int_equal(a.pub_len, pub_len);
	assert_memory_equal(a.pub, pub, pub_len);
	X509_free(a.cert);
	X509_free(b.cert);
	smscms_ctx_free(ctx);
}

static void test_changed_cert_not_served(void **state)
{
	struct fixture *f = *state;
	smscms_ctx *ctx = smscms_ctx_new();
	unsigned char *d = variant(f, (unsigned char)(f->der[f->der_len - 1] ^ 0x01));
	unsigned char *back = NULL;
	struct cms_cert_info a, b, c;
	int len;

	assert_int_equal(cms_certcache_decode(ctx, f->der, f->der_len, &a), 1);
	assert_int_equal(cms_certcache_decode(ctx, d, f->der_len, &b), 1);
	assert_ptr_not_equal(a.cert, b.cert);
	assert_int_not_equal(X509_cmp(a.cert, b.cert), 0);
	len = i2d_X509(b.cert, &back);
	assert_int_equal((size_t)len, f->der_len);
	assert_memory_equal(back, d, f->der_len);
	assert_int_equal(cms_certcache_size(ctx), 2);
	/* Truncated input is refused and not cached. */
	assert_int_equal(cms_certcache_decode(ctx, f->der, f->der_len - 1, &c), 0);
	assert_null(c.cert);
	assert_int_equal(cms_certcache_size(ctx), 2);
	OPENSSL_free(back);
	OPENSSL_free(d);
	X509_free(a.cert);
	X509_free(b.cert);
	smscms_ctx_free(ctx);
}

static void test_size_is_bounded(void **state)
{
	struct fixture *f = *state;
	smscms_ctx *ctx = smscms_ctx_new();
	struct cms_cert_info first, again, last, last2;
	unsigned i;

	for (i = 0; i < 2 * CMS_CERTCACHE_SLOTS; i++) {
		unsigned char *d = variant(f, (unsigned char)i);
		struct cms_cert_info ci;

		assert_int_equal(cms_certcache_decode(ctx, d, f->der_len, &ci), 1);
		if (i == 0)
			first = ci;
		else if (i == 2 * CMS_CERTCACHE_SLOTS - 1)
			last = ci;
		else
			X509_free(ci.cert);
		assert_true(cms_certcache_size(ctx) <= CMS_CERTCACHE_SLOTS);
		OPENSSL_free(d);
	}
	assert_int_equal(cms_certcache_size(ctx), CMS_CERTCACHE_SLOTS);
	{
		unsigned char *d0 = variant(f, 0);
		unsigned char *dn = variant(f, (unsigned char)(2 * CMS_CERTCACHE_SLOTS - 1));

		/* The first was evicted (we still hold it, so a new parse cannot
		 * share its address); the last is still cached. */
		assert_int_equal(cms_certcache_decode(ctx, d0, f->der_len, &again), 1);
		assert_ptr_not_equal(again.cert, first.cert);
		assert_int_equal(X509_cmp(again.cert, first.cert), 0);
		assert_int_equal(cms_certcache_decode(ctx, dn, f->der_len, &last2), 1);
		assert_ptr_equal(last2.cert, last.cert);
		OPENSSL_free(d0);
		OPENSSL_free(dn);
	}
	assert_int_equal(cms_certcache_size(ctx), CMS_CERTCACHE_SLOTS);
	X509_free(first.cert);
	X509_free(again.cert);
	X509_free(last.cert);
	X509_free(last2.cert);
	smscms_ctx_free(ctx);
}

/* Two originators through one ctx: each message reports its own originator,
 * and a repeated originator is answered from the cache. */
static void test_decrypt_uses_cache(void **state)
{
	struct cts_pki pki;
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_identity *o1, *o2, *r;
	smscms_encrypt_opts opts;
	smscms_originator a, b, c;
	unsigned char *der[3] = { NULL, NULL, NULL }, *pt = NULL;
	size_t der_len[3], pt_len = 0;
	X509 *rc;
	int i;

	(void)state;
	cts_pki_init(&pki, NID_X9_62_prime256v1, "cache");
	o1 = cts_leaf(&pki, "orig-one", 101, 0);
	o2 = cts_leaf(&pki, "orig-two", 102, 0);
	r = cts_leaf(&pki, "rcpt", 103, 0);
	rc = smscms_identity_cert(r);
	smscms_encrypt_opts_init(&opts);
	for (i = 0; i < 3; i++)
		assert_int_equal(smscms_encrypt(ctx, &opts, i == 1 ? o2 : o1, &rc, 1,
		                                (const unsigned char *)"hi", 2, &der[i], &der_len[i]),
		                 SMSCMS_OK);
	assert_int_equal(smscms_decrypt(ctx, NULL, r, NULL, der[0], der_len[0], &pt, &pt_len, &a), SMSCMS_OK);
	OPENSSL_free(pt);
	assert_int_equal(smscms_decrypt(ctx, NULL, r, NULL, der[1], der_len[1], &pt, &pt_len, &b), SMSCMS_OK);
	OPENSSL_free(pt);
	assert_int_equal(smscms_decrypt(ctx, NULL, r, NULL, der[2], der_len[2], &pt, &pt_len, &c), SMSCMS_OK);
	assert_int_equal(pt_len, 2);
	assert_memory_equal(pt, "hi", 2);
	OPENSSL_free(pt);
	assert_int_equal(X509_cmp(a.cert, smscms_identity_cert(o1)), 0);
	assert_int_equal(X509_cmp(b.cert, smscms_identity_cert(o2)), 0);
	assert_ptr_equal(a.cert, c.cert);
	assert_ptr_not_equal(a.cert, b.cert);
	smscms_originator_clear(&a);
	smscms_originator_clear(&b);
	smscms_originator_clear(&c);
	for (i = 0; i < 3; i++)
		OPENSSL_free(der[i]);
	smscms_identity_free(o1);
	smscms_identity_free(o2);
	smscms_identity_free(r);
	cts_pki_free(&pki);
	smscms_ctx_free(ctx);
}

/* Two ctxs on one shared cache: the second ctx is answered with the first
 * one's parse, the counts say so, and the cache outlives the handle its
 * creator dropped for as long as a ctx uses it. */
static void test_shared_between_ctxs(void **state)
{
	struct fixture *f = *state;
	smscms_certcache *cache = smscms_certcache_new(8);
	smscms_ctx *a = smscms_ctx_new(), *b = smscms_ctx_new();
	struct cms_cert_info x, y;
	unsigned long long hits, misses;
	size_t held;

	assert_non_null(cache);
	smscms_ctx_use_certcache(a, cache);
	smscms_ctx_use_certcache(b, cache);
	smscms_certcache_free(cache);   /* the ctxs hold it now */
	assert_int_equal(cms_certcache_decode(a, f->der, f->der_len, &x), 1);
	assert_int_equal(cms_certcache_decode(b, f->der, f->der_len, &y), 1);
	assert_ptr_equal(x.cert, y.cert);
	assert_int_equal(cms_certcache_size(a), 1);
	assert_int_equal(cms_certcache_size(b), 1);
	smscms_certcache_stats(a->certs, &held, &hits, &misses);
	assert_int_equal(held, 1);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 1);
	smscms_ctx_free(a);
	/* b still works on the cache a dropped. */
	X509_free(y.cert);
	assert_int_equal(cms_certcache_decode(b, f->der, f->der_len, &y), 1);
	assert_ptr_equal(x.cert, y.cert);
	X509_free(x.cert);
	X509_free(y.cert);
	smscms_ctx_free(b);
	assert_null(smscms_certcache_new(0));
}

/* Least recently used goes: a, b, c in a cache of 3, a used again, d in:
 * b is the one parsed again. */
static void test_least_recently_used_goes(void **state)
{
	struct fixture *f = *state;
	smscms_certcache *cache = smscms_certcache_new(3);
	smscms_ctx *ctx = smscms_ctx_new();
	struct cms_cert_info ci[4], again;
	unsigned char *d[4];
	unsigned long long hits, misses;
	size_t held;
	int i;

	smscms_ctx_use_certcache(ctx, cache);
	for (i = 0; i < 4; i++)
		d[i] = variant(f, (unsigned char)(0x40 + i));
	for (i = 0; i < 3; i++)
		assert_int_equal(cms_certcache_decode(ctx, d[i], f->der_len, &ci[i]), 1);
	assert_int_equal(cms_certcache_decode(ctx, d[0], f->der_len, &again), 1);
	assert_ptr_equal(again.cert, ci[0].cert);
	X509_free(again.cert);
	assert_int_equal(cms_certcache_decode(ctx, d[3], f->der_len, &ci[3]), 1);
	smscms_certcache_stats(cache, &held, &hits, &misses);
	assert_int_equal(held, 3);
	assert_int_equal(misses, 4);
	assert_int_equal(hits, 1);
	/* a and c are still there, b was parsed again. */
	assert_int_equal(cms_certcache_decode(ctx, d[0], f->der_len, &again), 1);
	assert_ptr_equal(again.cert, ci[0].cert);
	X509_free(again.cert);
	assert_int_equal(cms_certcache_decode(ctx, d[2], f->der_len, &again), 1);
	assert_ptr_equal(again.cert, ci[2].cert);
	X509_free(again.cert);
	assert_int_equal(cms_certcache_decode(ctx, d[1], f->der_len, &again), 1);
	assert_ptr_not_equal(again.cert, ci[1].cert);
	assert_int_equal(X509_cmp(again.cert, ci[1].cert), 0);
	X509_free(again.cert);
	smscms_certcache_stats(cache, &held, &hits, &misses);
	assert_int_equal(held, 3);
	assert_int_equal(misses, 5);
	for (i = 0; i < 4; i++) {
		X509_free(ci[i].cert);
		OPENSSL_free(d[i]);
	}
	smscms_certcache_free(cache);
	smscms_ctx_free(ctx);
}

#define SHARE_THREADS 4
#define SHARE_CERTS 48

struct share_run {
	const struct fixture *f;
	smscms_certcache *cache;
	unsigned char *der[SHARE_CERTS];
	int failures;
};

/* One thread with its own ctx on the shared cache: every answer is the
 * certificate asked for, whatever the other threads evict meanwhile. */
static void *share_thread(void *arg)
{
	struct share_run *r = arg;
	smscms_ctx *ctx = smscms_ctx_new();
	int i, k;

	smscms_ctx_use_certcache(ctx, r->cache);
	for (k = 0; k < 20; k++) {
		for (i = 0; i < SHARE_CERTS; i++) {
			const unsigned char *p = r->der[(i * 7 + k) % SHARE_CERTS];
			struct cms_cert_info ci;
			unsigned char *back = NULL;
			int len;

			if (cms_certcache_decode(ctx, p, r->f->der_len, &ci) != 1) {
				__atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
				continue;
			}
			len = i2d_X509(ci.cert, &back);
			if (len != (int)r->f->der_len || memcmp(back, p, r->f->der_len) != 0)
				__atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
			OPENSSL_free(back);
			X509_free(ci.cert);
		}
	}
	smscms_ctx_free(ctx);
	return NULL;
}

/* Threads on a cache smaller than what they ask for: hits, misses and
 * evictions interleave under the lock. */
static void test_threads_share_cache(void **state)
{
	struct share_run r = { .f = *state, .cache = smscms_certcache_new(SHARE_CERTS / 3) };
	pthread_t t[SHARE_THREADS];
	unsigned long long hits, misses;
	size_t held;
	int i;

	assert_non_null(r.cache);
	for (i = 0; i < SHARE_CERTS; i++)
		r.der[i] = variant(r.f, (unsigned char)(0x80 + i));
	for (i = 0; i < SHARE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, share_thread, &r), 0);
	for (i = 0; i < SHARE_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(r.failures, 0);
	smscms_certcache_stats(r.cache, &held, &hits, &misses);
	assert_int_equal(held, SHARE_CERTS / 3);
	assert_int_equal(hits + misses, (unsigned long long)SHARE_THREADS * 20 * SHARE_CERTS);
	for (i = 0; i < SHARE_CERTS; i++)
		OPENSSL_free(r.der[i]);
	smscms_certcache_free(r.cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hit_returns_same_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_cert_not_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_is_bounded, setup, teardown),
		cmocka_unit_test(test_decrypt_uses_cache),
		cmocka_unit_test_setup_teardown(test_shared_between_ctxs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_least_recently_used_goes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_share_cache, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
