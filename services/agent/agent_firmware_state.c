/* The firmware state store; contract in agent_firmware_state.h. */
#include "services/agent/agent_firmware_state.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/fw_release_id.h"
#include "services/agent/agent_firmware_fs.h"

#define STATE_MAX_FILE (64 * 1024)
#define STATE_SUFFIX ".json"

static const char *const phase_names[FW_PHASE_COUNT] = { "none", "manifest", "downloading", "installing",
	                                                      "switched" };

const char *fw_phase_name(fw_phase p)
{
	return p < FW_PHASE_COUNT ? phase_names[p] : "?";
}

int fw_state_has_piece(const fw_state *st, unsigned int n)
{
	return n < FW_MAX_PIECES && (st->rollout.have[n / 8] >> (n % 8)) & 1;
}

void fw_state_set_piece(fw_state *st, unsigned int n)
{
	if (n < FW_MAX_PIECES)
		st->rollout.have[n / 8] |= (unsigned char)(1u << (n % 8));
}

unsigned int fw_state_pieces_held(const fw_state *st)
{
	unsigned int i, k = 0;

	for (i = 0; i < st->rollout.n_pieces; i++)
		k += (unsigned int)fw_state_has_piece(st, i);
	return k;
}

void fw_state_finish(fw_state *st, const char *state, const char *code, int code_value, const char *detail)
{
	st->last.id = st->rollout.id;
	snprintf(st->last.release, sizeof st->last.release, "%s", st->rollout.release);
	snprintf(st->last.state, sizeof st->last.state, "%s", state);
	snprintf(st->last.code, sizeof st->last.code, "%s", code ? code : "");
	st->last.code_value = code_value;
	snprintf(st->last.detail, sizeof st->last.detail, "%s", detail ? detail : "");
	memset(&st->rollout, 0, sizeof st->rollout);
}

/* ------------------------------------------------------------ write */

static int add_rollout(cJSON *root, const fw_state *st)
{
	char hex[FW_MAX_PIECES / 4 + 1], slots[3] = { 0 };
	size_t nbytes = (st->rollout.n_pieces + 7) / 8, i;
	cJSON *r;

	if (st->rollout.phase == FW_PHASE_NONE)
		return cJSON_AddNullToObject(root, "rollout") ? 0 : -1;
	for (i = 0; i < nbytes; i++)
		snprintf(hex + 2 * i, 3, "%02x", st->rollout.have[i]);
	hex[2 * nbytes] = '\0';
	slots[0] = st->rollout.slot_from ? st->rollout.slot_from : '-';
	slots[1] = st->rollout.slot_to ? st->rollout.slot_to : '-';
	r = cJSON_AddObjectToObject(root, "rollout");
	return r && cJSON_AddStringToObject(r, "phase", fw_phase_name(st->rollout.phase)) &&
	       cJSON_AddNumberToObject(r, "id", (double)st->rollout.id) &&
	       cJSON_AddStringToObject(r, "release", st->rollout.release) &&
	       cJSON_AddNumberToObject(r, "version", (double)st->rollout.version) &&
	       cJSON_AddNumberToObject(r, "pieces", st->rollout.n_pieces) &&
	       cJSON_AddStringToObject(r, "have", hex) && cJSON_AddStringToObject(r, "slots", slots) ? 0 : -1;
}

static int add_last(cJSON *root, const fw_state *st)
{
	cJSON *l;

	if (st->last.id == 0)
		return cJSON_AddNullToObject(root, "last") ? 0 : -1;
	l = cJSON_AddObjectToObject(root, "last");
	return l && cJSON_AddNumberToObject(l, "id", (double)st->last.id) &&
	       cJSON_AddStringToObject(l, "release", st->last.release) &&
	       cJSON_AddStringToObject(l, "state", st->last.state) &&
	       cJSON_AddStringToObject(l, "code", st->last.code) &&
	       cJSON_AddNumberToObject(l, "code_value", st->last.code_value) &&
	       cJSON_AddStringToObject(l, "detail", st->last.detail) ? 0 : -1;
}

