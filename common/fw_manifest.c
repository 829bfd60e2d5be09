/* Firmware manifests; contract in fw_manifest.h. */
#include "common/fw_manifest.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/cms.h>
#include <openssl/sha.h>

#include "common/errf.h"
#include "common/fw_load_error.h"
#include "common/json_fields.h"
#include "common/role_cert.h"

#define LABEL "firmware manifest"

enum {
	K_TYPE, K_FORMAT, K_RELEASE, K_PACKAGE, K_VERSION, K_MIN_VERSION, K_HARDWARE, K_REQUIRES, K_CREATED,
	K_EXPIRES, K_SIZE, K_SHA256, K_CIPHER, K_NONCE, K_TAG, K_PIECE_SIZE, K_PIECES, K_COUNT
};

static const char *const keys[K_COUNT] = {
	"type", "format", "release", "package", "version", "min_version", "hardware", "requires", "created",
	"expires", "size", "sha256", "cipher", "nonce", "tag", "piece_size", "pieces",
};

size_t fw_manifest_piece_count(long long size, long long piece_size)
{
	if (size <= 0 || piece_size <= 0)
		return 0;
	return (size_t)((size + piece_size - 1) / piece_size);
}

size_t fw_manifest_piece_len(const fw_manifest *m, size_t n)
{
	long long off = (long long)n * m->piece_size;

	if (n >= m->n_pieces || off >= m->size)
		return 0;
	return (size_t)(m->size - off < m->piece_size ? m->size - off : m->piece_size);
}

int fw_manifest_piece_ok(const fw_manifest *m, size_t n, const unsigned char *data, size_t len)
{
	unsigned char md[FW_DIGEST_LEN];

	if (len == 0 || len != fw_manifest_piece_len(m, n) || SHA256(data, len, md) == NULL)
		return 0;
	return CRYPTO_memcmp(md, m->pieces[n], FW_DIGEST_LEN) == 0;
}

/* The rules of the header every manifest obeys, built or parsed. */
static int check(const fw_manifest *m, char *err, size_t errlen)
{
	char release[FW_RELEASE_MAX];
	size_t i;

	if (fw_release_id(m->package, m->version, release, sizeof release) != 0 || strcmp(release, m->release) != 0)
		return errf(err, errlen, LABEL ": release must be <package>-<version> with a valid package and version");
	if (m->min_version < 1 || m->min_version > m->version)
		return errf(err, errlen, LABEL ": min_version must be 1..version");
	if (m->n_hardware == 0 || m->n_hardware > FW_MANIFEST_MAX_HARDWARE)
		return errf(err, errlen, LABEL ": 1..%d hardware types needed", FW_MANIFEST_MAX_HARDWARE);
	for (i = 0; i < m->n_hardware; i++)
		if (!fw_hardware_valid(m->hardware[i]))
			return errf(err, errlen, LABEL ": hardware type %zu is not a device type", i);
	if (m->n_requires > FW_MANIFEST_MAX_REQUIRES)
		return errf(err, errlen, LABEL ": at most %d requirements", FW_MANIFEST_MAX_REQUIRES);
	for (i = 0; i < m->n_requires; i++)
		if (!fw_package_valid(m->requires[i].package) || !fw_version_valid(m->requires[i].min_version))
			return errf(err, errlen, LABEL ": requirement %zu needs a valid package and min_version", i);
	if (m->created >= m->expires)
		return errf(err, errlen, LABEL ": expires must be after created");
	if (m->size < 1 || m->size > FW_MANIFEST_MAX_SIZE)
		return errf(err, errlen, LABEL ": size must be 1..2^40");
	if (m->piece_size < FW_PIECE_SIZE_MIN || m->piece_size > FW_PIECE_SIZE_MAX)
		return errf(err, errlen, LABEL ": piece_size must be %d..%d", FW_PIECE_SIZE_MIN, FW_PIECE_SIZE_MAX);
	if (m->n_pieces != fw_manifest_piece_count(m->size, m->piece_size) || m->n_pieces > FW_MANIFEST_MAX_PIECES)
		return errf(err, errlen, LABEL ": pieces must have ceil(size / piece_size) <= %d entries",
		            FW_MANIFEST_MAX_PIECES);
	return 0;
}

