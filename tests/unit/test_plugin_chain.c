/*
 * plugin/sms_auth_chain.c without a broker: chain verification with CRLs on
 * every level, the services-CA rule for roles, CRL change detection and the
 * re-check of stored chains. Certificates come from pki/sms-pki, run once
 * into a private directory.
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

#include <openssl/pem.h>

#include "plugin/sms_auth.h"
#include "common/crl_set.h"
#include "tests/unit/pki_test_support.h"

static char dir[64];
static char pkidir[128];

static char pki[96];

/* sms-pki on the test PKI. */
static int pki_run(const char *args)
{
	return pts_pki(pki, args);
}

static int setup(void **state)
{
	(void)state;
	if (pts_tmpdir(dir, sizeof(dir), "chain") != 0)
		return -1;
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(pkidir, sizeof(pkidir), "%s/pki/tls", dir);
	return pki_run("init") || pki_run("master 000001") || pki_run("account 000001 00002") || pki_run("account 000001 00003") ||
	       pki_run("device 000001 00002 EQ1") || pki_run("device 000001 00002 EQ2") || pki_run("device 000001 00003 EQ1") ||
	       pki_run("service MRO-Admin") || pki_run("client 000001 ops") || pki_run("client 000001 bridge-x") ||
	       pki_run("bridge site 000001 site-a") ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return pts_remove(dir);
}

