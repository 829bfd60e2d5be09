/*
 * Encrypt -> decrypt over the option space: every key agreement x KDF hash
 * x cipher x curve, with recipient count, recipient identifier,
 * originatorInfo, authAttrs and Bouncy Castle mode varied across the
 * combinations; every recipient decrypts and the originator description is
 * checked. Plus the verifier (trust, cache, reload) on the happy path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "cms/smscms.h"
#include "cms/cms_verifier.h"
#include "tests/unit/cms_test_support.h"

static const int curves[] = { NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 };

struct rt_fixture {
	struct cts_pki pki[3];
	smscms_identity *orig[3];
	smscms_identity *rcpt[3][3];
};

static int rt_setup(void **state)
{
	static struct rt_fixture f;
	char cn[32];

	for (int c = 0; c < 3; c++) {
		cts_pki_init(&f.pki[c], curves[c], OBJ_nid2sn(curves[c]));
		f.orig[c] = cts_leaf(&f.pki[c], "originator", 100, 0);
		for (int r = 0; r < 3; r++) {
			snprintf(cn, sizeof(cn), "recipient %d", r);
			f.rcpt[c][r] = cts_leaf(&f.pki[c], cn, 200 + r, 0);
		}
	}
	*state = &f;
	return 0;
}

static int rt_teardown(void **state)
{
	struct rt_fixture *f = *state;

	for (int c = 0; c < 3; c++) {
		smscms_identity_free(f->orig[c]);
		for (int r = 0; r < 3; r++)
			smscms_identity_free(f->rcpt[c][r]);
		cts_pki_free(&f->pki[c]);
	}
	cts_dir_remove();
	return 0;
}

static void rt_one(struct rt_fixture *f, int c, const smscms_encrypt_opts *o, size_t n_rcpt,
                   const unsigned char *pt, size_t pt_len)
{
	smscms_ctx *ctx = smscms_ctx_new();
	X509 *rc[3];
	unsigned char *der = NULL;
	size_t der_len = 0;

	assert_non_null(ctx);
	for (size_t r = 0; r < n_rcpt; r++)
		rc[r] = smscms_identity_cert(f->rcpt[c][r]);
	assert_int_equal(smscms_encrypt(ctx, o, f->orig[c], rc, n_rcpt, pt, pt_len, &der, &der_len), SMSCMS_OK);
	for (size_t r = 0; r < n_rcpt; r++) {
		smscms_originator orig;
		unsigned char *out = NULL;
		size_t out_len = 0;
		smscms_status st;

		st = smscms_decrypt(ctx, NULL, f->rcpt[c][r], NULL, der, der_len, &out, &out_len, &orig);
		if (st != SMSCMS_OK)
			fail_msg("ka=%d kdf=%d cipher=%d curve=%d rid=%d bc=%d oi=%d attrs=%d: %s: %s", o->ka, o->kdf,
			         o->cipher, c, o->rid, o->bc_compat, o->originator_info, o->auth_attrs,
			         smscms_status_name(st), smscms_ctx_error(ctx));
		assert_int_equal(out_len, pt_len);
		assert_memory_equal(out, pt, pt_len);
		assert_int_equal(orig.ka, o->ka);
		assert_int_equal(orig.kdf, o->kdf);
		assert_int_equal(orig.cipher, o->cipher);
		assert_int_equal(orig.curve_nid, curves[c]);
		assert_int_equal(orig.has_signing_time, o->auth_attrs);
		if (o->auth_attrs)
			assert_true(orig.signing_time > time(NULL) - 60 && orig.signing_time <= time(NULL));
		assert_int_equal(orig.chain_verified, 0);
		/* Only MQV authenticates an originator; it is found through
		 * originatorInfo (issuer/serial, SKI or matching originatorKey). */
		if (o->ka == SMSCMS_KA_MQV && o->originator_info) {
			assert_non_null(orig.cert);
			assert_int_equal(X509_cmp(orig.cert, smscms_identity_cert(f->orig[c])), 0);
			assert_non_null(strstr(orig.subject, "CN=originator"));
		} else {
			assert_null(orig.cert);
		}
		assert_int_equal(orig.originator_key_form, o->ka == SMSCMS_KA_ECDH || o->bc_compat || !o->originator_info);
		assert_int_equal(orig.bc_shared_info,
		                 o->ka == SMSCMS_KA_MQV && o->bc_compat);
		OPENSSL_free(out);
		smscms_originator_clear(&orig);
	}
	OPENSSL_free(der);
	smscms_ctx_free(ctx);
}

