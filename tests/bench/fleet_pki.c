/* A fleet of device identities issued in-process; contract in fleet_pki.h. */
#include "tests/bench/fleet_pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/errf.h"
#include "common/x509_util.h"

#define EQ_MAX 80
#define LEAF_DAYS 730
#define CACHE_MAGIC "SMS-FLEET-PKI 2\n"

static const char *const pki_name[FLEET_NPKI] = { "tls", "e2e" };

/* sms-pki's [ ext_leaf_tls ] and [ ext_leaf_e2e ], in their order. */
static const struct leaf_ext { int nid; const char *value; int tls_only; } leaf_exts[] = {
	{ NID_basic_constraints, "critical, CA:false", 0 },
	{ NID_key_usage, "critical, digitalSignature, keyAgreement", 0 },
	{ NID_ext_key_usage, "clientAuth", 1 },
	{ NID_subject_key_identifier, "hash", 0 },
	{ NID_authority_key_identifier, "keyid:always", 0 },
};

struct fleet_pki {
	char *ma, *acc;
	size_t n;
	int issued;
	char (*eq)[EQ_MAX];
	X509 **cert[FLEET_NPKI];
	EVP_PKEY **key[FLEET_NPKI];
	STACK_OF(X509) *chain[FLEET_NPKI];
	X509 *root[FLEET_NPKI];
	EVP_PKEY *ca_key[FLEET_NPKI]; /* only while issuing */
};

static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	const char *p = getenv("SMS_PKI_PASSPHRASE");
	size_t len;

	(void)rwflag;
	(void)u;
	if (p == NULL)
		return -1;
	len = strlen(p);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, p, len);
	return (int)len;
}

static X509 *read_cert_at(const char *dir, const char *pki, const char *rel, char *err, size_t errlen)
{
	char path[4096];
	X509 *x;

	snprintf(path, sizeof path, "%s/%s/%s", dir, pki, rel);
	x = x509_read_cert(path);
	if (x == NULL)
		errf(err, errlen, "%s: no certificate (run sms-pki init/master/account first)", path);
	return x;
}

/* Root, chain (account CA, master-account CA) and the account CA's key. */
static int load_cas(fleet_pki *f, const char *dir, int p, char *err, size_t errlen)
{
	char rel[512], path[4096];
	X509 *acc = NULL, *ma = NULL;
	FILE *kf = NULL;
	int rc = -1;

	f->root[p] = read_cert_at(dir, pki_name[p], "root/ca.crt", err, errlen);
	snprintf(rel, sizeof rel, "ma/%s/acc/%s/ca.crt", f->ma, f->acc);
	if (f->root[p] == NULL || (acc = read_cert_at(dir, pki_name[p], rel, err, errlen)) == NULL)
		goto out;
	snprintf(rel, sizeof rel, "ma/%s/ca.crt", f->ma);
	if ((ma = read_cert_at(dir, pki_name[p], rel, err, errlen)) == NULL)
		goto out;
	if ((f->chain[p] = sk_X509_new_null()) == NULL || !sk_X509_push(f->chain[p], acc))
		goto out;
	acc = NULL;
	if (!sk_X509_push(f->chain[p], ma))
		goto out;
	ma = NULL;
	snprintf(path, sizeof path, "%s/private/%s/ma/%s/acc/%s/ca.key", dir, pki_name[p], f->ma, f->acc);
	if ((kf = fopen(path, "r")) == NULL) {
		errf(err, errlen, "%s: %s (the account CA's key; is the private tree here?)", path, strerror(errno));
		goto out;
	}
	f->ca_key[p] = PEM_read_PrivateKey(kf, NULL, passphrase_cb, NULL);
	if (f->ca_key[p] == NULL) {
		errf(err, errlen, "%s: unusable (%s; an encrypted key needs SMS_PKI_PASSPHRASE)", path, x509_ossl_reason());
		goto out;
	}
	if (X509_check_private_key(sk_X509_value(f->chain[p], 0), f->ca_key[p]) != 1) {
		errf(err, errlen, "%s does not match %s/ma/%s/acc/%s/ca.crt", path, pki_name[p], f->ma, f->acc);
		goto out;
	}
	rc = 0;
out:
	if (kf != NULL)
		fclose(kf);
	X509_free(acc);
	X509_free(ma);
	if (rc != 0 && err != NULL && errlen > 0 && err[0] == '\0')
		errf(err, errlen, "loading the %s CAs: out of memory", pki_name[p]);
	return rc;
}

