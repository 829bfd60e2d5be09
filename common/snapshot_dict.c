/* Channel dictionaries and the compact snapshot form; contract in snapshot_dict.h. */
#include "common/snapshot_dict.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include <openssl/sha.h>

#include "common/utf8.h"

static int name_cmp(const char *g1, const char *c1, const char *g2, const char *c2)
{
	int c = strcmp(g1, g2);

	return c != 0 ? c : strcmp(c1, c2);
}

static int index_cmp(const void *a, const void *b)
{
	const snapshot_dict_channel *x = *(const snapshot_dict_channel *const *)a;
	const snapshot_dict_channel *y = *(const snapshot_dict_channel *const *)b;

	return name_cmp(x->group, x->channel, y->group, y->channel);
}

static int parse_channel(const cJSON *item, size_t i, snapshot_dict_channel *ch, char *err, size_t errlen)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(item, "group");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(item, "channel");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(item, "unit");
	int n_keys = cJSON_GetArraySize(item);

	if (!cJSON_IsObject(item) || !cJSON_IsString(g) || !cJSON_IsString(c) || (u != NULL && !cJSON_IsString(u)) ||
	    n_keys != 2 + (u != NULL) || !snapshot_text_valid(g->valuestring, 1, SNAPSHOT_NAME_MAX) ||
	    !snapshot_text_valid(c->valuestring, 1, SNAPSHOT_NAME_MAX) ||
	    (u != NULL && !snapshot_text_valid(u->valuestring, 0, SNAPSHOT_UNIT_MAX)) ||
	    !utf8_valid((const unsigned char *)g->valuestring, strlen(g->valuestring)) ||
	    !utf8_valid((const unsigned char *)c->valuestring, strlen(c->valuestring)) ||
	    (u != NULL && !utf8_valid((const unsigned char *)u->valuestring, strlen(u->valuestring)))) {
		snprintf(err, errlen, "channels[%zu] is not {group, channel[, unit]} with valid names", i);
		return -1;
	}
	ch->group = g->valuestring;
	ch->channel = c->valuestring;
	ch->unit = u != NULL ? u->valuestring : "";
	return 0;
}

