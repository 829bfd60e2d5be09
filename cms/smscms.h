/*
 * libsmscms: end-to-end payload protection for the SMS framework.
 *
 * Messages are CMS AuthEnvelopedData (RFC 5652, RFC 5083) with AES-GCM
 * content encryption (RFC 5084) and, per recipient, one-pass ECMQV or
 * ephemeral-static ECDH key agreement (RFC 5753) with AES key wrap.
 *
 * Contract:
 *  - No global mutable state. Every call takes a smscms_ctx that carries the
 *    last error message; use one ctx per thread. Identities and verifiers are
 *    read-only after creation and may be shared between threads, except that
 *    a verifier's certificate cache is guarded by its own lock.
 *  - A ctx also holds the OpenSSL algorithms it fetched and a small bounded
 *    cache of parsed originatorInfo certificates (exact DER match, parse
 *    results only: no trust or revocation verdict). Keep one ctx per stream
 *    of messages to benefit; certificates handed out in smscms_originator
 *    may be shared with that cache and are to be treated as read-only.
 *  - smscms_decrypt releases plaintext only after the GCM tag verified and,
 *    when a verifier is given, after the originator chain verified.
 *  - Every failure returns a distinct smscms_status and leaves a one-line
 *    message with context in the ctx (smscms_ctx_error). Secrets are never
 *    put in messages. Keys and CEKs are wiped after use.
 */
#ifndef SMSCMS_H
#define SMSCMS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

typedef enum {
	SMSCMS_OK = 0,
	SMSCMS_ERR_ARGUMENT,     /* caller error: NULL, bad option */
	SMSCMS_ERR_MEMORY,
	SMSCMS_ERR_IO,           /* file could not be read */
	SMSCMS_ERR_TOO_LARGE,    /* input over a configured limit */
	SMSCMS_ERR_MALFORMED,    /* not DER, truncated, or not the expected ASN.1 */
	SMSCMS_ERR_UNSUPPORTED,  /* valid CMS, but a content type/algorithm/curve we refuse */
	SMSCMS_ERR_NOT_RECIPIENT,/* no RecipientEncryptedKey addresses our identity */
	SMSCMS_ERR_KEY_UNWRAP,   /* key agreement or AES key unwrap failed */
	SMSCMS_ERR_AUTH,         /* GCM tag did not verify (ciphertext, nonce or authAttrs tampered) */
	SMSCMS_ERR_ORIGINATOR,   /* originator missing or does not match any certificate carried */
	SMSCMS_ERR_UNTRUSTED,    /* originator chain does not verify against the trust root */
	SMSCMS_ERR_REVOKED,      /* originator or an issuing CA is revoked */
	SMSCMS_ERR_CRYPTO,       /* an OpenSSL primitive failed unexpectedly */
	SMSCMS_STATUS_COUNT
} smscms_status;

/* Stable short name ("malformed", "auth", ...) for logs and dead letters. */
const char *smscms_status_name(smscms_status st);

typedef struct smscms_ctx smscms_ctx;
smscms_ctx *smscms_ctx_new(void);
void smscms_ctx_free(smscms_ctx *ctx);
/* The last error message ("" when none). Valid until the next call on ctx. */
const char *smscms_ctx_error(const smscms_ctx *ctx);

/* Decoded originator certificates shared by the ctxs of several threads,
 * for a receiver of a fleet: each certificate is parsed once per process
 * instead of once per message whichever thread gets the message (a ctx's
 * own cache holds 32). At most `entries` certificates, least recently used
 * replaced; about 6 KB each for a P-256 device certificate (the X509 and
 * its DER). Parse results only, never a trust verdict; its own lock.
 * Reference counted: new gives one reference, each ctx that uses the cache
 * takes one, free drops one. NULL when entries is 0 or memory ran out. */
typedef struct smscms_certcache smscms_certcache;
smscms_certcache *smscms_certcache_new(size_t entries);
void smscms_certcache_free(smscms_certcache *cache);
/* ctx drops its own cache and uses cache from now on. */
void smscms_ctx_use_certcache(smscms_ctx *ctx, smscms_certcache *cache);
/* Certificates held now, and lookups answered from the cache / parsed. */
void smscms_certcache_stats(smscms_certcache *cache, size_t *held, unsigned long long *hits,
                            unsigned long long *misses);

/* An identity: certificate, private key and (optional) chain up to, not
 * including, the root. Used both as originator and as recipient. */
