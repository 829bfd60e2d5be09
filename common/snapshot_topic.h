/*
 * Snapshot topics: "<master>/<account>/<equipment>/snapshots" (DESIGN.md
 * "Topic tree"). Exactly four levels, the last one "snapshots"; each of the
 * first three is 1..64 bytes of printable ASCII without '/', '+', '#', '$'
 * or spaces, the same alphabet identity_from_subject accepts, so a topic that
 * parses can be compared with a certificate identity byte for byte.
 */
#ifndef SMS_SNAPSHOT_TOPIC_H
#define SMS_SNAPSHOT_TOPIC_H

#include <stddef.h>

#define TOPIC_LEVEL_MAX 64

typedef struct {
	char master[TOPIC_LEVEL_MAX + 1];
	char account[TOPIC_LEVEL_MAX + 1];
	char equipment[TOPIC_LEVEL_MAX + 1];
} snapshot_topic;

/* 0 and *out filled, or -1 with the reason in err. */
int snapshot_topic_parse(const char *topic, snapshot_topic *out, char *err, size_t errlen);

/* 1 when s is a valid identifier level (see above), else 0. */
int snapshot_topic_level_valid(const char *s, size_t len);

#endif
