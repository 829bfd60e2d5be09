#include "tests/bench/load_msg.h"

#include <string.h>
#include <time.h>

static const unsigned char magic[8] = { 'S', 'M', 'S', 'L', 'O', 'A', 'D', '1' };

int64_t load_msg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

void load_msg_stamp(unsigned char *buf, const struct load_msg_stamp *s)
{
	memcpy(buf, magic, sizeof magic);
	put_be(buf + 8, s->step, 4);
	put_be(buf + 12, s->device, 4);
	put_be(buf + 16, s->seq, 8);
	put_be(buf + 24, (uint64_t)s->sent_ns, 8);
}

int load_msg_read(const void *payload, size_t len, struct load_msg_stamp *s)
{
	const unsigned char *p = payload;

	if (len < LOAD_MSG_STAMP_LEN || memcmp(p, magic, sizeof magic) != 0)
		return -1;
	s->step = (uint32_t)get_be(p + 8, 4);
	s->device = (uint32_t)get_be(p + 12, 4);
	s->seq = get_be(p + 16, 8);
	s->sent_ns = (int64_t)get_be(p + 24, 8);
	return 0;
}
