/*
 * The key agreement scheme OIDs of RFC 5753 (dhSinglePass-stdDH-sha*kdf and
 * mqvSinglePass-sha*kdf) and the content cipher OIDs of RFC 5084, mapped to
 * the option enums of smscms.h.
 */
#ifndef CMS_SCHEME_H
#define CMS_SCHEME_H

#include "cms/cms_internal.h"

ASN1_OBJECT *cms_scheme_oid(smscms_ka ka, smscms_kdf kdf);  /* new object */
/* 1 and the options for a known scheme, 0 otherwise. */
int cms_scheme_parse(const ASN1_OBJECT *oid, smscms_ka *ka, smscms_kdf *kdf);
int cms_scheme_cipher_nid(smscms_cipher c);
int cms_scheme_cipher_parse(const ASN1_OBJECT *oid, smscms_cipher *c);

#endif
