/*
 * Refusals: tampering with each part of a message, wrong recipient,
 * untrusted and revoked originators, truncation at every length, size and
 * count limits, unsupported content, and the distinct status of each.
 * Every refusal must leave *pt NULL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "cms/cms_asn1.h"
#include "cms/smscms.h"
#include "tests/unit/cms_test_support.h"

struct neg {
	struct cts_pki pki, other;
	smscms_identity *orig, *rcpt, *stranger, *rogue;
	smscms_ctx *ctx;
	char root[256], other_root[256], crl_ok[256], crl_revoked[256];
};

static int neg_setup(void **state)
{
	static struct neg n;
	X509_CRL *crls[2];
	long revoked = 10;

	cts_pki_init(&n.pki, NID_X9_62_prime256v1, "neg");
	cts_pki_init(&n.other, NID_X9_62_prime256v1, "other");
	n.orig = cts_leaf(&n.pki, "originator", 10, 0);
	n.rcpt = cts_leaf(&n.pki, "recipient", 11, 0);
	n.stranger = cts_leaf(&n.pki, "stranger", 12, 0);
	n.rogue = cts_leaf(&n.other, "rogue", 10, 0);
	n.ctx = smscms_ctx_new();
	assert_non_null(n.ctx);
	cts_write_cert("root.pem", n.pki.root, n.root, sizeof(n.root));
	cts_write_cert("other.pem", n.other.root, n.other_root, sizeof(n.other_root));
	crls[0] = cts_crl(n.pki.root, n.pki.root_key, NULL, 0);
	crls[1] = cts_crl(n.pki.ca, n.pki.ca_key, NULL, 0);
	cts_write_crls("ok.pem", crls, 2, n.crl_ok, sizeof(n.crl_ok));
	X509_CRL_free(crls[1]);
	crls[1] = cts_crl(n.pki.ca, n.pki.ca_key, &revoked, 1);
	cts_write_crls("revoked.pem", crls, 2, n.crl_revoked, sizeof(n.crl_revoked));
	X509_CRL_free(crls[0]);
	X509_CRL_free(crls[1]);
	*state = &n;
	return 0;
}

static int neg_teardown(void **state)
{
	struct neg *n = *state;

	smscms_identity_free(n->orig);
	smscms_identity_free(n->rcpt);
	smscms_identity_free(n->stranger);
	smscms_identity_free(n->rogue);
	cts_pki_free(&n->pki);
	cts_pki_free(&n->other);
	smscms_ctx_free(n->ctx);
	cts_dir_remove();
	return 0;
}

static void neg_encrypt(struct neg *n, const smscms_identity *orig, smscms_ka ka, int attrs,
                        unsigned char **der, size_t *len)
{
	smscms_encrypt_opts o;
	X509 *rc = smscms_identity_cert(n->rcpt);

	smscms_encrypt_opts_init(&o);
	o.ka = ka;
	o.auth_attrs = attrs;
	assert_int_equal(smscms_encrypt(n->ctx, &o, orig, &rc, 1, (const unsigned char *)"secret snapshot", 15,
	                                der, len), SMSCMS_OK);
}

static smscms_status neg_decrypt(struct neg *n, const smscms_identity *who, smscms_verifier *v,
                                 const smscms_limits *lim, const unsigned char *der, size_t len)
{
	unsigned char *pt = (unsigned char *)"sentinel";
	size_t pt_len = 99;
	smscms_status st = smscms_decrypt(n->ctx, lim, who, v, der, len, &pt, &pt_len, NULL);

	if (st != SMSCMS_OK) {
		assert_null(pt);
		assert_int_equal(pt_len, 0);
		assert_true(strlen(smscms_ctx_error(n->ctx)) > 0);
	}
	OPENSSL_free(st == SMSCMS_OK ? pt : NULL);
	return st;
}

/* Offset of the unique occurrence of needle in hay. */
static size_t neg_find(const unsigned char *hay, size_t hay_len, const unsigned char *needle, size_t len)
{
	size_t at = 0, hits = 0;

	for (size_t i = 0; i + len <= hay_len; i++) {
		if (memcmp(hay + i, needle, len) == 0) {
			at = i;
			hits++;
		}
	}
	assert_int_equal(hits, 1);
	return at;
}

