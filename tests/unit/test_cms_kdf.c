/*
 * KEK derivation and key wrap: X9.63 KDF against NIST CAVS vectors, the DER
 * of ECC-CMS-SharedInfo against bytes written out from the RFC 5753 ASN.1,
 * AES key wrap against RFC 3394, and the GCM AAD re-tagging of authAttrs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "cms/cms_asn1.h"
#include "cms/cms_kek.h"
#include "cms/smscms.h"
#include "tests/unit/cms_test_support.h"

static unsigned char *hex(const char *s, size_t *len)
{
	long n = 0;
	unsigned char *b = OPENSSL_hexstr2buf(s, &n);

	assert_non_null(b);
	*len = (size_t)n;
	return b;
}

static void kdf_check(const char *md, const char *z_hex, const char *info_hex, const char *out_hex)
{
	size_t z_len, info_len = 0, out_len;
	unsigned char *z = hex(z_hex, &z_len);
	unsigned char *info = info_hex != NULL ? hex(info_hex, &info_len) : NULL;
	unsigned char *want = hex(out_hex, &out_len);
	unsigned char got[256];

	assert_true(out_len <= sizeof(got));
	assert_int_equal(cms_kek_derive(NULL, EVP_get_digestbyname(md), z, z_len, info, info_len, got, out_len), 1);
	assert_memory_equal(got, want, out_len);
	OPENSSL_free(z);
	OPENSSL_free(info);
	OPENSSL_free(want);
}

/* NIST CAVS 12.0 ANSI X9.63 KDF (SP 800-135) vectors. */
static void test_x963_kdf_cavs(void **state)
{
	(void)state;
	kdf_check("SHA256", "96c05619d56c328ab95fe84b18264b08725b85e33fd34f08", NULL,
	          "443024c3dae66b95e6f5670601558f71");
	kdf_check("SHA256", "22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d",
	          "75eef81aa3041e33b80971203d2c0c52",
	          "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e"
	          "52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485"
	          "500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269"
	          "142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21");
}

/* ECC-CMS-SharedInfo ::= SEQUENCE { keyInfo AlgorithmIdentifier,
 *   entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
 *   suppPubInfo [2] EXPLICIT OCTET STRING } */
static void test_shared_info_der(void **state)
{
	static const unsigned char want256[] = {
		0x30, 0x15, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2d,
		0xa2, 0x06, 0x04, 0x04, 0x00, 0x00, 0x01, 0x00,
	};
	static const unsigned char want128_ukm[] = {
		0x30, 0x1d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x05,
		0xa0, 0x06, 0x04, 0x04, 0xde, 0xad, 0xbe, 0xef,
		0xa2, 0x06, 0x04, 0x04, 0x00, 0x00, 0x00, 0x80,
	};
	static const unsigned char ukm[] = { 0xde, 0xad, 0xbe, 0xef };
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cms_kek_shared_info(NID_id_aes256_wrap, NULL, 0, 32, &der, &len), 1);
	assert_int_equal(len, sizeof(want256));
	assert_memory_equal(der, want256, len);
	OPENSSL_free(der);
	assert_int_equal(cms_kek_shared_info(NID_id_aes128_wrap, ukm, sizeof(ukm), 16, &der, &len), 1);
	assert_int_equal(len, sizeof(want128_ukm));
	assert_memory_equal(der, want128_ukm, len);
	OPENSSL_free(der);
}

static void wrap_check(const char *kek_hex, const char *key_hex, const char *ct_hex)
{
	size_t kek_len, key_len, ct_len, out_len = 0, back_len = 0;
	unsigned char *kek = hex(kek_hex, &kek_len), *key = hex(key_hex, &key_len), *ct = hex(ct_hex, &ct_len);
	unsigned char out[64], back[64];

	assert_int_equal(cms_kek_wrap(NULL, kek, kek_len, key, key_len, out, &out_len), 1);
	assert_int_equal(out_len, ct_len);
	assert_memory_equal(out, ct, ct_len);
	assert_int_equal(cms_kek_unwrap(NULL, kek, kek_len, ct, ct_len, back, &back_len), 1);
	assert_int_equal(back_len, key_len);
	assert_memory_equal(back, key, key_len);
	/* Integrity check of the wrap: one flipped bit is refused. */
	ct[3] ^= 0x10;
	assert_int_equal(cms_kek_unwrap(NULL, kek, kek_len, ct, ct_len, back, &back_len), 0);
	OPENSSL_free(kek);
	OPENSSL_free(key);
	OPENSSL_free(ct);
}