/* The digest sms-pki's digest_for picks for a CA key of that strength. */
static const EVP_MD *digest_for(EVP_PKEY *ca_key)
{
	int bits = EVP_PKEY_get_bits(ca_key);

	return bits >= 521 ? EVP_sha512() : bits >= 384 ? EVP_sha384() : EVP_sha256();
}

static int add_name(X509_NAME *name, int nid, int type, const char *v)
{
	return X509_NAME_add_entry_by_NID(name, nid, type, (const unsigned char *)v, -1, -1, 0);
}

/* Subject as `openssl req -subj /O=../OU=../serialNumber=../CN=..` under
 * sms-pki's string_mask utf8only (serialNumber stays PrintableString). */
static X509_NAME *device_subject(const fleet_pki *f, const char *eq)
{
	X509_NAME *name = X509_NAME_new();

	if (name == NULL || !add_name(name, NID_organizationName, MBSTRING_UTF8, f->ma) ||
	    !add_name(name, NID_organizationalUnitName, MBSTRING_UTF8, f->acc) ||
	    !add_name(name, NID_serialNumber, MBSTRING_ASC, eq) ||
	    !add_name(name, NID_commonName, MBSTRING_UTF8, eq)) {
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}

static int random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn != NULL && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok;
}

static int add_leaf_extensions(X509 *x, X509 *issuer, int p)
{
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof leaf_exts / sizeof leaf_exts[0]; i++) {
		X509_EXTENSION *ext;
		int ok;

		if (leaf_exts[i].tls_only && p != FLEET_TLS)
			continue;
		ext = X509V3_EXT_nconf_nid(NULL, &ctx, leaf_exts[i].nid, leaf_exts[i].value);
		ok = ext != NULL && X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		if (!ok)
			return 0;
	}
	return 1;
}

static int issue_leaf(fleet_pki *f, int p, size_t i, char *err, size_t errlen)
{
	X509 *issuer = sk_X509_value(f->chain[p], 0), *x = X509_new();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_NAME *subject = device_subject(f, f->eq[i]);
	int rc = -1;

	if (x == NULL || key == NULL || subject == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !random_serial(x) || !X509_set_issuer_name(x, X509_get_subject_name(issuer)) ||
	    !X509_set_subject_name(x, subject) || !X509_set_pubkey(x, key) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), LEAF_DAYS, 0, NULL) == NULL ||
	    !add_leaf_extensions(x, issuer, p) || X509_sign(x, f->ca_key[p], digest_for(f->ca_key[p])) <= 0) {
		errf(err, errlen, "issuing %s device %s: %s", pki_name[p], f->eq[i], x509_ossl_reason());
		goto out;
	}
	f->cert[p][i] = x;
	f->key[p][i] = key;
	x = NULL;
	key = NULL;
	rc = 0;
out:
	X509_NAME_free(subject);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int issue_fleet(fleet_pki *f, FILE *progress, char *err, size_t errlen)
{
	for (size_t i = 0; i < f->n; i++) {
		for (int p = 0; p < FLEET_NPKI; p++)
			if (issue_leaf(f, p, i, err, errlen) != 0)
				return -1;
		if (progress != NULL && (i + 1) % 2000 == 0)
			fprintf(progress, "fleet_pki: issued %zu of %zu devices\n", i + 1, f->n);
	}
	f->issued = 1;
	return 0;
}

