#!/usr/bin/env bash
# Values by COPY (sql/007_ingest_by_copy.sql): sms-snapshotd stores each
# snapshot's head with sms_ingest_head and its values with one binary COPY
# per batch. Checked against a real PostgreSQL and broker: values come back
# bit for bit (names with quotes, braces, backslashes and UTF-8; -0, the
# smallest subnormal, the largest double; text), taken_at with fractions
# lands in the values as PostgreSQL parsed it; the client's layout digest is
# the one SQL computes, so the by-COPY path is really taken (and the layout
# learnt once); a layout deleted under the daemon, or a unit mismatch in a
# group-commit batch, costs a fallback, never a snapshot.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
SMSCMS=$DBIN/smscms
[ -x "$SMSCMS" ] || harness_die "$SMSCMS not built"
psql -XAtq -c "alter system set track_functions = 'pl'" -c "select pg_reload_conf()" >/dev/null

E1=$P/e2e/ma/000001/acc/00001/dev/EQ1; T1=$P/tls/ma/000001/acc/00001/dev/EQ1
publish_dir() { # TLS-dir topic dir
	"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
		--cert "$1/fullchain.pem" --key "$1/key.pem" --topic "$2" --from "$3" >>"$H_DIR/pub.log" 2>&1
}
# snap NAME EQ SEQ TAKEN_AT VALUES: a signed (openssl cms), encrypted snapshot of EQ in $H_DIR/out/NAME/
snap() {
	local e=$P/e2e/ma/000001/acc/00001/dev/$2
	mkdir -p "$H_DIR/out/$1"
	printf '{"equipment":"%s","device_type":"FM","taken_at":"%s","seq":%s,"values":%s}' "$2" "$4" "$3" "$5" \
		>"$H_DIR/out/$1.json"
	openssl cms -sign -binary -nodetach -md sha256 -signer "$e/cert.pem" -inkey "$e/key.pem" \
		-certfile "$e/chain.pem" -in "$H_DIR/out/$1.json" -outform DER -out "$H_DIR/out/$1.sd" &&
	"$SMSCMS" encrypt --cert "$e/cert.pem" --key "$e/key.pem" --chain "$e/chain.pem" --signed \
		--recipient "$VSS/cert.pem" --in "$H_DIR/out/$1.sd" --out "$H_DIR/out/$1/000001.cms" ||
		harness_die "signing and encrypting $1 failed"
}
calls() { q "select coalesce((select calls from pg_stat_user_functions where funcname = '$1'), 0)"; }
V='[{"group":"a \"quoted\" {brace}, comma","channel":"back\\slash","unit":"°C","value":0.1},
{"group":"NULL","channel":"null","value":-0.0},
{"group":"Förderband ✓","channel":" lead and trail ","unit":"m/s²","value":5e-324},
{"group":"g","channel":"max","value":1.7976931348623157e308},
{"group":"g","channel":"neg","value":-123456.789e-10},
{"group":"g","channel":"text","value":"it'"'"'s \"x\" {a,b} \\ ✓"},
{"group":"g","channel":"flag","value":true}]'
snap s1 EQ1 1 2026-11-21T10:00:00.123456Z "$V"
snap s2 EQ1 2 2026-11-21T10:00:01.9999995Z "$V"
SVC_DAEMON_ARGS=--verbose svc_daemon_start
publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/s1"
publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/s2"
svc_wait_count "select count(*) from t_snapshot" 2 30 >/dev/null
svc_daemon_stop TERM   # its backend exits: the function statistics are flushed

tap_is "$(q "select string_agg(g.name || '/' || c.name || '[' || u.symbol || ']=' || coalesce(v.value_num::text, v.value_text), ' | '
            order by g.name, c.name) from t_snapshot_values v join t_snapshot s on s.id = v.snapshot_id
            join t_channel c on c.id = v.channel_id join t_channel_group g on g.id = c.group_id
            join t_unit u on u.id = c.unit_id where s.seq = 1")" \
	"Förderband ✓/ lead and trail [m/s²]=5e-324 | NULL/null[]=-0 | a \"quoted\" {brace}, comma/back\\slash[°C]=0.1 | g/flag[]=true | g/max[]=1.7976931348623157e+308 | g/neg[]=-1.23456789e-05 | g/text[]=it's \"x\" {a,b} \\ ✓" \
	"values and names come back exactly as the device sent them"
tap_is "$(q "select count(*) from t_snapshot_values v join t_snapshot s on s.id = v.snapshot_id
            where s.seq = 1 and v.value_num in (0.1, 5e-324, 1.7976931348623157e308, -123456.789e-10)")" 4 \
	"doubles are stored bit for bit (equal to the literals)"
tap_is "$(q "select string_agg(s.seq || '=' || to_char(s.taken_at at time zone 'UTC', 'HH24:MI:SS.US') || '/' ||
            (select count(*) from t_snapshot_values v where v.snapshot_id = s.id and v.taken_at = s.taken_at), ' ' order by s.seq)
            from t_snapshot s")" "1=10:00:00.123456/7 2=10:00:02.000000/7" \
	"taken_at of every value row is the snapshot's, as PostgreSQL rounded it"
tap_is "$(q "select count(*) from t_snapshot_values_202611")" 14 "values land in their monthly partition"
tap_is "$(calls sms_ingest_head)/$(calls sms_ingest_signed_snapshot)/$(calls sms_channel_layout)" "2/0/1" \
	"both stored by head + COPY, none through the whole function; the layout learnt once"
