/*
 * AES-GCM content encryption (RFC 5084) through EVP.
 * cms_gcm_decrypt writes into out only; the caller releases out only when
 * it returns 1 (tag verified). Both return 1 on success, 0 on failure.
 * cipher is the AES-GCM of key_len fetched by the caller, or NULL to use
 * OpenSSL's built-in object for key_len.
 */
#ifndef CMS_GCM_H
#define CMS_GCM_H

#include <stddef.h>
#include <openssl/evp.h>

int cms_gcm_encrypt(const EVP_CIPHER *cipher, const unsigned char *key, size_t key_len,
                    const unsigned char *nonce, size_t nonce_len,
                    const unsigned char *aad, size_t aad_len,
                    const unsigned char *pt, size_t pt_len,
                    unsigned char *ct, unsigned char *tag, size_t tag_len);
int cms_gcm_decrypt(const EVP_CIPHER *cipher, const unsigned char *key, size_t key_len,
                    const unsigned char *nonce, size_t nonce_len,
                    const unsigned char *aad, size_t aad_len,
                    const unsigned char *ct, size_t ct_len,
                    const unsigned char *tag, size_t tag_len,
                    unsigned char *pt);

#endif
