/*
 * From an MQTT message to a snapshot ready to store: size limit, topic,
 * CMS decryption with the E2E recipient identity, originator chain check
 * (smscms verifier: E2E root + CRLs), binding of the originator to the
 * topic (its certificate must be equipment ma/acc/eq of the topic), the
 * inner signature when the envelope holds SignedData (signed_data.h: chain
 * to the E2E root with CRLs, signer is the same equipment), JSON
 * parsing and the "equipment" field check. Pure with respect to the
 * database; the caller stores or dead-letters the result.
 *
 * Reason codes (stable, stored in t_dead_letter.reason):
 *   empty, too_large, bad_topic, <smscms status name with '-' as '_'> (malformed,
 *   not_recipient, auth, untrusted, revoked, ...), originator_identity, originator_mismatch,
 *   bad_json, schema, unknown_dictionary, equipment_mismatch, content_type (the envelope holds
 *   neither id-data nor id-signedData), signature (the inner SignedData does
 *   not verify: shape, signature, chain to the E2E root with CRLs),
 *   signer_mismatch (signer is not the originator, the topic's equipment),
 *   unsigned (id-data while require_signature is set); the worker adds db_rejected (the
 *   database refused it) and replay (these bytes came before on another topic).
 */
#ifndef SMS_SNAPSHOT_INGEST_H
#define SMS_SNAPSHOT_INGEST_H

#include <stddef.h>
#include "cms/smscms.h"
#include "common/snapshot_json.h"
#include "common/signed_data.h"
#include "common/snapshot_topic.h"

typedef struct {
	const smscms_identity *recipient;
	smscms_verifier *verifier;
	size_t max_payload;
	size_t max_values;
	const signed_data_trust *signatures; /* E2E root + CRLs, for signed snapshots */
	int require_signature;
	const snapshot_dicts *dicts;         /* channel dictionaries for the compact form, may be NULL */
} ingest_keys;

typedef struct {
	char reason[32];          /* "" when accepted */
	char detail[320];         /* printable ASCII only, safe for logs and the database */
	snapshot_topic topic;
	snapshot snap;
	char originator[512];     /* RFC 2253 subject of the originator certificate */
	char cert_serial[80];     /* its serial, lowercase hex (BN_bn2hex), for sms-db devices */
	char cert_issuer[512];    /* its issuer, RFC 2253 */
	char cert_not_after[32];  /* its notAfter, ISO 8601 UTC */
	unsigned char *plaintext; /* the snapshot JSON, OPENSSL_malloc'd, owned */
	size_t plaintext_len;
	unsigned char *signed_data; /* the SignedData DER when signed (owned), else NULL */
	size_t signed_data_len;
	char signer[512];         /* RFC 2253 subject of the signer, "" when unsigned */
	time_t signing_time;
} ingest_result;

/* 0: accepted, r->snap valid. -1: rejected, r->reason and r->detail set.
 * Always release r with ingest_result_clear. */
int snapshot_ingest(smscms_ctx *ctx, const ingest_keys *keys, const char *topic,
                    const unsigned char *payload, size_t len, ingest_result *r);

void ingest_result_clear(ingest_result *r);

/* Replaces every byte outside printable ASCII with '?', in place. */
void ingest_sanitize(char *s);

#endif
