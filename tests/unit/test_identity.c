/* common/identity.c: certificate subject -> SMS identity, including hostile subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/identity.h"

/* One attribute: short name, value bytes (may hold NUL), length, ASN.1 type, RDN set flag. */
struct attr {
	const char *field;
	const char *value;
	int len;        /* -1: strlen */
	int type;       /* 0: UTF8String */
	int set;        /* 0: own RDN, -1: joins the previous RDN */
};

static X509_NAME *make_name(const struct attr *a, size_t n)
{
	X509_NAME *name = X509_NAME_new();
	size_t i;

	assert_non_null(name);
	for (i = 0; i < n; i++) {
		int type = a[i].type ? a[i].type : MBSTRING_UTF8;
		int len = a[i].len >= 0 ? a[i].len : (int)strlen(a[i].value);

		if (type == V_ASN1_UTF8STRING || type == V_ASN1_UNIVERSALSTRING || type == V_ASN1_BMPSTRING) {
			/* Raw bytes of that type, bypassing OpenSSL's charset checks. */
			ASN1_OBJECT *obj = OBJ_txt2obj(a[i].field, 0);
			X509_NAME_ENTRY *e;

			assert_non_null(obj);
			e = X509_NAME_ENTRY_create_by_OBJ(NULL, obj, type, (const unsigned char *)a[i].value, len);
			assert_non_null(e);
			assert_int_equal(X509_NAME_add_entry(name, e, -1, a[i].set), 1);
			X509_NAME_ENTRY_free(e);
			ASN1_OBJECT_free(obj);
		} else {
			assert_int_equal(X509_NAME_add_entry_by_txt(name, a[i].field, type,
								    (const unsigned char *)a[i].value, len, -1, a[i].set), 1);
		}
	}
	return name;
}

#define A(f, v) { f, v, -1, 0, 0 }

static int map(const struct attr *a, size_t n, identity *id, char *err, size_t errlen)
{
	X509_NAME *name = make_name(a, n);
	int rc = identity_from_subject(name, id, err, errlen);

	X509_NAME_free(name);
	return rc;
}

#define MAP_OK(arr, id) do { char e_[160] = ""; \
	if (map(arr, sizeof(arr) / sizeof(arr[0]), id, e_, sizeof(e_)) != 0) fail_msg("refused: %s", e_); } while (0)

/* Refused, and the reason mentions `word`. */
static void expect_refused(const struct attr *a, size_t n, const char *word)
{
	identity id;
	char err[160] = "";

	assert_int_equal(map(a, n, &id, err, sizeof(err)), -1);
	if (!strstr(err, word))
		fail_msg("reason '%s' does not mention '%s'", err, word);
}
#define REFUSED(arr, word) expect_refused(arr, sizeof(arr) / sizeof(arr[0]), word)

static void equipment(void **state)
{
	const struct attr a[] = { A("O", "000001"), A("OU", "00002"), A("serialNumber", "EQID00000234"), A("CN", "EQID00000234") };
	identity id;

	(void)state;
	MAP_OK(a, &id);
	assert_int_equal(id.kind, IDENTITY_EQUIPMENT);
	assert_string_equal(id.master, "000001");
	assert_string_equal(id.account, "00002");
	assert_string_equal(id.equipment, "EQID00000234");
	assert_string_equal(id.name, "000001/00002/EQID00000234");
	assert_string_equal(identity_scope(&id), "000001/00002/EQID00000234");
}

static void account_master_role(void **state)
{
	const struct attr acc[] = { A("O", "ms-acc-1"), A("OU", "acc-1"), A("CN", "auditor") };
	const struct attr ma[] = { A("O", "ms-acc-1"), A("CN", "ops") };
	const struct attr role[] = { A("CN", "MRO-Admin") };
	identity id;

	(void)state;
	MAP_OK(acc, &id);
	assert_int_equal(id.kind, IDENTITY_ACCOUNT);
	assert_string_equal(id.name, "ms-acc-1/acc-1");
	MAP_OK(ma, &id);
	assert_int_equal(id.kind, IDENTITY_MASTER);
	assert_string_equal(id.name, "ms-acc-1");
	assert_string_equal(identity_scope(&id), "ms-acc-1");
	MAP_OK(role, &id);
	assert_int_equal(id.kind, IDENTITY_ROLE);
	assert_string_equal(id.role, "MRO-Admin");
	assert_string_equal(id.name, "role:MRO-Admin");
	assert_null(identity_scope(&id));
}

