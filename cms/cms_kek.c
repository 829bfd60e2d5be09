/*
 * KEK derivation (X9.63 KDF with ECC-CMS-SharedInfo) and AES key wrap.
 */
#include <limits.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include "cms/cms_asn1.h"
#include "cms/cms_kek.h"

int cms_kek_wrap_nid(size_t kek_len)
{
	if (kek_len == 16)
		return NID_id_aes128_wrap;
	if (kek_len == 32)
		return NID_id_aes256_wrap;
	return NID_undef;
}

size_t cms_kek_len_for_nid(int wrap_nid)
{
	if (wrap_nid == NID_id_aes128_wrap)
		return 16;
	if (wrap_nid == NID_id_aes256_wrap)
		return 32;
	return 0;
}

int cms_kek_shared_info(int wrap_nid, const unsigned char *ukm, size_t ukm_len,
                        size_t kek_len, unsigned char **der, size_t *der_len)
{
	CMSX_SHARED_INFO *si = CMSX_SHARED_INFO_new();
	unsigned char bits[4];
	size_t nbits = kek_len * 8;
	int len, ok = 0;

	*der = NULL;
	if (si == NULL)
		return 0;
	bits[0] = (unsigned char)(nbits >> 24);
	bits[1] = (unsigned char)(nbits >> 16);
	bits[2] = (unsigned char)(nbits >> 8);
	bits[3] = (unsigned char)nbits;
	if (!X509_ALGOR_set0(si->key_info, OBJ_nid2obj(wrap_nid), V_ASN1_UNDEF, NULL))
		goto out;
	if (!ASN1_OCTET_STRING_set(si->supp_pub_info, bits, sizeof(bits)))
		goto out;
	if (ukm != NULL) {
		if ((si->entity_uinfo = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(si->entity_uinfo, ukm, (int)ukm_len))
			goto out;
	}
	if ((len = i2d_CMSX_SHARED_INFO(si, der)) <= 0)
		goto out;
	*der_len = (size_t)len;
	ok = 1;
out:
	CMSX_SHARED_INFO_free(si);
	return ok;
}

int cms_kek_derive(EVP_KDF *given, const EVP_MD *md, const unsigned char *z, size_t z_len,
                   const unsigned char *info, size_t info_len,
                   unsigned char *kek, size_t kek_len)
{
	EVP_KDF *fetched = given == NULL ? EVP_KDF_fetch(NULL, OSSL_KDF_NAME_X963KDF, NULL) : NULL;
	EVP_KDF *kdf = given != NULL ? given : fetched;
	EVP_KDF_CTX *kc = NULL;
	OSSL_PARAM params[4], *p = params;
	int ok = 0;

	if (kdf == NULL || md == NULL || (kc = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                        (char *)EVP_MD_get0_name(md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len);
	/* An empty SharedInfo (BC's form without addedukm) is simply left out. */
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		                                         (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kc, kek, kek_len, params) > 0;
out:
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(fetched);
	return ok;
}

static const EVP_CIPHER *kek_wrap_cipher(size_t kek_len)
{
	if (kek_len == 16)
		return EVP_aes_128_wrap();
	if (kek_len == 32)
		return EVP_aes_256_wrap();
	return NULL;
}

static int kek_wrap_run(const EVP_CIPHER *given, int enc, const unsigned char *kek, size_t kek_len,
                        const unsigned char *in, size_t in_len,
                        unsigned char *out, size_t *out_len)
{
	const EVP_CIPHER *c = given != NULL ? given : kek_wrap_cipher(kek_len);
	EVP_CIPHER_CTX *cc = NULL;
	int n1 = 0, n2 = 0, ok = 0;

	if (c == NULL || (size_t)EVP_CIPHER_get_key_length(c) != kek_len || in_len > INT_MAX || in_len % 8 != 0 || in_len < 16)
		return 0;
	if ((cc = EVP_CIPHER_CTX_new()) == NULL)
		return 0;
	EVP_CIPHER_CTX_set_flags(cc, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (!EVP_CipherInit_ex(cc, c, NULL, kek, NULL, enc))
		goto out;
	if (!EVP_CipherUpdate(cc, out, &n1, in, (int)in_len) || n1 <= 0)
		goto out;
	if (!EVP_CipherFinal_ex(cc, out + n1, &n2))
		goto out;
	*out_len = (size_t)n1 + (size_t)n2;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(cc);
	return ok;
}

int cms_kek_wrap(const EVP_CIPHER *c, const unsigned char *kek, size_t kek_len,
                 const unsigned char *cek, size_t cek_len,
                 unsigned char *out, size_t *out_len)
{
	return kek_wrap_run(c, 1, kek, kek_len, cek, cek_len, out, out_len);
}

int cms_kek_unwrap(const EVP_CIPHER *c, const unsigned char *kek, size_t kek_len,
                   const unsigned char *in, size_t in_len,
                   unsigned char *cek, size_t *cek_len)
{
	if (in_len < 24)
		return 0;
	return kek_wrap_run(c, 0, kek, kek_len, in, in_len, cek, cek_len);
}

int cms_kek_from_z(EVP_KDF *kdf, const EVP_MD *md, const unsigned char *z, size_t z_len,
                   int wrap_nid, const unsigned char *ukm, size_t ukm_len,
                   int bc_form, unsigned char *kek, size_t kek_len)
{
	unsigned char *info = NULL;
	size_t info_len = 0;
	int ok;

	if (bc_form)
		return cms_kek_derive(kdf, md, z, z_len, ukm, ukm != NULL ? ukm_len : 0, kek, kek_len);
	if (!cms_kek_shared_info(wrap_nid, ukm, ukm_len, kek_len, &info, &info_len))
		return 0;
	ok = cms_kek_derive(kdf, md, z, z_len, info, info_len, kek, kek_len);
	OPENSSL_free(info);
	return ok;
}
