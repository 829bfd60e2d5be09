#!/usr/bin/env bash
# Lifecycle: revoke (leaf and intermediate), crl, renew, list, and expired
# certificates, checked with `openssl verify -crl_check_all`.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

DEV=ma/000001/acc/00002/dev
setup() {
	harness_pki init && harness_pki master 000001 &&
	harness_pki account 000001 00002 && harness_pki account 000001 00003 &&
	harness_pki device 000001 00002 EQ1 && harness_pki device 000001 00002 EQ2 &&
	harness_pki device 000001 00003 EQ3 && harness_pki client 000001 00002 auditor
}
tap_check "init, master, two accounts, devices, a client" setup
export SMS_PKI_DIR=$PKI
for pki in tls e2e; do
	for rel in $DEV/EQ1 $DEV/EQ2 ma/000001/acc/00003/dev/EQ3; do
		tap_check "$pki $rel verifies with CRLs before any revocation" verify_crl "$pki" "$rel"
	done
done

# status PKI REL: the STATUS column of `list` for REL.
status() {
	"$H_ROOT/pki/sms-pki" list | awk -v p="$1" -v r="$2" '$1 == p && $2 == r { print $NF }'
}
tap_is "$(status tls $DEV/EQ1)" valid "list: EQ1 valid"

# --- revoke a leaf
crlnum() { openssl crl -in "$PKI/$1/$2/crl.pem" -noout -crlnumber | cut -d= -f2; }
before=$(crlnum tls ma/000001/acc/00002)
# SMS_PKI_DIR instead of --dir: the environment default works too.
tap_check "revoke $DEV/EQ1 --reason keyCompromise" "$H_ROOT/pki/sms-pki" revoke $DEV/EQ1 --reason keyCompromise
for pki in tls e2e; do
	tap_check "$pki: revoked leaf fails -crl_check_all" fails_with "certificate revoked" verify_crl "$pki" $DEV/EQ1
	tap_check "$pki: ... still verifies without CRLs (the CRL is what rejects it)" verify "$pki" $DEV/EQ1
	tap_check "$pki: sibling leaf still verifies" verify_crl "$pki" $DEV/EQ2
	tap_is "$(status "$pki" $DEV/EQ1)" revoked "$pki list: EQ1 revoked"
	tap_is "$(status "$pki" $DEV/EQ2)" valid "$pki list: EQ2 valid"
done
reason_ok() { openssl crl -in "$PKI/tls/ma/000001/acc/00002/crl.pem" -noout -text | grep -q 'Key Compromise'; }
tap_check "the CRL carries the reason" reason_ok
tap_check "the CRL number went up" test "$(crlnum tls ma/000001/acc/00002)" != "$before"
tap_check "revoking again is harmless" harness_pki revoke $DEV/EQ1

# --- revoke an intermediate
tap_check "revoke account CA ma/000001/acc/00003" harness_pki revoke ma/000001/acc/00003 --reason cessationOfOperation
for pki in tls e2e; do
	tap_check "$pki: device under the revoked account CA fails -crl_check_all" \
		fails_with "certificate revoked" verify_crl "$pki" ma/000001/acc/00003/dev/EQ3
	tap_check "$pki: device under the other account still verifies" verify_crl "$pki" $DEV/EQ2
	tap_is "$(status "$pki" ma/000001/acc/00003)" revoked "$pki list: account CA 00003 revoked"
done

# --- --pki restricts
tap_check "revoke --pki tls $DEV/EQ2" harness_pki revoke --pki tls $DEV/EQ2
tap_check "tls EQ2 revoked" fails_with "certificate revoked" verify_crl tls $DEV/EQ2
tap_check "e2e EQ2 untouched" verify_crl e2e $DEV/EQ2

# --- refusals
tap_check "revoke of an unknown path is refused" fails_with "does not exist" harness_pki revoke $DEV/NOPE
tap_check "revoke of the root is refused" fails_with "cannot be revoked" harness_pki revoke root
tap_check "revoke with ../ is refused" fails_with "not a usable name" harness_pki revoke ma/../root
tap_check "revoke with an unknown reason is refused" fails_with "unknown revocation reason" \
	harness_pki revoke $DEV/EQ2 --reason because

# --- crl
tap_check "crl --next-update-days 7" harness_pki crl --next-update-days 7
next_in_days() {
	local next
	next=$(date -d "$(openssl crl -in "$1" -noout -nextupdate | cut -d= -f2)" +%s)
	echo $(((next - $(date +%s) + 3600) / 86400))
}
tap_is "$(next_in_days "$PKI/e2e/ma/000001/crl.pem")" 7 "nextUpdate is 7 days away"
tap_is "$(next_in_days "$PKI/tls/root/crl.pem")" 7 "... on the root CRL too"
tap_check "revocations survive crl" fails_with "certificate revoked" verify_crl e2e $DEV/EQ1
tap_is "$(grep -c 'BEGIN X509 CRL' "$PKI/tls/crls.pem")" 5 "crls.pem holds the 5 CRLs"

# --- renew
pub() { openssl x509 -in "$1" -noout -pubkey; }
A=ma/000001/acc/00002/clients/auditor
cp "$PKI/tls/$A/cert.pem" "$H_DIR/auditor-old.pem"
tap_check "renew $A" harness_pki renew $A
tap_check "renewed key differs" test "$(pub "$H_DIR/auditor-old.pem")" != "$(pub "$PKI/tls/$A/cert.pem")"
tap_is "$(subject tls $A)" "CN=auditor,OU=00002,O=000001" "renewed subject is the same"
tap_check "renewed cert verifies" verify_crl tls $A
tap_check "renewed key is 0600" test "$(stat -c %a "$PKI/tls/$A/key.pem")" = 600
tap_check "old cert still verifies (no --revoke-old)" \
	verify_cert tls "$H_DIR/auditor-old.pem" "$PKI/tls/$A/chain.pem" -crl_check_all -CRLfile "$PKI/tls/crls.pem"
cp "$PKI/tls/$A/cert.pem" "$H_DIR/auditor-2.pem"
tap_check "renew --revoke-old $A" harness_pki renew $A --revoke-old
tap_check "previous cert is now revoked" fails_with "certificate revoked" \
	verify_cert tls "$H_DIR/auditor-2.pem" "$PKI/tls/$A/chain.pem" -crl_check_all -CRLfile "$PKI/tls/crls.pem"
tap_check "new cert verifies" verify_crl tls $A
tap_check "new e2e cert verifies" verify_crl e2e $A
sans() { openssl x509 -in "$1" -noout -ext subjectAltName | sed -n 2p; }
want=$(sans "$PKI/tls/broker/cert.pem")
tap_check "renew broker" harness_pki renew broker
tap_is "$(sans "$PKI/tls/broker/cert.pem")" "$want" "renewed broker keeps its SANs"
tap_check "renewed broker verifies as a server" verify_crl tls broker -purpose sslserver
tap_check "renew of a missing identity is refused" fails_with "does not exist" harness_pki renew $DEV/NOPE

# --- expired certificates (testing aid)
tap_check "device with --start-date/--end-date in the past" \
	harness_pki device 000001 00002 OLD --start-date 20190101000000Z --end-date 20200101000000Z
for pki in tls e2e; do
	tap_check "$pki: expired device fails verification" fails_with "certificate has expired" verify "$pki" $DEV/OLD
	tap_is "$(status "$pki" $DEV/OLD)" expired "$pki list: expired"
done
tap_check "a bad --end-date is refused" fails_with "YYYYMMDDHHMMSSZ" \
	harness_pki device 000001 00002 OLD2 --end-date 2020-01-01

tap_done