static int digest_cert(EVP_MD_CTX *md, X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der), ok = len > 0 && EVP_DigestUpdate(md, der, (size_t)len);

	OPENSSL_free(der);
	return ok;
}

/* CACHE_DIR/fleet-<hash>.der, hash over what makes the fleet valid. */
static int cache_path(const fleet_pki *f, const char *prefix, const char *cache_dir, char *path, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	char params[512], hex[33];
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	snprintf(params, sizeof params, "%s|%s|%s|%zu", f->ma, f->acc, prefix, f->n);
	for (int p = 0; ok && p < FLEET_NPKI; p++)
		ok = digest_cert(md, f->root[p]) && digest_cert(md, sk_X509_value(f->chain[p], 0));
	ok = ok && EVP_DigestUpdate(md, params, strlen(params)) && EVP_DigestFinal_ex(md, h, &hlen);
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(path, len, "%s/fleet-%s.der", cache_dir, hex);
	return 0;
}

static int put_der(FILE *out, const unsigned char *der, int len)
{
	uint32_t l = (uint32_t)len;

	return len > 0 && fwrite(&l, sizeof l, 1, out) == 1 && fwrite(der, 1, (size_t)len, out) == (size_t)len;
}

/* The key as its raw private scalar: OpenSSL 3's DER key decoders take
 * ~0.3 ms a key, EVP_PKEY_fromdata with the certificate's public point a
 * fraction of that. */
static int put_leaf(FILE *out, X509 *x, EVP_PKEY *k)
{
	unsigned char *c = NULL, priv[66];
	int cl = i2d_X509(x, &c), pl = -1;
	BIGNUM *d = NULL;
	int ok;

	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) && BN_num_bytes(d) <= (int)sizeof priv)
		pl = BN_bn2bin(d, priv);
	ok = put_der(out, c, cl) && put_der(out, priv, pl);
	OPENSSL_free(c);
	BN_clear_free(d);
	OPENSSL_cleanse(priv, sizeof priv);
	return ok;
}

/* Written to a temporary file and renamed, so a reader never sees half. */
static int cache_write(const fleet_pki *f, const char *cache_dir, const char *path, char *err, size_t errlen)
{
	char tmp[4200];
	FILE *out = NULL;
	int ok, fd;

	if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST)
		return errf(err, errlen, "%s: %s", cache_dir, strerror(errno));
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (out = fdopen(fd, "wb")) == NULL) {
		if (fd >= 0)
			close(fd);
		return errf(err, errlen, "%s: %s", tmp, strerror(errno));
	}
	ok = fputs(CACHE_MAGIC, out) >= 0;
	for (size_t i = 0; ok && i < f->n; i++)
		for (int p = 0; ok && p < FLEET_NPKI; p++)
			ok = put_leaf(out, f->cert[p][i], f->key[p][i]);
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return errf(err, errlen, "writing %s failed", path);
	}
	return 0;
}

static unsigned char *get_der(FILE *in, unsigned char *buf, size_t cap, long *len)
{
	uint32_t l;

	if (fread(&l, sizeof l, 1, in) != 1 || l == 0 || l > cap || fread(buf, 1, l, in) != l)
		return NULL;
	*len = (long)l;
	return buf;
}

/* OSSL_PARAM integers are native-endian, hence BN_bn2nativepad. */
static EVP_PKEY *key_from_scalar(EVP_PKEY_CTX *pctx, X509 *x, const unsigned char *priv, long len)
{
	EVP_PKEY *pub = X509_get0_pubkey(x), *k = NULL;
	unsigned char point[133], native[66];
	char group[64];
	size_t plen = 0, glen = 0;
	BIGNUM *d = BN_bin2bn(priv, (int)len, NULL);
	OSSL_PARAM params[4];

	if (d == NULL || pub == NULL || len > (long)sizeof native || BN_bn2nativepad(d, native, (int)len) < 0 ||
	    !EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) ||
	    !EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen))
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, plen);
	params[2] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native, (size_t)len);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(pctx, &k, EVP_PKEY_KEYPAIR, params) <= 0)
		k = NULL;