static void test_roundtrip_matrix(void **state)
{
	struct rt_fixture *f = *state;
	const unsigned char pt[] = "{\"equipment\":\"EQ1\",\"seq\":1}";
	unsigned idx = 0;

	for (int ka = 0; ka < 2; ka++)
		for (int kdf = 0; kdf < 5; kdf++)
			for (int cipher = 0; cipher < 2; cipher++)
				for (int c = 0; c < 3; c++, idx++) {
					smscms_encrypt_opts o;

					smscms_encrypt_opts_init(&o);
					o.ka = (smscms_ka)ka;
					o.kdf = (smscms_kdf)kdf;
					o.cipher = (smscms_cipher)cipher;
					/* The remaining switches take every value across the
					 * 60 combinations, in differing pairings. */
					o.rid = (smscms_rid)(idx & 1);
					o.originator_info = !((idx >> 1) & 1) || (idx % 7 == 0);
					o.auth_attrs = !((idx >> 2) & 1);
					o.bc_compat = (idx % 3) == 1;
					rt_one(f, c, &o, (idx % 2) ? 3 : 1, pt, sizeof(pt) - 1);
				}
}

static void test_roundtrip_sizes(void **state)
{
	struct rt_fixture *f = *state;
	smscms_encrypt_opts o;
	unsigned char *big = OPENSSL_malloc(100000);
	size_t sizes[] = { 0, 1, 15, 16, 17, 1024, 100000 };

	assert_non_null(big);
	for (size_t i = 0; i < 100000; i++)
		big[i] = (unsigned char)(i * 31 + 7);
	smscms_encrypt_opts_init(&o);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		rt_one(f, 0, &o, 1, big, sizes[i]);
	OPENSSL_free(big);
}

static void test_roundtrip_extra_attrs(void **state)
{
	struct rt_fixture *f = *state;
	smscms_encrypt_opts o;
	X509_ATTRIBUTE *a;
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	const unsigned char *ders[1];
	size_t lens[1];
	int len;

	assert_non_null(v);
	assert_int_equal(ASN1_OCTET_STRING_set(v, (const unsigned char *)"topic", 5), 1);
	a = X509_ATTRIBUTE_create(NID_id_smime_aa_contentHint,
	                          V_ASN1_OCTET_STRING, v);
	assert_non_null(a);
	len = i2d_X509_ATTRIBUTE(a, &der);
	assert_true(len > 0);
	ders[0] = der;
	lens[0] = (size_t)len;
	smscms_encrypt_opts_init(&o);
	o.extra_attrs_der = ders;
	o.extra_attrs_len = lens;
	o.n_extra_attrs = 1;
	rt_one(f, 0, &o, 2, (const unsigned char *)"hi", 2);
	X509_ATTRIBUTE_free(a);
	OPENSSL_free(der);
}

static void test_verifier_cache_and_reload(void **state)
{
	struct rt_fixture *f = *state;
	struct cts_pki *p = &f->pki[0];
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_verifier *v = NULL;
	smscms_encrypt_opts o;
	smscms_originator orig;
	X509_CRL *crls[2];
	long revoked = 100;
	char root[256], crl[256];
	const char *crl_files[1];
	X509 *rc = smscms_identity_cert(f->rcpt[0][0]);
	unsigned char *der = NULL, *out = NULL;
	size_t der_len = 0, out_len = 0;

	assert_non_null(ctx);
	cts_write_cert("root.pem", p->root, root, sizeof(root));
	crls[0] = cts_crl(p->root, p->root_key, NULL, 0);
	crls[1] = cts_crl(p->ca, p->ca_key, NULL, 0);
	crl_files[0] = cts_write_crls("crls.pem", crls, 2, crl, sizeof(crl));
	X509_CRL_free(crls[1]);
	assert_int_equal(smscms_verifier_new(ctx, root, crl_files, 1, &v), SMSCMS_OK);

	smscms_encrypt_opts_init(&o);
	assert_int_equal(smscms_encrypt(ctx, &o, f->orig[0], &rc, 1, (const unsigned char *)"a", 1, &der, &der_len),
	                 SMSCMS_OK);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt[0][0], v, der, der_len, &out, &out_len, &orig),
		                 SMSCMS_OK);
		assert_int_equal(orig.chain_verified, 1);
		OPENSSL_free(out);
		smscms_originator_clear(&orig);
	}
	/* Revoke the originator in the CRL file: the cached verdict holds until
	 * the reload, which empties the cache. */
	crls[1] = cts_crl(p->ca, p->ca_key, &revoked, 1);
	cts_write_crls("crls.pem", crls, 2, crl, sizeof(crl));
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt[0][0], v, der, der_len, &out, &out_len, NULL), SMSCMS_OK);
	OPENSSL_free(out);
	assert_int_equal(smscms_verifier_reload(ctx, v), SMSCMS_OK);
	out = NULL;
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt[0][0], v, der, der_len, &out, &out_len, NULL),
	                 SMSCMS_ERR_REVOKED);
	assert_null(out);
	assert_non_null(strstr(smscms_ctx_error(ctx), "revoked"));
	X509_CRL_free(crls[0]);
	X509_CRL_free(crls[1]);
	OPENSSL_free(der);
	smscms_verifier_free(v);
	smscms_ctx_free(ctx);
}

