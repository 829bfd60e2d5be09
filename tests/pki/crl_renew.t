#!/usr/bin/env bash
# sms-pki crl renew: re-issues exactly the CRLs whose nextUpdate is near,
# replaces each file by a rename, changes nothing when nothing is due (so
# two runs are one and no watcher reloads), refreshes the exports, and the
# renewed CRLs verify.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

pki() { harness_pki "$@" >/dev/null; }
pki init && pki master 000001 && pki account 000001 00002 && pki device 000001 00002 EQ1 ||
	harness_die "cannot issue the PKI"
X=$H_DIR/export
pki export broker "$X" || harness_die "cannot export"

# state: inode, size and mtime of every CRL file and bundle.
state() { find "$PKI" "$X" -name 'crl*.pem' -printf '%p %i %s %T@\n' | LC_ALL=C sort; }
crlnum() { openssl crl -in "$PKI/$1/crl.pem" -noout -crlnumber | cut -d= -f2; }
next_in_days() {
	local n
	n=$(openssl crl -in "$PKI/$1/crl.pem" -noout -nextupdate | cut -d= -f2)
	echo $((($(date -d "$n" +%s) - $(date +%s) + 43200) / 86400))
}

before=$(state)
out=$(harness_pki crl renew)
tap_is "$out" "$(printf 'renewed 0 tls CRL(s) (next update in 30 days)\nrenewed 0 e2e CRL(s) (next update in 30 days)\nexported broker to %s: 8 files, 0 changed' "$X")" \
	"fresh CRLs (30 days) are not due within the default 10 days"
tap_is "$(state)" "$before" "... and no CRL file or export was touched"

# Every CRL now expires in 2 days; one new CA gets a fresh 30-day CRL.
pki crl --next-update-days 2
pki master 000002
n_root=$(crlnum tls/root) n_new=$(crlnum tls/ma/000002)
before=$(state)
out=$(harness_pki crl renew --if-within 3d)
tap_is "$(grep renewed <<<"$out")" "$(printf 'renewed 4 tls CRL(s) (next update in 30 days)\nrenewed 4 e2e CRL(s) (next update in 30 days)')" \
	"--if-within 3d renews the 4 due CRLs of each PKI, not the fresh one"
tap_is "$(next_in_days tls/root) $(next_in_days e2e/ma/000001/acc/00002)" "30 30" "renewed CRLs run 30 more days"
tap_is "$(crlnum tls/root)" "$(printf "0x%02X" $((n_root + 1)))" "the renewed CRL has the next crlNumber (newer than the one in use)"
tap_is "$(crlnum tls/ma/000002)" "$n_new" "the CRL that was not due keeps its number"
changed_by_rename() {
	local f=$1 old
	old=$(grep "^$f " <<<"$before" | cut -d' ' -f2)
	[ -n "$old" ] || { echo "$f was not there before"; return 1; }
	[ "$(stat -c %i "$f")" != "$old" ] || { echo "$f was rewritten in place (same inode)"; return 1; }
}
tap_check "tls/root/crl.pem was replaced by a rename" changed_by_rename "$PKI/tls/root/crl.pem"
tap_check "tls/crls.pem too" changed_by_rename "$PKI/tls/crls.pem"
tap_check_fails "no temporary file is left" sh -c "find '$PKI' '$X' -name '*.new*' | grep ."
tap_check "the export has the renewed CRLs" cmp -s "$X/tls/crls.pem" "$PKI/tls/crls.pem"
tap_check "... and its MANIFEST verifies" sh -c "cd '$X' && sha256sum --quiet -c MANIFEST-broker"
tap_check "renewed CRLs verify (every CA's CRL, -crl_check_all)" verify_crl tls ma/000001/acc/00002/dev/EQ1
tap_check "... in the E2E PKI too" verify_crl e2e ma/000001/acc/00002/dev/EQ1
before=$(state)
out=$(harness_pki crl renew --if-within 3d)
tap_is "$(grep -c 'renewed 0' <<<"$out")" 2 "a second run renews nothing"
tap_is "$(state)" "$before" "... and changes no file (idempotent)"
harness_pki revoke ma/000001/acc/00002/dev/EQ1 >/dev/null
tap_check_fails "revoked stays revoked across renewals" verify_crl tls ma/000001/acc/00002/dev/EQ1
pki crl --next-update-days 1
pki crl renew --if-within 2d
tap_check_fails "... also after a renewal" verify_crl tls ma/000001/acc/00002/dev/EQ1

usage_rc() {
	local rc err
	err=$("$@" 2>&1 >/dev/null); rc=$?
	[ "$rc" -eq 2 ] || { echo "exit $rc, not 2: $err"; return 1; }
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { printf 'not one line:\n%s\n' "$err"; return 1; }
}
tap_check "--if-within not a duration: usage error" usage_rc harness_pki crl renew --if-within soon
tap_check "--if-within as long as the CRL lifetime: usage error (every run would renew all)" \
	usage_rc harness_pki crl renew --if-within 30d
tap_check "an extra argument: usage error" usage_rc harness_pki crl renew now

tap_done
