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
#include "common/signed_data.h"
#include "common/snapshot_json.h"
#include "common/x509_util.h"

struct receipt_verifier {
	signed_data_trust *trust;   /* the E2E root and its CRLs */
	X509 *services_ca;
	char *role;
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
	char *json = NULL, why[400];
	int rc = -1;

	*der = NULL;
	if (n == 0 || n > RECEIPT_MAX_DIGESTS)
		return fail(err, errlen, "receipt: %s", "1..RECEIPT_MAX_DIGESTS digests needed");
	json = content_json(equipment, receipted_at, digests, n);
	if (json == NULL) {
		fail(err, errlen, "receipt: %s", "cannot build the JSON content (out of memory?)");
		goto out;
	}
	if (signed_data_sign(signer, key, chain, (const unsigned char *)json, strlen(json), der, der_len, why,
	                     sizeof why) != 0) {
		fail(err, errlen, "receipt: %s", why);
		goto out;
	}
	rc = 0;
out:
	cJSON_free(json);
	return rc;
}

/* ------------------------------------------------------------ verifier */

receipt_verifier *receipt_verifier_new(const char *trust_root_file, const char *services_ca_file,
                                       const char *signer_role, char *err, size_t errlen)
{
	receipt_verifier *v = calloc(1, sizeof *v);

	if (v == NULL || (v->role = strdup(signer_role)) == NULL) {
		snprintf(err, errlen, "receipt verifier: out of memory");
		goto fail;
	}
	if ((v->trust = signed_data_trust_new(trust_root_file, err, errlen)) == NULL ||
	    (v->services_ca = signed_data_load_cert(services_ca_file, err, errlen)) == NULL)
		goto fail;
	return v;
fail:
	receipt_verifier_free(v);
	return NULL;
}

int receipt_verifier_set_crls(receipt_verifier *v, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	return signed_data_trust_set_crls(v->trust, crls, err, errlen);
}

void receipt_verifier_free(receipt_verifier *v)
{
	if (v == NULL)
		return;
	signed_data_trust_free(v->trust);
	X509_free(v->services_ca);
	free(v->role);
	free(v);
}

/* ----------------------------------------------------------- verifying */

/* Issued directly by the services CA, subject CN=<role> and nothing else. */
static int check_signer_role(const receipt_verifier *v, const signed_data_info *sd, char *err, size_t errlen)
{
	char why[160];
	identity id;

	if (sk_X509_num(sd->chain) < 2 || X509_cmp(sk_X509_value(sd->chain, 1), v->services_ca) != 0)
		return fail(err, errlen, "receipt: %s", "signer not issued by the services CA");
	if (identity_from_subject(X509_get_subject_name(sd->signer), &id, why, sizeof why) != 0 ||
	    id.kind != IDENTITY_ROLE || strcmp(id.role, v->role) != 0) {
		x509_name_string(X509_get_subject_name(sd->signer), why, sizeof why);
		return fail(err, errlen, "receipt: signer %s is not the role %s", why, v->role);
	}
	return 0;
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
	signed_data_info sd;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (signed_data_verify(v->trust, "receipt", der, len, RECEIPT_MAX_DER, &sd, err, errlen) != 0)
		return -1;
	out->signing_time = sd.signing_time;
	if (check_signer_role(v, &sd, err, errlen) != 0)
		goto out;
	rc = parse_content((const char *)sd.content, sd.content_len, equipment, out, err, errlen);
out:
	if (rc != 0)
		receipt_free(out);
	signed_data_info_clear(&sd);
	return rc;
}

void receipt_free(receipt *r)
{
	free(r->digests);
	memset(r, 0, sizeof *r);
}
