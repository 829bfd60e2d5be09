/* sms-firmware's value parsers; contract in firmware_cli.h. */
#include "services/firmware/firmware_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/snapshot_json.h"

static int whole_number(const char *s, long long lo, long long hi, long long *out, char **end)
{
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, end, 10);
	if (errno != 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int firmware_parse_time(const char *s, time_t now, time_t *out)
{
	char full[32];
	long long n;
	char *end;

	if (s[0] == '+') {
		if (whole_number(s + 1, 1, 100LL * 365 * 86400, &n, &end) != 0 || end[0] == '\0' || end[1] != '\0')
			return -1;
		switch (*end) {
		case 's': break;
		case 'm': n *= 60; break;
		case 'h': n *= 3600; break;
		case 'd': n *= 86400; break;
		default: return -1;
		}
		*out = now + (time_t)n;
		return 0;
	}
	if (strlen(s) == 10) {
		snprintf(full, sizeof full, "%sT00:00:00Z", s);
		s = full;
	}
	return snapshot_time_parse(s, out) ? 0 : -1;
}

int firmware_parse_rate(const char *s, int *per_min)
{
	long long n;
	char *end;

	if (whole_number(s, 1, 1000000, &n, &end) != 0 || (*end != '\0' && strcmp(end, "/min") != 0))
		return -1;
	*per_min = (int)n;
	return 0;
}

int firmware_parse_percent(const char *s, int *hundredths)
{
	long long whole, frac = 0;
	char *end;
	size_t digits;

	if (whole_number(s, 0, 100, &whole, &end) != 0)
		return -1;
	if (*end == '.') {
		const char *f = end + 1;
		if (whole_number(f, 0, 99, &frac, &end) != 0)
			return -1;
		digits = (size_t)(end - f);
		if (digits == 0 || digits > 2)
			return -1;
		if (digits == 1)
			frac *= 10;
	}
	if ((*end != '\0' && strcmp(end, "%") != 0) || whole * 100 + frac > 10000)
		return -1;
	*hundredths = (int)(whole * 100 + frac);
	return 0;
}

int firmware_parse_phases(const char *s, int *phases, size_t *n)
{
	const char *p = s;
	long long v;
	char *end;

	*n = 0;
	for (;;) {
		if (*n == FIRMWARE_MAX_PHASES || whole_number(p, 1, 100, &v, &end) != 0)
			return -1;
		if (*end == '%')
			end++;
		if (*n > 0 && v <= phases[*n - 1])
			return -1;
		phases[(*n)++] = (int)v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
	return phases[*n - 1] == 100 ? 0 : -1;
}
