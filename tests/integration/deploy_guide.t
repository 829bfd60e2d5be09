#!/usr/bin/env bash
# Follows README.md "Deploying on one machine" literally: every ```sh block
# between <!-- guide:begin --> and <!-- guide:end --> runs, in order, in one
# shell, from a clean directory, against `make install` into a temporary
# prefix. The test adds only what the guide leaves to the reader: values for
# the guide's own variables (temporary directories, free ports on
# 127.0.0.1, SMS_USER=nobody so no user is added to this machine), and a
# PostgreSQL server where the guide says "Start PostgreSQL"
# (<!-- guide:test-provides postgresql -->). It then checks what the guide
# promises: a snapshot stored in PostgreSQL, and the revoked device refused
# by the broker. The wall time of the guide is printed as a TAP comment.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the guide is followed as root (it chowns keys and starts services as their users)"
	exit 0
fi
id mosquitto >/dev/null 2>&1 || harness_die "no user mosquitto (Debian's mosquitto package creates it)"

# guide_script README: the guide's blocks as one script; a block marked as
# provided by the test is still run (it only checks the server).
guide_script() {
	awk '
		/<!-- guide:begin -->/ { on = 1; next }
		/<!-- guide:end -->/   { on = 0; next }
		on && /^```sh$/        { inblock = 1; blocks++; print "# ---- guide block " blocks; next }
		inblock && /^```$/     { inblock = 0; next }
		inblock                { print }
		END { if (blocks == 0) exit 1 }
	' "$1"
}
{
	echo 'set -euo pipefail'
	guide_script "$H_ROOT/README.md" || harness_die "README.md has no guide blocks"
} >"$H_DIR/guide.sh"
tap_check "README.md has the guide's blocks between the markers" grep -q '^# ---- guide block 10' "$H_DIR/guide.sh"
tap_is "$(grep -c 'guide:test-provides postgresql' "$H_ROOT/README.md")" 1 \
	"the guide says where the reader starts PostgreSQL (the only server the test provides)"

# The guide's variables: temporary directories, free loopback ports.
G=$H_DIR/g
mkdir -p "$G/work"
chmod 755 "$G"
export SMS_SRC=$H_ROOT SMS_PREFIX=$G/prefix SMS_ETC=$G/etc SMS_VAR=$G/var SMS_PKI_DIR=$G/pki-ca
export SMS_USER=nobody SMS_BROKER_USER=mosquitto BROKER_HOST=127.0.0.1 MQTT_BIND=127.0.0.1
MQTT_PORT=$(harness_free_port)
export MQTT_PORT

# "Start PostgreSQL": a private server authenticating as Debian's package
# does (superuser postgres by peer on its socket, passwords over TCP), at
# the socket directory and port the guide's variables name.
H_PG_DATA=$H_DIR/pg
H_PG_PORT=$(harness_free_port)
servers_pg_init "$H_PG_DATA" debian || harness_die "initdb failed"
harness_pg_start_again
export PGHOST=$H_PG_DATA PGPORT=$H_PG_PORT DB_HOST=127.0.0.1
unset PGDATABASE PGUSER PGPASSWORD PGPASSFILE
# The superuser, for this test's own checks.
su_psql() { runuser -u postgres -- psql -X -A -t -d sms "$@"; }

# Processes the guide starts record their pid files; stop them at the end.
stop_guide() {
	local f p
	for f in "$SMS_VAR"/agent/agent.pid "$SMS_VAR"/snapshotd/snapshotd.pid "$SMS_VAR"/mosquitto/mosquitto.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill -TERM "$p" 2>/dev/null || continue
		for _ in $(seq 50); do servers_pid_running "$p" || break; sleep 0.1; done
	done
}
trap 'rc=$?; stop_guide; (exit $rc); harness_cleanup' EXIT

start=$(date +%s%N)
(cd "$G/work" && timeout 300 bash "$H_DIR/guide.sh") >"$H_DIR/guide.log" 2>&1
rc=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
tap_is "$rc" 0 "every command of the guide succeeds, literally (log: guide.log)"
[ "$rc" -eq 0 ] || { tail -n 30 "$H_DIR/guide.log" | sed 's/^/#   /'; }
printf '# following the guide took %d.%03d s (wall time, make install of a built tree included)\n' $((took_ms / 1000)) $((took_ms % 1000))

