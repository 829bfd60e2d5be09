#!/usr/bin/env bash
# The agent's unix-socket intake (issue 12): one snapshot JSON per
# connection, ended by shutting down the writing side; one answer line.
# A valid snapshot is answered "accepted <digest>" (the digest the service
# logs and receipts), only once it is in the outbox: an agent killed with
# -9 right after the answer still has it. Invalid input is refused with the
# schema check's reason, as in the spool. A client that disconnects or
# stalls mid-message does not stop the intake, and nothing of it is kept.
# socket.mode is the socket's mode; socket.uid refuses other peers.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
SOCK=$H_DIR/s1/agent.sock
socket_conf() { # extra socket keys
	agent_conf s1 000001 00001 EQ1 "socket = { path = \"agent.sock\"; mode = \"0660\"; timeout_ms = 700; $* };" \
		'spool = { dir = "spool"; max_file = 4096; scan_interval_ms = 100; };'
	# agent_conf wrote a spool group already: keep the one with max_file.
	sed -i '0,/^spool = {.*};$/{/^spool = {.*};$/d}' "$H_DIR/s1/agent.conf"
}
# send MODE FILE: full (write, shut down writing, read the answer), half
# (half of it, then close), reset (half of it, then RST), silent (nothing).
send() {
	python3 - "$SOCK" "$@" <<-'PY'
	import socket, struct, sys
	path, mode, f = sys.argv[1], sys.argv[2], sys.argv[3]
	data = open(f, "rb").read()
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(10)
	s.connect(path)
	if mode in ("half", "reset"):
	    s.sendall(data[: len(data) // 2])
	    if mode == "reset":
	        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
	    s.close()
	    sys.exit(0)
	if mode == "full":
	    try:
	        s.sendall(data)
	        s.shutdown(socket.SHUT_WR)
	    except OSError:
	        pass  # refused early: the answer is still there to read
	out = b""
	while True:
	    b = s.recv(4096)
	    if not b:
	        break
	    out += b
	sys.stdout.write(out.decode())
	PY
}
msg() { # NAME JSON
	printf '%s' "$2" >"$H_DIR/$1.json"
	echo "$H_DIR/$1.json"
}
good() { msg "g$1" "$(snapshot_json EQ1 "$1")"; }

socket_conf
svc_daemon_start
agent_start s1 || harness_die "agent did not start: $(tail -n 2 "$H_DIR/s1/agent.log")"
tap_is "$(stat -c '%F %a' "$SOCK")" "socket 660" "the socket exists with socket.mode"

# --- Valid snapshots: accepted with the digest the service receipts.
a=$(send full "$(good 1)")
case $a in "accepted "[0-9a-f]*) tap_ok "a valid snapshot is accepted: $a";; *) tap_not_ok "answer: '$a'";; esac
d1=${a#accepted }
svc_wait_count "select count(*) from t_snapshot where seq = 1" 1 30
tap_is "$(stored_digests 000001/00001/EQ1)" "$d1" "the digest in the answer is the one the service stored"
wait_outbox s1 0 30 && tap_ok "... and receipted (outbox empty)" || tap_not_ok "outbox: $(outbox_n s1)"

# --- Refusals, with the spool's reasons.
r=$(send full "$(msg bad '{"equipment":"EQ1",')")
case $r in "refused bad_json"*) tap_ok "truncated JSON refused: $r";; *) tap_not_ok "bad JSON answer: '$r'";; esac
r=$(send full "$(msg other "$(snapshot_json EQ2 7)")")
case $r in "refused equipment \"EQ2\" is not this equipment"*) tap_ok "another equipment's snapshot refused";;
	*) tap_not_ok "EQ2 answer: '$r'";; esac
r=$(send full "$(msg neg '{"equipment":"EQ1","device_type":"FM","taken_at":"2026-11-21T10:00:00Z","seq":-1,"values":[]}')")
case $r in "refused schema"*) tap_ok "schema violation refused: $r";; *) tap_not_ok "schema answer: '$r'";; esac
head -c 5000 /dev/zero | tr '\0' ' ' >"$H_DIR/big.json"
r=$(send full "$H_DIR/big.json")
case $r in "refused message larger than max_file (4096 bytes)") tap_ok "over max_file refused";;
	*) tap_not_ok "big answer: '$r'";; esac
