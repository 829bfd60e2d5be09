/*
 * EC key plumbing between EVP (OpenSSL 3 providers) and EC_POINT/BIGNUM,
 * which the MQV primitive needs.
 */
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include "cms/cms_key.h"

static int key_pub_oct(const EVP_PKEY *pkey, unsigned char **oct, size_t *len)
{
	size_t n = 0;

	*oct = NULL;
	if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &n) || n == 0)
		return 0;
	if ((*oct = OPENSSL_malloc(n)) == NULL)
		return 0;
	if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, *oct, n, len)) {
		OPENSSL_free(*oct);
		*oct = NULL;
		return 0;
	}
	return 1;
}

int cms_key_point(const EC_GROUP *group, const EVP_PKEY *pkey, EC_POINT **out)
{
	unsigned char *oct = NULL;
	size_t len = 0;
	EC_POINT *p = NULL;
	int ok = 0;

	*out = NULL;
	if (!key_pub_oct(pkey, &oct, &len))
		return 0;
	if ((p = EC_POINT_new(group)) == NULL || !EC_POINT_oct2point(group, p, oct, len, NULL))
		goto out;
	*out = p;
	p = NULL;
	ok = 1;
out:
	EC_POINT_free(p);
	OPENSSL_free(oct);
	return ok;
}

int cms_key_priv(const EVP_PKEY *pkey, BIGNUM **out)
{
	*out = NULL;
	/* EVP_PKEY_get_bn_param allocates a secure BN when the key is secure;
	 * the caller frees it with BN_clear_free. */
	return EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, out) == 1;
}

int cms_key_from_oct(int nid, const unsigned char *oct, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY_CTX *chk = NULL;
	const char *group = OBJ_nid2sn(nid);
	int ok = 0;

	*out = NULL;
	if (group == NULL || oct == NULL || len == 0)
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)oct, len);
	params[2] = OSSL_PARAM_construct_end();
	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(pc) <= 0 || EVP_PKEY_fromdata(pc, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	/* On the curve and not infinity. The P-curves have cofactor 1, so this
	 * also puts the point in the prime-order group; the full check would
	 * cost one more scalar multiplication. */
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) == NULL ||
	    EVP_PKEY_public_check_quick(chk) != 1)
		goto out;
	ok = 1;
out:
	if (!ok) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(pc);
	return ok;
}

static int origpub_from_oct(const unsigned char *oct, size_t len, CMSX_ORIG_PUBKEY **out)
{
	CMSX_ORIG_PUBKEY *opk = CMSX_ORIG_PUBKEY_new();
	int ok = 0;

	*out = NULL;
	if (opk == NULL || len > INT_MAX)
		goto out;
	if (!X509_ALGOR_set0(opk->algorithm, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_UNDEF, NULL))
		goto out;
	if (!ASN1_BIT_STRING_set(opk->public_key, (unsigned char *)oct, (int)len))
		goto out;
	/* No unused bits: clear the flags so the encoder writes 0 unused bits. */
	opk->public_key->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	opk->public_key->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	*out = opk;
	opk = NULL;
	ok = 1;
out:
	CMSX_ORIG_PUBKEY_free(opk);
	return ok;
}

int cms_point_to_origpub(const EC_GROUP *group, const EC_POINT *p, CMSX_ORIG_PUBKEY **out)
{
	unsigned char oct[133];
	size_t len;

	*out = NULL;
	len = EC_POINT_point2oct(group, p, POINT_CONVERSION_UNCOMPRESSED, oct, sizeof(oct), NULL);
	if (len == 0)
		return 0;
	return origpub_from_oct(oct, len, out);
}

int cms_cert_point(const EC_GROUP *group, X509 *cert, EC_POINT **out)
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(cert);

	*out = NULL;
	if (bits == NULL || bits->length <= 0 ||
	    ((bits->flags & ASN1_STRING_FLAG_BITS_LEFT) && (bits->flags & 0x07)))
		return 0;
	return cms_point_from_oct(group, bits->data, (size_t)bits->length, out);
}

int cms_key_to_origpub(const EVP_PKEY *pkey, CMSX_ORIG_PUBKEY **out)
{
	unsigned char *oct = NULL;
	size_t len = 0;
	int ok;

	*out = NULL;
	if (!key_pub_oct(pkey, &oct, &len))
		return 0;
	ok = origpub_from_oct(oct, len, out);
	OPENSSL_free(oct);
	return ok;
}

/* id-ecPublicKey with parameters absent, NULL or the named curve nid, and a
 * BIT STRING without unused bits. */
static int origpub_check(int nid, const CMSX_ORIG_PUBKEY *opk)
{
	const ASN1_OBJECT *oid;
	const void *pval;
	int ptype;

	X509_ALGOR_get0(&oid, &ptype, &pval, opk->algorithm);
	if (OBJ_obj2nid(oid) != NID_X9_62_id_ecPublicKey)
		return 0;
	if (ptype == V_ASN1_OBJECT) {
		if (OBJ_obj2nid(pval) != nid)
			return 0;
	} else if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL) {
		return 0;
	}
	if ((opk->public_key->flags & ASN1_STRING_FLAG_BITS_LEFT) && (opk->public_key->flags & 0x07))
		return 0;
	return 1;
}

int cms_key_from_origpub(int nid, const CMSX_ORIG_PUBKEY *opk, EVP_PKEY **out)
{
	*out = NULL;
	if (!origpub_check(nid, opk))
		return 0;
	return cms_key_from_oct(nid, opk->public_key->data, (size_t)opk->public_key->length, out);
}

int cms_point_from_oct(const EC_GROUP *group, const unsigned char *oct, size_t len, EC_POINT **out)
{
	EC_POINT *p = NULL;

	*out = NULL;
	if (oct == NULL || len == 0)
		return 0;
	if ((p = EC_POINT_new(group)) == NULL)
		return 0;
	if (!EC_POINT_oct2point(group, p, oct, len, NULL) || EC_POINT_is_at_infinity(group, p) ||
	    EC_POINT_is_on_curve(group, p, NULL) != 1) {
		EC_POINT_free(p);
		return 0;
	}
	*out = p;
	return 1;
}

int cms_point_from_origpub(const EC_GROUP *group, const CMSX_ORIG_PUBKEY *opk, EC_POINT **out)
{
	*out = NULL;
	if (!origpub_check(EC_GROUP_get_curve_name(group), opk))
		return 0;
	return cms_point_from_oct(group, opk->public_key->data, (size_t)opk->public_key->length, out);
}

int cms_key_equal(const EVP_PKEY *a, const EVP_PKEY *b)
{
	return a != NULL && b != NULL && EVP_PKEY_eq(a, b) == 1;
}

EVP_PKEY *cms_key_generate(int nid)
{
	const char *group = OBJ_nid2sn(nid);

	if (group == NULL)
		return NULL;
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
}

int cms_key_check(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = chk != NULL && EVP_PKEY_public_check_quick(chk) == 1;

	EVP_PKEY_CTX_free(chk);
	return ok;
}
