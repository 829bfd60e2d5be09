#!/usr/bin/env bash
# Issue 9, database side: no acknowledged message may vanish. sms-snapshotd
# runs as a least-privilege login made by `sms-db roles` (member of
# sms_snapshotd only, no CREATE anywhere), against a real broker and a real
# PostgreSQL. One block per finding; each fails on the code before the fix.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
DB=$DBIN/sms-db
SUPER=$H_PG_CONNINFO
conn_as() { echo "host=127.0.0.1 port=$H_PG_PORT user=$1 dbname=${2:-sms}"; }
E1=$P/e2e/ma/000001/acc/00001/dev/EQ1
T1=$P/tls/ma/000001/acc/00001/dev/EQ1
T3=$P/tls/ma/000002/acc/00007/dev/EQ3
TOPIC1=000001/00001/EQ1/snapshots
TOPIC3=000002/00007/EQ3/snapshots
publish_as() { # TLS-dir topic dir
	"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
		--cert "$1/fullchain.pem" --key "$1/key.pem" --topic "$2" --from "$3" >>"$H_DIR/pub.log" 2>&1
}
log_count() { grep -c -- "$1" "$H_DIR/snapshotd.log"; }
# The test configuration with another database login.
conf_as() { # user file
	sed "s|conninfo = \"[^\"]*\"|conninfo = \"$(conn_as "$1")\"|" "$H_DIR/snapshotd.conf" >"$2"
}

# --- sms-db roles: group roles with exactly the privileges each program uses.
out=$("$DB" roles --conninfo "$SUPER" 2>&1)
tap_is "$?" 0 "sms-db roles creates the roles"
case $out in *"CREATE ROLE snapshotd LOGIN"*"IN ROLE sms_snapshotd"*) tap_ok "sms-db roles says how to make a login";;
	*) tap_not_ok "sms-db roles says how to make a login: $out";; esac
tap_check "sms-db roles again is a no-op (idempotent)" "$DB" roles --conninfo "$SUPER"
q "create role snapd login in role sms_snapshotd; create role ops login in role sms_admin;
   create role bare login" >/dev/null
# A GRANT by a role that holds a privilege without the grant option is only
# a WARNING in PostgreSQL: sms-db checks what the role really holds.
q "create role dba login createrole; grant select on all tables in schema public to dba;
   grant execute on all functions in schema public to dba" >/dev/null
out=$("$DB" roles --snapshotd-role sms_x --admin-role sms_y --reader-role sms_z --conninfo "$(conn_as dba)" 2>&1)
tap_is "$?" 1 "sms-db roles run by a non-owner fails"
case $out in *"role sms_x did not get its grants (run sms-db roles as the owner of the schema); it lacks SELECT on schema_migrations"*)
	tap_ok "... saying the role did not get its grants";; *) tap_not_ok "non-owner sms-db roles: $out";; esac
tap_is "$(q "select string_agg(table_name || ':' || privilege_type, ' ' order by table_name, privilege_type)
            from information_schema.table_privileges where grantee = 'sms_snapshotd'")" \
	"schema_migrations:SELECT t_account:INSERT t_account:SELECT t_channel:INSERT t_channel:SELECT t_channel_group:INSERT t_channel_group:SELECT t_channel_layout:INSERT t_channel_layout:SELECT t_dead_letter:INSERT t_dead_letter:SELECT t_device:INSERT t_device:SELECT t_device_type:INSERT t_device_type:SELECT t_ingest_log:INSERT t_ingest_log:SELECT t_master_account:INSERT t_master_account:SELECT t_snapshot:INSERT t_snapshot:SELECT t_snapshot_signature:INSERT t_snapshot_values:INSERT t_unit:INSERT t_unit:SELECT" \
	"sms_snapshotd: table privileges exactly as listed (no UPDATE/DELETE on whole tables)"
tap_is "$(q "select string_agg(table_name || '.' || column_name, ' ' order by table_name, column_name)
            from information_schema.column_privileges where grantee = 'sms_snapshotd' and privilege_type = 'UPDATE'")" \
	"t_dead_letter.replay_outcome t_dead_letter.replay_requested_at t_dead_letter.replay_snapshot_id t_dead_letter.replayed_at t_device.cert_issuer t_device.cert_not_after t_device.cert_serial t_device.last_seen t_device.last_seq t_device.last_taken_at t_ingest_log.dead_letter_id t_ingest_log.snapshot_id" \
	"sms_snapshotd: UPDATE only on the columns it sets"
