/*
 * A release's image on the device: its ciphertext pieces as they arrive,
 * each checked against the manifest's SHA-256 before it is written
 * (WORKDIR/piece.<n>, durably), and the decryption after the last one:
 * AES-256-GCM (AAD = the release id) and SHA-256 of the plaintext as one
 * stream, piece by piece, into a staging file. Memory stays bounded by one
 * read buffer whatever the image size. The staging file gets its final
 * name only when the GCM tag and the plaintext digest verified; a failed
 * check leaves nothing behind.
 */
#ifndef SMS_AGENT_FIRMWARE_IMAGE_H
#define SMS_AGENT_FIRMWARE_IMAGE_H

#include <stddef.h>

#include "common/fw_manifest.h"

typedef enum {
	FW_IMAGE_OK = 0,
	FW_IMAGE_IO,          /* a file could not be read or written (err says which) */
	FW_IMAGE_MISMATCH,    /* a piece's SHA-256 is not the manifest's */
	FW_IMAGE_TAG,         /* the GCM tag did not verify */
	FW_IMAGE_DIGEST,      /* the plaintext SHA-256 is not the manifest's */
	FW_IMAGE_SIZE         /* the pieces do not add up to the manifest's size */
} fw_image_result;

/* Stores piece n when it is the manifest's piece n (length and SHA-256,
 * fw_manifest_piece_ok): FW_IMAGE_OK, _MISMATCH (nothing written) or _IO
 * with err. */
fw_image_result fw_piece_store(const char *workdir, const fw_manifest *m, unsigned int n, const void *data,
                               size_t len, char *err, size_t errlen);

/* Decrypts WORKDIR/piece.0 .. piece.<n-1> with key (AAD m->release) into
 * staging (staging.tmp first). */
fw_image_result fw_image_decrypt(const char *workdir, const fw_manifest *m, const unsigned char key[FW_KEY_LEN],
                                 const char *staging, char *err, size_t errlen);

/* Whether the file's SHA-256 is sha256 (a staged image after a restart):
 * FW_IMAGE_OK, _DIGEST, or _IO with err. */
fw_image_result fw_image_check(const char *path, const unsigned char sha256[FW_DIGEST_LEN], char *err,
                               size_t errlen);

#endif
