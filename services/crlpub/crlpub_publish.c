/* The CRL publisher's logic; contract in crlpub_publish.h. */
#include "services/crlpub/crlpub_publish.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/crl_watch.h"
#include "common/log.h"
#include "common/x509_util.h"

#define CRLPUB_MAX_ISSUERS 4096

typedef struct {
	char topic[CRL_TOPIC_MAX];
	unsigned char sha256[32];     /* of the DER last sent successfully */
	int sent;
	double crl_number;            /* of that CRL, for the metrics */
	time_t next_update;
} published;

struct crlpub {
	crl_pki pki;
	crl_watch *watch;
	published *pub;
	size_t n_pub, cap_pub;
	crlpub_stats stats;
};

crlpub *crlpub_new(crl_pki pki, const char *const *crl_files, size_t n_crl_files, const char *const *ca_files,
                   size_t n_ca_files, int check_interval, time_t warn_before, char *err, size_t errlen)
{
	crlpub *p = calloc(1, sizeof *p);
	char what[32];

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->pki = pki;
	snprintf(what, sizeof what, "%s CRLs", pki == CRL_PKI_TLS ? "TLS" : "E2E");
	p->watch = crl_watch_new(what, crl_files, n_crl_files, ca_files, n_ca_files, check_interval, warn_before, err,
	                         errlen);
	if (p->watch == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void crlpub_free(crlpub *p)
{
	if (p == NULL)
		return;
	crl_watch_free(p->watch);
	free(p->pub);
	free(p);
}

static published *entry_for(crlpub *p, const char *topic)
{
	published *grown;
	size_t i;

	for (i = 0; i < p->n_pub; i++)
		if (strcmp(p->pub[i].topic, topic) == 0)
			return &p->pub[i];
	if (p->n_pub == p->cap_pub) {
		size_t cap = p->cap_pub ? p->cap_pub * 2 : 16;

		if (cap > CRLPUB_MAX_ISSUERS || (grown = realloc(p->pub, cap * sizeof *grown)) == NULL)
			return NULL;
		p->pub = grown;
		p->cap_pub = cap;
	}
	memset(&p->pub[p->n_pub], 0, sizeof p->pub[p->n_pub]);
	snprintf(p->pub[p->n_pub].topic, sizeof p->pub[p->n_pub].topic, "%s", topic);
	return &p->pub[p->n_pub++];
}

/* True when no other CRL of the set has the same issuer key id and a
 * higher crlNumber (or, equal or without numbers, comes later in the files). */
static int newest_of_issuer(const STACK_OF(X509_CRL) *crls, int idx, const char *keyid)
{
	X509_CRL *me = sk_X509_CRL_value(crls, idx);
	char other[CRL_KEYID_HEX_MAX], err[160];
	int i, cmp;

	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *c = sk_X509_CRL_value(crls, i);

		if (i == idx || crl_issuer_key_id(c, other, sizeof other, err, sizeof err) != 0 ||
		    strcmp(other, keyid) != 0)
			continue;
		if (crl_number_cmp(c, me, &cmp) != 0)
			cmp = i > idx ? 1 : -1;
		if (cmp > 0 || (cmp == 0 && i > idx))
			return 0;
	}
	return 1;
}

/* crlNumber as a gauge value: NaN when absent (crl_number_string says "none"). */
static double crl_number_value(const X509_CRL *crl)
{
	char number[64], *end;
	double v;

	crl_number_string(crl, number, sizeof number);
	v = strtod(number, &end);
	return end != number && *end == '\0' ? v : NAN;
}

/* -1: a send failed; 0: nothing to do or skipped; 1: sent. */
static int send_one(crlpub *p, const STACK_OF(X509_CRL) *crls, int idx, int all, time_t now, crlpub_send_fn send,
                    void *ud)
{
	X509_CRL *crl = sk_X509_CRL_value(crls, idx);
	unsigned char *der = NULL, md[32];
	char topic[CRL_TOPIC_MAX], err[300], issuer[256], number[64];
	unsigned int mdlen = 0;
	published *e;
	int len, rc = -1;

	if (crl_topic_for(p->pki, crl, topic, sizeof topic, err, sizeof err) != 0) {
		x509_name_string(X509_CRL_get_issuer(crl), issuer, sizeof issuer);
		sms_log(LOG_LEVEL_ERROR, "%s CRL of %s not published: %s", crl_pki_name(p->pki), issuer, err);
		return 0;
	}
	if (!newest_of_issuer(crls, idx, strrchr(topic, '/') + 1))
		return 0;
	if ((len = i2d_X509_CRL(crl, &der)) <= 0 || EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		sms_log(LOG_LEVEL_ERROR, "%s: cannot encode the CRL: %s", topic, x509_ossl_reason());
		goto out;
	}
	if ((e = entry_for(p, topic)) == NULL) {
		sms_log(LOG_LEVEL_ERROR, "%s: more than %d issuers, not published", topic, CRLPUB_MAX_ISSUERS);
		goto out;
	}
	rc = 0;
	if (!all && e->sent && memcmp(e->sha256, md, sizeof md) == 0)
		goto out;
	if (send(ud, topic, der, (size_t)len, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "%s: publishing the CRL failed: %s; trying again", topic, err);
		p->stats.failures++;
		rc = -1;
		goto out;
	}
	x509_name_string(X509_CRL_get_issuer(crl), issuer, sizeof issuer);
	crl_number_string(crl, number, sizeof number);
	sms_log(all && e->sent && memcmp(e->sha256, md, sizeof md) == 0 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
	        "published the CRL of %s (crlNumber %s, %d bytes) on %s", issuer, number, len, topic);
	memcpy(e->sha256, md, sizeof md);
	e->sent = 1;
	e->crl_number = crl_number_value(crl);
	e->next_update = x509_time(X509_CRL_get0_nextUpdate(crl));
	p->stats.published++;
	p->stats.last_published = now;
	rc = 1;
out:
	OPENSSL_free(der);
	return rc;
}

int crlpub_poll(crlpub *p, time_t now, int force, int all, crlpub_send_fn send, void *ud)
{
	const STACK_OF(X509_CRL) *crls;
	int i, r, sent = 0, failed = 0;

	crl_watch_poll(p->watch, now, force);
	crls = crl_set_crls(crl_watch_current(p->watch));
	for (i = 0; send != NULL && i < sk_X509_CRL_num(crls); i++) {
		r = send_one(p, crls, i, all, now, send, ud);
		if (r < 0)
			failed = 1;
		else
			sent += r;
	}
	return failed ? -1 : sent;
}

void crlpub_counts(const crlpub *p, size_t *crls, size_t *sent)
{
	size_t i;

	*crls = (size_t)sk_X509_CRL_num(crl_set_crls(crl_watch_current(p->watch)));
	*sent = 0;
	for (i = 0; i < p->n_pub; i++)
		*sent += p->pub[i].sent != 0;
}

void crlpub_get_stats(const crlpub *p, crlpub_stats *out)
{
	*out = p->stats;
}

void crlpub_summary(const crlpub *p, struct crl_set_summary *out)
{
	crl_set_summary(crl_watch_current(p->watch), out);
}

int crlpub_sent_at(const crlpub *p, size_t i, crlpub_sent *out)
{
	const published *e;

	if (i >= p->n_pub)
		return 0;
	e = &p->pub[i];
	out->sent = e->sent;
	out->key_id = strrchr(e->topic, '/') + 1;
	out->crl_number = e->crl_number;
	out->next_update = e->next_update;
	return 1;
}