tap_is "$(q "select string_agg(p.proname, ' ' order by p.proname) from pg_proc p
            where p.pronamespace = 'public'::regnamespace and has_function_privilege('snapd', p.oid, 'EXECUTE')")" \
	"sms_channel_layout sms_dead_letter sms_dead_letter_replay_failed sms_device_seen sms_ensure_partition sms_ensure_partitions sms_ingest_head sms_ingest_signed_snapshot sms_ingest_snapshot sms_ingest_values sms_layout_digest" \
	"snapd may execute exactly the functions it calls (not the 001 sms_dead_letter form, nothing for PUBLIC)"
tap_is "$(q "select has_schema_privilege('snapd', 'public', 'CREATE') or has_database_privilege('snapd', 'sms', 'CREATE')")" f \
	"snapd has no CREATE on schema public or the database"
tap_is "$(q "select string_agg(table_name || ':' || privilege_type, ' ' order by table_name, privilege_type)
            from information_schema.table_privileges where grantee = 'sms_admin'")" \
	"schema_migrations:SELECT t_dead_letter:DELETE t_dead_letter:SELECT" "sms_admin: reads and deletes dead letters only"

# --- Start-up readiness: refuse to start, with one line naming what is missing.
refused_start() { # user-or-conf description pattern
	local before after conf=$H_DIR/ready.conf
	conf_as "$1" "$conf"
	before=$(log_count 'not starting')
	SVC_CONF=$conf svc_daemon_start
	svc_daemon_stop TERM
	tap_is "$?" 1 "$2: daemon refuses to start (exit 1)"
	after=$(log_count 'not starting')
	tap_is "$((after - before))" 1 "$2: one line says why"
	tail -n 20 "$H_DIR/snapshotd.log" | grep 'not starting' | tail -n 1 | grep -q -- "$3" &&
		tap_ok "$2: the line names it ($3)" ||
		{ tap_not_ok "$2: the line names it ($3)"; grep 'not starting' "$H_DIR/snapshotd.log" | tail -n 1 | sed 's/^/# /'; }
}
refused_start bare "role without grants" "lacks what sms-snapshotd needs: SELECT on schema_migrations, EXECUTE on sms_ingest_snapshot("
refused_start nosuch "unknown database role" 'role "nosuch" does not exist (user=nosuch host=127.0.0.1'
q "grant sms_snapshotd to bare; revoke insert on t_snapshot_values from sms_snapshotd" >/dev/null
refused_start bare "one privilege missing" "lacks what sms-snapshotd needs: INSERT on t_snapshot_values (sms-db roles"
"$DB" roles --conninfo "$SUPER" >/dev/null
psql -XAtq -d postgres -c "create database old" >/dev/null
mkdir -p "$H_DIR/sql1" && cp "$H_ROOT/sql/001_snapshot_schema.sql" "$H_DIR/sql1/"
"$DB" migrate --conninfo "$(conn_as sms old)" --sql-dir "$H_DIR/sql1" >/dev/null
sed "s|conninfo = \"[^\"]*\"|conninfo = \"$(conn_as sms old)\"|" "$H_DIR/snapshotd.conf" >"$H_DIR/old.conf"
before=$(log_count 'not starting')
SVC_CONF=$H_DIR/old.conf svc_daemon_start
svc_daemon_stop TERM
tap_is "$?" 1 "schema at version 1: daemon refuses to start"
grep 'not starting' "$H_DIR/snapshotd.log" | tail -n 1 | grep -q "schema version 1, sms-snapshotd needs 7: run sms-db migrate" &&
	tap_ok "schema at version 1: the line says to migrate" || tap_not_ok "schema at version 1: the line says to migrate"

# The daemon from here on: least privilege, small dead letters, quick replays.
conf_as snapd "$H_DIR/loss.conf"
sed -i 's/^limits = {.*/limits = { max_payload = 65536; max_values = 500; dead_letter_max_bytes = 8192; };/;
        s|^database = {\(.*\)};|database = {\1 replay_interval = 1; };|' "$H_DIR/loss.conf"
grep -q 'dead_letter_max_bytes = 8192' "$H_DIR/loss.conf" && grep -q 'replay_interval = 1' "$H_DIR/loss.conf" ||
	harness_die "could not write loss.conf"
