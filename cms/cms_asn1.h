/*
 * ASN.1 types of the CMS profile (RFC 5652, RFC 5083 AuthEnvelopedData,
 * RFC 5084 GCMParameters, RFC 5753 ECC key agreement), declared with
 * OpenSSL's templates so every byte is encoded and decoded by OpenSSL.
 * Only the KeyAgreeRecipientInfo alternative is modelled in full; the other
 * RecipientInfo alternatives parse as opaque sequences so a message that
 * also addresses other kinds of recipients is still readable.
 */
#ifndef CMS_ASN1_H
#define CMS_ASN1_H

#include <openssl/asn1t.h>
#include <openssl/x509.h>

typedef struct {
	X509_NAME *issuer;
	ASN1_INTEGER *serial;
} CMSX_ISSUER_SERIAL;

typedef struct {
	X509_ALGOR *algorithm;
	ASN1_BIT_STRING *public_key;
} CMSX_ORIG_PUBKEY;

#define CMSX_ORIG_IAS 0
#define CMSX_ORIG_SKI 1
#define CMSX_ORIG_KEY 2
typedef struct {
	int type;
	union {
		CMSX_ISSUER_SERIAL *ias;
		ASN1_OCTET_STRING *ski;
		CMSX_ORIG_PUBKEY *key;
	} d;
} CMSX_ORIGINATOR;

typedef struct {
	ASN1_OBJECT *id;
	ASN1_TYPE *value;
} CMSX_OTHER_KEY_ATTR;

typedef struct {
	ASN1_OCTET_STRING *ski;
	ASN1_GENERALIZEDTIME *date;
	CMSX_OTHER_KEY_ATTR *other;
} CMSX_RKEYID;

#define CMSX_RID_IAS 0
#define CMSX_RID_KEYID 1
typedef struct {
	int type;
	union {
		CMSX_ISSUER_SERIAL *ias;
		CMSX_RKEYID *rkeyid;
	} d;
} CMSX_KARI_RID;

typedef struct {
	CMSX_KARI_RID *rid;
	ASN1_OCTET_STRING *encrypted_key;
} CMSX_REK;
DEFINE_STACK_OF(CMSX_REK)

typedef struct {
	ASN1_INTEGER *version;
	CMSX_ORIGINATOR *originator;
	ASN1_OCTET_STRING *ukm;
	X509_ALGOR *kea;
	STACK_OF(CMSX_REK) *reks;
} CMSX_KARI;

#define CMSX_RI_KTRI 0
#define CMSX_RI_KARI 1
#define CMSX_RI_KEKRI 2
#define CMSX_RI_PWRI 3
#define CMSX_RI_ORI 4
typedef struct {
	int type;
	union {
		CMSX_KARI *kari;
		STACK_OF(ASN1_TYPE) *other;
	} d;
} CMSX_RECIPINFO;
DEFINE_STACK_OF(CMSX_RECIPINFO)

/* Certificates stay undecoded (ANY) until needed: decoding an X509 costs
 * more than the key agreement, and a receiver usually needs only the
 * originator's certificate. */
typedef struct {
	STACK_OF(ASN1_TYPE) *certs;
	STACK_OF(X509_CRL) *crls;
} CMSX_ORIGINFO;

typedef struct {
	ASN1_OBJECT *content_type;
	X509_ALGOR *algorithm;
	ASN1_OCTET_STRING *content;
} CMSX_ENC_CONTENT;

typedef struct {
	ASN1_INTEGER *version;
	CMSX_ORIGINFO *originator_info;
	STACK_OF(CMSX_RECIPINFO) *recipient_infos;
	CMSX_ENC_CONTENT *enc_content;
	STACK_OF(X509_ATTRIBUTE) *auth_attrs;
	ASN1_OCTET_STRING *mac;
	STACK_OF(X509_ATTRIBUTE) *unauth_attrs;
} CMSX_AUTHENV;

typedef struct {
	ASN1_OBJECT *content_type;
	ASN1_TYPE *content;
} CMSX_CONTENTINFO;

typedef struct {
	ASN1_OCTET_STRING *nonce;
	ASN1_INTEGER *icv_len;        /* NULL means the DEFAULT 12 */
} CMSX_GCM_PARAMS;