/* Attribute order is not what decides the identity; the attributes are. */
static void order_independent(void **state)
{
	const struct attr a[] = { A("CN", "x"), A("serialNumber", "EQ1"), A("OU", "acc"), A("O", "ma") };
	identity id;

	(void)state;
	MAP_OK(a, &id);
	assert_int_equal(id.kind, IDENTITY_EQUIPMENT);
	assert_string_equal(id.name, "ma/acc/EQ1");
}

static void printable_string_and_utf8(void **state)
{
	const struct attr ps[] = { { "O", "000001", -1, V_ASN1_PRINTABLESTRING, 0 }, A("CN", "c") };
	/* "Müller-Ω" is well-formed UTF-8 but not an identifier (ASCII only). */
	const struct attr u[] = { A("O", "M\xc3\xbcller-\xce\xa9"), A("CN", "c") };
	/* A tenant leaf's CN is free text: UTF-8 is fine there. */
	const struct attr ucn[] = { A("O", "ma"), A("CN", "M\xc3\xbcller-\xce\xa9") };
	/* BMPString "ab" (UTF-16BE) converts to UTF-8. */
	const struct attr bmp[] = { { "O", "\0a\0b", 4, V_ASN1_BMPSTRING, 0 }, A("CN", "c") };
	identity id;

	(void)state;
	MAP_OK(ps, &id);
	assert_string_equal(id.name, "000001");
	REFUSED(u, "O value contains a non-ASCII character");
	MAP_OK(ucn, &id);
	assert_string_equal(id.name, "ma");
	MAP_OK(bmp, &id);
	assert_string_equal(id.name, "ab");
}

