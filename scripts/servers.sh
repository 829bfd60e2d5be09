# scripts/servers.sh: start and stop private PostgreSQL and mosquitto
# instances on loopback. Sourced by the test harness and by the demo, so both
# run the servers exactly the same way. Functions return non-zero with a
# message on stderr; the caller decides whether that is fatal.

SERVERS_ROOT=${SMS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# A TCP port on 127.0.0.1 that is free right now (build/release/tests/free_port).
servers_free_port() {
	local fp=${SMS_RELEASE:-$SERVERS_ROOT/build/release}/tests/free_port
	[ -x "$fp" ] || { echo "$fp not built (make helpers)" >&2; return 1; }
	"$fp"
}

# PostgreSQL refuses to run as root; as root we run it as user postgres.
servers_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

servers_pg_bindir() {
	local d found=
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && found=$d; done
	[ -n "$found" ] || { echo "no PostgreSQL server binaries in /usr/lib/postgresql" >&2; return 1; }
	echo "$found"
}

# servers_pg_init DATADIR [debian]: a new cluster with superuser "sms",
# trust auth (the server listens on loopback and a private socket directory
# only). With "debian", authentication as Debian's package sets it up:
# superuser "postgres", peer on the socket, scram-sha-256 over TCP.
servers_pg_init() {
	local data=$1 bin auth=(-U sms -A trust)
	[ "${2:-}" = debian ] && auth=(-U postgres --auth-local=peer --auth-host=scram-sha-256)
	bin=$(servers_pg_bindir) || return 1
	mkdir -p "$data" || return 1
	[ "$(id -u)" -eq 0 ] && chown postgres: "$data"
	servers_as_pg "$bin/initdb" -D "$data" "${auth[@]}" -E UTF8 --no-locale \
		>"$data.initdb.log" 2>&1 || { tail -n 5 "$data.initdb.log" >&2; return 1; }
}

# servers_pg_start DATADIR PORT
servers_pg_start() {
	local data=$1 port=$2 bin
	bin=$(servers_pg_bindir) || return 1
	servers_as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $data" start >/dev/null ||
		{ tail -n 20 "$data/server.log" >&2; echo "PostgreSQL did not start" >&2; return 1; }
}

# servers_pg_stop DATADIR [fast|immediate|smart]
servers_pg_stop() {
	local data=$1 bin
	[ -f "$data/postmaster.pid" ] || return 0
	bin=$(servers_pg_bindir) || return 1
	servers_as_pg "$bin/pg_ctl" -D "$data" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1
}

# servers_pg_createdb PORT NAME
servers_pg_createdb() {
	local bin
	bin=$(servers_pg_bindir) || return 1
	servers_as_pg "$bin/createdb" -h 127.0.0.1 -p "$1" -U sms "$2"
}

# servers_mosquitto_conf DIR PORT OPTSFILE: writes DIR/mosquitto.conf with
# a loopback listener on PORT, persistence and logging in DIR, then the
# listener options (TLS, plugin) from OPTSFILE.
servers_mosquitto_conf() {
	local dir=$1 port=$2 opts=$3
	mkdir -p "$dir" || return 1
	{
		echo "per_listener_settings false"
		[ "$(id -u)" -eq 0 ] && echo "user root"
		echo "persistence true"
		echo "persistence_location $dir/"
		echo "autosave_interval 1"
		echo "log_dest file $dir/mosquitto.log"
		echo "log_type all"
		echo "connection_messages true"
		echo "listener $port 127.0.0.1"
		cat "$opts"
	} >"$dir/mosquitto.conf"
}

# servers_mosquitto_start DIR PORT: starts mosquitto on DIR/mosquitto.conf in
# the background, waits until PORT accepts connections; prints the pid.
servers_mosquitto_start() {
	local dir=$1 port=$2 pid i
	mosquitto -c "$dir/mosquitto.conf" >>"$dir/stdout.log" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$pid"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$dir/mosquitto.log" "$dir/stdout.log" >&2 2>/dev/null
	echo "mosquitto did not start" >&2
	return 1
}

# True while PID is a live process. A daemonized server is not our child, so
# after it exits it can linger as a zombie until its new parent reaps it;
# that counts as stopped.
servers_pid_running() {
	[ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z" ? 0 : 1) }' "/proc/$1/stat" 2>/dev/null
}
