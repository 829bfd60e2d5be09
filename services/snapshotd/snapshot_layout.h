/*
 * Channel layouts on the client side (sql/007_ingest_by_copy.sql).
 *
 * A layout is a snapshot's ordered list of (group, channel, unit); its
 * digest is SHA-256 of "group\nchannel\nunit\n" per value, the same bytes
 * sms_layout_digest() hashes in SQL. Unambiguous because names and units
 * never hold control characters (snapshot_json.h refuses them).
 *
 * layout_set remembers which (device type, digest) pairs this database
 * connection has seen recorded in t_channel_layout, so each is sent as
 * names once and by digest afterwards. It holds no channel ids: those come
 * from the database with every snapshot. Bounded; the oldest entry goes.
 */
#ifndef SMS_SNAPSHOT_LAYOUT_H
#define SMS_SNAPSHOT_LAYOUT_H

#include <stddef.h>

#include "common/snapshot_json.h"

#define LAYOUT_DIGEST_LEN 32

/* 0, or -1 when OpenSSL fails. */
int snapshot_layout_digest(const snapshot *snap, unsigned char out[LAYOUT_DIGEST_LEN]);

typedef struct layout_set layout_set;

layout_set *layout_set_new(size_t max);
void layout_set_free(layout_set *set);
int layout_set_has(const layout_set *set, const char *device_type, const unsigned char digest[LAYOUT_DIGEST_LEN]);
/* -1 when out of memory (the set is unchanged). */
int layout_set_add(layout_set *set, const char *device_type, const unsigned char digest[LAYOUT_DIGEST_LEN]);
void layout_set_clear(layout_set *set);

#endif
