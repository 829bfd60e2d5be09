/* RFC 3274 CompressedData with zlib; contract in cms_compress.h. */
#include "cms/cms_compress.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>
#include <openssl/objects.h>

#include "cms/cms_asn1.h"
#include "cms/cms_internal.h"

static smscms_status deflate_all(smscms_ctx *ctx, const unsigned char *pt, size_t pt_len,
                                 unsigned char **out, size_t *out_len)
{
	uLongf n;

	if (pt_len > INT_MAX / 2)
		return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "compress: %zu bytes is too large", pt_len);
	n = compressBound((uLong)pt_len);
	if ((*out = OPENSSL_malloc(n)) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if (compress2(*out, &n, pt, (uLong)pt_len, Z_BEST_COMPRESSION) != Z_OK) {
		OPENSSL_free(*out);
		*out = NULL;
		/* With compressBound's room, zlib fails only for memory. */
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "compress: zlib out of memory");
	}
	*out_len = n;
	return SMSCMS_OK;
}

/* The DER of ContentInfo(CompressedData) around z, or NULL (out of memory). */
static int encode_compressed(int inner_nid, const unsigned char *z, size_t z_len,
                             unsigned char **der, size_t *der_len)
{
	CMSX_COMPRESSED *cd = NULL;
	CMSX_CONTENTINFO *ci = NULL;
	int len, ok = 0;

	if ((cd = CMSX_COMPRESSED_new()) == NULL || !ASN1_INTEGER_set(cd->version, 0) ||
	    !X509_ALGOR_set0(cd->algorithm, OBJ_nid2obj(NID_zlib_compression), V_ASN1_UNDEF, NULL) ||
	    (cd->encap->content = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(cd->encap->content, z, (int)z_len) || (ci = CMSX_CONTENTINFO_new()) == NULL)
		goto out;
	ASN1_OBJECT_free(cd->encap->type);
	cd->encap->type = OBJ_nid2obj(inner_nid);
	ASN1_TYPE_free(ci->content);
	if ((ci->content = cms_asn1_any_sequence(cd, ASN1_ITEM_rptr(CMSX_COMPRESSED))) == NULL)
		goto out;
	ASN1_OBJECT_free(ci->content_type);
	ci->content_type = OBJ_nid2obj(NID_id_smime_ct_compressedData);
	if ((len = i2d_CMSX_CONTENTINFO(ci, der)) <= 0) {
		*der = NULL;
		goto out;
	}
	*der_len = (size_t)len;
	ok = 1;
out:
	CMSX_CONTENTINFO_free(ci);
	CMSX_COMPRESSED_free(cd);
	return ok;
}

smscms_status cms_compress_wrap(smscms_ctx *ctx, int inner_nid, const unsigned char *pt, size_t pt_len,
                                unsigned char **der, size_t *der_len)
{
	unsigned char *z = NULL;
	size_t z_len = 0;
	smscms_status st;

	*der = NULL;
	*der_len = 0;
	if ((st = deflate_all(ctx, pt, pt_len, &z, &z_len)) != SMSCMS_OK)
		return st;
	if (!encode_compressed(inner_nid, z, z_len, der, der_len))
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot encode CompressedData");
	OPENSSL_clear_free(z, z_len);
	return st;
}

/* Inflates exactly one zlib stream, all of in, into at most max_out bytes:
 * the buffer grows only while the stream still produces output. */
static smscms_status inflate_bounded(smscms_ctx *ctx, size_t max_out, const unsigned char *in, size_t in_len,
                                     unsigned char **out, size_t *out_len)
{
	z_stream z;
	unsigned char *buf = NULL, *grown;
	size_t alloc = 0, cap;
	smscms_status st;
	int zr;

	memset(&z, 0, sizeof(z));
	if (in_len > UINT_MAX / 8 || max_out > UINT_MAX / 2)
		return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "uncompress: input or limit too large");
	if (inflateInit(&z) != Z_OK)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "uncompress: cannot start zlib");
	cap = in_len * 4 + 256 < max_out ? in_len * 4 + 256 : max_out;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)in_len;
	for (;;) {
		/* One byte over the limit tells "exactly max_out" from "more". */
		if ((grown = OPENSSL_clear_realloc(buf, alloc, cap + 1)) == NULL) {
			st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
			goto out;
		}
		buf = grown;
		alloc = cap + 1;
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(alloc - z.total_out);
		zr = inflate(&z, Z_FINISH);
		if (z.total_out > max_out) {
			st = cms_error(ctx, SMSCMS_ERR_TOO_LARGE,
			               "compressed content expands beyond the limit of %zu bytes", max_out);
			goto out;
		}
		if (zr == Z_STREAM_END)
			break;
		if ((zr != Z_BUF_ERROR && zr != Z_OK) || z.avail_out != 0) {
			st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "compressed content is not a whole zlib stream%s%s",
			               z.msg != NULL ? ": " : "", z.msg != NULL ? z.msg : "");
			goto out;
		}
		cap = cap > max_out / 2 ? max_out : cap * 2;
	}
	if (z.avail_in != 0) {
		st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "bytes after the zlib stream in compressed content");
		goto out;
	}
	*out = buf;
	*out_len = z.total_out;
	buf = NULL;
	st = SMSCMS_OK;
out:
	OPENSSL_clear_free(buf, alloc);
	inflateEnd(&z);
	return st;
}

smscms_status cms_compress_unwrap(smscms_ctx *ctx, size_t max_out, const unsigned char *der, size_t der_len,
                                  int *inner_nid, unsigned char **out, size_t *out_len)
{
	CMSX_CONTENTINFO *ci = NULL;
	CMSX_COMPRESSED *cd = NULL;
	const unsigned char *p;
	smscms_status st;
	long v;

	*out = NULL;
	*out_len = 0;
	*inner_nid = NID_undef;
	if ((ci = cms_asn1_decode_exact(der, der_len, ASN1_ITEM_rptr(CMSX_CONTENTINFO))) == NULL ||
	    OBJ_obj2nid(ci->content_type) != NID_id_smime_ct_compressedData ||
	    ci->content->type != V_ASN1_SEQUENCE) {
		st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "content is not a CompressedData ContentInfo");
		goto out;
	}
	p = ci->content->value.sequence->data;
	if ((cd = cms_asn1_decode_exact(p, (size_t)ci->content->value.sequence->length,
	                                ASN1_ITEM_rptr(CMSX_COMPRESSED))) == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "CompressedData does not decode");
		goto out;
	}
	v = ASN1_INTEGER_get(cd->version);
	if (v != 0 || OBJ_obj2nid(cd->algorithm->algorithm) != NID_zlib_compression) {
		st = cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "CompressedData version %ld or algorithm is not zlib", v);
		goto out;
	}
	if (cd->encap->content == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "CompressedData without content");
		goto out;
	}
	st = inflate_bounded(ctx, max_out, cd->encap->content->data, (size_t)cd->encap->content->length,
	                     out, out_len);
	if (st == SMSCMS_OK)
		*inner_nid = OBJ_obj2nid(cd->encap->type);
out:
	CMSX_COMPRESSED_free(cd);
	CMSX_CONTENTINFO_free(ci);
	return st;
}
