/* Snapshot JSON parsing and validation; contract in snapshot_json.h. */
#include "common/snapshot_json.h"
#include "common/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "common/json_arena.h"
#include "common/snapshot_dict.h"
#include "common/snapshot_topic.h"

#define SEQ_MAX 9007199254740992.0 /* 2^53: larger integers are not exact in a double */

const char *snapshot_status_name(snapshot_status st)
{
	switch (st) {
	case SNAPSHOT_OK: return "ok";
	case SNAPSHOT_BAD_JSON: return "bad_json";
	case SNAPSHOT_SCHEMA: return "schema";
	case SNAPSHOT_TOO_LARGE: return "too_large";
	case SNAPSHOT_UNKNOWN_DICTIONARY: return "unknown_dictionary";
	}
	return "unknown";
}

int snapshot_text_valid(const char *s, size_t min, size_t max)
{
	size_t len = strlen(s), i;

	if (len < min || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Every string in the tree is valid UTF-8 and no object repeats a key. */
static int tree_clean(const cJSON *node, int depth)
{
	const cJSON *c, *d;

	if (depth > 8)
		return 0;
	if (cJSON_IsString(node) && !utf8_valid((const unsigned char *)node->valuestring,
	                                        strlen(node->valuestring)))
		return 0;
	for (c = node->child; c != NULL; c = c->next) {
		if (c->string != NULL) {
			if (!utf8_valid((const unsigned char *)c->string, strlen(c->string)))
				return 0;
			for (d = node->child; d != c; d = d->next)
				if (strcmp(d->string, c->string) == 0)
					return 0;
		}
		if (!tree_clean(c, depth + 1))
			return 0;
	}
	return 1;
}

static int only_keys(const cJSON *obj, const char *const *keys, size_t n, char *err, size_t errlen,
                     const char *where)
{
	const cJSON *c;
	size_t i;

	for (c = obj->child; c != NULL; c = c->next) {
		for (i = 0; i < n; i++)
			if (strcmp(c->string, keys[i]) == 0)
				break;
		if (i == n) {
			snprintf(err, errlen, "%s: unknown key \"%.40s\"", where, c->string);
			return 0;
		}
	}
	return 1;
}

static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

int snapshot_time_parse(const char *s, time_t *out)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	int y, mo, d, h, mi, sec;
	const char *p;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return 0;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9' && p - s < 32)
			p++;
	}
	if (strcmp(p, "Z") != 0)
		return 0;
	if (y < 2000 || y > 2199 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59)
		return 0;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 1;
}

