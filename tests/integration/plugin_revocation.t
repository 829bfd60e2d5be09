#!/usr/bin/env bash
# sms_auth.so revocation and reconfiguration in a real mosquitto: clients
# revoked while connected are disconnected within crl_check_interval and
# cannot come back; a revoked account CA locks out its devices; unusable
# CRLs refuse new connections and keep existing ones; SIGHUP reloads; a bad
# configuration stops the broker at start with one clear line.
source "$(dirname "$0")/../harness/harness.sh"
source "$H_ROOT/plugin/testlib.sh"

harness_init
plugin_pick
PKI=$H_DIR/pki/tls
A12=ma/000001/acc/00002 A13=ma/000001/acc/00003
pl_pki init
pl_pki master 000001
pl_pki account 000001 00002
pl_pki account 000001 00003
pl_pki device 000001 00002 EQ1
pl_pki device 000001 00002 EQ2
pl_pki device 000001 00003 EQ1
pl_pki device 000001 00003 EQ2
pl_pki service MRO-Admin
pl_pki service vendor-snapshot-service

CONF=$H_DIR/sms_auth.conf
ROLES='roles = (
  { name = "MRO-Admin"; rules = ( { access = "readwrite"; filter = "#"; } ); },
  { name = "vendor-snapshot-service"; rules = ( { access = "read"; filter = "+/+/+/snapshots"; } ); }
);'
pl_conf "$CONF" "$ROLES"

# --- a bad configuration stops the broker at start, naming file and line
BAD=$H_DIR/bad.conf
pl_conf "$BAD" 'roles = ( { name = "x"; rules = ( { access = "reed"; filter = "#"; } ); } );'
mkdir -p "$H_DIR/badmq"
{
	echo "per_listener_settings false"
	[ "$(id -u)" -eq 0 ] && echo "user root"
	echo "log_dest stderr"
	echo "listener $(harness_free_port) 127.0.0.1"
	echo "plugin $PL_SO"
	echo "plugin_opt_config $BAD"
} >"$H_DIR/badmq/mosquitto.conf"
LD_PRELOAD=$PL_PRELOAD timeout 10 mosquitto -c "$H_DIR/badmq/mosquitto.conf" >"$H_DIR/badmq/out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then tap_ok "broker refuses to start with a bad plugin config (exit $rc)"
else tap_not_ok "broker refuses to start with a bad plugin config (exit $rc)"; fi
line=$(grep 'sms_auth:' "$H_DIR/badmq/out" | head -n 1)
case $line in
*"$BAD:7: access 'reed' is not one of read, write, readwrite, subscribe"*) tap_ok "one line names the file, the line and the problem" ;;
*) tap_not_ok "one line names the file, the line and the problem"; sed 's/^/#   /' "$H_DIR/badmq/out" ;;
esac

pl_start "$CONF"

pl_sub_bg dev1 "$A12/dev/EQ1" '000001/00002/EQ1/#'
pl_sub_bg dev2 "$A12/dev/EQ2" '000001/00002/EQ2/#'
pl_sub_bg dev31 "$A13/dev/EQ1" '000001/00003/EQ1/#'
pl_sub_bg dev32 "$A13/dev/EQ2" '000001/00003/EQ2/#'
pl_sub_bg snap services/roles/vendor-snapshot-service '+/+/+/snapshots'
for c in dev1 dev2 dev31 dev32 snap; do pl_wait_connected "$c" || harness_die "$c did not connect"; done
tap_ok "five clients connected"

# --- a device revoked while connected
cp "$PKI/crls.pem" "$H_DIR/crls.before"
pl_pki revoke "$A12/dev/EQ1" --reason keyCompromise
if t=$(pl_wait_kicked dev1 4); then tap_ok "revoked device disconnected ${t}00 ms after the CRL was written (interval 1 s)"
else tap_not_ok "revoked device disconnected within crl_check_interval + 3 s"; fi
# The client library reconnects by itself; the broker must refuse it.
for i in $(seq 1 30); do grep -q 'not authorised' "$H_DIR/dev1.log" && break; sleep 0.1; done
grep -q 'Connection Refused: not authorised' "$H_DIR/dev1.log" &&
	tap_ok "the kicked device's automatic reconnect is refused" ||
	tap_not_ok "the kicked device's automatic reconnect is refused"
tap_check_fails "revoked device cannot reconnect" pl_connect "$(pl_id "$A12/dev/EQ1")"
grep -q 'refused client from 127.0.0.1, subject "CN=EQ1,serialNumber=EQ1,OU=00002,O=000001": certificate chain not valid: certificate revoked' \
	"$H_MQ_DIR/mosquitto.log" && tap_ok "reconnect refusal logged: subject, address, 'certificate revoked'" ||
	tap_not_ok "reconnect refusal logged: subject, address, 'certificate revoked'"
pl_kicked dev2 && tap_not_ok "sibling device stays connected" || tap_ok "sibling device stays connected"
tap_check "sibling device can still connect" pl_connect "$(pl_id "$A12/dev/EQ2")"

