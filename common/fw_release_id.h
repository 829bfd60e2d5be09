/*
 * Firmware identifiers (docs/firmware.md "Identifiers"):
 *   package  [a-z0-9][a-z0-9._-]{0,47}
 *   version  an integer 1 .. 2^53-1, monotonic per package (SUIT sequence
 *            number)
 *   release  "<package>-<version>", version in decimal without leading
 *            zeros; it is also the topic level under sms/firmware/
 *   hardware a device type as in the snapshot JSON: 1..64 bytes, printable
 *            ASCII without '/', '+', '#' (it is compared, never a topic)
 * One spelling per identifier: parsing refuses anything fw_release_id
 * would not have produced. Pure functions, no global state.
 */
#ifndef SMS_FW_RELEASE_ID_H
#define SMS_FW_RELEASE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define FW_PACKAGE_MAX 48
#define FW_VERSION_MAX 9007199254740991LL
/* package, '-', 16 digits, NUL */
#define FW_RELEASE_MAX (FW_PACKAGE_MAX + 1 + 16 + 1)
#define FW_HARDWARE_MAX 64

bool fw_package_valid(const char *s);
bool fw_version_valid(long long v);
bool fw_hardware_valid(const char *s);

/* "<package>-<version>" into buf; 0, or -1 when either is invalid or buf too short. */
int fw_release_id(const char *package, long long version, char *buf, size_t len);

/* The package and version of a release id: 0, or -1 when it is not one. */
int fw_release_parse(const char *release, char package[FW_PACKAGE_MAX + 1], long long *version);

#endif
