#!/usr/bin/env bash
# Refusals and options: bad identifiers, overwrites, missing parents,
# --p12 password handling, --help, options placed after the command.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

tap_check "init" harness_pki init
tap_check "master 000001" harness_pki master 000001
tap_check "account 000001 00002" harness_pki account 000001 00002

# refused_cleanly DESC CMD...: fails, says exactly one line on stderr, nothing
# on stdout, and leaves the PKI directory unchanged.
refused_cleanly() {
	local before after out err
	before=$(cd "$PKI" && find . | LC_ALL=C sort | md5sum)
	out=$("$@" 2>"$H_DIR/err") && { echo "succeeded"; return 1; }
	err=$(cat "$H_DIR/err")
	after=$(cd "$PKI" && find . | LC_ALL=C sort | md5sum)
	[ -z "$out" ] || { echo "stdout: $out"; return 1; }
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { printf 'stderr not one line:\n%s\n' "$err"; return 1; }
	[ "$before" = "$after" ] || { echo "PKI directory changed"; return 1; }
	echo "$err"
}

long=$(printf 'x%.0s' $(seq 1 65))
bad=("a/b" "a+b" "a#b" "a\$b" "a b" $'a\tb' $'a\nb' $'a\x01b' $'a\x7fb' 'a\b' "" "." ".." "$long" "é"
	"a:b" "a=b" "a,b" $'EQ\u2215x' $'EQ\u202e1')
names=("slash" "plus" "hash" "dollar" "space" "tab" "newline" "control char" "DEL" "backslash" "empty" "dot" "dot-dot"
	"65 bytes" "non-ASCII" "colon" "equals" "comma" "U+2215 division slash" "U+202E right-to-left override")
# NUL cannot be tested: the kernel's argv cannot carry it (execve ends
# every argument at the first NUL), so no caller can hand one to sms-pki.
for i in "${!bad[@]}"; do
	tap_check "master refuses an identifier with ${names[$i]}" refused_cleanly harness_pki master "${bad[$i]}"
done
tap_check "account refuses a bad ACC" refused_cleanly harness_pki account 000001 "a+b"
tap_check "device refuses a bad EQ" refused_cleanly harness_pki device 000001 00002 "a#b"
tap_check "device refuses an EQ outside PrintableString" refused_cleanly harness_pki device 000001 00002 "a_b"
tap_check "client refuses a bad NAME" refused_cleanly harness_pki client 000001 00002 "a/b"
tap_check "client refuses a bad ACC" refused_cleanly harness_pki client 000001 ".." x
tap_check "service refuses a bad ROLE" refused_cleanly harness_pki service "MRO Admin"
tap_check "a 64-byte identifier is accepted" harness_pki master "$(printf 'y%.0s' $(seq 1 64))"
tap_check "a '.'-containing identifier is accepted" harness_pki --pki tls master a.b
tap_check "an identifier with - _ . is accepted" harness_pki --pki tls master ms-acc_1.x

# --- ids that differ from an existing sibling only in case (a lookalike)
tap_check "master differing only in case is refused" refused_cleanly harness_pki master A.B
harness_pki --pki tls account a.b acc-1 >/dev/null
tap_check "account differing only in case is refused" refused_cleanly harness_pki --pki tls account a.b ACC-1
harness_pki --pki tls device a.b acc-1 eq-1 >/dev/null
tap_check "device differing only in case is refused" refused_cleanly harness_pki --pki tls device a.b acc-1 EQ-1
harness_pki --pki tls client a.b acc-1 ops >/dev/null
tap_check "client differing only in case is refused" refused_cleanly harness_pki --pki tls client a.b acc-1 OPS
harness_pki --pki tls service reader >/dev/null
tap_check "service differing only in case is refused" refused_cleanly harness_pki --pki tls service Reader
tap_check "the same id under another parent is accepted" harness_pki --pki tls account 000001 ACC-1

# --- missing parents
tap_check "device without its master says which command to run" \
	fails_with "run sms-pki master 000009 first" harness_pki device 000009 00001 EQ1
tap_check "device without its account says which command to run" \
	fails_with "run sms-pki account 000001 00009 first" harness_pki device 000001 00009 EQ1
tap_check "client without its master is refused" fails_with "run sms-pki master 000009 first" harness_pki client 000009 x
tap_check "account without its master is refused" fails_with "run sms-pki master 000009 first" harness_pki account 000009 1
tap_check "master in a missing directory is refused" fails_with "run sms-pki init" \
	"$H_ROOT/pki/sms-pki" --dir "$H_DIR/missing" master 000001
tap_check "... and the directory is not created" test ! -e "$H_DIR/missing"
mkdir "$H_DIR/empty"
tap_check "master before init is refused" fails_with "run sms-pki init first" \
	"$H_ROOT/pki/sms-pki" --dir "$H_DIR/empty" master 000001

