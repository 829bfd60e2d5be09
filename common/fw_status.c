/* Firmware status reports; contract in fw_status.h. */
#include "common/fw_status.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "common/errf.h"
#include "common/fw_load_error.h"
#include "common/fw_manifest.h"
#include "common/json_fields.h"
#include "common/x509_util.h"

#define LABEL "firmware status"

enum {
	K_TYPE, K_FORMAT, K_EQUIPMENT, K_ROLLOUT, K_RELEASE, K_STATE, K_PROGRESS, K_CODE, K_CODE_VALUE, K_DETAIL,
	K_INSTALLED, K_REPORTED_AT, K_COUNT
};

static const char *const keys[K_COUNT] = {
	"type", "format", "equipment", "rollout", "release", "state", "progress", "code", "code_value", "detail",
	"installed_version", "reported_at",
};

static const char *const state_names[] = { NULL, "downloading", "verified", "installing", "succeeded", "failed",
	                                   "rejected" };

const char *fw_report_state_name(fw_report_state s)
{
	return s >= FW_REPORT_DOWNLOADING && s <= FW_REPORT_REJECTED ? state_names[s] : NULL;
}

fw_report_state fw_report_state_from_name(const char *name)
{
	int s;

	for (s = FW_REPORT_DOWNLOADING; s <= FW_REPORT_REJECTED; s++)
		if (strcmp(state_names[s], name) == 0)
			return (fw_report_state)s;
	return 0;
}

static int has_code(fw_report_state s)
{
	return s == FW_REPORT_FAILED || s == FW_REPORT_REJECTED;
}

static int check(const fw_status *s, char *err, size_t errlen)
{
	char package[FW_PACKAGE_MAX + 1];
	long long version;

	if (s->equipment[0] == '\0')
		return errf(err, errlen, LABEL ": no equipment");
	if (s->rollout < 1 || s->rollout > FW_VERSION_MAX)
		return errf(err, errlen, LABEL ": rollout must be 1..2^53-1");
	if (fw_release_parse(s->release, package, &version) != 0)
		return errf(err, errlen, LABEL ": release is not <package>-<version>");
	if (fw_report_state_name(s->state) == NULL)
		return errf(err, errlen, LABEL ": unknown state");
	if (s->state == FW_REPORT_DOWNLOADING &&
	    (s->of < 1 || s->of > FW_MANIFEST_MAX_PIECES || s->pieces < 0 || s->pieces > s->of))
		return errf(err, errlen, LABEL ": downloading needs progress 0 <= pieces <= of <= %d",
		            FW_MANIFEST_MAX_PIECES);
	if (has_code(s->state) != (s->code != 0) || (s->code != 0 && fw_load_error_name(s->code) == NULL))
		return errf(err, errlen, LABEL ": failed and rejected (only) carry an RFC 4108 code");
	if (strlen(s->detail) > FW_STATUS_DETAIL_MAX)
		return errf(err, errlen, LABEL ": detail longer than %d bytes", FW_STATUS_DETAIL_MAX);
	if (s->installed_version < -1 || s->installed_version > FW_VERSION_MAX)
		return errf(err, errlen, LABEL ": installed_version must be 0..2^53-1");
	return 0;
}

/* ------------------------------------------------------------ building */

static int add_optional(cJSON *root, const fw_status *s)
{
	cJSON *p;

	if (s->state == FW_REPORT_DOWNLOADING &&
	    ((p = cJSON_AddObjectToObject(root, "progress")) == NULL ||
	     cJSON_AddNumberToObject(p, "pieces", (double)s->pieces) == NULL ||
	     cJSON_AddNumberToObject(p, "of", (double)s->of) == NULL))
		return -1;
	if (s->code != 0 && (cJSON_AddStringToObject(root, "code", fw_load_error_name(s->code)) == NULL ||
	                     cJSON_AddNumberToObject(root, "code_value", s->code) == NULL))
		return -1;
	if (s->detail[0] != '\0' && cJSON_AddStringToObject(root, "detail", s->detail) == NULL)
		return -1;
	if (s->installed_version >= 0 &&
	    cJSON_AddNumberToObject(root, "installed_version", (double)s->installed_version) == NULL)
		return -1;
	return 0;
}

