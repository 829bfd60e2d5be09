/*
 * The outer frame every reader of a message checks first, in one place:
 * the size bound (lim->max_message), a ContentInfo in exact DER, content
 * type id-ct-authEnvelopedData, and its content an AuthEnvelopedData in
 * exact DER. On return *ci and *env are the caller's to free, also on an
 * error (either may then be set: *ci alone when the content type or the
 * content is wrong, so a caller can still say what the message is).
 */
#ifndef SMS_CMS_MESSAGE_H
#define SMS_CMS_MESSAGE_H

#include <stddef.h>

#include "cms/cms_asn1.h"
#include "cms/cms_internal.h"

smscms_status cms_message_decode(smscms_ctx *ctx, const smscms_limits *lim, const unsigned char *der,
                                 size_t der_len, CMSX_CONTENTINFO **ci, CMSX_AUTHENV **env);

#endif
