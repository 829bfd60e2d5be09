/* The agent's CRL store; contract in agent_crl.h. */
#include "services/agent/agent_crl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crl_set.h"
#include "common/log.h"
#include "common/x509_util.h"
#include "common/write_all.h"

struct agent_crl {
	char *dir;
	int dirfd;
	STACK_OF(X509) *cas[CRL_PKI_COUNT];
	STACK_OF(X509_CRL) *held[CRL_PKI_COUNT];
};

/* ------------------------------------------------------------ checks */

static void describe(const X509_CRL *crl, char *buf, size_t len)
{
	char issuer[256], number[64];

	x509_name_string(X509_CRL_get_issuer(crl), issuer, sizeof issuer);
	crl_number_string(crl, number, sizeof number);
	snprintf(buf, len, "CRL of %s, crlNumber %s", issuer, number);
}

/* The held CRL with issuer key id hex, or -1. */
static int held_index(const agent_crl *s, crl_pki pki, const char *hex)
{
	char id[CRL_KEYID_HEX_MAX], err[100];
	int i;

	for (i = 0; i < sk_X509_CRL_num(s->held[pki]); i++)
		if (crl_issuer_key_id(sk_X509_CRL_value(s->held[pki], i), id, sizeof id, err, sizeof err) == 0 &&
		    strcmp(id, hex) == 0)
			return i;
	return -1;
}

/* Decodes and checks one CRL for (pki, hex) without looking at what is
 * held. *out on AGENT_CRL_STORED. */
static agent_crl_verdict check_crl(const agent_crl *s, crl_pki pki, const char *hex, const unsigned char *der,
                                   size_t len, X509_CRL **out, char *why, size_t whylen)
{
	const unsigned char *p = der;
	char id[CRL_KEYID_HEX_MAX], err[160], what[400];
	ASN1_INTEGER *number;
	X509_CRL *crl;
	bool known;

	*out = NULL;
	if (len == 0 || len > AGENT_CRL_MAX_DER) {
		snprintf(why, whylen, "%zu bytes is not a CRL we take (1..%d)", len, AGENT_CRL_MAX_DER);
		return AGENT_CRL_REFUSED;
	}
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (crl == NULL || p != der + len) {
		snprintf(why, whylen, "not one DER CRL (%s)", crl ? "bytes after it" : x509_ossl_reason());
		X509_CRL_free(crl);
		return AGENT_CRL_REFUSED;
	}
	describe(crl, what, sizeof what);
	err[0] = '\0';
	if (crl_issuer_key_id(crl, id, sizeof id, err, sizeof err) != 0 || strcmp(id, hex) != 0) {
		snprintf(why, whylen, "%s: published for issuer key id %s, but %s", what, hex,
		         err[0] ? err : "it names another key");
		X509_CRL_free(crl);
		return AGENT_CRL_REFUSED;
	}
	number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	ASN1_INTEGER_free(number);
	if (number == NULL) {
		snprintf(why, whylen, "%s: no crlNumber, so no order against the one held", what);
		X509_CRL_free(crl);
		return AGENT_CRL_REFUSED;
	}
	if (!crl_set_verify_crl(crl, s->cas[pki], &known)) {
		snprintf(why, whylen, "%s: %s", what,
		         known ? "does not verify against its issuer's key" : "the issuer is none of our CAs");
		X509_CRL_free(crl);
		return known ? AGENT_CRL_REFUSED : AGENT_CRL_UNKNOWN;
	}
	*out = crl;
	return AGENT_CRL_STORED;
}

/* -------------------------------------------------------------- disk */

/* Temporary file, fsync, rename, fsync of the directory. */
static int store_file(agent_crl *s, const char *name, const unsigned char *der, size_t len, char *why,
                      size_t whylen)
{
	char tmp[300];
	int fd, saved;

	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "cannot create %s/%s: %s", s->dir, tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, der, len) != 0 || fsync(fd) != 0) {
		saved = errno;
		close(fd);
		unlinkat(s->dirfd, tmp, 0);
		snprintf(why, whylen, "cannot write %s/%s: %s", s->dir, tmp, strerror(saved));
		return -1;
	}
	if (close(fd) != 0 || renameat(s->dirfd, tmp, s->dirfd, name) != 0 || fsync(s->dirfd) != 0) {
		saved = errno;
		unlinkat(s->dirfd, tmp, 0);
		snprintf(why, whylen, "cannot store %s/%s: %s", s->dir, name, strerror(saved));
		return -1;
	}
	return 0;
}

static void file_name(crl_pki pki, const char *hex, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s.crl", crl_pki_name(pki), hex);
}

