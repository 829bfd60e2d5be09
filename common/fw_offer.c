/* Firmware offers; contract in fw_offer.h. */
#include "common/fw_offer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#include "common/errf.h"
#include "common/fw_load_error.h"
#include "common/ident_grammar.h"
#include "common/json_fields.h"
#include "common/role_cert.h"

#define LABEL "firmware offer"

enum { K_TYPE, K_FORMAT, K_EQUIPMENT, K_ROLLOUT, K_RELEASE, K_PACKAGE, K_VERSION, K_KEY, K_OFFERED_AT, K_COUNT };

static const char *const keys[K_COUNT] = {
	"type", "format", "equipment", "rollout", "release", "package", "version", "key", "offered_at",
};

static int check(const fw_offer *o, char *err, size_t errlen)
{
	char release[FW_RELEASE_MAX];
	const char *s = o->equipment, *a = strchr(s, '/'), *b = a != NULL ? strchr(a + 1, '/') : NULL;

	if (a == NULL || b == NULL || strchr(b + 1, '/') != NULL || !ident_valid(s, (size_t)(a - s)) ||
	    !ident_valid(a + 1, (size_t)(b - a - 1)) || !ident_valid(b + 1, strlen(b + 1)))
		return errf(err, errlen, LABEL ": equipment must be <ma>/<acc>/<eq>");
	if (o->rollout < 1 || o->rollout > FW_VERSION_MAX)
		return errf(err, errlen, LABEL ": rollout must be 1..2^53-1");
	if (fw_release_id(o->package, o->version, release, sizeof release) != 0 || strcmp(release, o->release) != 0)
		return errf(err, errlen, LABEL ": release must be <package>-<version> with a valid package and version");
	return 0;
}

/* The tree holds the key's hex too: cJSON_Delete does not wipe. */
static void wipe_key(cJSON *root)
{
	cJSON *k = root != NULL ? cJSON_GetObjectItemCaseSensitive(root, "key") : NULL;

	if (cJSON_IsString(k))
		OPENSSL_cleanse(k->valuestring, strlen(k->valuestring));
}

void fw_offer_clear(fw_offer *o)
{
	OPENSSL_cleanse(o, sizeof *o);
}

void fw_offer_json_free(char *json)
{
	if (json != NULL)
		OPENSSL_cleanse(json, strlen(json));
	free(json);
}

char *fw_offer_json(const fw_offer *o, char *err, size_t errlen)
{
	char hex[2 * FW_KEY_LEN + 1], when[32];
	cJSON *root = NULL;
	char *text = NULL;

	if (check(o, err, errlen) != 0)
		return NULL;
	json_fields_hex_string(o->key, FW_KEY_LEN, hex);
	if (json_fields_time_string(o->offered_at, when, sizeof when) != 0 || (root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "type", "sms-firmware-offer") == NULL ||
	    cJSON_AddNumberToObject(root, "format", 1) == NULL ||
	    cJSON_AddStringToObject(root, "equipment", o->equipment) == NULL ||
	    cJSON_AddNumberToObject(root, "rollout", (double)o->rollout) == NULL ||
	    cJSON_AddStringToObject(root, "release", o->release) == NULL ||
	    cJSON_AddStringToObject(root, "package", o->package) == NULL ||
	    cJSON_AddNumberToObject(root, "version", (double)o->version) == NULL ||
	    cJSON_AddStringToObject(root, "key", hex) == NULL ||
	    cJSON_AddStringToObject(root, "offered_at", when) == NULL || (text = cJSON_PrintUnformatted(root)) == NULL)
		errf(err, errlen, LABEL ": cannot build the JSON (out of memory?)");
	OPENSSL_cleanse(hex, sizeof hex);
	wipe_key(root);
	cJSON_Delete(root);
	return text;
}

static int parse_fields(const cJSON **s, fw_offer *out, char *err, size_t errlen)
{
	if (json_fields_type_format(s[K_TYPE], s[K_FORMAT], "sms-firmware-offer", LABEL, err, errlen) != 0)
		return -1;
	if (json_fields_copy_string(s[K_EQUIPMENT], "equipment", IDENTITY_SCOPE_MAX - 1, out->equipment,
	                            LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_ROLLOUT], "rollout", 1, FW_VERSION_MAX, &out->rollout, LABEL, err, errlen) != 0 ||
	    json_fields_copy_string(s[K_RELEASE], "release", FW_RELEASE_MAX - 1, out->release,
	                            LABEL, err, errlen) != 0 ||
	    json_fields_copy_string(s[K_PACKAGE], "package", FW_PACKAGE_MAX, out->package, LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_VERSION], "version", 1, FW_VERSION_MAX, &out->version, LABEL, err, errlen) != 0 ||
	    json_fields_hex(s[K_KEY], "key", out->key, FW_KEY_LEN, LABEL, err, errlen) != 0 ||
	    json_fields_time(s[K_OFFERED_AT], "offered_at", &out->offered_at, LABEL, err, errlen) != 0)
		return -1;
	return check(out, err, errlen);
}

