/*
 * Identities: certificate + EC private key (+ chain), from PEM or PKCS#12.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include "cms/cms_internal.h"
#include "cms/cms_key.h"

static BIO *identity_open(smscms_ctx *ctx, const char *file, smscms_status *st)
{
	BIO *b = BIO_new_file(file, "rb");

	if (b == NULL)
		*st = cms_error(ctx, SMSCMS_ERR_IO, "cannot read %s: %s", file, strerror(errno));
	return b;
}

smscms_status smscms_cert_load_pem(smscms_ctx *ctx, const char *file, X509 **out)
{
	smscms_status st = SMSCMS_OK;
	BIO *b;

	if (ctx == NULL || file == NULL || out == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "cert_load_pem: missing argument");
	*out = NULL;
	if ((b = identity_open(ctx, file, &st)) == NULL)
		return st;
	*out = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*out == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "%s holds no PEM certificate", file);
	return SMSCMS_OK;
}

static smscms_status identity_check(smscms_ctx *ctx, smscms_identity *id, const char *what)
{
	EVP_PKEY *pub = X509_get0_pubkey(id->cert);

	if (cms_key_curve(pub) == NID_undef)
		return cms_error(ctx, SMSCMS_ERR_UNSUPPORTED,
		                 "%s: certificate key is not EC on P-256, P-384 or P-521", what);
	if (id->key != NULL && X509_check_private_key(id->cert, id->key) != 1)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "%s: private key does not match the certificate", what);
	if ((id->group = EC_GROUP_new_by_curve_name(cms_key_curve(pub))) == NULL ||
	    !cms_key_point(id->group, pub, &id->pub) ||
	    (id->key != NULL && !cms_key_priv(id->key, &id->priv)))
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "%s: cannot read the EC key", what);
	return SMSCMS_OK;
}

smscms_status smscms_identity_load_pem(smscms_ctx *ctx, const char *cert_file,
                                       const char *key_file, const char *chain_file,
                                       smscms_identity **out)
{
	smscms_identity *id = NULL;
	smscms_status st = SMSCMS_OK;
	BIO *b = NULL;
	X509 *x;

	if (ctx == NULL || cert_file == NULL || out == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "identity_load_pem: missing argument");
	*out = NULL;
	if ((id = OPENSSL_zalloc(sizeof(*id))) == NULL || (id->chain = sk_X509_new_null()) == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	if ((st = smscms_cert_load_pem(ctx, cert_file, &id->cert)) != SMSCMS_OK)
		goto out;
	if (key_file != NULL) {
		if ((b = identity_open(ctx, key_file, &st)) == NULL)
			goto out;
		id->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
		b = NULL;
		if (id->key == NULL) {
			st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "%s holds no unencrypted PEM private key", key_file);
			goto out;
		}
	}
	if (chain_file != NULL) {
		if ((b = identity_open(ctx, chain_file, &st)) == NULL)
			goto out;
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			if (!sk_X509_push(id->chain, x)) {
				X509_free(x);
				st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
				goto out;
			}
		}
		/* The loop ends on "no start line" at EOF; anything else is damage. */
		if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
			st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "%s: bad PEM certificate", chain_file);
			goto out;
		}
		ERR_clear_error();
	}
	if ((st = identity_check(ctx, id, cert_file)) != SMSCMS_OK)
		goto out;
	*out = id;
	id = NULL;
out:
	BIO_free(b);
	smscms_identity_free(id);
	return st;
}

smscms_status smscms_identity_load_p12(smscms_ctx *ctx, const char *p12_file,
                                       const char *password, smscms_identity **out)
{
	smscms_identity *id = NULL;
	smscms_status st = SMSCMS_OK;
	PKCS12 *p12 = NULL;
	BIO *b = NULL;

	if (ctx == NULL || p12_file == NULL || out == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "identity_load_p12: missing argument");
	*out = NULL;
	if ((b = identity_open(ctx, p12_file, &st)) == NULL)
		return st;
	if ((p12 = d2i_PKCS12_bio(b, NULL)) == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "%s is not PKCS#12", p12_file);
		goto out;
	}
	if ((id = OPENSSL_zalloc(sizeof(*id))) == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	if (!PKCS12_parse(p12, password != NULL ? password : "", &id->key, &id->cert, &id->chain) ||
	    id->cert == NULL || id->key == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_ARGUMENT, "%s: wrong password or no key and certificate", p12_file);
		goto out;
	}
	if (id->chain == NULL && (id->chain = sk_X509_new_null()) == NULL) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
		goto out;
	}
	if ((st = identity_check(ctx, id, p12_file)) != SMSCMS_OK)
		goto out;
	*out = id;
	id = NULL;
out:
	PKCS12_free(p12);
	BIO_free(b);
	smscms_identity_free(id);
	return st;
}

smscms_status smscms_identity_new(smscms_ctx *ctx, X509 *cert, EVP_PKEY *key,
                                  STACK_OF(X509) *chain, smscms_identity **out)
{
	smscms_identity *id;
	smscms_status st;
	int i;

	if (ctx == NULL || cert == NULL || out == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "identity_new: missing argument");
	*out = NULL;
	if ((id = OPENSSL_zalloc(sizeof(*id))) == NULL || (id->chain = sk_X509_new_null()) == NULL)
		goto oom;
	if (!X509_up_ref(cert))
		goto oom;
	id->cert = cert;
	if (key != NULL) {
		if (!EVP_PKEY_up_ref(key))
			goto oom;
		id->key = key;
	}
	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (!X509_up_ref(x))
			goto oom;
		if (!sk_X509_push(id->chain, x)) {
			X509_free(x);
			goto oom;
		}
	}
	if ((st = identity_check(ctx, id, "identity")) != SMSCMS_OK) {
		smscms_identity_free(id);
		return st;
	}
	*out = id;
	return SMSCMS_OK;
oom:
	smscms_identity_free(id);
	return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
}

void smscms_identity_free(smscms_identity *id)
{
	if (id == NULL)
		return;
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	sk_X509_pop_free(id->chain, X509_free);
	EC_GROUP_free(id->group);
	BN_clear_free(id->priv);
	EC_POINT_free(id->pub);
	OPENSSL_free(id);
}

X509 *smscms_identity_cert(const smscms_identity *id)
{
	return id != NULL ? id->cert : NULL;
}

EVP_PKEY *smscms_identity_key(const smscms_identity *id)
{
	return id != NULL ? id->key : NULL;
}

STACK_OF(X509) *smscms_identity_chain(const smscms_identity *id)
{
	return id != NULL ? id->chain : NULL;
}
