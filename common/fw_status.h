/*
 * The firmware status report (docs/firmware.md "Status report"): JSON
 * signed as CMS SignedData (common/signed_data) by the device's own E2E
 * key, published on <ma>/<acc>/<eq>/firmware/status.
 *   {"type":"sms-firmware-status","format":1,"equipment":"ma/acc/eq",
 *    "rollout":N,"release","state",["progress":{"pieces":P,"of":N}],
 *    ["code":"<RFC 4108 name>","code_value":N],["detail":"..."],
 *    ["installed_version":N],"reported_at"}
 * state is downloading (progress required, 0 <= pieces <= of <= 4096),
 * verified, installing, succeeded, failed or rejected; code/code_value are
 * present exactly for failed and rejected and must name the same RFC 4108
 * code (fw_load_error.h); detail at most 256 bytes; installed_version
 * (0 .. 2^53-1, 0 = none) optional. Unknown or repeated keys refused.
 *
 * fw_status_verify accepts a report only when signed_data_verify accepts
 * it (signature, chain to the E2E root, CRLs of the trust), the signer's
 * certificate is an equipment (identity.h) whose scope is the topic's
 * equipment, and the content parses strictly and names that equipment.
 * Whether the rollout targets that device is the publisher's check.
 * No global state.
 */
#ifndef SMS_FW_STATUS_H
#define SMS_FW_STATUS_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/fw_release_id.h"
#include "common/identity.h"
#include "common/signed_data.h"

#define FW_STATUS_MAX_DER (64 * 1024)
#define FW_STATUS_DETAIL_MAX 256

typedef enum {
	FW_REPORT_DOWNLOADING = 1,
	FW_REPORT_VERIFIED,
	FW_REPORT_INSTALLING,
	FW_REPORT_SUCCEEDED,
	FW_REPORT_FAILED,
	FW_REPORT_REJECTED
} fw_report_state;

typedef struct {
	char equipment[IDENTITY_SCOPE_MAX];
	long long rollout;
	char release[FW_RELEASE_MAX];
	fw_report_state state;
	long long pieces, of;                    /* downloading only */
	int code;                                /* RFC 4108; failed and rejected only, else 0 */
	char detail[FW_STATUS_DETAIL_MAX + 1];   /* "" when absent */
	long long installed_version;             /* -1 when absent */
	time_t reported_at;
} fw_status;

/* "downloading", ...; NULL for anything else. */
const char *fw_report_state_name(fw_report_state s);
/* The state of a name; 0 when not one. */
fw_report_state fw_report_state_from_name(const char *name);

/* JSON (malloc'd, free()), or NULL with err when s breaks the rules. */
char *fw_status_json(const fw_status *s, char *err, size_t errlen);
/* Strict parse; 0, or -1 with err. */
int fw_status_parse(const char *json, size_t len, fw_status *out, char *err, size_t errlen);

/* Signs s with the device's key. chain may be NULL. *der is OPENSSL_malloc'd. */
int fw_status_sign(X509 *device, EVP_PKEY *key, STACK_OF(X509) *chain, const fw_status *s, unsigned char **der,
                   size_t *der_len, char *err, size_t errlen);
/* topic_equipment: "ma/acc/eq" of the topic it came on. 0 and *out, or -1 with err. */
int fw_status_verify(const signed_data_trust *trust, const unsigned char *der, size_t len,
                     const char *topic_equipment, fw_status *out, char *err, size_t errlen);

#endif
