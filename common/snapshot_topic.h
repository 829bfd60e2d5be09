/*
 * Snapshot topics: "<master>/<account>/<equipment>/snapshots" (DESIGN.md
 * "Topic tree"). Exactly four levels, the last one "snapshots"; each of the
 * first three is an identifier (common/ident_grammar.h), the grammar
 * identity_from_subject enforces, so a topic that parses can be compared
 * with a certificate identity byte for byte.
 */
#ifndef SMS_SNAPSHOT_TOPIC_H
#define SMS_SNAPSHOT_TOPIC_H

#include <stddef.h>

#include "common/ident_grammar.h"

#define TOPIC_LEVEL_MAX IDENT_MAX

typedef struct {
	char master[TOPIC_LEVEL_MAX + 1];
	char account[TOPIC_LEVEL_MAX + 1];
	char equipment[TOPIC_LEVEL_MAX + 1];
} snapshot_topic;

/* 0 and *out filled, or -1 with the reason in err. */
int snapshot_topic_parse(const char *topic, snapshot_topic *out, char *err, size_t errlen);

/* 1 when the len bytes at s are an identifier (ident_valid), else 0. */
int snapshot_topic_level_valid(const char *s, size_t len);

#endif