static const char *string_member(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int pair_cmp(const void *a, const void *b)
{
	const snapshot_value *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	return c != 0 ? c : strcmp(x->channel, y->channel);
}

/* A value: finite number, text of at most SNAPSHOT_TEXT_MAX bytes, or a
 * boolean (text "true"/"false"), the same in both forms. */
static snapshot_status parse_scalar(const cJSON *val, size_t i, snapshot_value *v, char *err, size_t errlen)
{
	if (cJSON_IsNumber(val)) {
		if (!isfinite(val->valuedouble)) {
			snprintf(err, errlen, "values[%zu]: value is not a finite number", i);
			return SNAPSHOT_SCHEMA;
		}
		v->num = val->valuedouble;
	} else if (cJSON_IsString(val)) {
		if (strlen(val->valuestring) > SNAPSHOT_TEXT_MAX) {
			snprintf(err, errlen, "values[%zu]: text value longer than %d bytes", i, SNAPSHOT_TEXT_MAX);
			return SNAPSHOT_SCHEMA;
		}
		v->is_text = 1;
		v->text = val->valuestring;
	} else if (cJSON_IsBool(val)) {
		v->is_text = 1;
		v->text = cJSON_IsTrue(val) ? "true" : "false";
	} else {
		snprintf(err, errlen, "values[%zu]: value must be a number, a string or a boolean", i);
		return SNAPSHOT_SCHEMA;
	}
	return SNAPSHOT_OK;
}

enum { M_GROUP, M_CHANNEL, M_UNIT, M_VALUE, M_COUNT };

/* The members of a value object in one pass over it: a snapshot has
 * hundreds, and a lookup per key plus only_keys walked each object five
 * times. tree_clean already refused repeated keys. NULL: an unknown key. */
static const char *value_members(const cJSON *item, const cJSON *m[M_COUNT])
{
	static const char *const keys[M_COUNT] = { "group", "channel", "unit", "value" };
	const cJSON *c;
	int k;

	memset(m, 0, M_COUNT * sizeof *m);
	for (c = item->child; c != NULL; c = c->next) {
		switch (c->string[0]) {
		case 'g': k = M_GROUP; break;
		case 'c': k = M_CHANNEL; break;
		case 'u': k = M_UNIT; break;
		case 'v': k = M_VALUE; break;
		default: return c->string;
		}
		if (strcmp(c->string, keys[k]) != 0)
			return c->string;
		m[k] = c;
	}
	return NULL;
}

static const char *string_of(const cJSON *it)
{
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static snapshot_status parse_value(const cJSON *item, size_t i, snapshot_value *v, char *err, size_t errlen)
{
	const cJSON *m[M_COUNT];
	const char *unknown;

	if (!cJSON_IsObject(item)) {
		snprintf(err, errlen, "values[%zu] is not an object", i);
		return SNAPSHOT_SCHEMA;
	}
	if ((unknown = value_members(item, m)) != NULL) {
		snprintf(err, errlen, "values[%zu]: unknown key \"%.40s\"", i, unknown);
		return SNAPSHOT_SCHEMA;
	}
	v->group = string_of(m[M_GROUP]);
	v->channel = string_of(m[M_CHANNEL]);
	v->unit = m[M_UNIT] != NULL ? string_of(m[M_UNIT]) : "";
	if (v->group == NULL || !snapshot_text_valid(v->group, 1, SNAPSHOT_NAME_MAX) || v->channel == NULL ||
	    !snapshot_text_valid(v->channel, 1, SNAPSHOT_NAME_MAX)) {
		snprintf(err, errlen,
		         "values[%zu]: group and channel must be strings of 1..%d bytes without control characters", i,
		         SNAPSHOT_NAME_MAX);
		return SNAPSHOT_SCHEMA;
	}
	if (v->unit == NULL || !snapshot_text_valid(v->unit, 0, SNAPSHOT_UNIT_MAX)) {
		snprintf(err, errlen, "values[%zu]: unit must be a string of at most %d bytes", i, SNAPSHOT_UNIT_MAX);
		return SNAPSHOT_SCHEMA;
	}
	return parse_scalar(m[M_VALUE], i, v, err, errlen);
}

static snapshot_status parse_values(const cJSON *arr, size_t max_values, snapshot *out, char *err,
                                    size_t errlen)
{
	snapshot_value *sorted = NULL;
	const cJSON *item;
	snapshot_status st = SNAPSHOT_OK;
	size_t n, i = 0;

	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "\"values\" is missing or not an array");
		return SNAPSHOT_SCHEMA;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0) {
		snprintf(err, errlen, "\"values\" is empty");
		return SNAPSHOT_SCHEMA;
	}
	if (n > max_values) {
		snprintf(err, errlen, "%zu values, limit %zu", n, max_values);
		return SNAPSHOT_TOO_LARGE;
	}
	out->values = calloc(n, sizeof *out->values);
	sorted = calloc(n, sizeof *sorted);
	if (out->values == NULL || sorted == NULL) {
		snprintf(err, errlen, "out of memory for %zu values", n);
		st = SNAPSHOT_TOO_LARGE;
		goto out;
	}
	cJSON_ArrayForEach(item, arr) {
		st = parse_value(item, i, &out->values[i], err, errlen);
		if (st != SNAPSHOT_OK)
			goto out;
		i++;
	}
	out->n_values = n;
	memcpy(sorted, out->values, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, pair_cmp);
	for (i = 1; i < n; i++) {
		if (pair_cmp(&sorted[i - 1], &sorted[i]) == 0) {
			snprintf(err, errlen, "channel %.64s/%.64s appears twice", sorted[i].group, sorted[i].channel);
			st = SNAPSHOT_SCHEMA;
			goto out;
		}
	}
out:
	free(sorted);
	return st;
}

/* The compact form: values[i] is the value of the dictionary's channel i,
 * null when the device did not report it this time. */
static snapshot_status parse_compact_values(const cJSON *arr, const snapshot_dict *d, size_t max_values,
                                            snapshot *out, char *err, size_t errlen)
{
	const cJSON *item;
	snapshot_status st;
	size_t i = 0, n = 0;

	if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != d->n) {
		snprintf(err, errlen, "\"values\" is not an array of the dictionary's %zu entries", d->n);
		return SNAPSHOT_SCHEMA;
	}
	if ((out->values = calloc(d->n, sizeof *out->values)) == NULL) {
		snprintf(err, errlen, "out of memory for %zu values", d->n);
		return SNAPSHOT_TOO_LARGE;
	}
	cJSON_ArrayForEach(item, arr) {
		snapshot_value *v = &out->values[n];

		if (cJSON_IsNull(item)) {
			i++;
			continue;
		}
		if (n == max_values) {
			snprintf(err, errlen, "more than %zu values", max_values);
			return SNAPSHOT_TOO_LARGE;
		}
		if ((st = parse_scalar(item, i, v, err, errlen)) != SNAPSHOT_OK)
			return st;
		v->group = d->channels[i].group;
		v->channel = d->channels[i].channel;
		v->unit = d->channels[i].unit;
		n++;
		i++;
	}
	if (n == 0) {
		snprintf(err, errlen, "\"values\" holds no value");
		return SNAPSHOT_SCHEMA;
	}
	out->n_values = n;
	return SNAPSHOT_OK;
}

