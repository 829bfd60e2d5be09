/*
 * Certificate subject -> SMS identity. See identity.h for the contract.
 *
 * Every value becomes an MQTT topic level (and the broker username), so a
 * value is accepted only when it cannot change the shape of a topic: no
 * separators, no wildcards, no '$' (system topics), nothing invisible.
 */
#include "common/identity.h"
#include "common/utf8.h"
#include "common/ident_grammar.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) without
 * C0/C1 controls, DEL, spaces or the Unicode line/paragraph separators, BOM.
 * Returns NULL when fine, else a short reason.
 */
static const char *utf8_problem(const unsigned char *s, size_t len)
{
	size_t i = 0;
	unsigned long cp;

	while (i < len) {
		if (!utf8_decode(s, len, &i, &cp))
			return "is not valid UTF-8";
		if (cp == 0)
			return "contains NUL";
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return "contains a control character";
		if (cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) ||
		    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
		    cp == 0x3000 || cp == 0xfeff)
			return "contains whitespace";
		if (cp == '/')
			return "contains '/'";
		if (cp == '+')
			return "contains '+'";
		if (cp == '#')
			return "contains '#'";
		if (cp == '$')
			return "contains '$'";
	}
	return NULL;
}

/* Slots for the four attributes an SMS subject may carry. */
enum { SLOT_O, SLOT_OU, SLOT_SERIAL, SLOT_CN, SLOT_COUNT };

static const char *const slot_label[SLOT_COUNT] = { "O", "OU", "serialNumber", "CN" };

static int slot_of(int nid)
{
	switch (nid) {
	case NID_organizationName: return SLOT_O;
	case NID_organizationalUnitName: return SLOT_OU;
	case NID_serialNumber: return SLOT_SERIAL;
	case NID_commonName: return SLOT_CN;
	default: return -1;
	}
}

/* Copies one checked attribute value into dst (IDENTITY_VALUE_MAX + 1 bytes). */
static int take_value(const X509_NAME_ENTRY *e, const char *label, char *dst, char *err, size_t errlen)
{
	unsigned char *utf8 = NULL;
	const char *problem;
	int len, rc = -1;

	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (len < 0) {
		set_err(err, errlen, "%s value cannot be converted to UTF-8 (bad encoding or string type)", label);
		goto out;
	}
	if (len == 0) {
		set_err(err, errlen, "%s value is empty", label);
		goto out;
	}
	if (len > IDENTITY_VALUE_MAX) {
		set_err(err, errlen, "%s value is longer than %d bytes", label, IDENTITY_VALUE_MAX);
		goto out;
	}
	problem = utf8_problem(utf8, (size_t)len);
	if (problem) {
		set_err(err, errlen, "%s value %s", label, problem);
		goto out;
	}
	if ((len == 1 && utf8[0] == '.') || (len == 2 && utf8[0] == '.' && utf8[1] == '.')) {
		set_err(err, errlen, "%s value is '.' or '..'", label);
		goto out;
	}
	memcpy(dst, utf8, (size_t)len);
	dst[len] = '\0';
	rc = 0;
out:
	OPENSSL_free(utf8);
	return rc;
}

/* Names the first byte outside the identifier grammar, for the error text. */
static int grammar_refusal(const char *label, const char *v, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; v[i] && ident_char((unsigned char)v[i]); i++)
		;
	if ((unsigned char)v[i] >= 0x80)
		set_err(err, errlen, "%s value contains a non-ASCII character (identifiers: %s)", label, IDENT_GRAMMAR_TEXT);
	else
		set_err(err, errlen, "%s value contains '%c' (identifiers: %s)", label, v[i], IDENT_GRAMMAR_TEXT);
	return -1;
}

/*
 * O, OU and serialNumber are identifiers, and so is the CN of a role (a
 * subject with none of the three); only the CN of a tenant's leaf stays free
 * text, since it names nothing the broker decides on. This also keeps ':'
 * out of a master account, so a scope can never read as "role:<x>".
 */
