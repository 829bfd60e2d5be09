/*
 * Verifier: X509_STORE (root + CRLs) behind a mutex-guarded pointer so a
 * reload can swap it while other threads verify with their own reference.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include "cms/cms_verifier.h"

struct cache_entry {
	unsigned char fp[SHA256_DIGEST_LENGTH];
	time_t expires;
	unsigned long long used;      /* 0: free; else the tick of the last hit */
};

struct smscms_verifier {
	pthread_mutex_t lock;
	X509_STORE *store;            /* guarded by lock; users take a reference */
	STACK_OF(X509) *intermediates; /* untrusted CAs the receiver holds; set before sharing */
	char *root_file;
	char **crl_files;
	size_t n_crl_files;
	struct cache_entry *cache;    /* CMS_VERIFIER_CACHE entries, guarded by lock */
	unsigned long long tick;
};

static smscms_status verifier_load_pem(smscms_ctx *ctx, X509_STORE *store, const char *file,
                                       int want_certs, int want_crls)
{
	STACK_OF(X509_INFO) *infos;
	BIO *b = BIO_new_file(file, "rb");
	int i, added = 0;
	smscms_status st = SMSCMS_OK;

	if (b == NULL)
		return cms_error(ctx, SMSCMS_ERR_IO, "cannot read %s: %s", file, strerror(errno));
	infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (infos == NULL)
		return cms_error(ctx, SMSCMS_ERR_MALFORMED, "%s: bad PEM", file);
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (want_certs && xi->x509 != NULL) {
			if (!X509_STORE_add_cert(store, xi->x509)) {
				st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "%s: cannot add certificate", file);
				break;
			}
			added++;
		}
		if (want_crls && xi->crl != NULL) {
			if (!X509_STORE_add_crl(store, xi->crl)) {
				st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "%s: cannot add CRL", file);
				break;
			}
			added++;
		}
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (st == SMSCMS_OK && added == 0)
		st = cms_error(ctx, SMSCMS_ERR_MALFORMED, "%s holds no %s", file,
		               want_certs ? "certificate" : "CRL");
	return st;
}

/* Root + CRLs: the given ones when crls is not NULL, else the CRL files. */
static smscms_status verifier_build(smscms_ctx *ctx, const smscms_verifier *v, const STACK_OF(X509_CRL) *crls,
                                    X509_STORE **out)
{
	X509_STORE *store = X509_STORE_new();
	smscms_status st;
	size_t i;
	int k;

	*out = NULL;
	if (store == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if ((st = verifier_load_pem(ctx, store, v->root_file, 1, 0)) != SMSCMS_OK)
		goto fail;
	for (i = 0; crls == NULL && i < v->n_crl_files; i++)
		if ((st = verifier_load_pem(ctx, store, v->crl_files[i], 0, 1)) != SMSCMS_OK)
			goto fail;
	for (k = 0; crls != NULL && k < sk_X509_CRL_num(crls); k++) {
		if (!X509_STORE_add_crl(store, sk_X509_CRL_value(crls, k))) {
			st = cms_error(ctx, SMSCMS_ERR_CRYPTO, "cannot add CRL %d to the verifier", k);
			goto fail;
		}
	}
	/* With CRLs given, every CA on the chain must have one: a missing CRL
	 * fails closed rather than silently skipping revocation. */
	if (v->n_crl_files > 0 || (crls != NULL && sk_X509_CRL_num(crls) > 0))
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	*out = store;
	return SMSCMS_OK;
fail:
	X509_STORE_free(store);
	return st;
}

void smscms_verifier_free(smscms_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	X509_STORE_free(v->store);
	sk_X509_pop_free(v->intermediates, X509_free);
	OPENSSL_free(v->root_file);
	for (i = 0; i < v->n_crl_files; i++)
		OPENSSL_free(v->crl_files[i]);
	OPENSSL_free(v->crl_files);
	OPENSSL_free(v->cache);
	pthread_mutex_destroy(&v->lock);
	OPENSSL_free(v);
}

smscms_status smscms_verifier_new(smscms_ctx *ctx, const char *trust_root_file,
                                  const char *const *crl_files, size_t n_crl_files,
                                  smscms_verifier **out)
{
	smscms_verifier *v;
	smscms_status st;
	size_t i;

	if (ctx == NULL || trust_root_file == NULL || out == NULL || (n_crl_files > 0 && crl_files == NULL))
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "verifier_new: missing argument");
	*out = NULL;
	if ((v = OPENSSL_zalloc(sizeof(*v))) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		OPENSSL_free(v);
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot create verifier lock");
	}
	if ((v->root_file = OPENSSL_strdup(trust_root_file)) == NULL ||
	    (v->cache = OPENSSL_zalloc(CMS_VERIFIER_CACHE * sizeof(*v->cache))) == NULL)
		goto oom;
	if (n_crl_files > 0 && (v->crl_files = OPENSSL_zalloc(n_crl_files * sizeof(char *))) == NULL)
		goto oom;
	for (i = 0; i < n_crl_files; i++) {
		if ((v->crl_files[i] = OPENSSL_strdup(crl_files[i])) == NULL)
			goto oom;
		v->n_crl_files++;
	}
	if ((st = verifier_build(ctx, v, NULL, &v->store)) != SMSCMS_OK) {
		smscms_verifier_free(v);
		return st;
	}
	*out = v;
	return SMSCMS_OK;
oom:
	smscms_verifier_free(v);
	return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
}

