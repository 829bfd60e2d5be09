/*
 * fleet_pki: N distinct device identities for benchmarks and load tests,
 * issued in-process with OpenSSL under the account CAs of a real sms-pki
 * directory, in seconds instead of the hours `sms-pki device` would take
 * for 10,000 devices.
 *
 * Each device i gets, in both PKIs (FLEET_TLS, FLEET_E2E), a fresh P-256 key
 * and a leaf certificate exactly as `sms-pki device MA ACC EQ` issues it:
 * subject O=MA, OU=ACC, serialNumber=EQ, CN=EQ (UTF8String, serialNumber
 * PrintableString, that order), the extensions of sms-pki's ext_leaf_tls /
 * ext_leaf_e2e (same config strings, so the same DER), a random 159-bit
 * serial, 730 days from now, signed by <pki>/ma/MA/acc/ACC with the digest
 * sms-pki would use for that CA's key. EQ is "<prefix><i>", i zero-padded to
 * 5 digits (F00000, F00001, ...). The account CA must exist (sms-pki master
 * MA; sms-pki account MA ACC); its keys are read from DIR/private/<pki>/...
 * (an encrypted key needs SMS_PKI_PASSPHRASE). The certificates are not
 * entered in the CA's db/index.txt: sms-pki list/revoke do not know them.
 *
 * Cache: the fleet is stored (DER, keys included, mode 0600) as
 * CACHE_DIR/fleet-<hash>.der where hash covers both roots, both account CAs,
 * MA, ACC, the prefix and n; a new PKI (new roots) therefore issues anew,
 * the same PKI loads the cached fleet. CACHE_DIR is created (0700); the
 * benchmarks use build/fleet-pki. A cache whose certificates expire within
 * a day is issued anew.
 *
 * Not thread-safe while opening; afterwards read-only (the X509/EVP_PKEY
 * objects are borrowed, shared, never modified here).
 */
#ifndef SMS_FLEET_PKI_H
#define SMS_FLEET_PKI_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum { FLEET_TLS = 0, FLEET_E2E = 1, FLEET_NPKI = 2 };

typedef struct fleet_pki fleet_pki;

/* Loads the cached fleet or issues and caches it. progress, when not NULL,
 * gets one line now and then while issuing. NULL with "<why>" in err. */
fleet_pki *fleet_pki_open(const char *pki_dir, const char *ma, const char *acc, const char *prefix,
                          size_t n, const char *cache_dir, FILE *progress, char *err, size_t errlen);
void fleet_pki_free(fleet_pki *f);

size_t fleet_pki_count(const fleet_pki *f);
/* 1 when this open issued the fleet, 0 when it came from the cache. */
int fleet_pki_issued(const fleet_pki *f);
/* EQ of device i ("<prefix><i>"); the topic is MA/ACC/EQ/snapshots. */
const char *fleet_pki_equipment(const fleet_pki *f, size_t i);
const char *fleet_pki_ma(const fleet_pki *f);
const char *fleet_pki_acc(const fleet_pki *f);
/* Borrowed: device i's certificate and key in PKI pki; the chain (account
 * CA, master-account CA: issuer first, root excluded) is the same for all. */
X509 *fleet_pki_cert(const fleet_pki *f, int pki, size_t i);
EVP_PKEY *fleet_pki_key(const fleet_pki *f, int pki, size_t i);
STACK_OF(X509) *fleet_pki_chain(const fleet_pki *f, int pki);

/* Writes device i as sms-pki lays out a device: OUT/<pki>/ma/MA/acc/ACC/
 * dev/EQ/{cert,key,chain,fullchain}.pem (keys 0600, PKCS#8), for programs
 * that take files (sms-devicesim, sms-agent). OUT may be the PKI directory
 * itself. -1 with err. */
int fleet_pki_write_device(const fleet_pki *f, size_t i, const char *out, char *err, size_t errlen);

#endif