# --- an account CA revoked: every device below it is out
pl_pki revoke "$A13" --reason CACompromise
if t=$(pl_wait_kicked dev31 4) && pl_wait_kicked dev32 1 >/dev/null; then
	tap_ok "both devices under the revoked account CA disconnected (${t}00 ms)"
else tap_not_ok "both devices under the revoked account CA disconnected"; fi
tap_check_fails "device under the revoked account CA cannot reconnect" pl_connect "$(pl_id "$A13/dev/EQ2")"
pl_kicked dev2 && tap_not_ok "device of the other account unaffected" || tap_ok "device of the other account unaffected"
pl_kicked snap && tap_not_ok "service role unaffected" || tap_ok "service role unaffected"

# --- a certificate that expires while its client is connected
pl_pki device 000001 00002 SHORT --end-date "$(date -u -d '+6 seconds' +%Y%m%d%H%M%SZ)"
pl_sub_bg short "$A12/dev/SHORT" '000001/00002/SHORT/#'
pl_wait_connected short || harness_die "short-lived device did not connect"
if pl_wait_kicked short 9 >/dev/null; then tap_ok "device disconnected when its certificate expired"
else tap_not_ok "device disconnected when its certificate expired"; fi
grep -q "disconnecting client [^ ]*@short .*: certificate or an issuing CA has expired" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "... logged as expiry" || tap_not_ok "... logged as expiry"

# --- CRLs unusable: fail closed for new connections, keep the connected ones
cp "$PKI/crls.pem" "$H_DIR/crls.good"
echo "garbage" >"$PKI/crls.pem.tmp" && mv "$PKI/crls.pem.tmp" "$PKI/crls.pem"
sleep 2.5
tap_check_fails "with an unreadable CRL file new connections are refused" pl_connect "$(pl_id "$A12/dev/EQ2")"
pl_kicked dev2 && tap_not_ok "with an unreadable CRL file connected clients stay" || tap_ok "with an unreadable CRL file connected clients stay"
n=$(grep -c 'CRLs unusable' "$H_MQ_DIR/mosquitto.log")
[ "$n" -ge 2 ] && tap_ok "unusable CRLs are logged every interval ($n times)" || tap_not_ok "unusable CRLs are logged every interval ($n times)"
cp "$H_DIR/crls.good" "$PKI/crls.pem.tmp" && mv "$PKI/crls.pem.tmp" "$PKI/crls.pem"
sleep 1.5
tap_check "with the CRL back, connections are accepted again" pl_connect "$(pl_id "$A12/dev/EQ2")"

# --- the CRLs from before the revocations played back: refused, fail closed
cp "$H_DIR/crls.before" "$PKI/crls.pem.tmp" && mv "$PKI/crls.pem.tmp" "$PKI/crls.pem"
sleep 1.5
grep -q "CRL reload failed: CRL of .* is older than the one in use" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "replayed old CRLs are detected" || tap_not_ok "replayed old CRLs are detected"
tap_check_fails "with replayed CRLs the revoked device still cannot connect" pl_connect "$(pl_id "$A12/dev/EQ1")"
cp "$H_DIR/crls.good" "$PKI/crls.pem.tmp" && mv "$PKI/crls.pem.tmp" "$PKI/crls.pem"
sleep 1.5
tap_check "with the current CRLs back, connections are accepted again" pl_connect "$(pl_id "$A12/dev/EQ2")"

# --- SIGHUP reloads the configuration: a role taken away is denied at once
pl_conf "$CONF" 'roles = ( { name = "MRO-Admin"; rules = ( { access = "readwrite"; filter = "#"; } ); } );'
kill -HUP "$H_MQ_PID"
for i in $(seq 1 30); do grep -q 'sms_auth: reloaded' "$H_MQ_DIR/mosquitto.log" && break; sleep 0.1; done
grep -q 'sms_auth: reloaded' "$H_MQ_DIR/mosquitto.log" && tap_ok "SIGHUP reloads the plugin configuration" ||
	tap_not_ok "SIGHUP reloads the plugin configuration"
tap_check_fails "a role removed from the configuration can no longer connect" pl_connect "$(pl_id services/roles/vendor-snapshot-service)"
out=$(pl_pub services/roles/MRO-Admin 000001/00002/EQ2/snapshots after-reload)
sleep 0.5
grep -q 'after-reload' "$H_DIR/snap.log" && tap_not_ok "the connected role's grants are gone after the reload" ||
	tap_ok "the connected role's grants are gone after the reload"
# A broken config on SIGHUP keeps the running one.
echo 'roles = ( ' >>"$CONF"
kill -HUP "$H_MQ_PID"
for i in $(seq 1 30); do grep -q 'sms_auth: reload refused' "$H_MQ_DIR/mosquitto.log" && break; sleep 0.1; done
grep -q "sms_auth: reload refused, keeping the running configuration: $CONF:" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "a broken config on SIGHUP is refused with file and line, the old one stays" ||
	tap_not_ok "a broken config on SIGHUP is refused with file and line, the old one stays"
tap_check "clients still connect after the refused reload" pl_connect "$(pl_id "$A12/dev/EQ2")"

harness_mosquitto_stop
pl_check_sanitizer
tap_done
