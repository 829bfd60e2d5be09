/*
 * The firmware offer (docs/firmware.md "Offer"): per device, the release
 * and its content key, as JSON
 *   {"type":"sms-firmware-offer","format":1,"equipment":"ma/acc/eq",
 *    "rollout":N,"release","package","version","key":"<64 hex>",
 *    "offered_at":"YYYY-MM-DDTHH:MM:SSZ"}
 * (every key required, each once, no other; release == package-version)
 * encrypted by libsmscms (AuthEnvelopedData, one-pass ECMQV, originator
 * chain in originatorInfo) from the publisher's E2E role identity for
 * exactly one recipient, the device's E2E certificate.
 *
 * fw_offer_decrypt accepts an offer only when smscms_decrypt with the
 * verifier accepts it (GCM tag, MQV, originator chain to the E2E root with
 * the verifier's CRLs); the originator is issued directly by the services
 * CA with subject exactly CN=vendor-firmware-service (role_cert); the
 * plaintext parses strictly; and it names the recipient's own equipment.
 * On failure *code is the RFC 4108 code (fw_load_error.h) the device
 * reports: decodeFailure (not an envelope, or not an offer), noDecryptKey
 * (not for this device's key), decryptFailure (unwrap or tag), noTrustAnchor
 * (chain), badCertificate (revoked), notAuthorized (originator not the
 * publisher role), wrongHardware (names another equipment), otherError.
 * Content keys are wiped from every buffer this module fills or frees; they
 * never appear in err. A ctx is used by one thread at a time.
 */
#ifndef SMS_FW_OFFER_H
#define SMS_FW_OFFER_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "cms/smscms.h"
#include "common/fw_manifest.h"
#include "common/identity.h"

#define FW_PUBLISHER_ROLE "vendor-firmware-service"
#define FW_OFFER_MAX_DER (64 * 1024)

typedef struct {
	char equipment[IDENTITY_SCOPE_MAX];   /* "ma/acc/eq" */
	long long rollout;                    /* 1 .. 2^53-1 */
	char release[FW_RELEASE_MAX];
	char package[FW_PACKAGE_MAX + 1];
	long long version;
	unsigned char key[FW_KEY_LEN];        /* secret */
	time_t offered_at;
} fw_offer;

/* JSON text (malloc'd; release with fw_offer_json_free, which wipes it);
 * NULL with err when o breaks the rules above. */
char *fw_offer_json(const fw_offer *o, char *err, size_t errlen);
void fw_offer_json_free(char *json);
/* Strict parse into *out; 0, or -1 with err and *out wiped. */
int fw_offer_parse(const char *json, size_t len, fw_offer *out, char *err, size_t errlen);
/* Wipes *o (the key). */
void fw_offer_clear(fw_offer *o);

/* The envelope for device_cert from publisher. *der is OPENSSL_malloc'd.
 * 0, or -1 with err. */
int fw_offer_encrypt(smscms_ctx *ctx, const smscms_identity *publisher, X509 *device_cert, const fw_offer *o,
                     unsigned char **der, size_t *der_len, char *err, size_t errlen);
/* 0 and *out (wipe with fw_offer_clear), or -1 with err and *code; on
 * wrongHardware (an authentic offer naming another equipment) *out keeps
 * everything but the key, so the device can reject that rollout. */
int fw_offer_decrypt(smscms_ctx *ctx, const smscms_identity *device, smscms_verifier *verifier, X509 *services_ca,
                     const unsigned char *der, size_t der_len, fw_offer *out, int *code, char *err, size_t errlen);

#endif
