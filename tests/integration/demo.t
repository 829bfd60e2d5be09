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
has "EQID00000777: started: equipment 000002/00001/EQID00000777, .*, signing" "the devices run sms-agent (one signs)"
has "all 9 snapshots are in PostgreSQL and every outbox is empty" "the agents' first snapshots are stored and receipted"
has "45 snapshots spooled while down" "outage: the equipment keeps producing into the agents"
has "EQID00000234: outbox 20 entries, 3 stored" "outage: what was produced waits in the outbox"
has "PostgreSQL: 9 snapshots (as before the outage: 9)" "outage: nothing new reaches the database"
has "outage over: all 54 snapshots delivered and receipted" "broker back: everything delivered and receipted"
has "signed snapshots stored (t_snapshot_signature, EQID00000777 signs): 19" "the signing device's snapshots are stored as signed"
has "000002/00001 | EQID00000777 | 19" "every device's snapshots are stored"
has "device outboxes (unreceipted entries): EQID00000234 0  EQID00000235 0  EQID00000777 0" "every outbox is empty at the end"
has "progress \[#*\] 2/2 done (100%)" "firmware: the rollout's status table shows both devices done"
has "EQID00000234: slots/current -> b, the release's image" "firmware: the release is in the device's current slot"
has "EQID00000234 refused it: rejected stalePackage: offered version 2 <= installed 3" \
	"firmware: the device refuses a downgrade"
has "offered      rejected     stalePackage (28)" "firmware: the refusal is stored with its RFC 4108 code"
has "sms-audit report for 000001/00002" "the demo ends with the customer's audit report"
has "! not_for_us: encrypted for: /CN=vendor-snapshot-service$" \
	"the report shows the forged snapshot: not encrypted for the customer"
has "! never_receipted: " "and that the vendor never receipted it"
has "the store verifies: verify: .* 0 problem(s), [1-9][0-9]* from originators revoked since" \
	"the customer's store verifies; the revoked device's earlier snapshots are named"
"$H_ROOT/scripts/demo" stop >/dev/null 2>&1
tap_is "$?" 0 "scripts/demo stop exits 0"
tap_done
