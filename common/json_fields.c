/* Strict closed JSON objects; contract in json_fields.h. */
#include "common/json_fields.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/errf.h"
#include "common/snapshot_json.h"
#include "common/utf8.h"

cJSON *json_fields_parse(const char *buf, size_t len, const char *label, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);

	if (root == NULL || end != buf + len || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		errf(err, errlen, "%s: not one JSON object", label);
		return NULL;
	}
	return root;
}

int json_fields_collect(const cJSON *obj, const char *const *keys, size_t n_keys, const cJSON **seen,
                        const char *label, char *err, size_t errlen)
{
	const cJSON *c;
	size_t k;

	memset(seen, 0, n_keys * sizeof *seen);
	for (c = obj->child; c != NULL; c = c->next) {
		for (k = 0; k < n_keys && strcmp(c->string, keys[k]) != 0; k++)
			;
		if (k == n_keys)
			return errf(err, errlen, "%s: unknown key", label);
		if (seen[k] != NULL)
			return errf(err, errlen, "%s: key %s repeated", label, keys[k]);
		seen[k] = c;
	}
	return 0;
}

int json_fields_string(const cJSON *v, const char *key, size_t max, const char **out, const char *label, char *err,
                       size_t errlen)
{
	size_t n, i;

	if (!cJSON_IsString(v))
		return errf(err, errlen, "%s: %s must be a string", label, key);
	n = strlen(v->valuestring);
	if (n == 0 || n > max || !utf8_valid((const unsigned char *)v->valuestring, n))
		return errf(err, errlen, "%s: %s must be 1..%zu bytes of UTF-8", label, key, max);
	for (i = 0; i < n; i++)
		if ((unsigned char)v->valuestring[i] < 0x20 || v->valuestring[i] == 0x7f)
			return errf(err, errlen, "%s: %s holds a control character", label, key);
	*out = v->valuestring;
	return 0;
}

int json_fields_require_all(const cJSON *const *seen, const char *const *keys, size_t n_keys, const char *label,
                            char *err, size_t errlen)
{
	size_t k;

	for (k = 0; k < n_keys; k++)
		if (seen[k] == NULL)
			return errf(err, errlen, "%s: key %s missing", label, keys[k]);
	return 0;
}

int json_fields_type_format(const cJSON *type, const cJSON *format, const char *want_type, const char *label,
                            char *err, size_t errlen)
{
	const char *got;
	long long n;

	if (json_fields_string(type, "type", 64, &got, label, err, errlen) != 0)
		return -1;
	if (strcmp(got, want_type) != 0)
		return errf(err, errlen, "%s: type is not %s", label, want_type);
	return json_fields_int(format, "format", 1, 1, &n, label, err, errlen);
}

int json_fields_copy_string(const cJSON *v, const char *key, size_t max, char *out, const char *label, char *err,
                            size_t errlen)
{
	const char *s;

	if (json_fields_string(v, key, max, &s, label, err, errlen) != 0)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int json_fields_int(const cJSON *v, const char *key, long long lo, long long hi, long long *out, const char *label,
                    char *err, size_t errlen)
{
	double d;

	if (!cJSON_IsNumber(v))
		return errf(err, errlen, "%s: %s must be an integer", label, key);
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
		return errf(err, errlen, "%s: %s must be an integer in %lld..%lld", label, key, lo, hi);
	*out = (long long)d;
	return 0;
}

int json_fields_hex(const cJSON *v, const char *key, unsigned char *out, size_t len, const char *label, char *err,
                    size_t errlen)
{
	const char *s;
	size_t i;
	int hi, lo;

	if (!cJSON_IsString(v) || strlen(v->valuestring) != 2 * len)
		return errf(err, errlen, "%s: %s must be %zu lowercase hex digits", label, key, 2 * len);
	s = v->valuestring;
	for (i = 0; i < 2 * len; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			return errf(err, errlen, "%s: %s must be lowercase hex", label, key);
	for (i = 0; i < len; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return errf(err, errlen, "%s: %s must be %zu lowercase hex digits", label, key, 2 * len);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int json_fields_time(const cJSON *v, const char *key, time_t *out, const char *label, char *err, size_t errlen)
{
	if (!cJSON_IsString(v) || !snapshot_time_parse(v->valuestring, out))
		return errf(err, errlen, "%s: %s must be a UTC time YYYY-MM-DDTHH:MM:SSZ", label, key);
	return 0;
}

void json_fields_hex_string(const unsigned char *bytes, size_t len, char *hex)
{
	static const char xd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		hex[2 * i] = xd[bytes[i] >> 4];
		hex[2 * i + 1] = xd[bytes[i] & 0xf];
	}
	hex[2 * len] = '\0';
}

int json_fields_time_string(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}
