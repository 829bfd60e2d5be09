/*
 * AES-GCM through EVP, processing the input in INT_MAX-safe chunks.
 */
#include <limits.h>
#include <openssl/evp.h>
#include "cms/cms_gcm.h"

static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
	if (key_len == 16)
		return EVP_aes_128_gcm();
	if (key_len == 32)
		return EVP_aes_256_gcm();
	return NULL;
}

static int gcm_init(EVP_CIPHER_CTX *cc, const EVP_CIPHER *cipher, int enc,
                    const unsigned char *key, size_t key_len,
                    const unsigned char *nonce, size_t nonce_len,
                    const unsigned char *aad, size_t aad_len)
{
	const EVP_CIPHER *c = cipher != NULL ? cipher : gcm_cipher(key_len);
	int n;

	if (c == NULL || (size_t)EVP_CIPHER_get_key_length(c) != key_len || nonce_len == 0 || nonce_len > 64 || aad_len > INT_MAX)
		return 0;
	if (!EVP_CipherInit_ex(cc, c, NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) ||
	    !EVP_CipherInit_ex(cc, NULL, NULL, key, nonce, enc))
		return 0;
	if (aad_len > 0 && !EVP_CipherUpdate(cc, NULL, &n, aad, (int)aad_len))
		return 0;
	return 1;
}

static int gcm_update(EVP_CIPHER_CTX *cc, const unsigned char *in, size_t len, unsigned char *out)
{
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		int n;

		if (!EVP_CipherUpdate(cc, out, &n, in, chunk) || n != chunk)
			return 0;
		in += chunk;
		out += chunk;
		len -= (size_t)chunk;
	}
	return 1;
}

int cms_gcm_encrypt(const EVP_CIPHER *cipher, const unsigned char *key, size_t key_len,
                    const unsigned char *nonce, size_t nonce_len,
                    const unsigned char *aad, size_t aad_len,
                    const unsigned char *pt, size_t pt_len,
                    unsigned char *ct, unsigned char *tag, size_t tag_len)
{
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	int n, ok = 0;

	if (cc == NULL)
		return 0;
	if (!gcm_init(cc, cipher, 1, key, key_len, nonce, nonce_len, aad, aad_len) ||
	    !gcm_update(cc, pt, pt_len, ct) ||
	    !EVP_EncryptFinal_ex(cc, ct + pt_len, &n) ||
	    !EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_GET_TAG, (int)tag_len, tag))
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(cc);
	return ok;
}

int cms_gcm_decrypt(const EVP_CIPHER *cipher, const unsigned char *key, size_t key_len,
                    const unsigned char *nonce, size_t nonce_len,
                    const unsigned char *aad, size_t aad_len,
                    const unsigned char *ct, size_t ct_len,
                    const unsigned char *tag, size_t tag_len,
                    unsigned char *pt)
{
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	int n, ok = 0;

	if (cc == NULL)
		return 0;
	if (tag_len < 12 || tag_len > 16)
		goto out;
	if (!gcm_init(cc, cipher, 0, key, key_len, nonce, nonce_len, aad, aad_len) ||
	    !EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, (int)tag_len, (void *)tag) ||
	    !gcm_update(cc, ct, ct_len, pt))
		goto out;
	ok = EVP_DecryptFinal_ex(cc, pt + ct_len, &n) > 0;
out:
	EVP_CIPHER_CTX_free(cc);
	return ok;
}
