/*
 * `sms-audit verify`: re-checks the whole store from the raw messages,
 * trusting nothing an earlier run wrote: every payload against its stored
 * SHA-256, the hash chain over all raw rows (audit_store.h: a row edited,
 * inserted or deleted by hand breaks it from there on), and every derived
 * row against a fresh analysis of the raw bytes with today's keys and CRLs
 * (a finding deleted or a verdict edited by hand shows). A message whose
 * originator was revoked after it was stored is named, but is no store
 * problem: analysed without the CRLs it matches, and the CRLs date the
 * revocation of its originator (or a CA above it) after its received_at.
 * Revoked at or before received_at, the auditor had recorded the
 * revocation, so rows that show none were edited: a problem. One line per problem on out (at most
 * VERIFY_MAX_LINES, then a count), progress on progress every 2 s.
 *
 * Limits: the chain has no secret, so someone who rewrites every row and
 * recomputes the chain from there on, or deletes the newest rows, is not
 * caught; keep a copy of `verify`'s final chain head elsewhere to pin it.
 */
#ifndef SMS_AUDIT_VERIFY_H
#define SMS_AUDIT_VERIFY_H

#include <stdio.h>

#include "services/audit/audit_config.h"

#define VERIFY_MAX_LINES 100

/* 0 when the store verifies, 1 when it does not, 2 when it could not be read. */
int audit_verify(const audit_config *cfg, FILE *out, FILE *progress);

#endif
