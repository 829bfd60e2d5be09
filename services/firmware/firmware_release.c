/*
 * sms-firmware release create / list. The image is read once: AES-256-GCM
 * under a fresh key and nonce (AAD: the release id), plaintext SHA-256,
 * ciphertext cut into pieces with a SHA-256 each, kept in an unlinked
 * temporary file so memory stays bounded by one piece. The manifest is
 * signed with the signer key given on the command line (the publisher
 * never holds it); the content key leaves this process only wrapped for
 * the publisher's E2E certificate (AuthEnvelopedData, originator: the
 * signer). Release row and pieces go in one transaction.
 *
 * Offline (Uptane's separation taken literally): release create --out DIR
 * touches no database and writes the bundle DIR/manifest.der,
 * DIR/key.cms (the wrapped key) and DIR/pieces.bin (the ciphertext);
 * release import DIR on an online host stores it only after the manifest
 * verified (E2E root, signer role) and every piece matched its digest.
 */
#include "services/firmware/firmware_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "cms/smscms.h"
#include "common/fw_load_error.h"
#include "common/fw_offer.h"
#include "common/identity.h"
#include "common/json_fields.h"
#include "common/x509_util.h"
#include "services/firmware/firmware_db.h"

#define DEFAULT_PIECE_SIZE (256 * 1024)

typedef struct {
	fw_manifest m;
	unsigned char key[FW_KEY_LEN];
	FILE *cipher;                  /* the ciphertext, unlinked */
	X509 *signer, *publisher;
	EVP_PKEY *signer_key;
	STACK_OF(X509) *chain;
	unsigned char *manifest_der, *wrapped;
	size_t manifest_len, wrapped_len;
} release_job;

static void progress(const firmware_opts *o, const char *what, size_t done, size_t total)
{
	if (o->quiet || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\r%s: %zu/%zu pieces (%zu%%)%s", what, done, total, total ? done * 100 / total : 100,
	        done == total ? "\n" : "");
}

/* ------------------------------------------------------------ arguments */

static int parse_requirement(const char *s, fw_requirement *r)
{
	const char *ge = strstr(s, ">=");
	long long v;
	char *end;

	if (ge == NULL || (size_t)(ge - s) > FW_PACKAGE_MAX)
		return -1;
	memcpy(r->package, s, (size_t)(ge - s));
	r->package[ge - s] = '\0';
	v = strtoll(ge + 2, &end, 10);
	if (!fw_package_valid(r->package) || ge[2] < '1' || ge[2] > '9' || *end != '\0' || !fw_version_valid(v))
		return -1;
	r->min_version = v;
	return 0;
}

static int fill_manifest(const firmware_opts *o, fw_manifest *m)
{
	size_t i;

	if (o->package == NULL || !fw_package_valid(o->package))
		return firmware_fail("--package: a package name of [a-z0-9][a-z0-9._-]{0,47} is needed");
	if (!fw_version_valid(o->version))
		return firmware_fail("--version: an integer 1..2^53-1 is needed");
	if (o->min_version != 0 && (o->min_version < 1 || o->min_version > o->version))
		return firmware_fail("--min-version must be 1..--version");
	if (o->n_hardware == 0)
		return firmware_fail("--hardware: at least one device type is needed");
	strcpy(m->package, o->package);
	m->version = o->version;
	m->min_version = o->min_version != 0 ? o->min_version : o->version;
	if (fw_release_id(m->package, m->version, m->release, sizeof m->release) != 0)
		return firmware_fail("release id too long");
	for (i = 0; i < o->n_hardware; i++) {
		if (!fw_hardware_valid(o->hardware[i]))
			return firmware_fail("--hardware %s: 1..64 printable characters without space, /, +, #",
			                     o->hardware[i]);
		strcpy(m->hardware[i], o->hardware[i]);
	}
	m->n_hardware = o->n_hardware;
	for (i = 0; i < o->n_requires; i++)
		if (parse_requirement(o->requires[i], &m->requires[i]) != 0)
			return firmware_fail("--requires %s: PACKAGE>=VERSION is needed", o->requires[i]);
	m->n_requires = o->n_requires;
	m->created = time(NULL);
	m->expires = m->created + 365 * 86400;
	if (o->expires != NULL && firmware_parse_time(o->expires, m->created, &m->expires) != 0)
		return firmware_fail("--expires %s: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or +N(s|m|h|d)", o->expires);
	if (m->expires <= m->created)
		return firmware_fail("--expires %s is not in the future", o->expires);
	return 0;
}

