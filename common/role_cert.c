/* Vendor role certificates; contract in role_cert.h. */
#include "common/role_cert.h"

#include <string.h>

#include <openssl/x509v3.h>

#include "common/errf.h"
#include "common/identity.h"
#include "common/x509_util.h"

int role_cert_check(X509 *cert, X509 *services_ca, const char *role, const char *label, char *err, size_t errlen)
{
	EVP_PKEY *ca_key = X509_get0_pubkey(services_ca);
	char name[256], why[160];
	identity id;

	if (cert == NULL)
		return errf(err, errlen, "%s: no signer certificate", label);
	x509_name_string(X509_get_subject_name(cert), name, sizeof name);
	if (ca_key == NULL || X509_check_issued(services_ca, cert) != X509_V_OK || X509_verify(cert, ca_key) != 1) {
		x509_ossl_reason();
		return errf(err, errlen, "%s: %s is not issued by the services CA", label, name);
	}
	if (identity_from_subject(X509_get_subject_name(cert), &id, why, sizeof why) != 0 || id.kind != IDENTITY_ROLE ||
	    strcmp(id.role, role) != 0)
		return errf(err, errlen, "%s: %s is not the role %s", label, name, role);
	return 0;
}
