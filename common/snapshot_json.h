/*
 * Snapshot plaintext (DESIGN.md "Snapshot plaintext"), parsed with cJSON and
 * validated against a closed schema:
 *   equipment    identifier (snapshot_topic_level_valid)
 *   device_type  1..64 bytes UTF-8, no control characters
 *   taken_at     "YYYY-MM-DDTHH:MM:SS[.fraction]Z", years 2000..2199
 *   seq          integer 0..2^53
 *   values       1..max_values objects {group, channel, [unit], value}:
 *                group/channel 1..64, unit 0..32 bytes UTF-8 without control
 *                characters; value a finite number, a string of at most 256
 *                bytes or a boolean (stored as text "true"/"false");
 *                (group, channel) unique within the snapshot.
 * Unknown or repeated keys, trailing bytes and invalid UTF-8 are refused.
 * The compact form (common/snapshot_dict.h) has "dictionary": the digest of
 * a channel dictionary for device_type, and "values": one bare value (or
 * null: not reported) per dictionary channel, in its order; it parses into
 * the same snapshot as the full form. A digest the decoder does not hold is
 * SNAPSHOT_UNKNOWN_DICTIONARY, never a guess.
 * The parsed strings point into the cJSON tree owned by the snapshot.
 */
#ifndef SMS_SNAPSHOT_JSON_H
#define SMS_SNAPSHOT_JSON_H

#include <stddef.h>
#include <time.h>

#define SNAPSHOT_NAME_MAX 64
#define SNAPSHOT_UNIT_MAX 32
#define SNAPSHOT_TEXT_MAX 256

typedef enum {
	SNAPSHOT_OK = 0,
	SNAPSHOT_BAD_JSON,    /* not JSON, or bytes after it, or invalid UTF-8 */
	SNAPSHOT_SCHEMA,      /* JSON, but not a valid snapshot */
	SNAPSHOT_TOO_LARGE,   /* more values than allowed */
	SNAPSHOT_UNKNOWN_DICTIONARY /* compact form naming a dictionary not held (or of another type) */
} snapshot_status;

typedef struct snapshot_dicts snapshot_dicts;
struct json_arena;

typedef struct {
	const char *group;
	const char *channel;
	const char *unit;        /* "" when absent */
	int is_text;
	double num;              /* when !is_text */
	const char *text;        /* when is_text */
} snapshot_value;

typedef struct {
	const char *equipment;
	const char *device_type;
	const char *taken_at;    /* as sent; PostgreSQL parses it again */
	time_t taken_at_time;
	long long seq;
	const char *dictionary;  /* the compact form's dictionary digest, NULL for the full form */
	snapshot_value *values;
	size_t n_values;
	void *tree;              /* cJSON root, owns the strings */
	struct json_arena *arena; /* the tree's memory (json_arena.h), NULL: cJSON's */
} snapshot;

/* Stable reason code for dead letters: "bad_json", "schema", "too_large",
 * "unknown_dictionary". */
const char *snapshot_status_name(snapshot_status st);

/* Parses json[0..len). On success *out must be released with snapshot_free;
 * on failure *out is empty and err holds the reason. */
snapshot_status snapshot_parse(const char *json, size_t len, size_t max_values,
                               snapshot *out, char *err, size_t errlen);

/* The same for both forms: dicts (may be NULL: full form only) must outlive
 * *out, whose names then point into the dictionary. */
snapshot_status snapshot_parse_dict(const char *json, size_t len, size_t max_values, const snapshot_dicts *dicts,
                                    snapshot *out, char *err, size_t errlen);

void snapshot_free(snapshot *s);

/* s is min..max bytes without control characters (names, units, types). */
int snapshot_text_valid(const char *s, size_t min, size_t max);

/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z", years 2000..2199, a real calendar
 * date -> UTC time_t: 1, or 0 when s is not such a time. */
int snapshot_time_parse(const char *s, time_t *out);

#endif