/* ------------------------------------------------------------ building */

static int add_hex(cJSON *obj, const char *key, const unsigned char *b, size_t len)
{
	char hex[2 * FW_DIGEST_LEN + 1];

	json_fields_hex_string(b, len, hex);
	return cJSON_AddStringToObject(obj, key, hex) != NULL ? 0 : -1;
}

static int add_time(cJSON *obj, const char *key, time_t t)
{
	char when[32];

	return json_fields_time_string(t, when, sizeof when) == 0 && cJSON_AddStringToObject(obj, key, when) != NULL
	               ? 0
	               : -1;
}

static int add_lists(cJSON *root, const fw_manifest *m)
{
	char hex[2 * FW_DIGEST_LEN + 1];
	cJSON *hw, *req, *pieces, *r;
	size_t i;

	if ((hw = cJSON_AddArrayToObject(root, "hardware")) == NULL)
		return -1;
	for (i = 0; i < m->n_hardware; i++)
		if (!cJSON_AddItemToArray(hw, cJSON_CreateString(m->hardware[i])))
			return -1;
	if ((req = cJSON_AddArrayToObject(root, "requires")) == NULL)
		return -1;
	for (i = 0; i < m->n_requires; i++) {
		if ((r = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(req, r) ||
		    cJSON_AddStringToObject(r, "package", m->requires[i].package) == NULL ||
		    cJSON_AddNumberToObject(r, "min_version", (double)m->requires[i].min_version) == NULL)
			return -1;
	}
	if ((pieces = cJSON_AddArrayToObject(root, "pieces")) == NULL)
		return -1;
	for (i = 0; i < m->n_pieces; i++) {
		json_fields_hex_string(m->pieces[i], FW_DIGEST_LEN, hex);
		if (!cJSON_AddItemToArray(pieces, cJSON_CreateString(hex)))
			return -1;
	}
	return 0;
}

char *fw_manifest_json(const fw_manifest *m, char *err, size_t errlen)
{
	cJSON *root = NULL;
	char *text = NULL;

	if (check(m, err, errlen) != 0)
		return NULL;
	if ((root = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(root, "type", "sms-firmware-manifest") == NULL ||
	    cJSON_AddNumberToObject(root, "format", 1) == NULL ||
	    cJSON_AddStringToObject(root, "release", m->release) == NULL ||
	    cJSON_AddStringToObject(root, "package", m->package) == NULL ||
	    cJSON_AddNumberToObject(root, "version", (double)m->version) == NULL ||
	    cJSON_AddNumberToObject(root, "min_version", (double)m->min_version) == NULL ||
	    add_time(root, "created", m->created) != 0 || add_time(root, "expires", m->expires) != 0 ||
	    cJSON_AddNumberToObject(root, "size", (double)m->size) == NULL ||
	    add_hex(root, "sha256", m->sha256, FW_DIGEST_LEN) != 0 ||
	    cJSON_AddStringToObject(root, "cipher", "aes-256-gcm") == NULL ||
	    add_hex(root, "nonce", m->nonce, FW_NONCE_LEN) != 0 || add_hex(root, "tag", m->tag, FW_TAG_LEN) != 0 ||
	    cJSON_AddNumberToObject(root, "piece_size", (double)m->piece_size) == NULL || add_lists(root, m) != 0 ||
	    (text = cJSON_PrintUnformatted(root)) == NULL)
		errf(err, errlen, LABEL ": cannot build the JSON (out of memory?)");
	cJSON_Delete(root);
	return text;
}

/* ------------------------------------------------------------- parsing */

static int parse_hardware(const cJSON *list, fw_manifest *out, char *err, size_t errlen)
{
	const cJSON *it;
	int n = cJSON_GetArraySize(list);

	if (!cJSON_IsArray(list) || n < 1 || n > FW_MANIFEST_MAX_HARDWARE)
		return errf(err, errlen, LABEL ": hardware must be an array of 1..%d", FW_MANIFEST_MAX_HARDWARE);
	cJSON_ArrayForEach(it, list) {
		if (json_fields_copy_string(it, "hardware", FW_HARDWARE_MAX, out->hardware[out->n_hardware],
		                            LABEL, err, errlen) != 0)
			return -1;
		out->n_hardware++;
	}
	return 0;
}

static int parse_requires(const cJSON *list, fw_manifest *out, char *err, size_t errlen)
{
	static const char *const rkeys[2] = { "package", "min_version" };
	const cJSON *it, *seen[2];
	fw_requirement *r;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > FW_MANIFEST_MAX_REQUIRES)
		return errf(err, errlen, LABEL ": requires must be an array of 0..%d", FW_MANIFEST_MAX_REQUIRES);
	cJSON_ArrayForEach(it, list) {
		r = &out->requires[out->n_requires];
		if (!cJSON_IsObject(it))
			return errf(err, errlen, LABEL ": a requirement must be an object");
		if (json_fields_collect(it, rkeys, 2, seen, LABEL " requirement", err, errlen) != 0 ||
		    json_fields_copy_string(seen[0], "requires.package", FW_PACKAGE_MAX, r->package,
		                            LABEL, err, errlen) != 0 ||
		    json_fields_int(seen[1], "requires.min_version", 1, FW_VERSION_MAX, &r->min_version, LABEL, err,
		                    errlen) != 0)
			return -1;
		out->n_requires++;
	}
	return 0;
}

static int parse_pieces(const cJSON *list, fw_manifest *out, char *err, size_t errlen)
{
	const cJSON *it;
	int n = cJSON_GetArraySize(list);

	if (!cJSON_IsArray(list) || n < 1 || n > FW_MANIFEST_MAX_PIECES)
		return errf(err, errlen, LABEL ": pieces must be an array of 1..%d", FW_MANIFEST_MAX_PIECES);
	if ((out->pieces = calloc((size_t)n, sizeof *out->pieces)) == NULL)
		return errf(err, errlen, LABEL ": out of memory");
	cJSON_ArrayForEach(it, list) {
		if (json_fields_hex(it, "pieces", out->pieces[out->n_pieces], FW_DIGEST_LEN, LABEL, err, errlen) != 0)
			return -1;
		out->n_pieces++;
	}
	return 0;
}

static int parse_fields(const cJSON **s, fw_manifest *out, char *err, size_t errlen)
{
	const char *text;

	if (json_fields_type_format(s[K_TYPE], s[K_FORMAT], "sms-firmware-manifest", LABEL, err, errlen) != 0)
		return -1;
	if (json_fields_copy_string(s[K_RELEASE], "release", FW_RELEASE_MAX - 1, out->release,
	                            LABEL, err, errlen) != 0 ||
	    json_fields_copy_string(s[K_PACKAGE], "package", FW_PACKAGE_MAX, out->package, LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_VERSION], "version", 1, FW_VERSION_MAX, &out->version, LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_MIN_VERSION], "min_version", 1, FW_VERSION_MAX, &out->min_version, LABEL, err,
	                    errlen) != 0 ||
	    parse_hardware(s[K_HARDWARE], out, err, errlen) != 0 || parse_requires(s[K_REQUIRES], out, err, errlen) != 0 ||
	    json_fields_time(s[K_CREATED], "created", &out->created, LABEL, err, errlen) != 0 ||
	    json_fields_time(s[K_EXPIRES], "expires", &out->expires, LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_SIZE], "size", 1, FW_MANIFEST_MAX_SIZE, &out->size, LABEL, err, errlen) != 0 ||
	    json_fields_hex(s[K_SHA256], "sha256", out->sha256, FW_DIGEST_LEN, LABEL, err, errlen) != 0 ||
	    json_fields_string(s[K_CIPHER], "cipher", 32, &text, LABEL, err, errlen) != 0)
		return -1;
	if (strcmp(text, "aes-256-gcm") != 0)
		return errf(err, errlen, LABEL ": cipher must be aes-256-gcm");
	if (json_fields_hex(s[K_NONCE], "nonce", out->nonce, FW_NONCE_LEN, LABEL, err, errlen) != 0 ||
	    json_fields_hex(s[K_TAG], "tag", out->tag, FW_TAG_LEN, LABEL, err, errlen) != 0 ||
	    json_fields_int(s[K_PIECE_SIZE], "piece_size", FW_PIECE_SIZE_MIN, FW_PIECE_SIZE_MAX, &out->piece_size,
	                    LABEL, err, errlen) != 0 ||
	    parse_pieces(s[K_PIECES], out, err, errlen) != 0)
		return -1;
	return check(out, err, errlen);
}

