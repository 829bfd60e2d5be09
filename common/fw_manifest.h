/*
 * The firmware manifest (docs/firmware.md "Manifest"): JSON signed as CMS
 * SignedData (common/signed_data) by the offline role
 * CN=vendor-firmware-signer of the E2E services CA.
 *
 *   {"type":"sms-firmware-manifest","format":1,"release","package",
 *    "version","min_version","hardware":[...],"requires":[{"package",
 *    "min_version"}],"created","expires","size","sha256","cipher":
 *    "aes-256-gcm","nonce","tag","piece_size","pieces":[...]}
 *
 * Every key required, each once, no other key; release ==
 * "<package>-<version>"; 1 <= min_version <= version; 1..16 hardware
 * types, 0..16 requirements (other packages); created < expires;
 * 1 <= size <= 2^40; 1 KiB <= piece_size <= 1 MiB; pieces has exactly
 * ceil(size / piece_size) <= 4096 entries; digests, nonce and tag are
 * lowercase hex.
 *
 * fw_manifest_verify accepts a manifest only when: it is DER SignedData
 * that signed_data_verify accepts (signature, chain to the E2E root, CRLs
 * of the trust); the signer is issued directly by the services CA with
 * subject exactly CN=vendor-firmware-signer (role_cert); the content
 * parses strictly. On failure *code is the RFC 4108 code the device
 * reports (fw_load_error.h): decodeFailure (not DER, or content not a
 * manifest), signatureFailure (signature or chain), notAuthorized (any
 * other signer). Expiry and version checks are the device's (they depend
 * on its clock and state). No global state.
 */
#ifndef SMS_FW_MANIFEST_H
#define SMS_FW_MANIFEST_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/fw_release_id.h"
#include "common/signed_data.h"

#define FW_SIGNER_ROLE "vendor-firmware-signer"
#define FW_MANIFEST_MAX_DER (1024 * 1024)
#define FW_MANIFEST_MAX_HARDWARE 16
#define FW_MANIFEST_MAX_REQUIRES 16
#define FW_MANIFEST_MAX_PIECES 4096
#define FW_MANIFEST_MAX_SIZE (1LL << 40)
#define FW_PIECE_SIZE_MIN 1024
#define FW_PIECE_SIZE_MAX (1024 * 1024)
#define FW_KEY_LEN 32
#define FW_NONCE_LEN 12
#define FW_TAG_LEN 16
#define FW_DIGEST_LEN 32

typedef struct {
	char package[FW_PACKAGE_MAX + 1];
	long long min_version;
} fw_requirement;

typedef struct {
	char release[FW_RELEASE_MAX];
	char package[FW_PACKAGE_MAX + 1];
	long long version;
	long long min_version;
	char hardware[FW_MANIFEST_MAX_HARDWARE][FW_HARDWARE_MAX + 1];
	size_t n_hardware;
	fw_requirement requires[FW_MANIFEST_MAX_REQUIRES];
	size_t n_requires;
	time_t created;
	time_t expires;
	long long size;                           /* plaintext = ciphertext bytes */
	unsigned char sha256[FW_DIGEST_LEN];      /* of the plaintext image */
	unsigned char nonce[FW_NONCE_LEN];
	unsigned char tag[FW_TAG_LEN];
	long long piece_size;
	unsigned char (*pieces)[FW_DIGEST_LEN];   /* malloc'd, SHA-256 of each ciphertext piece */
	size_t n_pieces;
} fw_manifest;

/* The number of pieces for size and piece_size (ceil). */
size_t fw_manifest_piece_count(long long size, long long piece_size);
/* Length of piece n (the last one may be shorter); 0 when n is out of range. */
size_t fw_manifest_piece_len(const fw_manifest *m, size_t n);
/* 1 when data[0..len) is piece n exactly (length and SHA-256), else 0. */
int fw_manifest_piece_ok(const fw_manifest *m, size_t n, const unsigned char *data, size_t len);

/* The JSON text (malloc'd, free()), after checking m against the rules
 * above; NULL with err. */
char *fw_manifest_json(const fw_manifest *m, char *err, size_t errlen);
/* Strict parse of json[0..len) into *out (release with fw_manifest_free);
 * 0, or -1 with err and *out empty. */
int fw_manifest_parse(const char *json, size_t len, fw_manifest *out, char *err, size_t errlen);
void fw_manifest_free(fw_manifest *m);

/* Signs m's JSON. chain may be NULL. *der is OPENSSL_malloc'd. 0, or -1 with err. */
int fw_manifest_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain, const fw_manifest *m,
                     unsigned char **der, size_t *der_len, char *err, size_t errlen);

/* 0 and *out, or -1 with err, *code (RFC 4108) and *out empty. */
int fw_manifest_verify(const signed_data_trust *trust, X509 *services_ca, const unsigned char *der, size_t len,
                       fw_manifest *out, int *code, char *err, size_t errlen);

#endif
