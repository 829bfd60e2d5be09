/*
 * RFC 3274 CompressedData inside AuthEnvelopedData: round trip (plain and
 * signed content types), the decompression bound (a bomb is refused, the
 * exact limit passes), and damaged compressed content (truncated DER, a
 * corrupt zlib stream, another algorithm) refused as malformed/unsupported.
 * And the smaller originatorInfo that goes with it: a sender carrying its
 * own certificate only verifies when the receiver holds the CA above it
 * (smscms_verifier_set_intermediates), still against the root and CRLs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "cms/smscms.h"
#include "cms/cms_compress.h"
#include "tests/unit/cms_test_support.h"

struct cz_fixture {
	struct cts_pki pki;
	smscms_identity *orig, *rcpt;
};

static int cz_setup(void **state)
{
	static struct cz_fixture f;

	cts_pki_init(&f.pki, NID_X9_62_prime256v1, "compress");
	f.orig = cts_leaf(&f.pki, "originator", 100, 0);
	f.rcpt = cts_leaf(&f.pki, "recipient", 200, 0);
	*state = &f;
	return 0;
}

static int cz_teardown(void **state)
{
	struct cz_fixture *f = *state;

	smscms_identity_free(f->orig);
	smscms_identity_free(f->rcpt);
	cts_pki_free(&f->pki);
	cts_dir_remove();
	return 0;
}

static smscms_status seal(struct cz_fixture *f, smscms_ctx *ctx, int compress, int nid, const unsigned char *pt,
                          size_t len, unsigned char **der, size_t *der_len)
{
	smscms_encrypt_opts o;
	X509 *r = smscms_identity_cert(f->rcpt);

	smscms_encrypt_opts_init(&o);
	o.compress = compress;
	o.content_type_nid = nid;
	return smscms_encrypt(ctx, &o, f->orig, &r, 1, pt, len, der, der_len);
}

static void test_compress_roundtrip(void **state)
{
	struct cz_fixture *f = *state;
	smscms_ctx *ctx = smscms_ctx_new();
	static const int nids[] = { NID_pkcs7_data, NID_pkcs7_signed };
	unsigned char pt[20000], *der, *out;
	size_t der_len, out_len, plain_len = 0;
	smscms_originator orig;

	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (unsigned char)("{\"group\":\"engine\",\"value\":12.5}"[i % 31]);
	assert_int_equal(seal(f, ctx, 0, 0, pt, sizeof(pt), &der, &plain_len), SMSCMS_OK);
	OPENSSL_free(der);
	for (size_t k = 0; k < 2; k++) {
		assert_int_equal(seal(f, ctx, 1, nids[k], pt, sizeof(pt), &der, &der_len), SMSCMS_OK);
		assert_true(der_len < plain_len / 4);
		assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt, NULL, der, der_len, &out, &out_len, &orig),
		                 SMSCMS_OK);
		assert_int_equal(out_len, sizeof(pt));
		assert_memory_equal(out, pt, sizeof(pt));
		assert_int_equal(orig.compressed, 1);
		assert_int_equal(orig.content_type_nid, nids[k]);
		smscms_originator_clear(&orig);
		OPENSSL_free(out);
		OPENSSL_free(der);
	}
	/* Uncompressed messages say so. */
	assert_int_equal(seal(f, ctx, 0, 0, pt, 10, &der, &der_len), SMSCMS_OK);
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt, NULL, der, der_len, &out, &out_len, &orig), SMSCMS_OK);
	assert_int_equal(orig.compressed, 0);
	smscms_originator_clear(&orig);
	OPENSSL_free(out);
	OPENSSL_free(der);
	smscms_ctx_free(ctx);
}