/* A fleet larger than the old 1024-entry ring stays cached: every one of
 * FLEET_CERTS verified originators is answered from the cache afterwards
 * (the leaves share one key; their DER, hence their SHA-256, differ). */
#define FLEET_CERTS 1536
static void test_verifier_cache_holds_a_fleet(void **state)
{
	struct rt_fixture *f = *state;
	struct cts_pki *p = &f->pki[0];
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_verifier *v = NULL;
	EVP_PKEY *key = cts_key(p->nid);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 **leaf = calloc(FLEET_CERTS, sizeof(*leaf));
	char root[256], name[32];
	int cached = 0;

	assert_non_null(ctx);
	assert_non_null(leaf);
	assert_non_null(untrusted);
	assert_true(sk_X509_push(untrusted, p->ca) > 0);
	cts_write_cert("root.pem", p->root, root, sizeof(root));
	assert_int_equal(smscms_verifier_new(ctx, root, NULL, 0, &v), SMSCMS_OK);
	for (int i = 0; i < FLEET_CERTS; i++) {
		snprintf(name, sizeof(name), "F%05d", i);
		leaf[i] = cts_cert(name, key, p->ca, p->ca_key, 0, 5000 + i);
		assert_int_equal(cms_verifier_check(ctx, v, leaf[i], untrusted), SMSCMS_OK);
	}
	for (int i = 0; i < FLEET_CERTS; i++) {
		cached += cms_verifier_cached(v, leaf[i]);
		X509_free(leaf[i]);
	}
	assert_int_equal(cached, FLEET_CERTS);
	free(leaf);
	sk_X509_free(untrusted);
	EVP_PKEY_free(key);
	smscms_verifier_free(v);
	smscms_ctx_free(ctx);
}

/* Identities and the verifier are shared by threads, each with its own ctx;
 * the verifier's cache is hit and filled concurrently. */
struct mt_arg {
	struct rt_fixture *f;
	smscms_verifier *v;
	const unsigned char *der;
	size_t der_len;
	int failures;
};

static void *mt_worker(void *p)
{
	struct mt_arg *a = p;
	smscms_ctx *ctx = smscms_ctx_new();

	for (int i = 0; ctx != NULL && i < 40; i++) {
		unsigned char *out = NULL;
		size_t out_len = 0;
		smscms_originator orig;

		if (smscms_decrypt(ctx, NULL, a->f->rcpt[0][i % 3], a->v, a->der, a->der_len, &out, &out_len, &orig) !=
		    SMSCMS_OK || out_len != 2 || memcmp(out, "mt", 2) != 0 || !orig.chain_verified)
			__atomic_add_fetch(&a->failures, 1, __ATOMIC_RELAXED);
		OPENSSL_free(out);
		smscms_originator_clear(&orig);
	}
	smscms_ctx_free(ctx);
	return NULL;
}

static void test_threads_share_identity_and_verifier(void **state)
{
	struct rt_fixture *f = *state;
	struct cts_pki *p = &f->pki[0];
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_verifier *v = NULL;
	smscms_encrypt_opts o;
	X509 *rc[3] = { smscms_identity_cert(f->rcpt[0][0]), smscms_identity_cert(f->rcpt[0][1]),
	                smscms_identity_cert(f->rcpt[0][2]) };
	char root[256];
	pthread_t th[4];
	struct mt_arg a;

	assert_non_null(ctx);
	memset(&a, 0, sizeof(a));
	cts_write_cert("mt-root.pem", p->root, root, sizeof(root));
	assert_int_equal(smscms_verifier_new(ctx, root, NULL, 0, &v), SMSCMS_OK);
	smscms_encrypt_opts_init(&o);
	assert_int_equal(smscms_encrypt(ctx, &o, f->orig[0], rc, 3, (const unsigned char *)"mt", 2,
	                                (unsigned char **)&a.der, &a.der_len), SMSCMS_OK);
	a.f = f;
	a.v = v;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, mt_worker, &a), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(a.failures, 0);
	OPENSSL_free((void *)a.der);
	smscms_verifier_free(v);
	smscms_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_matrix),
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_roundtrip_extra_attrs),
		cmocka_unit_test(test_verifier_cache_and_reload),
		cmocka_unit_test(test_verifier_cache_holds_a_fleet),
		cmocka_unit_test(test_threads_share_identity_and_verifier),
	};

	return cmocka_run_group_tests(tests, rt_setup, rt_teardown);
}
