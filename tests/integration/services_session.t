#!/usr/bin/env bash
# sms-snapshotd's broker session and configuration (issue 9, findings 7 and 8):
# a second daemon with the same client id, a database outage longer than
# 1.5 x keepalive, and configuration mistakes, each with one clear line.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
MQLOG=$H_DIR/mosquitto/mosquitto.log

# run_daemon_expect_fail CONF PATTERN DESCRIPTION: the daemon refuses to start
# (non-zero exit) within 30 s, and says PATTERN in one line.
run_daemon_expect_fail() {
	local out=$H_DIR/refuse.log rc
	timeout 30 "$DBIN/sms-snapshotd" --config "$1" >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q -- "$2" "$out"; then
		tap_ok "$3 (exit $rc)"
	else
		tap_not_ok "$3 (exit $rc)"
		sed 's/^/# /' "$out" | tail -n 5
	fi
}

with_line() { # with_line CONF-OUT SED-EXPR: the suite's config, edited
	sed -e "$2" "$H_DIR/snapshotd.conf" >"$1"
}

# --- Finding 8: configuration mistakes stop the daemon at start, with file and line.
with_line "$H_DIR/typo.conf" 's/^stats_interval = 2;/stats_intervall = 2;/'
line=$(grep -n stats_intervall "$H_DIR/typo.conf" | cut -d: -f1)
run_daemon_expect_fail "$H_DIR/typo.conf" "typo.conf:$line: stats_intervall is not a known key" \
	"a misspelled key is an error naming file and line"
out=$("$DBIN/sms-snapshotd" --config "$H_DIR/typo.conf" --check-config 2>&1); rc=$?
[ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	tap_ok "--check-config: exit 1 and one line for the typo" || tap_not_ok "--check-config typo: $rc '$out'"
out=$("$DBIN/sms-snapshotd" --config "$H_DIR/snapshotd.conf" --check-config 2>&1)
tap_is "$?:$out" "0:" "--check-config accepts the suite's configuration, silently"

with_line "$H_DIR/nokey.conf" "s|key = \"$P/tls/services/roles/vendor-snapshot-service/key.pem\"|key = \"$H_DIR/missing-key.pem\"|"
run_daemon_expect_fail "$H_DIR/nokey.conf" "broker.key cannot open $H_DIR/missing-key.pem: No such file or directory" \
	"a missing TLS key is named with its key and the reason"

# The E2E root is not the CA of the broker's certificate.
with_line "$H_DIR/badca.conf" "s|cafile = \"$P/tls/root/ca.crt\"|cafile = \"$P/e2e/root/ca.crt\"|"
# The handshake fails inside mosquitto_connect or later in the loop,
# depending on timing: both must stop the daemon, so try a few times.
for try in 1 2 3; do
	run_daemon_expect_fail "$H_DIR/badca.conf" "certificate verify failed" \
		"a wrong broker CA stops the daemon at start with the TLS reason (try $try)"
done

# Relative paths are relative to the file: the same configuration from another directory.
mkdir -p "$H_DIR/rel/pki" && cp -r "$P/tls" "$P/e2e" "$H_DIR/rel/pki/"
sed -e "s|$P/|pki/|g" "$H_DIR/snapshotd.conf" >"$H_DIR/rel/snapshotd.conf"
out=$(cd / && "$DBIN/sms-snapshotd" --config "$H_DIR/rel/snapshotd.conf" --check-config 2>&1)
tap_is "$?" 0 "paths in the file are relative to the file, not to the working directory"

# Without broker.client_id the daemon takes "<identity>@sms-snapshotd", which the plugin admits.
with_line "$H_DIR/noid.conf" '/client_id = /d'
SVC_CONF=$H_DIR/noid.conf svc_daemon_start
grep -q 'connected as role:vendor-snapshot-service@sms-snapshotd ' "$H_DIR/snapshotd.log" &&
	tap_ok "default client id <identity>@sms-snapshotd is admitted by the broker" ||
	{ tap_not_ok "default client id admitted"; tail -n 3 "$H_DIR/snapshotd.log" | sed 's/^/# /'; }
svc_daemon_stop TERM

# --- Finding 7a: two daemons with the same client id.
svc_daemon_start
first=$SVC_DAEMON
"$DBIN/sms-snapshotd" --config "$H_DIR/snapshotd.conf" >"$H_DIR/second.log" 2>&1 &
second=$!
H_PIDS+=("$second")
sleep 20
taken=$(grep -c 'session taken over' "$H_DIR/snapshotd.log" "$H_DIR/second.log" | awk -F: '{ s += $2 } END { print s }')
connects=$(grep -c 'connected as' "$H_DIR/snapshotd.log" "$H_DIR/second.log" | awk -F: '{ s += $2 } END { print s }')
[ "$taken" -ge 1 ] && tap_ok "the session takeover is named as such ($taken line(s))" ||
	{ tap_not_ok "the session takeover is named as such"; tail -n 5 "$H_DIR/snapshotd.log" | sed 's/^/# /'; }
grep -q "a second instance with the same client_id" "$H_DIR/snapshotd.log" "$H_DIR/second.log" &&
	tap_ok "the line says what to look for" || tap_not_ok "the line says what to look for"
# Knocking each other off about once a second would be 40 connects; capped
# backoff that resets only after a stable connection keeps it to a few
# (1 + 1 + 2 + 4 + 8 s of waiting each, jittered).
[ "$connects" -le 15 ] && tap_ok "20 s of two daemons on one client id: $connects connects, not one per second" ||
	tap_not_ok "20 s of two daemons on one client id: $connects connects"
kill -TERM "$second"; wait "$second"
svc_daemon_stop TERM
SVC_CONNECTS=$(grep -c 'connected as' "$H_DIR/snapshotd.log")

# --- Finding 7b: a database outage longer than 1.5 x keepalive (5 s here).
with_line "$H_DIR/ka.conf" 's/keepalive = 60;/keepalive = 5;/'
SVC_CONF=$H_DIR/ka.conf svc_daemon_start
harness_pg_stop fast
svc_devsim 000001 00001 EQ1 --count 1 --seq-start 7001 --values 10 >/dev/null 2>&1 &&
	tap_ok "device published while the database is down" || tap_not_ok "device published while the database is down"
sleep 15
harness_pg_start_again
svc_wait_count "select count(*) from t_snapshot where seq = 7001" 1 60 &&
	tap_ok "the snapshot held during a 15 s outage is stored once the database is back" ||
	tap_not_ok "the snapshot held during a 15 s outage is stored"
grep -q 'unacknowledged (the database is unavailable for .* as long as keepalive 5 s allows)' "$H_DIR/snapshotd.log" &&
	tap_ok "the daemon says it left the broker because the database wait reached the keepalive bound" ||
	{ tap_not_ok "the daemon says why it left the broker"; tail -n 8 "$H_DIR/snapshotd.log" | sed 's/^/# /'; }
grep -q 'sms-snapshotd-test.*exceeded timeout' "$MQLOG" &&
	tap_not_ok "the broker never dropped the daemon for keepalive" ||
	tap_ok "the broker never dropped the daemon for keepalive"
grep -qi 'protocol error' "$H_DIR/snapshotd.log" &&
	tap_not_ok "no misleading 'protocol error' in the daemon's log" ||
	tap_ok "no misleading 'protocol error' in the daemon's log"
tap_is "$(q "select count(*) from t_snapshot where seq = 7001")" 1 "stored exactly once"
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "daemon alive after the outage" || tap_not_ok "daemon alive after the outage"
svc_daemon_stop TERM
tap_is "$?" 0 "SIGTERM: exit status 0"
tap_done
