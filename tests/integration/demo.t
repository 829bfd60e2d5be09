#!/usr/bin/env bash
# make demo, as a user runs it: the narrated run ends well and shows each
# thing it promises (this catches a demo left behind by a change elsewhere,
# such as a broker policy its own clients no longer meet).
source "$(dirname "$0")/../harness/harness.sh"
harness_init
export SMS_DEMO_RUN=$H_DIR/demo-run
out=$H_DIR/demo.out
trap '"$H_ROOT/scripts/demo" clean >/dev/null 2>&1; harness_cleanup' EXIT
timeout 300 "$H_ROOT/scripts/demo" start >"$out" 2>&1
tap_is "$?" 0 "scripts/demo start exits 0"
if grep -q $'\x1b' "$out"; then
	tap_not_ok "no terminal escapes when the output is a file"
else
	tap_ok "no terminal escapes when the output is a file"
fi
plain=$(cat "$out")
has() {
	if printf '%s\n' "$plain" | grep -q -- "$1"; then
		tap_ok "$2"
	else
		tap_not_ok "$2"
		printf '%s\n' "$plain" | tail -n 5 | sed 's/^/# /'
	fi
}
has "delivered: device EQID00000234 on its own" "a device publishes into its own tree"
has "dropped by the broker: device EQID00000234 on its sibling's" "and not into its sibling's"
has "refused: device EQID00000234 subscribes to 000001/00002/#" "a filter wider than the scope is refused"
has "granted: auditor of 000001/00002 subscribes to 000001/00002/" "the customer's auditor reads its own subtree"
has "decrypt: chain: verified" "the customer decrypts a snapshot with a verified originator chain"
has "originator_mismatch | 000001/00002/EQID00000235/snapshots" "the forged-topic replay is a dead letter"
has "EQID00000235 can no longer connect" "the revoked device is refused"
has "000002/00001 | EQID00000777 | 4" "every device's snapshots are stored"
"$H_ROOT/scripts/demo" stop >/dev/null 2>&1
tap_is "$?" 0 "scripts/demo stop exits 0"
tap_done