static void test_compress_bomb_refused(void **state)
{
	struct cz_fixture *f = *state;
	smscms_ctx *ctx = smscms_ctx_new();
	size_t big = 8u << 20, der_len, out_len;
	unsigned char *zeros = OPENSSL_zalloc(big), *der, *out = NULL;
	smscms_limits lim;

	assert_non_null(zeros);
	/* 8 MiB of zeros: about 8 KB on the wire. */
	assert_int_equal(seal(f, ctx, 1, 0, zeros, big, &der, &der_len), SMSCMS_OK);
	assert_true(der_len < 16384);
	smscms_limits_init(&lim);
	assert_int_equal(smscms_decrypt(ctx, &lim, f->rcpt, NULL, der, der_len, &out, &out_len, NULL),
	                 SMSCMS_ERR_TOO_LARGE);
	assert_null(out);
	assert_non_null(strstr(smscms_ctx_error(ctx), "beyond the limit of 1048576"));
	OPENSSL_free(der);
	/* Exactly the limit passes, one byte more does not. */
	lim.max_content = 4096;
	assert_int_equal(seal(f, ctx, 1, 0, zeros, 4096, &der, &der_len), SMSCMS_OK);
	assert_int_equal(smscms_decrypt(ctx, &lim, f->rcpt, NULL, der, der_len, &out, &out_len, NULL), SMSCMS_OK);
	assert_int_equal(out_len, 4096);
	OPENSSL_free(out);
	OPENSSL_free(der);
	assert_int_equal(seal(f, ctx, 1, 0, zeros, 4097, &der, &der_len), SMSCMS_OK);
	assert_int_equal(smscms_decrypt(ctx, &lim, f->rcpt, NULL, der, der_len, &out, &out_len, NULL),
	                 SMSCMS_ERR_TOO_LARGE);
	OPENSSL_free(der);
	OPENSSL_free(zeros);
	smscms_ctx_free(ctx);
}

static void test_compress_damaged(void **state)
{
	smscms_ctx *ctx = smscms_ctx_new();
	static const unsigned char pt[] = "{\"equipment\":\"EQ1\",\"values\":[1,2,3,4,5,6,7,8,9]}";
	unsigned char *der, *out = NULL;
	size_t der_len, out_len, cut;
	int nid;

	(void)state;
	assert_int_equal(cms_compress_wrap(ctx, NID_pkcs7_data, pt, sizeof(pt), &der, &der_len), SMSCMS_OK);
	assert_int_equal(cms_compress_unwrap(ctx, 1024, der, der_len, &nid, &out, &out_len), SMSCMS_OK);
	assert_int_equal(nid, NID_pkcs7_data);
	assert_memory_equal(out, pt, sizeof(pt));
	OPENSSL_free(out);
	/* Every truncation is refused, none crashes or returns content. */
	for (cut = 0; cut < der_len; cut++) {
		assert_int_not_equal(cms_compress_unwrap(ctx, 1024, der, cut, &nid, &out, &out_len), SMSCMS_OK);
		assert_null(out);
	}
	/* The zlib stream ends in its Adler-32: a flipped bit there is a corrupt stream. */
	der[der_len - 1] ^= 0x01;
	assert_int_equal(cms_compress_unwrap(ctx, 1024, der, der_len, &nid, &out, &out_len), SMSCMS_ERR_MALFORMED);
	der[der_len - 1] ^= 0x01;
	/* Another compression algorithm (the OID's last arc) is unsupported. */
	{
		static const unsigned char zlib_oid[] = { 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		                                          0x01, 0x09, 0x10, 0x03, 0x08 };
		int found = 0;

		for (size_t i = 0; i + sizeof(zlib_oid) <= der_len && !found; i++) {
			if (memcmp(der + i, zlib_oid, sizeof(zlib_oid)) != 0)
				continue;
			found = 1;
			der[i + sizeof(zlib_oid) - 1] = 0x09;
			assert_int_equal(cms_compress_unwrap(ctx, 1024, der, der_len, &nid, &out, &out_len),
			                 SMSCMS_ERR_UNSUPPORTED);
			der[i + sizeof(zlib_oid) - 1] = 0x08;
		}
		assert_true(found);
	}
	/* Bytes after the DER. */
	assert_int_equal(cms_compress_unwrap(ctx, 1024, (const unsigned char *)"\x30\x00", 2, &nid, &out, &out_len),
	                 SMSCMS_ERR_MALFORMED);
	OPENSSL_free(der);
	smscms_ctx_free(ctx);
}