/* Puts fresh in use and empties the cache: a cached "valid" may be revoked now. */
static void verifier_swap(smscms_verifier *v, X509_STORE *fresh)
{
	X509_STORE *old;

	pthread_mutex_lock(&v->lock);
	old = v->store;
	v->store = fresh;
	memset(v->cache, 0, CMS_VERIFIER_CACHE * sizeof(*v->cache));
	pthread_mutex_unlock(&v->lock);
	X509_STORE_free(old);
}

smscms_status smscms_verifier_reload(smscms_ctx *ctx, smscms_verifier *v)
{
	X509_STORE *fresh;
	smscms_status st;

	if (v == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "verifier_reload: no verifier");
	if ((st = verifier_build(ctx, v, NULL, &fresh)) != SMSCMS_OK)
		return st;
	verifier_swap(v, fresh);
	return SMSCMS_OK;
}

smscms_status smscms_verifier_set_crls(smscms_ctx *ctx, smscms_verifier *v, const STACK_OF(X509_CRL) *crls)
{
	X509_STORE *fresh;
	smscms_status st;

	if (v == NULL || crls == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "verifier_set_crls: missing argument");
	if ((st = verifier_build(ctx, v, crls, &fresh)) != SMSCMS_OK)
		return st;
	verifier_swap(v, fresh);
	return SMSCMS_OK;
}

static int verifier_fingerprint(X509 *cert, unsigned char fp[SHA256_DIGEST_LENGTH])
{
	unsigned int len = 0;

	return X509_digest(cert, EVP_sha256(), fp, &len) && len == SHA256_DIGEST_LENGTH;
}

/* The first of the CMS_VERIFIER_PROBE slots fp may occupy: SHA-256 is
 * uniform, so its first bytes are the hash. */
static size_t cache_home(const unsigned char *fp)
{
	size_t h = 0;

	memcpy(&h, fp, sizeof(h));
	return h & (CMS_VERIFIER_CACHE - 1);
}

static struct cache_entry *cache_slot(smscms_verifier *v, size_t home, size_t i)
{
	return &v->cache[(home + i) & (CMS_VERIFIER_CACHE - 1)];
}

static int verifier_cache_hit(smscms_verifier *v, const unsigned char *fp, time_t now)
{
	size_t home = cache_home(fp), i;

	for (i = 0; i < CMS_VERIFIER_PROBE; i++) {
		struct cache_entry *e = cache_slot(v, home, i);

		if (e->used && e->expires > now && memcmp(e->fp, fp, SHA256_DIGEST_LENGTH) == 0) {
			e->used = ++v->tick;
			return 1;
		}
	}
	return 0;
}

static void verifier_cache_add(smscms_verifier *v, const unsigned char *fp, X509 *cert, time_t now)
{
	size_t home = cache_home(fp), i;
	struct cache_entry *e = cache_slot(v, home, 0);
	time_t expires = now + CMS_VERIFIER_TTL, not_after;
	int days, secs;

	/* notAfter as seconds from now; an unparsable time disables caching. */
	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
		return;
	not_after = now + (time_t)days * 86400 + secs;
	if (not_after < expires)
		expires = not_after;
	/* The same certificate, else a free or expired slot, else the least
	 * recently used one of the probe window. */
	for (i = 0; i < CMS_VERIFIER_PROBE; i++) {
		struct cache_entry *c = cache_slot(v, home, i);

		if (c->used && memcmp(c->fp, fp, SHA256_DIGEST_LENGTH) == 0) {
			e = c;
			break;
		}
		if (e->used && (!c->used || c->expires <= now || c->used < e->used))
			e = c;
	}
	memcpy(e->fp, fp, SHA256_DIGEST_LENGTH);
	e->expires = expires;
	e->used = ++v->tick;
}

