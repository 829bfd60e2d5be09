/*
 * libFuzzer target for the snapshot plaintext parser (common/snapshot_json):
 * whatever a device encrypts reaches it after decryption, so it must refuse
 * anything malformed with a reason and never crash or leak. The seed corpus
 * (tests/fuzz/corpus/snapshot_json) holds a valid snapshot and near misses,
 * and compact snapshots by the channel dictionary below (common/snapshot_dict.h),
 * which the parser holds as a decoder would.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/snapshot_dict.h"
#include "common/snapshot_json.h"

/* Its SHA-256 names it in the seeds (compact-*.json). */
static const char dictionary[] =
	"{\"device_type\":\"FM\",\"version\":1,\"channels\":[{\"group\":\"engine\",\"channel\":\"operating_hours\",\"unit\":\"h\"},{\"group\":\"filter\",\"channel\":\"state\"},{\"group\":\"engine\",\"channel\":\"rpm\",\"unit\":\"1/min\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static snapshot_dict *dict;
	static snapshot_dict *one[1];
	static snapshot_dicts set = { one, 1 };
	snapshot s;
	char err[256];
	size_t i;

	if (dict == NULL) {
		if (snapshot_dict_parse(dictionary, strlen(dictionary), &dict, err, sizeof(err)) != 0)
			__builtin_trap();
		one[0] = dict;
	}
	err[0] = '\0';
	if (snapshot_parse_dict((const char *)data, size, 50, &set, &s, err, sizeof(err)) != SNAPSHOT_OK) {
		/* A refusal always says why. */
		if (err[0] == '\0')
			__builtin_trap();
		return 0;
	}
	/* Touch what the services read, so a dangling pointer shows up here. */
	for (i = 0; i < s.n_values; i++)
		if (strlen(s.values[i].group) == 0 || strlen(s.values[i].channel) == 0)
			__builtin_trap();
	if (strlen(s.equipment) == 0 || strlen(s.device_type) == 0 || strlen(s.taken_at) == 0)
		__builtin_trap();
	snapshot_free(&s);
	return 0;
}
