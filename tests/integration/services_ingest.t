#!/usr/bin/env bash
# sms-snapshotd end to end: devices of two customers publish encrypted
# snapshots through mosquitto; every snapshot lands once with the right
# values; every kind of bad message becomes a dead letter with its reason.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
SMSCMS=$DBIN/smscms
[ -x "$SMSCMS" ] || harness_die "$SMSCMS not built"

tap_check "sms-snapshotd --help" "$DBIN/sms-snapshotd" --help
tap_check_fails "sms-snapshotd refuses a missing config" "$DBIN/sms-snapshotd" --config "$H_DIR/none.conf"
svc_daemon_start
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "daemon started and connected ($SVC_BROKER)" ||
	{ tap_not_ok "daemon started"; tap_done; exit 1; }

# --- several devices of two customers, in parallel
svc_devsim 000001 00001 EQ1 --count 40 --values 34 >"$H_DIR/d1.log" 2>&1 & p1=$!
svc_devsim 000001 00001 EQ2 --count 40 --values 34 >"$H_DIR/d2.log" 2>&1 & p2=$!
svc_devsim 000002 00007 EQ3 --count 40 --values 34 --device-type PUMP >"$H_DIR/d3.log" 2>&1 & p3=$!
wait $p1 && wait $p2 && wait $p3 && tap_ok "three devices published 40 snapshots each" ||
	{ tap_not_ok "devices published"; cat "$H_DIR"/d[123].log | sed 's/^/# /'; }
svc_wait_count "select count(*) from t_snapshot" 120 && tap_ok "120 snapshots stored" || tap_not_ok "120 snapshots stored"
tap_is "$(q "select string_agg(m.name || '/' || a.name || '/' || d.equipment || '=' || n, ' ' order by d.equipment)
            from (select device_id, count(*) n from t_snapshot group by 1) s join t_device d on d.id = s.device_id
            join t_account a on a.id = d.account_id join t_master_account m on m.id = a.master_account_id")" \
	"000001/00001/EQ1=40 000001/00001/EQ2=40 000002/00007/EQ3=40" "each device's snapshots under its own customer"
tap_is "$(q "select count(*) from t_snapshot_values")" 4080 "34 values per snapshot stored"
# sms-devicesim's values: channel c<i> is seq*1000 + i + 0.25 (unit h), or text when i % 17 = 5.
tap_is "$(q "select count(*) from t_snapshot_values v join t_snapshot s on s.id = v.snapshot_id
            join t_channel c on c.id = v.channel_id join t_unit u on u.id = c.unit_id
            where case when substr(c.name, 2)::int % 17 = 5
                       then v.value_text is distinct from (case when s.seq % 2 = 0 then 'ok' else 'check' end)
                            or u.symbol <> ''
                       else v.value_num is distinct from s.seq * 1000 + substr(c.name, 2)::int + 0.25
                            or u.symbol <> 'h' end")" 0 "every value equals what the device sent"
tap_is "$(q "select string_agg(t.name, ',' order by t.name) from t_device_type t")" "FM,PUMP" "device types recorded"
tap_is "$(q "select count(distinct originator) from t_snapshot")" 3 "originator subject recorded per device"
tap_is "$(q "select count(*) from t_dead_letter")" 0 "no dead letters for good traffic"

# --- rejections. Payloads are prepared first, then published.
mkdir -p "$H_DIR"/rej
E1=$P/e2e/ma/000001/acc/00001/dev/EQ1; T1=$P/tls/ma/000001/acc/00001/dev/EQ1
INJ=$P/tls/services/roles/sms-test-injector
publish_as() { # TLS-dir topic dir
	"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
		--cert "$1/fullchain.pem" --key "$1/key.pem" --topic "$2" --from "$3" >>"$H_DIR/pub.log" 2>&1
}
enc_json() { # name json [recipient]
	mkdir -p "$H_DIR/rej/$1"
	printf '%s' "$2" >"$H_DIR/rej/$1.json"
	"$SMSCMS" encrypt --cert "$E1/cert.pem" --key "$E1/key.pem" --chain "$E1/chain.pem" \
		--recipient "${3:-$VSS/cert.pem}" --in "$H_DIR/rej/$1.json" --out "$H_DIR/rej/$1/000001.cms"
}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
V='[{"group":"g0","channel":"c0","unit":"h","value":1}]'
enc_json bad_json '{"equipment":"EQ1",'
enc_json schema "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"$now\",\"seq\":-4,\"values\":$V}"
enc_json equipment_mismatch "{\"equipment\":\"EQ2\",\"device_type\":\"FM\",\"taken_at\":\"$now\",\"seq\":9001,\"values\":$V}"
enc_json db_rejected "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"$now\",\"seq\":9002,\"values\":[{\"group\":\"g0\",\"channel\":\"c0\",\"unit\":\"bar\",\"value\":1}]}"
enc_json not_recipient "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"$now\",\"seq\":9003,\"values\":$V}" \
	"$P/e2e/ma/000001/acc/00001/dev/EQ2/cert.pem"
