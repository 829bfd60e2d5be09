/*
 * Decoded originatorInfo certificates, so a stream of messages from the
 * same originators parses each certificate once. d2i_X509 decodes the
 * public key through OpenSSL 3's provider decoders: about 0.13 ms a
 * certificate here, more than the MQV itself.
 *
 * Entries are keyed by SHA-256 of the certificate's DER and a hit also
 * compares the full DER, so only byte-identical input is answered from the
 * cache. An entry is a parse result and nothing more: no trust, chain or
 * revocation verdict is stored here. At most `entries` certificates; the
 * least recently used one is replaced.
 *
 * A ctx creates a private cache of CMS_CERTCACHE_SLOTS on first use. A
 * fleet's receiver shares one larger cache between its threads' ctxs
 * (smscms_certcache_new, smscms_ctx_use_certcache): with a shared
 * subscription any worker gets any device's next message, so per-thread
 * caches would each have to hold the whole fleet. The cache has its own
 * lock; certificates are parsed outside it.
 */
#ifndef CMS_CERTCACHE_H
#define CMS_CERTCACHE_H

#include "cms/cms_internal.h"

#define CMS_CERTCACHE_SLOTS 32
#define CMS_CERTCACHE_MAX_PUB 133   /* uncompressed P-521 point */

struct cms_cert_info {
	X509 *cert;                   /* a reference the caller frees */
	int nid;                      /* curve of its EC key, NID_undef otherwise */
	unsigned char pub[CMS_CERTCACHE_MAX_PUB];
	size_t pub_len;               /* 0 when nid is NID_undef */
};

/* Decodes (or finds) one DER certificate. 1 on success, 0 when der is not
 * exactly one DER X.509 certificate or memory ran out. */
int cms_certcache_decode(smscms_ctx *ctx, const unsigned char *der, size_t der_len,
                         struct cms_cert_info *out);
/* Number of entries held by ctx's cache (for tests). */
size_t cms_certcache_size(const smscms_ctx *ctx);

#endif
