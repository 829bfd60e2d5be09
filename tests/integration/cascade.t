#!/usr/bin/env bash
# The thesis' cascades (issue 16) with mosquitto 2.0's own bridges, on
# loopback: a customer-site edge broker (sms_auth.so for its devices)
# bridged over TLS to the central (DMZ) broker with a bridge certificate
# of its master account, and a three-level cascade edge -> regional vendor
# broker (role vendor-regional-bridge) -> central. Snapshots from sms-agent
# on the edge reach sms-snapshotd at the centre, receipts come back and
# empty the outboxes; the link cut for CASCADE_CUT_S seconds (default 60;
# a TCP relay between edge and centre killed, the edge restarted in the
# middle, the centre and sms-snapshotd up all along) loses nothing;
# a bridge with `topic # both` gets nothing outside its tree; a bridge
# cannot forge a device's snapshot; revoking the bridge certificate cuts the
# whole site within the CRL interval.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
CUT=${CASCADE_CUT_S:-60}
CENTRAL=$H_MQ_PORT
SO=$(svc_plugin_so) || harness_die "sms_auth.so not built"
harness_pki bridge site 000001 site-a >/dev/null && harness_pki bridge site 000001 rogue >/dev/null &&
	harness_pki bridge site 000002 site-b >/dev/null &&
	harness_pki bridge regional vendor-regional-bridge >/dev/null &&
	harness_pki service vendor-firmware-service >/dev/null || harness_die "sms-pki bridge failed"
CLOG=$H_MQ_DIR/mosquitto.log
declare -A BPORT BPID

