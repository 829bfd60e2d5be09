/*
 * plugin/sms_auth_config.c: the configuration file. Every mistake must stop
 * the broker with the file, the line and the problem; acl/sms_auth.conf
 * (the production example) must load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "plugin/sms_auth.h"

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sms-cfg-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	unlink(path);
	return rmdir(dir);
}

static const char *write_conf(const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/c.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

#define BASE "trust_root = \"root.crt\";\nservices_ca = \"/pki/services.crt\";\ncrls = [ \"crls.pem\" ];\n"

static void good(void **state)
{
	struct sms_config cfg;
	char err[512] = "", want[160];
	const struct sms_role *r;

	(void)state;
	assert_int_equal(sms_config_load(write_conf(BASE
		"crl_check_interval = 5;\n"
		"intermediates = \"cas\";\n"
		"public_read = [ \"sms/crl/#\" ];\n"
		"roles = (\n"
		"  { name = \"vendor-snapshot-service\"; rules = ( { access = \"read\"; filter = \"+/+/+/snapshots\"; } ); },\n"
		"  { name = \"MRO-Admin\"; rules = ( { access = \"readwrite\"; filter = \"#\"; },\n"
		"                                   { access = \"subscribe\"; filter = \"$SYS/#\"; },\n"
		"                                   { access = \"write\"; filter = \"x\"; } ); }\n"
		");\n"), &cfg, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/root.crt", dir);
	assert_string_equal(cfg.trust_root, want);          /* relative to the file */
	assert_string_equal(cfg.services_ca, "/pki/services.crt");
	snprintf(want, sizeof(want), "%s/cas", dir);
	assert_string_equal(cfg.intermediates, want);
	assert_int_equal(cfg.ncrls, 1);
	assert_int_equal(cfg.crl_check_interval, 5);
	assert_int_equal(cfg.npublic_read, 1);
	assert_int_equal(cfg.nroles, 2);
	r = sms_config_role(&cfg, "MRO-Admin");
	assert_non_null(r);
	assert_int_equal(r->nrules, 3);
	assert_int_equal(r->rules[0].access, ACL_READ | ACL_WRITE | ACL_SUBSCRIBE);
	assert_int_equal(r->rules[1].access, ACL_SUBSCRIBE);
	assert_int_equal(r->rules[2].access, ACL_WRITE);
	r = sms_config_role(&cfg, "vendor-snapshot-service");
	assert_non_null(r);
	assert_int_equal(r->rules[0].access, ACL_READ | ACL_SUBSCRIBE);
	assert_null(sms_config_role(&cfg, "nobody"));
	sms_config_free(&cfg);
}

