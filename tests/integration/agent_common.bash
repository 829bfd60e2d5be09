# Shared helpers of the agent_*.t suites (sourced after services_common.bash):
# sms-agent instances per device, spool files, receipts signed like the
# snapshot service signs them (sms-test-receipt).
#
#   agent_setup                        svc_setup, the customers' auditor clients, sms-agent built
#   agent_conf NAME MA ACC EQ [extra]  writes $H_DIR/NAME/agent.conf (+ extra lines)
#   agent_start NAME / agent_stop NAME [SIG]   (AGENT_WRAP: a command to run it under, e.g. faketime)
#   spool_put NAME EQ SEQ...           snapshot files moved into NAME's spool
#   outbox_n NAME                      entries in NAME's outbox
#   receipt_publish EQPATH FILE        FILE on EQPATH/receipts as the snapshot service
#   receipt_sign OUT EQPATH LEAF HEX...   signs with the E2E identity in LEAF
#   stored_digests EQPATH              hex digests in the ingest log for EQPATH

declare -A AGENT_PID

agent_setup() {
	svc_setup
	harness_pki client 000001 00001 auditor >/dev/null && harness_pki client 000002 00007 auditor >/dev/null ||
		harness_die "sms-pki client failed"
	[ -x "$DBIN/sms-agent" ] || harness_die "sms-agent not built"
}

agent_conf() {
	local name=$1 ma=$2 acc=$3 eq=$4; shift 4
	local t=$P/tls/ma/$ma/acc/$acc/dev/$eq e=$P/e2e/ma/$ma/acc/$acc/dev/$eq d=$H_DIR/$name
	mkdir -p "$d"
	cat >"$d/agent.conf" <<-CONF
	broker = {
	  host = "127.0.0.1"; port = $H_MQ_PORT;
	  cafile = "$P/tls/root/ca.crt"; cert = "$t/fullchain.pem"; key = "$t/key.pem";
	  keepalive = 10; backoff_max_ms = 2000;
	};
	e2e = {
	  cert = "$e/cert.pem"; key = "$e/key.pem"; chain = "$e/chain.pem";
	  trust_root = "$P/e2e/root/ca.crt"; services_ca = "$P/e2e/services/ca.crt";
	  recipients = [ "$VSS/cert.pem", "$P/e2e/ma/$ma/acc/$acc/clients/auditor/cert.pem" ];
	  crls = [ "$P/e2e/crls.pem" ]; ca_certs = [ "$P/e2e/cas.pem" ];
	};
	spool = { dir = "spool"; scan_interval_ms = 100; };
	outbox = { dir = "outbox"; resend_interval = 3; };
	stats_interval = 0;
	CONF
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$d/agent.conf"
	return 0
}

agent_start() {
	local name=$1 i before
	# The log is appended to across restarts: wait for one more start line.
	before=$(cat "$H_DIR/$name/agent.log" 2>/dev/null | grep -c "started: equipment")
	# shellcheck disable=SC2086
	${AGENT_WRAP:-} "$DBIN/sms-agent" --config "$H_DIR/$name/agent.conf" >>"$H_DIR/$name/agent.log" 2>&1 &
	AGENT_PID[$name]=$!
	H_PIDS+=("$!")
	for i in $(seq 1 100); do
		[ "$(cat "$H_DIR/$name/agent.log" 2>/dev/null | grep -c "started: equipment")" -gt "$before" ] && return 0
		kill -0 "${AGENT_PID[$name]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

agent_stop() {
	local rc
	kill -"${2:-TERM}" "${AGENT_PID[$1]}" 2>/dev/null
	wait "${AGENT_PID[$1]}"
	rc=$?
	AGENT_PID[$1]=
	return $rc
}

snapshot_json() { # EQ SEQ
	printf '{"equipment":"%s","device_type":"FM","taken_at":"2026-11-21T10:00:00Z","seq":%d,' "$1" "$2"
	printf '"values":[{"group":"engine","channel":"operating_hours","unit":"h","value":%d},' "$2"
	printf '{"group":"filter","channel":"state","value":"ok"}]}'
}

spool_put() {
	local name=$1 eq=$2 seq; shift 2
	mkdir -p "$H_DIR/$name/spool" "$H_DIR/$name/staging"
	for seq in "$@"; do
		snapshot_json "$eq" "$seq" >"$H_DIR/$name/staging/s$seq.json"
		mv "$H_DIR/$name/staging/s$seq.json" "$H_DIR/$name/spool/s$(printf %08d "$seq").json"
	done
}

outbox_n() { find "$H_DIR/$1/outbox" -maxdepth 1 -name '*.cms' | wc -l; }
spool_n() { find "$H_DIR/$1/spool" -maxdepth 1 -name '*.json' | wc -l; }

# wait_n COUNTER NAME N SECONDS: until COUNTER NAME (outbox_n, spool_n) is N.
wait_n() {
	local i
	for i in $(seq 1 $(($4 * 10))); do
		[ "$("$1" "$2")" -eq "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

wait_outbox() { # NAME N SECONDS
	wait_n outbox_n "$1" "$2" "$3" && return 0
	echo "# outbox of $1: $(outbox_n "$1") entries, wanted $2"
	return 1
}

wait_spool_empty() { wait_n spool_n "$1" 0 "$2"; } # NAME SECONDS

wait_log_count() { # FILE PATTERN N SECONDS
	local i
	for i in $(seq 1 $(($4 * 10))); do
		[ "$(grep -c -- "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

stored_digests() { q "select encode(digest, 'hex') from t_ingest_log where topic = '$1/snapshots' order by 1"; }

receipt_sign() { # OUT EQPATH LEAFDIR HEX...
	local out=$1 eqpath=$2 leaf=$3; shift 3
	"$H_BIN/../tests/sms-test-receipt" --cert "$leaf/cert.pem" --key "$leaf/key.pem" --chain "$leaf/chain.pem" \
		--equipment "$eqpath" --out "$out" "$@"
}

receipt_publish() { # EQPATH FILE
	local r=$P/tls/services/roles/vendor-snapshot-service
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$r/fullchain.pem" \
		--key "$r/key.pem" -i "role:vendor-snapshot-service@test-receipts-$$" -q 1 -t "$1/receipts" -f "$2"
}

# Signs a receipt for everything stored for EQPATH and publishes it.
receipt_all() { # EQPATH
	local f=$H_DIR/receipt-$RANDOM.der d
	d=$(stored_digests "$1")
	[ -n "$d" ] || return 1
	# shellcheck disable=SC2086
	receipt_sign "$f" "$1" "$VSS" $d && receipt_publish "$1" "$f"
}