int fw_offer_parse(const char *json, size_t len, fw_offer *out, char *err, size_t errlen)
{
	const cJSON *seen[K_COUNT];
	cJSON *root;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if ((root = json_fields_parse(json, len, LABEL, err, errlen)) == NULL)
		return -1;
	if (json_fields_collect(root, keys, K_COUNT, seen, LABEL, err, errlen) != 0)
		goto out;
	if (json_fields_require_all(seen, keys, K_COUNT, LABEL, err, errlen) != 0)
		goto out;
	rc = parse_fields(seen, out, err, errlen);
out:
	wipe_key(root);
	cJSON_Delete(root);
	if (rc != 0)
		fw_offer_clear(out);
	return rc;
}

int fw_offer_encrypt(smscms_ctx *ctx, const smscms_identity *publisher, X509 *device_cert, const fw_offer *o,
                     unsigned char **der, size_t *der_len, char *err, size_t errlen)
{
	char *json = fw_offer_json(o, err, errlen);
	smscms_encrypt_opts opts;
	X509 *rcpt[1] = { device_cert };
	smscms_status st;

	*der = NULL;
	if (json == NULL)
		return -1;
	smscms_encrypt_opts_init(&opts);
	st = smscms_encrypt(ctx, &opts, publisher, rcpt, 1, (const unsigned char *)json, strlen(json), der, der_len);
	fw_offer_json_free(json);
	if (st != SMSCMS_OK)
		return errf(err, errlen, LABEL ": encryption failed: %s", smscms_ctx_error(ctx));
	return 0;
}

static int status_code(smscms_status st)
{
	switch (st) {
	case SMSCMS_ERR_MALFORMED:
	case SMSCMS_ERR_TOO_LARGE:
	case SMSCMS_ERR_UNSUPPORTED:
		return FW_ERR_DECODE_FAILURE;
	case SMSCMS_ERR_NOT_RECIPIENT:
		return FW_ERR_NO_DECRYPT_KEY;
	case SMSCMS_ERR_KEY_UNWRAP:
	case SMSCMS_ERR_AUTH:
		return FW_ERR_DECRYPT_FAILURE;
	case SMSCMS_ERR_UNTRUSTED:
		return FW_ERR_NO_TRUST_ANCHOR;
	case SMSCMS_ERR_REVOKED:
		return FW_ERR_BAD_CERTIFICATE;
	case SMSCMS_ERR_ORIGINATOR:
		return FW_ERR_NOT_AUTHORIZED;
	default:
		return FW_ERR_OTHER_ERROR;
	}
}

/* The equipment scope of the device's own certificate. */
static int own_equipment(const smscms_identity *device, char *buf, size_t len, char *err, size_t errlen)
{
	char why[160];
	identity id;

	if (identity_from_subject(X509_get_subject_name(smscms_identity_cert(device)), &id, why, sizeof why) != 0 ||
	    id.kind != IDENTITY_EQUIPMENT)
		return errf(err, errlen, LABEL ": the device identity is not an equipment certificate");
	snprintf(buf, len, "%s", id.name);
	return 0;
}

int fw_offer_decrypt(smscms_ctx *ctx, const smscms_identity *device, smscms_verifier *verifier, X509 *services_ca,
                     const unsigned char *der, size_t der_len, fw_offer *out, int *code, char *err, size_t errlen)
{
	char mine[IDENTITY_SCOPE_MAX];
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	smscms_originator orig;
	smscms_limits limits;
	smscms_status st;
	int rc = -1;

	memset(out, 0, sizeof *out);
	memset(&orig, 0, sizeof orig);
	*code = FW_ERR_OTHER_ERROR;
	if (own_equipment(device, mine, sizeof mine, err, errlen) != 0)
		return -1;
	smscms_limits_init(&limits);
	limits.max_message = FW_OFFER_MAX_DER;
	limits.max_recipients = 1;
	st = smscms_decrypt(ctx, &limits, device, verifier, der, der_len, &pt, &pt_len, &orig);
	if (st != SMSCMS_OK) {
		*code = status_code(st);
		errf(err, errlen, LABEL " refused: %s", smscms_ctx_error(ctx));
		goto out;
	}
	if (role_cert_check(orig.cert, services_ca, FW_PUBLISHER_ROLE, LABEL " originator", err, errlen) != 0) {
		*code = FW_ERR_NOT_AUTHORIZED;
		goto out;
	}
	if (fw_offer_parse((const char *)pt, pt_len, out, err, errlen) != 0) {
		*code = FW_ERR_DECODE_FAILURE;
		goto out;
	}
	if (strcmp(out->equipment, mine) != 0) {
		*code = FW_ERR_WRONG_HARDWARE;
		errf(err, errlen, LABEL " for %s refused: it names equipment %s", mine, out->equipment);
		/* Authentic but not ours: the device answers the rollout, so only the key goes. */
		OPENSSL_cleanse(out->key, sizeof out->key);
		goto out;
	}
	rc = 0;
out:
	if (pt != NULL)
		OPENSSL_clear_free(pt, pt_len);
	smscms_originator_clear(&orig);
	return rc;
}