static void client_id_settings(void **state)
{
	struct sms_config cfg;
	char err[512];

	(void)state;
	if (sms_config_load(write_conf(BASE "client_id_policy = \"any\";\nclient_id_owners_max = 7;\n"), &cfg, err,
			    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.client_id_policy, SMS_CLIENT_ID_ANY);
	assert_int_equal(cfg.client_id_owners_max, 7);
	sms_config_free(&cfg);
	if (sms_config_load(write_conf(BASE "client_id_policy = \"prefix\";\n"), &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.client_id_policy, SMS_CLIENT_ID_PREFIX);
	sms_config_free(&cfg);
}

static void defaults(void **state)
{
	struct sms_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(sms_config_load(write_conf(BASE), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.crl_check_interval, 60);
	assert_int_equal(cfg.client_id_policy, SMS_CLIENT_ID_PREFIX);
	assert_int_equal(cfg.client_id_owners_max, 100000);
	assert_null(cfg.intermediates);
	assert_int_equal(cfg.nroles, 0);
	assert_int_equal(cfg.npublic_read, 0);
	sms_config_free(&cfg);
}

struct bad {
	const char *text;
	int line;               /* expected line in the message, 0: none */
	const char *problem;
};

static void errors(void **state)
{
	static const struct bad cases[] = {
		{ BASE "roles = ( { name = \"x\"; rules = ( { access = ; filter = \"a\"; } ); } );\n", 4, "syntax error" },
		{ "services_ca = \"s\";\ncrls = [ \"c\" ];\n", 0, "'trust_root' is missing" },
		{ "trust_root = \"r\";\ncrls = [ \"c\" ];\n", 0, "'services_ca' is missing" },
		{ "trust_root = \"r\";\nservices_ca = \"s\";\n", 0, "'crls' is missing" },
		{ BASE "trust_ancor = \"typo\";\n", 4, "unknown setting 'trust_ancor'" },
		/* The names before one vocabulary: refused with the new one, never aliased. */
		{ BASE "trust_anchor = \"r\";\n", 4, "'trust_anchor' is now called 'trust_root'" },
		{ BASE "crl_files = [ \"c\" ];\n", 4, "'crl_files' is now called 'crls'" },
		{ BASE "service_ca = \"s\";\n", 4, "'service_ca' is now called 'services_ca'" },
		{ "trust_root = 5;\nservices_ca = \"s\";\ncrls = [ \"c\" ];\n", 1, "trust_root must be a string" },
		{ "trust_root = \"\";\nservices_ca = \"s\";\ncrls = [ \"c\" ];\n", 1, "trust_root is empty" },
		{ "trust_root = \"r\";\nservices_ca = \"s\";\ncrls = [ ];\n", 3, "'crls' is empty" },
		{ "trust_root = \"r\";\nservices_ca = \"s\";\ncrls = \"c\";\n", 3, "must be a list" },
		{ BASE "crl_check_interval = 0;\n", 4, "between 1 and 86400" },
		{ BASE "crl_check_interval = \"10\";\n", 4, "integer" },
		{ BASE "client_id_policy = \"first\";\n", 4, "client_id_policy 'first' is not one of prefix, any" },
		{ BASE "client_id_policy = 1;\n", 4, "client_id_policy must be a string" },
		{ BASE "client_id_owners_max = 0;\n", 4, "client_id_owners_max must be between 1 and 10000000" },
		{ BASE "roles = ( { name = \"MRO:Admin\"; rules = ( { access = \"read\"; filter = \"a\"; } ); } );\n", 4,
		  "can never be a certificate CN" },
		{ BASE "public_read = [ \"a/#/b\" ];\n", 4, "not a valid MQTT topic filter" },
		{ BASE "public_read = [ \"$share/g/a\" ];\n", 4, "$share/" },
		{ BASE "roles = { x = 1; };\n", 4, "'roles' must be a list" },
		{ BASE "roles = ( { rules = ( { access = \"read\"; filter = \"a\"; } ); } );\n", 4, "role has no 'name'" },
		{ BASE "roles = ( { name = \"a b\"; rules = ( { access = \"read\"; filter = \"a\"; } ); } );\n", 4, "can never be a certificate CN" },
		{ BASE "roles = ( { name = \"r\"; } );\n", 4, "needs rules" },
		{ BASE "roles = ( { name = \"r\"; rules = ( ); } );\n", 4, "has no rules" },
		{ BASE "roles = ( { name = \"r\"; rules = ( { access = \"all\"; filter = \"a\"; } ); } );\n", 4,
		  "access 'all' is not one of" },
		{ BASE "roles = ( { name = \"r\"; rules = ( { access = \"read\"; } ); } );\n", 4, "rule has no 'filter'" },
		{ BASE "roles = ( { name = \"r\"; rules = ( { filter = \"a\"; } ); } );\n", 4, "rule has no 'access'" },
		{ BASE "roles = ( { name = \"r\"; rules = ( { access = \"read\"; filter = \"a/+x\"; } ); } );\n", 4,
		  "not a valid MQTT topic filter" },
		{ BASE "roles = ( { name = \"r\"; rules = ( { access = \"read\"; filter = \"a\"; acess = \"x\"; } ); } );\n", 4,
		  "unknown rule setting 'acess'" },
		{ BASE "roles = ( { name = \"r\"; rules = ( { access = \"read\"; filter = \"a\"; } ); },\n"
		  "          { name = \"r\"; rules = ( { access = \"write\"; filter = \"b\"; } ); } );\n", 5, "defined twice" },
		{ BASE "roles = ( { name = \"r\"; role = \"x\"; rules = ( { access = \"read\"; filter = \"a\"; } ); } );\n", 4,
		  "unknown role setting 'role'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sms_config cfg;
		char err[512] = "", where[160];
		const char *path = write_conf(cases[i].text);

		if (sms_config_load(path, &cfg, err, sizeof(err)) == 0) {
			sms_config_free(&cfg);
			fail_msg("case %zu loaded, expected '%s'", i, cases[i].problem);
		}
		if (cases[i].line)
			snprintf(where, sizeof(where), "%s:%d: ", path, cases[i].line);
		else
			snprintf(where, sizeof(where), "%s: ", path);
		if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, cases[i].problem))
			fail_msg("case %zu: got '%s', want '%s...%s'", i, err, where, cases[i].problem);
		if (strchr(err, '\n'))
			fail_msg("case %zu: message is more than one line: '%s'", i, err);
	}
}

static void missing_file(void **state)
{
	struct sms_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(sms_config_load("/nonexistent/sms_auth.conf", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/sms_auth.conf: cannot be read");
	assert_int_equal(sms_config_load("", &cfg, err, sizeof(err)), -1);
	assert_int_equal(sms_config_load(NULL, &cfg, err, sizeof(err)), -1);
}

/* The shipped example must stay loadable and say what the issue asks for. */
static void shipped_example(void **state)
{
	struct sms_config cfg;
	char err[512] = "", path[4096];
	const char *root = getenv("SMS_ROOT");
	const struct sms_role *r;

	(void)state;
	snprintf(path, sizeof(path), "%s/acl/sms_auth.conf", root && *root ? root : ".");
	if (sms_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	r = sms_config_role(&cfg, "vendor-snapshot-service");
	assert_non_null(r);
	assert_true(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_SUBSCRIBE, "+/+/+/snapshots"));
	assert_false(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_WRITE, "a/b/c/snapshots"));
	/* Receipts are written by the snapshot service alone, CRLs by the CRL
	 * service alone: what the agent trusts depends on that least privilege. */
	assert_true(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_WRITE, "a/b/c/receipts"));
	assert_false(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_WRITE, "a/b/c/firmware"));
	assert_false(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_WRITE, "sms/crl/tls/00"));
	assert_true(acl_allows(&cfg, "role:vendor-crl-service", ACL_WRITE, "sms/crl/tls/00"));
	assert_true(acl_allows(&cfg, "role:vendor-crl-service", ACL_WRITE, "sms/crl/e2e/00"));
	assert_false(acl_allows(&cfg, "role:vendor-crl-service", ACL_WRITE, "a/b/c/receipts"));
	assert_false(acl_allows(&cfg, "role:vendor-crl-service", ACL_WRITE, "sms/firmware/1"));
	assert_false(acl_allows(&cfg, "role:vendor-firmware-service", ACL_WRITE, "a/b/c/receipts"));
	assert_false(acl_allows(&cfg, "role:vendor-firmware-service", ACL_WRITE, "sms/crl/tls/00"));
	assert_true(acl_allows(&cfg, "role:vendor-firmware-service", ACL_WRITE, "a/b/c/firmware"));
	assert_false(acl_allows(&cfg, "role:vendor-firmware-service", ACL_WRITE, "a/b/c/snapshots"));
	assert_true(acl_allows(&cfg, "role:MRO-Admin", ACL_SUBSCRIBE, "$SYS/#"));
	assert_true(acl_allows(&cfg, "role:MRO-Admin", ACL_SUBSCRIBE, "#"));
	sms_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(defaults),
		cmocka_unit_test(client_id_settings),
		cmocka_unit_test(errors),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(shipped_example),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