# --- what the guide promises
EQ=EQID00000234 D=ma/000001/acc/00002/dev/EQID00000234
n=$(su_psql -c "SELECT count(*) FROM t_snapshot s JOIN t_device d ON d.id = s.device_id
	WHERE d.equipment = '$EQ' AND s.seq = 1 AND s.n_values = 2" 2>&1)
tap_is "$n" 1 "the snapshot the guide wrote into the spool is stored in PostgreSQL"
tap_check "sms-snapshotd logs in as its own role (snapshotd), not as a superuser" \
	test "$(su_psql -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'snapshotd'")" = f

refused() {
	local out
	out=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$SMS_ETC/agent/pki/tls/root/ca.crt" \
		--cert "$SMS_ETC/agent/pki/tls/$D/fullchain.pem" --key "$SMS_ETC/agent/pki/tls/$D/key.pem" \
		-V mqttv5 -i "000001/00002/$EQ@check" -q 1 -t "000001/00002/$EQ/firmware/status" -m after 2>&1) &&
		{ echo "published: $out"; return 1; }
	return 0
}
# The plugin looks at the CRL files every crl_check_interval (10 s in the guide).
refused_soon() {
	local i
	for i in $(seq 30); do refused >/dev/null && return 0; sleep 1; done
	refused
}
tap_check "the revoked device is refused by the broker (within the plugin's crl_check_interval)" refused_soon
tap_check "... because it is revoked (broker log)" grep -q 'revoked' "$SMS_VAR/mosquitto/mosquitto.log"
admitted() {
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$SMS_ETC/pki/tls/root/ca.crt" \
		--cert "$SMS_ETC/pki/tls/services/roles/vendor-snapshot-service/fullchain.pem" \
		--key "$SMS_ETC/pki/tls/services/roles/vendor-snapshot-service/key.pem" \
		-V mqttv5 -i "role:vendor-snapshot-service@check" -q 1 -t "000001/00002/$EQ/receipts" -m x
}
tap_check "... while an unrevoked identity is admitted (the refusal is the revocation)" admitted
tap_is "$(stat -c '%a %U:%G' "$SMS_ETC/pki/tls/broker/key.pem")" "640 root:mosquitto" \
	"the broker key is the exported one, readable by mosquitto after it dropped root"
tap_check "mosquitto runs as its user, not root" \
	test "$(stat -c %U "/proc/$(cat "$SMS_VAR/mosquitto/mosquitto.pid")")" = mosquitto
tap_check_fails "no CA key outside the PKI directory" sh -c "find '$G' -path '$SMS_PKI_DIR' -prune -o -name ca.key -print | grep ."
tap_check_fails "the broker's export lists no E2E file" grep -q ' e2e/' "$SMS_ETC/pki/MANIFEST-broker"
tap_is "$(stat -c '%a %U' "$SMS_ETC/sms_owner.pgpass")" "600 root" "the schema owner's password is in root's 0600 password file"
pw_owner=$(cut -d: -f5 "$SMS_ETC/sms_owner.pgpass")
pw_svc=$(sed -n 's/.*password=\([0-9a-f]*\).*/\1/p' "$SMS_ETC/snapshotd.conf")
[ ${#pw_owner} -eq 48 ] && [ ${#pw_svc} -eq 48 ] &&
	! grep -rqF -e "$pw_owner" -e "$pw_svc" "$H_DIR/guide.log" "$SMS_VAR" "$H_PG_DATA/server.log" &&
	tap_ok "both generated passwords appear in no log (guide, services, PostgreSQL)" ||
	tap_not_ok "a password in a log (or not generated: ${#pw_owner}, ${#pw_svc} characters)"
tap_check_fails "a login without a password is refused over TCP (scram, as on Debian)" \
	psql -X -w "host=127.0.0.1 port=$H_PG_PORT dbname=sms user=sms_owner" -c 'SELECT 1'

tap_done