char *fw_status_json(const fw_status *s, char *err, size_t errlen)
{
	cJSON *root = NULL;
	char *text = NULL, when[32];

	if (check(s, err, errlen) != 0)
		return NULL;
	if (json_fields_time_string(s->reported_at, when, sizeof when) != 0 || (root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "type", "sms-firmware-status") == NULL ||
	    cJSON_AddNumberToObject(root, "format", 1) == NULL ||
	    cJSON_AddStringToObject(root, "equipment", s->equipment) == NULL ||
	    cJSON_AddNumberToObject(root, "rollout", (double)s->rollout) == NULL ||
	    cJSON_AddStringToObject(root, "release", s->release) == NULL ||
	    cJSON_AddStringToObject(root, "state", fw_report_state_name(s->state)) == NULL ||
	    add_optional(root, s) != 0 || cJSON_AddStringToObject(root, "reported_at", when) == NULL ||
	    (text = cJSON_PrintUnformatted(root)) == NULL)
		errf(err, errlen, LABEL ": cannot build the JSON (out of memory?)");
	cJSON_Delete(root);
	return text;
}

/* ------------------------------------------------------------- parsing */

static int parse_progress(const cJSON *p, fw_status *out, char *err, size_t errlen)
{
	static const char *const pkeys[2] = { "pieces", "of" };
	const cJSON *seen[2];

	if (!cJSON_IsObject(p))
		return errf(err, errlen, LABEL ": progress must be an object");
	if (json_fields_collect(p, pkeys, 2, seen, LABEL " progress", err, errlen) != 0 ||
	    json_fields_int(seen[0], "progress.pieces", 0, FW_MANIFEST_MAX_PIECES, &out->pieces, LABEL, err,
	                    errlen) != 0 ||
	    json_fields_int(seen[1], "progress.of", 1, FW_MANIFEST_MAX_PIECES, &out->of, LABEL, err, errlen) != 0)
		return -1;
	return 0;
}

static int parse_code(const cJSON **s, fw_status *out, char *err, size_t errlen)
{
	const char *name;
	long long value;

	if (!has_code(out->state)) {
		if (s[K_CODE] != NULL || s[K_CODE_VALUE] != NULL)
			return errf(err, errlen, LABEL ": only failed and rejected carry a code");
		return 0;
	}
	if (json_fields_string(s[K_CODE], "code", 64, &name, LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_CODE_VALUE], "code_value", 1, 99, &value, LABEL, err, errlen) != 0)
		return -1;
	if (fw_load_error_code(name) != (int)value)
		return errf(err, errlen, LABEL ": code and code_value are not the same RFC 4108 code");
	out->code = (int)value;
	return 0;
}