/* Subjects in messages in the one form every SMS log uses (RFC 2253, as
 * common/x509_util.h writes them), not OpenSSL's "/O=..." oneline form. */
static void subject_rfc2253(const X509 *cert, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = -1;

	snprintf(buf, len, "(unprintable subject)");
	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, buf, (int)len - 1)) >= 0)
		buf[n] = '\0';
	BIO_free(b);
}

smscms_status smscms_verifier_set_intermediates(smscms_ctx *ctx, smscms_verifier *v, const STACK_OF(X509) *cas)
{
	STACK_OF(X509) *copy;

	if (ctx == NULL || v == NULL || cas == NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "verifier intermediates: missing argument");
	if (v->intermediates != NULL)
		return cms_error(ctx, SMSCMS_ERR_ARGUMENT, "verifier intermediates are set once, before use");
	if ((copy = X509_chain_up_ref((STACK_OF(X509) *)cas)) == NULL)
		return cms_error(ctx, SMSCMS_ERR_MEMORY, "out of memory");
	v->intermediates = copy;
	return SMSCMS_OK;
}

/* The message's certificates, then the receiver's own intermediates. */
static STACK_OF(X509) *verifier_untrusted(const smscms_verifier *v, STACK_OF(X509) *from_message)
{
	STACK_OF(X509) *all = from_message != NULL ? sk_X509_dup(from_message) : sk_X509_new_null();

	for (int i = 0; all != NULL && v->intermediates != NULL && i < sk_X509_num(v->intermediates); i++) {
		if (!sk_X509_push(all, sk_X509_value(v->intermediates, i))) {
			sk_X509_free(all);
			return NULL;
		}
	}
	return all;
}

smscms_status cms_verifier_check(smscms_ctx *ctx, smscms_verifier *v, X509 *cert,
                                 STACK_OF(X509) *untrusted)
{
	unsigned char fp[SHA256_DIGEST_LENGTH];
	X509_STORE_CTX *sc = NULL;
	X509_STORE *store;
	time_t now = time(NULL);
	char subject[256];
	smscms_status st = SMSCMS_OK;
	int have_fp, err;

	have_fp = verifier_fingerprint(cert, fp);
	pthread_mutex_lock(&v->lock);
	if (have_fp && verifier_cache_hit(v, fp, now)) {
		pthread_mutex_unlock(&v->lock);
		return SMSCMS_OK;
	}
	store = v->store;
	if (!X509_STORE_up_ref(store))
		store = NULL;
	pthread_mutex_unlock(&v->lock);
	if (store == NULL)
		return cms_error(ctx, SMSCMS_ERR_CRYPTO, "verifier store unavailable");

	subject_rfc2253(cert, subject, sizeof(subject));
	if ((untrusted = verifier_untrusted(v, untrusted)) == NULL ||
	    (sc = X509_STORE_CTX_new()) == NULL || !X509_STORE_CTX_init(sc, store, cert, untrusted)) {
		st = cms_error(ctx, SMSCMS_ERR_MEMORY, "cannot set up chain verification");
		goto out;
	}
	if (X509_verify_cert(sc) != 1) {
		err = X509_STORE_CTX_get_error(sc);
		st = err == X509_V_ERR_CERT_REVOKED ? SMSCMS_ERR_REVOKED : SMSCMS_ERR_UNTRUSTED;
		st = cms_error(ctx, st, "originator %s: %s (depth %d)", subject,
		               X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(sc));
		goto out;
	}
	if (have_fp) {
		pthread_mutex_lock(&v->lock);
		/* A reload in between made this result stale: do not cache it. */
		if (v->store == store)
			verifier_cache_add(v, fp, cert, now);
		pthread_mutex_unlock(&v->lock);
	}
out:
	X509_STORE_CTX_free(sc);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	return st;
}

int cms_verifier_cached(smscms_verifier *v, X509 *cert)
{
	unsigned char fp[SHA256_DIGEST_LENGTH];
	int hit;

	if (!verifier_fingerprint(cert, fp))
		return 0;
	pthread_mutex_lock(&v->lock);
	hit = verifier_cache_hit(v, fp, time(NULL));
	pthread_mutex_unlock(&v->lock);
	return hit;
}