/* A config over the test PKI; crls/service may be overridden. */
static void config(struct sms_config *cfg, const char *crls, const char *services_ca, bool with_role)
{
	char path[256], err[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/c.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "trust_root = \"pki/tls/root/ca.crt\";\nintermediates = \"pki/tls/cas.pem\";\n"
		"crls = [ \"%s\" ];\nservices_ca = \"%s\";\n", crls ? crls : "pki/tls/crls.pem",
		services_ca ? services_ca : "pki/tls/services/ca.crt");
	if (with_role)
		fprintf(f, "roles = ( { name = \"MRO-Admin\"; rules = ( { access = \"read\"; filter = \"#\"; } ); } );\n");
	assert_int_equal(fclose(f), 0);
	if (sms_config_load(path, cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static X509 *cert(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s/cert.pem", pkidir, rel);
	return read_cert(path);
}

/* Authenticates rel; returns 0/-1, fills id, err, optionally keeps the chain. */
static int auth(const struct sms_trust *t, const struct sms_config *cfg, const char *rel, identity *id,
		char *err, size_t errlen, STACK_OF(X509) **keep)
{
	X509 *leaf = cert(rel);
	STACK_OF(X509) *chain = NULL;
	int rc = sms_authenticate(t, cfg, leaf, id, &chain, err, errlen);

	if (rc == 0) {
		assert_non_null(chain);
		if (keep)
			*keep = chain;
		else
			sk_X509_pop_free(chain, X509_free);
	} else {
		assert_null(chain);
	}
	X509_free(leaf);
	return rc;
}

static void identities(void **state)
{
	struct sms_config cfg;
	struct sms_trust t;
	STACK_OF(X509) *chain = NULL;
	identity id;
	char err[512];

	(void)state;
	config(&cfg, NULL, NULL, true);
	if (sms_trust_load(&cfg, NULL, &t, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (auth(&t, &cfg, "ma/000001/acc/00002/dev/EQ1", &id, err, sizeof(err), &chain) != 0)
		fail_msg("%s", err);
	assert_string_equal(id.name, "000001/00002/EQ1");
	assert_int_equal(sk_X509_num(chain), 4);       /* leaf, account CA, master CA, root */
	assert_true(sms_chain_not_after(chain) > time(NULL));
	sk_X509_pop_free(chain, X509_free);
	assert_int_equal(auth(&t, &cfg, "ma/000001/clients/ops", &id, err, sizeof(err), NULL), 0);
	assert_string_equal(id.name, "000001");
	assert_int_equal(auth(&t, &cfg, "services/roles/MRO-Admin", &id, err, sizeof(err), NULL), 0);
	assert_string_equal(id.name, "role:MRO-Admin");
	/* The broker's own certificate is a server certificate, and no identity. */
	assert_int_equal(auth(&t, &cfg, "broker", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "certificate chain not valid"));
	sms_trust_free(&t);
	sms_config_free(&cfg);

	/* Same certificate, role not configured. */
	config(&cfg, NULL, NULL, false);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(auth(&t, &cfg, "services/roles/MRO-Admin", &id, err, sizeof(err), NULL), -1);
	assert_string_equal(err, "role 'MRO-Admin' is not configured");
	sms_trust_free(&t);
	sms_config_free(&cfg);

	/* services_ca is another CA (same subject layout would not help): roles refused. */
	config(&cfg, NULL, "pki/tls/ma/000001/ca.crt", true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(auth(&t, &cfg, "services/roles/MRO-Admin", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "not issued by the services CA"));
	/* ... and a leaf that CA issued directly is "from the services CA": tenants refused. */
	assert_int_equal(auth(&t, &cfg, "ma/000001/clients/ops", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "issues roles only"));
	sms_trust_free(&t);
	sms_config_free(&cfg);
}

static void missing_pieces(void **state)
{
	struct sms_config cfg;
	struct sms_trust t;
	identity id;
	char err[512], path[256];

	(void)state;
	/* Without the intermediates their CRLs cannot be verified: refused. */
	config(&cfg, NULL, NULL, true);
	free(cfg.intermediates);
	cfg.intermediates = NULL;
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CRL of CN=SMS master-account CA,O=000001: issuer is not a configured CA"));
	sms_config_free(&cfg);
	/* ... and with the root's CRL only the chain cannot be built. */
	snprintf(path, sizeof(path), "%s/root/crl.pem", pkidir);
	config(&cfg, path, NULL, true);
	free(cfg.intermediates);
	cfg.intermediates = NULL;
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(auth(&t, &cfg, "ma/000001/acc/00002/dev/EQ1", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "issuer certificate"));
	sms_trust_free(&t);
	sms_config_free(&cfg);

	/* Only the root's CRL: the account and master CAs have none -> refused. */
	snprintf(path, sizeof(path), "%s/root/crl.pem", pkidir);
	config(&cfg, path, NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(auth(&t, &cfg, "ma/000001/acc/00002/dev/EQ1", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "unable to get certificate CRL"));
	sms_trust_free(&t);
	sms_config_free(&cfg);

	/* Files that are not what they should be. */
	snprintf(path, sizeof(path), "%s/garbage.pem", dir);
	assert_int_equal(pts_run("echo garbage > %s", path), 0);
	config(&cfg, path, NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	sms_config_free(&cfg);
	config(&cfg, "pki/tls/root/ca.crt", NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds no CRL"));
	sms_config_free(&cfg);
	config(&cfg, NULL, "pki/tls/cas.pem", true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than one certificate"));
	sms_config_free(&cfg);
	config(&cfg, "/nonexistent/crls.pem", NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/crls.pem"));
	sms_config_free(&cfg);
}

static void revocation(void **state)
{
	struct sms_config cfg;
	struct sms_trust t, fresh;
	STACK_OF(X509) *eq1 = NULL, *eq2 = NULL, *eq3 = NULL, *admin = NULL;
	identity id;
	char err[512], buf[512];

	(void)state;
	config(&cfg, NULL, NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(auth(&t, &cfg, "ma/000001/acc/00002/dev/EQ1", &id, err, sizeof(err), &eq1), 0);
	assert_int_equal(auth(&t, &cfg, "ma/000001/acc/00002/dev/EQ2", &id, err, sizeof(err), &eq2), 0);
	assert_int_equal(auth(&t, &cfg, "ma/000001/acc/00003/dev/EQ1", &id, err, sizeof(err), &eq3), 0);
	assert_int_equal(auth(&t, &cfg, "services/roles/MRO-Admin", &id, err, sizeof(err), &admin), 0);
	assert_false(crl_set_files_changed(t.crls));
	assert_int_equal(crl_set_expiring(t.crls, time(NULL), 0, buf, sizeof(buf)), 0);
	/* Every CRL is past nextUpdate a year from now. */
	assert_true(crl_set_expiring(t.crls, time(NULL), 366 * 86400, buf, sizeof(buf)) >= 4);
	assert_non_null(strstr(buf, "SMS TLS Root CA"));

	assert_int_equal(pts_run("cp %s/crls.pem %s/crls.old", pkidir, dir), 0);
	assert_int_equal(pki_run("revoke ma/000001/acc/00002/dev/EQ1"), 0);
	assert_int_equal(pki_run("revoke ma/000001/acc/00003"), 0);
	assert_true(crl_set_files_changed(t.crls));
	/* The old store still says valid: the CRLs were read at load time. */
	assert_int_equal(sms_trust_recheck(&t, eq1, false, err, sizeof(err)), SMS_RECHECK_OK);
	assert_int_equal(sms_trust_load(&cfg, NULL, &fresh, err, sizeof(err)), 0);
	assert_false(crl_set_files_changed(fresh.crls));
	assert_int_equal(sms_trust_recheck(&fresh, eq1, false, err, sizeof(err)), SMS_RECHECK_REVOKED);
	assert_int_equal(sms_trust_recheck(&fresh, eq2, false, err, sizeof(err)), SMS_RECHECK_OK);
	/* A revoked issuing CA revokes the device below it. */
	assert_int_equal(sms_trust_recheck(&fresh, eq3, false, err, sizeof(err)), SMS_RECHECK_REVOKED);
	assert_int_equal(sms_trust_recheck(&fresh, admin, true, err, sizeof(err)), SMS_RECHECK_OK);
	assert_int_equal(auth(&fresh, &cfg, "ma/000001/acc/00002/dev/EQ1", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "revoked"));
	assert_int_equal(auth(&fresh, &cfg, "ma/000001/acc/00002/dev/EQ2", &id, err, sizeof(err), NULL), 0);
	/* Newer CRLs replace older ones; the old file played back is refused. */
	{
		struct sms_config oldcfg;
		struct sms_trust again, replay;
		char path[256];

		assert_int_equal(sms_trust_load(&cfg, &t, &again, err, sizeof(err)), 0);
		sms_trust_free(&again);
		assert_int_equal(sms_trust_load(&cfg, &fresh, &again, err, sizeof(err)), 0);
		sms_trust_free(&again);
		snprintf(path, sizeof(path), "%s/crls.old", dir);
		config(&oldcfg, path, NULL, true);
		assert_int_equal(sms_trust_load(&oldcfg, &fresh, &replay, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "older than the one in use"));
		assert_null(replay.store);
		sms_config_free(&oldcfg);
	}
	sms_trust_free(&fresh);

	/* CRLs that do not cover the chain: not a reason to disconnect, just unsure. */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/root/crl.pem", pkidir);
		sms_config_free(&cfg);
		config(&cfg, path, NULL, true);
		assert_int_equal(sms_trust_load(&cfg, NULL, &fresh, err, sizeof(err)), 0);
		assert_int_equal(sms_trust_recheck(&fresh, eq2, false, err, sizeof(err)), SMS_RECHECK_UNSURE);
		assert_non_null(strstr(err, "CRL"));
		/* A role whose services_ca changed is no longer a role. */
		sms_trust_free(&fresh);
		sms_config_free(&cfg);
		config(&cfg, NULL, "pki/tls/ma/000001/ca.crt", true);
		assert_int_equal(sms_trust_load(&cfg, NULL, &fresh, err, sizeof(err)), 0);
		assert_int_equal(sms_trust_recheck(&fresh, admin, true, err, sizeof(err)), SMS_RECHECK_NOT_ROLE);
		sms_trust_free(&fresh);
	}
	sk_X509_pop_free(eq1, X509_free);
	sk_X509_pop_free(eq2, X509_free);
	sk_X509_pop_free(eq3, X509_free);
	sk_X509_pop_free(admin, X509_free);
	sms_trust_free(&t);
	sms_config_free(&cfg);
}

/* A master account whose level is a public_read namespace is refused. */
static void public_namespace_collision(void **state)
{
	struct sms_config cfg;
	struct sms_trust t;
	identity id;
	char path[256], err[512];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/public.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "trust_root = \"pki/tls/root/ca.crt\";\nintermediates = \"pki/tls/cas.pem\";\n"
		"crls = [ \"pki/tls/crls.pem\" ];\nservices_ca = \"pki/tls/services/ca.crt\";\n"
		"public_read = [ \"sms/crl/#\", \"000001/crl/#\" ];\n"
		"roles = ( { name = \"MRO-Admin\"; rules = ( { access = \"read\"; filter = \"#\"; } ); } );\n");
	assert_int_equal(fclose(f), 0);
	if (sms_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (sms_trust_load(&cfg, NULL, &t, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(auth(&t, &cfg, "ma/000001/acc/00002/dev/EQ1", &id, err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "collides with public_read filter '000001/crl/#'"));
	assert_int_equal(auth(&t, &cfg, "ma/000001/clients/ops", &id, err, sizeof(err), NULL), -1);
	/* Roles are not tenants: the public namespace does not concern them. */
	if (auth(&t, &cfg, "services/roles/MRO-Admin", &id, err, sizeof(err), NULL) != 0)
		fail_msg("%s", err);
	sms_trust_free(&t);
	sms_config_free(&cfg);
}

/* A leaf signed with openssl by the CA at PKI-relative issuer, into dir/out. */
static void mint(const char *issuer, const char *subj, const char *ext, const char *out)
{
	assert_int_equal(pts_run("cd %s && mkdir -p %s && printf '%s' > %s/ext && "
			     "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/key.pem "
			     "-subj '%s' -out %s/req.csr 2>/dev/null && "
			     "openssl x509 -req -in %s/req.csr -CA %s/%s/ca.crt -CAkey %s/../private/tls/%s/ca.key -CAcreateserial "
			     "-extfile %s/ext -days 30 -out %s/cert.pem 2>/dev/null",
			     dir, out, ext, out, out, subj, out, out, pkidir, issuer, pkidir, issuer, out, out), 0);
}

static int auth_minted(const struct sms_trust *t, const struct sms_config *cfg, const char *out, char *err,
		       size_t errlen)
{
	char path[256];
	STACK_OF(X509) *chain = NULL;
	identity id;
	X509 *x;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/cert.pem", dir, out);
	x = read_cert(path);
	rc = sms_authenticate(t, cfg, x, &id, &chain, err, errlen);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	return rc;
}

#define CLIENT_EXT "basicConstraints=critical,CA:false\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=clientAuth\\n"

/* What the chain check alone lets through: CA and non-client leaves, short chains
 * (O/OU in another case needs letters in the ids: tests/integration/plugin_attack.t). */
static void client_certificates(void **state)
{
	struct sms_config cfg;
	struct sms_trust t;
	char err[512];

	(void)state;
	config(&cfg, NULL, NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	mint("ma/000001/acc/00002", "/O=000001/OU=00002/serialNumber=EQ7/CN=EQ7", CLIENT_EXT, "m-ok");
	if (auth_minted(&t, &cfg, "m-ok", err, sizeof(err)) != 0)
		fail_msg("control refused: %s", err);
	mint("ma/000001/acc/00002", "/O=000001/OU=00002/serialNumber=EQ8/CN=EQ8",
	     "basicConstraints=critical,CA:true\\nkeyUsage=critical,keyCertSign,digitalSignature\\n"
	     "extendedKeyUsage=clientAuth\\n", "m-ca");
	assert_int_equal(auth_minted(&t, &cfg, "m-ca", err, sizeof(err)), -1);
	assert_string_equal(err, "a CA certificate (basicConstraints CA:TRUE) is not a client identity");
	mint("ma/000001/acc/00002", "/O=000001/OU=00002/serialNumber=EQ9/CN=EQ9",
	     "basicConstraints=critical,CA:false\\nkeyUsage=critical,digitalSignature\\n", "m-noeku");
	assert_int_equal(auth_minted(&t, &cfg, "m-noeku", err, sizeof(err)), -1);
	assert_string_equal(err, "certificate lacks extendedKeyUsage clientAuth");
	/* Issued straight by the master-account CA: an equipment needs its account CA too. */
	mint("ma/000001", "/O=000001/OU=00002/serialNumber=EQ1/CN=EQ1", CLIENT_EXT, "m-short");
	assert_int_equal(auth_minted(&t, &cfg, "m-short", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs a chain root -> master-account CA -> account CA -> leaf, got 3"));
	sms_trust_free(&t);
	sms_config_free(&cfg);
}

#define BRIDGE_EXT "basicConstraints=critical,CA:false\\nkeyUsage=critical,digitalSignature\\n" \
	"extendedKeyUsage=clientAuth," IDENTITY_BRIDGE_EKU_OID "\\n"

/* The bridge EKU makes a bridge of a master-account subject, and of nothing else. */
static void bridges(void **state)
{
	struct sms_config cfg;
	struct sms_trust t;
	identity id;
	char err[512];

	(void)state;
	config(&cfg, NULL, NULL, true);
	assert_int_equal(sms_trust_load(&cfg, NULL, &t, err, sizeof(err)), 0);
	if (auth(&t, &cfg, "ma/000001/bridges/site-a", &id, err, sizeof(err), NULL) != 0)
		fail_msg("%s", err);
	assert_int_equal(id.kind, IDENTITY_BRIDGE);
	assert_string_equal(id.name, "bridge:000001/site-a");
	assert_string_equal(identity_scope(&id), "000001");
	/* The CN alone makes no bridge: a client called bridge-x reads, as clients do. */
	assert_int_equal(auth(&t, &cfg, "ma/000001/clients/bridge-x", &id, err, sizeof(err), NULL), 0);
	assert_int_equal(id.kind, IDENTITY_MASTER);
	assert_string_equal(id.name, "000001");
	/* The site broker's server certificate is no client at all. */
	assert_int_equal(auth(&t, &cfg, "ma/000001/bridges/site-a/server", &id, err, sizeof(err), NULL), -1);
	/* The EKU on an equipment subject (an account CA run by the customer could mint it). */
	mint("ma/000001/acc/00002", "/O=000001/OU=00002/serialNumber=EQ5/CN=bridge-b", BRIDGE_EXT, "b-eq");
	assert_int_equal(auth_minted(&t, &cfg, "b-eq", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only for master-account subjects"));
	mint("ma/000001/acc/00002", "/O=000001/OU=00002/CN=bridge-b", BRIDGE_EXT, "b-acc");
	assert_int_equal(auth_minted(&t, &cfg, "b-acc", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only for master-account subjects"));
	/* A master-level subject from an account CA breaks its name constraints. */
	mint("ma/000001/acc/00002", "/O=000001/CN=bridge-b", BRIDGE_EXT, "b-short");
	assert_int_equal(auth_minted(&t, &cfg, "b-short", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "certificate chain not valid"));
	/* Another master account's tree: the name constraints of 000001's CA. */
	mint("ma/000001", "/O=000002/CN=bridge-b", BRIDGE_EXT, "b-other");
	assert_int_equal(auth_minted(&t, &cfg, "b-other", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "certificate chain not valid"));
	/* The CN must say bridge-<identifier>. */
	mint("ma/000001", "/O=000001/CN=site-b", BRIDGE_EXT, "b-cn");
	assert_int_equal(auth_minted(&t, &cfg, "b-cn", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs CN=bridge-<identifier>"));
	mint("ma/000001", "/O=000001/CN=bridge-", BRIDGE_EXT, "b-empty");
	assert_int_equal(auth_minted(&t, &cfg, "b-empty", err, sizeof(err)), -1);
	mint("ma/000001", "/O=000001/CN=bridge-a:b", BRIDGE_EXT, "b-colon");
	assert_int_equal(auth_minted(&t, &cfg, "b-colon", err, sizeof(err)), -1);
	/* The services CA issues roles only, bridges neither. */
	mint("services", "/O=000001/CN=bridge-b", BRIDGE_EXT, "b-svc");
	assert_int_equal(auth_minted(&t, &cfg, "b-svc", err, sizeof(err)), -1);
	/* Control: the master-account CA's own bridge, minted by hand, is one. */
	mint("ma/000001", "/O=000001/CN=bridge-b", BRIDGE_EXT, "b-ok");
	if (auth_minted(&t, &cfg, "b-ok", err, sizeof(err)) != 0)
		fail_msg("control refused: %s", err);
	sms_trust_free(&t);
	sms_config_free(&cfg);
}

static void subject_for_logs(void **state)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	char buf[256];

	(void)state;
	assert_non_null(x);
	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						    (const unsigned char *)"a\nfake line \xc3\xbc", -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	sms_subject_string(x, buf, sizeof(buf));
	assert_null(strchr(buf, '\n'));
	assert_non_null(strstr(buf, "CN=a\\0Afake line \\C3\\BC"));
	X509_NAME_free(n);
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identities),
		cmocka_unit_test(missing_pieces),
		cmocka_unit_test(public_namespace_collision),
		cmocka_unit_test(revocation),
		cmocka_unit_test(subject_for_logs),
		cmocka_unit_test(client_certificates),
		cmocka_unit_test(bridges),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
