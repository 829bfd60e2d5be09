/*
 * In-memory PKI for the cms unit tests: EC keys, a root CA, an
 * intermediate, leaves with subjectKeyIdentifier, CRLs, and PEM files in a
 * private temporary directory for the verifier (which reads files).
 */
#ifndef CMS_TEST_SUPPORT_H
#define CMS_TEST_SUPPORT_H

#include <openssl/x509.h>
#include "cms/smscms.h"

EVP_PKEY *cts_key(int nid);
/* issuer NULL: self-signed. serial must be unique per issuer. */
X509 *cts_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
               int is_ca, long serial);
/* CRL of issuer revoking the given serials (n may be 0). */
X509_CRL *cts_crl(X509 *issuer, EVP_PKEY *issuer_key, const long *serials, size_t n);
/* Identity from cert+key(+chain); asserts on failure. */
smscms_identity *cts_identity(X509 *cert, EVP_PKEY *key, X509 *chain1);

/* Private directory (created on first use) and PEM writers returning the path
 * in buf. */
const char *cts_dir(void);
void cts_dir_remove(void);
const char *cts_write_cert(const char *name, X509 *x, char *buf, size_t len);
const char *cts_write_crls(const char *name, X509_CRL *const *crls, size_t n, char *buf, size_t len);

/* A ready PKI on one curve: root -> ca -> leaves. */
struct cts_pki {
	int nid;
	EVP_PKEY *root_key, *ca_key;
	X509 *root, *ca;
};
void cts_pki_init(struct cts_pki *p, int nid, const char *tag);
void cts_pki_free(struct cts_pki *p);
/* A leaf identity under p->ca (key on curve nid, or p->nid when 0). */
smscms_identity *cts_leaf(struct cts_pki *p, const char *cn, long serial, int nid);

#endif