/* RFC 3394 sections 4.1 and 4.6. */
static void test_key_wrap_rfc3394(void **state)
{
	(void)state;
	wrap_check("000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
	           "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
	wrap_check("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
	           "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
	           "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
}

/* RFC 5083: the AAD is authAttrs with the SET OF tag. Encrypt a message,
 * then find the [1] IMPLICIT encoding in it: it must equal the AAD with only
 * the first byte changed from 0x31 to 0xa1. */
static void test_gcm_aad_retagging(void **state)
{
	struct cts_pki pki;
	smscms_identity *orig, *rcpt;
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_encrypt_opts o;
	STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
	X509_ATTRIBUTE *a;
	ASN1_TIME *t;
	X509 *rc;
	unsigned char *der = NULL, *aad = NULL;
	size_t der_len = 0;
	int aad_len, found = 0;

	(void)state;
	assert_non_null(ctx);
	cts_pki_init(&pki, NID_X9_62_prime256v1, "aad");
	orig = cts_leaf(&pki, "orig", 10, 0);
	rcpt = cts_leaf(&pki, "rcpt", 11, 0);
	rc = smscms_identity_cert(rcpt);
	smscms_encrypt_opts_init(&o);
	assert_int_equal(smscms_encrypt(ctx, &o, orig, &rc, 1, (const unsigned char *)"x", 1, &der, &der_len),
	                 SMSCMS_OK);
	/* Rebuild the attributes the message must carry from the message itself. */
	{
		CMSX_CONTENTINFO *ci;
		CMSX_AUTHENV *env;
		const unsigned char *p = der;

		ci = d2i_CMSX_CONTENTINFO(NULL, &p, (long)der_len);
		assert_non_null(ci);
		p = ci->content->value.sequence->data;
		env = d2i_CMSX_AUTHENV(NULL, &p, ci->content->value.sequence->length);
		assert_non_null(env);
		assert_int_equal(sk_X509_ATTRIBUTE_num(env->auth_attrs), 1);
		aad_len = cms_asn1_attrs_aad(env->auth_attrs, &aad);
		assert_true(aad_len > 2);
		CMSX_AUTHENV_free(env);
		CMSX_CONTENTINFO_free(ci);
	}
	assert_int_equal(aad[0], 0x31);
	aad[0] = 0xa1;
	for (size_t i = 0; i + (size_t)aad_len <= der_len; i++)
		found += memcmp(der + i, aad, (size_t)aad_len) == 0;
	assert_int_equal(found, 1);
	/* The ordered encoder keeps the order it was given (no re-sorting). */
	t = ASN1_TIME_set(NULL, 0);
	assert_non_null(t);
	a = X509_ATTRIBUTE_create(NID_pkcs9_signingTime, t->type, t);
	assert_non_null(a);
	assert_true(sk_X509_ATTRIBUTE_push(attrs, a) > 0);
	OPENSSL_free(aad);
	aad_len = cms_asn1_attrs_aad(attrs, &aad);
	assert_true(aad_len > 0);
	assert_int_equal(aad[0], 0x31);
	sk_X509_ATTRIBUTE_pop_free(attrs, X509_ATTRIBUTE_free);
	OPENSSL_free(aad);
	OPENSSL_free(der);
	smscms_identity_free(orig);
	smscms_identity_free(rcpt);
	cts_pki_free(&pki);
	smscms_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x963_kdf_cavs),
		cmocka_unit_test(test_shared_info_der),
		cmocka_unit_test(test_key_wrap_rfc3394),
		cmocka_unit_test(test_gcm_aad_retagging),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