big=$(awk 'BEGIN { printf "["; for (i = 0; i < 501; i++) printf "%s{\"group\":\"g\",\"channel\":\"c%d\",\"value\":1}", (i ? "," : ""), i; printf "]" }')
enc_json too_many_values "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"$now\",\"seq\":9004,\"values\":$big}"
mkdir -p "$H_DIR/rej/malformed" "$H_DIR/rej/too_large" "$H_DIR/rej/auth" "$H_DIR/rej/mismatch"
printf 'this is not CMS' >"$H_DIR/rej/malformed/000001.cms"
head -c 70000 /dev/urandom >"$H_DIR/rej/too_large/000001.cms"
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 9100 --write "$H_DIR/rej/mismatch" >/dev/null 2>&1
# Tamper with the last byte (inside the GCM tag).
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 9200 --write "$H_DIR/rej/auth" >/dev/null 2>&1
f=$(ls "$H_DIR"/rej/auth/*.cms); sz=$(stat -c %s "$f")
last=$(tail -c 1 "$f" | od -An -tu1 | tr -d ' ')
{ head -c $((sz - 1)) "$f"; printf "\\$(printf '%03o' $(( (last ^ 1) & 255 )))"; } >"$f.t" && mv "$f.t" "$f"
# A device of another, untrusted E2E PKI.
pki2() { "$H_ROOT/pki/sms-pki" --dir "$H_DIR/pki2" "$@" >/dev/null; }
pki2 init && pki2 master 000001 && pki2 account 000001 00001 && pki2 device 000001 00001 EQ1 ||
	tap_not_ok "second PKI for the untrusted device"
E9=$H_DIR/pki2/e2e/ma/000001/acc/00001/dev/EQ1
mkdir -p "$H_DIR/rej/untrusted"
printf '%s' "{\"equipment\":\"EQ1\",\"device_type\":\"FM\",\"taken_at\":\"$now\",\"seq\":9300,\"values\":$V}" >"$H_DIR/rej/u.json"
"$SMSCMS" encrypt --cert "$E9/cert.pem" --key "$E9/key.pem" --chain "$E9/chain.pem" --recipient "$VSS/cert.pem" \
	--in "$H_DIR/rej/u.json" --out "$H_DIR/rej/untrusted/000001.cms"

for r in bad_json schema equipment_mismatch db_rejected not_recipient too_many_values malformed too_large auth untrusted; do
	publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/rej/$r"
done
# Device EQ1's genuine snapshot, injected on EQ3's topic (a compromised broker could).
publish_as "$INJ" 000002/00007/EQ3/snapshots "$H_DIR/rej/mismatch"
svc_wait_count "select count(*) from t_dead_letter" 11 30
want_reason() { # published-as reason
	tap_is "$(q "select count(*) from t_dead_letter where reason = '$2'")" 1 "$1 -> dead letter '$2'"
}
want_reason "invalid JSON" bad_json
want_reason "negative seq" schema
want_reason "JSON names another equipment" equipment_mismatch
want_reason "unit contradicting the channel" db_rejected
want_reason "encrypted for someone else" not_recipient
tap_is "$(q "select count(*) from t_dead_letter where reason = 'too_large' and detail like '501 values%'")" 1 \
	"501 values (limit 500) -> dead letter 'too_large'"
want_reason "garbage payload" malformed
want_reason "GCM tag tampered" auth
want_reason "originator from another E2E PKI" untrusted
want_reason "EQ1's snapshot on EQ3's topic" originator_mismatch
# Dead letters are bounded (issue 9, finding 4): length and digest of the
# whole payload, its first limits.dead_letter_max_bytes (default 4096) bytes.
tap_is "$(q "select count(*) from t_dead_letter where reason = 'too_large' and payload_length = 70000
            and truncated and octet_length(payload) = 4096")" 1 \
	"oversized payload (70000 > 65536 bytes) -> dead letter 'too_large' with its length and first 4096 bytes"
tap_is "$(q "select count(*) from t_snapshot where seq >= 9000")" 0 "no rejected snapshot was stored"
tap_is "$(grep -c 'rejected (originator_mismatch)' "$H_DIR/snapshotd.log")" 1 "a rejection is logged once"

# --- revocation: EQ2's E2E certificate revoked, CRLs reloaded on SIGHUP.
harness_pki revoke ma/000001/acc/00001/dev/EQ2 --pki e2e >/dev/null || tap_not_ok "sms-pki revoke"
kill -HUP "$SVC_DAEMON"
for i in $(seq 1 50); do grep -q 'CRLs reloaded' "$H_DIR/snapshotd.log" && break; sleep 0.1; done
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 9400 >/dev/null 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'revoked'" 1 20 &&
	tap_ok "after SIGHUP, a snapshot from a revoked device -> dead letter 'revoked'" ||
	tap_not_ok "revoked device rejected after SIGHUP"

# --- replay: the same bytes again are acknowledged and not stored twice.
mkdir -p "$H_DIR/replay"
svc_devsim 000001 00001 EQ1 --count 3 --seq-start 500 --write "$H_DIR/replay" >/dev/null 2>&1
publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/replay"
svc_wait_count "select count(*) from t_snapshot" 123 20
publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/replay"
publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/rej/schema"
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 600 >/dev/null 2>&1   # a marker after the replays
svc_wait_count "select count(*) from t_snapshot" 124 20
tap_is "$(q "select count(*) from t_snapshot where seq between 500 and 502")" 3 "replayed snapshots stored once"
tap_is "$(q "select count(*) from t_dead_letter")" 12 "replayed rejected payload not dead-lettered twice"
tap_is "$(q "select count(*) from t_ingest_log")" 136 "ingest log: one row per distinct payload"
tap_is "$(grep -c 'duplicate snapshot' "$H_DIR/snapshotd.log")" 3 "duplicates are acknowledged and logged"

# --- SIGTERM: clean exit.
svc_daemon_stop TERM
tap_is "$?" 0 "SIGTERM: exit status 0"
tap_is "$(grep -c 'stopped cleanly' "$H_DIR/snapshotd.log")" 1 "SIGTERM: clean shutdown logged"
grep -q 'rate:' "$H_DIR/snapshotd.log" && tap_ok "periodic rate summary logged" || tap_not_ok "periodic rate summary logged"

# --- workers = 2 sharing a $share subscription: still each snapshot once.
sed 's|keepalive = 60;|keepalive = 60; subscription = "$share/ingest/+/+/+/snapshots";|' \
	"$H_DIR/snapshotd.conf" >"$H_DIR/snapshotd-w2.conf"
echo "workers = 2;" >>"$H_DIR/snapshotd-w2.conf"
SVC_CONF=$H_DIR/snapshotd-w2.conf svc_daemon_start
svc_devsim 000001 00001 EQ1 --count 30 --seq-start 1000 --values 5 >/dev/null 2>&1 & p1=$!
svc_devsim 000002 00007 EQ3 --count 30 --seq-start 1000 --values 5 --device-type PUMP >/dev/null 2>&1 & p3=$!
wait $p1; wait $p3
svc_wait_count "select count(*) from t_snapshot where seq between 1000 and 1029" 60 30
tap_is "$(q "select count(distinct (device_id, seq)) || '/' || count(*) from t_snapshot where seq between 1000 and 1029")" \
	"60/60" "workers = 2 (\$share): 60 snapshots, each once"
tap_is "$(grep -c 'worker 1: connected' "$H_DIR/snapshotd.log")" 1 "second worker has its own session"
svc_daemon_stop TERM
tap_is "$?" 0 "workers = 2: SIGTERM exit status 0"
tap_done
