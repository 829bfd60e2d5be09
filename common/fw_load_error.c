/* RFC 4108 load error codes; contract in fw_load_error.h. */
#include "common/fw_load_error.h"

#include <stddef.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
} codes[] = {
	{ 1, "decodeFailure" }, { 2, "badContentInfo" }, { 3, "badSignedData" }, { 4, "badEncapContent" },
	{ 5, "badCertificate" }, { 6, "badSignerInfo" }, { 7, "badSignedAttrs" }, { 8, "badUnsignedAttrs" },
	{ 9, "missingContent" }, { 10, "noTrustAnchor" }, { 11, "notAuthorized" }, { 12, "badDigestAlgorithm" },
	{ 13, "badSignatureAlgorithm" }, { 14, "unsupportedKeySize" }, { 15, "signatureFailure" },
	{ 16, "contentTypeMismatch" }, { 17, "badEncryptedData" }, { 18, "unprotectedAttrsPresent" },
	{ 19, "badEncryptContent" }, { 20, "badEncryptAlgorithm" }, { 21, "missingCiphertext" },
	{ 22, "noDecryptKey" }, { 23, "decryptFailure" }, { 24, "badCompressAlgorithm" },
	{ 25, "missingCompressedContent" }, { 26, "decompressFailure" }, { 27, "wrongHardware" },
	{ 28, "stalePackage" }, { 29, "notInCommunity" }, { 30, "unsupportedPackageType" },
	{ 31, "missingDependency" }, { 32, "wrongDependencyVersion" }, { 33, "insufficientMemory" },
	{ 34, "badFirmware" }, { 35, "unsupportedParameters" }, { 36, "breaksDependency" }, { 99, "otherError" },
};

const char *fw_load_error_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (codes[i].code == code)
			return codes[i].name;
	return NULL;
}

int fw_load_error_code(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	return -1;
}
