/*
 * Channel dictionaries: per device type, the ordered channels (group,
 * channel, unit) that a compact snapshot's values refer to by position, so
 * values travel without their names (common/snapshot_json.h). A dictionary
 * is a versioned JSON file that the device and every decoder hold:
 *   {"device_type":"FM","version":1,
 *    "channels":[{"group":"engine","channel":"operating_hours","unit":"h"},...]}
 * (unit optional, names as in the snapshot schema, (group, channel) unique,
 * 1..SNAPSHOT_DICT_MAX channels). Its name is the SHA-256 of the file's
 * bytes in lowercase hex: any edit is a new dictionary, and a decoder never
 * maps values by a dictionary it does not hold byte for byte.
 */
#ifndef SMS_SNAPSHOT_DICT_H
#define SMS_SNAPSHOT_DICT_H

#include <stddef.h>

#include "common/snapshot_json.h"

#define SNAPSHOT_DICT_MAX 65536
#define SNAPSHOT_DICT_FILE_MAX (8 * 1024 * 1024)

typedef struct {
	const char *group, *channel, *unit; /* unit "" when absent */
} snapshot_dict_channel;

typedef struct {
	char digest[65];
	const char *device_type;
	long long version;
	snapshot_dict_channel *channels;
	size_t n;
	const snapshot_dict_channel **by_name; /* the channels sorted by (group, channel) */
	void *tree;         /* cJSON root, owns the strings */
} snapshot_dict;

/* A dictionary from the bytes of its file; 0, or -1 with err. */
int snapshot_dict_parse(const char *buf, size_t len, snapshot_dict **out, char *err, size_t errlen);
int snapshot_dict_load(const char *path, snapshot_dict **out, char *err, size_t errlen);
void snapshot_dict_free(snapshot_dict *d);

/* The compact JSON of s by d: -1 with err when s is of another device type
 * or has a channel (or unit) d does not list, so the sender keeps the full
 * form. *json is malloc'd. */
int snapshot_dict_compact(const snapshot_dict *d, const snapshot *s, char **json, char *err, size_t errlen);

/* The dictionaries a decoder holds: every *.json file of a directory. */
struct snapshot_dicts {
	snapshot_dict **d;
	size_t n;
};
int snapshot_dicts_load_dir(const char *dir, snapshot_dicts **out, char *err, size_t errlen);
/* A set of the one dictionary in path (a device holds its own). */
int snapshot_dicts_load_file(const char *path, snapshot_dicts **out, char *err, size_t errlen);
const snapshot_dict *snapshot_dicts_find(const snapshot_dicts *set, const char *digest);
void snapshot_dicts_free(snapshot_dicts *set);

#endif
