/*
 * Small OpenSSL helpers shared by the plugin and the services: reading a PEM
 * file, ASN1_TIME -> time_t, names and OpenSSL errors as log-safe text.
 * No global state; nothing here prints.
 */
#ifndef SMS_X509_UTIL_H
#define SMS_X509_UTIL_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

/* Every certificate and CRL of a PEM file; -1 with "<path>: <why>" in err. */
int x509_read_pem(const char *path, STACK_OF(X509_INFO) **out, char *err, size_t errlen);

/* Pushes every certificate of a PEM file onto out (which owns them then);
 * -1 with err when the file is unreadable or holds none. */
int x509_add_certs_from_pem(STACK_OF(X509) *out, const char *path, char *err, size_t errlen);

/* The first certificate of a PEM file (the caller frees it); NULL when the
 * file cannot be opened or holds none. */
X509 *x509_read_cert(const char *path);

/* Seconds since the epoch (UTC); 0 when t is NULL or unreadable. */
time_t x509_time(const ASN1_TIME *t);

/* RFC 2253 form with controls and every non-ASCII byte escaped: safe for logs. */
void x509_name_string(const X509_NAME *name, char *buf, size_t buflen);

/* The reason OpenSSL gave last, for messages; clears the error queue. */
const char *x509_ossl_reason(void);

#endif