tap_is "$(q "select count(*) from t_channel_layout where digest = sms_layout_digest(
            array['a \"quoted\" {brace}, comma', 'NULL', 'Förderband ✓', 'g', 'g', 'g', 'g'],
            array['back\\slash', 'null', ' lead and trail ', 'max', 'neg', 'text', 'flag'],
            array['°C', '', 'm/s²', '', '', '', ''])")" 1 "the layout is recorded under the digest SQL computes"
tap_is "$(q "select count(*) from t_snapshot_signature")" 2 "the signatures are stored with the heads"
out=$(q "select sms_channel_layout('FM', '\\x00'::bytea, array['g'], array['max'], array[''])" 2>&1)
case $out in *"is not the digest of the channel list"*) tap_ok "a layout digest that is not the list's is refused (SMS04)";;
	*) tap_not_ok "wrong layout digest refused: $out";; esac

# --- the layout deleted under a running daemon: a fallback, then learnt again
q "select pg_stat_reset()" >/dev/null
: >"$H_DIR/snapshotd.log"; SVC_CONNECTS=0
SVC_DAEMON_ARGS=--verbose svc_daemon_start
snap s3 EQ1 3 2026-11-21T10:00:03Z "$V"
publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/s3"
svc_wait_count "select count(*) from t_snapshot" 3 30 >/dev/null
q "delete from t_channel_layout" >/dev/null
snap s4 EQ1 4 2026-11-21T10:00:04Z "$V"
publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/s4"
svc_wait_count "select count(*) from t_snapshot" 4 30 >/dev/null
snap s5 EQ1 5 2026-11-21T10:00:05Z "$V"
publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/s5"
svc_wait_count "select count(*) from t_snapshot" 5 30 >/dev/null
svc_daemon_stop TERM
tap_is "$(q "select count(*) || '/' || (select count(*) from t_snapshot_values) || '/' || (select count(*) from t_dead_letter)
            from t_snapshot")" "5/35/0" "a vanished layout: every snapshot stored with all its values, no dead letter"
grep -q "not stored together (.*layout .* is not recorded" "$H_DIR/snapshotd.log" &&
	tap_ok "... the batch fell back, saying the layout is not recorded" ||
	tap_not_ok "fallback logged: $(grep 'not stored together' "$H_DIR/snapshotd.log" | tail -1)"
tap_is "$(calls sms_ingest_signed_snapshot)/$(q "select count(*) from t_channel_layout")" "1/1" \
	"... one snapshot through the whole function, which recorded the layout again"

# --- group commit: a unit mismatch in a batch of four workers
sed 's|keepalive = 60;|keepalive = 60; subscription = "$share/ingest/+/+/+/snapshots";|' \
	"$H_DIR/snapshotd.conf" >"$H_DIR/snapshotd-w4.conf"
echo "workers = 4;" >>"$H_DIR/snapshotd-w4.conf"
for eq in EQ1 EQ2; do
	for i in 1 2 3; do snap "g-$eq-$i" "$eq" $((100 + i)) "2026-11-21T11:00:0${i}Z" "$V"; done
done
snap bad EQ2 200 2026-11-21T11:00:09Z '[{"group":"g","channel":"max","unit":"bar","value":1}]'
: >"$H_DIR/snapshotd.log"; SVC_CONNECTS=0
SVC_CONF=$H_DIR/snapshotd-w4.conf SVC_DAEMON_ARGS=--verbose svc_daemon_start
T2=$P/tls/ma/000001/acc/00001/dev/EQ2
pubs=()
for i in 1 2 3; do
	publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/g-EQ1-$i" & pubs+=($!)
	publish_dir "$T2" 000001/00001/EQ2/snapshots "$H_DIR/out/g-EQ2-$i" & pubs+=($!)
done
publish_dir "$T2" 000001/00001/EQ2/snapshots "$H_DIR/out/bad" & pubs+=($!)
wait "${pubs[@]}"
svc_wait_count "select count(*) from t_snapshot" 11 30 >/dev/null
svc_wait_count "select count(*) from t_dead_letter" 1 30 >/dev/null
svc_daemon_stop TERM
tap_is "$(q "select count(*) || '/' || (select count(*) from t_snapshot_values) from t_snapshot")" "11/77" \
	"workers = 4: the six good snapshots stored with all their values"
tap_is "$(q "select reason || ': ' || (position('unit mismatch: g/max: unit' in detail) > 0) from t_dead_letter")" \
	"db_rejected: true" "... the one with a contradicting unit dead-lettered exactly as before"
grep -q "not stored together (.*unit mismatch" "$H_DIR/snapshotd.log" &&
	tap_ok "... its batch fell back to one by one, saying why" ||
	tap_not_ok "unit mismatch fallback logged: $(grep 'not stored together' "$H_DIR/snapshotd.log" | tail -1)"

# --- last seen: one write per device and minute, whichever worker gets it
for i in 1 2 3 4 5 6; do snap "seen-$i" EQ1 $((300 + i)) "2026-11-21T12:00:0${i}Z" "$V"; done
before=$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ1'")
q "select pg_stat_reset()" >/dev/null
SVC_CONF=$H_DIR/snapshotd-w4.conf svc_daemon_start
for i in 1 2 3 4 5 6; do
	publish_dir "$T1" 000001/00001/EQ1/snapshots "$H_DIR/out/seen-$i"
	svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ1'" \
		"$((before + i))" 30 >/dev/null
done
svc_daemon_stop TERM
tap_is "$(calls sms_device_seen)/$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id
            where d.equipment = 'EQ1' and s.seq > 300")" "1/6" \
	"workers = 4: six snapshots of one device in a minute, last seen written once (the workers share what they wrote)"
tap_done