/* The role a certificate file must hold; the chain check is the device's. */
static X509 *load_role_cert(const char *path, const char *role, const char *opt)
{
	X509 *c = x509_read_cert(path);
	char why[160];
	identity id;

	if (c == NULL) {
		firmware_fail("%s %s: no readable certificate", opt, path);
		return NULL;
	}
	if (identity_from_subject(X509_get_subject_name(c), &id, why, sizeof why) != 0 || id.kind != IDENTITY_ROLE ||
	    strcmp(id.role, role) != 0) {
		firmware_fail("%s %s: not the role %s (devices would refuse it)", opt, path, role);
		X509_free(c);
		return NULL;
	}
	return c;
}

static int load_keys(const firmware_opts *o, release_job *j)
{
	char err[300];
	FILE *f;

	if (o->signer_cert == NULL || o->signer_key == NULL || o->publisher_cert == NULL)
		return firmware_fail("--signer-cert, --signer-key and --publisher-cert are needed");
	if ((j->signer = load_role_cert(o->signer_cert, FW_SIGNER_ROLE, "--signer-cert")) == NULL ||
	    (j->publisher = load_role_cert(o->publisher_cert, FW_PUBLISHER_ROLE, "--publisher-cert")) == NULL)
		return 1;
	if ((f = fopen(o->signer_key, "r")) == NULL)
		return firmware_fail("--signer-key %s: cannot open", o->signer_key);
	j->signer_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (j->signer_key == NULL || X509_check_private_key(j->signer, j->signer_key) != 1)
		return firmware_fail("--signer-key %s: no private key of --signer-cert (%s)", o->signer_key,
		                     x509_ossl_reason());
	if ((j->chain = sk_X509_new_null()) == NULL)
		return firmware_fail("out of memory");
	if (o->signer_chain != NULL && x509_add_certs_from_pem(j->chain, o->signer_chain, err, sizeof err) != 0)
		return firmware_fail("--signer-chain: %s", err);
	return 0;
}

/* ------------------------------------------------------------ the image */

static long long choose_piece_size(const firmware_opts *o, long long size)
{
	long long p = o->piece_size != 0 ? o->piece_size : DEFAULT_PIECE_SIZE;

	/* At most 4096 pieces: grow in KiB steps for big images. */
	while (o->piece_size == 0 && fw_manifest_piece_count(size, p) > FW_MANIFEST_MAX_PIECES && p < FW_PIECE_SIZE_MAX)
		p += 1024 * ((size / FW_MANIFEST_MAX_PIECES + 1023) / 1024);
	return p;
}

static int encrypt_pieces(const firmware_opts *o, FILE *in, release_job *j, EVP_CIPHER_CTX *c, EVP_MD_CTX *plain,
                          unsigned char *buf, unsigned char *out)
{
	fw_manifest *m = &j->m;
	size_t n, len;
	int outl;

	for (n = 0; n < m->n_pieces; n++) {
		len = fw_manifest_piece_len(m, n);
		if (fread(buf, 1, len, in) != len)
			return firmware_fail("image: short read at piece %zu (changed while reading?)", n);
		if (EVP_DigestUpdate(plain, buf, len) != 1 || EVP_EncryptUpdate(c, out, &outl, buf, (int)len) != 1 ||
		    (size_t)outl != len || SHA256(out, len, m->pieces[n]) == NULL)
			return firmware_fail("image: encryption failed at piece %zu", n);
		if (fwrite(out, 1, len, j->cipher) != len)
			return firmware_fail("temporary file: write failed (disk full?)");
		progress(o, "encrypting", n + 1, m->n_pieces);
	}
	if (fgetc(in) != EOF)
		return firmware_fail("image: grew while reading");
	return 0;
}

