/*
 * utf8_csr KEY OUT ATTR=VALUE...: a PEM certificate request signed with
 * KEY whose subject holds each ATTR (short name or OID) with VALUE as raw
 * UTF8String bytes, in the order given. OpenSSL's own tools refuse values
 * outside an attribute's X.520 string type (serialNumber is PrintableString
 * there), which is exactly what the plugin's attack tests need to mint:
 * a serialNumber holding U+2215 or U+202E, as another CA might issue it.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int add_attr(X509_NAME *name, const char *spec)
{
	const char *eq = strchr(spec, '=');
	char field[64];
	ASN1_OBJECT *obj;
	X509_NAME_ENTRY *e = NULL;
	int ok = 0;

	if (!eq || (size_t)(eq - spec) >= sizeof(field))
		return 0;
	memcpy(field, spec, (size_t)(eq - spec));
	field[eq - spec] = '\0';
	obj = OBJ_txt2obj(field, 0);
	if (obj)
		e = X509_NAME_ENTRY_create_by_OBJ(NULL, obj, V_ASN1_UTF8STRING, (const unsigned char *)eq + 1, -1);
	if (e)
		ok = X509_NAME_add_entry(name, e, -1, 0);
	X509_NAME_ENTRY_free(e);
	ASN1_OBJECT_free(obj);
	return ok;
}

int main(int argc, char **argv)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	EVP_PKEY *key = NULL;
	FILE *f;
	int i, rc = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: utf8_csr KEY OUT ATTR=VALUE...\n");
		goto out;
	}
	f = fopen(argv[1], "r");
	if (f) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!req || !name || !key) {
		fprintf(stderr, "utf8_csr: cannot read key %s\n", argv[1]);
		goto out;
	}
	for (i = 3; i < argc; i++)
		if (!add_attr(name, argv[i])) {
			fprintf(stderr, "utf8_csr: bad attribute '%s'\n", argv[i]);
			goto out;
		}
	if (!X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key) ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		fprintf(stderr, "utf8_csr: cannot build the request\n");
		goto out;
	}
	f = fopen(argv[2], "w");
	if (!f || !PEM_write_X509_REQ(f, req) || fclose(f) != 0) {
		fprintf(stderr, "utf8_csr: cannot write %s\n", argv[2]);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		ERR_print_errors_fp(stderr);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return rc;
}