# broker_conf NAME REMOTE_PORT IDENTITY_DIR CLIENT_ID PLUGIN < TOPIC_LINES:
# a broker in $H_DIR/NAME whose bridge dials 127.0.0.1:REMOTE_PORT with the
# TLS identity in IDENTITY_DIR; PLUGIN "yes" loads sms_auth.so for its own
# clients ("no": anyone on loopback may publish anything, as a customer
# who controls the site broker could make it).
broker_conf() {
	local name=$1 remote=$2 id=$3 cid=$4 plugin=$5 server=$P/tls/broker
	BPORT[$name]=$(harness_free_port)
	[ -f "$id/server/cert.pem" ] && server=$id/server
	{
		echo "cafile $P/tls/root/ca.crt"
		echo "certfile $server/fullchain.pem"
		echo "keyfile $server/key.pem"
		echo "require_certificate true"
		echo "max_queued_messages 100000"
		if [ "$plugin" = yes ]; then
			echo "plugin $SO"
			echo "plugin_opt_config $H_DIR/sms_auth.conf"
			echo "allow_anonymous false"
		else
			echo "allow_anonymous true"
			echo "listener 0 $H_DIR/$name/plain.sock"
		fi
		echo "connection up"
		echo "address 127.0.0.1:$remote"
		echo "bridge_protocol_version mqttv50"
		echo "remote_clientid $cid"
		echo "bridge_cafile $P/tls/root/ca.crt"
		echo "bridge_certfile $id/fullchain.pem"
		echo "bridge_keyfile $id/key.pem"
		echo "cleansession false"
		echo "try_private true"
		echo "notifications false"
		echo "restart_timeout 1 3"
		echo "keepalive_interval 5"
		cat
	} >"$H_DIR/$name.opts"
	servers_mosquitto_conf "$H_DIR/$name" "${BPORT[$name]}" "$H_DIR/$name.opts" || harness_die "$name: no config"
}
broker_start() {
	BPID[$1]=$(servers_mosquitto_start "$H_DIR/$1" "${BPORT[$1]}") || harness_die "$1 did not start"
	H_PIDS+=("${BPID[$1]}")
}
broker_stop() {
	kill -TERM "${BPID[$1]}" 2>/dev/null
	while servers_pid_running "${BPID[$1]}"; do sleep 0.1; done
}
# The link between site-a's edge and the centre: a TCP relay (LINK -> CENTRAL).
LINK=$(harness_free_port)
link_up() {
	local i
	harness_bg link "$H_ROOT/tests/harness/tcp_relay.py" "$LINK" "$CENTRAL"
	LINK_PID=$H_LAST_PID
	for i in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$LINK") 2>/dev/null && return 0
		sleep 0.1
	done
	harness_die "the relay did not start"
}
link_cut() { kill -KILL "$LINK_PID"; wait "$LINK_PID" 2>/dev/null; }
wait_log() { # FILE PATTERN SECONDS
	local i
	for i in $(seq 1 $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
stored() { q "select count(*) || '/' || count(distinct seq) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = '$1'"; }
# What a site bridge carries: its devices' channels out, what comes back in.
site_topics() { # MA
	printf '%s\n' "topic $1/+/+/snapshots out 1" "topic $1/+/+/firmware/status out 1" \
		"topic $1/+/+/receipts in 1" "topic $1/+/+/firmware in 1" "topic sms/crl/# in 1" "topic sms/firmware/# in 1"
}

# --- Two levels: site-a's edge broker, two devices on it.
link_up
broker_conf edge "$LINK" "$P/tls/ma/000001/bridges/site-a" "bridge:000001/site-a" yes < <(site_topics 000001)
EDGE=${BPORT[edge]}
ELOG=$H_DIR/edge/mosquitto.log
broker_start edge
svc_daemon_start
wait_log "$CLOG" 'authenticated as bridge:000001/site-a' 20 &&
	tap_ok "the edge's bridge is authenticated at the centre as bridge:000001/site-a" ||
	tap_not_ok "no bridge at the centre: $(grep -i 'bridge\|refused' "$CLOG" | tail -n 3)"
for d in "a1 000001 00001 EQ1" "a2 000001 00001 EQ2"; do
	# shellcheck disable=SC2086
	H_MQ_PORT=$EDGE agent_conf $d
	# Each re-send during a cut is queued again at the edge: re-send
	# seldom, the edge's queue carries the rest.
	sed -i 's/resend_interval = 3;/resend_interval = 15;/' "$H_DIR/${d%% *}/agent.conf"
	agent_start "${d%% *}" || harness_die "${d%% *} did not start: $(tail -n 2 "$H_DIR/${d%% *}/agent.log")"
done
spool_put a1 EQ1 $(seq 1 20)
spool_put a2 EQ2 $(seq 1 20)
svc_wait_count "select count(*) from t_snapshot" 40 60
tap_is "$(stored EQ1) $(stored EQ2)" "20/20 20/20" "40 snapshots from two devices on the edge stored at the centre, each once"
wait_outbox a1 0 30 && wait_outbox a2 0 30 && tap_ok "receipts from the centre came back over the bridge: outboxes empty" ||
	tap_not_ok "outboxes $(outbox_n a1) $(outbox_n a2)"
tap_is "$(grep -c 'denied' "$CLOG")" 0 "the centre denied the site bridge nothing"
# Measured, mosquitto 2.0.11: the bridge's own context on the edge has no
# username (sms_auth would refuse it everything), yet receipts came in and
# snapshots went out: mosquitto runs no ACL check for its own bridge's
# publishes and subscriptions, only the READ checks of local subscribers.
tap_is "$(grep -c 'denied' "$ELOG")" 0 "the edge's plugin is not asked about its own bridge (mosquitto exempts the bridge context)"

# --- Firmware offers flow back: published at the centre on the device's
# firmware topic by the firmware service, received by a subscriber on the edge.
FW=$P/tls/services/roles/vendor-firmware-service
E1T=$P/tls/ma/000001/acc/00001/dev/EQ1
mosquitto_sub -h 127.0.0.1 -p "$EDGE" --cafile "$P/tls/root/ca.crt" --cert "$E1T/fullchain.pem" --key "$E1T/key.pem" \
	-i "000001/00001/EQ1@fw-test" -q 1 -t 000001/00001/EQ1/firmware -C 1 -W 30 >"$H_DIR/fw.out" 2>&1 &
fwsub=$!
sleep 1
mosquitto_pub -h 127.0.0.1 -p "$CENTRAL" --cafile "$P/tls/root/ca.crt" --cert "$FW/fullchain.pem" --key "$FW/key.pem" \
	-i "role:vendor-firmware-service@test" -q 1 -t 000001/00001/EQ1/firmware -m "offer-$$"
wait "$fwsub"
tap_is "$(cat "$H_DIR/fw.out")" "offer-$$" "a firmware offer published at the centre reaches the device's subscription on the edge"

# --- A bridge cannot forge a device's snapshot: EQ2's genuine snapshot,
# published by the site bridge's identity on EQ1's topic, is a dead letter.
mkdir -p "$H_DIR/eq2snap"
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 7001 --write "$H_DIR/eq2snap" >/dev/null 2>&1
BA=$P/tls/ma/000001/bridges/site-a
mosquitto_pub -h 127.0.0.1 -p "$CENTRAL" --cafile "$P/tls/root/ca.crt" --cert "$BA/fullchain.pem" --key "$BA/key.pem" \
	-i "bridge:000001/site-a@forge" -q 1 -t 000001/00001/EQ1/snapshots -f "$(ls "$H_DIR"/eq2snap/*.cms | head -n 1)"
svc_wait_count "select count(*) from t_dead_letter where topic = '000001/00001/EQ1/snapshots' and reason = 'originator_mismatch'" 1 20 &&
	tap_ok "EQ2's snapshot sent by the bridge on EQ1's topic: dead letter originator_mismatch (E2E binds originator and topic)" ||
	tap_not_ok "no originator_mismatch dead letter"
tap_is "$(q "select count(*) from t_snapshot where seq = 7001")" 0 "and it is not stored"

# --- The link cut for $CUT s, the edge restarted in the middle. Besides
# the agents, sms-devicesim (no outbox, no re-sends) publishes 10
# snapshots at the edge during the cut: only the edge's queue for the
# bridge, kept across the restart by persistence, can bring them.
link_cut
spool_put a1 EQ1 $(seq 21 40)
spool_put a2 EQ2 $(seq 21 40)
H_MQ_PORT=$EDGE svc_devsim 000001 00001 EQ2 --count 10 --seq-start 5001 --values 2 >"$H_DIR/devsim-cut.log" 2>&1 ||
	tap_not_ok "sms-devicesim at the edge: $(tail -n 1 "$H_DIR/devsim-cut.log")"
wait_spool_empty a1 20 && wait_spool_empty a2 20 || tap_not_ok "spools not taken"
sleep $((CUT / 2))
tap_is "$(q "select count(*) from t_snapshot where seq > 20")" 0 "during the cut nothing reaches the centre (the link is down)"
broker_stop edge
broker_start edge
sleep $((CUT - CUT / 2))
link_up
svc_wait_count "select count(*) from t_snapshot where seq between 21 and 40" 40 90
tap_is "$(stored EQ1) $(stored EQ2)" "40/40 50/50" "after a ${CUT} s cut and an edge restart: nothing lost, nothing stored twice"
tap_is "$(q "select count(*) from t_snapshot where seq between 5001 and 5010")" 10 \
	"the 10 snapshots sms-devicesim left at the edge during the cut: the edge's persistence kept them"
wait_outbox a1 0 60 && wait_outbox a2 0 60 && tap_ok "every outbox empties once the link is back" ||
	tap_not_ok "outboxes $(outbox_n a1) $(outbox_n a2)"

# --- A bridge configured with `topic # both`, on a site broker its owner
# controls completely (no plugin, anyone may publish locally).
broker_conf rogue "$CENTRAL" "$P/tls/ma/000001/bridges/rogue" "bridge:000001/rogue" no <<<"topic # both 1"
# ... with mosquitto's default notifications, to see what becomes of them.
sed -i 's/^notifications false$/notifications true/' "$H_DIR/rogue/mosquitto.conf"
broker_start rogue
wait_log "$CLOG" 'authenticated as bridge:000001/rogue' 20 || tap_not_ok "rogue bridge did not connect"
wait_log "$CLOG" 'denied subscribe on "#" to bridge:000001/rogue' 10 &&
	tap_ok "the centre refuses the bridge's subscription to #" || tap_not_ok "no refusal of # logged"
# Measured, mosquitto 2.0.11: the notification will on $SYS is accepted at
# CONNECT, its retained "1" is refused (no client writes $SYS).
wait_log "$CLOG" "Denied PUBLISH from bridge:000001/rogue .*\$SYS/broker/connection/bridge:000001/rogue/state" 10 &&
	tap_ok "notifications true: the centre refuses the bridge's state message on \$SYS" ||
	tap_not_ok "no refusal of the notification"
RS=$H_DIR/rogue/plain.sock
mosquitto_sub --unix "$RS" -q 1 -t '#' -i rogue-listener -W 8 >"$H_DIR/rogue.sub" 2>/dev/null &
rsub=$!
mkdir -p "$H_DIR/eq3snap"
svc_devsim 000002 00007 EQ3 --count 1 --seq-start 8001 --write "$H_DIR/eq3snap" >/dev/null 2>&1
sleep 1
mosquitto_pub --unix "$RS" -q 1 -t 000002/00007/EQ3/snapshots -f "$(ls "$H_DIR"/eq3snap/*.cms | head -n 1)" -i rogue-pub1
mosquitto_pub --unix "$RS" -q 1 -t 000001/00001/EQ1/receipts -m forged -i rogue-pub2
VR=$P/tls/services/roles/vendor-snapshot-service
for w in "$VR 000002/00007/EQ3/receipts" "$FW 000001/00001/EQ1/firmware"; do
	r=${w%% *}
	mosquitto_pub -h 127.0.0.1 -p "$CENTRAL" --cafile "$P/tls/root/ca.crt" --cert "$r/fullchain.pem" --key "$r/key.pem" \
		-i "role:${r##*/}@rogue-test" -q 1 -t "${w#* }" -m "from-centre" 2>/dev/null
done
wait_log "$CLOG" 'denied write on "000002/00007/EQ3/snapshots" to bridge:000001/rogue' 10 &&
	tap_ok "its publish into another customer's tree is denied at the centre" || tap_not_ok "no write denial logged"
wait_log "$CLOG" 'denied write on "000001/00001/EQ1/receipts" to bridge:000001/rogue' 10 &&
	tap_ok "and so is a forged receipt in its own tree (receipts are the vendor's channel)" ||
	tap_not_ok "no receipt denial logged"
wait "$rsub"
sleep 2
tap_is "$(q "select count(*) from t_ingest_log where topic like '000002/%'") $(q "select count(*) from t_dead_letter where topic like '000002/%'")" \
	"0 0" "nothing of it reached sms-snapshotd"
tap_is "$(grep -c from-centre "$H_DIR/rogue.sub")" 0 "and nothing from the centre reached the rogue site (# refused)"
broker_stop rogue

# --- Three levels: site-b (customer 000002) -> regional vendor broker
# (sms_auth.so; role vendor-regional-bridge at the centre) -> centre.
broker_conf regional "$CENTRAL" "$P/tls/services/roles/vendor-regional-bridge" "role:vendor-regional-bridge@region-1" yes <<-TOPICS
	topic +/+/+/snapshots out 1
	topic +/+/+/firmware/status out 1
	topic +/+/+/receipts in 1
	topic +/+/+/firmware in 1
	topic sms/crl/# in 1
	topic sms/firmware/# in 1
TOPICS
broker_start regional
broker_conf edge2 "${BPORT[regional]}" "$P/tls/ma/000002/bridges/site-b" "bridge:000002/site-b" yes < <(site_topics 000002)
broker_start edge2
wait_log "$CLOG" 'authenticated as role:vendor-regional-bridge' 20 &&
	wait_log "$H_DIR/regional/mosquitto.log" 'authenticated as bridge:000002/site-b' 20 &&
	tap_ok "edge2 -> regional -> centre: both bridges authenticated" || tap_not_ok "three-level bridges not up"
H_MQ_PORT=${BPORT[edge2]} agent_conf a3 000002 00007 EQ3
agent_start a3 || harness_die "a3 did not start: $(tail -n 2 "$H_DIR/a3/agent.log")"
spool_put a3 EQ3 $(seq 1 10)
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3'" 10 60
tap_is "$(stored EQ3)" "10/10" "three levels: 10 snapshots from the edge stored at the centre"
wait_outbox a3 0 30 && tap_ok "three levels: receipts come back down two bridges" || tap_not_ok "outbox a3 $(outbox_n a3)"

# --- Revoking site-a's bridge certificate cuts the whole site within the
# CRL interval (crl_check_interval 5 at the centre); site-b is untouched.
harness_pki revoke ma/000001/bridges/site-a >/dev/null || tap_not_ok "revoke failed"
t0=$(date +%s)
wait_log "$CLOG" 'disconnecting client bridge:000001/site-a .*revoked' 15 &&
	tap_ok "the centre disconnects the revoked bridge (within $(($(date +%s) - t0)) s of the new CRL, interval 5 s)" ||
	tap_not_ok "revoked bridge not disconnected"
spool_put a1 EQ1 41
spool_put a3 EQ3 11
svc_wait_count "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3'" 11 30
sleep 3
tap_is "$(stored EQ1)" "40/40" "site-a's new snapshot does not reach the centre"
tap_is "$(outbox_n a1)" 1 "and stays in its device's outbox"
wait_log "$CLOG" 'refused client .*bridge-site-a.*revoked' 15 && tap_ok "the bridge's reconnects are refused" ||
	tap_not_ok "no refusal of the revoked bridge's reconnect"
tap_is "$(stored EQ3)" "11/11" "site-b, behind the regional broker, still delivers"
tap_done
