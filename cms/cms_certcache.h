/*
 * Per-ctx cache of decoded originatorInfo certificates, so a stream of
 * messages from the same originator parses each certificate once.
 *
 * Entries are keyed by SHA-256 of the certificate's DER and a hit also
 * compares the full DER, so only byte-identical input is answered from the
 * cache. An entry is a parse result and nothing more: no trust, chain or
 * revocation verdict is stored here. At most CMS_CERTCACHE_SLOTS entries;
 * the least recently used one is replaced. The cache belongs to one ctx
 * and shares its threading rule (one ctx per thread).
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
/* Number of entries held (for tests). */
size_t cms_certcache_size(const smscms_ctx *ctx);
void cms_certcache_free(struct cms_certcache *c);

#endif
