/*
 * Elliptic-curve key agreement primitives producing the shared secret Z
 * (the x-coordinate, field-size bytes, big endian).
 *
 * cms_mqv_shared: ECMQV per SEC 1 v2 section 3.4 (the MQV primitive of
 * NIST SP 800-56A). In the one-pass scheme of RFC 5753 the responder has no
 * ephemeral key, so its static key is passed as its own ephemeral key:
 *   originator: own (a, e, E), peer (R, R)
 *   recipient:  own (r, r, R), peer (A, E)
 * cms_ecdh_shared: ECDH through EVP_PKEY_derive; the caller has validated
 * the peer key (cms_key_from_oct or cms_key_check).
 * Both return 1 on success, 0 on failure (point at infinity, bad input).
 */
#ifndef CMS_MQV_H
#define CMS_MQV_H

#include <openssl/ec.h>
#include <openssl/evp.h>

int cms_mqv_shared(const EC_GROUP *group,
                   const BIGNUM *own_static_priv, const BIGNUM *own_eph_priv,
                   const EC_POINT *own_eph_pub,
                   const EC_POINT *peer_static_pub, const EC_POINT *peer_eph_pub,
                   unsigned char *z, size_t z_len);

int cms_ecdh_shared(EVP_PKEY *own, EVP_PKEY *peer, unsigned char *z, size_t z_len);

/* Field size in bytes of the group (length of Z). */
size_t cms_mqv_field_len(const EC_GROUP *group);

#endif