static int check_grammar(const bool seen[SLOT_COUNT], char values[SLOT_COUNT][IDENTITY_VALUE_MAX + 1],
			 char *err, size_t errlen)
{
	static const int ids[] = { SLOT_O, SLOT_OU, SLOT_SERIAL };
	bool role = !seen[SLOT_O] && !seen[SLOT_OU] && !seen[SLOT_SERIAL];
	size_t k;

	for (k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		int slot = ids[k];

		if (seen[slot] && !ident_valid(values[slot], strlen(values[slot])))
			return grammar_refusal(slot_label[slot], values[slot], err, errlen);
	}
	if (role && !ident_valid(values[SLOT_CN], strlen(values[SLOT_CN])))
		return grammar_refusal("CN", values[SLOT_CN], err, errlen);
	return 0;
}

int identity_from_subject(const X509_NAME *subject, identity *out, char *err, size_t errlen)
{
	char values[SLOT_COUNT][IDENTITY_VALUE_MAX + 1];
	bool seen[SLOT_COUNT] = { false, false, false, false };
	int i, count, last_set = -1;

	if (!subject || !out) {
		set_err(err, errlen, "no subject");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	count = X509_NAME_entry_count(subject);
	if (count <= 0) {
		set_err(err, errlen, "subject is empty");
		return -1;
	}
	for (i = 0; i < count; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(subject, i);
		int nid, slot, set;
		char oid[80];

		if (!e) {
			set_err(err, errlen, "subject entry cannot be read");
			return -1;
		}
		/* "O=a+OU=b" in one RDN is a layout nobody issues; refuse it
		 * rather than guess which part counts. */
		set = X509_NAME_ENTRY_set(e);
		if (set == last_set) {
			set_err(err, errlen, "subject has a multi-valued RDN");
			return -1;
		}
		last_set = set;
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		slot = slot_of(nid);
		if (slot < 0) {
			if (OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 0) <= 0)
				snprintf(oid, sizeof(oid), "?");
			set_err(err, errlen, "subject has an attribute %s that SMS identities do not use", oid);
			return -1;
		}
		if (seen[slot]) {
			set_err(err, errlen, "subject has more than one %s", slot_label[slot]);
			return -1;
		}
		seen[slot] = true;
		if (take_value(e, slot_label[slot], values[slot], err, errlen) != 0)
			return -1;
	}
	if (!seen[SLOT_CN]) {
		set_err(err, errlen, "subject has no CN");
		return -1;
	}
	if (check_grammar(seen, values, err, errlen) != 0)
		return -1;
	if (seen[SLOT_O] && seen[SLOT_OU] && seen[SLOT_SERIAL]) {
		out->kind = IDENTITY_EQUIPMENT;
		memcpy(out->master, values[SLOT_O], sizeof(out->master));
		memcpy(out->account, values[SLOT_OU], sizeof(out->account));
		memcpy(out->equipment, values[SLOT_SERIAL], sizeof(out->equipment));
		snprintf(out->name, sizeof(out->name), "%s/%s/%s", out->master, out->account, out->equipment);
	} else if (seen[SLOT_O] && seen[SLOT_OU] && !seen[SLOT_SERIAL]) {
		out->kind = IDENTITY_ACCOUNT;
		memcpy(out->master, values[SLOT_O], sizeof(out->master));
		memcpy(out->account, values[SLOT_OU], sizeof(out->account));
		snprintf(out->name, sizeof(out->name), "%s/%s", out->master, out->account);
	} else if (seen[SLOT_O] && !seen[SLOT_OU] && !seen[SLOT_SERIAL]) {
		out->kind = IDENTITY_MASTER;
		memcpy(out->master, values[SLOT_O], sizeof(out->master));
		snprintf(out->name, sizeof(out->name), "%s", out->master);
	} else if (!seen[SLOT_O] && !seen[SLOT_OU] && !seen[SLOT_SERIAL]) {
		out->kind = IDENTITY_ROLE;
		memcpy(out->role, values[SLOT_CN], sizeof(out->role));
		snprintf(out->name, sizeof(out->name), "role:%s", out->role);
	} else {
		set_err(err, errlen, "subject layout %s%s is not an SMS identity",
			seen[SLOT_O] ? "O" : "no O", seen[SLOT_OU] ? ", OU" : ", no OU");
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* 1 when cert's extendedKeyUsage holds the bridge OID, 0 when not, -1 unreadable. */
static int has_bridge_eku(X509 *cert)
{
	EXTENDED_KEY_USAGE *eku;
	ASN1_OBJECT *want;
	int crit = 0, i, found = 0;

	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
	if (!eku)
		return crit == -1 ? 0 : -1;
	want = OBJ_txt2obj(IDENTITY_BRIDGE_EKU_OID, 1);
	if (!want) {
		EXTENDED_KEY_USAGE_free(eku);
		return -1;
	}
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0)
			found = 1;
	ASN1_OBJECT_free(want);
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

/* The CN of a bridge's subject: "bridge-" + an identifier, into out->bridge. */
static int bridge_name(const X509_NAME *subject, identity *out, char *err, size_t errlen)
{
	int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	unsigned char *cn = NULL;
	size_t plen = strlen(IDENTITY_BRIDGE_CN_PREFIX);
	int len, rc = -1;

	len = at < 0 ? -1 : ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
	if (len <= (int)plen || strncmp((const char *)cn, IDENTITY_BRIDGE_CN_PREFIX, plen) != 0 ||
	    !ident_valid((const char *)cn + plen, (size_t)len - plen)) {
		set_err(err, errlen, "a bridge certificate needs CN=%s<identifier> (%s)", IDENTITY_BRIDGE_CN_PREFIX,
			IDENT_GRAMMAR_TEXT);
		goto out;
	}
	memcpy(out->bridge, cn + plen, (size_t)len - plen);
	out->bridge[len - plen] = '\0';
	rc = 0;
out:
	OPENSSL_free(cn);
	return rc;
}

int identity_from_certificate(X509 *cert, identity *out, char *err, size_t errlen)
{
	int bridge;

	if (!cert || !out) {
		set_err(err, errlen, "no certificate");
		return -1;
	}
	if (identity_from_subject(X509_get_subject_name(cert), out, err, errlen) != 0)
		return -1;
	bridge = has_bridge_eku(cert);
	if (bridge < 0) {
		set_err(err, errlen, "extendedKeyUsage cannot be read");
		goto refuse;
	}
	if (!bridge)
		return 0;
	/* A bridge speaks for a whole master account, so only the
	 * master-account CA can issue one (a leaf with just O, under its
	 * O=ma name constraint). */
	if (out->kind != IDENTITY_MASTER) {
		set_err(err, errlen, "the bridge extendedKeyUsage is only for master-account subjects (O=ma, CN=%s<name>)",
			IDENTITY_BRIDGE_CN_PREFIX);
		goto refuse;
	}
	if (bridge_name(X509_get_subject_name(cert), out, err, errlen) != 0)
		goto refuse;
	out->kind = IDENTITY_BRIDGE;
	snprintf(out->name, sizeof(out->name), "%s%s/%s", IDENTITY_BRIDGE_PREFIX, out->master, out->bridge);
	return 0;
refuse:
	memset(out, 0, sizeof(*out));
	return -1;
}

const char *identity_scope(const identity *id)
{
	if (!id)
		return NULL;
	switch (id->kind) {
	case IDENTITY_BRIDGE:
		return id->master;
	case IDENTITY_EQUIPMENT:
	case IDENTITY_ACCOUNT:
	case IDENTITY_MASTER:
		return id->name;
	case IDENTITY_ROLE:
	default:
		return NULL;
	}
}
