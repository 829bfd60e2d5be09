#!/usr/bin/env bash
# sms-agent with a real broker, sms-snapshotd and PostgreSQL: spool intake
# (bad files moved aside with their reason), the outbox kept until a
# verified receipt covers an entry, forged receipts (wrong signer, wrong
# device, tampered) removing nothing, a corrupted outbox entry moved aside,
# the outbox bound (oldest first, counted and logged), and a full disk.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
A=$H_DIR/a1
LOG=$A/agent.log
EQ1=000001/00001/EQ1
# This suite decides itself which receipts an agent sees (forged, partial,
# none yet), so the service publishes none here; agent_receipts.t runs the
# service's own.
{ cat "$H_DIR/snapshotd.conf"; echo 'receipts = { enabled = false; };'; } >"$H_DIR/snapshotd-noreceipts.conf"
SVC_CONF=$H_DIR/snapshotd-noreceipts.conf

# --- The command line.
"$DBIN/sms-agent" --help | grep -q -- '--check-config' && tap_ok "--help describes the options" ||
	tap_not_ok "--help"
agent_conf a1 000001 00001 EQ1
out=$("$DBIN/sms-agent" --config "$A/agent.conf" --check-config 2>&1)
tap_is "$?:$out" "0:" "--check-config: a valid file, exit 0 and nothing printed"
agent_conf bad 000001 00001 EQ1 'outbox2 = { dir = "x"; };'
out=$("$DBIN/sms-agent" --config "$H_DIR/bad/agent.conf" --check-config 2>&1); rc=$?
[ "$rc" -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'agent.conf:[0-9]*:.*outbox2' &&
	tap_ok "--check-config: an unknown key is one line FILE:LINE with the key, exit 1" ||
	tap_not_ok "unknown key: rc $rc, '$out'"
agent_conf bad 000001 00001 EQ1
sed -i "s|e2e/ma/000001/acc/00001/dev/EQ1/cert.pem|e2e/ma/000001/acc/00001/dev/EQ2/cert.pem|" "$H_DIR/bad/agent.conf"
out=$("$DBIN/sms-agent" --config "$H_DIR/bad/agent.conf" 2>&1); rc=$?
[ "$rc" -eq 1 ] && echo "$out" | grep -q 'e2e.cert is equipment 000001/00001/EQ2 but broker.cert is 000001/00001/EQ1' &&
	tap_ok "E2E and TLS certificates of different equipment: refused at start with one line" ||
	tap_not_ok "identity mismatch: rc $rc, '$out'"

# --- Recipients: who may read this device's snapshots is checked before
# anything is sent, by --check-config and at start alike.
recipients_case() { # DESCRIPTION EXPECTED-TEXT RECIPIENT...
	local what=$1 want=$2 list="" r out rc; shift 2
	for r in "$@"; do list="$list${list:+, }\"$r\""; done
	agent_conf rcp 000001 00001 EQ1
	sed -i "s|^  recipients = .*|  recipients = [ $list ];|" "$H_DIR/rcp/agent.conf"
	out=$("$DBIN/sms-agent" --config "$H_DIR/rcp/agent.conf" --check-config 2>&1); rc=$?
	if [ -z "$want" ]; then
		[ "$rc" -eq 0 ] && tap_ok "recipients: $what" || tap_not_ok "recipients: $what: rc $rc, '$out'"
	else
		[ "$rc" -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q -- "$want" &&
			tap_ok "recipients: $what: refused with one line" || tap_not_ok "recipients: $what: rc $rc, '$out'"
	fi
}
harness_pki client 000002 00007 auditor >/dev/null 2>&1 || true
recipients_case "another customer's client" "000002/00007, which is neither a vendor role nor a client of this device's account" \
	"$VSS/cert.pem" "$P/e2e/ma/000002/acc/00007/clients/auditor/cert.pem"
recipients_case "another device" "000001/00001/EQ2, which is neither" "$VSS/cert.pem" "$P/e2e/ma/000001/acc/00001/dev/EQ2/cert.pem"
"$H_ROOT/pki/sms-pki" --dir "$H_DIR/other-pki" --pki e2e init >/dev/null 2>&1 &&
	"$H_ROOT/pki/sms-pki" --dir "$H_DIR/other-pki" --pki e2e service vendor-snapshot-service >/dev/null 2>&1 ||
	harness_die "sms-pki for another PKI failed"
recipients_case "the service's role from another CA" "names role vendor-snapshot-service but is not issued by e2e.services_ca" \
	"$H_DIR/other-pki/e2e/services/roles/vendor-snapshot-service/cert.pem" "$P/e2e/ma/000001/acc/00001/clients/auditor/cert.pem"
recipients_case "no vendor snapshot service" "none is the receipt signer's role (vendor-snapshot-service)" \
	"$P/e2e/ma/000001/acc/00001/clients/auditor/cert.pem"
recipients_case "the vendor alone is allowed" "" "$VSS/cert.pem"
"$DBIN/sms-agent" --config "$H_DIR/rcp/agent.conf" --check-config 2>&1 |
	grep -q 'names no client of account 000001/00001 or master account 000001' &&
	tap_ok "recipients: without the customer, one warning says the customer cannot read" ||
	tap_not_ok "no warning without the customer"

# --- Intake: good files stored, bad ones moved aside with the reason.
svc_daemon_start
agent_start a1 || harness_die "sms-agent did not start: $(tail -n 3 "$LOG")"
spool_put a1 EQ1 1 2 3 4 5
mkdir -p "$A/staging"
echo '{"equipment":"EQ1",' >"$A/staging/x" && mv "$A/staging/x" "$A/spool/bad-json.json"
snapshot_json EQ2 6 >"$A/staging/x" && mv "$A/staging/x" "$A/spool/other-device.json"
echo '{"equipment":"EQ1","device_type":"FM","taken_at":"2026-11-21T10:00:00Z","values":[]}' >"$A/staging/x" &&
	mv "$A/staging/x" "$A/spool/schema.json"
echo 'not taken' >"$A/spool/notes.txt"
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ1'" 5 30 &&
	tap_ok "5 snapshots from the spool are in PostgreSQL" || tap_not_ok "spool snapshots stored"
# The 5 can be stored before the scan that takes the last file (mosquitto and
# sms-snapshotd are quicker than one scan_interval under load): wait for it.
wait_spool_empty a1 10
tap_is "$(spool_n a1)" 0 "the spool holds no .json file any more"
wait_log_count "$LOG" 'spool: rejected' 3 10
tap_is "$(ls "$A/spool/rejected" | sort | tr '\n' ' ')" \
	"bad-json.json bad-json.json.reason other-device.json other-device.json.reason schema.json schema.json.reason " \
	"the 3 bad files are in rejected/ with a .reason file each"
grep -q 'bad_json' "$A/spool/rejected/bad-json.json.reason" &&
	grep -q 'is not this equipment' "$A/spool/rejected/other-device.json.reason" &&
	grep -q 'schema' "$A/spool/rejected/schema.json.reason" &&
	tap_ok "each reason says what is wrong" || tap_not_ok "reasons: $(cat "$A"/spool/rejected/*.reason)"
tap_is "$(grep -c 'spool: rejected' "$LOG")" 3 "one log line per rejected file"
[ -f "$A/spool/notes.txt" ] && tap_ok "a file not named *.json is left alone" || tap_not_ok "notes.txt"

# --- SIGHUP: the CRL files are read again at once, the agent keeps running.
n_reload=$(grep -c 'reloaded: ' "$LOG")
kill -HUP "${AGENT_PID[a1]}"
wait_log_count "$LOG" 'reloaded: ' $((n_reload + 1)) 10 && kill -0 "${AGENT_PID[a1]}" &&
	tap_ok "SIGHUP: CRLs read again ($(grep 'reloaded: ' "$LOG" | tail -n 1 | sed 's/.*\] [a-z]*: //')), still running" ||
	tap_not_ok "SIGHUP: $(tail -n 2 "$LOG")"
tap_is "$(outbox_n a1)" 5 "no receipt yet: all 5 stay in the outbox"
tap_is "$(stored_digests $EQ1 | wc -l)" 5 "the digests the service logged are those of the payloads as published"
for d in $(stored_digests $EQ1); do ls "$A/outbox" | grep -q -- "-$d.cms" || tap_not_ok "no outbox entry for $d"; done

# --- Forged receipts delete nothing.
DIG=$(stored_digests $EQ1)
forged() { # description FILE
	local before
	before=$(grep -c 'refused a receipt' "$LOG")
	receipt_publish $EQ1 "$2"
	wait_log_count "$LOG" 'refused a receipt' $((before + 1)) 10 && [ "$(outbox_n a1)" -eq 5 ] &&
		tap_ok "forged receipt ($1): refused, all 5 entries kept" ||
		tap_not_ok "forged receipt ($1): outbox $(outbox_n a1); $(tail -n 1 "$LOG")"
}
# shellcheck disable=SC2086
receipt_sign "$H_DIR/r-dev.der" $EQ1 "$P/e2e/ma/000001/acc/00001/dev/EQ1" $DIG
forged "signed by the device's own key" "$H_DIR/r-dev.der"
# shellcheck disable=SC2086
receipt_sign "$H_DIR/r-cust.der" $EQ1 "$P/e2e/ma/000001/acc/00001/clients/auditor" $DIG
forged "signed by the customer's client" "$H_DIR/r-cust.der"
# shellcheck disable=SC2086
receipt_sign "$H_DIR/r-eq2.der" 000001/00001/EQ2 "$VSS" $DIG
forged "for another device" "$H_DIR/r-eq2.der"
# shellcheck disable=SC2086
receipt_sign "$H_DIR/r-ok.der" $EQ1 "$VSS" $DIG
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[2], "wb").write(b)' \
	"$H_DIR/r-ok.der" "$H_DIR/r-sig.der"
forged "signature tampered" "$H_DIR/r-sig.der"
python3 - "$H_DIR/r-ok.der" "$H_DIR/r-content.der" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b'"digests":["') + 12
b[i] = ord('0') if b[i] != ord('0') else ord('1')
open(sys.argv[2], "wb").write(b)
PY
forged "content tampered" "$H_DIR/r-content.der"
grep 'refused a receipt' "$LOG" | grep -q 'not issued by the services CA' &&
	grep 'refused a receipt' "$LOG" | grep -q 'not for this equipment' &&
	grep 'refused a receipt' "$LOG" | grep -q 'signature does not verify' &&
	tap_ok "each refusal is logged with its reason" || tap_not_ok "refusal reasons"

