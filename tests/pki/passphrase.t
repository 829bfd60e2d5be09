#!/usr/bin/env bash
# Passphrase-protected CA keys: every CA key under private/ is encrypted
# PKCS#8 (PBES2, AES-256), leaf keys are not, a missing or wrong passphrase
# fails with one line and changes nothing, and the passphrase never appears
# in any process's arguments or in any output.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

PHRASE='correct horse battery staple 7'
printf '%s\n' "$PHRASE" >"$H_DIR/pass"
printf 'not the phrase\n' >"$H_DIR/wrong"
chmod 600 "$H_DIR/pass" "$H_DIR/wrong"

# openssl as the tool runs it, with each argument vector recorded first
# (the real openssl does the work).
mkdir -p "$H_DIR/shim"
REAL_OPENSSL=$(command -v openssl)
cat >"$H_DIR/shim/openssl" <<SHIM
#!/bin/sh
printf '%s\n' "\$*" >>"$H_DIR/argv.log"
exec "$REAL_OPENSSL" "\$@"
SHIM
chmod 755 "$H_DIR/shim/openssl"

pp() { PATH="$H_DIR/shim:$PATH" harness_pki --passphrase-file "$H_DIR/pass" "$@" 2>&1; }
{
	pp init && pp master 000001 && pp account 000001 00002 && pp device 000001 00002 EQ1 &&
	SMS_PKI_PASSPHRASE=$PHRASE PATH="$H_DIR/shim:$PATH" harness_pki client 000001 00002 auditor 2>&1 &&
	pp service vendor-snapshot-service
} >"$H_DIR/out.log" || { cat "$H_DIR/out.log"; harness_die "cannot issue with a passphrase"; }
tap_ok "issue every identity kind with --passphrase-file (and SMS_PKI_PASSPHRASE)"

ca_keys_encrypted() {
	local k n=0
	while read -r k; do
		n=$((n + 1))
		[ "$(head -n 1 "$k")" = "-----BEGIN ENCRYPTED PRIVATE KEY-----" ] || { echo "$k is not encrypted PKCS#8"; return 1; }
		openssl asn1parse -in "$k" | grep -q ':PBES2' || { echo "$k: not PBES2"; return 1; }
		openssl asn1parse -in "$k" | grep -q ':aes-256-cbc' || { echo "$k: not AES-256"; return 1; }
		c=${k#"$PKI/private/"}
		[ "$(openssl pkey -in "$k" -passin file:"$H_DIR/pass" -pubout)" = \
			"$(openssl x509 -in "$PKI/${c%/ca.key}/ca.crt" -noout -pubkey)" ] || { echo "$k does not match its certificate"; return 1; }
	done < <(find "$PKI/private" -name ca.key)
	[ "$n" -eq 8 ] || { echo "$n CA keys, not 8"; return 1; }
}
tap_check "all 8 CA keys: encrypted PKCS#8, PBES2 with AES-256-CBC, matching their certificates" ca_keys_encrypted
leaf_keys_plain() {
	local k
	while read -r k; do
		[ "$(head -n 1 "$k")" = "-----BEGIN PRIVATE KEY-----" ] || { echo "$k is encrypted"; return 1; }
	done < <(find "$PKI" -name key.pem)
}
tap_check "leaf keys are not encrypted (services start unattended)" leaf_keys_plain
tap_is "$(stat -c %a "$PKI/private" "$PKI/private/tls" "$PKI/private/tls/root" "$PKI/private/tls/root/ca.key" | tr '\n' ' ')" \
	"700 700 700 600 " "private/ directories 0700, keys 0600"
tap_check "the chains verify" verify_crl tls ma/000001/acc/00002/dev/EQ1
tap_check "... in the E2E PKI too" verify_crl e2e ma/000001/acc/00002/clients/auditor

snapshot_state() { find "$PKI" -type f ! -name .lock -printf '%P %s %T@\n' | LC_ALL=C sort; }
one_line_fail() {
	local want=$1 err rc; shift
	before=$(snapshot_state)
	err=$("$@" 2>&1 >/dev/null); rc=$?
	[ "$rc" -eq 1 ] || { echo "exit $rc: $err"; return 1; }
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { printf 'not one line:\n%s\n' "$err"; return 1; }
	grep -q -- "$want" <<<"$err" || { echo "unexpected: $err"; return 1; }
	[ "$(snapshot_state)" = "$before" ] || { echo "the PKI changed"; return 1; }
}
tap_check "wrong passphrase: one line, exit 1, nothing changed" \
	one_line_fail "CA key private/tls/ma/000001/acc/00002/ca.key: wrong passphrase" \
	harness_pki --passphrase-file "$H_DIR/wrong" device 000001 00002 EQ2
tap_check "wrong passphrase in SMS_PKI_PASSPHRASE: the same" \
	one_line_fail "wrong passphrase" env SMS_PKI_PASSPHRASE=nope "$H_ROOT/pki/sms-pki" --dir "$PKI" revoke ma/000001/acc/00002/dev/EQ1
tap_check "no passphrase for an encrypted key: one line naming the options" \
	one_line_fail "is encrypted: give --passphrase-file FILE or SMS_PKI_PASSPHRASE" \
	env -u SMS_PKI_PASSPHRASE "$H_ROOT/pki/sms-pki" --dir "$PKI" crl
tap_check "an unreadable passphrase file: one line" \
	one_line_fail "is not a readable file" harness_pki --passphrase-file "$H_DIR/nonexistent" crl
out=$(pp revoke ma/000001/acc/00002/dev/EQ1) || { echo "$out"; }
tap_check "revoke with the passphrase" verify_crl tls ma/000001/acc/00002/clients/auditor
tap_check_fails "... and the revoked device no longer verifies" verify_crl tls ma/000001/acc/00002/dev/EQ1
pp crl --next-update-days 1 >/dev/null
out2=$(pp crl renew --if-within 2d)
tap_is "$(grep renewed <<<"$out2")" "$(printf 'renewed 4 tls CRL(s) (next update in 30 days)\nrenewed 4 e2e CRL(s) (next update in 30 days)')" \
	"crl renew with the passphrase renews every CA's CRL that was due"
tap_check "openssl ran with the passphrase source only" grep -q -- "-passin file:$H_DIR/pass" "$H_DIR/argv.log"
tap_check_fails "the passphrase is in no openssl argument vector" grep -qF -- "$PHRASE" "$H_DIR/argv.log"
tap_check_fails "... and in no output" grep -qF -- "$PHRASE" "$H_DIR/out.log" <(printf '%s\n%s\n' "$out" "$out2")
tap_check_fails "... and in no file of the PKI" grep -rqF -- "$PHRASE" "$PKI"

tap_done
