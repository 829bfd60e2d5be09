/*
 * CRL files watched by a daemon, with the broker plugin's rules (crl_set.h):
 * every CRL verified against its issuer's key, a file with one bad CRL
 * refused whole, a replayed older CRL refused, and the previous set kept
 * whenever a new one is refused. Files are looked at every interval
 * seconds (and on demand, e.g. SIGHUP); a change is taken only when the
 * new set verifies. One log line per accepted reload (issuers, revoked
 * entries, earliest nextUpdate), one per refusal naming the file and
 * issuer, and a warning, at most once an hour, while any CRL's nextUpdate
 * is less than warn_before seconds away or already past.
 *
 * Single-threaded: the daemon's supervising thread polls it and hands a
 * new set to whatever verifies with it.
 */
#ifndef SMS_CRL_WATCH_H
#define SMS_CRL_WATCH_H

#include <stddef.h>
#include <time.h>

#include "common/conf_blocks.h"
#include "common/crl_set.h"

typedef struct crl_watch crl_watch;

/* issuer_files: PEM files with the CAs that sign the CRLs (trust root and
 * intermediates). Loads the first set; NULL with the reason in err. */
crl_watch *crl_watch_new(const char *what, const char *const *crl_files, size_t n_crl_files,
                         const char *const *issuer_files, size_t n_issuer_files, int interval,
                         time_t warn_before, char *err, size_t errlen);
void crl_watch_free(crl_watch *w);
/* crl_watch_new for an e2e configuration block: its crls, issued by its
 * trust_root and ca_certs, with its interval and crl_warn_days. Call only
 * when e->n_crls > 0. */
crl_watch *crl_watch_for_e2e(const char *what, const conf_e2e *e, char *err, size_t errlen);

/* The set in use. */
const struct crl_set *crl_watch_current(const crl_watch *w);

/* Looks at the files when interval passed since the last look (or force):
 * 1 when a new set was accepted (crl_watch_current changed), 0 when
 * nothing changed, -1 when a changed file was refused (logged; the previous
 * set stays in use). Also emits the nextUpdate warning. */
int crl_watch_poll(crl_watch *w, time_t now, int force);

#endif
