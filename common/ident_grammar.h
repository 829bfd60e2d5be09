/*
 * The one grammar of SMS identifiers: master account, account, equipment
 * and role names. They are opaque ids (DESIGN.md) that become MQTT topic
 * levels, broker usernames, directory names and log text, and are compared
 * byte for byte, so the alphabet is small enough that no two spellings can
 * look alike and nothing in it is special anywhere:
 *
 *   1..64 bytes of ASCII letters, digits, '-', '_', '.'; not "." or "..".
 *
 * Used by common/identity.c (certificate subjects), common/snapshot_topic.c
 * (topic levels) and mirrored in pki/sms-pki (check_id).
 */
#ifndef SMS_IDENT_GRAMMAR_H
#define SMS_IDENT_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

#define IDENT_MAX 64
#define IDENT_GRAMMAR_TEXT "1-64 of A-Z a-z 0-9 - _ . and not . or .."

/* True for the bytes an identifier may contain. */
bool ident_char(unsigned char c);

/* True when the len bytes at s (no terminator needed) are an identifier. */
bool ident_valid(const char *s, size_t len);

#endif