static int parse_fields(const cJSON **s, fw_status *out, char *err, size_t errlen)
{
	char state[32];

	if (json_fields_type_format(s[K_TYPE], s[K_FORMAT], "sms-firmware-status", LABEL, err, errlen) != 0)
		return -1;
	if (json_fields_copy_string(s[K_EQUIPMENT], "equipment", IDENTITY_SCOPE_MAX - 1, out->equipment,
	                            LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_ROLLOUT], "rollout", 1, FW_VERSION_MAX, &out->rollout, LABEL, err, errlen) != 0 ||
	    json_fields_copy_string(s[K_RELEASE], "release", FW_RELEASE_MAX - 1, out->release,
	                            LABEL, err, errlen) != 0 ||
	    json_fields_copy_string(s[K_STATE], "state", sizeof state - 1, state, LABEL, err, errlen) != 0 ||
	    json_fields_time(s[K_REPORTED_AT], "reported_at", &out->reported_at, LABEL, err, errlen) != 0)
		return -1;
	if ((out->state = fw_report_state_from_name(state)) == 0)
		return errf(err, errlen, LABEL ": unknown state");
	if ((out->state == FW_REPORT_DOWNLOADING) != (s[K_PROGRESS] != NULL))
		return errf(err, errlen, LABEL ": progress goes with downloading, and only there");
	if (s[K_PROGRESS] != NULL && parse_progress(s[K_PROGRESS], out, err, errlen) != 0)
		return -1;
	if (parse_code(s, out, err, errlen) != 0)
		return -1;
	if (s[K_DETAIL] != NULL && json_fields_copy_string(s[K_DETAIL], "detail", FW_STATUS_DETAIL_MAX, out->detail,
	                                                   LABEL, err, errlen) != 0)
		return -1;
	if (s[K_INSTALLED] != NULL && json_fields_int(s[K_INSTALLED], "installed_version", 0, FW_VERSION_MAX,
	                                              &out->installed_version, LABEL, err, errlen) != 0)
		return -1;
	return check(out, err, errlen);
}

int fw_status_parse(const char *json, size_t len, fw_status *out, char *err, size_t errlen)
{
	static const int required[] = { K_TYPE, K_FORMAT, K_EQUIPMENT, K_ROLLOUT, K_RELEASE, K_STATE, K_REPORTED_AT };
	const cJSON *seen[K_COUNT];
	cJSON *root;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof *out);
	out->installed_version = -1;
	if ((root = json_fields_parse(json, len, LABEL, err, errlen)) == NULL)
		return -1;
	if (json_fields_collect(root, keys, K_COUNT, seen, LABEL, err, errlen) != 0)
		goto out;
	for (i = 0; i < sizeof required / sizeof required[0]; i++)
		if (seen[required[i]] == NULL) {
			errf(err, errlen, LABEL ": key %s missing", keys[required[i]]);
			goto out;
		}
	rc = parse_fields(seen, out, err, errlen);
out:
	cJSON_Delete(root);
	return rc;
}

/* ----------------------------------------------------- signing, verifying */

int fw_status_sign(X509 *device, EVP_PKEY *key, STACK_OF(X509) *chain, const fw_status *s, unsigned char **der,
                   size_t *der_len, char *err, size_t errlen)
{
	char *json = fw_status_json(s, err, errlen), why[400];
	int rc = -1;

	*der = NULL;
	if (json == NULL)
		return -1;
	if (signed_data_sign(device, key, chain, (const unsigned char *)json, strlen(json), der, der_len, why,
	                     sizeof why) != 0)
		errf(err, errlen, LABEL ": %s", why);
	else
		rc = 0;
	free(json);
	return rc;
}

int fw_status_verify(const signed_data_trust *trust, const unsigned char *der, size_t len,
                     const char *topic_equipment, fw_status *out, char *err, size_t errlen)
{
	char why[160], name[256];
	signed_data_info sd;
	identity id;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (signed_data_verify(trust, LABEL, der, len, FW_STATUS_MAX_DER, &sd, err, errlen) != 0)
		return -1;
	if (identity_from_subject(X509_get_subject_name(sd.signer), &id, why, sizeof why) != 0 ||
	    id.kind != IDENTITY_EQUIPMENT || strcmp(id.name, topic_equipment) != 0) {
		x509_name_string(X509_get_subject_name(sd.signer), name, sizeof name);
		errf(err, errlen, LABEL ": signed by %s, not by the topic's equipment %s", name, topic_equipment);
		goto out;
	}
	if (fw_status_parse((const char *)sd.content, sd.content_len, out, err, errlen) != 0)
		goto out;
	if (strcmp(out->equipment, topic_equipment) != 0) {
		errf(err, errlen, LABEL ": names equipment %s, not the topic's %s", out->equipment, topic_equipment);
		goto out;
	}
	rc = 0;
out:
	signed_data_info_clear(&sd);
	return rc;
}
