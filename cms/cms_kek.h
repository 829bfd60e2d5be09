/*
 * Key-encryption key derivation and AES key wrap (RFC 5753 section 7.2,
 * RFC 3394 via EVP).
 *
 * cms_kek_shared_info: DER of ECC-CMS-SharedInfo { keyInfo = the key wrap
 *   AlgorithmIdentifier (parameters absent), entityUInfo = ukm if any,
 *   suppPubInfo = KEK length in bits, 32-bit big endian }.
 * cms_kek_derive: ANSI X9.63 KDF (EVP_KDF "X963KDF") of Z with SharedInfo.
 * cms_kek_wrap / cms_kek_unwrap: AES key wrap with a 16- or 32-byte KEK.
 * All return 1 on success, 0 on failure; *der is OPENSSL_malloc'd.
 */
#ifndef CMS_KEK_H
#define CMS_KEK_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

int cms_kek_shared_info(int wrap_nid, const unsigned char *ukm, size_t ukm_len,
                        size_t kek_len, unsigned char **der, size_t *der_len);
/* X9.63 KDF and AES key wrap. kdf / c are algorithms the caller fetched once
 * (smscms_ctx keeps them); NULL fetches or picks them here, per call. */
int cms_kek_derive(EVP_KDF *kdf, const EVP_MD *md, const unsigned char *z, size_t z_len,
                   const unsigned char *info, size_t info_len,
                   unsigned char *kek, size_t kek_len);
int cms_kek_wrap(const EVP_CIPHER *c, const unsigned char *kek, size_t kek_len,
                 const unsigned char *cek, size_t cek_len,
                 unsigned char *out, size_t *out_len);
int cms_kek_unwrap(const EVP_CIPHER *c, const unsigned char *kek, size_t kek_len,
                   const unsigned char *in, size_t in_len,
                   unsigned char *cek, size_t *cek_len);
/* Key wrap NID for a KEK length (16 -> id-aes128-wrap, 32 -> id-aes256-wrap). */
int cms_kek_wrap_nid(size_t kek_len);
/* KEK length for a key wrap NID, 0 if unsupported. */
size_t cms_kek_len_for_nid(int wrap_nid);



/* KEK for one recipient from Z: SharedInfo is DER(ECC-CMS-SharedInfo) or,
 * with bc_form, the raw ukm bytes (Bouncy Castle 1.72's MQV form). kdf is
 * the fetched X963KDF or NULL. */
int cms_kek_from_z(EVP_KDF *kdf, const EVP_MD *md, const unsigned char *z, size_t z_len,
                   int wrap_nid, const unsigned char *ukm, size_t ukm_len,
                   int bc_form, unsigned char *kek, size_t kek_len);
#endif