/* Which dictionary the snapshot names: known, and for its device type. */
static snapshot_status find_dictionary(const cJSON *root, const snapshot_dicts *dicts, snapshot *out,
                                       const snapshot_dict **d, char *err, size_t errlen)
{
	const char *digest = string_member(root, "dictionary");

	if (digest == NULL || !snapshot_text_valid(digest, 1, SNAPSHOT_NAME_MAX)) {
		snprintf(err, errlen, "\"dictionary\" is not a digest");
		return SNAPSHOT_SCHEMA;
	}
	out->dictionary = digest;
	*d = dicts != NULL ? snapshot_dicts_find(dicts, digest) : NULL;
	if (*d == NULL) {
		snprintf(err, errlen, "channel dictionary %.64s (device type %.64s) is not known here", digest,
		         out->device_type);
		return SNAPSHOT_UNKNOWN_DICTIONARY;
	}
	if (strcmp((*d)->device_type, out->device_type) != 0) {
		snprintf(err, errlen, "channel dictionary %.64s is for device type %.64s, the snapshot says %.64s",
		         digest, (*d)->device_type, out->device_type);
		return SNAPSHOT_UNKNOWN_DICTIONARY;
	}
	return SNAPSHOT_OK;
}

snapshot_status snapshot_parse(const char *json, size_t len, size_t max_values,
                               snapshot *out, char *err, size_t errlen)
{
	return snapshot_parse_dict(json, len, max_values, NULL, out, err, errlen);
}

snapshot_status snapshot_parse_dict(const char *json, size_t len, size_t max_values, const snapshot_dicts *dicts,
                                    snapshot *out, char *err, size_t errlen)
{
	static const char *const keys[] = { "equipment", "device_type", "taken_at", "seq", "values", "dictionary" };
	const snapshot_dict *dict = NULL;
	const char *end = NULL;
	cJSON *root;
	const cJSON *seq;
	snapshot_status st = SNAPSHOT_SCHEMA;
	size_t i;

	memset(out, 0, sizeof *out);
	if (!utf8_valid((const unsigned char *)json, len)) {
		snprintf(err, errlen, "payload is not valid UTF-8");
		return SNAPSHOT_BAD_JSON;
	}
	root = json_arena_parse(json, len, &end, &out->arena);
	if (root == NULL) {
		/* cJSON_GetErrorPtr() is a global shared by the worker threads: not used. */
		snprintf(err, errlen, "payload is not JSON");
		return SNAPSHOT_BAD_JSON;
	}
	out->tree = root;
	for (i = (size_t)(end - json); i < len; i++) {
		if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t') {
			snprintf(err, errlen, "bytes after the JSON value at byte %zu", i);
			st = SNAPSHOT_BAD_JSON;
			goto fail;
		}
	}
	if (!tree_clean(root, 0)) {
		snprintf(err, errlen, "repeated key, invalid UTF-8 in a string, or nested too deep");
		st = SNAPSHOT_BAD_JSON;
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "snapshot is not a JSON object");
		goto fail;
	}
	if (!only_keys(root, keys, 6, err, errlen, "snapshot"))
		goto fail;
	out->equipment = string_member(root, "equipment");
	if (out->equipment == NULL || !snapshot_topic_level_valid(out->equipment, strlen(out->equipment))) {
		snprintf(err, errlen, "\"equipment\" is missing or not a valid identifier");
		goto fail;
	}
	out->device_type = string_member(root, "device_type");
	if (out->device_type == NULL || !snapshot_text_valid(out->device_type, 1, SNAPSHOT_NAME_MAX)) {
		snprintf(err, errlen, "\"device_type\" is missing or not 1..%d bytes of text", SNAPSHOT_NAME_MAX);
		goto fail;
	}
	out->taken_at = string_member(root, "taken_at");
	if (out->taken_at == NULL || !snapshot_time_parse(out->taken_at, &out->taken_at_time)) {
		snprintf(err, errlen, "\"taken_at\" is missing or not YYYY-MM-DDTHH:MM:SSZ (UTC, 2000..2199)");
		goto fail;
	}
	seq = cJSON_GetObjectItemCaseSensitive(root, "seq");
	if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 || seq->valuedouble > SEQ_MAX ||
	    seq->valuedouble != floor(seq->valuedouble)) {
		snprintf(err, errlen, "\"seq\" is missing or not an integer in 0..2^53");
		goto fail;
	}
	out->seq = (long long)seq->valuedouble;
	if (cJSON_GetObjectItemCaseSensitive(root, "dictionary") == NULL)
		st = parse_values(cJSON_GetObjectItemCaseSensitive(root, "values"), max_values, out, err, errlen);
	else if ((st = find_dictionary(root, dicts, out, &dict, err, errlen)) == SNAPSHOT_OK)
		st = parse_compact_values(cJSON_GetObjectItemCaseSensitive(root, "values"), dict, max_values, out,
		                          err, errlen);
	if (st != SNAPSHOT_OK)
		goto fail;
	return SNAPSHOT_OK;
fail:
	snapshot_free(out);
	return st;
}

void snapshot_free(snapshot *s)
{
	if (s == NULL)
		return;
	free(s->values);
	json_arena_release(s->tree, s->arena);
	memset(s, 0, sizeof *s);
}
