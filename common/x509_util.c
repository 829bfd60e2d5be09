/* OpenSSL helpers; contract in x509_util.h. */
#include "common/x509_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

int x509_read_pem(const char *path, STACK_OF(X509_INFO) **out, char *err, size_t errlen)
{
	BIO *bio = BIO_new_file(path, "r");

	*out = NULL;
	if (!bio) {
		snprintf(err, errlen, "%s: cannot be read (%s)", path, strerror(errno));
		ERR_clear_error();
		return -1;
	}
	*out = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!*out) {
		snprintf(err, errlen, "%s: not PEM (%s)", path, x509_ossl_reason());
		return -1;
	}
	return 0;
}

X509 *x509_read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return x;
}

time_t x509_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

void x509_name_string(const X509_NAME *name, char *buf, size_t buflen)
{
	BIO *bio;
	char *data;
	long n;

	if (!buflen)
		return;
	snprintf(buf, buflen, "(unprintable name)");
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	/* RFC 2253 escapes controls and every non-ASCII byte (of the UTF-8
	 * form): a hostile name cannot forge log lines or terminal codes. */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_get_mem_data(bio, &data);
		if (n >= 0)
			snprintf(buf, buflen, "%.*s", (int)(n < (long)buflen ? n : (long)buflen - 1), data);
	}
	BIO_free(bio);
	ERR_clear_error();
}

const char *x509_ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

int x509_add_certs_from_pem(STACK_OF(X509) *out, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos = NULL;
	int i, added = 0, rc = -1;

	if (x509_read_pem(path, &infos, err, errlen) != 0)
		return -1;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509 == NULL)
			continue;
		if (!sk_X509_push(out, xi->x509)) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		xi->x509 = NULL; /* owned by out now */
		added++;
	}
	if (added == 0) {
		snprintf(err, errlen, "%s holds no certificate", path);
		goto out;
	}
	rc = 0;
out:
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return rc;
}
