# tests/harness/harness.sh: sourced by integration, interop and pki tests.
#
# Starts private servers for one test script and always tears them down,
# also when the script fails or is interrupted:
#   harness_init                  private directory $H_DIR, cleanup trap
#   harness_pg_start              PostgreSQL: initdb in $H_DIR/pg, 127.0.0.1,
#                                 free port; exports PGHOST PGPORT PGUSER
#                                 PGDATABASE and H_PG_CONNINFO
#   harness_pg_stop / harness_pg_start_again
#   harness_mosquitto_start FILE  mosquitto on 127.0.0.1:$H_MQ_PORT (free
#                                 port) with the listener options in FILE
#   harness_mosquitto_stop / harness_mosquitto_start_again
#   harness_bg NAME CMD...        background process, killed at cleanup
#   harness_pki ARGS...           pki/sms-pki on the PKI in $H_DIR/pki
#   harness_metric FILE 'NAME{LABELS}'   a value of a Prometheus text file as
#                                 the Prometheus client's parser reads it
#                                 ("" when absent); harness_wait_metric FILE
#                                 'NAME{LABELS}' VALUE SECONDS waits for it
# and TAP output:
#   tap_ok / tap_not_ok DESC, tap_check DESC CMD..., tap_check_fails DESC CMD...,
#   tap_is GOT WANT DESC, tap_done
# Servers listen on loopback only. SMS_KEEP_TMP=1 keeps $H_DIR for debugging.

