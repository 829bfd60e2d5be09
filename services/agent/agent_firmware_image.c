/* Pieces and the streaming decryption; contract in agent_firmware_image.h. */
#include "services/agent/agent_firmware_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/write_all.h"
#include "services/agent/agent_firmware_fs.h"

#define READ_CHUNK (64 * 1024)

fw_image_result fw_piece_store(const char *workdir, const fw_manifest *m, unsigned int n, const void *data,
                               size_t len, char *err, size_t errlen)
{
	char name[32];

	if (!fw_manifest_piece_ok(m, n, data, len)) {
		snprintf(err, errlen, "piece %u (%zu bytes): length or SHA-256 differs from the manifest's", n, len);
		return FW_IMAGE_MISMATCH;
	}
	snprintf(name, sizeof name, "piece.%u", n);
	return fw_fs_replace(workdir, name, data, len, err, errlen) == 0 ? FW_IMAGE_OK : FW_IMAGE_IO;
}

/* One piece through the cipher and the digest into out. */
static fw_image_result decrypt_piece(const char *workdir, unsigned int n, EVP_CIPHER_CTX *c, EVP_MD_CTX *md,
                                     int out, unsigned char *in_buf, unsigned char *out_buf,
                                     unsigned long long *total, char *err, size_t errlen)
{
	char path[4096];
	int fd, outl;
	ssize_t r;
	fw_image_result res = FW_IMAGE_IO;

	snprintf(path, sizeof path, "%s/piece.%u", workdir, n);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return FW_IMAGE_IO;
	}
	for (;;) {
		r = read(fd, in_buf, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: read failed: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (EVP_DecryptUpdate(c, out_buf, &outl, in_buf, (int)r) != 1 ||
		    EVP_DigestUpdate(md, out_buf, (size_t)outl) != 1) {
			snprintf(err, errlen, "%s: AES-GCM or SHA-256 failed", path);
			goto out;
		}
		if (write_all(out, out_buf, (size_t)outl) != 0) {
			snprintf(err, errlen, "staging: write failed: %s", strerror(errno));
			goto out;
		}
		*total += (unsigned long long)r;
	}
	res = FW_IMAGE_OK;
out:
	close(fd);
	return res;
}

static fw_image_result finish(EVP_CIPHER_CTX *c, EVP_MD_CTX *md, const fw_manifest *m, unsigned long long total,
                              char *err, size_t errlen)
{
	unsigned char digest[EVP_MAX_MD_SIZE], last[32];
	unsigned int dlen = 0;
	int outl = 0;

	if (total != (unsigned long long)m->size) {
		snprintf(err, errlen, "the pieces hold %llu bytes, the manifest says %lld", total, m->size);
		return FW_IMAGE_SIZE;
	}
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, FW_TAG_LEN, (void *)m->tag) != 1) {
		snprintf(err, errlen, "AES-GCM: cannot set the tag");
		return FW_IMAGE_IO;
	}
	if (EVP_DecryptFinal_ex(c, last, &outl) != 1) {
		snprintf(err, errlen, "AES-GCM tag does not verify (wrong key, or a tampered image)");
		return FW_IMAGE_TAG;
	}
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != FW_DIGEST_LEN) {
		snprintf(err, errlen, "SHA-256 failed");
		return FW_IMAGE_IO;
	}
	if (CRYPTO_memcmp(digest, m->sha256, FW_DIGEST_LEN) != 0) {
		snprintf(err, errlen, "the decrypted image's SHA-256 differs from the manifest's");
		return FW_IMAGE_DIGEST;
	}
	return FW_IMAGE_OK;
}

static fw_image_result start(EVP_CIPHER_CTX *c, EVP_MD_CTX *md, const fw_manifest *m, const unsigned char *key,
                             char *err, size_t errlen)
{
	int outl;

	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, FW_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, key, m->nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)m->release, (int)strlen(m->release)) != 1 ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "AES-256-GCM or SHA-256 setup failed");
		return FW_IMAGE_IO;
	}
	return FW_IMAGE_OK;
}

fw_image_result fw_image_decrypt(const char *workdir, const fw_manifest *m, const unsigned char key[FW_KEY_LEN],
                                 const char *staging, char *err, size_t errlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *in_buf = malloc(READ_CHUNK), *out_buf = malloc(READ_CHUNK + 32);
	unsigned long long total = 0;
	char tmp[4096];
	int out = -1;
	unsigned int i;
	fw_image_result res = FW_IMAGE_IO;

	snprintf(tmp, sizeof tmp, "%s.tmp", staging);
	if (c == NULL || md == NULL || in_buf == NULL || out_buf == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	if ((res = start(c, md, m, key, err, errlen)) != FW_IMAGE_OK)
		goto out;
	for (i = 0; i < m->n_pieces; i++)
		if ((res = decrypt_piece(workdir, i, c, md, out, in_buf, out_buf, &total, err, errlen)) != FW_IMAGE_OK)
			goto out;
	if ((res = finish(c, md, m, total, err, errlen)) != FW_IMAGE_OK)
		goto out;
	if (fsync(out) != 0 || close(out) != 0 || rename(tmp, staging) != 0) {
		out = -1;
		snprintf(err, errlen, "%s: cannot be made durable: %s", staging, strerror(errno));
		res = FW_IMAGE_IO;
		goto out;
	}
	out = -1;
	res = FW_IMAGE_OK;
out:
	if (out >= 0)
		close(out);
	if (res != FW_IMAGE_OK)
		unlink(tmp);
	free(in_buf);
	free(out_buf);
	EVP_MD_CTX_free(md);
	EVP_CIPHER_CTX_free(c);
	return res;
}

fw_image_result fw_image_check(const char *path, const unsigned char sha256[FW_DIGEST_LEN], char *err,
                               size_t errlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(READ_CHUNK), digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	fw_image_result res = FW_IMAGE_IO;

	if (fd < 0 || md == NULL || buf == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "%s: cannot be read: %s", path, fd < 0 ? strerror(errno) : "out of memory");
		goto out;
	}
	while ((r = read(fd, buf, READ_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
			snprintf(err, errlen, "%s: read or SHA-256 failed", path);
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1) {
		snprintf(err, errlen, "%s: SHA-256 failed", path);
		goto out;
	}
	res = CRYPTO_memcmp(digest, sha256, FW_DIGEST_LEN) == 0 ? FW_IMAGE_OK : FW_IMAGE_DIGEST;
	if (res != FW_IMAGE_OK)
		snprintf(err, errlen, "%s: SHA-256 differs from the manifest's", path);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	EVP_MD_CTX_free(md);
	return res;
}
