/*
 * CMS SignedData (RFC 5652) as this project makes and checks it, for
 * everything that must convince a third party (receipts, signed snapshots):
 * DER, content embedded (eContentType id-data), exactly one SignerInfo,
 * ECDSA with SHA-256 or longer, signed attributes contentType,
 * messageDigest and signingTime, the signer's chain (root excluded) in
 * certificates. The content is signed byte for byte (no MIME rules).
 *
 * signed_data_verify accepts only that shape: the signature and the signed
 * attributes verify with the certificate the SignerIdentifier names, the
 * signer chain verifies against the trust root (every level against its CRL
 * when CRLs are set), the signer key is an EC key allowed to sign
 * (digitalSignature), signingTime is readable. What the signer must be
 * (a role, an equipment) is the caller's check, on the chain handed out.
 * Error messages start with the caller's label ("receipt: ...").
 * No global state; a trust is used by one thread at a time, or by many
 * readers while nobody sets its CRLs.
 */
#ifndef SMS_SIGNED_DATA_H
#define SMS_SIGNED_DATA_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Signer, its CAs, the root: anything longer is not ours. */
#define SIGNED_DATA_MAX_CERTS 8

/* chain may be NULL. *der is OPENSSL_malloc'd. 0, or -1 with err. */
int signed_data_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain, const unsigned char *content,
                     size_t len, unsigned char **der, size_t *der_len, char *err, size_t errlen);

typedef struct signed_data_trust signed_data_trust;

/* The first certificate of root_file is the only trust anchor. NULL with err. */
signed_data_trust *signed_data_trust_new(const char *root_file, char *err, size_t errlen);
/* Replaces the CRLs (the caller verified them, e.g. with crl_set); with any
 * CRL given every CA on the chain must have one. NULL or empty: no CRL check. */
int signed_data_trust_set_crls(signed_data_trust *t, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen);
void signed_data_trust_free(signed_data_trust *t);

typedef struct {
	unsigned char *content;   /* malloc'd, NUL-terminated for convenience (not counted) */
	size_t content_len;
	X509 *signer;             /* a reference, owned */
	STACK_OF(X509) *chain;    /* the verified chain, signer first, root last (owned) */
	time_t signing_time;
} signed_data_info;

/* 0 and *out (release with signed_data_info_clear), or -1 with err and *out empty. */
int signed_data_verify(const signed_data_trust *t, const char *label, const unsigned char *der, size_t len,
                       size_t max_der, signed_data_info *out, char *err, size_t errlen);
void signed_data_info_clear(signed_data_info *info);

/* The first certificate in a PEM file (a reference), NULL with err. */
X509 *signed_data_load_cert(const char *path, char *err, size_t errlen);

#endif