int fw_manifest_parse(const char *json, size_t len, fw_manifest *out, char *err, size_t errlen)
{
	const cJSON *seen[K_COUNT];
	cJSON *root;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if ((root = json_fields_parse(json, len, LABEL, err, errlen)) == NULL)
		return -1;
	if (json_fields_collect(root, keys, K_COUNT, seen, LABEL, err, errlen) != 0)
		goto out;
	if (json_fields_require_all(seen, keys, K_COUNT, LABEL, err, errlen) != 0)
		goto out;
	rc = parse_fields(seen, out, err, errlen);
out:
	cJSON_Delete(root);
	if (rc != 0)
		fw_manifest_free(out);
	return rc;
}

void fw_manifest_free(fw_manifest *m)
{
	free(m->pieces);
	memset(m, 0, sizeof *m);
}

/* ----------------------------------------------------- signing, verifying */

int fw_manifest_sign(X509 *signer, EVP_PKEY *key, STACK_OF(X509) *chain, const fw_manifest *m,
                     unsigned char **der, size_t *der_len, char *err, size_t errlen)
{
	char *json = fw_manifest_json(m, err, errlen), why[400];
	int rc = -1;

	*der = NULL;
	if (json == NULL)
		return -1;
	if (signed_data_sign(signer, key, chain, (const unsigned char *)json, strlen(json), der, der_len, why,
	                     sizeof why) != 0)
		errf(err, errlen, LABEL ": %s", why);
	else
		rc = 0;
	free(json);
	return rc;
}

