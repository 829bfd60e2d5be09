/* Firmware identifiers; contract in fw_release_id.h. */
#include "common/fw_release_id.h"

#include <stdio.h>
#include <string.h>

static bool package_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '-');
}

bool fw_package_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > FW_PACKAGE_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!package_char(s[i], i == 0))
			return false;
	return true;
}

bool fw_version_valid(long long v)
{
	return v >= 1 && v <= FW_VERSION_MAX;
}

bool fw_hardware_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > FW_HARDWARE_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/' || s[i] == '+' || s[i] == '#')
			return false;
	return true;
}

int fw_release_id(const char *package, long long version, char *buf, size_t len)
{
	int n;

	if (!fw_package_valid(package) || !fw_version_valid(version))
		return -1;
	n = snprintf(buf, len, "%s-%lld", package, version);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int fw_release_parse(const char *release, char package[FW_PACKAGE_MAX + 1], long long *version)
{
	const char *dash = strrchr(release, '-'), *p;
	char again[FW_RELEASE_MAX];
	long long v = 0;
	size_t plen;

	if (dash == NULL || dash[1] == '\0' || dash[1] == '0')
		return -1;
	for (p = dash + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (FW_VERSION_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	plen = (size_t)(dash - release);
	if (plen == 0 || plen > FW_PACKAGE_MAX)
		return -1;
	memcpy(package, release, plen);
	package[plen] = '\0';
	/* Round trip: one spelling per release. */
	if (fw_release_id(package, v, again, sizeof again) != 0 || strcmp(again, release) != 0)
		return -1;
	*version = v;
	return 0;
}
