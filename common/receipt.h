/*
 * Receipts (DESIGN.md "Receipts"): the snapshot service's signed statement
 * that snapshots are committed in PostgreSQL. The device deletes an outbox
 * entry only when a receipt that verifies lists the entry's digest.
 *
 * Format: CMS SignedData (RFC 5652), DER, content embedded (eContentType
 * id-data), exactly one SignerInfo, ECDSA with SHA-256, signed attributes
 * contentType, messageDigest and signingTime, the signer's chain (root
 * excluded) in certificates. The content is JSON with exactly these keys:
 *   {"equipment":"<ma>/<acc>/<eq>",
 *    "receipted_at":"YYYY-MM-DDTHH:MM:SSZ",
 *    "digests":["<64 lowercase hex: SHA-256 of a snapshot payload as published>", ...]}
 * with 1..RECEIPT_MAX_DIGESTS digests.
 *
 * receipt_verify accepts a receipt only when: the signature verifies; the
 * signer chain verifies against the trust root (and the CRLs given, every
 * level checked); the signer is issued directly by the configured services
 * CA and its subject is CN=<signer role> only (identity.h IDENTITY_ROLE);
 * signingTime is present; the content parses strictly and names exactly the
 * expected equipment. Anything else is refused with one line in err.
 * No global state; a verifier is used by one thread at a time.
 */
#ifndef SMS_RECEIPT_H
#define SMS_RECEIPT_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define RECEIPT_MAX_DIGESTS 4096
#define RECEIPT_MAX_DER (1024 * 1024)
#define RECEIPT_DIGEST_LEN 32

typedef struct {
	time_t receipted_at;
	time_t signing_time;
	unsigned char (*digests)[RECEIPT_DIGEST_LEN];
	size_t n_digests;
} receipt;

/* Signs a receipt for equipment ("ma/acc/eq") over n digests. chain may be
 * NULL. *der is OPENSSL_malloc'd. 0, or -1 with err. */
int receipt_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain, const char *equipment,
                 time_t receipted_at, const unsigned char (*digests)[RECEIPT_DIGEST_LEN], size_t n,
                 unsigned char **der, size_t *der_len, char *err, size_t errlen);

typedef struct receipt_verifier receipt_verifier;

/* trust_root_file: the E2E root; services_ca_file: the CA that issues role
 * certificates; signer_role: the CN a receipt signer must have
 * ("vendor-snapshot-service"). NULL with err. */
receipt_verifier *receipt_verifier_new(const char *trust_root_file, const char *services_ca_file,
                                       const char *signer_role, char *err, size_t errlen);
/* Replaces the CRLs (the caller verified them, e.g. with crl_set); with any
 * CRL given every CA on the chain must have one. NULL or empty: no CRL check. */
int receipt_verifier_set_crls(receipt_verifier *v, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen);
void receipt_verifier_free(receipt_verifier *v);

/* 0 and *out (release with receipt_free), or -1 with err and *out empty. */
int receipt_verify(receipt_verifier *v, const unsigned char *der, size_t len, const char *equipment,
                   receipt *out, char *err, size_t errlen);
void receipt_free(receipt *r);

/* Lowercase hex of a digest into hex[65]. */
void receipt_digest_hex(const unsigned char digest[RECEIPT_DIGEST_LEN], char hex[2 * RECEIPT_DIGEST_LEN + 1]);

#endif
