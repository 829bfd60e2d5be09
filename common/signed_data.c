/* CMS SignedData, made and checked one way; contract in signed_data.h. */
#include "common/signed_data.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/x509_util.h"

struct signed_data_trust {
	X509_STORE *store;          /* the trust root only */
	STACK_OF(X509_CRL) *crls;   /* NULL: no CRL check */
};

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, const char *label, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", label, msg);
	return -1;
}

int signed_data_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain, const unsigned char *content,
                     size_t len, unsigned char **der, size_t *der_len, char *err, size_t errlen)
{
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	unsigned char *p = NULL;
	int n, rc = -1;

	*der = NULL;
	if (len == 0 || len > INT_MAX)
		return fail(err, errlen, "signing", "%s", "content empty or too large");
	in = BIO_new_mem_buf(content, (int)len);
	/* CMS_BINARY: signed byte for byte, no MIME canonicalisation; CMS_sign
	 * adds contentType, messageDigest and signingTime. */
	cms = in ? CMS_sign(signer, key, chain, in, CMS_BINARY | CMS_NOSMIMECAP) : NULL;
	if (cms == NULL) {
		fail(err, errlen, "signing", "CMS_sign failed: %s", x509_ossl_reason());
		goto out;
	}
	n = i2d_CMS_ContentInfo(cms, &p);
	if (n <= 0) {
		fail(err, errlen, "signing", "encoding failed: %s", x509_ossl_reason());
		goto out;
	}
	*der = p;
	*der_len = (size_t)n;
	rc = 0;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return rc;
}

X509 *signed_data_load_cert(const char *path, char *err, size_t errlen)
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

signed_data_trust *signed_data_trust_new(const char *root_file, char *err, size_t errlen)
{
	signed_data_trust *t = calloc(1, sizeof *t);
	X509 *root = NULL;

	if (t == NULL || (t->store = X509_STORE_new()) == NULL) {
		snprintf(err, errlen, "trust: out of memory");
		goto fail;
	}
	if ((root = signed_data_load_cert(root_file, err, errlen)) == NULL)
		goto fail;
	if (X509_STORE_add_cert(t->store, root) != 1) {
		snprintf(err, errlen, "trust: %s: %s", root_file, x509_ossl_reason());
		goto fail;
	}
	X509_free(root);
	return t;
fail:
	X509_free(root);
	signed_data_trust_free(t);
	return NULL;
}

int signed_data_trust_set_crls(signed_data_trust *t, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *copy = NULL;
	int i;

	if (crls != NULL && sk_X509_CRL_num(crls) > 0) {
		copy = sk_X509_CRL_new_null();
		for (i = 0; copy != NULL && i < sk_X509_CRL_num(crls); i++) {
			X509_CRL *c = sk_X509_CRL_value(crls, i);

			if (X509_CRL_up_ref(c) != 1)
				goto nomem;
			if (!sk_X509_CRL_push(copy, c)) {
				X509_CRL_free(c);
				goto nomem;
			}
		}
		if (copy == NULL)
			goto nomem;
	}
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	t->crls = copy;
	return 0;
nomem:
	sk_X509_CRL_pop_free(copy, X509_CRL_free);
	snprintf(err, errlen, "trust: out of memory taking the CRLs");
	return -1;
}

void signed_data_trust_free(signed_data_trust *t)
{
	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	free(t);
}

static CMS_ContentInfo *decode(const char *label, const unsigned char *der, size_t len, size_t max_der, char *err,
                               size_t errlen)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;

	if (len == 0 || len > max_der || len > LONG_MAX) {
		fail(err, errlen, label, "SignedData empty or larger than %zu bytes", max_der);
		return NULL;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != der + len) {
		fail(err, errlen, label, "%s", cms ? "bytes after the DER" : "not DER CMS");
		CMS_ContentInfo_free(cms);
		ERR_clear_error();
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		fail(err, errlen, label, "%s", "not SignedData over id-data");
		CMS_ContentInfo_free(cms);
		return NULL;
	}
	return cms;
}

