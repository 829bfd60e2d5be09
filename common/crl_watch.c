/* CRL files watched by a daemon; contract in crl_watch.h. */
#include "common/crl_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/x509_util.h"

#define CRL_WARN_EVERY_S 3600

struct crl_watch {
	char *what;                 /* "E2E CRLs", for log lines */
	char **files;
	size_t n_files;
	STACK_OF(X509) *issuers;
	int interval;
	time_t warn_before, last_look, last_warning;
	struct crl_set *current;
	struct stat *refused;       /* the files as they were when last refused */
};

/* 1 when the files are exactly as they were at the last refusal, so the
 * same refusal is not logged again every interval. */
static int same_as_refused(crl_watch *w, int remember)
{
	struct stat st;
	size_t i;
	int same = w->refused != NULL && !remember;

	if (w->refused == NULL && (w->refused = calloc(w->n_files, sizeof *w->refused)) == NULL)
		return 0;
	for (i = 0; i < w->n_files; i++) {
		if (stat(w->files[i], &st) != 0)
			memset(&st, 0, sizeof st);
		if (st.st_mtim.tv_sec != w->refused[i].st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != w->refused[i].st_mtim.tv_nsec || st.st_size != w->refused[i].st_size ||
		    st.st_ino != w->refused[i].st_ino)
			same = 0;
		if (remember)
			w->refused[i] = st;
	}
	return same;
}

static void log_accepted(const crl_watch *w, const char *how)
{
	struct crl_set_summary sum;
	char when[32] = "none";
	struct tm tm;

	crl_set_summary(w->current, &sum);
	if (sum.earliest_next_update != 0 && gmtime_r(&sum.earliest_next_update, &tm) != NULL)
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	sms_log(LOG_LEVEL_INFO, "%s %s: %zu CRL(s) of %zu issuer(s) from %zu file(s), %zu revoked entries, "
	        "earliest nextUpdate %s", w->what, how, sum.crls, sum.issuers, sum.files, sum.revoked, when);
}

static void warn_expiring(crl_watch *w, time_t now)
{
	char list[768];
	int n;

	if (w->last_warning != 0 && now - w->last_warning < CRL_WARN_EVERY_S)
		return;
	n = crl_set_expiring(w->current, now, 0, list, sizeof list);
	if (n > 0) {
		sms_log(LOG_LEVEL_ERROR, "%s: %d CRL(s) past nextUpdate, every certificate they cover is refused "
		        "until new CRLs are published (sms-pki crl): %s", w->what, n, list);
		w->last_warning = now;
		return;
	}
	n = crl_set_expiring(w->current, now, w->warn_before, list, sizeof list);
	if (n > 0) {
		sms_log(LOG_LEVEL_WARNING, "%s: %d CRL(s) reach nextUpdate within %lld day(s); renew them "
		        "(sms-pki crl): %s", w->what, n, (long long)(w->warn_before / 86400), list);
		w->last_warning = now;
	}
}

crl_watch *crl_watch_new(const char *what, const char *const *crl_files, size_t n_crl_files,
                         const char *const *issuer_files, size_t n_issuer_files, int interval,
                         time_t warn_before, char *err, size_t errlen)
{
	crl_watch *w = calloc(1, sizeof *w);
	size_t i;

	if (w == NULL || (w->what = strdup(what)) == NULL || (w->issuers = sk_X509_new_null()) == NULL ||
	    (w->files = calloc(n_crl_files + 1, sizeof *w->files)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		goto fail;
	}
	for (i = 0; i < n_crl_files; i++) {
		if ((w->files[i] = strdup(crl_files[i])) == NULL) {
			snprintf(err, errlen, "%s: out of memory", what);
			goto fail;
		}
		w->n_files++;
	}
	for (i = 0; i < n_issuer_files; i++)
		if (x509_add_certs_from_pem(w->issuers, issuer_files[i], err, errlen) != 0)
			goto fail;
	w->interval = interval > 0 ? interval : 60;
	w->warn_before = warn_before;
	if (crl_set_load((const char *const *)w->files, w->n_files, w->issuers, NULL, &w->current, err,
	                 errlen) != 0)
		goto fail;
	w->last_look = time(NULL);
	log_accepted(w, "loaded");
	warn_expiring(w, w->last_look);
	return w;
fail:
	crl_watch_free(w);
	return NULL;
}

crl_watch *crl_watch_for_e2e(const char *what, const conf_e2e *e, char *err, size_t errlen)
{
	const char *issuers[CONF_MAX_CRLS + 1];
	size_t i;

	issuers[0] = e->trust_root;
	for (i = 0; i < e->n_ca_certs; i++)
		issuers[i + 1] = e->ca_certs[i];
	return crl_watch_new(what, (const char *const *)e->crls, e->n_crls, issuers, e->n_ca_certs + 1,
	                     e->crl_check_interval, (time_t)e->crl_warn_days * 86400, err, errlen);
}

void crl_watch_free(crl_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	crl_set_free(w->current);
	free(w->refused);
	sk_X509_pop_free(w->issuers, X509_free);
	for (i = 0; i < w->n_files; i++)
		free(w->files[i]);
	free(w->files);
	free(w->what);
	free(w);
}

const struct crl_set *crl_watch_current(const crl_watch *w)
{
	return w->current;
}

int crl_watch_poll(crl_watch *w, time_t now, int force)
{
	struct crl_set *fresh = NULL;
	char err[768];

	if (!force && now - w->last_look < w->interval)
		return 0;
	w->last_look = now;
	warn_expiring(w, now);
	if (!force && (!crl_set_files_changed(w->current) || same_as_refused(w, 0)))
		return 0;
	if (crl_set_load((const char *const *)w->files, w->n_files, w->issuers, w->current, &fresh, err,
	                 sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "%s refused, keeping the previous ones: %s", w->what, err);
		same_as_refused(w, 1);
		return -1;
	}
	crl_set_free(w->current);
	w->current = fresh;
	log_accepted(w, "reloaded");
	w->last_warning = 0;
	warn_expiring(w, now);
	return 1;
}
