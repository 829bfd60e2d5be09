#!/usr/bin/env bash
# sms-snapshotd's E2E CRLs (issue 9, findings 5 and 6): a revocation takes
# effect without a signal, a CRL that does not verify or an older CRL is
# refused whole and the previous CRLs stay in use, and CRLs near or past
# nextUpdate are announced.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
LOG=$H_DIR/snapshotd.log
CRLS=$P/e2e/crls.pem

wait_log() { # wait_log PATTERN COUNT SECONDS
	local i
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(grep -c -- "$1" "$LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
stored() { q "select count(*) from t_snapshot where seq = $1"; }
dead() { q "select count(*) from t_dead_letter where reason = '$1'"; }

cp "$CRLS" "$H_DIR/crls-before-revocation.pem"
svc_daemon_start
grep -q 'E2E CRLs loaded: .* revoked entries, earliest nextUpdate 20' "$LOG" &&
	tap_ok "start: one line with CRLs, issuers, revoked entries and the earliest nextUpdate" ||
	tap_not_ok "start: CRL summary line"

# --- Finding 5: revoking a device takes effect without SIGHUP.
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 100 >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot where seq = 100" 1 20
harness_pki revoke ma/000001/acc/00001/dev/EQ2 --pki e2e >/dev/null || tap_not_ok "sms-pki revoke"
wait_log 'E2E CRLs reloaded' 1 10 && tap_ok "changed CRL file picked up within the check interval, no signal" ||
	tap_not_ok "changed CRL file picked up without a signal"
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 101 >/dev/null 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'revoked'" 1 20 &&
	tap_ok "a snapshot from the device revoked a moment ago -> dead letter 'revoked'" ||
	tap_not_ok "revoked device refused without SIGHUP"
tap_is "$(stored 101)" 0 "and it is not stored"
cp "$CRLS" "$H_DIR/crls-revoked.pem"

# --- A CRL whose signature does not verify: the whole file is refused.
# Flip one bit in the signature of the last CRL in the bundle (its last bytes).
python3 - "$CRLS" <<'PY'
import base64, re, sys
p = sys.argv[1]
pem = open(p).read()
blocks = re.findall(r"-----BEGIN X509 CRL-----\n(.*?)-----END X509 CRL-----\n", pem, re.S)
der = bytearray(base64.b64decode("".join(blocks[-1].split())))
der[-3] ^= 0x01
b64 = base64.encodebytes(bytes(der)).decode().replace("\n", "")
bad = "-----BEGIN X509 CRL-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END X509 CRL-----\n"
out = pem.replace("-----BEGIN X509 CRL-----\n" + blocks[-1] + "-----END X509 CRL-----\n", bad)
open(p + ".new", "w").write(out)
PY
mv "$CRLS.new" "$CRLS"
wait_log 'E2E CRLs refused, keeping the previous ones' 1 10 &&
	tap_ok "a CRL file with a broken signature is refused, the previous CRLs kept" ||
	{ tap_not_ok "broken CRL refused"; tail -n 5 "$LOG" | sed 's/^/# /'; }
grep 'E2E CRLs refused' "$LOG" | grep -q 'CN=' && tap_ok "the refusal names the issuer" ||
	tap_not_ok "the refusal names the issuer"
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 102 >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot where seq = 102" 1 20 &&
	tap_ok "with the bad file in place, other devices are still stored" || tap_not_ok "EQ1 stored"
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 103 >/dev/null 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'revoked'" 2 20 &&
	tap_ok "and the revoked device stays refused (previous CRLs in use)" || tap_not_ok "EQ2 still revoked"

# --- A replayed older CRL (from before the revocation) would un-revoke: refused.
refusals=$(grep -c 'E2E CRLs refused' "$LOG")
cp "$H_DIR/crls-before-revocation.pem" "$CRLS"
wait_log 'E2E CRLs refused' $((refusals + 1)) 10 && grep 'E2E CRLs refused' "$LOG" | tail -n 1 | grep -q 'older' &&
	tap_ok "an older CRL than the one in use is refused as a replay" ||
	{ tap_not_ok "older CRL refused"; tail -n 3 "$LOG" | sed 's/^/# /'; }
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 104 >/dev/null 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'revoked'" 3 20 &&
	tap_ok "the replay did not un-revoke the device" || tap_not_ok "replay un-revoked"
tap_is "$(q "select count(*) from t_snapshot where seq in (103, 104)")" 0 "nothing from the revoked device stored"
cp "$H_DIR/crls-revoked.pem" "$CRLS"
svc_daemon_stop TERM

# --- Finding 6: CRLs near nextUpdate are announced at start.
harness_pki crl --pki e2e --next-update-days 3 >/dev/null || tap_not_ok "sms-pki crl"
svc_daemon_start
wait_log 'reach nextUpdate within 7 day' 1 10 &&
	tap_ok "CRLs 3 days from nextUpdate: a warning (crl_warn_days = 7)" ||
	{ tap_not_ok "nextUpdate warning"; grep CRL "$LOG" | tail -n 3 | sed 's/^/# /'; }
svc_daemon_stop TERM
tap_is "$?" 0 "SIGTERM: exit status 0"
tap_done
