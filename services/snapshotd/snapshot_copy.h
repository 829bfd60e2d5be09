/*
 * The value rows of stored snapshots in PostgreSQL's binary COPY format
 * (PostgreSQL docs, "COPY", "Binary Format"), for
 *   COPY t_snapshot_values (snapshot_id, taken_at, channel_id, value_num,
 *                           value_text) FROM STDIN (FORMAT binary)
 * Binary, so a double travels as its eight bytes: no printf/strtod round
 * trip on either side, and nothing in a text value can be read as syntax.
 *
 * copy_rows_begin writes the header, copy_rows_add one snapshot's rows
 * (channel_ids[i] is the id of snap->values[i]), copy_rows_end the trailer.
 * Out of memory sets failed; the buffer is then not to be sent.
 */
#ifndef SMS_SNAPSHOT_COPY_H
#define SMS_SNAPSHOT_COPY_H

#include <stddef.h>

#include "common/snapshot_json.h"

extern const char snapshot_copy_sql[];

typedef struct {
	unsigned char *buf;
	size_t len, cap;
	int failed;
	size_t rows;
} copy_rows;

void copy_rows_begin(copy_rows *c);
/* taken_at_us: microseconds since 2000-01-01 00:00:00 UTC. */
void copy_rows_add(copy_rows *c, long long snapshot_id, long long taken_at_us, const int *channel_ids,
                   const snapshot *snap);
void copy_rows_end(copy_rows *c);
void copy_rows_free(copy_rows *c);

#endif
