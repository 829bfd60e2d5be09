#!/usr/bin/env bash
# At-least-once from device to database, exactly-once in the database:
# sms-snapshotd killed with SIGKILL at random moments, PostgreSQL stopped for
# 10 s, the broker restarted, all in the middle of a stream; afterwards every
# snapshot is in the database exactly once.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup

exactly_once() { # expected-total first-seq last-seq description
	tap_is "$(q "select count(*) || '/' || count(distinct (device_id, seq)) from t_snapshot
	             where seq between $2 and $3")" "$1/$1" "$4: $1 snapshots, each exactly once"
	tap_is "$(q "select count(*) from t_snapshot_values v join t_snapshot s on s.id = v.snapshot_id
	             where s.seq between $2 and $3")" $(($1 * 10)) "$4: all value rows, none twice"
}

# --- kill -9 at random moments during 2,000 snapshots from two devices.
svc_daemon_start
svc_devsim 000001 00001 EQ1 --count 1000 --seq-start 1 --values 10 --timeout 300 >"$H_DIR/k1.log" 2>&1 & p1=$!
svc_devsim 000002 00007 EQ3 --count 1000 --seq-start 1 --values 10 --timeout 300 >"$H_DIR/k3.log" 2>&1 & p3=$!
# The broker queues for the daemon's session, so the kills continue for as
# long as the daemon is consuming, after the devices are done too.
kills=0
while [ "$kills" -lt 25 ]; do
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	stored=$(q "select count(*) from t_snapshot")
	[ "$stored" -ge 2000 ] && break
	svc_daemon_stop KILL
	kills=$((kills + 1))
	echo "# kill -9 #$kills with $stored snapshots stored"
	svc_daemon_start
done
wait $p1 && wait $p3 && tap_ok "devices published 2 x 1000 snapshots (acknowledged by the broker)" ||
	{ tap_not_ok "devices published"; tail -n 3 "$H_DIR"/k[13].log | sed 's/^/# /'; }
[ "$kills" -ge 3 ] && tap_ok "daemon killed $kills times mid-stream" || tap_not_ok "only $kills kills"
svc_wait_count "select count(*) from t_snapshot" 2000 120
exactly_once 2000 1 1000 "after $kills x kill -9"
tap_is "$(q "select count(*) from t_ingest_log")" 2000 "one ingest-log row per message"
echo "# duplicates acknowledged after restarts (committed, ack lost in the kill): $(grep -c 'duplicate snapshot' "$H_DIR/snapshotd.log")"

# --- The acknowledgement waits for the commit (deterministic form of the
# kill -9 test): with PostgreSQL down, the daemon holds a message in its
# callback; SIGKILL it there. Had the PUBACK left before the commit, the
# broker would have dropped the message and it would never be stored.
harness_pg_stop fast
retries=$(grep -c 'retrying in' "$H_DIR/snapshotd.log")
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 9001 --values 10 >/dev/null 2>&1
for i in $(seq 1 100); do
	[ "$(grep -c 'retrying in' "$H_DIR/snapshotd.log")" -gt "$retries" ] && break
	sleep 0.1
done
sleep 1   # let any PUBACK that was going to leave reach the broker
svc_daemon_stop KILL
harness_pg_start_again
svc_daemon_start
svc_wait_count "select count(*) from t_snapshot where seq = 9001" 1 30 &&
	tap_ok "message held in the callback when the daemon was killed is delivered again and stored" ||
	tap_not_ok "message held in the callback when the daemon was killed is delivered again and stored"

# --- PostgreSQL stopped for 10 s mid-stream.
svc_devsim 000001 00001 EQ2 --count 300 --seq-start 10001 --values 10 --interval-ms 40 --timeout 300 \
	>"$H_DIR/pg.log" 2>&1 & p=$!
svc_wait_count "select count(*) > 20 from t_snapshot where seq > 10000" t 30
harness_pg_stop fast
echo "# PostgreSQL stopped"
sleep 10
harness_pg_start_again
echo "# PostgreSQL started again"
wait $p && tap_ok "device published 300 snapshots across the database outage" || tap_not_ok "device published"
svc_wait_count "select count(*) from t_snapshot where seq > 10000" 300 60
exactly_once 300 10001 10300 "PostgreSQL down for 10 s"
grep -q 'retrying in' "$H_DIR/snapshotd.log" && tap_ok "the outage was seen and retried" ||
	tap_not_ok "the outage was seen and retried"
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "daemon survived the database outage" || tap_not_ok "daemon alive"

# --- broker stopped (SIGTERM, persistence on) and restarted mid-stream.
svc_devsim 000002 00007 EQ3 --count 300 --seq-start 20001 --values 10 --interval-ms 30 --timeout 300 \
	>"$H_DIR/mq.log" 2>&1 & p=$!
svc_wait_count "select count(*) > 20 from t_snapshot where seq > 20000" t 30
harness_mosquitto_stop TERM
echo "# broker stopped"
sleep 3
harness_mosquitto_start_again
echo "# broker started again"
wait $p && tap_ok "device published 300 snapshots across the broker restart" ||
	{ tap_not_ok "device published"; tail -n 3 "$H_DIR/mq.log" | sed 's/^/# /'; }
svc_wait_count "select count(*) from t_snapshot where seq > 20000" 300 90
exactly_once 300 20001 20300 "broker restarted"
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "daemon survived the broker restart" || tap_not_ok "daemon alive"

svc_daemon_stop TERM
tap_is "$?" 0 "SIGTERM after all that: exit status 0"
tap_done
