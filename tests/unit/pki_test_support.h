/*
 * For unit tests that work on real certificates: run a shell command
 * (pki/sms-pki, openssl) and find the source tree. The tests make their
 * PKI with pki/sms-pki in a private directory, as an operator would.
 */
#ifndef SMS_PKI_TEST_SUPPORT_H
#define SMS_PKI_TEST_SUPPORT_H

#include <stddef.h>

/* system() of the formatted command: its exit status, -1 if it did not exit. */
int pts_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* $SMS_ROOT (set by tests/run), else ".". */
const char *pts_root_dir(void);

/* A fresh directory /tmp/sms-<tag>-test.XXXXXX into buf; 0 or -1. */
int pts_tmpdir(char *buf, size_t len, const char *tag);
/* rm -rf dir; 0 or -1. */
int pts_remove(const char *dir);
/* pki/sms-pki --dir pki_dir --pki tls <args>, quietly; 0, or -1 saying so on stderr. */
int pts_pki(const char *pki_dir, const char *args);

#endif