SVC_CONF=$H_DIR/loss.conf svc_daemon_start
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "daemon starts as snapd (member of sms_snapshotd only)" ||
	{ tap_not_ok "daemon starts as snapd"; tail -n 5 "$H_DIR/snapshotd.log" | sed 's/^/# /'; }
svc_devsim 000001 00001 EQ1 --count 3 --seq-start 1 >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot" 3 30 && tap_ok "snapshots stored as snapd" || tap_not_ok "snapshots stored as snapd"

# --- Finding 1: a privilege error is not the message's fault. The message
# stays unacknowledged (never dead-lettered, never lost) and the daemon says
# why until the grant is back; then it is stored.
q "revoke insert on t_ingest_log from sms_snapshotd" >/dev/null
errs=$(log_count 'kept unacknowledged')
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 101 --timeout 5 >/dev/null 2>&1
for i in $(seq 1 100); do [ "$(log_count 'kept unacknowledged')" -ge $((errs + 2)) ] && break; sleep 0.1; done
tap_is "$(q "select count(*) from t_snapshot where seq = 101")/$(q "select count(*) from t_dead_letter")" "0/0" \
	"1: permission denied: neither stored nor dead-lettered while the grant is missing"
grep 'kept unacknowledged' "$H_DIR/snapshotd.log" | tail -n 1 | grep -q 'permission denied for table t_ingest_log (SQLSTATE 42501)' &&
	tap_ok "1: logged as ERROR with the SQLSTATE, repeatedly ($(( $(log_count 'kept unacknowledged') - errs )) lines so far)" ||
	tap_not_ok "1: logged with the SQLSTATE"
"$DB" roles --conninfo "$SUPER" >/dev/null
svc_wait_count "select count(*) from t_snapshot where seq = 101" 1 30 &&
	tap_ok "1: after sms-db roles restores the grant the held message is stored" ||
	tap_not_ok "1: held message stored after the grant is back"
tap_is "$(q "select count(*) from t_dead_letter")" 0 "1: and no dead letter was written for it"

# --- Finding 2: an empty publish is a dead letter 'empty' with length and digest.
mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$T1/fullchain.pem" \
	--key "$T1/key.pem" -i "000001/00001/EQ1@empty-publish" -q 1 -t "$TOPIC1" -n >>"$H_DIR/pub.log" 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'empty'" 1 20 &&
	tap_ok "2: empty payload -> dead letter 'empty'" || tap_not_ok "2: empty payload -> dead letter 'empty'"
tap_is "$(q "select payload_length || ':' || octet_length(payload) || ':' || encode(digest, 'hex') || ':' || topic
            from t_dead_letter where reason = 'empty'")" \
	"0:0:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:$TOPIC1" \
	"2: its length 0, the SHA-256 of nothing and the topic are kept"

# --- Finding 3: a month without a partition, as a role without CREATE.
t2031=$(date -u -d 2031-03-15T12:00:00Z +%s)
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 201 --taken-at "$t2031" >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot where seq = 201" 1 20 &&
	tap_ok "3: snapshot of 2031-03 stored by snapd" || tap_not_ok "3: snapshot of 2031-03 stored by snapd"
tap_is "$(q "select c.relname || ':' || count(*) from t_snapshot_values v join pg_class c on c.oid = v.tableoid
            join t_snapshot s on s.id = v.snapshot_id where s.seq = 201 group by c.relname")" "t_snapshot_values_203103:10" \
	"3: its values are in the new partition t_snapshot_values_203103"
tap_is "$(q "select count(*) from t_dead_letter where reason = 'db_rejected'")" 0 "3: not a db_rejected dead letter"

# --- Finding 4: bounded dead letters; the shipped broker refuses what is far too big.
mkdir -p "$H_DIR/big"
head -c 70000 /dev/urandom >"$H_DIR/big/000001.cms"
big_sha=$(sha256sum "$H_DIR/big/000001.cms" | cut -d' ' -f1)
publish_as "$T1" "$TOPIC1" "$H_DIR/big"
svc_wait_count "select count(*) from t_dead_letter where reason = 'too_large'" 1 20
tap_is "$(q "select payload_length || ':' || octet_length(payload) || ':' || truncated || ':' || encode(digest, 'hex')
            from t_dead_letter where reason = 'too_large'")" "70000:8192:true:$big_sha" \
	"4: too_large dead letter keeps 8192 bytes (dead_letter_max_bytes), the full length and digest"
