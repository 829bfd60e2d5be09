/*
 * Is this certificate a vendor role? Issued directly by the services CA
 * (issuer name and key identifier match, and the CA's key verifies its
 * signature) and its subject is CN=<role> and nothing else
 * (identity.h IDENTITY_ROLE). The caller has verified the chain to the
 * root (and the CRLs) already; this only pins who the signer must be, so a
 * customer's CA cannot mint a "vendor" role. No global state.
 */
#ifndef SMS_ROLE_CERT_H
#define SMS_ROLE_CERT_H

#include <stddef.h>

#include <openssl/x509.h>

/* 0, or -1 with "<label>: ..." in err. */
int role_cert_check(X509 *cert, X509 *services_ca, const char *role, const char *label, char *err, size_t errlen);

#endif