/* Decodes as CMS at all? Separates "not a manifest" from "not trusted". */
static int is_cms(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;

	if (len > FW_MANIFEST_MAX_DER || len > (size_t)LONG_MAX)
		return 0;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	CMS_ContentInfo_free(cms);
	return cms != NULL && p == der + len;
}

int fw_manifest_verify(const signed_data_trust *trust, X509 *services_ca, const unsigned char *der, size_t len,
                       fw_manifest *out, int *code, char *err, size_t errlen)
{
	signed_data_info sd;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!is_cms(der, len)) {
		*code = FW_ERR_DECODE_FAILURE;
		return errf(err, errlen, LABEL ": not a DER CMS message of at most %d bytes", FW_MANIFEST_MAX_DER);
	}
	if (signed_data_verify(trust, LABEL, der, len, FW_MANIFEST_MAX_DER, &sd, err, errlen) != 0) {
		*code = FW_ERR_SIGNATURE_FAILURE;
		return -1;
	}
	if (role_cert_check(sd.signer, services_ca, FW_SIGNER_ROLE, LABEL " signer", err, errlen) != 0)
		*code = FW_ERR_NOT_AUTHORIZED;
	else if (fw_manifest_parse((const char *)sd.content, sd.content_len, out, err, errlen) != 0)
		*code = FW_ERR_DECODE_FAILURE;
	else
		rc = 0;
	signed_data_info_clear(&sd);
	return rc;
}
