/*
 * The firmware formats of common/ (docs/firmware.md): release ids and
 * packages, the RFC 4108 load error table, the manifest (built, signed by
 * CN=vendor-firmware-signer, verified; any other signer, a revoked signer,
 * tampering and every schema breach refused with its RFC 4108 code), the
 * offer (encrypted by the publisher role for one device; another
 * originator role, another device's key, an offer naming another
 * equipment refused) and the status report (signed by the device; another
 * equipment's topic, a forged signature, schema breaches refused).
 * Certificates come from pki/sms-pki, run once into a private directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "common/crl_set.h"
#include "common/fw_load_error.h"
#include "common/fw_manifest.h"
#include "common/fw_offer.h"
#include "common/fw_release_id.h"
#include "common/fw_status.h"
#include "common/x509_util.h"
#include "tests/unit/pki_test_support.h"

#define EQ1 "000001/00001/EQ1"
#define EQ2 "000001/00001/EQ2"
#define DEV1 "pki/e2e/ma/000001/acc/00001/dev/EQ1"
#define DEV2 "pki/e2e/ma/000001/acc/00001/dev/EQ2"
#define SIGNER "pki/e2e/services/roles/vendor-firmware-signer"
#define PUBLISHER "pki/e2e/services/roles/vendor-firmware-service"
#define SNAPSHOT_ROLE "pki/e2e/services/roles/vendor-snapshot-service"

static char dir[64];

#define PKI(sub, ...) pts_run("%s/pki/sms-pki --dir %s/%s --pki e2e " __VA_ARGS__ " >/dev/null 2>&1", pts_root_dir(), dir, sub)

static int setup(void **state)
{
	(void)state;
	if (pts_tmpdir(dir, sizeof(dir), "fwformats") != 0)
		return -1;
	if (PKI("pki", "init") || PKI("pki", "master 000001") || PKI("pki", "account 000001 00001") ||
	    PKI("pki", "device 000001 00001 EQ1") || PKI("pki", "device 000001 00001 EQ2") ||
	    PKI("pki", "service vendor-firmware-signer") || PKI("pki", "service vendor-firmware-service") ||
	    PKI("pki", "service vendor-snapshot-service") || PKI("other", "init") ||
	    PKI("other", "service vendor-firmware-signer") ||
	    pts_run("cp -a %s/pki %s/revoked", dir, dir) ||
	    PKI("revoked", "revoke services/roles/vendor-firmware-signer")) {
		fprintf(stderr, "# sms-pki failed\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return pts_remove(dir);
}

static void *read_pem(const char *leaf, const char *file, int key)
{
	char path[256];
	void *obj;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, leaf, file);
	f = fopen(path, "r");
	assert_non_null(f);
	obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL) : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(obj);
	return obj;
}

static STACK_OF(X509) *read_chain(const char *leaf)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char path[256];
	X509 *c;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/chain.pem", dir, leaf);
	f = fopen(path, "r");
	assert_non_null(f);
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, c);
	fclose(f);
	return sk;
}

static signed_data_trust *trust(const char *crl_pki)
{
	char root[256], crlfile[256], cas[256], err[512];
	const char *files[1] = { crlfile };
	struct crl_set *set = NULL;
	STACK_OF(X509) *issuers = sk_X509_new_null();
	signed_data_trust *t;

	snprintf(root, sizeof root, "%s/pki/e2e/root/ca.crt", dir);
	t = signed_data_trust_new(root, err, sizeof err);
	assert_non_null(t);
	if (crl_pki == NULL) {
		sk_X509_free(issuers);
		return t;
	}
	snprintf(crlfile, sizeof crlfile, "%s/%s/e2e/crls.pem", dir, crl_pki);
	snprintf(cas, sizeof cas, "%s/pki/e2e/cas.pem", dir);
	assert_int_equal(x509_add_certs_from_pem(issuers, root, err, sizeof err), 0);
	assert_int_equal(x509_add_certs_from_pem(issuers, cas, err, sizeof err), 0);
	assert_int_equal(crl_set_load(files, 1, issuers, NULL, &set, err, sizeof err), 0);
	assert_int_equal(signed_data_trust_set_crls(t, crl_set_crls(set), err, sizeof err), 0);
	crl_set_free(set);
	sk_X509_pop_free(issuers, X509_free);
	return t;
}

static X509 *services_ca(void)
{
	return read_pem("pki/e2e/services", "ca.crt", 0);
}

/* ---------------------------------------------------------- identifiers */

