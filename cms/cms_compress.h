/*
 * RFC 3274 CompressedData (id-ct-compressedData, id-alg-zlibCompress, RFC
 * 1950 zlib stream) as the content of an AuthEnvelopedData. Like a signed
 * snapshot, the encrypted bytes are the DER of a whole ContentInfo, so
 * `openssl cms -uncompress` and Bouncy Castle's CMSCompressedData read them
 * as they come out of the envelope. Decompression is bounded: output beyond
 * max_out is SMSCMS_ERR_TOO_LARGE (a decompression bomb costs at most
 * max_out bytes of memory and the work to produce them).
 */
#ifndef CMS_COMPRESS_H
#define CMS_COMPRESS_H

#include "cms/smscms.h"

/* ContentInfo(CompressedData(eContentType inner_nid, zlib(pt))). */
smscms_status cms_compress_wrap(smscms_ctx *ctx, int inner_nid, const unsigned char *pt, size_t pt_len,
                                unsigned char **der, size_t *der_len);
/* The reverse; *inner_nid is the encapsulated content type's NID (NID_undef
 * when OpenSSL has none), *out OPENSSL_malloc'd. */
smscms_status cms_compress_unwrap(smscms_ctx *ctx, size_t max_out, const unsigned char *der, size_t der_len,
                                  int *inner_nid, unsigned char **out, size_t *out_len);

#endif
