#!/usr/bin/env bash
# Receipts from sms-snapshotd itself (issue 12): after each commit the
# service signs (its E2E role identity) and publishes receipts on
# <ma>/<acc>/<eq>/receipts, batched per device; every agent's outbox
# empties with no receipt from the test helper (this suite never signs
# one). A re-send of a committed snapshot (a lost receipt) is receipted; a
# dead-lettered snapshot never is, also when its bytes come again, and its
# outbox entry stays. While the service's commit waits on a lock no receipt
# goes out; the one after it is later than the release.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
for d in "a1 000001 00001 EQ1" "a2 000001 00001 EQ2" "a3 000002 00007 EQ3"; do
	# shellcheck disable=SC2086
	agent_conf $d
done
SDLOG=$H_DIR/snapshotd.log
stored() { q "select count(*) || '/' || count(distinct seq) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = '$1'"; }
receipts_in() { grep -c 'receipt for .* snapshot(s)' "$H_DIR/$1/agent.log"; }

# --- Two workers (a queue each), three agents, 120 snapshots.
sed -e 's|keepalive = 60;|keepalive = 60; subscription = "$share/sd/+/+/+/snapshots";|' "$H_DIR/snapshotd.conf" \
	>"$H_DIR/snapshotd-2w.conf"
echo 'workers = 2;' >>"$H_DIR/snapshotd-2w.conf"
SVC_CONF=$H_DIR/snapshotd-2w.conf svc_daemon_start
grep -q 'started: 2 worker(s).*receipts on' "$SDLOG" && tap_ok "receipts are on by default" ||
	tap_not_ok "start line: $(grep started: "$SDLOG")"
for a in a1 a2 a3; do agent_start $a || harness_die "$a did not start: $(tail -n 2 "$H_DIR/$a/agent.log")"; done
spool_put a1 EQ1 $(seq 1 40) & s1=$!
spool_put a2 EQ2 $(seq 1 40) & s2=$!
spool_put a3 EQ3 $(seq 1 40) & s3=$!
wait $s1 $s2 $s3
svc_wait_count "select count(*) from t_snapshot" 120 60
tap_is "$(stored EQ1) $(stored EQ2) $(stored EQ3)" "40/40 40/40 40/40" "120 snapshots stored, each once"
wait_outbox a1 0 30 && wait_outbox a2 0 30 && wait_outbox a3 0 30 &&
	tap_ok "the service's own receipts empty every outbox" ||
	tap_not_ok "outboxes $(outbox_n a1) $(outbox_n a2) $(outbox_n a3)"
tap_is "$(cat "$H_DIR"/a?/agent.log | grep -c 'refused a receipt')" 0 "every receipt from the service verifies"
n1=$(receipts_in a1)
[ "$n1" -ge 1 ] && [ "$n1" -lt 40 ] && tap_ok "receipts are batched: $n1 receipt(s) for a1's 40 snapshots" ||
	tap_not_ok "a1 got $n1 receipts for 40 snapshots"
SVC_CONF=$H_DIR/snapshotd-2w.conf svc_daemon_stop TERM
tap_is "$?" 0 "SIGTERM: the service exits 0"
grep 'stopped cleanly' "$SDLOG" | tail -n 1 | grep -Eq ', [1-9][0-9]* receipts$' &&
	tap_ok "the shutdown line counts the receipts sent" || tap_not_ok "$(grep 'stopped cleanly' "$SDLOG" | tail -n 1)"

# --- A lost receipt: committed with receipts off, so none went out; the
# agent re-sends, the service recognises the duplicates and receipts them.
svc_daemon_start 'receipts = { enabled = false; };'
spool_put a1 EQ1 $(seq 101 105)
svc_wait_count "select count(*) from t_snapshot where seq between 101 and 105" 5 30
sleep 1.5
tap_is "$(outbox_n a1)" 5 "receipts off: the 5 committed snapshots stay in the outbox"
svc_daemon_stop TERM
before=$(grep -c 'duplicate snapshot' "$SDLOG")
svc_daemon_start
wait_outbox a1 0 30 && tap_ok "receipts on again: the re-sent duplicates are receipted, the outbox empties" ||
	tap_not_ok "outbox a1: $(outbox_n a1)"
[ "$(grep -c 'duplicate snapshot' "$SDLOG")" -ge $((before + 5)) ] && tap_ok "they came as duplicates" ||
	tap_not_ok "duplicates: $before -> $(grep -c 'duplicate snapshot' "$SDLOG")"
