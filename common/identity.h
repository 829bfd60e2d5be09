/*
 * Certificate subject -> SMS identity (DESIGN.md "Identity").
 *
 *   O=ma, OU=acc, serialNumber=eq, CN=...  -> equipment,      scope "ma/acc/eq"
 *   O=ma, OU=acc, CN=...                   -> account client, scope "ma/acc"
 *   O=ma, CN=...                           -> master account, scope "ma"
 *   CN=<role> (no O/OU/serialNumber)       -> role candidate, "role:<role>"
 *
 * identity_from_certificate() adds the one identity a subject alone cannot
 * tell: a customer-site broker's bridge (TLS only). Its certificate carries
 * the extendedKeyUsage IDENTITY_BRIDGE_EKU_OID besides clientAuth and must
 * be O=ma, CN=bridge-<name> (name in the identifier grammar)  -> bridge,
 * "bridge:<ma>/<name>", scope "ma". The EKU, not the CN, makes the bridge:
 * a master-account client that happens to be called "bridge-x" stays a
 * client, and the EKU on any other subject is refused.
 *
 * Pure function of the X509_NAME: no I/O, no global state, usable by the
 * broker plugin (TLS PKI) and by the services (E2E PKI). Whether a role is
 * honoured depends on the issuing CA, which the caller decides.
 * O, OU, serialNumber and a role's CN must be identifiers
 * (common/ident_grammar.h: 1-64 of A-Z a-z 0-9 - _ .), compared byte for
 * byte. Every value, the free-text CN of a tenant's leaf included, is also
 * refused when empty, longer than IDENTITY_VALUE_MAX bytes, not well-formed
 * UTF-8, "." or "..", or holding '/', '+', '#', '$', NUL, control
 * characters or whitespace. Refused as well: missing or repeated
 * O/OU/serialNumber/CN, any other attribute type, multi-valued RDNs.
 */
#ifndef SMS_IDENTITY_H
#define SMS_IDENTITY_H

#include <stddef.h>
#include <openssl/x509.h>

#define IDENTITY_VALUE_MAX 64
#define IDENTITY_SCOPE_MAX (3 * IDENTITY_VALUE_MAX + 8)

typedef enum {
	IDENTITY_EQUIPMENT = 1,
	IDENTITY_ACCOUNT,
	IDENTITY_MASTER,
	IDENTITY_ROLE,
	IDENTITY_BRIDGE
} identity_kind;

/* A UUID OID (ITU-T X.667: 2.25.<UUID as an integer>, no registration
 * needed), generated once for SMS; pki/sms-pki writes the same string. */
#define IDENTITY_BRIDGE_EKU_OID "2.25.51606392005656112972880331953528505823"
#define IDENTITY_BRIDGE_CN_PREFIX "bridge-"
#define IDENTITY_BRIDGE_PREFIX "bridge:"
#define IDENTITY_BRIDGE_PREFIX_LEN 7

typedef struct {
	identity_kind kind;
	char master[IDENTITY_VALUE_MAX + 1];
	char account[IDENTITY_VALUE_MAX + 1];
	char equipment[IDENTITY_VALUE_MAX + 1];
	char role[IDENTITY_VALUE_MAX + 1];
	char bridge[IDENTITY_VALUE_MAX + 1];   /* <name> of CN=bridge-<name> */
	/* "ma/acc/eq", "ma/acc", "ma", "role:<name>" or "bridge:<ma>/<name>":
	 * the mosquitto username. */
	char name[IDENTITY_SCOPE_MAX];
} identity;

/* Returns 0 and fills *out, or -1 with a reason in err ("OU value contains '+'"). */
int identity_from_subject(const X509_NAME *subject, identity *out, char *err, size_t errlen);

/*
 * identity_from_subject() of cert's subject, then the bridge marker: with
 * IDENTITY_BRIDGE_EKU_OID in extendedKeyUsage the subject must be a
 * master-account one with CN=bridge-<identifier>, and the identity becomes
 * IDENTITY_BRIDGE; anything else with that EKU is refused.
 */
int identity_from_certificate(X509 *cert, identity *out, char *err, size_t errlen);

/* The topic prefix an identity's scope grants ("ma/acc/eq", a bridge's "ma"); NULL for roles. */
const char *identity_scope(const identity *id);

#endif
