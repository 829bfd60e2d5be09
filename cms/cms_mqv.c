/*
 * ECMQV on OpenSSL's EC_POINT/BN (OpenSSL has no MQV).
 *
 * Side channels: the secret scalar s = e + avf(E)*a mod n is computed with
 * BN_FLG_CONSTTIME set on the secrets (BN_mod_mul/BN_mod_add then take the
 * constant-time paths where OpenSSL has them), and the only multiplication
 * by a secret scalar is a single-point EC_POINT_mul, for which OpenSSL 3
 * uses its constant-time Montgomery ladder. The associate values avf(.) and
 * the point Q_e + avf(Q_e)*Q_s are computed from public keys only and are
 * not constant time.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include "cms/cms_mqv.h"

size_t cms_mqv_field_len(const EC_GROUP *group)
{
	return (size_t)(EC_GROUP_get_degree(group) + 7) / 8;
}

/* avf(Q) = (x mod 2^h) + 2^h with h = ceil(bitlen(n) / 2) (SEC 1 3.4). */
static int mqv_avf(const EC_GROUP *group, const EC_POINT *q, BIGNUM *out, BN_CTX *bn)
{
	const BIGNUM *order = EC_GROUP_get0_order(group);
	int h = (BN_num_bits(order) + 1) / 2;

	if (!EC_POINT_get_affine_coordinates(group, q, out, NULL, bn))
		return 0;
	if (!BN_mask_bits(out, h) && BN_num_bits(out) > h)
		return 0;
	return BN_set_bit(out, h);
}

int cms_mqv_shared(const EC_GROUP *group,
                   const BIGNUM *own_static_priv, const BIGNUM *own_eph_priv,
                   const EC_POINT *own_eph_pub,
                   const EC_POINT *peer_static_pub, const EC_POINT *peer_eph_pub,
                   unsigned char *z, size_t z_len)
{
	BN_CTX *bn = NULL;
	BIGNUM *avf_own, *avf_peer, *s, *ds, *de, *x, *cofactor_s;
	EC_POINT *t = NULL, *p = NULL;
	const BIGNUM *order = EC_GROUP_get0_order(group);
	int ok = 0;

	if (z_len != cms_mqv_field_len(group))
		return 0;
	if ((bn = BN_CTX_secure_new()) == NULL)
		return 0;
	BN_CTX_start(bn);
	avf_own = BN_CTX_get(bn);
	avf_peer = BN_CTX_get(bn);
	s = BN_CTX_get(bn);
	ds = BN_CTX_get(bn);
	de = BN_CTX_get(bn);
	x = BN_CTX_get(bn);
	cofactor_s = BN_CTX_get(bn);
	if (cofactor_s == NULL)
		goto out;
	if (EC_POINT_is_at_infinity(group, peer_static_pub) ||
	    EC_POINT_is_at_infinity(group, peer_eph_pub) ||
	    EC_POINT_is_on_curve(group, peer_static_pub, bn) != 1 ||
	    EC_POINT_is_on_curve(group, peer_eph_pub, bn) != 1)
		goto out;
	if (BN_copy(ds, own_static_priv) == NULL || BN_copy(de, own_eph_priv) == NULL)
		goto out;
	BN_set_flags(ds, BN_FLG_CONSTTIME);
	BN_set_flags(de, BN_FLG_CONSTTIME);
	BN_set_flags(s, BN_FLG_CONSTTIME);
	BN_set_flags(cofactor_s, BN_FLG_CONSTTIME);

	/* s = d_e + avf(Q_e) * d_s mod n */
	if (!mqv_avf(group, own_eph_pub, avf_own, bn) ||
	    !BN_mod_mul(s, avf_own, ds, order, bn) ||
	    !BN_mod_add(s, s, de, order, bn))
		goto out;
	/* P = h * s * (Q_e,peer + avf(Q_e,peer) * Q_s,peer) */
	if ((t = EC_POINT_new(group)) == NULL || (p = EC_POINT_new(group)) == NULL)
		goto out;
	if (!mqv_avf(group, peer_eph_pub, avf_peer, bn) ||
	    !EC_POINT_mul(group, t, NULL, peer_static_pub, avf_peer, bn) ||
	    !EC_POINT_add(group, t, t, peer_eph_pub, bn))
		goto out;
	if (!BN_mod_mul(cofactor_s, s, EC_GROUP_get0_cofactor(group), order, bn))
		goto out;
	if (!EC_POINT_mul(group, p, NULL, t, cofactor_s, bn))
		goto out;
	if (EC_POINT_is_at_infinity(group, p))
		goto out;
	if (!EC_POINT_get_affine_coordinates(group, p, x, NULL, bn))
		goto out;
	if (BN_bn2binpad(x, z, (int)z_len) != (int)z_len)
		goto out;
	ok = 1;
out:
	EC_POINT_clear_free(p);
	EC_POINT_free(t);
	if (bn != NULL) {
		/* BN_CTX_secure_new: the frames are cleansed on release. */
		BN_CTX_end(bn);
		BN_CTX_free(bn);
	}
	return ok;
}

int cms_ecdh_shared(EVP_PKEY *own, EVP_PKEY *peer, unsigned char *z, size_t z_len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
	size_t len = z_len;
	int ok = 0;

	if (pc == NULL)
		return 0;
	if (EVP_PKEY_derive_init(pc) <= 0 || EVP_PKEY_derive_set_peer_ex(pc, peer, 0) <= 0)
		goto out;
	if (EVP_PKEY_derive(pc, NULL, &len) <= 0 || len != z_len)
		goto out;
	if (EVP_PKEY_derive(pc, z, &len) <= 0 || len != z_len)
		goto out;
	ok = 1;
out:
	EVP_PKEY_CTX_free(pc);
	return ok;
}