H_ROOT=${SMS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
H_BIN=${SMS_BIN:-$H_ROOT/build/asan/bin}
H_PIDS=()
H_TAP_N=0
H_TAP_FAILED=0
source "$H_ROOT/scripts/servers.sh"
PROM_PARSE="/usr/bin/python3 $H_ROOT/tests/unit/prom_parse.py"

harness_die() { echo "Bail out! $*"; exit 1; }

harness_init() {
	H_DIR=$(mktemp -d /tmp/sms-test.XXXXXX) || harness_die "mktemp failed"
	# The PostgreSQL server runs as user postgres when we are root, and
	# must be able to traverse into its data directory.
	chmod 755 "$H_DIR"
	trap harness_cleanup EXIT
	trap 'exit 130' INT TERM
}

harness_free_port() { servers_free_port || harness_die "no free port"; }

harness_pg_start() {
	H_PG_DATA=$H_DIR/pg
	H_PG_PORT=$(harness_free_port)
	servers_pg_init "$H_PG_DATA" || harness_die "initdb failed"
	harness_pg_start_again
	servers_pg_createdb "$H_PG_PORT" sms || harness_die "createdb failed"
	export PGHOST=127.0.0.1 PGPORT=$H_PG_PORT PGUSER=sms PGDATABASE=sms
	export H_PG_CONNINFO="host=127.0.0.1 port=$H_PG_PORT user=sms dbname=sms"
}

harness_pg_start_again() {
	servers_pg_start "$H_PG_DATA" "$H_PG_PORT" || harness_die "PostgreSQL did not start"
}

harness_pg_stop() {
	[ -n "${H_PG_DATA:-}" ] || return 0
	servers_pg_stop "$H_PG_DATA" "${1:-fast}"
}

# harness_mosquitto_start FILE: FILE holds options for the listener (TLS,
# plugin, ...); the harness adds the listener line, persistence and logging.
harness_mosquitto_start() {
	H_MQ_PORT=${H_MQ_PORT:-$(harness_free_port)}
	H_MQ_DIR=$H_DIR/mosquitto
	servers_mosquitto_conf "$H_MQ_DIR" "$H_MQ_PORT" "$1" || harness_die "cannot write mosquitto.conf"
	[ -n "${H_MQ_AS_DEPLOYED:-}" ] && harness_mosquitto_as_deployed "$H_MQ_DIR/mosquitto.conf"
	harness_mosquitto_start_again
}

# harness_mosquitto_as_deployed CONF: the logging and persistence interval of
# acl/mosquitto.conf instead of the tests' (every packet logged, the
# persistence file rewritten every second), for benchmarks: with a backlog
# of 22 KB snapshots the tests' settings rewrite hundreds of MB a second.
harness_mosquitto_as_deployed() {
	sed -i -e 's/^log_type all$/log_type error\nlog_type warning\nlog_type notice\nlog_type information/' \
		-e 's/^autosave_interval 1$/autosave_interval 60/' "$1"
}

harness_mosquitto_start_again() {
	H_MQ_PID=$(servers_mosquitto_start "$H_MQ_DIR" "$H_MQ_PORT") ||
		harness_die "mosquitto did not start"
	H_PIDS+=("$H_MQ_PID")
}

harness_mosquitto_stop() {
	[ -n "${H_MQ_PID:-}" ] || return 0
	kill -"${1:-TERM}" "$H_MQ_PID" 2>/dev/null
	# Not our child (started inside a command substitution): poll.
	local i
	for i in $(seq 1 100); do
		servers_pid_running "$H_MQ_PID" || break
		sleep 0.1
	done
	H_MQ_PID=
}

# harness_bg NAME CMD...: starts CMD in the background, output in $H_DIR/NAME.log.
harness_bg() {
	local name=$1; shift
	"$@" >>"$H_DIR/$name.log" 2>&1 &
	H_LAST_PID=$!
	H_PIDS+=("$H_LAST_PID")
}

# harness_ca_key CA_DIR: the key of the CA whose certificate is
# CA_DIR/ca.crt: beside it for a CA a test made by hand, under the PKI's
# private/ tree (sms-pki keeps every CA key there) for one sms-pki made.
harness_ca_key() {
	local d=${1%/} up
	[ -f "$d/ca.key" ] && { echo "$d/ca.key"; return 0; }
	up=$d
	while [ -n "$up" ] && [ "$up" != "${up%/*}" ]; do
		up=${up%/*}
		[ -d "$up/private" ] && { echo "$up/private/${d#"$up/"}/ca.key"; return 0; }
	done
	echo "$d/ca.key"
}

harness_metric() {
	$PROM_PARSE "$1" 2>/dev/null | awk -v k="$2" 'index($0, k " ") == 1 { print $NF }'
}

harness_wait_metric() {
	local i
	for i in $(seq 1 $(($4 * 5))); do
		[ "$(harness_metric "$1" "$2")" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}

harness_pki() {
	"$H_ROOT/pki/sms-pki" --dir "$H_DIR/pki" "$@"
}

harness_cleanup() {
	local rc=$? p
	for p in "${H_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${H_PIDS[@]}"; do
		wait "$p" 2>/dev/null
		while servers_pid_running "$p"; do sleep 0.1; done
	done
	harness_pg_stop immediate
	if [ "$H_TAP_FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
		for p in "$H_DIR"/mosquitto/mosquitto.log "$H_DIR"/pg/server.log "$H_DIR"/*.log; do
			[ -f "$p" ] || continue
			echo "# ---- tail of $p"
			tail -n 40 "$p" | sed 's/^/# /'
		done
	fi
	if [ -n "${SMS_KEEP_TMP:-}" ]; then
		echo "# kept $H_DIR"
	else
		rm -rf "$H_DIR"
	fi
	exit "$rc"
}

tap_ok()     { H_TAP_N=$((H_TAP_N + 1)); echo "ok $H_TAP_N - $*"; }
tap_not_ok() { H_TAP_N=$((H_TAP_N + 1)); H_TAP_FAILED=$((H_TAP_FAILED + 1)); echo "not ok $H_TAP_N - $*"; }

# tap_check DESC CMD...: ok when CMD succeeds; its output is shown on failure.
tap_check() {
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then tap_ok "$desc"; else
		tap_not_ok "$desc"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'; fi
}

# tap_check_fails DESC CMD...: ok when CMD fails (a refusal we expect).
tap_check_fails() {
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then
		tap_not_ok "$desc (unexpectedly succeeded)"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
	else tap_ok "$desc"; fi
}

tap_is() {
	if [ "$1" = "$2" ]; then tap_ok "$3"; else
		tap_not_ok "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; fi
}

tap_done() {
	echo "1..$H_TAP_N"
	[ "$H_TAP_FAILED" -eq 0 ]
}