out:
	OPENSSL_cleanse(native, sizeof native);
	BN_clear_free(d);
	return k;
}

static int get_leaf(FILE *in, EVP_PKEY_CTX *pctx, X509 **x, EVP_PKEY **k)
{
	unsigned char buf[8192];
	const unsigned char *p;
	long len = 0;

	if ((p = get_der(in, buf, sizeof buf, &len)) == NULL || (*x = d2i_X509(NULL, &p, len)) == NULL)
		return 0;
	if ((p = get_der(in, buf, 66, &len)) == NULL)
		return 0;
	*k = key_from_scalar(pctx, *x, p, len);
	OPENSSL_cleanse(buf, sizeof buf);
	return *k != NULL;
}

/* 1 loaded, 0 no usable cache (absent, short, or expiring within a day). */
static int cache_read(fleet_pki *f, const char *path)
{
	char magic[sizeof CACHE_MAGIC];
	FILE *in = fopen(path, "rb");
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	int ok;

	if (in == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0) {
		if (in != NULL)
			fclose(in);
		EVP_PKEY_CTX_free(pctx);
		return 0;
	}
	ok = fread(magic, 1, strlen(CACHE_MAGIC), in) == strlen(CACHE_MAGIC) &&
	     memcmp(magic, CACHE_MAGIC, strlen(CACHE_MAGIC)) == 0;
	for (size_t i = 0; ok && i < f->n; i++)
		for (int p = 0; ok && p < FLEET_NPKI; p++)
			ok = get_leaf(in, pctx, &f->cert[p][i], &f->key[p][i]);
	ok = ok && fgetc(in) == EOF;
	fclose(in);
	EVP_PKEY_CTX_free(pctx);
	if (ok && x509_time(X509_get0_notAfter(f->cert[FLEET_TLS][0])) < time(NULL) + 86400)
		ok = 0;
	for (size_t i = 0; !ok && i < f->n; i++)
		for (int p = 0; p < FLEET_NPKI; p++) {
			X509_free(f->cert[p][i]);
			EVP_PKEY_free(f->key[p][i]);
			f->cert[p][i] = NULL;
			f->key[p][i] = NULL;
		}
	return ok;
}