static void release_ids(void **state)
{
	char pkg[FW_PACKAGE_MAX + 1], buf[FW_RELEASE_MAX];
	long long v;

	(void)state;
	assert_true(fw_package_valid("fm-controller"));
	assert_true(fw_package_valid("a"));
	assert_true(fw_package_valid("boot.loader_2"));
	assert_false(fw_package_valid(""));
	assert_false(fw_package_valid("-x"));
	assert_false(fw_package_valid("Fm"));
	assert_false(fw_package_valid("a/b"));
	assert_false(fw_package_valid("a+b"));
	assert_false(fw_package_valid("0123456789012345678901234567890123456789012345678"));  /* 49 */
	assert_true(fw_package_valid("012345678901234567890123456789012345678901234567"));    /* 48 */
	assert_false(fw_version_valid(0));
	assert_true(fw_version_valid(FW_VERSION_MAX));
	assert_false(fw_version_valid(FW_VERSION_MAX + 1));

	assert_int_equal(fw_release_id("fm-controller", 42, buf, sizeof buf), 0);
	assert_string_equal(buf, "fm-controller-42");
	assert_int_equal(fw_release_parse("fm-controller-42", pkg, &v), 0);
	assert_string_equal(pkg, "fm-controller");
	assert_int_equal(v, 42);
	assert_int_equal(fw_release_parse("x-9007199254740991", pkg, &v), 0);
	assert_int_equal(fw_release_parse("x-9007199254740992", pkg, &v), -1);
	assert_int_equal(fw_release_parse("fm-controller-042", pkg, &v), -1);
	assert_int_equal(fw_release_parse("fm-controller-0", pkg, &v), -1);
	assert_int_equal(fw_release_parse("fm-controller", pkg, &v), -1);
	assert_int_equal(fw_release_parse("-42", pkg, &v), -1);
	assert_int_equal(fw_release_parse("Fm-42", pkg, &v), -1);
	assert_int_equal(fw_release_parse("fm-4a", pkg, &v), -1);
	assert_int_equal(fw_release_id("fm", 0, buf, sizeof buf), -1);
	assert_int_equal(fw_release_id("fm", 42, buf, 4), -1);
	assert_true(fw_hardware_valid("FM"));
	assert_false(fw_hardware_valid("F M"));
	assert_false(fw_hardware_valid("F/M"));
	assert_false(fw_hardware_valid(""));
}

/* RFC 4108 section 5, FirmwarePackageLoadErrorCode. */
static void load_error_codes(void **state)
{
	static const struct {
		const char *name;
		int code;
	} rfc[] = { { "decodeFailure", 1 },       { "badSignedData", 3 },      { "badCertificate", 5 },
		    { "noTrustAnchor", 10 },      { "notAuthorized", 11 },     { "signatureFailure", 15 },
		    { "noDecryptKey", 22 },       { "decryptFailure", 23 },    { "wrongHardware", 27 },
		    { "stalePackage", 28 },       { "notInCommunity", 29 },    { "unsupportedPackageType", 30 },
		    { "missingDependency", 31 },  { "wrongDependencyVersion", 32 }, { "insufficientMemory", 33 },
		    { "badFirmware", 34 },        { "unsupportedParameters", 35 }, { "breaksDependency", 36 },
		    { "otherError", 99 } };
	size_t i;
	int c, n = 0;

	(void)state;
	for (i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
		assert_int_equal(fw_load_error_code(rfc[i].name), rfc[i].code);
		assert_string_equal(fw_load_error_name(rfc[i].code), rfc[i].name);
	}
	for (c = -1; c <= 100; c++)
		if (fw_load_error_name(c) != NULL) {
			assert_int_equal(fw_load_error_code(fw_load_error_name(c)), c);
			n++;
		}
	assert_int_equal(n, 37);
	assert_null(fw_load_error_name(0));
	assert_null(fw_load_error_name(37));
	assert_int_equal(fw_load_error_code("StalePackage"), -1);
	assert_int_equal(fw_load_error_code(""), -1);
}

/* ------------------------------------------------------------- manifest */

