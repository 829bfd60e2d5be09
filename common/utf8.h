/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. One decoder for every place that takes text from outside:
 * certificate subjects (identity.c) and snapshot JSON (services).
 */
#ifndef SMS_UTF8_H
#define SMS_UTF8_H

#include <stddef.h>

/* Decodes the code point starting at s[*i] (*i < len) into *cp and moves *i
 * past it. Returns 0, leaving *i alone, when the bytes there are not
 * well-formed UTF-8. */
int utf8_decode(const unsigned char *s, size_t len, size_t *i, unsigned long *cp);

/* 1 when all len bytes of s are well-formed UTF-8. */
int utf8_valid(const unsigned char *s, size_t len);

#endif
