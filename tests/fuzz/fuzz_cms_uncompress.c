/*
 * libFuzzer target for RFC 3274 CompressedData (cms/cms_compress.c): what
 * it reads has passed the GCM tag, so only a device (or a stolen device key)
 * can send it, but then anything: it must refuse malformed DER and zlib
 * streams with a reason, and never hand out more than the limit (a
 * decompression bomb). Seeds (tests/fuzz/corpus/cms_uncompress): a valid
 * CompressedData around a snapshot, and one that expands past the limit.
 */
#include <stdint.h>
#include <string.h>
#include <openssl/crypto.h>

#include "cms/cms_compress.h"

#define LIMIT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static smscms_ctx *ctx;
	unsigned char *out = NULL;
	size_t out_len = 0;
	int nid;

	if (ctx == NULL && (ctx = smscms_ctx_new()) == NULL)
		return 0;
	if (cms_compress_unwrap(ctx, LIMIT, data, size, &nid, &out, &out_len) != SMSCMS_OK) {
		/* A refusal always says why and hands out nothing. */
		if (smscms_ctx_error(ctx)[0] == '\0' || out != NULL)
			__builtin_trap();
		return 0;
	}
	if (out == NULL || out_len > LIMIT)
		__builtin_trap();
	OPENSSL_clear_free(out, out_len);
	return 0;
}
