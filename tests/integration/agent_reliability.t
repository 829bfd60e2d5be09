#!/usr/bin/env bash
# What receipts buy (issue 12): with the broker's persistence as shipped
# (autosave_interval far longer than the test), a broker killed with kill -9
# loses what it had acknowledged. sms-devicesim (no outbox, no receipts)
# loses snapshots that way: the control. sms-agent keeps each snapshot until
# a receipt covers it: after a broker kill -9 in the middle of 2,000
# snapshots from three agents, after agents killed with kill -9 mid-stream,
# and after the broker was away for a while, every snapshot is in
# PostgreSQL exactly once and every outbox is empty. The receipts are
# sms-snapshotd's own (lost ones too: the kill -9 loses them as well, the
# agents re-send and the duplicates are receipted).
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
SVC_BROKER_EXTRA="autosave_interval 3600"
agent_setup
# A network down for 30 s (broker stopped: connects refused), then a
# silent cut of 90 s (broker frozen with SIGSTOP: the TCP peer is
# there and says nothing, so only the keepalive tells).
OUTAGE=${AGENT_OUTAGE_S:-30}
SILENT=${AGENT_SILENT_CUT_S:-90}

# A re-send interval long enough for a receipt to come back in between.
for d in "a1 000001 00001 EQ1" "a2 000001 00001 EQ2" "a3 000002 00007 EQ3"; do
	# shellcheck disable=SC2086
	agent_conf $d
	sed -i 's/resend_interval = 3;/resend_interval = 15;/' "$H_DIR/${d%% *}/agent.conf"
done
DEVS="a1:000001/00001/EQ1 a2:000001/00001/EQ2 a3:000002/00007/EQ3"

count_range() { q "select count(*) || '/' || count(distinct (device_id, seq)) from t_snapshot where seq between $1 and $2"; }

wait_empty() { # SECONDS: until every outbox is empty
	local i d left
	for i in $(seq 1 "$1"); do
		left=0
		for d in $DEVS; do [ "$(outbox_n "${d%%:*}")" -eq 0 ] || left=1; done
		[ "$left" -eq 0 ] && return 0
		sleep 1
	done
	return 1
}

# --- Control: no outbox, no receipts. The subscriber is stopped, the
# device's 500 snapshots are acknowledged by the broker, the broker is
# killed with kill -9 and restarted, the subscriber started.
svc_daemon_start
svc_daemon_stop TERM
svc_devsim 000001 00001 EQ1 --count 500 --seq-start 50001 --values 2 >"$H_DIR/control.log" 2>&1 &&
	tap_ok "control: sms-devicesim published 500 snapshots, all acknowledged by the broker" ||
	tap_not_ok "control devicesim: $(tail -n 1 "$H_DIR/control.log")"
harness_mosquitto_stop KILL
harness_mosquitto_start_again
svc_daemon_start
sleep 5
lost=$((500 - $(q "select count(*) from t_snapshot where seq between 50001 and 50500")))
[ "$lost" -gt 0 ] && tap_ok "control: without receipts $lost of 500 acknowledged snapshots never reach PostgreSQL" ||
	tap_not_ok "control: nothing lost (the broker persisted them?)"

# --- Broker kill -9 in the middle of 2,000 snapshots from three agents.
for d in a1 a2 a3; do agent_start $d || harness_die "$d did not start: $(tail -n 2 "$H_DIR/$d/agent.log")"; done
spool_put a1 EQ1 $(seq 1 700) & s1=$!
spool_put a2 EQ2 $(seq 1 700) & s2=$!
spool_put a3 EQ3 $(seq 1 600) & s3=$!
for i in $(seq 1 100); do
	[ "$(q "select count(*) from t_snapshot where seq between 1 and 700")" -ge 300 ] && break
	sleep 0.1
done
before=$(q "select count(*) from t_snapshot where seq between 1 and 700")
harness_mosquitto_stop KILL
wait $s1 $s2 $s3
echo "# broker killed with kill -9 with $before of 2000 stored"
sleep 2
harness_mosquitto_start_again
[ "$before" -lt 2000 ] && tap_ok "broker killed mid-stream ($before of 2000 stored at the kill)" ||
	tap_not_ok "the kill came too late ($before stored)"