/* --------------------------------------------------------------- offer */

static int replace_held(agent_crl *s, crl_pki pki, int idx, X509_CRL *crl)
{
	if (idx >= 0) {
		X509_CRL_free(sk_X509_CRL_value(s->held[pki], idx));
		sk_X509_CRL_set(s->held[pki], idx, crl);
		return 0;
	}
	return sk_X509_CRL_push(s->held[pki], crl) > 0 ? 0 : -1;
}

static agent_crl_verdict offer(agent_crl *s, crl_pki pki, const char *hex, const unsigned char *der, size_t len,
                               int write, char *why, size_t whylen)
{
	char now[400], was[400], name[CRL_KEYID_HEX_MAX + 16];
	unsigned char *held_der = NULL;
	agent_crl_verdict v;
	X509_CRL *crl, *old;
	int idx, cmp = 1, held_len;

	v = check_crl(s, pki, hex, der, len, &crl, why, whylen);
	if (v != AGENT_CRL_STORED)
		return v;
	describe(crl, now, sizeof now);
	idx = held_index(s, pki, hex);
	if (idx >= 0) {
		old = sk_X509_CRL_value(s->held[pki], idx);
		describe(old, was, sizeof was);
		if (crl_number_cmp(crl, old, &cmp) != 0)
			cmp = -1; /* the held one has a number (checked when taken) */
		if (cmp < 0) {
			snprintf(why, whylen, "%s is older than the one held (%s): replayed?", now, was);
			v = AGENT_CRL_OLDER;
		} else if (cmp == 0) {
			held_len = i2d_X509_CRL(old, &held_der);
			if (held_len == (int)len && memcmp(held_der, der, len) == 0) {
				snprintf(why, whylen, "%s: held already", now);
				v = AGENT_CRL_SAME;
			} else {
				snprintf(why, whylen, "%s has the crlNumber of the one held but other content: refused", now);
				v = AGENT_CRL_CONFLICT;
			}
			OPENSSL_free(held_der);
		}
		if (v != AGENT_CRL_STORED) {
			X509_CRL_free(crl);
			return v;
		}
	}
	file_name(pki, hex, name, sizeof name);
	if (write && store_file(s, name, der, len, why, whylen) != 0) {
		X509_CRL_free(crl);
		return AGENT_CRL_IO;
	}
	if (replace_held(s, pki, idx, crl) != 0) {
		X509_CRL_free(crl);
		snprintf(why, whylen, "out of memory");
		return AGENT_CRL_IO;
	}
	if (idx >= 0)
		snprintf(why, whylen, "%s stored in %s, replacing %s", now, name, was);
	else
		snprintf(why, whylen, "%s stored in %s", now, name);
	return AGENT_CRL_STORED;
}

agent_crl_verdict agent_crl_offer(agent_crl *s, const char *topic, const unsigned char *der, size_t len, char *why,
                                  size_t whylen)
{
	char hex[CRL_KEYID_HEX_MAX], err[200];
	crl_pki pki;

	if (crl_topic_parse(topic, &pki, hex, sizeof hex, err, sizeof err) != 0) {
		snprintf(why, whylen, "topic %s: %s", topic, err);
		return AGENT_CRL_REFUSED;
	}
	return offer(s, pki, hex, der, len, 1, why, whylen);
}

const STACK_OF(X509_CRL) *agent_crl_held(const agent_crl *s, crl_pki pki)
{
	return s->held[pki];
}

/* ---------------------------------------------------------------- open */

static int read_file(int dirfd, const char *name, unsigned char **buf, size_t *len)
{
	struct stat st;
	ssize_t r;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	*buf = NULL;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > AGENT_CRL_MAX_DER ||
	    (*buf = malloc((size_t)st.st_size)) == NULL) {
		close(fd);
		return -1;
	}
	r = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (r != st.st_size) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	*len = (size_t)r;
	return 0;
}

/* "<pki>-<hex>.crl" -> pki, hex; -1 for any other name. */
static int parse_name(const char *name, crl_pki *pki, char *hex, size_t hexlen)
{
	char topic[CRL_TOPIC_MAX + 8], err[100];
	const char *dash = strchr(name, '-');
	size_t n = strlen(name);

	if (dash == NULL || n < 5 || strcmp(name + n - 4, ".crl") != 0 || n - 4 - (size_t)(dash - name) - 1 >= hexlen)
		return -1;
	snprintf(topic, sizeof topic, "%s%.*s/%.*s", CRL_TOPIC_PREFIX, (int)(dash - name), name,
	         (int)(n - 4 - (size_t)(dash - name) - 1), dash + 1);
	return crl_topic_parse(topic, pki, hex, hexlen, err, sizeof err);
}

