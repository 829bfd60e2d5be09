/* A message's outer frame; contract in cms_message.h. */
#include "cms/cms_message.h"

#include <openssl/objects.h>

smscms_status cms_message_decode(smscms_ctx *ctx, const smscms_limits *lim, const unsigned char *der,
                                 size_t der_len, CMSX_CONTENTINFO **ci, CMSX_AUTHENV **env)
{
	const ASN1_TYPE *content;
	char oid[80];

	*ci = NULL;
	*env = NULL;
	if (der_len > lim->max_message)
		return cms_error(ctx, SMSCMS_ERR_TOO_LARGE, "message of %zu bytes exceeds the limit of %zu", der_len,
		                 lim->max_message);
	if ((*ci = cms_asn1_decode_exact(der, der_len, ASN1_ITEM_rptr(CMSX_CONTENTINFO))) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "message is not a DER ContentInfo");
	if (OBJ_obj2nid((*ci)->content_type) != NID_id_smime_ct_authEnvelopedData) {
		OBJ_obj2txt(oid, sizeof(oid), (*ci)->content_type, 1);
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED, "content type %s is not authEnvelopedData", oid);
	}
	content = (*ci)->content;
	if (content == NULL || content->type != V_ASN1_SEQUENCE || content->value.sequence == NULL ||
	    (*env = cms_asn1_decode_exact(content->value.sequence->data, (size_t)content->value.sequence->length,
	                                  ASN1_ITEM_rptr(CMSX_AUTHENV))) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "content is not a DER AuthEnvelopedData");
	return SMSCMS_OK;
}