mps=$(awk '$1 == "max_packet_size" { print $2 }' "$H_ROOT/acl/mosquitto.conf")
maxp=$(sed -n 's/^ *max_payload = \([0-9]*\);.*/\1/p' "$H_ROOT/services/snapshotd/snapshotd.conf.example")
[ -n "$mps" ] && [ -n "$maxp" ] && [ "$mps" -gt "$maxp" ] &&
	tap_ok "4: acl/mosquitto.conf max_packet_size $mps > sms-snapshotd max_payload $maxp" ||
	tap_not_ok "4: acl/mosquitto.conf sets max_packet_size above max_payload (got '$mps', max_payload '$maxp')"

# --- Finding 9: a payload stored from EQ1, replayed by EQ3 on EQ3's own topic.
mkdir -p "$H_DIR/stolen"
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 301 --write "$H_DIR/stolen" >/dev/null 2>&1
publish_as "$T1" "$TOPIC1" "$H_DIR/stolen"
svc_wait_count "select count(*) from t_snapshot where seq = 301" 1 20
publish_as "$T3" "$TOPIC3" "$H_DIR/stolen"
svc_wait_count "select count(*) from t_dead_letter where topic = '$TOPIC3'" 1 20 &&
	tap_ok "9: replay on another topic -> dead letter with the topic it came on" ||
	tap_not_ok "9: replay on another topic -> dead letter"
tap_is "$(q "select reason || ' / ' || (detail like '%(replay: these bytes came first on $TOPIC1)') from t_dead_letter where topic = '$TOPIC3'")" \
	"originator_mismatch / true" "9: reason originator_mismatch, detail names the first topic"
publish_as "$T3" "$TOPIC3" "$H_DIR/stolen"
svc_devsim 000002 00007 EQ3 --count 1 --seq-start 1 >/dev/null 2>&1   # a marker after it
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3'" 1 20
tap_is "$(q "select count(*) from t_dead_letter where topic = '$TOPIC3'")/$(grep -c "snapshot on $TOPIC3 rejected (originator_mismatch)" "$H_DIR/snapshotd.log")" \
	"1/1" "9: the same replay again: still one dead letter, logged once"
tap_is "$(q "select count(*) from t_snapshot where seq = 301")" 1 "9: the original stays stored once"

# --- Finding 6 (replay part): dead letters replayed once the cause is fixed.
svc_daemon_stop TERM
sed 's/max_values = 500;/max_values = 5;/' "$H_DIR/loss.conf" >"$H_DIR/loss5.conf"
SVC_CONF=$H_DIR/loss5.conf svc_daemon_start
mkdir -p "$H_DIR/tm" "$H_DIR/junk"
svc_devsim 000001 00001 EQ2 --count 2 --seq-start 401 --values 8 --write "$H_DIR/tm" >/dev/null 2>&1
publish_as "$P/tls/ma/000001/acc/00001/dev/EQ2" 000001/00001/EQ2/snapshots "$H_DIR/tm"
svc_wait_count "select count(*) from t_dead_letter where reason = 'too_large' and not truncated" 2 20 &&
	tap_ok "6: 8 values with max_values = 5 -> 2 dead letters" || tap_not_ok "6: two too_large dead letters"
svc_daemon_stop TERM
SVC_CONF=$H_DIR/loss.conf svc_daemon_start   # the cause fixed: max_values = 500
OPS=$(conn_as ops)
out=$("$DB" dead-letters list --reason too_large --conninfo "$OPS")
tap_is "$(printf '%s\n' "$out" | awk 'NR > 1 { print $4 ":" $6 }' | sort | tr '\n' ' ')" \
	"too_large:no too_large:no too_large:yes " "6: dead-letters list --reason too_large (as ops, sms_admin): 3 rows with truncation"
out=$("$DB" dead-letters replay --reason too_large --conninfo "$OPS")
case $out in *"2 dead letter(s) marked for replay"*"1 truncated dead letter(s) cannot be replayed"*)
	tap_ok "6: replay marks the 2 whole ones and says the truncated one cannot be replayed";;
	*) tap_not_ok "6: replay output: $out";; esac
svc_wait_count "select count(*) from t_snapshot where seq between 401 and 402" 2 30 &&
	tap_ok "6: replayed through the daemon: both snapshots stored" || tap_not_ok "6: replayed snapshots stored"
tap_is "$(q "select count(*) from t_dead_letter where replayed_at is not null and replay_snapshot_id is not null")" 2 \
	"6: the dead letters record their snapshot"