static void load_one(agent_crl *s, const char *name)
{
	char hex[CRL_KEYID_HEX_MAX], why[600], aside[300];
	unsigned char *der;
	size_t len = 0;
	crl_pki pki;
	agent_crl_verdict v;

	if (parse_name(name, &pki, hex, sizeof hex) != 0)
		return;
	if (read_file(s->dirfd, name, &der, &len) != 0) {
		snprintf(why, sizeof why, "unreadable or empty");
		v = AGENT_CRL_REFUSED;
	} else {
		v = offer(s, pki, hex, der, len, 0, why, sizeof why);
		free(der);
	}
	if (v == AGENT_CRL_STORED)
		return;
	snprintf(aside, sizeof aside, "%s.refused", name);
	if (renameat(s->dirfd, name, s->dirfd, aside) != 0)
		sms_log(LOG_LEVEL_ERROR, "CRL store %s: cannot move %s aside: %s", s->dir, name, strerror(errno));
	sms_log(LOG_LEVEL_WARNING, "CRL store %s: %s no longer taken (%s); moved to %s", s->dir, name, why, aside);
}

static int load_dir(agent_crl *s, char *err, size_t errlen)
{
	int fd = dup(s->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "CRL store %s: %s", s->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' && n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
			unlinkat(s->dirfd, de->d_name, 0); /* a store that never reached its rename */
		else if (de->d_name[0] != '.')
			load_one(s, de->d_name);
	}
	closedir(d);
	return 0;
}

agent_crl *agent_crl_open(const char *dir, const char *const *ca_files[CRL_PKI_COUNT],
                          const size_t n_ca_files[CRL_PKI_COUNT], char *err, size_t errlen)
{
	agent_crl *s = calloc(1, sizeof *s);
	size_t i;
	int p;

	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->dirfd = -1;
	for (p = 0; p < CRL_PKI_COUNT; p++) {
		if ((s->cas[p] = sk_X509_new_null()) == NULL || (s->held[p] = sk_X509_CRL_new_null()) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (i = 0; i < n_ca_files[p]; i++)
			if (x509_add_certs_from_pem(s->cas[p], ca_files[p][i], err, errlen) != 0)
				goto fail;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "CRL store %s: %s", dir, strerror(errno));
		goto fail;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		snprintf(err, errlen, "CRL store %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (load_dir(s, err, errlen) != 0)
		goto fail;
	return s;
fail:
	agent_crl_close(s);
	return NULL;
}

void agent_crl_close(agent_crl *s)
{
	int p;

	if (s == NULL)
		return;
	for (p = 0; p < CRL_PKI_COUNT; p++) {
		sk_X509_pop_free(s->cas[p], X509_free);
		sk_X509_CRL_pop_free(s->held[p], X509_CRL_free);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	free(s);
}

/* ---------------------------------------------------------------- merge */

static int push_ref(STACK_OF(X509_CRL) *out, X509_CRL *c)
{
	if (X509_CRL_up_ref(c) != 1)
		return -1;
	if (sk_X509_CRL_push(out, c) <= 0) {
		X509_CRL_free(c);
		return -1;
	}
	return 0;
}

STACK_OF(X509_CRL) *agent_crl_merge(const STACK_OF(X509_CRL) *a, const STACK_OF(X509_CRL) *b)
{
	STACK_OF(X509_CRL) *out = sk_X509_CRL_new_null();
	int i, j, cmp;

	for (i = 0; out != NULL && i < sk_X509_CRL_num(a); i++)
		if (push_ref(out, sk_X509_CRL_value(a, i)) != 0)
			goto fail;
	for (i = 0; out != NULL && i < sk_X509_CRL_num(b); i++) {
		X509_CRL *c = sk_X509_CRL_value(b, i);
		int same = -1;

		for (j = 0; j < sk_X509_CRL_num(out) && same < 0; j++)
			if (X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(out, j)), X509_CRL_get_issuer(c)) == 0)
				same = j;
		if (same < 0) {
			if (push_ref(out, c) != 0)
				goto fail;
			continue;
		}
		if (crl_number_cmp(c, sk_X509_CRL_value(out, same), &cmp) != 0 || cmp <= 0)
			continue;
		if (X509_CRL_up_ref(c) != 1)
			goto fail;
		X509_CRL_free(sk_X509_CRL_value(out, same));
		sk_X509_CRL_set(out, same, c);
	}
	return out;
fail:
	sk_X509_CRL_pop_free(out, X509_CRL_free);
	return NULL;
}
