/* Binary COPY rows of t_snapshot_values; contract in snapshot_copy.h. */
#include "services/snapshotd/snapshot_copy.h"

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char snapshot_copy_sql[] =
	"COPY t_snapshot_values (snapshot_id, taken_at, channel_id, value_num, value_text) FROM STDIN (FORMAT binary)";

/* "PGCOPY\n\377\r\n\0", flags (no OIDs), header extension length 0. */
static const unsigned char copy_header[19] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
	                                       0, 0, 0, 0, 0, 0, 0, 0 };

static unsigned char *reserve(copy_rows *c, size_t more)
{
	unsigned char *p;
	size_t cap;

	if (c->failed)
		return NULL;
	if (c->len + more > c->cap) {
		cap = c->cap ? c->cap : 65536;
		while (cap < c->len + more)
			cap *= 2;
		if ((p = realloc(c->buf, cap)) == NULL) {
			c->failed = 1;
			return NULL;
		}
		c->buf = p;
		c->cap = cap;
	}
	p = c->buf + c->len;
	c->len += more;
	return p;
}

static void put16(copy_rows *c, int16_t v)
{
	uint16_t be = htobe16((uint16_t)v);
	unsigned char *p = reserve(c, 2);

	if (p != NULL)
		memcpy(p, &be, 2);
}

static void put32(copy_rows *c, int32_t v)
{
	uint32_t be = htobe32((uint32_t)v);
	unsigned char *p = reserve(c, 4);

	if (p != NULL)
		memcpy(p, &be, 4);
}

static void put64(copy_rows *c, uint64_t v)
{
	uint64_t be = htobe64(v);
	unsigned char *p = reserve(c, 8);

	if (p != NULL)
		memcpy(p, &be, 8);
}

/* A field: its length, then its bytes; -1 and nothing for NULL. */
static void field64(copy_rows *c, uint64_t v)
{
	put32(c, 8);
	put64(c, v);
}

static void field_text(copy_rows *c, const char *s)
{
	size_t n = strlen(s);
	unsigned char *p;

	put32(c, (int32_t)n);
	if ((p = reserve(c, n)) != NULL)
		memcpy(p, s, n);
}

void copy_rows_begin(copy_rows *c)
{
	unsigned char *p;

	memset(c, 0, sizeof *c);
	if ((p = reserve(c, sizeof copy_header)) != NULL)
		memcpy(p, copy_header, sizeof copy_header);
}

void copy_rows_add(copy_rows *c, long long snapshot_id, long long taken_at_us, const int *channel_ids,
                   const snapshot *snap)
{
	uint64_t bits;
	size_t i;

	for (i = 0; i < snap->n_values; i++) {
		const snapshot_value *v = &snap->values[i];

		put16(c, 5);
		field64(c, (uint64_t)snapshot_id);
		field64(c, (uint64_t)taken_at_us);
		put32(c, 4);
		put32(c, channel_ids[i]);
		if (v->is_text) {
			put32(c, -1);
			field_text(c, v->text);
		} else {
			memcpy(&bits, &v->num, sizeof bits);
			field64(c, bits);
			put32(c, -1);
		}
		c->rows++;
	}
}

void copy_rows_end(copy_rows *c)
{
	put16(c, -1);
}

void copy_rows_free(copy_rows *c)
{
	free(c->buf);
	memset(c, 0, sizeof *c);
}