# --- A valid receipt removes exactly what it covers.
set -- $DIG
receipt_sign "$H_DIR/r-two.der" $EQ1 "$VSS" "$1" "$2"
receipt_publish $EQ1 "$H_DIR/r-two.der"
wait_outbox a1 3 10 && tap_ok "a receipt for 2 digests removes 2 entries" || tap_not_ok "receipt for 2"
! ls "$A/outbox" | grep -q -e "-$1.cms" -e "-$2.cms" && ls "$A/outbox" | grep -q -- "-$3.cms" &&
	tap_ok "exactly the receipted ones" || tap_not_ok "wrong entries removed"
receipt_all $EQ1
wait_outbox a1 0 10 && tap_ok "a receipt for all: the outbox is empty" || tap_not_ok "receipt for all"

# --- Re-sent until receipted: entries not receipted go out again (the
# ingest log makes that harmless).
spool_put a1 EQ1 7
svc_wait_count "select count(*) from t_ingest_log where topic = '$EQ1/snapshots'" 6 20
sleep 4
dups=$(grep -c 'duplicate snapshot' "$H_DIR/snapshotd.log")
[ "$dups" -ge 1 ] && tap_ok "an unreceipted entry is published again after resend_interval ($dups duplicate(s) seen by the service)" ||
	tap_not_ok "no re-send seen"