typedef struct smscms_identity smscms_identity;
smscms_status smscms_identity_load_pem(smscms_ctx *ctx, const char *cert_file,
                                       const char *key_file, const char *chain_file,
                                       smscms_identity **out);
smscms_status smscms_identity_load_p12(smscms_ctx *ctx, const char *p12_file,
                                       const char *password, smscms_identity **out);
void smscms_identity_free(smscms_identity *id);
X509 *smscms_identity_cert(const smscms_identity *id); /* borrowed */
/* The private key (NULL for a recipient-only identity) and the chain
 * (issuing CAs, root excluded; empty, never NULL, for a loaded identity),
 * borrowed like the certificate: for signing with the same identity
 * elsewhere (common/receipt.h), read-only. */
EVP_PKEY *smscms_identity_key(const smscms_identity *id);
STACK_OF(X509) *smscms_identity_chain(const smscms_identity *id);
/* An identity from objects in memory (references are taken; key may be NULL
 * for a certificate used only as a recipient). */
smscms_status smscms_identity_new(smscms_ctx *ctx, X509 *cert, EVP_PKEY *key,
                                  STACK_OF(X509) *chain, smscms_identity **out);
/* First certificate of a PEM file (e.g. a recipient). */
smscms_status smscms_cert_load_pem(smscms_ctx *ctx, const char *file, X509 **out);

typedef enum { SMSCMS_KA_MQV = 0, SMSCMS_KA_ECDH } smscms_ka;
typedef enum { SMSCMS_KDF_SHA1 = 0, SMSCMS_KDF_SHA224, SMSCMS_KDF_SHA256,
               SMSCMS_KDF_SHA384, SMSCMS_KDF_SHA512 } smscms_kdf;
typedef enum { SMSCMS_AES256_GCM = 0, SMSCMS_AES128_GCM } smscms_cipher;
typedef enum { SMSCMS_RID_ISSUER_SERIAL = 0, SMSCMS_RID_SKI } smscms_rid;

typedef struct {
	smscms_ka ka;                 /* default MQV */
	smscms_kdf kdf;               /* default SHA256 */
	smscms_cipher cipher;         /* default AES-256-GCM, key wrap matches */
	smscms_rid rid;               /* default issuerAndSerialNumber */
	int bc_compat;                /* BC 1.72 peers: MQV originatorKey and raw-ukm KDF SharedInfo
	                                 (every KDF hash; BC refuses the RFC 5753 form) */
	int originator_info;          /* default 1: chain in originatorInfo; 0 with MQV sends originatorKey */
	int auth_attrs;               /* default 1: signingTime (+ extra) */
	/* Extra authenticated attributes: DER of each Attribute, may be NULL. */
	const unsigned char *const *extra_attrs_der;
	const size_t *extra_attrs_len;
	size_t n_extra_attrs;
	/* The encrypted content's type (RFC 5652 EncryptedContentInfo.contentType):
	 * 0 or NID_pkcs7_data for plain content, NID_pkcs7_signed when pt is the
	 * DER of a SignedData ContentInfo (a signed snapshot). */
	int content_type_nid;
	/* 1: the encrypted content is RFC 3274 CompressedData (zlib) around the
	 * content above; the envelope's contentType says id-ct-compressedData.
	 * smscms_decrypt undoes it. Default 0. */
	int compress;
} smscms_encrypt_opts;

void smscms_encrypt_opts_init(smscms_encrypt_opts *opts);

/* Encrypts pt for every recipient certificate. *der is OPENSSL_malloc'd. */
smscms_status smscms_encrypt(smscms_ctx *ctx, const smscms_encrypt_opts *opts,
                             const smscms_identity *originator,
                             X509 *const *recipients, size_t n_recipients,
                             const unsigned char *pt, size_t pt_len,
                             unsigned char **der, size_t *der_len);

/* Trust root + CRLs + a cache of already-verified originator certificates. */
typedef struct smscms_verifier smscms_verifier;
smscms_status smscms_verifier_new(smscms_ctx *ctx, const char *trust_root_file,
                                  const char *const *crl_files, size_t n_crl_files,
                                  smscms_verifier **out);
/* Re-reads the CRL files and empties the cache (e.g. on SIGHUP). */
smscms_status smscms_verifier_reload(smscms_ctx *ctx, smscms_verifier *v);
/* Replaces the CRLs with crls (the verifier takes its own references) and
 * empties the cache. For callers that verified the CRLs themselves
 * (common/crl_watch: issuer signature, replay rules); with any CRL given,
 * every CA on a chain must have one. */