/* The parsed message, to locate its fields in the DER. */
static CMSX_AUTHENV *neg_parse(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMSX_CONTENTINFO *ci = d2i_CMSX_CONTENTINFO(NULL, &p, (long)len);
	CMSX_AUTHENV *env;

	assert_non_null(ci);
	p = ci->content->value.sequence->data;
	env = d2i_CMSX_AUTHENV(NULL, &p, ci->content->value.sequence->length);
	assert_non_null(env);
	CMSX_CONTENTINFO_free(ci);
	return env;
}

static void neg_flip(struct neg *n, unsigned char *der, size_t len, size_t at, unsigned char bit,
                     smscms_status want)
{
	der[at] ^= bit;
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, NULL, der, len), want);
	der[at] ^= bit;
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, NULL, der, len), SMSCMS_OK);
}

static void test_tamper_each_part(void **state)
{
	struct neg *n = *state;
	unsigned char *der = NULL;
	size_t len = 0, at;
	CMSX_AUTHENV *env;
	CMSX_KARI *kari;
	CMSX_GCM_PARAMS *gcm;
	const unsigned char *p;
	CMSX_MQV_UKM *ukm;
	ASN1_TYPE *tv;

	neg_encrypt(n, n->orig, SMSCMS_KA_MQV, 1, &der, &len);
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, NULL, der, len), SMSCMS_OK);
	env = neg_parse(der, len);
	kari = sk_CMSX_RECIPINFO_value(env->recipient_infos, 0)->d.kari;

	/* ciphertext, tag */
	at = neg_find(der, len, env->enc_content->content->data, (size_t)env->enc_content->content->length);
	neg_flip(n, der, len, at + 3, 0x04, SMSCMS_ERR_AUTH);
	at = neg_find(der, len, env->mac->data, (size_t)env->mac->length);
	neg_flip(n, der, len, at + 15, 0x80, SMSCMS_ERR_AUTH);
	/* nonce */
	p = env->enc_content->algorithm->parameter->value.sequence->data;
	gcm = d2i_CMSX_GCM_PARAMS(NULL, &p, env->enc_content->algorithm->parameter->value.sequence->length);
	assert_non_null(gcm);
	at = neg_find(der, len, gcm->nonce->data, (size_t)gcm->nonce->length);
	neg_flip(n, der, len, at, 0x01, SMSCMS_ERR_AUTH);
	CMSX_GCM_PARAMS_free(gcm);
	/* authAttrs: the last digit of signingTime's seconds stays a digit */
	tv = X509_ATTRIBUTE_get0_type(sk_X509_ATTRIBUTE_value(env->auth_attrs, 0), 0);
	at = neg_find(der, len, tv->value.utctime->data, (size_t)tv->value.utctime->length);
	neg_flip(n, der, len, at + (size_t)tv->value.utctime->length - 2, 0x01, SMSCMS_ERR_AUTH);
	/* wrapped key */
	at = neg_find(der, len, sk_CMSX_REK_value(kari->reks, 0)->encrypted_key->data, 40);
	neg_flip(n, der, len, at + 20, 0x08, SMSCMS_ERR_KEY_UNWRAP);
	/* ephemeral key: last byte of y, the point leaves the curve */
	p = kari->ukm->data;
	ukm = d2i_CMSX_MQV_UKM(NULL, &p, kari->ukm->length);
	assert_non_null(ukm);
	at = neg_find(der, len, ukm->ephemeral->public_key->data, 65);
	neg_flip(n, der, len, at + 64, 0x01, SMSCMS_ERR_MALFORMED);
	CMSX_MQV_UKM_free(ukm);
	CMSX_AUTHENV_free(env);
	OPENSSL_free(der);
}

static void test_tamper_ecdh_ephemeral(void **state)
{
	struct neg *n = *state;
	unsigned char *der = NULL;
	size_t len = 0, at;
	CMSX_AUTHENV *env;
	CMSX_KARI *kari;

	neg_encrypt(n, n->orig, SMSCMS_KA_ECDH, 0, &der, &len);
	env = neg_parse(der, len);
	kari = sk_CMSX_RECIPINFO_value(env->recipient_infos, 0)->d.kari;
	at = neg_find(der, len, kari->originator->d.key->public_key->data, 65);
	neg_flip(n, der, len, at + 10, 0x20, SMSCMS_ERR_MALFORMED);
	CMSX_AUTHENV_free(env);
	OPENSSL_free(der);
}

