/*
 * Strict reading of a closed JSON object (cJSON), for the firmware formats
 * (manifest, offer, status report): every key known and present at most
 * once, integers exact (no fraction, no exponent beyond 2^53), hex strings
 * lowercase only (one spelling per value), UTC times in one form.
 * Each function returns 0, or -1 with one line in err naming the key.
 * No global state.
 */
#ifndef SMS_JSON_FIELDS_H
#define SMS_JSON_FIELDS_H

#include <stddef.h>
#include <time.h>

#include <cJSON.h>

/* 2^53 - 1: the largest integer a JSON double carries exactly. */
#define JSON_INT_MAX 9007199254740991LL

/* The one JSON object of buf[0..len), nothing after it; NULL with err. */
cJSON *json_fields_parse(const char *buf, size_t len, const char *label, char *err, size_t errlen);

/* Fills seen[k] with the member named keys[k] (NULL when absent). An
 * unknown or repeated key is an error. */
int json_fields_collect(const cJSON *obj, const char *const *keys, size_t n_keys, const cJSON **seen,
                        const char *label, char *err, size_t errlen);

/* Every seen[k] present, else an error naming keys[k] (for objects whose
 * keys are all required). */
int json_fields_require_all(const cJSON *const *seen, const char *const *keys, size_t n_keys, const char *label,
                            char *err, size_t errlen);

/* The "type" and "format" members every firmware document opens with:
 * type exactly want_type, format exactly 1. */
int json_fields_type_format(const cJSON *type, const cJSON *format, const char *want_type, const char *label,
                            char *err, size_t errlen);

/* A string of 1..max bytes, valid UTF-8 without control characters. */
int json_fields_string(const cJSON *v, const char *key, size_t max, const char **out, const char *label, char *err,
                       size_t errlen);
/* json_fields_string copied into out[max + 1]. */
int json_fields_copy_string(const cJSON *v, const char *key, size_t max, char *out, const char *label, char *err,
                            size_t errlen);
/* An integer in lo..hi, exactly. */
int json_fields_int(const cJSON *v, const char *key, long long lo, long long hi, long long *out, const char *label,
                    char *err, size_t errlen);
/* Exactly 2*len lowercase hex digits into out[len]. */
int json_fields_hex(const cJSON *v, const char *key, unsigned char *out, size_t len, const char *label, char *err,
                    size_t errlen);
/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (snapshot_time_parse). */
int json_fields_time(const cJSON *v, const char *key, time_t *out, const char *label, char *err, size_t errlen);

/* Lowercase hex of bytes into hex[2*len+1]. */
void json_fields_hex_string(const unsigned char *bytes, size_t len, char *hex);
/* "YYYY-MM-DDTHH:MM:SSZ" into buf[21+]; 0 or -1. */
int json_fields_time_string(time_t t, char *buf, size_t len);

#endif