static void sample_manifest(fw_manifest *m, size_t n_pieces)
{
	size_t i;

	memset(m, 0, sizeof *m);
	strcpy(m->package, "fm-controller");
	strcpy(m->release, "fm-controller-42");
	m->version = 42;
	m->min_version = 40;
	strcpy(m->hardware[0], "FM");
	strcpy(m->hardware[1], "FM2");
	m->n_hardware = 2;
	strcpy(m->requires[0].package, "bootloader");
	m->requires[0].min_version = 3;
	m->n_requires = 1;
	m->created = 1796464800;
	m->expires = 1796464800 + 86400 * 180;
	m->piece_size = 262144;
	m->size = (long long)(n_pieces - 1) * m->piece_size + 1000;
	for (i = 0; i < FW_DIGEST_LEN; i++)
		m->sha256[i] = (unsigned char)i;
	memset(m->nonce, 0xab, FW_NONCE_LEN);
	memset(m->tag, 0xcd, FW_TAG_LEN);
	m->pieces = calloc(n_pieces, sizeof *m->pieces);
	assert_non_null(m->pieces);
	for (i = 0; i < n_pieces; i++)
		m->pieces[i][0] = (unsigned char)i;
	m->n_pieces = n_pieces;
}

static unsigned char *sign_manifest_as(const char *leaf, const fw_manifest *m, size_t *len)
{
	X509 *cert = read_pem(leaf, "cert.pem", 0);
	EVP_PKEY *key = read_pem(leaf, "key.pem", 1);
	STACK_OF(X509) *chain = read_chain(leaf);
	unsigned char *der = NULL;
	char err[512];

	assert_int_equal(fw_manifest_sign(cert, key, chain, m, &der, len, err, sizeof err), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return der;
}

static void manifest_round_trip(void **state)
{
	signed_data_trust *t = trust("pki");
	X509 *sca = services_ca();
	fw_manifest m, got;
	unsigned char *der;
	char err[512];
	size_t len;
	int code = 0;

	(void)state;
	sample_manifest(&m, 3);
	der = sign_manifest_as(SIGNER, &m, &len);
	assert_int_equal(fw_manifest_verify(t, sca, der, len, &got, &code, err, sizeof err), 0);
	assert_string_equal(got.release, "fm-controller-42");
	assert_string_equal(got.package, "fm-controller");
	assert_int_equal(got.version, 42);
	assert_int_equal(got.min_version, 40);
	assert_int_equal(got.n_hardware, 2);
	assert_string_equal(got.hardware[1], "FM2");
	assert_int_equal(got.n_requires, 1);
	assert_string_equal(got.requires[0].package, "bootloader");
	assert_int_equal(got.requires[0].min_version, 3);
	assert_int_equal(got.created, m.created);
	assert_int_equal(got.expires, m.expires);
	assert_int_equal(got.size, m.size);
	assert_memory_equal(got.sha256, m.sha256, FW_DIGEST_LEN);
	assert_memory_equal(got.nonce, m.nonce, FW_NONCE_LEN);
	assert_memory_equal(got.tag, m.tag, FW_TAG_LEN);
	assert_int_equal(got.piece_size, 262144);
	assert_int_equal(got.n_pieces, 3);
	assert_memory_equal(got.pieces, m.pieces, 3 * FW_DIGEST_LEN);
	assert_int_equal(fw_manifest_piece_len(&got, 0), 262144);
	assert_int_equal(fw_manifest_piece_len(&got, 2), 1000);
	assert_int_equal(fw_manifest_piece_len(&got, 3), 0);
	fw_manifest_free(&got);
	fw_manifest_free(&m);
	OPENSSL_free(der);
	X509_free(sca);
	signed_data_trust_free(t);
}

static void manifest_refused(const char *leaf, const char *crl_pki, int flip, int want_code, const char *reason)
{
	signed_data_trust *t = trust(crl_pki);
	X509 *sca = services_ca();
	fw_manifest m, got;
	unsigned char *der;
	char err[512] = "";
	size_t len;
	int code = 0;

	sample_manifest(&m, 2);
	der = sign_manifest_as(leaf, &m, &len);
	if (flip) {
		/* A byte of the embedded JSON: the release id's digit. */
		unsigned char *p = memmem(der, len, "controller-42", 13);
		assert_non_null(p);
		p[12] = '3';
	}
	assert_int_equal(fw_manifest_verify(t, sca, der, len, &got, &code, err, sizeof err), -1);
	printf("# refused: %s\n", err);
	assert_int_equal(code, want_code);
	assert_non_null(strstr(err, reason));
	assert_null(got.pieces);
	fw_manifest_free(&m);
	OPENSSL_free(der);
	X509_free(sca);
	signed_data_trust_free(t);
}

static void manifest_wrong_signers(void **state)
{
	(void)state;
	manifest_refused(PUBLISHER, "pki", 0, FW_ERR_NOT_AUTHORIZED, "is not the role vendor-firmware-signer");
	manifest_refused(DEV1, "pki", 0, FW_ERR_NOT_AUTHORIZED, "not issued by the services CA");
	manifest_refused("other/e2e/services/roles/vendor-firmware-signer", "pki", 0, FW_ERR_SIGNATURE_FAILURE, "");
	manifest_refused(SIGNER, "revoked", 0, FW_ERR_SIGNATURE_FAILURE, "revoked");
	manifest_refused(SIGNER, "pki", 1, FW_ERR_SIGNATURE_FAILURE, "");
}

static void manifest_not_cms(void **state)
{
	signed_data_trust *t = trust(NULL);
	X509 *sca = services_ca();
	fw_manifest got;
	char err[256];
	int code = 0;

	(void)state;
	assert_int_equal(fw_manifest_verify(t, sca, (const unsigned char *)"{}", 2, &got, &code, err, sizeof err), -1);
	assert_int_equal(code, FW_ERR_DECODE_FAILURE);
	X509_free(sca);
	signed_data_trust_free(t);
}

static char *manifest_text(void)
{
	fw_manifest m;
	char err[256], *json;

	sample_manifest(&m, 2);
	json = fw_manifest_json(&m, err, sizeof err);
	assert_non_null(json);
	fw_manifest_free(&m);
	return json;
}

/* json with the first occurrence of from replaced by to; parse must fail with reason. */
static void manifest_edit_refused(const char *from, const char *to, const char *reason)
{
	char *json = manifest_text(), *at = strstr(json, from), edited[8192], err[256] = "";
	fw_manifest m;

	assert_non_null(at);
	snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	assert_int_equal(fw_manifest_parse(edited, strlen(edited), &m, err, sizeof err), -1);
	printf("# %s -> %s: %s\n", from, to, err);
	assert_non_null(strstr(err, reason));
	assert_null(m.pieces);
	free(json);
}

static void manifest_strict(void **state)
{
	char *json = manifest_text(), err[256];
	fw_manifest m;

	(void)state;
	assert_int_equal(fw_manifest_parse(json, strlen(json), &m, err, sizeof err), 0);
	fw_manifest_free(&m);
	free(json);
	manifest_edit_refused("\"format\":1", "\"format\":1,\"extra\":1", "unknown key");
	manifest_edit_refused("\"format\":1", "\"format\":1,\"format\":1", "repeated");
	manifest_edit_refused("\"format\":1", "\"format\":2", "format");
	manifest_edit_refused("\"format\":1,", "", "format missing");
	manifest_edit_refused("\"version\":42", "\"version\":\"42\"", "version must be an integer");
	manifest_edit_refused("\"version\":42", "\"version\":42.5", "version must be an integer");
	manifest_edit_refused("\"version\":42", "\"version\":43", "release must be");
	manifest_edit_refused("\"min_version\":40", "\"min_version\":43", "min_version");
	manifest_edit_refused("\"hardware\":[\"FM\",\"FM2\"]", "\"hardware\":[]", "hardware");
	manifest_edit_refused("\"cipher\":\"aes-256-gcm\"", "\"cipher\":\"aes-128-gcm\"", "cipher");
	manifest_edit_refused("\"nonce\":\"ab", "\"nonce\":\"AB", "lowercase");
	manifest_edit_refused("\"piece_size\":262144", "\"piece_size\":131072", "ceil(size / piece_size)");
	manifest_edit_refused("\"type\":\"sms-firmware-manifest\"", "\"type\":\"sms-firmware-offer\"", "type");
	manifest_edit_refused("\"min_version\":3}", "\"min_version\":3,\"x\":1}", "unknown key");
	manifest_edit_refused("\"expires\":\"2027", "\"expires\":\"2026", "expires must be after created");
	manifest_edit_refused("\"pieces\":[", "\"pieces\":[1,", "pieces must be 64");
	manifest_edit_refused("\"type\"", "[] {\"type\"", "not one JSON object");
}

/* ---------------------------------------------------------------- offer */

static smscms_identity *identity_of(smscms_ctx *ctx, const char *leaf)
{
	char cert[256], key[256], chain[256];
	smscms_identity *id = NULL;

	snprintf(cert, sizeof cert, "%s/%s/cert.pem", dir, leaf);
	snprintf(key, sizeof key, "%s/%s/key.pem", dir, leaf);
	snprintf(chain, sizeof chain, "%s/%s/chain.pem", dir, leaf);
	assert_int_equal(smscms_identity_load_pem(ctx, cert, key, chain, &id), SMSCMS_OK);
	return id;
}

static void sample_offer(fw_offer *o, const char *equipment)
{
	size_t i;

	memset(o, 0, sizeof *o);
	strcpy(o->equipment, equipment);
	o->rollout = 17;
	strcpy(o->release, "fm-controller-42");
	strcpy(o->package, "fm-controller");
	o->version = 42;
	for (i = 0; i < FW_KEY_LEN; i++)
		o->key[i] = (unsigned char)(0xa0 + i);
	o->offered_at = 1796465100;
}

/* Encrypts an offer naming named_eq from originator for the device leaf
 * to_leaf, decrypts it as the device leaf as_leaf. */
static int offer_trip(const char *originator, const char *named_eq, const char *to_leaf, const char *as_leaf,
                      fw_offer *got, int *code, char *err, size_t errlen)
{
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_identity *pub = identity_of(ctx, originator), *dev = identity_of(ctx, as_leaf);
	X509 *to = read_pem(to_leaf, "cert.pem", 0), *sca = services_ca();
	char root[256];
	const char *crls[1] = { root };
	smscms_verifier *v = NULL;
	unsigned char *der = NULL;
	size_t len;
	fw_offer o;
	int rc;

	snprintf(root, sizeof root, "%s/pki/e2e/root/ca.crt", dir);
	assert_int_equal(smscms_verifier_new(ctx, root, crls, 0, &v), SMSCMS_OK);
	sample_offer(&o, named_eq);
	assert_int_equal(fw_offer_encrypt(ctx, pub, to, &o, &der, &len, err, errlen), 0);
	assert_true(len < 4096);
	/* The key never travels in clear. */
	assert_null(memmem(der, len, "a0a1a2a3", 8));
	rc = fw_offer_decrypt(ctx, dev, v, sca, der, len, got, code, err, errlen);
	if (rc != 0)
		printf("# refused: %s\n", err);
	OPENSSL_free(der);
	X509_free(to);
	X509_free(sca);
	smscms_verifier_free(v);
	smscms_identity_free(pub);
	smscms_identity_free(dev);
	smscms_ctx_free(ctx);
	return rc;
}

static void offer_round_trip(void **state)
{
	fw_offer got, want;
	char err[512];
	int code = 0;

	(void)state;
	assert_int_equal(offer_trip(PUBLISHER, EQ1, DEV1, DEV1, &got, &code, err, sizeof err), 0);
	sample_offer(&want, EQ1);
	assert_string_equal(got.equipment, EQ1);
	assert_int_equal(got.rollout, 17);
	assert_string_equal(got.release, "fm-controller-42");
	assert_string_equal(got.package, "fm-controller");
	assert_int_equal(got.version, 42);
	assert_memory_equal(got.key, want.key, FW_KEY_LEN);
	assert_int_equal(got.offered_at, 1796465100);
	fw_offer_clear(&got);
}

static void offer_refused(void **state)
{
	static const unsigned char zero[FW_KEY_LEN];
	fw_offer got;
	char err[512];
	int code = 0;

	(void)state;
	assert_int_equal(offer_trip(SNAPSHOT_ROLE, EQ1, DEV1, DEV1, &got, &code, err, sizeof err), -1);
	assert_int_equal(code, FW_ERR_NOT_AUTHORIZED);
	assert_non_null(strstr(err, "is not the role vendor-firmware-service"));
	/* A device cannot pose as the publisher (the account CA is no services CA). */
	assert_int_equal(offer_trip(DEV2, EQ1, DEV1, DEV1, &got, &code, err, sizeof err), -1);
	assert_int_equal(code, FW_ERR_NOT_AUTHORIZED);
	/* Encrypted for EQ2, received by EQ1. */
	assert_int_equal(offer_trip(PUBLISHER, EQ2, DEV2, DEV1, &got, &code, err, sizeof err), -1);
	assert_int_equal(code, FW_ERR_NO_DECRYPT_KEY);
	/* Encrypted for EQ1 but naming EQ2. */
	assert_int_equal(offer_trip(PUBLISHER, EQ2, DEV1, DEV1, &got, &code, err, sizeof err), -1);
	assert_int_equal(code, FW_ERR_WRONG_HARDWARE);
	assert_non_null(strstr(err, "names equipment " EQ2));
	/* The device answers that rollout (rejected wrongHardware): all but the key kept. */
	assert_int_equal(got.rollout, 17);
	assert_memory_equal(got.key, zero, FW_KEY_LEN);
}

static void offer_strict(void **state)
{
	fw_offer o, got;
	char err[256], *json, edited[1024];

	(void)state;
	sample_offer(&o, EQ1);
	json = fw_offer_json(&o, err, sizeof err);
	assert_non_null(json);
	assert_int_equal(fw_offer_parse(json, strlen(json), &got, err, sizeof err), 0);
	assert_memory_equal(got.key, o.key, FW_KEY_LEN);
	snprintf(edited, sizeof edited, "%.*s,\"key\":\"00\"}", (int)strlen(json) - 1, json);
	assert_int_equal(fw_offer_parse(edited, strlen(edited), &got, err, sizeof err), -1);
	assert_non_null(strstr(err, "repeated"));
	/* The key's hex never appears in an error line. */
	assert_null(strstr(err, "a0a1"));
	fw_offer_json_free(json);
	strcpy(o.equipment, "000001/00001");
	assert_null(fw_offer_json(&o, err, sizeof err));
	sample_offer(&o, EQ1);
	o.version = 43;
	assert_null(fw_offer_json(&o, err, sizeof err));
	assert_non_null(strstr(err, "release"));
}

/* --------------------------------------------------------------- status */

static void sample_status(fw_status *s, const char *equipment, fw_report_state st)
{
	memset(s, 0, sizeof *s);
	strcpy(s->equipment, equipment);
	s->rollout = 17;
	strcpy(s->release, "fm-controller-42");
	s->state = st;
	s->installed_version = 41;
	s->reported_at = 1796465103;
	if (st == FW_REPORT_DOWNLOADING) {
		s->pieces = 12;
		s->of = 64;
	}
	if (st == FW_REPORT_REJECTED) {
		s->code = FW_ERR_STALE_PACKAGE;
		strcpy(s->detail, "offered version 40 <= installed 41");
	}
}

static unsigned char *sign_status_as(const char *leaf, const fw_status *s, size_t *len)
{
	X509 *cert = read_pem(leaf, "cert.pem", 0);
	EVP_PKEY *key = read_pem(leaf, "key.pem", 1);
	STACK_OF(X509) *chain = read_chain(leaf);
	unsigned char *der = NULL;
	char err[512];

	assert_int_equal(fw_status_sign(cert, key, chain, s, &der, len, err, sizeof err), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return der;
}

static void status_round_trip(void **state)
{
	signed_data_trust *t = trust("pki");
	fw_status s, got;
	unsigned char *der;
	char err[512];
	size_t len;
	int st;

	(void)state;
	for (st = FW_REPORT_DOWNLOADING; st <= FW_REPORT_REJECTED; st++) {
		sample_status(&s, EQ1, (fw_report_state)st);
		if (st == FW_REPORT_FAILED)
			s.code = FW_ERR_BAD_FIRMWARE;
		der = sign_status_as(DEV1, &s, &len);
		assert_int_equal(fw_status_verify(t, der, len, EQ1, &got, err, sizeof err), 0);
		assert_int_equal(got.state, st);
		assert_string_equal(got.equipment, EQ1);
		assert_int_equal(got.rollout, 17);
		assert_int_equal(got.installed_version, 41);
		assert_int_equal(got.code, s.code);
		assert_string_equal(got.detail, s.detail);
		assert_int_equal(got.pieces, s.pieces);
		assert_int_equal(got.of, s.of);
		assert_int_equal(got.reported_at, 1796465103);
		OPENSSL_free(der);
	}
	signed_data_trust_free(t);
}

static void status_forged(void **state)
{
	signed_data_trust *t = trust("pki");
	fw_status s, got;
	unsigned char *der, *p;
	char err[512];
	size_t len;

	(void)state;
	sample_status(&s, EQ1, FW_REPORT_SUCCEEDED);
	/* EQ2's key, claiming EQ1, on EQ1's topic. */
	der = sign_status_as(DEV2, &s, &len);
	assert_int_equal(fw_status_verify(t, der, len, EQ1, &got, err, sizeof err), -1);
	assert_non_null(strstr(err, "not by the topic's equipment"));
	/* EQ1's own report replayed on EQ2's topic. */
	OPENSSL_free(der);
	der = sign_status_as(DEV1, &s, &len);
	assert_int_equal(fw_status_verify(t, der, len, EQ2, &got, err, sizeof err), -1);
	assert_non_null(strstr(err, "not by the topic's equipment"));
	/* The state changed after signing. */
	p = memmem(der, len, "succeeded", 9);
	assert_non_null(p);
	memcpy(p, "installin", 9);
	assert_int_equal(fw_status_verify(t, der, len, EQ1, &got, err, sizeof err), -1);
	OPENSSL_free(der);
	/* A vendor role is no equipment. */
	der = sign_status_as(PUBLISHER, &s, &len);
	assert_int_equal(fw_status_verify(t, der, len, EQ1, &got, err, sizeof err), -1);
	OPENSSL_free(der);
	/* EQ2 signing a report naming EQ1, on its own topic. */
	der = sign_status_as(DEV2, &s, &len);
	assert_int_equal(fw_status_verify(t, der, len, EQ2, &got, err, sizeof err), -1);
	assert_non_null(strstr(err, "names equipment " EQ1));
	OPENSSL_free(der);
	signed_data_trust_free(t);
}

static void status_strict(void **state)
{
	fw_status s, got;
	char err[256];
	const char *bad[] = {
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"downloading\",\"reported_at\":\"2026-12-05T10:05:03Z\"}",
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"failed\",\"reported_at\":\"2026-12-05T10:05:03Z\"}",
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"failed\",\"code\":\"missingDependency\",\"code_value\":29,"
		"\"reported_at\":\"2026-12-05T10:05:03Z\"}",
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"succeeded\",\"code\":\"otherError\",\"code_value\":99,"
		"\"reported_at\":\"2026-12-05T10:05:03Z\"}",
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"done\",\"reported_at\":\"2026-12-05T10:05:03Z\"}",
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"succeeded\",\"reported_at\":\"2026-12-05T10:05:03Z\",\"x\":0}",
		"{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
		"\"release\":\"p-1\",\"state\":\"downloading\",\"progress\":{\"pieces\":5,\"of\":4},"
		"\"reported_at\":\"2026-12-05T10:05:03Z\"}",
	};
	const char *good = "{\"type\":\"sms-firmware-status\",\"format\":1,\"equipment\":\"a/b/c\",\"rollout\":1,"
	                   "\"release\":\"p-1\",\"state\":\"failed\",\"code\":\"missingDependency\",\"code_value\":31,"
	                   "\"reported_at\":\"2026-12-05T10:05:03Z\"}";
	size_t i;

	(void)state;
	assert_int_equal(fw_status_parse(good, strlen(good), &got, err, sizeof err), 0);
	assert_int_equal(got.code, FW_ERR_MISSING_DEPENDENCY);
	assert_int_equal(got.installed_version, -1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(fw_status_parse(bad[i], strlen(bad[i]), &got, err, sizeof err), -1);
		printf("# bad %zu: %s\n", i, err);
	}
	sample_status(&s, EQ1, FW_REPORT_FAILED);
	assert_null(fw_status_json(&s, err, sizeof err));   /* failed without a code */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(release_ids),
		cmocka_unit_test(load_error_codes),
		cmocka_unit_test(manifest_round_trip),
		cmocka_unit_test(manifest_wrong_signers),
		cmocka_unit_test(manifest_not_cms),
		cmocka_unit_test(manifest_strict),
		cmocka_unit_test(offer_round_trip),
		cmocka_unit_test(offer_refused),
		cmocka_unit_test(offer_strict),
		cmocka_unit_test(status_round_trip),
		cmocka_unit_test(status_forged),
		cmocka_unit_test(status_strict),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, setup, teardown);
}
