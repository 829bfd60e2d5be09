/* Signed receipts; contract in receipt.h. */
#include "common/receipt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/identity.h"
#include "common/snapshot_json.h"
#include "common/x509_util.h"

/* Signer certificate, services CA, root: anything longer is not ours. */
#define RECEIPT_MAX_CERTS 8

struct receipt_verifier {
	X509_STORE *store;          /* the trust root only */
	X509 *services_ca;
	char *role;
	STACK_OF(X509_CRL) *crls;   /* NULL: no CRL check */
};

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void receipt_digest_hex(const unsigned char digest[RECEIPT_DIGEST_LEN], char hex[2 * RECEIPT_DIGEST_LEN + 1])
{
	static const char xd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < RECEIPT_DIGEST_LEN; i++) {
		hex[2 * i] = xd[digest[i] >> 4];
		hex[2 * i + 1] = xd[digest[i] & 0xf];
	}
	hex[2 * RECEIPT_DIGEST_LEN] = '\0';
}

/* ------------------------------------------------------------- signing */

static char *content_json(const char *equipment, time_t at, const unsigned char (*digests)[RECEIPT_DIGEST_LEN],
                          size_t n)
{
	char when[32], hex[2 * RECEIPT_DIGEST_LEN + 1];
	cJSON *root = cJSON_CreateObject(), *list = NULL;
	char *text = NULL;
	struct tm tm;
	size_t i;

	if (root == NULL || gmtime_r(&at, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		goto out;
	if (cJSON_AddStringToObject(root, "equipment", equipment) == NULL ||
	    cJSON_AddStringToObject(root, "receipted_at", when) == NULL ||
	    (list = cJSON_AddArrayToObject(root, "digests")) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		receipt_digest_hex(digests[i], hex);
		if (!cJSON_AddItemToArray(list, cJSON_CreateString(hex)))
			goto out;
	}
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

int receipt_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain, const char *equipment,
                 time_t receipted_at, const unsigned char (*digests)[RECEIPT_DIGEST_LEN], size_t n,
                 unsigned char **der, size_t *der_len, char *err, size_t errlen)
{
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	char *json = NULL;
	unsigned char *p = NULL;
	int len, rc = -1;

	*der = NULL;
	if (n == 0 || n > RECEIPT_MAX_DIGESTS)
		return fail(err, errlen, "receipt: %s", "1..RECEIPT_MAX_DIGESTS digests needed");
	json = content_json(equipment, receipted_at, digests, n);
	if (json == NULL) {
		fail(err, errlen, "receipt: %s", "cannot build the JSON content (out of memory?)");
		goto out;
	}
	in = BIO_new_mem_buf(json, (int)strlen(json));
	/* CMS_BINARY: the JSON is signed byte for byte, no MIME canonicalisation;
	 * CMS_sign adds contentType, messageDigest and signingTime. */
	cms = in ? CMS_sign(signer, key, chain, in, CMS_BINARY | CMS_NOSMIMECAP) : NULL;
	if (cms == NULL) {
		fail(err, errlen, "receipt: signing failed: %s", x509_ossl_reason());
		goto out;
	}
	len = i2d_CMS_ContentInfo(cms, &p);
	if (len <= 0) {
		fail(err, errlen, "receipt: encoding failed: %s", x509_ossl_reason());
		goto out;
	}
	*der = p;
	*der_len = (size_t)len;
	rc = 0;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	cJSON_free(json);
	return rc;
}

/* ------------------------------------------------------------ verifier */

static X509 *first_cert(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos = NULL;
	X509 *cert = NULL;
	int i;

	if (x509_read_pem(path, &infos, err, errlen) != 0)
		return NULL;
	for (i = 0; i < sk_X509_INFO_num(infos) && cert == NULL; i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509 != NULL && X509_up_ref(xi->x509) == 1)
			cert = xi->x509;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (cert == NULL)
		snprintf(err, errlen, "%s: no certificate in the file", path);
	return cert;
}

receipt_verifier *receipt_verifier_new(const char *trust_root_file, const char *services_ca_file,
                                       const char *signer_role, char *err, size_t errlen)
{
	receipt_verifier *v = calloc(1, sizeof *v);
	X509 *root = NULL;

	if (v == NULL || (v->role = strdup(signer_role)) == NULL || (v->store = X509_STORE_new()) == NULL) {
		snprintf(err, errlen, "receipt verifier: out of memory");
		goto fail;
	}
	if ((root = first_cert(trust_root_file, err, errlen)) == NULL ||
	    (v->services_ca = first_cert(services_ca_file, err, errlen)) == NULL)
		goto fail;
	if (X509_STORE_add_cert(v->store, root) != 1) {
		snprintf(err, errlen, "receipt verifier: %s: %s", trust_root_file, x509_ossl_reason());
		goto fail;
	}
	X509_free(root);
	return v;
fail:
	X509_free(root);
	receipt_verifier_free(v);
	return NULL;
}

int receipt_verifier_set_crls(receipt_verifier *v, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *copy = NULL;
	int i;

	if (crls != NULL && sk_X509_CRL_num(crls) > 0) {
		copy = sk_X509_CRL_new_null();
		for (i = 0; copy != NULL && i < sk_X509_CRL_num(crls); i++) {
			X509_CRL *c = sk_X509_CRL_value(crls, i);

			if (X509_CRL_up_ref(c) != 1 || !sk_X509_CRL_push(copy, c)) {
				sk_X509_CRL_pop_free(copy, X509_CRL_free);
				copy = NULL;
			}
		}
		if (copy == NULL) {
			snprintf(err, errlen, "receipt verifier: out of memory taking the CRLs");
			return -1;
		}
	}
	sk_X509_CRL_pop_free(v->crls, X509_CRL_free);
	v->crls = copy;
	return 0;
}

void receipt_verifier_free(receipt_verifier *v)
{
	if (v == NULL)
		return;
	X509_STORE_free(v->store);
	X509_free(v->services_ca);
	sk_X509_CRL_pop_free(v->crls, X509_CRL_free);
	free(v->role);
	free(v);
}

/* ----------------------------------------------------------- verifying */

static CMS_ContentInfo *decode_signed_data(const unsigned char *der, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;

	if (len == 0 || len > RECEIPT_MAX_DER) {
		fail(err, errlen, "receipt: %s", "empty or larger than RECEIPT_MAX_DER");
		return NULL;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != der + len) {
		fail(err, errlen, "receipt: %s", cms ? "bytes after the DER" : "not DER CMS");
		CMS_ContentInfo_free(cms);
		ERR_clear_error();
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		fail(err, errlen, "receipt: %s", "not SignedData over id-data");
		CMS_ContentInfo_free(cms);
		return NULL;
	}
	return cms;
}

/* One SignerInfo, ECDSA over SHA-256 or longer, with signingTime. */
static int check_signer_info(CMS_ContentInfo *cms, time_t *signing_time, char *err, size_t errlen)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	X509_ALGOR *dig = NULL, *sig = NULL;
	const ASN1_TYPE *t;
	CMS_SignerInfo *si;
	int idx, nid;

	if (sk_CMS_SignerInfo_num(sis) != 1)
		return fail(err, errlen, "receipt: %s", "exactly one signer expected");
	si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	nid = dig ? OBJ_obj2nid(dig->algorithm) : NID_undef;
	if (nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512)
		return fail(err, errlen, "receipt: digest algorithm %s refused", OBJ_nid2sn(nid));
	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	t = idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0) : NULL;
	if (t == NULL || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    (*signing_time = x509_time(t->value.utctime)) == 0)
		return fail(err, errlen, "receipt: %s", "no readable signingTime");
	return 0;
}