static int encrypt_image(const firmware_opts *o, const char *image, release_job *j)
{
	fw_manifest *m = &j->m;
	EVP_CIPHER_CTX *c = NULL;
	unsigned char *buf = NULL, *out = NULL;
	EVP_MD_CTX *plain = EVP_MD_CTX_new();
	struct stat st;
	int outl, rc = 1;
	FILE *in = fopen(image, "rb");

	if (in == NULL || fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 1 ||
	    st.st_size > FW_MANIFEST_MAX_SIZE) {
		firmware_fail("%s: not a readable, non-empty regular file of at most 1 TiB", image);
		goto out;
	}
	m->size = st.st_size;
	m->piece_size = choose_piece_size(o, m->size);
	m->n_pieces = fw_manifest_piece_count(m->size, m->piece_size);
	if (m->piece_size < FW_PIECE_SIZE_MIN || m->piece_size > FW_PIECE_SIZE_MAX ||
	    m->n_pieces > FW_MANIFEST_MAX_PIECES) {
		firmware_fail("%s: %lld bytes need more than %d pieces of %lld bytes; raise --piece-size (at most %d)",
		              image, m->size, FW_MANIFEST_MAX_PIECES, m->piece_size, FW_PIECE_SIZE_MAX);
		goto out;
	}
	if ((m->pieces = calloc(m->n_pieces, sizeof *m->pieces)) == NULL ||
	    (buf = malloc((size_t)m->piece_size)) == NULL || (out = malloc((size_t)m->piece_size)) == NULL ||
	    (j->cipher = tmpfile()) == NULL || (c = EVP_CIPHER_CTX_new()) == NULL || plain == NULL) {
		firmware_fail("out of memory or no temporary file");
		goto out;
	}
	if (RAND_priv_bytes(j->key, FW_KEY_LEN) != 1 || RAND_bytes(m->nonce, FW_NONCE_LEN) != 1 ||
	    EVP_DigestInit_ex(plain, EVP_sha256(), NULL) != 1 || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, FW_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, j->key, m->nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &outl, (const unsigned char *)m->release, (int)strlen(m->release)) != 1) {
		firmware_fail("cannot set up AES-256-GCM: %s", x509_ossl_reason());
		goto out;
	}
	if (encrypt_pieces(o, in, j, c, plain, buf, out) != 0)
		goto out;
	if (EVP_EncryptFinal_ex(c, out, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, FW_TAG_LEN, m->tag) != 1 || EVP_DigestFinal_ex(plain, m->sha256, NULL) != 1 ||
	    fflush(j->cipher) != 0) {
		firmware_fail("image: finishing the encryption failed");
		goto out;
	}
	rc = 0;
out:
	if (in != NULL)
		fclose(in);
	EVP_CIPHER_CTX_free(c);
	EVP_MD_CTX_free(plain);
	if (buf != NULL)
		OPENSSL_clear_free(buf, (size_t)m->piece_size);
	free(out);
	return rc;
}

/* ----------------------------------------------------- signing, wrapping */

static int sign_and_wrap(release_job *j)
{
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_identity *signer = NULL;
	smscms_encrypt_opts opts;
	X509 *rcpt[1] = { j->publisher };
	char err[600];
	int rc = 1;

	if (ctx == NULL) {
		firmware_fail("out of memory");
		goto out;
	}
	if (fw_manifest_sign(j->signer, j->signer_key, j->chain, &j->m, &j->manifest_der, &j->manifest_len, err,
	                     sizeof err) != 0) {
		firmware_fail("%s", err);
		goto out;
	}
	smscms_encrypt_opts_init(&opts);
	if (smscms_identity_new(ctx, j->signer, j->signer_key, j->chain, &signer) != SMSCMS_OK ||
	    smscms_encrypt(ctx, &opts, signer, rcpt, 1, j->key, FW_KEY_LEN, &j->wrapped, &j->wrapped_len) !=
	            SMSCMS_OK) {
		firmware_fail("wrapping the content key for the publisher: %s", smscms_ctx_error(ctx));
		goto out;
	}
	rc = 0;
out:
	smscms_identity_free(signer);
	smscms_ctx_free(ctx);
	return rc;
}