smscms_status smscms_verifier_set_crls(smscms_ctx *ctx, smscms_verifier *v, const STACK_OF(X509_CRL) *crls);
/* CA certificates the receiver already holds (e.g. e2e.ca_certs), used as
 * untrusted chain material besides the message's originatorInfo, so a
 * sender may carry its own certificate only: the chain still has to end at
 * the trust root, with CRLs. References are taken; once, before the
 * verifier is shared between threads. */
smscms_status smscms_verifier_set_intermediates(smscms_ctx *ctx, smscms_verifier *v, const STACK_OF(X509) *cas);
void smscms_verifier_free(smscms_verifier *v);

typedef struct {
	size_t max_message;           /* default 1 MiB */
	size_t max_recipients;        /* default 64 */
	size_t max_certificates;      /* certificates + CRLs in originatorInfo, default 16 */
	size_t max_content;           /* content after RFC 3274 decompression, default 1 MiB:
	                                 more is SMSCMS_ERR_TOO_LARGE (a decompression bomb) */
} smscms_limits;
void smscms_limits_init(smscms_limits *limits);

/* What decrypt learned about the message and its originator. */
typedef struct {
	X509 *cert;                   /* originator certificate (owned; NULL if unknown) */
	STACK_OF(X509) *chain;        /* originatorInfo certificates decrypt decoded (owned, may be
	                                 NULL): the originator's, and all after a chain check that
	                                 was not answered from the verifier's cache */
	char subject[512];            /* RFC 2253 subject of cert, "" if unknown */
	int has_signing_time;
	time_t signing_time;
	smscms_ka ka;
	smscms_kdf kdf;
	smscms_cipher cipher;
	int curve_nid;
	int originator_key_form;      /* 1: originatorKey, 0: issuerAndSerialNumber or SKI */
	int bc_shared_info;           /* 1: KEK derived with BC's raw-ukm SharedInfo */
	int chain_verified;           /* 1 when a verifier accepted the chain */
	int content_type_nid;         /* the encrypted content's type: NID_pkcs7_data, NID_pkcs7_signed,
	                                 or NID_undef for anything else (the caller decides); for
	                                 compressed content, the type inside the CompressedData */
	int compressed;               /* 1: the content was RFC 3274 CompressedData, *pt is what it held */
} smscms_originator;

void smscms_originator_clear(smscms_originator *orig);

/* Decrypts der for recipient. verifier may be NULL (no chain check).
 * Content of type id-ct-compressedData (RFC 3274, zlib) is decompressed,
 * bounded by limits->max_content, after the tag and the chain verified.
 * With a verifier, only MQV messages pass: ECDH authenticates no originator
 * (SMSCMS_ERR_ORIGINATOR), and the MQV originator certificate must be in
 * originatorInfo and chain to the root through the certificates there.
 * limits may be NULL (defaults). *pt is OPENSSL_malloc'd; orig may be NULL. */
smscms_status smscms_decrypt(smscms_ctx *ctx, const smscms_limits *limits,
                             const smscms_identity *recipient,
                             smscms_verifier *verifier,
                             const unsigned char *der, size_t der_len,
                             unsigned char **pt, size_t *pt_len,
                             smscms_originator *orig);

/* Writes a readable description of the message structure (content type,
 * schemes, curves, recipients, originator, attributes, sizes) to out without
 * decrypting anything. limits may be NULL. */
smscms_status smscms_inspect(smscms_ctx *ctx, const smscms_limits *limits,
                             const unsigned char *der, size_t der_len, FILE *out);

/* The recipients an envelope names, without decrypting (unverified: the
 * sender chose them), as "issuer=<RFC 2253>, serial=<HEX>" or "ski=<hex>",
 * at most max into out; *n set. Key-agreement recipients only. */
#define SMSCMS_RECIPIENT_ID_MAX 600
smscms_status smscms_recipients(smscms_ctx *ctx, const smscms_limits *limits, const unsigned char *der,
                                size_t der_len, char (*out)[SMSCMS_RECIPIENT_ID_MAX], size_t max, size_t *n);
/* The same text for a certificate (ski_form: its subjectKeyIdentifier), to
 * match against smscms_recipients; 0, or -1. */
int smscms_recipient_id_of_cert(X509 *cert, int ski_form, char *buf, size_t len);

#endif