# --- overwrites
tap_check "device 000001 00002 EQ1" harness_pki device 000001 00002 EQ1
sum() { md5sum "$PKI/tls/ma/000001/acc/00002/dev/EQ1/$1" | cut -d' ' -f1; }
old=$(sum cert.pem)
tap_check "issuing the device again is refused" refused_cleanly harness_pki device 000001 00002 EQ1
tap_check "issuing the master again is refused" refused_cleanly harness_pki master 000001
tap_check "issuing the account again is refused" refused_cleanly harness_pki account 000001 00002
tap_check "init again is refused" refused_cleanly harness_pki init
tap_is "$(sum cert.pem)" "$old" "the refused device keeps its certificate"
oldkey=$(sum key.pem)
tap_check "--force replaces it" harness_pki --force device 000001 00002 EQ1
tap_check "... with a new certificate" test "$(sum cert.pem)" != "$old"
tap_check "... and a new key" test "$(sum key.pem)" != "$oldkey"
tap_check "... key still 0600" test "$(stat -c %a "$PKI/tls/ma/000001/acc/00002/dev/EQ1/key.pem")" = 600
tap_check "... that verifies" verify_crl tls ma/000001/acc/00002/dev/EQ1

# --- PKCS#12
tap_check "--p12 without SMS_P12_PASS is refused" \
	fails_with "SMS_P12_PASS" env -u SMS_P12_PASS "$H_ROOT/pki/sms-pki" --dir "$PKI" --p12 device 000001 00002 P1
tap_check "... and issues nothing" test ! -e "$PKI/tls/ma/000001/acc/00002/dev/P1"
PASS="p12-secret-$$"
out=$(SMS_P12_PASS=$PASS harness_pki --p12 device 000001 00002 P1 2>&1)
tap_check "--p12 device" test -f "$PKI/e2e/ma/000001/acc/00002/dev/P1/cert.p12"
not_printed() { ! grep -qF -- "$PASS" <<<"$out"; }
tap_check "the password is not printed" not_printed
tap_check "cert.p12 is 0600" test "$(stat -c %a "$PKI/tls/ma/000001/acc/00002/dev/P1/cert.p12")" = 600
p12_certs() {
	SMS_P12_PASS=$1 openssl pkcs12 -in "$PKI/tls/ma/000001/acc/00002/dev/P1/cert.p12" \
		-passin env:SMS_P12_PASS -nokeys | grep -c 'BEGIN CERTIFICATE'
}
p12_key_matches() {
	local a b
	a=$(SMS_P12_PASS=$PASS openssl pkcs12 -in "$PKI/tls/ma/000001/acc/00002/dev/P1/cert.p12" \
		-passin env:SMS_P12_PASS -nocerts -nodes | openssl pkey -pubout)
	b=$(openssl pkey -in "$PKI/tls/ma/000001/acc/00002/dev/P1/key.pem" -pubout)
	[ -n "$a" ] && [ "$a" = "$b" ]
}
tap_is "$(p12_certs "$PASS")" 3 "cert.p12 opens with the password: leaf + 2 CAs"
tap_check "cert.p12 holds the leaf's key" p12_key_matches
tap_check_fails "cert.p12 does not open with a wrong password" p12_certs wrong

# --- options
tap_check "options after the command (--pki tls)" harness_pki master 000005 --pki tls
tap_check "... issued in tls" test -f "$PKI/tls/ma/000005/ca.crt"
tap_check "... not in e2e" test ! -e "$PKI/e2e/ma/000005"
tap_check "account in e2e only is refused when the master is tls-only" \
	fails_with "run sms-pki master 000005 first" harness_pki account 000005 1
tap_check "unknown curve is refused" fails_with "unknown curve" harness_pki --curve P-192 master 000006
tap_check "unknown option is refused" fails_with "unknown option" harness_pki --frobnicate list
tap_check "unknown command is refused" fails_with "unknown command" harness_pki frobnicate
tap_check "bad --days is refused" fails_with "positive number" harness_pki --days -3 master 000006
tap_check "bad --pki is refused" fails_with "unknown PKI" harness_pki --pki both master 000006
tap_check "wrong argument count is refused" fails_with "usage: device" harness_pki device 000001 00002
help_ok() {
	local h c
	h=$("$H_ROOT/pki/sms-pki" --help) || return 1
	for c in init master account device client service revoke crl renew list --dir --curve --days --force \
		--p12 SMS_P12_PASS --pki --start-date --end-date --san --reason --next-update-days --revoke-old; do
		grep -q -- "$c" <<<"$h" || { echo "--help does not mention $c"; return 1; }
	done
}
tap_check "--help documents every command and option" help_ok

tap_done