: >"$H_DIR/empty.json"
r=$(send full "$H_DIR/empty.json")
tap_is "$r" "refused empty message" "an empty message is refused"

# --- Clients that go away or stall mid-message.
send half "$(good 2)"
send reset "$(good 3)"
r=$(send silent "$(good 4)")
case $r in "refused no end of message within 700 ms"*) tap_ok "a silent client is refused after timeout_ms";;
	*) tap_not_ok "silent answer: '$r'";; esac
a=$(send full "$(good 5)")
case $a in "accepted "*) tap_ok "after them the intake still accepts";; *) tap_not_ok "answer after broken clients: '$a'";; esac
svc_wait_count "select count(*) from t_snapshot where seq = 5" 1 30
tap_is "$(q "select count(*) from t_snapshot where seq in (2, 3, 4)")" 0 "nothing of the broken messages was stored"
tap_is "$(q "select count(*) from t_dead_letter")" 0 "and no dead letters: refused input never left the device"
kill -0 "${AGENT_PID[s1]}" && tap_ok "the agent is still running" || tap_not_ok "the agent died"
grep -q "socket: refused a snapshot: bad_json" "$H_DIR/s1/agent.log" && tap_ok "refusals are logged" ||
	tap_not_ok "no refusal in the agent log"

# --- Accepted means durable: kill -9 right after the answer, service away.
svc_daemon_stop TERM
a=$(send full "$(good 6)")
kill -9 "${AGENT_PID[s1]}"; wait "${AGENT_PID[s1]}" 2>/dev/null
d6=${a#accepted }
ls "$H_DIR/s1/outbox/" | grep -q -- "-$d6.cms$" && tap_ok "accepted, then kill -9: the outbox holds that digest" ||
	tap_not_ok "answer '$a', outbox: $(ls "$H_DIR/s1/outbox/")"
tap_is "$(stat -c %F "$SOCK" 2>/dev/null)" socket "a killed agent leaves its socket behind"
agent_start s1 || harness_die "agent did not restart over its stale socket: $(tail -n 2 "$H_DIR/s1/agent.log")"
tap_ok "the restarted agent replaces the stale socket"
svc_daemon_start
svc_wait_count "select count(*) from t_snapshot where seq = 6" 1 30 && tap_ok "the snapshot is delivered after the restart" ||
	tap_not_ok "seq 6 not stored"
wait_outbox s1 0 30 && tap_ok "... and receipted" || tap_not_ok "outbox: $(outbox_n s1)"
agent_stop s1; tap_is "$?" 0 "SIGTERM: the agent exits 0"
[ -e "$SOCK" ] && tap_not_ok "the socket is still there after a clean stop" || tap_ok "a clean stop removes the socket"

# --- Peer credentials.
socket_conf "uid = $(($(id -u) + 1));"
agent_start s1 || harness_die "agent with socket.uid did not start"
r=$(send full "$(good 7)")
case $r in "refused peer uid $(id -u) gid $(id -g) is not the configured equipment user") tap_ok "another uid is refused";;
	*) tap_not_ok "uid answer: '$r'";; esac
agent_stop s1
socket_conf "uid = $(id -u); gid = $(id -g);"
agent_start s1 || harness_die "agent with socket.uid did not start"
a=$(send full "$(good 8)")
case $a in "accepted "*) tap_ok "the configured uid and gid are accepted";; *) tap_not_ok "answer: '$a'";; esac
svc_wait_count "select count(*) from t_snapshot where seq = 8" 1 30 && tap_ok "... and stored" || tap_not_ok "seq 8"
tap_is "$(q "select count(*) from t_snapshot where seq = 7")" 0 "the refused peer's snapshot is not"
agent_stop s1
svc_daemon_stop TERM
tap_done