tap_is "$(stored EQ1)" "45/45" "and are stored once"
svc_daemon_stop TERM

# --- A dead letter gets no receipt (a receipt means "committed as a
# snapshot"): with max_values 1 the 2-value snapshot is refused.
sed -e 's/max_values = 500;/max_values = 1;/' "$H_DIR/snapshotd.conf" >"$H_DIR/snapshotd-strict.conf"
SVC_CONF=$H_DIR/snapshotd-strict.conf svc_daemon_start
r2=$(receipts_in a2)
spool_put a2 EQ2 201
svc_wait_count "select count(*) from t_dead_letter where topic = '000001/00001/EQ2/snapshots'" 1 30 &&
	tap_ok "the snapshot is dead-lettered" || tap_not_ok "no dead letter"
sleep 4   # beyond batch_ms and the agent's resend_interval
tap_is "$(outbox_n a2) $(receipts_in a2)" "1 $r2" "no receipt for it: its outbox entry stays"
SVC_CONF=$H_DIR/snapshotd-strict.conf svc_daemon_stop TERM
svc_daemon_start
spool_put a2 EQ2 202
svc_wait_count "select count(*) from t_snapshot where seq = 202" 1 30
wait_log_count "$H_DIR/a2/agent.log" 'receipt for .* snapshot(s)' $((r2 + 1)) 20
sleep 4   # the dead letter's bytes are re-sent meanwhile and recognised
tap_is "$(outbox_n a2)" 1 "a later snapshot is receipted; the dead-lettered one's bytes, re-sent, are not"
dl=$(q "select encode(digest, 'hex') from t_dead_letter where topic = '000001/00001/EQ2/snapshots'")
ls "$H_DIR/a2/outbox" | grep -q -- "-$dl.cms" && tap_ok "the entry left is the dead letter's" ||
	tap_not_ok "outbox a2: $(ls "$H_DIR/a2/outbox")"
tap_is "$(q "select count(*) from t_snapshot where seq = 201")" 0 "and it is not a snapshot"

# --- Never before the commit: the service's transaction is held up by a
# lock on t_snapshot; while it waits no receipt goes out, and the one that
# comes afterwards is later than the moment the lock was released.
T3=$P/tls/ma/000002/acc/00007/dev/EQ3
mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$T3/fullchain.pem" \
	--key "$T3/key.pem" -V mqttv5 -i "000002/00007/EQ3@watch" -q 1 -t "000002/00007/EQ3/receipts" \
	-F '%U' >"$H_DIR/receipts-eq3.txt" 2>"$H_DIR/receipts-eq3.err" &
sub=$!
H_PIDS+=("$sub")
sleep 1
r3=$(receipts_in a3)
psql -XAtq -v ON_ERROR_STOP=1 >"$H_DIR/released.txt" 2>&1 <<'SQL' &
BEGIN;
LOCK TABLE t_snapshot IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(12);
SELECT extract(epoch FROM clock_timestamp());
COMMIT;
SQL
locker=$!
sleep 1
spool_put a3 EQ3 301
waiting=0
for _ in $(seq 50); do
	waiting=$(q "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and pid <> pg_backend_pid()")
	[ "$waiting" -ge 1 ] && break
	sleep 0.1
done
[ "$waiting" -ge 1 ] && tap_ok "the service's commit is held up by the lock" || tap_not_ok "no session waits on the lock"
sleep 2
tap_is "$(wc -l <"$H_DIR/receipts-eq3.txt") $(receipts_in a3) $(outbox_n a3)" "0 $r3 1" \
	"while the commit waits: no receipt published, the entry stays in the outbox"
wait "$locker"
wait_outbox a3 0 20 && tap_ok "after the commit: receipted, the outbox empties" || tap_not_ok "outbox a3: $(outbox_n a3)"
sleep 0.5
released=$(tail -n 1 "$H_DIR/released.txt") first=$(head -n 1 "$H_DIR/receipts-eq3.txt")
awk -v r="$released" -v f="$first" 'BEGIN { exit !(r > 0 && f > r) }' &&
	tap_ok "the receipt was published after the lock was released (by $(awk -v r="$released" -v f="$first" 'BEGIN { printf "%.3f", f - r }') s)" ||
	tap_not_ok "receipt at '$first', lock released at '$released'"
kill "$sub" 2>/dev/null

for a in a1 a2 a3; do agent_stop $a TERM || tap_not_ok "$a exit status"; done
svc_daemon_stop TERM
tap_done