/* --------------------------------------------------------------- storing */

/* A text[] literal; hardware types hold no quote or backslash worth
 * trusting, so every element is quoted and escaped anyway. */
static char *hardware_array(const fw_manifest *m)
{
	size_t i, k, len = 3;
	char *s, *p;

	for (i = 0; i < m->n_hardware; i++)
		len += 2 * strlen(m->hardware[i]) + 3;
	if ((s = p = malloc(len)) == NULL)
		return NULL;
	*p++ = '{';
	for (i = 0; i < m->n_hardware; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (k = 0; m->hardware[i][k] != '\0'; k++) {
			if (m->hardware[i][k] == '"' || m->hardware[i][k] == '\\')
				*p++ = '\\';
			*p++ = m->hardware[i][k];
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return s;
}

static const char insert_release[] =
	"INSERT INTO t_fw_release (release, package, version, hardware, size, piece_size, pieces, expires, manifest,"
	" wrapped_key) VALUES ($1, $2, $3::bigint, $4::text[], $5::bigint, $6::int, $7::int, to_timestamp($8::bigint),"
	" $9::bytea, $10::bytea) RETURNING id";

static int store_pieces(const firmware_opts *o, pg_session *db, release_job *j, const char *release_id)
{
	const char *params[3];
	int lens[3] = { 0, 0, 0 }, fmts[3] = { 0, 0, 1 };
	unsigned char *buf = malloc((size_t)j->m.piece_size);
	char n_text[24], err[1024];
	PGresult *res;
	size_t n, len;
	int rc = 1;

	if (buf == NULL || fseek(j->cipher, 0, SEEK_SET) != 0) {
		firmware_fail("temporary file: cannot read back");
		goto out;
	}
	for (n = 0; n < j->m.n_pieces; n++) {
		len = fw_manifest_piece_len(&j->m, n);
		if (fread(buf, 1, len, j->cipher) != len || !fw_manifest_piece_ok(&j->m, n, buf, len)) {
			firmware_fail("ciphertext: piece %zu is short or does not match the manifest's digest", n);
			goto out;
		}
		snprintf(n_text, sizeof n_text, "%zu", n);
		params[0] = release_id;
		params[1] = n_text;
		params[2] = (const char *)buf;
		lens[2] = (int)len;
		res = PQexecParams(pg_session_conn(db), "INSERT INTO t_fw_piece (release_id, n, data) VALUES ($1, $2, $3)",
		                   3, NULL, params, lens, fmts, 0);
		if (pg_session_check(db, res, PGRES_COMMAND_OK, "storing a piece", err, sizeof err) != PG_OK) {
			PQclear(res);
			firmware_fail("%s", err);
			goto out;
		}
		PQclear(res);
		progress(o, "storing", n + 1, j->m.n_pieces);
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int store(const firmware_opts *o, pg_session *db, release_job *j)
{
	char version[24], size[24], piece_size[24], pieces[24], expires[24], *hw = hardware_array(&j->m), id[24];
	const char *params[10] = { j->m.release, j->m.package, version, hw, size, piece_size, pieces, expires,
		                   (const char *)j->manifest_der, (const char *)j->wrapped };
	int lens[10] = { 0 }, fmts[10] = { 0 };
	PGresult *res = NULL;
	char err[1024];
	int rc = 1;

	snprintf(version, sizeof version, "%lld", j->m.version);
	snprintf(size, sizeof size, "%lld", j->m.size);
	snprintf(piece_size, sizeof piece_size, "%lld", j->m.piece_size);
	snprintf(pieces, sizeof pieces, "%zu", j->m.n_pieces);
	snprintf(expires, sizeof expires, "%lld", (long long)j->m.expires);
	lens[8] = (int)j->manifest_len;
	lens[9] = (int)j->wrapped_len;
	fmts[8] = fmts[9] = 1;
	if (hw == NULL)
		return firmware_fail("out of memory");
	if (pg_session_exec(db, "BEGIN", PGRES_COMMAND_OK, "BEGIN", err, sizeof err) != PG_OK) {
		firmware_fail("%s", err);
		goto out;
	}
	res = PQexecParams(pg_session_conn(db), insert_release, 10, NULL, params, lens, fmts, 0);
	if (pg_session_check(db, res, PGRES_TUPLES_OK, "storing the release", err, sizeof err) != PG_OK) {
		firmware_fail("%s", strstr(err, "t_fw_release_release_key") != NULL || strstr(err, "package_version_key")
		                            ? "release exists already: versions are never reused" : err);
		goto rollback;
	}
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
	if (store_pieces(o, db, j, id) != 0)
		goto rollback;
	if (pg_session_exec(db, "COMMIT", PGRES_COMMAND_OK, "COMMIT", err, sizeof err) != PG_OK) {
		firmware_fail("%s", err);
		goto out;
	}
	rc = 0;
	goto out;
rollback:
	pg_session_exec(db, "ROLLBACK", PGRES_COMMAND_OK, "ROLLBACK", err, sizeof err);
out:
	PQclear(res);
	free(hw);
	return rc;
}

static void job_clear(release_job *j)
{
	OPENSSL_cleanse(j->key, sizeof j->key);
	fw_manifest_free(&j->m);
	if (j->cipher != NULL)
		fclose(j->cipher);
	X509_free(j->signer);
	X509_free(j->publisher);
	EVP_PKEY_free(j->signer_key);
	sk_X509_pop_free(j->chain, X509_free);
	OPENSSL_free(j->manifest_der);
	OPENSSL_free(j->wrapped);
}

/* ---------------------------------------------------- offline bundles */

static int write_file(const char *dir, const char *name, const unsigned char *data, size_t len, FILE *from)
{
	char path[1024], tmp[1040], buf[65536];
	size_t n;
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL)
		return firmware_fail("%s: cannot create", tmp);
	ok = data == NULL || fwrite(data, 1, len, f) == len;
	if (from != NULL && fseek(from, 0, SEEK_SET) == 0)
		while (ok && (n = fread(buf, 1, sizeof buf, from)) > 0)
			ok = fwrite(buf, 1, n, f) == n;
	ok = ok && (from == NULL || !ferror(from)) && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return firmware_fail("%s: write failed (disk full?)", path);
	}
	return 0;
}

static int write_bundle(const char *dir, release_job *j)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return firmware_fail("--out %s: cannot create the directory", dir);
	if (write_file(dir, "pieces.bin", NULL, 0, j->cipher) != 0 ||
	    write_file(dir, "key.cms", j->wrapped, j->wrapped_len, NULL) != 0 ||
	    write_file(dir, "manifest.der", j->manifest_der, j->manifest_len, NULL) != 0)
		return 1;
	return 0;
}

/* A whole small file into OPENSSL_malloc'd memory; NULL after a line. */
static unsigned char *read_small(const char *dir, const char *name, size_t max, size_t *len)
{
	char path[1024];
	unsigned char *data = NULL;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0 || st.st_size < 1 ||
	    (size_t)st.st_size > max || (data = OPENSSL_malloc((size_t)st.st_size)) == NULL ||
	    fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		firmware_fail("%s: not a readable file of 1..%zu bytes", path, max);
		OPENSSL_free(data);
		data = NULL;
	} else {
		*len = (size_t)st.st_size;
	}
	if (f != NULL)
		fclose(f);
	return data;
}