/* One SignerInfo, ECDSA over SHA-256 or longer, with signingTime. */
static int check_signer_info(const char *label, CMS_ContentInfo *cms, time_t *signing_time, char *err,
                             size_t errlen)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	X509_ALGOR *dig = NULL, *sig = NULL;
	const ASN1_TYPE *t;
	CMS_SignerInfo *si;
	int idx, nid;

	if (sk_CMS_SignerInfo_num(sis) != 1)
		return fail(err, errlen, label, "%s", "exactly one signer expected");
	si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	nid = dig ? OBJ_obj2nid(dig->algorithm) : NID_undef;
	if (nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512)
		return fail(err, errlen, label, "digest algorithm %s refused", OBJ_nid2sn(nid));
	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	t = idx >= 0 ? X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, idx), 0) : NULL;
	if (t == NULL || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    (*signing_time = x509_time(t->value.utctime)) == 0)
		return fail(err, errlen, label, "%s", "no readable signingTime");
	return 0;
}

/* The chain to the root, CRLs on every level when set; an EC signing key. */
static int check_chain(const signed_data_trust *t, const char *label, X509 *signer, STACK_OF(X509) *untrusted,
                       STACK_OF(X509) **chain_out, char *err, size_t errlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, t->store, signer, untrusted) != 1) {
		fail(err, errlen, label, "chain check setup failed: %s", x509_ossl_reason());
		goto out;
	}
	if (t->crls != NULL) {
		X509_STORE_CTX_set0_crls(ctx, t->crls);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	if (X509_verify_cert(ctx) != 1) {
		fail(err, errlen, label, "signer chain does not verify: %s",
		     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if ((X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE) == 0 ||
	    EVP_PKEY_get_base_id(X509_get0_pubkey(signer)) != EVP_PKEY_EC) {
		fail(err, errlen, label, "%s", "signer key is not an EC signing key");
		goto out;
	}
	if ((*chain_out = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		fail(err, errlen, label, "%s", "out of memory");
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	return rc;
}

static int take_content(const char *label, BIO *content, signed_data_info *out, char *err, size_t errlen)
{
	char *buf;
	long n = BIO_get_mem_data(content, &buf);

	if (n <= 0)
		return fail(err, errlen, label, "%s", "empty content");
	if ((out->content = malloc((size_t)n + 1)) == NULL)
		return fail(err, errlen, label, "%s", "out of memory");
	memcpy(out->content, buf, (size_t)n);
	out->content[n] = '\0';
	out->content_len = (size_t)n;
	return 0;
}

int signed_data_verify(const signed_data_trust *t, const char *label, const unsigned char *der, size_t len,
                       size_t max_der, signed_data_info *out, char *err, size_t errlen)
{
	CMS_ContentInfo *cms;
	STACK_OF(X509) *certs = NULL, *signers = NULL;
	BIO *content = BIO_new(BIO_s_mem());
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (content == NULL)
		return fail(err, errlen, label, "%s", "out of memory");
	if ((cms = decode(label, der, len, max_der, err, errlen)) == NULL ||
	    check_signer_info(label, cms, &out->signing_time, err, errlen) != 0)
		goto out;
	certs = CMS_get1_certs(cms);
	if (certs == NULL || sk_X509_num(certs) > SIGNED_DATA_MAX_CERTS) {
		fail(err, errlen, label, "%s", "no certificates, or too many");
		goto out;
	}
	/* The signature and the signed attributes first, with the certificate
	 * the SignerIdentifier names; its chain is checked below with our rules. */
	if (CMS_verify(cms, NULL, NULL, NULL, content, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		fail(err, errlen, label, "signature does not verify: %s", x509_ossl_reason());
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (sk_X509_num(signers) != 1) {
		fail(err, errlen, label, "%s", "exactly one signer certificate expected");
		goto out;
	}
	out->signer = sk_X509_value(signers, 0);
	if (X509_up_ref(out->signer) != 1) {
		out->signer = NULL;
		fail(err, errlen, label, "%s", "out of memory");
		goto out;
	}
	if (check_chain(t, label, out->signer, certs, &out->chain, err, errlen) != 0)
		goto out;
	rc = take_content(label, content, out, err, errlen);
out:
	if (rc != 0)
		signed_data_info_clear(out);
	sk_X509_free(signers);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	BIO_free(content);
	return rc;
}

void signed_data_info_clear(signed_data_info *info)
{
	free(info->content);
	X509_free(info->signer);
	sk_X509_pop_free(info->chain, X509_free);
	memset(info, 0, sizeof *info);
}
