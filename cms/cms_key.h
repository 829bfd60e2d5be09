/*
 * Conversions between EVP_PKEY, EC_POINT/BIGNUM and the OriginatorPublicKey
 * encoding (id-ecPublicKey, parameters absent, uncompressed point).
 * All return 1 on success, 0 on failure; outputs are owned by the caller.
 */
#ifndef CMS_KEY_H
#define CMS_KEY_H

#include <openssl/ec.h>
#include <openssl/evp.h>
#include "cms/cms_asn1.h"

int cms_key_point(const EC_GROUP *group, const EVP_PKEY *pkey, EC_POINT **out);
int cms_key_priv(const EVP_PKEY *pkey, BIGNUM **out);
/* An EVP_PKEY for a public point on curve nid (validated on the curve). */
int cms_key_from_oct(int nid, const unsigned char *oct, size_t len, EVP_PKEY **out);
/* A point on group from its octet encoding: on the curve (oct2point checks
 * it) and not infinity, which suffices for the cofactor-1 P-curves. */
int cms_point_from_oct(const EC_GROUP *group, const unsigned char *oct, size_t len, EC_POINT **out);
/* As cms_key_from_origpub, but straight to a point on group. */
int cms_point_from_origpub(const EC_GROUP *group, const CMSX_ORIG_PUBKEY *opk, EC_POINT **out);
/* OriginatorPublicKey of a point (uncompressed, parameters absent). */
int cms_point_to_origpub(const EC_GROUP *group, const EC_POINT *p, CMSX_ORIG_PUBKEY **out);
/* The public point of an EC certificate on group, read from the
 * certificate's subjectPublicKey bits without building an EVP_PKEY. */
int cms_cert_point(const EC_GROUP *group, X509 *cert, EC_POINT **out);
int cms_key_to_origpub(const EVP_PKEY *pkey, CMSX_ORIG_PUBKEY **out);
/* Decodes an OriginatorPublicKey on curve nid: the algorithm must be
 * id-ecPublicKey with parameters absent, NULL or the same named curve. */
int cms_key_from_origpub(int nid, const CMSX_ORIG_PUBKEY *opk, EVP_PKEY **out);
/* 1 when both keys are the same EC public key. */
int cms_key_equal(const EVP_PKEY *a, const EVP_PKEY *b);
EVP_PKEY *cms_key_generate(int nid);
/* Point on the curve, not infinity (sufficient for the cofactor-1 P-curves). */
int cms_key_check(EVP_PKEY *pkey);

#endif
