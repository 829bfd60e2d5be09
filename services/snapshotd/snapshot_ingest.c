/* Decrypt, verify, bind and parse one snapshot; contract in snapshot_ingest.h. */
#include "services/snapshotd/snapshot_ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "common/identity.h"
#include "common/x509_util.h"

void ingest_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static int reject(ingest_result *r, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reject(ingest_result *r, const char *reason, const char *fmt, ...)
{
	va_list ap;

	snprintf(r->reason, sizeof r->reason, "%s", reason);
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	va_end(ap);
	ingest_sanitize(r->detail);
	return -1;
}

/* What sms-db devices shows of the certificate: serial, issuer, expiry. */
static void note_certificate(const X509 *cert, ingest_result *r)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	time_t na = x509_time(X509_get0_notAfter(cert));
	struct tm tm;
	char *p;

	snprintf(r->cert_serial, sizeof r->cert_serial, "%s", hex != NULL ? hex : "");
	for (p = r->cert_serial; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	x509_name_string(X509_get_issuer_name(cert), r->cert_issuer, sizeof r->cert_issuer);
	if (na > 0 && gmtime_r(&na, &tm) != NULL)
		strftime(r->cert_not_after, sizeof r->cert_not_after, "%Y-%m-%dT%H:%M:%SZ", &tm);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* The originator certificate must name exactly the equipment of the topic. */
static int bind_originator(const smscms_originator *orig, ingest_result *r)
{
	identity id;
	char err[160];

	if (identity_from_subject(X509_get_subject_name(orig->cert), &id, err, sizeof err) != 0)
		return reject(r, "originator_identity", "originator %.300s is not an SMS identity: %s",
		              orig->subject, err);
	if (id.kind != IDENTITY_EQUIPMENT || strcmp(id.master, r->topic.master) != 0 ||
	    strcmp(id.account, r->topic.account) != 0 || strcmp(id.equipment, r->topic.equipment) != 0) {
		char topic[3 * TOPIC_LEVEL_MAX + 4];
		snprintf(topic, sizeof topic, "%s/%s/%s", r->topic.master, r->topic.account, r->topic.equipment);
		return reject(r, "originator_mismatch", "originator %.200s does not own topic %s", id.name, topic);
	}
	return 0;
}

static int same_equipment(const identity *id, const snapshot_topic *t)
{
	return id->kind == IDENTITY_EQUIPMENT && strcmp(id->master, t->master) == 0 &&
	       strcmp(id->account, t->account) == 0 && strcmp(id->equipment, t->equipment) == 0;
}

/* The envelope's content: the JSON, or SignedData(JSON) by the same
 * equipment (the third-party proof the thesis' non-repudiation asks for).
 * On success r->plaintext is the JSON and r->signed_data what was signed. */
static int unwrap_signature(const ingest_keys *keys, int content_type_nid, ingest_result *r)
{
	signed_data_info sd;
	identity id;
	char err[480];
	unsigned char *json;
	int rc = -1;

	if (content_type_nid == NID_pkcs7_data) {
		if (keys->require_signature)
			return reject(r, "unsigned", "snapshot is not signed (id-data) and e2e.require_signature is set");
		return 0;
	}
	if (content_type_nid != NID_pkcs7_signed)
		return reject(r, "content_type", "encrypted content is neither id-data nor id-signedData");
	if (signed_data_verify(keys->signatures, "snapshot signature", r->plaintext, r->plaintext_len,
	                       keys->max_payload, &sd, err, sizeof err) != 0)
		return reject(r, "signature", "%s", err);
	x509_name_string(X509_get_subject_name(sd.signer), r->signer, sizeof r->signer);
	if (identity_from_subject(X509_get_subject_name(sd.signer), &id, err, sizeof err) != 0 ||
	    !same_equipment(&id, &r->topic)) {
		reject(r, "signer_mismatch", "signer %.300s is not the originator, equipment of the topic", r->signer);
		goto out;
	}
	if ((json = OPENSSL_memdup(sd.content, sd.content_len)) == NULL) {
		reject(r, "signature", "out of memory");
		goto out;
	}
	r->signed_data = r->plaintext;
	r->signed_data_len = r->plaintext_len;
	r->plaintext = json;
	r->plaintext_len = sd.content_len;
	r->signing_time = sd.signing_time;
	rc = 0;
out:
	signed_data_info_clear(&sd);
	return rc;
}

int snapshot_ingest(smscms_ctx *ctx, const ingest_keys *keys, const char *topic,
                    const unsigned char *payload, size_t len, ingest_result *r)
{
	smscms_originator orig;
	smscms_limits limits;
	smscms_status st;
	snapshot_status js;
	char err[256];
	int rc = -1;

	memset(r, 0, sizeof *r);
	memset(&orig, 0, sizeof orig);
	/* Said here: smscms would call it a missing argument. */
	if (len == 0)
		return reject(r, "empty", "empty payload (0 bytes)");
	if (len > keys->max_payload) {
		return reject(r, "too_large", "payload of %zu bytes, limit %zu", len, keys->max_payload);
	}
	if (snapshot_topic_parse(topic, &r->topic, err, sizeof err) != 0)
		return reject(r, "bad_topic", "%s", err);
	smscms_limits_init(&limits);
	limits.max_message = keys->max_payload;
	st = smscms_decrypt(ctx, &limits, keys->recipient, keys->verifier, payload, len,
	                    &r->plaintext, &r->plaintext_len, &orig);
	if (st != SMSCMS_OK) {
		char *p;
		reject(r, smscms_status_name(st), "%s", smscms_ctx_error(ctx));
		/* Reason codes are snake_case throughout ("not-recipient" -> "not_recipient"). */
		for (p = r->reason; *p; p++)
			if (*p == '-')
				*p = '_';
		goto out;
	}
	if (orig.cert == NULL || !orig.chain_verified) {
		reject(r, "untrusted", "originator certificate %s", orig.cert == NULL ? "missing" : "not verified");
		goto out;
	}
	snprintf(r->originator, sizeof r->originator, "%s", orig.subject);
	if (bind_originator(&orig, r) != 0 || unwrap_signature(keys, orig.content_type_nid, r) != 0)
		goto out;
	note_certificate(orig.cert, r);
	js = snapshot_parse_dict((const char *)r->plaintext, r->plaintext_len, keys->max_values, keys->dicts,
	                         &r->snap, err, sizeof err);
	if (js != SNAPSHOT_OK) {
		reject(r, snapshot_status_name(js), "%s", err);
		goto out;
	}
	if (strcmp(r->snap.equipment, r->topic.equipment) != 0) {
		reject(r, "equipment_mismatch", "snapshot names equipment %.64s, topic %.64s",
		       r->snap.equipment, r->topic.equipment);
		goto out;
	}
	rc = 0;
out:
	smscms_originator_clear(&orig);
	return rc;
}

void ingest_result_clear(ingest_result *r)
{
	snapshot_free(&r->snap);
	if (r->plaintext != NULL)
		OPENSSL_clear_free(r->plaintext, r->plaintext_len);
	if (r->signed_data != NULL)
		OPENSSL_clear_free(r->signed_data, r->signed_data_len);
	memset(r, 0, sizeof *r);
}