typedef struct {
	CMSX_ORIG_PUBKEY *ephemeral;
	ASN1_OCTET_STRING *added_ukm;
} CMSX_MQV_UKM;

typedef struct {
	X509_ALGOR *key_info;
	ASN1_OCTET_STRING *entity_uinfo;
	ASN1_OCTET_STRING *supp_pub_info;
} CMSX_SHARED_INFO;

/* RFC 5652 EncapsulatedContentInfo, RFC 3274 CompressedData. */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_OCTET_STRING *content;   /* [0] EXPLICIT, optional */
} CMSX_ENCAP;

typedef struct {
	ASN1_INTEGER *version;
	X509_ALGOR *algorithm;
	CMSX_ENCAP *encap;
} CMSX_COMPRESSED;

DECLARE_ASN1_FUNCTIONS(CMSX_ISSUER_SERIAL)
DECLARE_ASN1_FUNCTIONS(CMSX_ORIG_PUBKEY)
DECLARE_ASN1_FUNCTIONS(CMSX_ORIGINATOR)
DECLARE_ASN1_FUNCTIONS(CMSX_OTHER_KEY_ATTR)
DECLARE_ASN1_FUNCTIONS(CMSX_RKEYID)
DECLARE_ASN1_FUNCTIONS(CMSX_KARI_RID)
DECLARE_ASN1_FUNCTIONS(CMSX_REK)
DECLARE_ASN1_FUNCTIONS(CMSX_KARI)
DECLARE_ASN1_FUNCTIONS(CMSX_RECIPINFO)
DECLARE_ASN1_FUNCTIONS(CMSX_ORIGINFO)
DECLARE_ASN1_FUNCTIONS(CMSX_ENC_CONTENT)
DECLARE_ASN1_FUNCTIONS(CMSX_AUTHENV)
DECLARE_ASN1_FUNCTIONS(CMSX_CONTENTINFO)
DECLARE_ASN1_FUNCTIONS(CMSX_GCM_PARAMS)
DECLARE_ASN1_FUNCTIONS(CMSX_MQV_UKM)
DECLARE_ASN1_FUNCTIONS(CMSX_SHARED_INFO)
DECLARE_ASN1_FUNCTIONS(CMSX_ENCAP)
DECLARE_ASN1_FUNCTIONS(CMSX_COMPRESSED)

/* DER of authAttrs as the GCM AAD (RFC 5083 3): the attributes under the
 * universal SET OF tag instead of [1]. The attributes are encoded in the
 * order of the stack, i.e. as received, so a sender's SET OF order that is
 * not DER-sorted still authenticates. Returns the length, -1 on error. */
int cms_asn1_attrs_aad(STACK_OF(X509_ATTRIBUTE) *attrs, unsigned char **der);
/* Same attributes DER-sorted, as the encoder puts them into the message. */
int cms_asn1_attrs_der(STACK_OF(X509_ATTRIBUTE) *attrs, unsigned char **der);

/* Decodes a whole buffer as one item; trailing bytes make it malformed
 * (NULL). Every parse of untrusted input goes through this. */
void *cms_asn1_decode_exact(const unsigned char *p, size_t len, const ASN1_ITEM *it);
/* The DER of an item wrapped as an ASN1_TYPE of type SEQUENCE (ANY fields). */
ASN1_TYPE *cms_asn1_any_sequence(const void *val, const ASN1_ITEM *it);

/* A CertificateChoices element as X509 (NULL unless a DER certificate),
 * and an X509 as an element. */
X509 *cms_asn1_cert_decode(const ASN1_TYPE *t);
ASN1_TYPE *cms_asn1_cert_encode(X509 *x);

/* Object identifiers this profile uses that OpenSSL 3.0 has no NID for are
 * compared by value, so the library needs no global OID registration. */
enum cms_oid {
	CMS_OID_MQV_SHA1, CMS_OID_MQV_SHA224, CMS_OID_MQV_SHA256,
	CMS_OID_MQV_SHA384, CMS_OID_MQV_SHA512,
	CMS_OID_COUNT
};
ASN1_OBJECT *cms_asn1_oid(enum cms_oid which);        /* new object, caller frees */
int cms_asn1_oid_is(const ASN1_OBJECT *obj, enum cms_oid which);

#endif