static int parse_channels(const cJSON *arr, snapshot_dict *d, char *err, size_t errlen)
{
	const cJSON *item;
	size_t i = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(arr) > SNAPSHOT_DICT_MAX) {
		snprintf(err, errlen, "\"channels\" is not an array of 1..%d channels", SNAPSHOT_DICT_MAX);
		return -1;
	}
	d->n = (size_t)cJSON_GetArraySize(arr);
	if ((d->channels = calloc(d->n, sizeof *d->channels)) == NULL ||
	    (d->by_name = calloc(d->n, sizeof *d->by_name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(item, arr) {
		if (parse_channel(item, i, &d->channels[i], err, errlen) != 0)
			return -1;
		d->by_name[i] = &d->channels[i];
		i++;
	}
	qsort(d->by_name, d->n, sizeof *d->by_name, index_cmp);
	for (i = 1; i < d->n; i++) {
		const snapshot_dict_channel *a = d->by_name[i - 1], *b = d->by_name[i];
		if (name_cmp(a->group, a->channel, b->group, b->channel) == 0) {
			snprintf(err, errlen, "channel %.64s/%.64s is listed twice", b->group, b->channel);
			return -1;
		}
	}
	return 0;
}

int snapshot_dict_parse(const char *buf, size_t len, snapshot_dict **out, char *err, size_t errlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	const cJSON *type, *version;
	snapshot_dict *d;
	int i;

	*out = NULL;
	if ((d = calloc(1, sizeof *d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	SHA256((const unsigned char *)buf, len, md);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(d->digest + 2 * i, 3, "%02x", md[i]);
	if ((d->tree = cJSON_ParseWithLength(buf, len)) == NULL || !cJSON_IsObject((cJSON *)d->tree)) {
		snprintf(err, errlen, "not a JSON object");
		goto fail;
	}
	type = cJSON_GetObjectItemCaseSensitive(d->tree, "device_type");
	version = cJSON_GetObjectItemCaseSensitive(d->tree, "version");
	if (cJSON_GetArraySize(d->tree) != 3 || !cJSON_IsString(type) ||
	    !snapshot_text_valid(type->valuestring, 1, SNAPSHOT_NAME_MAX) || !cJSON_IsNumber(version) ||
	    version->valuedouble < 0 || version->valuedouble > 1e15 ||
	    version->valuedouble != (double)(long long)version->valuedouble) {
		snprintf(err, errlen, "needs exactly \"device_type\" (text), \"version\" (integer) and \"channels\"");
		goto fail;
	}
	d->device_type = type->valuestring;
	d->version = (long long)version->valuedouble;
	if (parse_channels(cJSON_GetObjectItemCaseSensitive(d->tree, "channels"), d, err, errlen) != 0)
		goto fail;
	*out = d;
	return 0;
fail:
	snapshot_dict_free(d);
	return -1;
}

int snapshot_dict_load(const char *path, snapshot_dict **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, e[200];
	size_t len;
	int rc = -1;

	*out = NULL;
	if (f == NULL) {
		snprintf(err, errlen, "channel dictionary %s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(SNAPSHOT_DICT_FILE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "channel dictionary %s: out of memory", path);
		goto out;
	}
	len = fread(buf, 1, SNAPSHOT_DICT_FILE_MAX + 1, f);
	if (ferror(f) || len > SNAPSHOT_DICT_FILE_MAX) {
		snprintf(err, errlen, "channel dictionary %s: unreadable or over %d bytes", path, SNAPSHOT_DICT_FILE_MAX);
		goto out;
	}
	if (snapshot_dict_parse(buf, len, out, e, sizeof e) != 0) {
		snprintf(err, errlen, "channel dictionary %s: %s", path, e);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

void snapshot_dict_free(snapshot_dict *d)
{
	if (d == NULL)
		return;
	free(d->channels);
	free(d->by_name);
	cJSON_Delete(d->tree);
	free(d);
}

/* Index of (group, channel) in d, or -1. */
static long dict_index(const snapshot_dict *d, const char *group, const char *channel)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const snapshot_dict_channel *c = d->by_name[mid];
		int r = name_cmp(group, channel, c->group, c->channel);

		if (r == 0)
			return (long)(c - d->channels);
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static cJSON *value_json(const snapshot_value *v)
{
	return v->is_text ? cJSON_CreateString(v->text) : cJSON_CreateNumber(v->num);
}

int snapshot_dict_compact(const snapshot_dict *d, const snapshot *s, char **json, char *err, size_t errlen)
{
	cJSON *root = NULL, *vals, **slot = NULL;
	size_t i;
	int rc = -1;

	*json = NULL;
	if (strcmp(d->device_type, s->device_type) != 0) {
		snprintf(err, errlen, "dictionary is for device type %.64s, snapshot is %.64s", d->device_type,
		         s->device_type);
		return -1;
	}
	if ((slot = calloc(d->n, sizeof *slot)) == NULL)
		goto oom;
	for (i = 0; i < s->n_values; i++) {
		const snapshot_value *v = &s->values[i];
		long k = dict_index(d, v->group, v->channel);

		if (k < 0 || strcmp(d->channels[k].unit, v->unit) != 0) {
			snprintf(err, errlen, "channel %.64s/%.64s (unit \"%.32s\") is not in the dictionary", v->group,
			         v->channel, v->unit);
			goto out;
		}
		if ((slot[k] = value_json(v)) == NULL)
			goto oom;
	}
	if ((root = cJSON_CreateObject()) == NULL || !cJSON_AddStringToObject(root, "equipment", s->equipment) ||
	    !cJSON_AddStringToObject(root, "device_type", s->device_type) ||
	    !cJSON_AddStringToObject(root, "taken_at", s->taken_at) ||
	    !cJSON_AddNumberToObject(root, "seq", (double)s->seq) ||
	    !cJSON_AddStringToObject(root, "dictionary", d->digest) ||
	    (vals = cJSON_AddArrayToObject(root, "values")) == NULL)
		goto oom;
	for (i = 0; i < d->n; i++) {
		cJSON *v = slot[i] != NULL ? slot[i] : cJSON_CreateNull();

		slot[i] = NULL;
		if (v == NULL || !cJSON_AddItemToArray(vals, v)) {
			cJSON_Delete(v);
			goto oom;
		}
	}
	if ((*json = cJSON_PrintUnformatted(root)) == NULL)
		goto oom;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (slot != NULL)
		for (i = 0; i < d->n; i++)
			cJSON_Delete(slot[i]);
	free(slot);
	cJSON_Delete(root);
	return rc;
}

static int json_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

int snapshot_dicts_load_dir(const char *dir, snapshot_dicts **out, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	snapshot_dicts *set;
	char path[4096];
	int n, i, rc = -1;

	*out = NULL;
	if ((set = calloc(1, sizeof *set)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((n = scandir(dir, &names, json_file, alphasort)) < 0) {
		snprintf(err, errlen, "channel dictionaries %s: %s", dir, strerror(errno));
		goto out;
	}
	if (n > 0 && (set->d = calloc((size_t)n, sizeof *set->d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (snapshot_dict_load(path, &set->d[set->n], err, errlen) != 0)
			goto out;
		set->n++;
	}
	*out = set;
	set = NULL;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	snapshot_dicts_free(set);
	return rc;
}

int snapshot_dicts_load_file(const char *path, snapshot_dicts **out, char *err, size_t errlen)
{
	snapshot_dicts *set = calloc(1, sizeof *set);

	*out = NULL;
	if (set == NULL || (set->d = calloc(1, sizeof *set->d)) == NULL) {
		snprintf(err, errlen, "out of memory");
		snapshot_dicts_free(set);
		return -1;
	}
	if (snapshot_dict_load(path, &set->d[0], err, errlen) != 0) {
		snapshot_dicts_free(set);
		return -1;
	}
	set->n = 1;
	*out = set;
	return 0;
}

const snapshot_dict *snapshot_dicts_find(const snapshot_dicts *set, const char *digest)
{
	size_t i;

	for (i = 0; set != NULL && i < set->n; i++)
		if (strcmp(set->d[i]->digest, digest) == 0)
			return set->d[i];
	return NULL;
}

void snapshot_dicts_free(snapshot_dicts *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		snapshot_dict_free(set->d[i]);
	free(set->d);
	free(set);
}
