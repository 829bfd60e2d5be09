/*
 * One-pass ECMQV primitive against known answers computed by Bouncy Castle
 * 1.72 (tests/unit/kat/MqvKat.java generated the table), from both the
 * originator's and the recipient's side, plus the ECDH primitive and the
 * refusal of bad points.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "cms/cms_mqv.h"

struct mqv_kat {
	const char *curve;
	const char *a, *e, *r;        /* originator static, ephemeral; recipient static */
	const char *z;
};

/* Output of: java -cp /usr/share/java/bcprov.jar:. MqvKat */
static const struct mqv_kat kats[] = {
	{ "P-256",
	  "015ff154766e60c257ff4809e127dfb09e7f6359e028a063331dcb246c7a809a",
	  "094c678e8ecdc26cebd3cbfebefcf5c350d119313b6d07c244cb7872924325d6",
	  "800f665e30a04fb9c02ec2984f3c1d49ef24e92ad092b2efc0cd346691fea5f5",
	  "e114a7a4694ee548bb261186c21f540c787e393e696cabcf3e1be7ca64306242" },
	{ "P-384",
	  "590d42dc899034051b99d7e2720c984684627a000fba3dcd4a07932d10d54ad6ed4ff4ff398486a44290241377d329eb",
	  "3870230363d282240a2aaa72929e555c6d9de54271dec771cad3574f0f1a421f370b15a6fadb95fffba2cbae5e84283c",
	  "dd53cf768e2975c368eeb34e27c56551a29cf26b1eb6f3c7d995ad39f7424cf3b95221eb9a17caf1eb40cf2f5830e04d",
	  "3ac0cc768b4a96276a9b4529a67ed185199faa2bbb546c17faaf31f8841fb9e1719e7a695bb1a3797e8f40cd02c268f9" },
	{ "P-521",
	  "000003168d8ea356a72888583bc6b0986509a4a499de80242050c55a81e2548553d64dc25249b2e6081b4192c9cc511b4f9a1f7d7b3bc55f137476e2aebc88db47a1",
	  "00000c2abb896991447283d8f3a72a8f95bd81823de5557e36ea1d70de0370e75437e044d6e0ca07015e355b400b860b94b553fdbe6d3cc29b700baf104ccd94bfde",
	  "000001a8c5956a5a4c76d82ce0001f5929159f26e0d91f4c50d53921fb9da69c13f1fdce14a1569291d3467000c9fad47f72ef251e94f629566551c17fd8c4546b01",
	  "00ac2a43ea0eff17f46f0626fe70d0746d4884e4534ac113d8f8e139f488b489ce233e29795dd85eba03f0f5043e7f56f4d4d1b779b434742b7ef6ef5016e87ac18a" },
};

struct kat_keys {
	EC_GROUP *g;
	BIGNUM *a, *e, *r;
	EC_POINT *A, *E, *R;
	unsigned char z[66];
	size_t z_len;
};

static EC_POINT *kat_point(const EC_GROUP *g, const BIGNUM *k)
{
	EC_POINT *p = EC_POINT_new(g);

	assert_non_null(p);
	assert_int_equal(EC_POINT_mul(g, p, k, NULL, NULL, NULL), 1);
	return p;
}

static void kat_load(const struct mqv_kat *k, struct kat_keys *out)
{
	long len = 0;
	unsigned char *z;

	memset(out, 0, sizeof(*out));
	out->g = EC_GROUP_new_by_curve_name(EC_curve_nist2nid(k->curve));
	assert_non_null(out->g);
	assert_true(BN_hex2bn(&out->a, k->a) > 0);
	assert_true(BN_hex2bn(&out->e, k->e) > 0);
	assert_true(BN_hex2bn(&out->r, k->r) > 0);
	out->A = kat_point(out->g, out->a);
	out->E = kat_point(out->g, out->e);
	out->R = kat_point(out->g, out->r);
	z = OPENSSL_hexstr2buf(k->z, &len);
	assert_non_null(z);
	assert_true(len > 0 && (size_t)len <= sizeof(out->z));
	memcpy(out->z, z, (size_t)len);
	out->z_len = (size_t)len;
	OPENSSL_free(z);
}

static void kat_free(struct kat_keys *k)
{
	EC_GROUP_free(k->g);
	BN_free(k->a);
	BN_free(k->e);
	BN_free(k->r);
	EC_POINT_free(k->A);
	EC_POINT_free(k->E);
	EC_POINT_free(k->R);
}

static void test_mqv_kat_both_sides(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		struct kat_keys k;
		unsigned char z[66];

		kat_load(&kats[i], &k);
		assert_int_equal(cms_mqv_field_len(k.g), k.z_len);
		/* originator: own static a, ephemeral e; peer R twice */
		memset(z, 0, sizeof(z));
		assert_int_equal(cms_mqv_shared(k.g, k.a, k.e, k.E, k.R, k.R, z, k.z_len), 1);
		assert_memory_equal(z, k.z, k.z_len);
		/* recipient: own static r used twice; peer static A, ephemeral E */
		memset(z, 0, sizeof(z));
		assert_int_equal(cms_mqv_shared(k.g, k.r, k.r, k.R, k.A, k.E, z, k.z_len), 1);
		assert_memory_equal(z, k.z, k.z_len);
		kat_free(&k);
	}
}

static void test_mqv_wrong_key_differs(void **state)
{
	struct kat_keys k;
	unsigned char z[66];

	(void)state;
	kat_load(&kats[0], &k);
	/* Swapping the roles of the originator's keys must change Z. */
	assert_int_equal(cms_mqv_shared(k.g, k.r, k.r, k.R, k.E, k.A, z, k.z_len), 1);
	assert_memory_not_equal(z, k.z, k.z_len);
	kat_free(&k);
}

static void test_mqv_rejects_bad_input(void **state)
{
	struct kat_keys k;
	EC_POINT *inf;
	unsigned char z[66];

	(void)state;
	kat_load(&kats[0], &k);
	inf = EC_POINT_new(k.g);
	assert_non_null(inf);
	assert_int_equal(EC_POINT_set_to_infinity(k.g, inf), 1);
	assert_int_equal(cms_mqv_shared(k.g, k.r, k.r, k.R, inf, k.E, z, k.z_len), 0);
	assert_int_equal(cms_mqv_shared(k.g, k.r, k.r, k.R, k.A, inf, z, k.z_len), 0);
	/* Z buffer of the wrong size for the curve. */
	assert_int_equal(cms_mqv_shared(k.g, k.r, k.r, k.R, k.A, k.E, z, k.z_len - 1), 0);
	EC_POINT_free(inf);
	kat_free(&k);
}

static void test_ecdh_both_sides_agree(void **state)
{
	int nids[] = { NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nids[i]));
		EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nids[i]));
		EC_GROUP *g = EC_GROUP_new_by_curve_name(nids[i]);
		unsigned char z1[66], z2[66];
		size_t len;

		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(g);
		len = cms_mqv_field_len(g);
		assert_int_equal(cms_ecdh_shared(a, b, z1, len), 1);
		assert_int_equal(cms_ecdh_shared(b, a, z2, len), 1);
		assert_memory_equal(z1, z2, len);
		EVP_PKEY_free(a);
		EVP_PKEY_free(b);
		EC_GROUP_free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mqv_kat_both_sides),
		cmocka_unit_test(test_mqv_wrong_key_differs),
		cmocka_unit_test(test_mqv_rejects_bad_input),
		cmocka_unit_test(test_ecdh_both_sides_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