static void hostile_characters(void **state)
{
	const struct attr slash[] = { A("O", "000001/00003"), A("CN", "c") };
	const struct attr plus[] = { A("O", "ma"), A("OU", "+"), A("CN", "c") };
	const struct attr hash[] = { A("O", "#"), A("CN", "c") };
	const struct attr dollar[] = { A("O", "$SYS"), A("CN", "c") };
	const struct attr dollar_role[] = { A("CN", "$SYS") };
	const struct attr eq_slash[] = { A("O", "ma"), A("OU", "acc"), { "serialNumber", "EQ/../x", -1, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr nul[] = { A("O", "ma"), { "OU", "acc\0evil", 8, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr space[] = { A("O", "ma a"), A("CN", "c") };
	const struct attr tab[] = { A("O", "ma"), A("CN", "c\t") };
	const struct attr newline[] = { A("CN", "MRO-Admin\nfake log line") };
	const struct attr del[] = { A("O", "ma\x7f"), A("CN", "c") };
	const struct attr c1[] = { A("O", "ma\xc2\x85"), A("CN", "c") };           /* U+0085 NEL */
	const struct attr nbsp[] = { A("O", "ma\xc2\xa0"), A("CN", "c") };         /* U+00A0 */
	const struct attr bom[] = { A("CN", "\xef\xbb\xbfMRO-Admin") };            /* U+FEFF */
	const struct attr overlong[] = { { "O", "\xc0\xaf", 2, V_ASN1_UTF8STRING, 0 }, A("CN", "c") }; /* overlong '/' */
	const struct attr surrogate[] = { { "O", "\xed\xa0\x80", 3, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr truncated[] = { { "O", "a\xe2\x82", 3, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr colon[] = { A("O", "role:MRO-Admin"), A("CN", "c") };
	const struct attr dot[] = { A("O", "ma"), A("OU", ".."), A("CN", "c") };
	/* Lookalikes and bidi controls: U+2215 DIVISION SLASH, U+202E RLO. */
	const struct attr divslash[] = { A("O", "ma"), A("OU", "acc"), { "serialNumber", "EQ\xe2\x88\x95" "x", -1, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr rlo[] = { A("O", "ma"), A("OU", "acc"), { "serialNumber", "EQ\xe2\x80\xae" "1", -1, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr role_rlo[] = { A("CN", "MRO-Admin\xe2\x80\xae") };
	const struct attr role_colon[] = { A("CN", "MRO:Admin") };
	const struct attr eq_eq[] = { A("O", "ma"), A("OU", "acc"), A("serialNumber", "EQ=1"), A("CN", "c") };

	(void)state;
	REFUSED(slash, "'/'");
	REFUSED(plus, "'+'");
	REFUSED(hash, "'#'");
	REFUSED(dollar, "'$'");
	REFUSED(dollar_role, "'$'");
	REFUSED(eq_slash, "'/'");
	REFUSED(nul, "NUL");
	REFUSED(space, "whitespace");
	REFUSED(tab, "control");
	REFUSED(newline, "control");
	REFUSED(del, "control");
	REFUSED(c1, "control");
	REFUSED(nbsp, "whitespace");
	REFUSED(bom, "whitespace");
	REFUSED(overlong, "UTF-8");
	REFUSED(surrogate, "UTF-8");
	REFUSED(truncated, "UTF-8");
	REFUSED(colon, "':'");
	REFUSED(dot, "'..'");
	REFUSED(divslash, "serialNumber value contains a non-ASCII character");
	REFUSED(rlo, "serialNumber value contains a non-ASCII character");
	REFUSED(role_rlo, "CN value contains a non-ASCII character");
	REFUSED(role_colon, "CN value contains ':'");
	REFUSED(eq_eq, "serialNumber value contains '='");
}

static void empty_and_long(void **state)
{
	char v64[65], v65[66];
	const struct attr empty_o[] = { { "O", "", 0, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	const struct attr empty_cn[] = { { "CN", "", 0, V_ASN1_UTF8STRING, 0 } };
	struct attr ok64[] = { { "O", NULL, -1, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	/* Raw UTF8String: OpenSSL's own helpers would stop at the X.520 upper bound. */
	struct attr long65[] = { A("O", "ma"), { "OU", NULL, -1, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	/* 22 x U+20AC = 66 bytes but 22 characters: the limit is bytes. */
	char euro[67] = "";
	struct attr longeuro[] = { { "O", NULL, -1, V_ASN1_UTF8STRING, 0 }, A("CN", "c") };
	identity id;
	int i;

	(void)state;
	memset(v64, 'a', 64); v64[64] = '\0';
	memset(v65, 'b', 65); v65[65] = '\0';
	for (i = 0; i < 22; i++)
		strcat(euro, "\xe2\x82\xac");
	ok64[0].value = v64;
	long65[1].value = v65;
	longeuro[0].value = euro;
	REFUSED(empty_o, "empty");
	REFUSED(empty_cn, "empty");
	MAP_OK(ok64, &id);
	assert_int_equal(strlen(id.name), 64);
	REFUSED(long65, "longer");
	REFUSED(longeuro, "longer");
}

static void bad_layouts(void **state)
{
	const struct attr no_cn[] = { A("O", "ma"), A("OU", "acc") };
	const struct attr ou_only[] = { A("OU", "acc"), A("CN", "c") };
	const struct attr serial_no_ou[] = { A("O", "ma"), A("serialNumber", "EQ1"), A("CN", "c") };
	const struct attr serial_only[] = { A("serialNumber", "EQ1"), A("CN", "c") };
	const struct attr two_o[] = { A("O", "ma"), A("O", "mb"), A("CN", "c") };
	const struct attr two_ou[] = { A("O", "ma"), A("OU", "acc"), A("OU", "acc2"), A("CN", "c") };
	const struct attr two_cn[] = { A("CN", "MRO-Admin"), A("CN", "x") };
	const struct attr country[] = { A("C", "DE"), A("O", "ma"), A("CN", "c") };
	const struct attr email[] = { A("O", "ma"), A("CN", "c"), A("emailAddress", "a@b") };
	const struct attr unknown_oid[] = { A("O", "ma"), A("1.2.3.4.5", "x"), A("CN", "c") };
	const struct attr multi[] = { A("O", "ma"), { "OU", "acc", -1, 0, -1 }, A("CN", "c") };
	/* UniversalString holding U+200000, beyond Unicode. */
	const struct attr beyond[] = { { "O", "\x00\x20\x00\x00", 4, V_ASN1_UNIVERSALSTRING, 0 }, A("CN", "c") };
	identity id;
	X509_NAME *empty = X509_NAME_new();
	char err[160];

	(void)state;
	REFUSED(no_cn, "no CN");
	REFUSED(ou_only, "not an SMS identity");
	REFUSED(serial_no_ou, "not an SMS identity");
	REFUSED(serial_only, "not an SMS identity");
	REFUSED(two_o, "more than one O");
	REFUSED(two_ou, "more than one OU");
	REFUSED(two_cn, "more than one CN");
	REFUSED(country, "attribute");
	REFUSED(email, "attribute");
	REFUSED(unknown_oid, "1.2.3.4.5");
	REFUSED(multi, "multi-valued");
	REFUSED(beyond, "UTF-8");
	assert_non_null(empty);
	assert_int_equal(identity_from_subject(empty, &id, err, sizeof(err)), -1);
	assert_int_equal(identity_from_subject(NULL, &id, err, sizeof(err)), -1);
	X509_NAME_free(empty);
}

/* A certificate with subject a[0..n) and, when eku is not NULL, that
 * extendedKeyUsage (a config value: "clientAuth, 2.25..."); unsigned:
 * identity_from_certificate reads, the plugin verifies. */
static X509 *cert_with(const struct attr *a, size_t n, const char *eku, int eku_times)
{
	X509 *x = X509_new();
	X509_NAME *name = make_name(a, n);
	int i;

	assert_non_null(x);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	X509_NAME_free(name);
	for (i = 0; eku && i < eku_times; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, eku);

		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	return x;
}

static int from_cert(X509 *x, identity *id, char *err, size_t errlen)
{
	int rc = identity_from_certificate(x, id, err, errlen);

	X509_free(x);
	return rc;
}

#define BRIDGE_EKU "clientAuth, " IDENTITY_BRIDGE_EKU_OID

static void bridge(void **state)
{
	const struct attr site[] = { A("O", "000001"), A("CN", "bridge-site-a") };
	const struct attr plain[] = { A("O", "000001"), A("CN", "site-a") };
	const struct attr empty_name[] = { A("O", "000001"), A("CN", "bridge-") };
	const struct attr colon[] = { A("O", "000001"), A("CN", "bridge-a:b") };
	const struct attr dotted[] = { A("O", "000001"), A("CN", "bridge-a.b-c_d") };
	const struct attr acc[] = { A("O", "000001"), A("OU", "00002"), A("CN", "bridge-x") };
	const struct attr eq[] = { A("O", "000001"), A("OU", "00002"), A("serialNumber", "EQ1"), A("CN", "bridge-x") };
	const struct attr role[] = { A("CN", "bridge-x") };
	identity id;
	char err[200];

	(void)state;
	assert_int_equal(from_cert(cert_with(site, 2, BRIDGE_EKU, 1), &id, err, sizeof(err)), 0);
	assert_int_equal(id.kind, IDENTITY_BRIDGE);
	assert_string_equal(id.name, "bridge:000001/site-a");
	assert_string_equal(id.bridge, "site-a");
	assert_string_equal(identity_scope(&id), "000001");
	assert_int_equal(from_cert(cert_with(dotted, 2, BRIDGE_EKU, 1), &id, err, sizeof(err)), 0);
	assert_string_equal(id.name, "bridge:000001/a.b-c_d");
	/* The CN alone makes no bridge; clientAuth alone neither. */
	assert_int_equal(from_cert(cert_with(site, 2, NULL, 0), &id, err, sizeof(err)), 0);
	assert_int_equal(id.kind, IDENTITY_MASTER);
	assert_int_equal(from_cert(cert_with(site, 2, "clientAuth", 1), &id, err, sizeof(err)), 0);
	assert_int_equal(id.kind, IDENTITY_MASTER);
	/* The EKU on anything but O=ma, CN=bridge-<identifier> is refused. */
	assert_int_equal(from_cert(cert_with(plain, 2, BRIDGE_EKU, 1), &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs CN=bridge-<identifier>"));
	assert_int_equal(id.kind, 0);
	assert_int_equal(from_cert(cert_with(empty_name, 2, BRIDGE_EKU, 1), &id, err, sizeof(err)), -1);
	assert_int_equal(from_cert(cert_with(colon, 2, BRIDGE_EKU, 1), &id, err, sizeof(err)), -1);
	assert_int_equal(from_cert(cert_with(acc, 3, BRIDGE_EKU, 1), &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only for master-account subjects"));
	assert_int_equal(from_cert(cert_with(eq, 4, BRIDGE_EKU, 1), &id, err, sizeof(err)), -1);
	assert_int_equal(from_cert(cert_with(role, 1, BRIDGE_EKU, 1), &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only for master-account subjects"));
	/* Two extendedKeyUsage extensions: unreadable, refused. */
	assert_int_equal(from_cert(cert_with(site, 2, BRIDGE_EKU, 2), &id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "extendedKeyUsage cannot be read"));
	assert_int_equal(identity_from_certificate(NULL, &id, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equipment),
		cmocka_unit_test(account_master_role),
		cmocka_unit_test(order_independent),
		cmocka_unit_test(printable_string_and_utf8),
		cmocka_unit_test(hostile_characters),
		cmocka_unit_test(empty_and_long),
		cmocka_unit_test(bad_layouts),
		cmocka_unit_test(bridge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
