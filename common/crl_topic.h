/*
 * The shared CRL namespace (DESIGN.md "The way back"): every CA's current
 * CRL, DER, retained on
 *
 *   sms/crl/<pki>/<issuer key id>
 *
 * <pki> is "tls" or "e2e"; <issuer key id> is the keyIdentifier of the
 * CRL's authorityKeyIdentifier extension (which crl_set checks equals the
 * issuing CA's subjectKeyIdentifier), in lowercase hex without separators
 * (sms-pki: 40 digits, the SHA-1 of the CA's public key). A CRL without an
 * authorityKeyIdentifier keyIdentifier has no topic and is not published.
 *
 * Also the crlNumber comparison that publisher and agent share. No state.
 */
#ifndef SMS_CRL_TOPIC_H
#define SMS_CRL_TOPIC_H

#include <stddef.h>

#include <openssl/x509.h>

#define CRL_TOPIC_PREFIX "sms/crl/"
#define CRL_TOPIC_FILTER "sms/crl/#"
#define CRL_KEYID_MAX 64                        /* keyIdentifier bytes accepted */
#define CRL_KEYID_HEX_MAX (2 * CRL_KEYID_MAX + 1)
#define CRL_TOPIC_MAX (sizeof CRL_TOPIC_PREFIX + 4 + CRL_KEYID_HEX_MAX)

typedef enum { CRL_PKI_TLS = 0, CRL_PKI_E2E = 1, CRL_PKI_COUNT } crl_pki;

const char *crl_pki_name(crl_pki pki);

/* The issuer key id of crl in hex[CRL_KEYID_HEX_MAX]; 0, or -1 with err. */
int crl_issuer_key_id(const X509_CRL *crl, char *hex, size_t hexlen, char *err, size_t errlen);
/* "sms/crl/<pki>/<key id>" of crl into buf; 0, or -1 with err. */
int crl_topic_for(crl_pki pki, const X509_CRL *crl, char *buf, size_t len, char *err, size_t errlen);
/* Splits a topic of that form (lowercase hex, even length, at most
 * CRL_KEYID_MAX bytes); 0, or -1 with err. */
int crl_topic_parse(const char *topic, crl_pki *pki, char *hex, size_t hexlen, char *err, size_t errlen);

/* crlNumber of a against b: *cmp <0, 0, >0. -1 when either has none (or
 * it does not decode). */
int crl_number_cmp(const X509_CRL *a, const X509_CRL *b, int *cmp);
/* crlNumber as decimal text ("none" without one). */
void crl_number_string(const X509_CRL *crl, char *buf, size_t len);

#endif
