#!/usr/bin/env bash
# The test harness itself: private PostgreSQL and mosquitto come up on
# loopback, work, survive a restart, and leave nothing behind.
source "$(dirname "$0")/../harness/harness.sh"

# Run the harness in a child shell so its cleanup can be observed from here.
child_log=$(mktemp)
(
	harness_init
	echo "DIR=$H_DIR"
	harness_pg_start
	echo "PGPID=$(head -n 1 "$H_PG_DATA/postmaster.pid")"
	echo "PGPORT=$PGPORT"
	psql -Atqc "select 40 + 2" && echo "SQL=ok"
	psql -Atqc "show listen_addresses" | sed 's/^/LISTEN=/'
	harness_pg_stop
	harness_pg_start_again
	psql -Atqc "select 1" >/dev/null && echo "RESTART=ok"
	opts=$(mktemp); echo "allow_anonymous true" >"$opts"
	harness_mosquitto_start "$opts"; rm -f "$opts"
	echo "MQPID=$H_MQ_PID"
	echo "MQPORT=$H_MQ_PORT"
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" -q 1 -r -t harness/probe -m hello &&
		mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" -t harness/probe -C 1 -W 5 | sed 's/^/MQTT=/'
	harness_mosquitto_stop
	harness_mosquitto_start_again
	mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" -t harness/probe -C 1 -W 5 | sed 's/^/RETAINED=/'
	echo "MQPID2=$H_MQ_PID"
	# Leave everything running: cleanup must take it down.
	exit 3
) >"$child_log" 2>&1
child_rc=$?
get() { sed -n "s/^$1=//p" "$child_log" | head -n 1; }

tap_is "$child_rc" 3 "the harness keeps the script's exit status through cleanup"
tap_is "$(get SQL)" ok "private PostgreSQL answers queries"
tap_is "$(get LISTEN)" 127.0.0.1 "PostgreSQL listens on loopback only"
tap_is "$(get RESTART)" ok "PostgreSQL restarts on the same port and data"
tap_is "$(get MQTT)" hello "private mosquitto relays a message"
tap_is "$(get RETAINED)" hello "mosquitto persistence survives a restart"
port_ok=no
p=$(get PGPORT); q=$(get MQPORT)
[ -n "$p" ] && [ -n "$q" ] && [ "$p" != "$q" ] && [ "$p" -gt 1024 ] && port_ok=yes
tap_is "$port_ok" yes "servers got distinct unprivileged ports"
gone=yes
for pid in $(get PGPID) $(get MQPID) $(get MQPID2); do
	servers_pid_running "$pid" && gone="no ($pid alive: $(cat /proc/$pid/cmdline 2>/dev/null | tr '\0' ' '))"
done
tap_is "$gone" yes "every server is stopped after the script exits"
d=$(get DIR)
if [ -n "$d" ] && [ ! -e "$d" ]; then tap_ok "private directory removed"; else tap_not_ok "private directory $d removed"; fi
[ "$H_TAP_FAILED" -ne 0 ] && sed 's/^/# /' "$child_log"
rm -f "$child_log"
tap_done