int fw_state_save(const char *dir, const fw_state *st, char *err, size_t errlen)
{
	cJSON *root = cJSON_CreateObject();
	char name[FW_PACKAGE_MAX + sizeof STATE_SUFFIX], *text = NULL;
	int rc = -1;

	if (!fw_package_valid(st->package)) {
		snprintf(err, errlen, "firmware state: package name refused");
		goto out;
	}
	if (root == NULL || !cJSON_AddNumberToObject(root, "format", 1) ||
	    !cJSON_AddStringToObject(root, "package", st->package) ||
	    !cJSON_AddNumberToObject(root, "installed", (double)st->installed) ||
	    !cJSON_AddNumberToObject(root, "highest_seen", (double)st->highest_seen) || add_rollout(root, st) != 0 ||
	    add_last(root, st) != 0 || (text = cJSON_PrintUnformatted(root)) == NULL) {
		snprintf(err, errlen, "firmware state of %s: out of memory", st->package);
		goto out;
	}
	snprintf(name, sizeof name, "%s%s", st->package, STATE_SUFFIX);
	rc = fw_fs_replace(dir, name, text, strlen(text), err, errlen);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------------- read */

static int get_int(const cJSON *o, const char *key, long long lo, long long hi, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

static int get_str(const cJSON *o, const char *key, char *out, size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= outlen)
		return -1;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int parse_phase(const char *s, fw_phase *p)
{
	int i;

	for (i = FW_PHASE_MANIFEST; i < FW_PHASE_COUNT; i++)
		if (strcmp(s, phase_names[i]) == 0) {
			*p = (fw_phase)i;
			return 0;
		}
	return -1;
}

static int parse_have(const char *hex, fw_state *st)
{
	size_t i, n = strlen(hex);
	unsigned int byte;

	if (n != 2 * ((st->rollout.n_pieces + 7) / 8))
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
			return -1;
		st->rollout.have[i] = (unsigned char)byte;
	}
	return 0;
}

static int slot_ok(char c)
{
	return c == 'a' || c == 'b' || c == '-';
}

static int parse_rollout(const cJSON *r, fw_state *st)
{
	char phase[16], hex[FW_MAX_PIECES / 4 + 1], slots[3];
	long long pieces;

	if (cJSON_IsNull(r))
		return 0;
	if (!cJSON_IsObject(r) || get_str(r, "phase", phase, sizeof phase) || parse_phase(phase, &st->rollout.phase) ||
	    get_int(r, "id", 0, 1LL << 53, &st->rollout.id) ||
	    get_str(r, "release", st->rollout.release, sizeof st->rollout.release) ||
	    get_int(r, "version", 1, 1LL << 53, &st->rollout.version) ||
	    get_int(r, "pieces", 0, FW_MAX_PIECES, &pieces) || get_str(r, "have", hex, sizeof hex) ||
	    get_str(r, "slots", slots, sizeof slots) || strlen(slots) != 2 || !slot_ok(slots[0]) || !slot_ok(slots[1]))
		return -1;
	st->rollout.n_pieces = (unsigned int)pieces;
	st->rollout.slot_from = slots[0] == '-' ? 0 : slots[0];
	st->rollout.slot_to = slots[1] == '-' ? 0 : slots[1];
	return parse_have(hex, st);
}

static int parse_last(const cJSON *l, fw_state *st)
{
	long long cv;

	if (cJSON_IsNull(l))
		return 0;
	if (!cJSON_IsObject(l) || get_int(l, "id", 0, 1LL << 53, &st->last.id) ||
	    get_str(l, "release", st->last.release, sizeof st->last.release) ||
	    get_str(l, "state", st->last.state, sizeof st->last.state) ||
	    get_str(l, "code", st->last.code, sizeof st->last.code) || get_int(l, "code_value", 0, 255, &cv) ||
	    get_str(l, "detail", st->last.detail, sizeof st->last.detail))
		return -1;
	st->last.code_value = (int)cv;
	return 0;
}

static int parse_state(const char *text, fw_state *st)
{
	cJSON *root = cJSON_Parse(text);
	char package[FW_PACKAGE_MAX + 1];
	long long format;
	int rc = -1;

	if (root == NULL || get_int(root, "format", 1, 1, &format) || get_str(root, "package", package, sizeof package) ||
	    strcmp(package, st->package) != 0 || get_int(root, "installed", 0, 1LL << 53, &st->installed) ||
	    get_int(root, "highest_seen", 0, 1LL << 53, &st->highest_seen) ||
	    parse_rollout(cJSON_GetObjectItemCaseSensitive(root, "rollout"), st) ||
	    parse_last(cJSON_GetObjectItemCaseSensitive(root, "last"), st))
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int fw_state_load(const char *dir, const char *package, fw_state *st, char *err, size_t errlen)
{
	char path[4096];
	unsigned char *text = NULL;
	size_t len;
	int rc;

	memset(st, 0, sizeof *st);
	if (!fw_package_valid(package)) {
		snprintf(err, errlen, "firmware state: package name refused");
		return -1;
	}
	memcpy(st->package, package, strlen(package) + 1);
	snprintf(path, sizeof path, "%s/%s%s", dir, package, STATE_SUFFIX);
	rc = fw_fs_read(path, STATE_MAX_FILE, &text, &len, err, errlen);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (parse_state((const char *)text, st) != 0) {
		snprintf(err, errlen, "%s: not a firmware state file of this agent; move it aside to start over "
		         "(the versions it held are then forgotten)", path);
		rc = -1;
	}
	free(text);
	return rc;
}

int fw_state_list(const char *dir, char (*out)[FW_PACKAGE_MAX + 1], size_t max, size_t *n, char *err,
                  size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t len;

	*n = 0;
	if (d == NULL) {
		snprintf(err, errlen, "%s: cannot list: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && *n < max) {
		len = strlen(de->d_name);
		if (len <= strlen(STATE_SUFFIX) || strcmp(de->d_name + len - strlen(STATE_SUFFIX), STATE_SUFFIX) != 0 ||
		    de->d_name[0] == '.' || len - strlen(STATE_SUFFIX) > FW_PACKAGE_MAX)
			continue;
		memcpy(out[*n], de->d_name, len - strlen(STATE_SUFFIX));
		out[*n][len - strlen(STATE_SUFFIX)] = '\0';
		if (fw_package_valid(out[*n]))
			(*n)++;
	}
	closedir(d);
	return 0;
}
