#!/usr/bin/env bash
# sms-snapshotd at fleet scale: several workers commit their snapshots
# together (group commit), each still stored once; a backlog reaches the
# subscriber at most Receive Maximum (16) messages ahead of its PUBACKs, so
# the acknowledgements keep flowing; a fleet of distinct devices issued by
# tests/bench/fleet_pki is accepted by the broker and stored per device.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
DRV=${SMS_RELEASE:-$H_ROOT/build/release}/tests/bench/bench_fleet
[ -x "$DRV" ] || harness_die "$DRV not built (make helpers)"

# --- group commit: 4 workers, 4 devices publishing at once
sed 's|keepalive = 60;|keepalive = 60; subscription = "$share/ingest/+/+/+/snapshots";|' \
	"$H_DIR/snapshotd.conf" >"$H_DIR/snapshotd-w4.conf"
echo "workers = 4;" >>"$H_DIR/snapshotd-w4.conf"
SVC_CONF=$H_DIR/snapshotd-w4.conf svc_daemon_start
pids=()
for d in "000001 00001 EQ1" "000001 00001 EQ2" "000002 00007 EQ3"; do
	svc_devsim $d --count 60 --values 20 >/dev/null 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
svc_wait_count "select count(*) from t_snapshot" 180 60
tap_is "$(q "select count(distinct (device_id, seq)) || '/' || count(*) from t_snapshot")" "180/180" \
	"workers = 4: 180 snapshots, each once"
tap_is "$(q "select count(*) from t_snapshot_values")" 3600 "workers = 4: every value stored"
# xmin is the transaction that wrote the row: fewer transactions than
# snapshots means several were committed together.
txns=$(q "select count(distinct xmin::text) from t_snapshot")
[ "$txns" -lt 180 ] && tap_ok "group commit: 180 snapshots in $txns transactions" ||
	tap_not_ok "group commit: 180 snapshots in $txns transactions (one each)"
tap_is "$(q "select count(*) from t_dead_letter")" 0 "group commit: no dead letters"
svc_daemon_stop TERM
tap_is "$?" 0 "workers = 4: SIGTERM exit status 0"

# --- Receive Maximum: 200 queued messages, the database held by a lock:
# the broker may send only 16 before the first PUBACK. (One run first, so
# the broker holds the one-worker session and queues for it. The four
# workers above may have logged their connects after svc_daemon_start
# counted them: count again, or the start below returns at once.)
SVC_CONNECTS=$(grep -c 'connected as' "$H_DIR/snapshotd.log")
subacks=$(grep -c 'Sending SUBACK to role:vendor-snapshot-service' "$H_DIR/mosquitto/mosquitto.log")
svc_daemon_start
# Stopped before its SUBSCRIBE is granted, the session would queue nothing.
for i in $(seq 1 100); do
	[ "$(grep -c 'Sending SUBACK to role:vendor-snapshot-service' "$H_DIR/mosquitto/mosquitto.log")" -gt "$subacks" ] && break
	sleep 0.1
done
svc_daemon_stop TERM
svc_devsim 000001 00001 EQ1 --count 200 --seq-start 5000 --values 5 >/dev/null 2>&1 ||
	tap_not_ok "200 snapshots queued while sms-snapshotd was away"
psql -XAtq -c "begin; lock table t_snapshot in exclusive mode; select pg_sleep(12); commit;" >/dev/null 2>&1 &
locker=$!
sleep 1
before=$(grep -c 'Sending PUBLISH to role:vendor-snapshot-service' "$H_DIR/mosquitto/mosquitto.log")
svc_daemon_start
sleep 4
sent=$(( $(grep -c 'Sending PUBLISH to role:vendor-snapshot-service' "$H_DIR/mosquitto/mosquitto.log") - before ))
[ "$sent" -le 16 ] && [ "$sent" -gt 0 ] && tap_ok "backlog: $sent of 200 messages in flight while the first is not acknowledged" ||
	tap_not_ok "backlog: $sent of 200 messages in flight while the first is not acknowledged (Receive Maximum 16)"
wait "$locker"
svc_wait_count "select count(*) from t_snapshot where seq >= 5000" 200 60
tap_is "$(q "select count(*) from t_snapshot where seq >= 5000")" 200 "backlog: all 200 stored after the lock"
svc_daemon_stop TERM

# --- a fleet from fleet_pki: 20 distinct devices through the broker
FLEET=(--pki "$P" --ma 000001 --acc 00001 --prefix T --devices 20 --cache "$H_DIR/fleet-cache")
contains() { [[ $1 == *"$2"* ]] && tap_ok "$3" || { tap_not_ok "$3"; echo "#   got: '$1'"; }; }
contains "$("$DRV" pki "${FLEET[@]}" 2>&1)" "devices=20 source=issued" "fleet_pki issues 20 devices"
contains "$("$DRV" pki "${FLEET[@]}" 2>&1)" "devices=20 source=cache" "fleet_pki loads them from its cache"
"$DRV" pki "${FLEET[@]}" --write 3 --out "$H_DIR/fleet-out" >/dev/null
D=$H_DIR/fleet-out/tls/ma/000001/acc/00001/dev/T00003
tap_check "fleet_pki device chains to the TLS root" \
	openssl verify -CAfile "$P/tls/root/ca.crt" -untrusted "$D/chain.pem" "$D/cert.pem"
tap_is "$(openssl x509 -in "$D/cert.pem" -noout -subject -nameopt RFC2253)" \
	"subject=CN=T00003,serialNumber=T00003,OU=00001,O=000001" "fleet_pki subject as sms-pki device issues it"
"$DRV" encrypt "${FLEET[@]}" --recipient "$VSS/cert.pem" --rounds 1 --values 10 --out "$H_DIR/fleet.bin" ||
	tap_not_ok "fleet snapshots encrypted"
svc_daemon_start
"$DRV" publish "${FLEET[@]}" --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --in "$H_DIR/fleet.bin" >/dev/null 2>&1 &&
	tap_ok "20 fleet devices connected with their own certificates and published" || tap_not_ok "fleet published"
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment like 'T%'" 20 60
tap_is "$(q "select count(distinct d.equipment) from t_snapshot s join t_device d on d.id = s.device_id
            where d.equipment like 'T%'")" 20 "one snapshot stored per fleet device"
svc_daemon_stop TERM
tap_done