static int alloc_fleet(fleet_pki *f, const char *ma, const char *acc, const char *prefix, size_t n)
{
	f->n = n;
	f->ma = strdup(ma);
	f->acc = strdup(acc);
	f->eq = calloc(n ? n : 1, sizeof *f->eq);
	if (f->ma == NULL || f->acc == NULL || f->eq == NULL)
		return 0;
	for (int p = 0; p < FLEET_NPKI; p++) {
		f->cert[p] = calloc(n ? n : 1, sizeof *f->cert[p]);
		f->key[p] = calloc(n ? n : 1, sizeof *f->key[p]);
		if (f->cert[p] == NULL || f->key[p] == NULL)
			return 0;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(f->eq[i], EQ_MAX, "%s%05zu", prefix, i);
	return 1;
}

fleet_pki *fleet_pki_open(const char *pki_dir, const char *ma, const char *acc, const char *prefix,
                          size_t n, const char *cache_dir, FILE *progress, char *err, size_t errlen)
{
	fleet_pki *f = calloc(1, sizeof *f);
	char path[4096];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (f == NULL || !alloc_fleet(f, ma, acc, prefix, n)) {
		errf(err, errlen, "fleet of %zu devices: out of memory", n);
		goto fail;
	}
	if (strlen(prefix) + 5 >= 64 || strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") !=
	                                    strlen(prefix)) {
		errf(err, errlen, "prefix '%s': EQ is 1-64 of A-Z a-z 0-9 - . (serialNumber is a PrintableString)", prefix);
		goto fail;
	}
	for (int p = 0; p < FLEET_NPKI; p++)
		if (load_cas(f, pki_dir, p, err, errlen) != 0)
			goto fail;
	if (cache_path(f, prefix, cache_dir, path, sizeof path) != 0) {
		errf(err, errlen, "hashing the CAs: %s", x509_ossl_reason());
		goto fail;
	}
	if (!cache_read(f, path) &&
	    (issue_fleet(f, progress, err, errlen) != 0 || cache_write(f, cache_dir, path, err, errlen) != 0))
		goto fail;
	for (int p = 0; p < FLEET_NPKI; p++) {
		EVP_PKEY_free(f->ca_key[p]);
		f->ca_key[p] = NULL;
	}
	return f;
fail:
	fleet_pki_free(f);
	return NULL;
}

void fleet_pki_free(fleet_pki *f)
{
	if (f == NULL)
		return;
	for (int p = 0; p < FLEET_NPKI; p++) {
		for (size_t i = 0; f->cert[p] != NULL && i < f->n; i++) {
			X509_free(f->cert[p][i]);
			EVP_PKEY_free(f->key[p] ? f->key[p][i] : NULL);
		}
		free(f->cert[p]);
		free(f->key[p]);
		sk_X509_pop_free(f->chain[p], X509_free);
		X509_free(f->root[p]);
		EVP_PKEY_free(f->ca_key[p]);
	}
	free(f->eq);
	free(f->ma);
	free(f->acc);
	free(f);
}

size_t fleet_pki_count(const fleet_pki *f) { return f->n; }
int fleet_pki_issued(const fleet_pki *f) { return f->issued; }
const char *fleet_pki_equipment(const fleet_pki *f, size_t i) { return f->eq[i]; }
const char *fleet_pki_ma(const fleet_pki *f) { return f->ma; }
const char *fleet_pki_acc(const fleet_pki *f) { return f->acc; }
X509 *fleet_pki_cert(const fleet_pki *f, int pki, size_t i) { return f->cert[pki][i]; }
EVP_PKEY *fleet_pki_key(const fleet_pki *f, int pki, size_t i) { return f->key[pki][i]; }
STACK_OF(X509) *fleet_pki_chain(const fleet_pki *f, int pki) { return f->chain[pki]; }

/* mkdir -p with sms-pki's modes: public directories 0755. */
static int mkdirs(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_pem(const char *dir, const char *name, mode_t mode, X509 *leaf, STACK_OF(X509) *chain,
                     EVP_PKEY *key)
{
	char path[4200];
	FILE *out;
	int fd, ok = 1;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL);
	if (ok && leaf != NULL)
		ok = PEM_write_X509(out, leaf);
	for (int i = 0; ok && chain != NULL && i < sk_X509_num(chain); i++)
		ok = PEM_write_X509(out, sk_X509_value(chain, i));
	return fclose(out) == 0 && ok;
}

int fleet_pki_write_device(const fleet_pki *f, size_t i, const char *out, char *err, size_t errlen)
{
	char dir[4096];

	if (i >= f->n)
		return errf(err, errlen, "device %zu: the fleet has %zu", i, f->n);
	for (int p = 0; p < FLEET_NPKI; p++) {
		snprintf(dir, sizeof dir, "%s/%s/ma/%s/acc/%s/dev/%s", out, pki_name[p], f->ma, f->acc, f->eq[i]);
		if (mkdirs(dir) != 0)
			return errf(err, errlen, "%s: %s", dir, strerror(errno));
		if (!write_pem(dir, "key.pem", 0600, NULL, NULL, f->key[p][i]) ||
		    !write_pem(dir, "cert.pem", 0644, f->cert[p][i], NULL, NULL) ||
		    !write_pem(dir, "chain.pem", 0644, NULL, f->chain[p], NULL) ||
		    !write_pem(dir, "fullchain.pem", 0644, f->cert[p][i], f->chain[p], NULL))
			return errf(err, errlen, "writing %s: %s", dir, strerror(errno));
	}
	return 0;
}