static void test_leaf_only_originator(void **state)
{
	struct cz_fixture *f = *state;
	smscms_ctx *ctx = smscms_ctx_new();
	EVP_PKEY *k = cts_key(NID_X9_62_prime256v1);
	X509 *leaf = cts_cert("leaf only", k, f->pki.ca, f->pki.ca_key, 0, 300);
	smscms_identity *me = cts_identity(leaf, k, NULL);
	X509 *r = smscms_identity_cert(f->rcpt);
	STACK_OF(X509) *cas = sk_X509_new_null();
	X509_CRL *crls[2];
	long revoked = 300;
	char root[256], crl[256];
	const char *crl_files[1];
	smscms_verifier *plain = NULL, *with_cas = NULL, *revoking = NULL;
	smscms_encrypt_opts o;
	unsigned char *der, *full_der, *out;
	size_t der_len, full_len, out_len;

	cts_write_cert("root.pem", f->pki.root, root, sizeof(root));
	crls[0] = cts_crl(f->pki.root, f->pki.root_key, NULL, 0);
	crls[1] = cts_crl(f->pki.ca, f->pki.ca_key, NULL, 0);
	crl_files[0] = cts_write_crls("crls.pem", crls, 2, crl, sizeof(crl));
	assert_int_equal(smscms_verifier_new(ctx, root, crl_files, 1, &plain), SMSCMS_OK);
	assert_int_equal(smscms_verifier_new(ctx, root, crl_files, 1, &with_cas), SMSCMS_OK);
	assert_true(sk_X509_push(cas, f->pki.ca) > 0);
	assert_int_equal(smscms_verifier_set_intermediates(ctx, with_cas, cas), SMSCMS_OK);
	assert_int_equal(smscms_verifier_set_intermediates(ctx, with_cas, cas), SMSCMS_ERR_ARGUMENT);
	X509_CRL_free(crls[1]);
	crls[1] = cts_crl(f->pki.ca, f->pki.ca_key, &revoked, 1);
	crl_files[0] = cts_write_crls("crls-revoked.pem", crls, 2, crl, sizeof(crl));
	assert_int_equal(smscms_verifier_new(ctx, root, crl_files, 1, &revoking), SMSCMS_OK);
	assert_int_equal(smscms_verifier_set_intermediates(ctx, revoking, cas), SMSCMS_OK);

	smscms_encrypt_opts_init(&o);
	assert_int_equal(smscms_encrypt(ctx, &o, me, &r, 1, (const unsigned char *)"x", 1, &der, &der_len), SMSCMS_OK);
	assert_int_equal(smscms_encrypt(ctx, &o, f->orig, &r, 1, (const unsigned char *)"x", 1, &full_der, &full_len),
	                 SMSCMS_OK);
	assert_true(der_len + 200 < full_len);
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt, plain, der, der_len, &out, &out_len, NULL),
	                 SMSCMS_ERR_UNTRUSTED);
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt, with_cas, der, der_len, &out, &out_len, NULL), SMSCMS_OK);
	OPENSSL_free(out);
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt, revoking, der, der_len, &out, &out_len, NULL),
	                 SMSCMS_ERR_REVOKED);
	/* A sender with the whole chain verifies either way. */
	assert_int_equal(smscms_decrypt(ctx, NULL, f->rcpt, with_cas, full_der, full_len, &out, &out_len, NULL),
	                 SMSCMS_OK);
	OPENSSL_free(out);
	OPENSSL_free(der);
	OPENSSL_free(full_der);
	X509_CRL_free(crls[0]);
	X509_CRL_free(crls[1]);
	sk_X509_free(cas);
	smscms_verifier_free(plain);
	smscms_verifier_free(with_cas);
	smscms_verifier_free(revoking);
	smscms_identity_free(me);
	X509_free(leaf);
	EVP_PKEY_free(k);
	smscms_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compress_roundtrip),
		cmocka_unit_test(test_compress_bomb_refused),
		cmocka_unit_test(test_compress_damaged),
		cmocka_unit_test(test_leaf_only_originator),
	};
	return cmocka_run_group_tests(tests, cz_setup, cz_teardown);
}
