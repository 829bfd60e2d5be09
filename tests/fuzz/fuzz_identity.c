/*
 * libFuzzer target for certificate subject -> SMS identity
 * (common/identity.c, the identifier grammar) and the log-safe forms of
 * names and strings (x509_name_string, log_escape). Input: a DER Name.
 * An accepted identity must satisfy the grammar and the escaped text must
 * hold nothing a log line could be forged with.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/ident_grammar.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/x509_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)size);
	char err[160], text[512], escaped[256], raw[128];
	identity id;

	if (!name)
		return 0;
	x509_name_string(name, text, sizeof(text));
	no_controls(text);
	if (identity_from_subject(name, &id, err, sizeof(err)) == 0) {
		if (id.kind == IDENTITY_ROLE ? !ident_valid(id.role, strlen(id.role))
					     : !ident_valid(id.master, strlen(id.master)))
			__builtin_trap();
		no_controls(id.name);
	}
	/* log_escape takes a C string: the input's first bytes, terminated. */
	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw) - 1);
	raw[size < sizeof(raw) ? size : sizeof(raw) - 1] = '\0';
	log_escape(raw, escaped, sizeof(escaped));
	no_controls(escaped);
	X509_NAME_free(name);
	return 0;
}