static void test_wrong_recipient(void **state)
{
	struct neg *n = *state;
	unsigned char *der = NULL;
	size_t len = 0;

	neg_encrypt(n, n->orig, SMSCMS_KA_MQV, 1, &der, &len);
	assert_int_equal(neg_decrypt(n, n->stranger, NULL, NULL, der, len), SMSCMS_ERR_NOT_RECIPIENT);
	OPENSSL_free(der);
}

static void test_untrusted_and_revoked(void **state)
{
	struct neg *n = *state;
	smscms_verifier *ok = NULL, *revoked = NULL, *other = NULL;
	const char *crl_ok[1] = { n->crl_ok }, *crl_rev[1] = { n->crl_revoked };
	unsigned char *der = NULL, *rogue = NULL;
	size_t len = 0, rogue_len = 0;

	assert_int_equal(smscms_verifier_new(n->ctx, n->root, crl_ok, 1, &ok), SMSCMS_OK);
	assert_int_equal(smscms_verifier_new(n->ctx, n->root, crl_rev, 1, &revoked), SMSCMS_OK);
	assert_int_equal(smscms_verifier_new(n->ctx, n->other_root, NULL, 0, &other), SMSCMS_OK);
	neg_encrypt(n, n->orig, SMSCMS_KA_MQV, 1, &der, &len);
	neg_encrypt(n, n->rogue, SMSCMS_KA_MQV, 1, &rogue, &rogue_len);
	assert_int_equal(neg_decrypt(n, n->rcpt, ok, NULL, der, len), SMSCMS_OK);
	assert_int_equal(neg_decrypt(n, n->rcpt, other, NULL, der, len), SMSCMS_ERR_UNTRUSTED);
	assert_int_equal(neg_decrypt(n, n->rcpt, revoked, NULL, der, len), SMSCMS_ERR_REVOKED);
	/* Same serial, other CA: must not ride on the trusted chain. */
	assert_int_equal(neg_decrypt(n, n->rcpt, ok, NULL, rogue, rogue_len), SMSCMS_ERR_UNTRUSTED);
	assert_int_equal(neg_decrypt(n, n->rcpt, other, NULL, rogue, rogue_len), SMSCMS_OK);
	OPENSSL_free(der);
	OPENSSL_free(rogue);
	/* ECDH authenticates no originator: refused when a verifier asks. */
	neg_encrypt(n, n->orig, SMSCMS_KA_ECDH, 1, &der, &len);
	assert_int_equal(neg_decrypt(n, n->rcpt, ok, NULL, der, len), SMSCMS_ERR_ORIGINATOR);
	OPENSSL_free(der);
	smscms_verifier_free(ok);
	smscms_verifier_free(revoked);
	smscms_verifier_free(other);
}

static void test_truncation_every_length(void **state)
{
	struct neg *n = *state;
	unsigned char *der = NULL, *copy;
	size_t len = 0;

	neg_encrypt(n, n->orig, SMSCMS_KA_ECDH, 0, &der, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* A fresh exact-size copy so ASan sees any over-read. */
		copy = OPENSSL_malloc(cut + 1);
		assert_non_null(copy);
		memcpy(copy, der, cut);
		assert_int_equal(neg_decrypt(n, n->rcpt, NULL, NULL, copy, cut), SMSCMS_ERR_MALFORMED);
		OPENSSL_free(copy);
	}
	/* Trailing garbage is malformed as well. */
	copy = OPENSSL_malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, der, len);
	copy[len] = 0;
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, NULL, copy, len + 1), SMSCMS_ERR_MALFORMED);
	OPENSSL_free(copy);
	OPENSSL_free(der);
}