out=$("$DB" dead-letters replay --reason too_large --conninfo "$OPS")
case $out in *"0 dead letter(s) marked"*) tap_ok "6: replaying again marks nothing";; *) tap_not_ok "6: replay again: $out";; esac
publish_as "$P/tls/ma/000001/acc/00001/dev/EQ2" 000001/00001/EQ2/snapshots "$H_DIR/tm"
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 403 >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot where seq = 403" 1 20
tap_is "$(q "select count(*) from t_snapshot where seq between 401 and 402")" 2 \
	"6: the broker delivering the same bytes after the replay: still exactly once"
printf 'this is not CMS' >"$H_DIR/junk/000001.cms"
publish_as "$T1" "$TOPIC1" "$H_DIR/junk"
svc_wait_count "select count(*) from t_dead_letter where reason = 'malformed'" 1 20
id=$(q "select id from t_dead_letter where reason = 'malformed'")
"$DB" dead-letters replay --id "$id" --conninfo "$OPS" >/dev/null
svc_wait_count "select replay_outcome like 'malformed:%' and replay_requested_at is null from t_dead_letter where id = $id" t 20 &&
	tap_ok "6: a replay refused again keeps the dead letter and records why" || tap_not_ok "6: refused replay recorded"
tap_check "6: dead-letters purge --id" "$DB" dead-letters purge --id "$id" --conninfo "$OPS"
tap_is "$(q "select count(*) from t_dead_letter where id = $id")/$(q "select count(*) from t_ingest_log where digest = sha256('this is not CMS')")" \
	"0/1" "6: purged, and the message stays recorded as handled"
tap_check_fails "6: dead-letters purge needs --id or --older-than" "$DB" dead-letters purge --conninfo "$OPS"
tap_check_fails "6: snapd (not sms_admin) cannot purge" "$DB" dead-letters purge --older-than 0 --conninfo "$(conn_as snapd)"

# --- Finding 10: the shipped broker holds a stated backlog; drops are reported.
mq=$(awk '$1 == "max_queued_messages" { print $2 }' "$H_ROOT/acl/mosquitto.conf")
mb=$(awk '$1 == "max_queued_bytes" { print $2 }' "$H_ROOT/acl/mosquitto.conf")
[ -n "$mq" ] && [ "$mq" -gt 1000 ] && [ -n "$mb" ] && [ "$mb" -gt 0 ] &&
	grep -q "max_queued_messages $mq" "$H_ROOT/README.md" && grep -q "max_queued_bytes $mb" "$H_ROOT/README.md" &&
	tap_ok "10: acl/mosquitto.conf sizes the backlog ($mq messages, $mb bytes) as the README computes" ||
	tap_not_ok "10: acl/mosquitto.conf sizes the backlog as the README computes (got '$mq', '$mb')"
# A broker whose queue is too small really drops snapshots while the daemon is away.
svc_daemon_stop TERM
harness_mosquitto_stop TERM
echo "max_queued_messages 5" >>"$H_MQ_DIR/mosquitto.conf"
harness_mosquitto_start_again
t0=$(( $(date +%s) + 1000 ))
svc_devsim 000002 00007 EQ3 --count 30 --seq-start 2 --taken-at "$t0" --values 3 >/dev/null 2>&1 ||
	tap_not_ok "10: device published 30 snapshots"
SVC_CONF=$H_DIR/loss.conf svc_daemon_start
sleep 2
svc_devsim 000002 00007 EQ3 --count 1 --seq-start 32 --taken-at $((t0 + 100)) --values 3 >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3' and seq = 32" 1 20
got=$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3' and seq between 2 and 32")
line=$(grep 'device 000002/00007/EQ3: .* snapshot(s) missing between seq' "$H_DIR/snapshotd.log" | tail -n 1)
missing=$(printf '%s' "$line" | sed -n 's/.*EQ3: \([0-9]*\) snapshot(s) missing.*/\1/p')
echo "# broker kept $got of 31, daemon: $line"
[ -n "$missing" ] && [ "$missing" -gt 0 ] && [ $((got + missing)) -eq 31 ] &&
	tap_ok "10: the daemon reports the $missing snapshots the broker dropped ($got stored + $missing missing = 31 sent)" ||
	tap_not_ok "10: dropped snapshots reported (stored $got, reported '$missing')"

svc_daemon_stop TERM
tap_is "$?" 0 "SIGTERM: exit status 0"
tap_done
