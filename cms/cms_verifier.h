/*
 * Originator chain verification against the E2E trust root with CRLs, with
 * a bounded cache of certificates that already verified, keyed by the
 * certificate's SHA-256: CMS_VERIFIER_CACHE entries (a fleet of 10,000+
 * devices stays cached), open addressing over CMS_VERIFIER_PROBE slots,
 * the least recently used of them replaced when all are taken. Entries
 * expire at the certificate's notAfter and after CMS_VERIFIER_TTL seconds,
 * and the whole cache is emptied when the CRLs are reloaded.
 */
#ifndef CMS_VERIFIER_H
#define CMS_VERIFIER_H

#include "cms/cms_internal.h"

#define CMS_VERIFIER_CACHE 32768   /* a power of two; 48 bytes each */
#define CMS_VERIFIER_PROBE 8
#define CMS_VERIFIER_TTL 600

/* 1 when cert verified recently and no reload happened since. */
int cms_verifier_cached(smscms_verifier *v, X509 *cert);

/* SMSCMS_OK, SMSCMS_ERR_UNTRUSTED or SMSCMS_ERR_REVOKED (message in ctx). */
smscms_status cms_verifier_check(smscms_ctx *ctx, smscms_verifier *v, X509 *cert,
                                 STACK_OF(X509) *untrusted);

#endif