static void test_limits(void **state)
{
	struct neg *n = *state;
	smscms_limits lim;
	smscms_encrypt_opts o;
	X509 *rc[3] = { smscms_identity_cert(n->stranger), smscms_identity_cert(n->orig), smscms_identity_cert(n->rcpt) };
	unsigned char *der = NULL;
	size_t len = 0;

	neg_encrypt(n, n->orig, SMSCMS_KA_MQV, 1, &der, &len);
	smscms_limits_init(&lim);
	lim.max_message = len - 1;
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, &lim, der, len), SMSCMS_ERR_TOO_LARGE);
	smscms_limits_init(&lim);
	lim.max_certificates = 1;    /* the message carries leaf + CA */
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, &lim, der, len), SMSCMS_ERR_TOO_LARGE);
	OPENSSL_free(der);

	smscms_encrypt_opts_init(&o);
	assert_int_equal(smscms_encrypt(n->ctx, &o, n->orig, rc, 3, (const unsigned char *)"x", 1, &der, &len),
	                 SMSCMS_OK);
	smscms_limits_init(&lim);
	lim.max_recipients = 2;
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, &lim, der, len), SMSCMS_ERR_TOO_LARGE);
	lim.max_recipients = 3;
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, &lim, der, len), SMSCMS_OK);
	OPENSSL_free(der);
}

static void test_unsupported_and_arguments(void **state)
{
	struct neg *n = *state;
	CMSX_CONTENTINFO *ci = CMSX_CONTENTINFO_new();
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	smscms_encrypt_opts o;
	X509 *rc = smscms_identity_cert(n->rcpt);
	size_t len = 0;
	int dlen;

	/* A valid ContentInfo of type id-data. */
	assert_non_null(ci);
	assert_non_null(os);
	assert_int_equal(ASN1_OCTET_STRING_set(os, (const unsigned char *)"abc", 3), 1);
	ASN1_OBJECT_free(ci->content_type);
	ci->content_type = OBJ_nid2obj(NID_pkcs7_data);
	ASN1_TYPE_set(ci->content, V_ASN1_OCTET_STRING, os);
	dlen = i2d_CMSX_CONTENTINFO(ci, &der);
	assert_true(dlen > 0);
	assert_int_equal(neg_decrypt(n, n->rcpt, NULL, NULL, der, (size_t)dlen), SMSCMS_ERR_UNSUPPORTED);
	OPENSSL_free(der);
	CMSX_CONTENTINFO_free(ci);

	/* Caller errors. */
	smscms_encrypt_opts_init(&o);
	o.kdf = (smscms_kdf)9;
	assert_int_equal(smscms_encrypt(n->ctx, &o, n->orig, &rc, 1, (const unsigned char *)"x", 1, &der, &len),
	                 SMSCMS_ERR_ARGUMENT);
	smscms_encrypt_opts_init(&o);
	assert_int_equal(smscms_encrypt(n->ctx, &o, n->orig, &rc, 0, (const unsigned char *)"x", 1, &der, &len),
	                 SMSCMS_ERR_ARGUMENT);
	/* MQV needs originator and recipients on one curve. */
	{
		smscms_identity *p384 = cts_leaf(&n->pki, "p384", 50, NID_secp384r1);
		X509 *rc384 = smscms_identity_cert(p384);

		assert_int_equal(smscms_encrypt(n->ctx, &o, n->orig, &rc384, 1, (const unsigned char *)"x", 1,
		                                &der, &len), SMSCMS_ERR_UNSUPPORTED);
		smscms_identity_free(p384);
	}
}

static void test_status_names_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < SMSCMS_STATUS_COUNT; i++)
		for (int j = i + 1; j < SMSCMS_STATUS_COUNT; j++)
			assert_string_not_equal(smscms_status_name((smscms_status)i), smscms_status_name((smscms_status)j));
	assert_string_equal(smscms_status_name(SMSCMS_STATUS_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tamper_each_part),
		cmocka_unit_test(test_tamper_ecdh_ephemeral),
		cmocka_unit_test(test_wrong_recipient),
		cmocka_unit_test(test_untrusted_and_revoked),
		cmocka_unit_test(test_truncation_every_length),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_unsupported_and_arguments),
		cmocka_unit_test(test_status_names_distinct),
	};

	return cmocka_run_group_tests(tests, neg_setup, neg_teardown);
}
