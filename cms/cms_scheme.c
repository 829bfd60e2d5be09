/*
 * Scheme and cipher identifiers.
 */
#include <openssl/objects.h>
#include "cms/cms_asn1.h"
#include "cms/cms_scheme.h"

static const int dh_nids[] = {
	NID_dhSinglePass_stdDH_sha1kdf_scheme, NID_dhSinglePass_stdDH_sha224kdf_scheme,
	NID_dhSinglePass_stdDH_sha256kdf_scheme, NID_dhSinglePass_stdDH_sha384kdf_scheme,
	NID_dhSinglePass_stdDH_sha512kdf_scheme,
};

static const enum cms_oid mqv_oids[] = {
	CMS_OID_MQV_SHA1, CMS_OID_MQV_SHA224, CMS_OID_MQV_SHA256,
	CMS_OID_MQV_SHA384, CMS_OID_MQV_SHA512,
};

ASN1_OBJECT *cms_scheme_oid(smscms_ka ka, smscms_kdf kdf)
{
	if ((unsigned)kdf > SMSCMS_KDF_SHA512)
		return NULL;
	if (ka == SMSCMS_KA_ECDH)
		return OBJ_dup(OBJ_nid2obj(dh_nids[kdf]));
	if (ka == SMSCMS_KA_MQV)
		return cms_asn1_oid(mqv_oids[kdf]);
	return NULL;
}

int cms_scheme_parse(const ASN1_OBJECT *oid, smscms_ka *ka, smscms_kdf *kdf)
{
	int nid = OBJ_obj2nid(oid);
	unsigned i;

	for (i = 0; i < 5; i++) {
		if (nid != NID_undef && nid == dh_nids[i]) {
			*ka = SMSCMS_KA_ECDH;
			*kdf = (smscms_kdf)i;
			return 1;
		}
		if (cms_asn1_oid_is(oid, mqv_oids[i])) {
			*ka = SMSCMS_KA_MQV;
			*kdf = (smscms_kdf)i;
			return 1;
		}
	}
	return 0;
}

int cms_scheme_cipher_nid(smscms_cipher c)
{
	return c == SMSCMS_AES128_GCM ? NID_aes_128_gcm : NID_aes_256_gcm;
}

int cms_scheme_cipher_parse(const ASN1_OBJECT *oid, smscms_cipher *c)
{
	switch (OBJ_obj2nid(oid)) {
	case NID_aes_128_gcm: *c = SMSCMS_AES128_GCM; return 1;
	case NID_aes_256_gcm: *c = SMSCMS_AES256_GCM; return 1;
	}
	return 0;
}