/* The chain to the root (CRLs on every level when given), issued directly
 * by the services CA, subject CN=<role> and nothing else. */
static int check_signer_cert(receipt_verifier *v, X509 *signer, STACK_OF(X509) *untrusted, char *err,
                             size_t errlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain;
	char why[160];
	identity id;
	int rc = -1;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, v->store, signer, untrusted) != 1) {
		fail(err, errlen, "receipt: chain check setup failed: %s", x509_ossl_reason());
		goto out;
	}
	if (v->crls != NULL) {
		X509_STORE_CTX_set0_crls(ctx, v->crls);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	if (X509_verify_cert(ctx) != 1) {
		fail(err, errlen, "receipt: signer chain does not verify: %s",
		     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	if (sk_X509_num(chain) < 2 || X509_cmp(sk_X509_value(chain, 1), v->services_ca) != 0) {
		fail(err, errlen, "receipt: %s", "signer not issued by the services CA");
		goto out;
	}
	if (identity_from_subject(X509_get_subject_name(signer), &id, why, sizeof why) != 0 ||
	    id.kind != IDENTITY_ROLE || strcmp(id.role, v->role) != 0) {
		x509_name_string(X509_get_subject_name(signer), why, sizeof why);
		snprintf(err, errlen, "receipt: signer %s is not the role %s", why, v->role);
		goto out;
	}
	if ((X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE) == 0 ||
	    EVP_PKEY_get_base_id(X509_get0_pubkey(signer)) != EVP_PKEY_EC) {
		fail(err, errlen, "receipt: %s", "signer key is not an EC signing key");
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	return rc;
}

static int hex_digest(const char *s, unsigned char out[RECEIPT_DIGEST_LEN])
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * RECEIPT_DIGEST_LEN)
		return -1;
	for (i = 0; i < RECEIPT_DIGEST_LEN; i++) {
		/* lowercase only: one spelling per digest */
		if ((s[2 * i] >= 'A' && s[2 * i] <= 'F') || (s[2 * i + 1] >= 'A' && s[2 * i + 1] <= 'F'))
			return -1;
		hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int parse_digests(const cJSON *list, receipt *out, char *err, size_t errlen)
{
	const cJSON *it;
	size_t n = (size_t)cJSON_GetArraySize(list), i = 0;

	if (!cJSON_IsArray(list) || n == 0 || n > RECEIPT_MAX_DIGESTS)
		return fail(err, errlen, "receipt: %s", "digests must be an array of 1..RECEIPT_MAX_DIGESTS");
	out->digests = calloc(n, sizeof *out->digests);
	if (out->digests == NULL)
		return fail(err, errlen, "receipt: %s", "out of memory");
	cJSON_ArrayForEach(it, list) {
		if (!cJSON_IsString(it) || hex_digest(it->valuestring, out->digests[i]) != 0)
			return fail(err, errlen, "receipt: digest %s is not 64 lowercase hex digits",
			            cJSON_IsString(it) ? "string" : "value");
		i++;
	}
	out->n_digests = n;
	return 0;
}

/* Exactly the three keys, each once; equipment must be ours. */
static int parse_content(const char *buf, size_t len, const char *equipment, receipt *out, char *err,
                         size_t errlen)
{
	static const char *const keys[3] = { "equipment", "receipted_at", "digests" };
	const cJSON *seen[3] = { NULL, NULL, NULL }, *c;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	int rc = -1, k;

	if (root == NULL || end != buf + len || !cJSON_IsObject(root)) {
		fail(err, errlen, "receipt: %s", "content is not one JSON object");
		goto out;
	}
	for (c = root->child; c != NULL; c = c->next) {
		for (k = 0; k < 3 && strcmp(c->string, keys[k]) != 0; k++)
			;
		if (k == 3 || seen[k] != NULL) {
			fail(err, errlen, "receipt: %s", "content has an unknown or repeated key");
			goto out;
		}
		seen[k] = c;
	}
	if (!cJSON_IsString(seen[0]) || strcmp(seen[0]->valuestring, equipment) != 0) {
		fail(err, errlen, "receipt: not for this equipment %s", equipment);
		goto out;
	}
	if (!cJSON_IsString(seen[1]) || !snapshot_time_parse(seen[1]->valuestring, &out->receipted_at)) {
		fail(err, errlen, "receipt: %s", "receipted_at is not an ISO 8601 UTC time");
		goto out;
	}
	if (seen[2] == NULL) {
		fail(err, errlen, "receipt: %s", "no digests");
		goto out;
	}
	rc = parse_digests(seen[2], out, err, errlen);
out:
	cJSON_Delete(root);
	return rc;
}

int receipt_verify(receipt_verifier *v, const unsigned char *der, size_t len, const char *equipment,
                   receipt *out, char *err, size_t errlen)
{
	CMS_ContentInfo *cms;
	STACK_OF(X509) *certs = NULL, *signers = NULL;
	BIO *content = BIO_new(BIO_s_mem());
	char *buf;
	long blen;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (content == NULL)
		return fail(err, errlen, "receipt: %s", "out of memory");
	if ((cms = decode_signed_data(der, len, err, errlen)) == NULL ||
	    check_signer_info(cms, &out->signing_time, err, errlen) != 0)
		goto out;
	certs = CMS_get1_certs(cms);
	if (certs == NULL || sk_X509_num(certs) > RECEIPT_MAX_CERTS) {
		fail(err, errlen, "receipt: %s", "no certificates, or too many");
		goto out;
	}
	/* The signature and the signed attributes first, with the certificate
	 * the SignerIdentifier names; its chain is checked below with our rules. */
	if (CMS_verify(cms, NULL, NULL, NULL, content, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		fail(err, errlen, "receipt: signature does not verify: %s", x509_ossl_reason());
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (sk_X509_num(signers) != 1 || check_signer_cert(v, sk_X509_value(signers, 0), certs, err, errlen) != 0)
		goto out;
	blen = BIO_get_mem_data(content, &buf);
	if (blen <= 0) {
		fail(err, errlen, "receipt: %s", "empty content");
		goto out;
	}
	rc = parse_content(buf, (size_t)blen, equipment, out, err, errlen);
out:
	if (rc != 0)
		receipt_free(out);
	sk_X509_free(signers);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	BIO_free(content);
	return rc;
}

void receipt_free(receipt *r)
{
	free(r->digests);
	memset(r, 0, sizeof *r);
}