static int verify_bundle(const firmware_opts *o, release_job *j)
{
	signed_data_trust *t = NULL;
	X509 *sca = NULL;
	char err[600];
	int code, rc = 1;

	if (o->e2e_root == NULL || o->services_ca == NULL)
		return firmware_fail("release import needs --e2e-root and --services-ca (who may have signed)");
	if ((t = signed_data_trust_new(o->e2e_root, err, sizeof err)) == NULL) {
		firmware_fail("--e2e-root: %s", err);
		goto out;
	}
	if ((sca = x509_read_cert(o->services_ca)) == NULL) {
		firmware_fail("--services-ca %s: no readable certificate", o->services_ca);
		goto out;
	}
	if (fw_manifest_verify(t, sca, j->manifest_der, j->manifest_len, &j->m, &code, err, sizeof err) != 0) {
		firmware_fail("%s (%s)", err, fw_load_error_name(code));
		goto out;
	}
	rc = 0;
out:
	X509_free(sca);
	signed_data_trust_free(t);
	return rc;
}

int firmware_release_import(const firmware_opts *o, const char *dir)
{
	char path[1024], when[32];
	pg_session *db = NULL;
	release_job j;
	struct stat st;
	int rc = 1;

	memset(&j, 0, sizeof j);
	if ((j.manifest_der = read_small(dir, "manifest.der", FW_MANIFEST_MAX_DER, &j.manifest_len)) == NULL ||
	    (j.wrapped = read_small(dir, "key.cms", FW_OFFER_MAX_DER, &j.wrapped_len)) == NULL ||
	    verify_bundle(o, &j) != 0)
		goto out;
	snprintf(path, sizeof path, "%s/pieces.bin", dir);
	if ((j.cipher = fopen(path, "rb")) == NULL || fstat(fileno(j.cipher), &st) != 0 || st.st_size != j.m.size) {
		firmware_fail("%s: not the %lld bytes of ciphertext the manifest names", path, j.m.size);
		goto out;
	}
	if ((db = firmware_db_open(o->conninfo)) == NULL || store(o, db, &j) != 0)
		goto out;
	json_fields_time_string(j.m.expires, when, sizeof when);
	printf("release %s imported: %lld bytes, %zu pieces, signature and every piece verified, expires %s\n",
	       j.m.release, j.m.size, j.m.n_pieces, when);
	rc = 0;
out:
	pg_session_free(db);
	job_clear(&j);
	return rc;
}

