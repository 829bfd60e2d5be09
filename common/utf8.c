#include "common/utf8.h"

int utf8_decode(const unsigned char *s, size_t len, size_t *i, unsigned long *cp)
{
	unsigned c = s[*i];
	unsigned long v;
	size_t n, k;

	if (c < 0x80) {
		*cp = c;
		*i += 1;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1; v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2; v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3; v = c & 0x07;
	} else {
		return 0;
	}
	if (len - *i <= n)
		return 0;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[*i + k] & 0x3f);
	}
	if ((n == 2 && v < 0x800) || (n == 3 && v < 0x10000) || v > 0x10ffff)
		return 0;
	if (v >= 0xd800 && v <= 0xdfff)
		return 0;
	*cp = v;
	*i += n + 1;
	return 1;
}

int utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	unsigned long cp;

	/* ASCII, nearly all of a snapshot, without a call per byte. */
	while (i < len) {
		if (s[i] < 0x80)
			i++;
		else if (!utf8_decode(s, len, &i, &cp))
			return 0;
	}
	return 1;
}