tap_is "$(q "select count(*) from t_snapshot where seq = 7")" 1 "and stored once"
receipt_all $EQ1
wait_outbox a1 0 10 || tap_not_ok "receipt for seq 7"

# --- A corrupted outbox entry is moved aside, the others are sent. The
# broker is down while the entries are taken in, so none was sent before.
harness_mosquitto_stop TERM
spool_put a1 EQ1 11 12 13
wait_outbox a1 3 20 || tap_not_ok "3 entries in the outbox"
agent_stop a1 TERM
tap_is "$?" 0 "SIGTERM while the broker is away: exit status 0"
victim=$(ls "$A/outbox"/*.cms | sed -n 2p)
truncate -s 100 "$victim"
echo junk >"$A/outbox/junk.cms"
harness_mosquitto_start_again
agent_start a1 || tap_not_ok "restart after corruption"
svc_wait_count "select count(*) from t_snapshot where seq between 11 and 13" 2 30 &&
	tap_ok "the 2 intact entries are delivered" || tap_not_ok "intact entries delivered"
tap_is "$(ls "$A/outbox/corrupt" | sort | tr '\n' ' ')" "$(basename "$victim") junk.cms " \
	"the truncated entry and a foreign file are in corrupt/"
grep -q "entry $(basename "$victim") does not match the digest" "$LOG" && grep -q 'entry junk.cms has a name' "$LOG" &&
	tap_ok "each with a log line" || tap_not_ok "corrupt log lines"
kill -0 "${AGENT_PID[a1]}" && tap_ok "the agent keeps running" || tap_not_ok "agent died"
receipt_all $EQ1
wait_outbox a1 0 10 || tap_not_ok "outbox emptied"
agent_stop a1 TERM

# --- The outbox bound: oldest first, counted and logged (broker away
# while the spool fills, as in a long outage).
harness_mosquitto_stop TERM
agent_conf a2 000001 00001 EQ2 'outbox = { dir = "outbox"; resend_interval = 3; max_entries = 5; };'
sed -i '/^outbox = { dir = "outbox"; resend_interval = 3; };$/d' "$H_DIR/a2/agent.conf"
agent_start a2 || tap_not_ok "a2 start: $(tail -n 2 "$H_DIR/a2/agent.log")"
spool_put a2 EQ2 $(seq 1 8)
wait_log_count "$H_DIR/a2/agent.log" 'evicting unreceipted snapshot' 3 20 && sleep 0.5
tap_is "$(outbox_n a2)" 5 "max_entries 5 and 8 snapshots: 5 entries"
tap_is "$(grep -c 'evicting unreceipted snapshot .* (outbox full: max_entries, oldest first)' "$H_DIR/a2/agent.log")" 3 \
	"3 evictions, one log line each"
grep -q 'evicting .* 3 evicted so far' "$H_DIR/a2/agent.log" && tap_ok "the count is in the line" ||
	tap_not_ok "eviction count"
harness_mosquitto_start_again
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ2'" 5 30
tap_is "$(q "select string_agg(seq::text, ',' order by seq) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ2'")" \
	"4,5,6,7,8" "the newest 5 were kept and delivered"
agent_stop a2 TERM

# --- A snapshot that can never fit an entry is refused, not retried: it
# would hold up every spool file after it.
agent_conf a4 000001 00001 EQ2 'outbox = { dir = "outbox"; resend_interval = 3; max_bytes = 4096; };'
sed -i '/^outbox = { dir = "outbox"; resend_interval = 3; };$/d' "$H_DIR/a4/agent.conf"
agent_start a4 || tap_not_ok "a4 start: $(tail -n 2 "$H_DIR/a4/agent.log")"
mkdir -p "$H_DIR/a4/staging"
python3 -c '
import json, sys
v = [{"group": "g", "channel": "c%d" % i, "unit": "bar", "value": i + 0.5} for i in range(200)]
print(json.dumps({"equipment": "EQ2", "device_type": "FM", "taken_at": "2026-11-21T11:00:00Z", "seq": 20, "values": v}))
' >"$H_DIR/a4/staging/big" && mv "$H_DIR/a4/staging/big" "$H_DIR/a4/spool/s00000020.json"
spool_put a4 EQ2 21
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ2' and seq = 21" 1 30 &&
	tap_ok "a snapshot too large for max_bytes does not hold up the next one" || tap_not_ok "seq 21 not stored"
wait_spool_empty a4 10
grep -q 'too large once encrypted' "$H_DIR/a4/spool/rejected/s00000020.json.reason" 2>/dev/null &&
	tap_ok "the too large one is in rejected/ with its reason" ||
	tap_not_ok "too large: $(ls "$H_DIR/a4/spool/rejected" 2>&1) $(tail -n 2 "$H_DIR/a4/agent.log")"
agent_stop a4 TERM

# --- A full disk: new input refused with a clear error, nothing lost.
MNT=$H_DIR/a3/outbox
mkdir -p "$MNT"
if mount -t tmpfs -o size=48k tmpfs "$MNT" 2>/dev/null; then
	# Unmounted on any exit too; harness_cleanup sees the suite's status.
	trap 'rc=$?; umount "$MNT" 2>/dev/null; (exit $rc); harness_cleanup' EXIT
	svc_daemon_stop TERM
	agent_conf a3 000002 00007 EQ3
	agent_start a3 || tap_not_ok "a3 start"
	spool_put a3 EQ3 $(seq 1 60)
	wait_log_count "$H_DIR/a3/agent.log" 'refusing new input until there is space' 1 30 &&
		tap_ok "disk full: one clear error line" || tap_not_ok "disk full line: $(tail -n 2 "$H_DIR/a3/agent.log")"
	n_out=$(outbox_n a3) n_spool=$(spool_n a3)
	[ "$n_out" -gt 0 ] && [ $((n_out + n_spool)) -eq 60 ] &&
		tap_ok "disk full: $n_out in the outbox, $n_spool kept in the spool, none lost" ||
		tap_not_ok "disk full: $n_out + $n_spool != 60"
	[ -z "$(ls -A "$H_DIR/a3/spool/rejected")" ] && tap_ok "disk full: nothing rejected" ||
		tap_not_ok "disk full rejected files"
	kill -0 "${AGENT_PID[a3]}" && tap_ok "disk full: the agent keeps running" || tap_not_ok "a3 died"
	svc_daemon_start
	# Receipts free space; the rest of the spool follows.
	for i in $(seq 1 30); do
		receipt_all 000002/00007/EQ3 >/dev/null 2>&1
		[ "$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3'")" -ge 60 ] && break
		sleep 1
	done
	tap_is "$(q "select count(*) || '/' || count(distinct seq) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3'")" \
		"60/60" "after receipts freed space: all 60 stored, each once"
	grep -q 'outbox: space again' "$H_DIR/a3/agent.log" && tap_ok "and the agent said so" || tap_not_ok "space again line"
	agent_stop a3 TERM
	umount "$MNT" && tap_ok "the small file system unmounts (nothing of the agent holds it)" || tap_not_ok "umount"
else
	tap_ok "# SKIP disk full: cannot mount a tmpfs here (not root?)"
fi
svc_daemon_stop TERM
tap_done