svc_wait_count "select count(*) from t_snapshot where seq between 1 and 700" 2000 180
tap_is "$(count_range 1 700)" "2000/2000" "after the broker kill -9: all 2,000 snapshots stored, each exactly once"
wait_empty 60 && tap_ok "receipts for what is committed empty every outbox" ||
	tap_not_ok "outboxes: $(outbox_n a1) $(outbox_n a2) $(outbox_n a3)"
tap_is "$(spool_n a1)$(spool_n a2)$(spool_n a3)" "000" "every spool is empty"

# --- Agent kill -9 mid-stream, three times, while the equipment is still
# writing files into the spool.
spool_put a1 EQ1 $(seq 1001 1300) & sp=$!
for k in 1 2 3; do
	sleep "0.$((RANDOM % 3 + 2))"
	echo "# kill -9 of the agent: spool $(spool_n a1), outbox $(outbox_n a1)"
	agent_stop a1 KILL
	agent_start a1 || tap_not_ok "agent restart $k"
done
wait $sp
svc_wait_count "select count(*) from t_snapshot where seq between 1001 and 1300" 300 120
tap_is "$(count_range 1001 1300)" "300/300" "after 3 x kill -9 of the agent: 300 snapshots, each exactly once"
wait_empty 60 && tap_ok "and the outbox empties with the receipts" || tap_not_ok "outbox a1: $(outbox_n a1)"
tap_is "$(spool_n a1)" 0 "and the spool is empty"
ls "$H_DIR/a1/outbox" | grep -q '^\.tmp-' && tap_not_ok "temporary files left" ||
	tap_ok "no temporary file left behind"

# --- The broker away for a while; the equipment keeps writing.
harness_mosquitto_stop TERM
spool_put a2 EQ2 $(seq 2001 2100)
wait_outbox a2 100 60 && tap_ok "broker away: the 100 new snapshots wait in the outbox" ||
	tap_not_ok "outbox a2 while the broker is away"
sleep "$OUTAGE"
grep -q 'cannot connect to 127.0.0.1' "$H_DIR/a2/agent.log" && tap_ok "broker away ${OUTAGE}s: the agent says it cannot connect" ||
	tap_not_ok "no connect failure logged"
harness_mosquitto_start_again
svc_wait_count "select count(*) from t_snapshot where seq between 2001 and 2100" 100 90
tap_is "$(count_range 2001 2100)" "100/100" "broker back: all 100 delivered, each once"
wait_empty 60 && tap_ok "and receipted" || tap_not_ok "outbox a2: $(outbox_n a2)"

# --- Silent cut: nothing answers, nothing refuses. The agent must find out
# by its keepalive, keep what comes in, and deliver it all afterwards.
kill -STOP "$H_MQ_PID"
n_lost=$(grep -c 'no answer from the broker within keepalive' "$H_DIR/a3/agent.log")
spool_put a3 EQ3 $(seq 3001 3050)
wait_outbox a3 50 60 && tap_ok "silent cut: the 50 new snapshots wait in the outbox" ||
	tap_not_ok "outbox a3 during the silent cut"
sleep "$SILENT"
kill -CONT "$H_MQ_PID"
[ "$(grep -c 'no answer from the broker within keepalive' "$H_DIR/a3/agent.log")" -gt "$n_lost" ] &&
	tap_ok "silent cut of ${SILENT}s: the agent noticed the dead connection by itself" ||
	tap_not_ok "silent cut not noticed: $(tail -n 3 "$H_DIR/a3/agent.log")"
svc_wait_count "select count(*) from t_snapshot where seq between 3001 and 3050" 50 120
tap_is "$(count_range 3001 3050)" "50/50" "broker answering again: all 50 delivered, each once"
wait_empty 90 && tap_ok "and receipted" || tap_not_ok "outbox a3: $(outbox_n a3)"

for d in a1 a2 a3; do
	agent_stop $d TERM || tap_not_ok "$d exit status on SIGTERM"
done
tap_ok "SIGTERM: every agent exits 0"
svc_daemon_stop TERM
tap_is "$(cat "$H_DIR"/a?/agent.log | grep -c 'refused a receipt')" 0 "every receipt the agents saw was the service's and verified"
tap_done
