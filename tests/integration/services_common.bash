# Shared setup of the services_*.t suites (sourced after harness.sh): a PKI
# with two customers, PostgreSQL with the schema, mosquitto with TLS (and the
# sms_auth plugin when it is built), and helpers to run sms-snapshotd and the
# reference device agent.
#
#   svc_setup                 everything above; sets P (pki dir), DBIN (programs)
#   svc_daemon_start [extra]  sms-snapshotd with $SVC_CONF or $H_DIR/snapshotd.conf (+ extra lines)
#   svc_daemon_stop [SIG]     TERM by default; waits; returns its exit status
#   svc_devsim MA ACC EQ ARGS run sms-devicesim as that device
#   svc_wait_count SQL N [S]  until SQL returns N (S seconds, default 60)
#   q SQL                     psql, one value

q() { psql -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

svc_setup() {
	DBIN=$H_BIN
	local b
	for b in sms-db sms-snapshotd sms-devicesim; do
		[ -x "$DBIN/$b" ] || harness_die "$DBIN/$b not built"
	done
	P=$H_DIR/pki
	# SVC_PKI_READY: $P already holds what follows, copied from an earlier
	# run (fleet.bench keeps its PKI, so its cached fleet stays valid).
	[ -n "${SVC_PKI_READY:-}" ] || svc_pki
	harness_pg_start
	"$DBIN/sms-db" migrate --conninfo "$H_PG_CONNINFO" --sql-dir "$H_ROOT/sql" >/dev/null ||
		harness_die "sms-db migrate failed"
	svc_broker_start
	VSS=$P/e2e/services/roles/vendor-snapshot-service
	cat >"$H_DIR/snapshotd.conf" <<-CONF
	broker = {
	  host = "127.0.0.1"; port = $H_MQ_PORT;
	  cafile = "$P/tls/root/ca.crt";
	  cert = "$P/tls/services/roles/vendor-snapshot-service/fullchain.pem";
	  key = "$P/tls/services/roles/vendor-snapshot-service/key.pem";
	  client_id = "role:vendor-snapshot-service@sms-snapshotd-test";
	  keepalive = 60;
	};
	e2e = {
	  cert = "$VSS/cert.pem"; key = "$VSS/key.pem"; chain = "$VSS/chain.pem";
	  trust_root = "$P/e2e/root/ca.crt";
	  crls = [ "$P/e2e/crls.pem" ]; ca_certs = [ "$P/e2e/cas.pem" ];
	  crl_check_interval = 1;
	};
	database = { conninfo = "$H_PG_CONNINFO"; sql_dir = "$H_ROOT/sql"; };
	limits = { max_payload = 65536; max_values = 500; };
	stats_interval = 2;
	CONF
}

svc_pki() {
	harness_pki init >/dev/null || harness_die "sms-pki init failed"
	harness_pki master 000001 >/dev/null && harness_pki master 000002 >/dev/null &&
		harness_pki account 000001 00001 >/dev/null && harness_pki account 000002 00007 >/dev/null ||
		harness_die "sms-pki account failed"
	for d in "000001 00001 EQ1" "000001 00001 EQ2" "000002 00007 EQ3"; do
		harness_pki device $d >/dev/null || harness_die "sms-pki device $d failed"
	done
	harness_pki service vendor-snapshot-service >/dev/null || harness_die "sms-pki service failed"
	harness_pki service sms-test-injector >/dev/null || harness_die "sms-pki service failed"
}

# The plugin, when built, is the broker the services run against in production.
svc_plugin_so() {
	local d
	for d in "${SMS_RELEASE:-}" "$H_ROOT/build/release"; do
		[ -n "$d" ] && [ -f "$d/lib/sms/sms_auth.so" ] && { echo "$d/lib/sms/sms_auth.so"; return 0; }
	done
	return 1
}

svc_broker_start() {
	local opts=$H_DIR/listener.conf so
	{
		echo "cafile $P/tls/root/ca.crt"
		echo "certfile $P/tls/broker/fullchain.pem"
		echo "keyfile $P/tls/broker/key.pem"
		echo "require_certificate true"
		echo "max_queued_messages 100000"
		echo "max_inflight_messages 20"
		# A suite may add broker options (e.g. a production autosave_interval).
		[ -n "${SVC_BROKER_EXTRA:-}" ] && printf '%s\n' "$SVC_BROKER_EXTRA"
	} >"$opts"
	if [ -z "${SVC_NO_PLUGIN:-}" ] && so=$(svc_plugin_so) && svc_plugin_conf "$H_DIR/sms_auth.conf"; then
		echo "plugin $so" >>"$opts"
		echo "plugin_opt_config $H_DIR/sms_auth.conf" >>"$opts"
		echo "allow_anonymous false" >>"$opts"
		SVC_BROKER="mosquitto with sms_auth"
	else
		echo "allow_anonymous true" >>"$opts"
		SVC_BROKER="mosquitto with TLS only (sms_auth.so not built)"
	fi
	harness_mosquitto_start "$opts"
	echo "# broker: $SVC_BROKER"
}

# Writes the plugin configuration; returns non-zero when the plugin's
# configuration format is not known here (then the suite runs TLS only).
svc_plugin_conf() {
	[ -f "$H_ROOT/tests/integration/testdata/sms_auth.conf.in" ] || return 1
	sed -e "s|@PKI@|$P|g" "$H_ROOT/tests/integration/testdata/sms_auth.conf.in" >"$1"
}

svc_daemon_start() {
	local conf=${SVC_CONF:-$H_DIR/snapshotd.conf}
	if [ $# -gt 0 ]; then
		conf=$H_DIR/snapshotd-extra.conf
		{ cat "$H_DIR/snapshotd.conf"; printf '%s\n' "$@"; } >"$conf"
	fi
	# SVC_DAEMON_ARGS: more options (--verbose).
	"$DBIN/sms-snapshotd" --config "$conf" ${SVC_DAEMON_ARGS:-} >>"$H_DIR/snapshotd.log" 2>&1 &
	SVC_DAEMON=$!
	H_PIDS+=("$SVC_DAEMON")
	# Ready when the broker session is up.
	local i
	for i in $(seq 1 150); do
		[ "$(grep -c 'connected as' "$H_DIR/snapshotd.log")" -gt "${SVC_CONNECTS:-0}" ] && break
		kill -0 "$SVC_DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	SVC_CONNECTS=$(grep -c 'connected as' "$H_DIR/snapshotd.log")
}

svc_daemon_stop() {
	local rc
	kill -"${1:-TERM}" "$SVC_DAEMON" 2>/dev/null
	wait "$SVC_DAEMON"
	rc=$?
	SVC_DAEMON=
	return $rc
}

svc_devsim() {
	local ma=$1 acc=$2 eq=$3; shift 3
	local t=$P/tls/ma/$ma/acc/$acc/dev/$eq e=$P/e2e/ma/$ma/acc/$acc/dev/$eq
	"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
		--cert "$t/fullchain.pem" --key "$t/key.pem" \
		--e2e-cert "$e/cert.pem" --e2e-key "$e/key.pem" --e2e-chain "$e/chain.pem" \
		--recipient "$VSS/cert.pem" "$@"
}

svc_wait_count() {
	local sql=$1 want=$2 secs=${3:-60} i got
	for i in $(seq 1 $((secs * 5))); do
		got=$(q "$sql" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		sleep 0.2
	done
	echo "# waited ${secs}s for '$sql' = $want, got '$got'"
	return 1
}