int firmware_release_create(const firmware_opts *o, const char *image)
{
	release_job j;
	pg_session *db = NULL;
	char when[32];
	int rc = 1;

	memset(&j, 0, sizeof j);
	if (fill_manifest(o, &j.m) != 0 || load_keys(o, &j) != 0)
		goto out;
	/* Before the long work: a database we cannot write to fails now. */
	if (o->out_dir == NULL && (db = firmware_db_open(o->conninfo)) == NULL)
		goto out;
	if (encrypt_image(o, image, &j) != 0 || sign_and_wrap(&j) != 0)
		goto out;
	OPENSSL_cleanse(j.key, sizeof j.key);
	if (o->out_dir != NULL ? write_bundle(o->out_dir, &j) != 0 : store(o, db, &j) != 0)
		goto out;
	json_fields_time_string(j.m.expires, when, sizeof when);
	printf("release %s: %lld bytes, %zu pieces of %lld bytes, manifest %zu bytes, expires %s%s%s\n", j.m.release,
	       j.m.size, j.m.n_pieces, j.m.piece_size, j.manifest_len, when, o->out_dir ? "; bundle in " : "",
	       o->out_dir ? o->out_dir : "");
	rc = 0;
out:
	pg_session_free(db);
	job_clear(&j);
	return rc;
}

int firmware_release_list(const firmware_opts *o)
{
	static const char sql[] =
		"SELECT release, size, pieces, array_to_string(hardware, ','),"
		"       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		"       to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		"       coalesce(to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
		"  FROM t_fw_release ORDER BY package, version";
	pg_session *db = firmware_db_open(o->conninfo);
	PGresult *res;
	int i, rc;

	if (db == NULL)
		return 1;
	res = firmware_db_query(db, "listing releases", PGRES_TUPLES_OK, sql, 0, NULL);
	rc = res != NULL ? 0 : 1;
	if (res != NULL) {
		printf("%-32s %12s %6s %-16s %-20s %-20s %s\n", "release", "bytes", "pieces", "hardware", "created",
		       "expires", "published");
		for (i = 0; i < PQntuples(res); i++)
			printf("%-32s %12s %6s %-16s %-20s %-20s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
			       PQgetvalue(res, i, 6));
	}
	PQclear(res);
	pg_session_free(db);
	return rc;
}
