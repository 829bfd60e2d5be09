#!/usr/bin/env bash
# smscms through its command line on a PKI made by pki/sms-pki: MQV
# roundtrip to two recipients with chain verification, originator display,
# PKCS#12 identities, and the refusals with their exit codes (not a
# recipient, tampered, untrusted root, revoked originator, ECDH with a
# trust check, truncated, oversized). Interop with BC/openssl lives in
# tests/interop.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init

SMSCMS=$H_BIN/smscms
[ -x "$SMSCMS" ] || harness_die "$SMSCMS not built"
E=$H_DIR/pki/e2e
ACC=ma/000001/acc/00002
DEV=$E/$ACC/dev/EQ1
DEV2=$E/$ACC/dev/EQ2
SVC=$E/services/roles/snapshotd
AUD=$E/$ACC/clients/auditor
export SMS_P12_PASS=fuzzy-p12-pass
setup() {
	harness_pki init && harness_pki master 000001 && harness_pki account 000001 00002 &&
	harness_pki --p12 device 000001 00002 EQ1 && harness_pki device 000001 00002 EQ2 &&
	harness_pki --p12 service snapshotd && harness_pki client 000001 00002 auditor
}
tap_check "PKI with a device, a second device, a service and an auditor" setup

PT=$H_DIR/snapshot.json
printf '{"equipment":"EQ1","seq":1,"values":[]}' >"$PT"
MSG=$H_DIR/msg.der

# code CMD...: prints the exit status of CMD (output discarded).
code() { "$@" >/dev/null 2>&1; echo $?; }
dec() { "$SMSCMS" decrypt --cert "$1/cert.pem" --key "$1/key.pem" "${@:2}"; }
trust=(--trust-root "$E/root/ca.crt" --crl "$E/crls.pem")

tap_check "--help exits 0" "$SMSCMS" --help
tap_check "encrypt --help exits 0" "$SMSCMS" encrypt --help
tap_is "$(code "$SMSCMS" encrypt --bogus)" 2 "unknown option is a usage error (exit 2)"
tap_is "$(code "$SMSCMS" encrypt --cert "$DEV/cert.pem" --key "$DEV/key.pem")" 2 "encrypt without --recipient exits 2"
tap_is "$(code "$SMSCMS" encrypt --kdf md5 --recipient x)" 2 "bad --kdf exits 2"
tap_is "$(code "$SMSCMS")" 2 "no command exits 2"
out=$("$SMSCMS" decrypt --trust "$E/root/ca.crt" 2>&1); rc=$?
tap_is "$rc:$out" "2:smscms: --trust is now --trust-root (the name every tool uses)" \
	"the old --trust is refused with the new name, not taken as an alias"
tap_is "$("$SMSCMS" --version)" "smscms (sms) $(cat "$SMS_ROOT/VERSION")" "--version prints the tree's VERSION"

tap_check "device encrypts to service and auditor (MQV, chain in originatorInfo)" \
	"$SMSCMS" encrypt --cert "$DEV/cert.pem" --key "$DEV/key.pem" --chain "$DEV/chain.pem" \
	--recipient "$SVC/cert.pem" --recipient "$AUD/cert.pem" --in "$PT" --out "$MSG"
for who in "$SVC" "$AUD"; do
	out=$(dec "$who" "${trust[@]}" --in "$MSG" 2>/dev/null)
	tap_is "$out" "$(cat "$PT")" "$(basename "$who") decrypts with --trust-root and CRLs"
done
err=$(dec "$SVC" "${trust[@]}" --in "$MSG" --show-originator 2>&1 >/dev/null)
case $err in
*"CN=EQ1"*"mqv-sha256"*verified*) tap_ok "--show-originator names the device, scheme and verified chain" ;;
*) tap_not_ok "--show-originator output"; echo "#   $err" ;;
esac
out=$("$SMSCMS" decrypt --p12 "$SVC/cert.p12" --pass env:SMS_P12_PASS "${trust[@]}" --in "$MSG" 2>/dev/null)
tap_is "$out" "$(cat "$PT")" "PKCS#12 identity with --pass env:VAR decrypts"
tap_is "$(SMS_P12_PASS=wrong code "$SMSCMS" decrypt --p12 "$SVC/cert.p12" --pass env:SMS_P12_PASS --in "$MSG")" 11 \
	"wrong PKCS#12 password is an argument error (exit 11)"
insp=$("$SMSCMS" inspect --in "$MSG")
case $insp in
*"mqv, sha256 kdf"*"recipient 2:"*"signingTime"*) tap_ok "inspect shows scheme, both recipients, signingTime" ;;
*) tap_not_ok "inspect output"; echo "$insp" | sed 's/^/#   /' ;;
esac

tap_is "$(code dec "$DEV2" --in "$MSG")" 17 "another device is not a recipient (exit 17)"
BAD=$H_DIR/bad.der
size=$(stat -c %s "$MSG")
cp "$MSG" "$BAD"
# Flip one bit in the last byte: the GCM tag.
last=$(od -An -tu1 -j $((size - 1)) -N1 "$MSG" | tr -d ' ')
printf "$(printf '\\%03o' $((last ^ 1)))" | dd of="$BAD" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
out=$(dec "$SVC" --in "$BAD" 2>/dev/null); rc=$?
tap_is "$rc:$out" "19:" "tampered tag: exit 19 and no plaintext"
head -c $((size / 2)) "$MSG" >"$BAD"
tap_is "$(code dec "$SVC" --in "$BAD")" 15 "truncated message is malformed (exit 15)"
tap_is "$(code dec "$SVC" --max-size 100 --in "$MSG")" 14 "message over --max-size is refused (exit 14)"
tap_is "$(code dec "$SVC" --trust-root "$H_DIR/pki/tls/root/ca.crt" --in "$MSG")" 21 \
	"originator does not chain to the TLS root (exit 21)"

ECDH=$H_DIR/ecdh.der
tap_check "ECDH encrypt" "$SMSCMS" encrypt --cert "$DEV/cert.pem" --key "$DEV/key.pem" --ka ecdh \
	--recipient "$SVC/cert.pem" --in "$PT" --out "$ECDH"
tap_is "$(dec "$SVC" --in "$ECDH" 2>/dev/null)" "$(cat "$PT")" "ECDH decrypts without a trust check"
tap_is "$(code dec "$SVC" "${trust[@]}" --in "$ECDH")" 20 "ECDH with --trust-root: originator unauthenticated (exit 20)"

tap_check "revoke the device in the E2E PKI" harness_pki revoke "$ACC/dev/EQ1" --pki e2e
tap_is "$(code dec "$SVC" "${trust[@]}" --in "$MSG")" 22 "revoked originator is refused (exit 22)"
out=$(dec "$SVC" "${trust[@]}" --in "$MSG" 2>&1 >/dev/null)
case $out in
*revoked*) tap_ok "the refusal says revoked" ;;
*) tap_not_ok "revocation message"; echo "#   $out" ;;
esac
tap_is "$(code dec "$SVC" --in "$MSG")" 0 "without --trust-root the message still decrypts (no chain check asked)"
tap_done
