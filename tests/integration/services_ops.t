#!/usr/bin/env bash
# What vendor ops watch (issue 11), against a real PostgreSQL and mosquitto:
# sms-snapshotd's and sms-agent's Prometheus files (read back with the
# Prometheus client's parser), --check-config on the metrics group, `sms-db devices` (last
# seen, snapshot count, certificate serial and expiry from the database,
# revoked from the CRL files given) in table, CSV and JSON, and `sms-db
# retention` (dry run changes nothing; a real run drops the whole old
# partition and the old snapshots, keeps the recent ones).
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
LOG=$H_DIR/snapshotd.log
M=$H_DIR/metrics
mkdir -p "$M"

# --- --check-config on the metrics group
printf 'metrics = { dir = "%s/nowhere"; };\n' "$H_DIR" >"$H_DIR/m1.conf.tail"
cat "$H_DIR/snapshotd.conf" "$H_DIR/m1.conf.tail" >"$H_DIR/m1.conf"
line=$(wc -l <"$H_DIR/m1.conf")
out=$("$DBIN/sms-snapshotd" --config "$H_DIR/m1.conf" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "1:sms-snapshotd: $H_DIR/m1.conf:$line: metrics.dir cannot open $H_DIR/nowhere: No such file or directory" \
	"--check-config: a metrics.dir that is not there is one line naming the file, line and directory"
printf 'metrics = { directory = "%s"; };\n' "$M" >"$H_DIR/m2.conf.tail"
cat "$H_DIR/snapshotd.conf" "$H_DIR/m2.conf.tail" >"$H_DIR/m2.conf"
out=$("$DBIN/sms-snapshotd" --config "$H_DIR/m2.conf" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "1:sms-snapshotd: $H_DIR/m2.conf:$line: metrics.directory is not a known key (misspelled?)" \
	"--check-config: a misspelled key in the metrics group is an error"
out=$("$DBIN/sms-snapshotd" --config "$H_DIR/m2.conf" --bogus 2>&1); rc=$?
tap_is "$rc" 2 "an unknown option is a usage error (exit 2)"
V=$(cat "$H_ROOT/VERSION")
for prog in smscms sms-pki sms-db sms-devicesim sms-snapshotd sms-agent sms-crlpub sms-audit; do
	bin=$DBIN/$prog
	[ "$prog" = sms-pki ] && bin=$H_ROOT/pki/sms-pki
	tap_is "$("$bin" --version 2>&1)" "$prog (sms) $V" "--version: $prog prints the tree's one version"
done

# --- sms-audit run --check-config, the rule of every daemon: silent when
# valid, one line FILE:LINE when not, the file it cannot open named.
EA=$P/e2e/ma/000001/acc/00001/clients/auditor
TA=$P/tls/ma/000001/acc/00001/clients/auditor
audit_conf() { # audit_conf FILE STORE_PATH [EXTRA LINE]
	cat >"$1" <<CONF
broker = {
  host = "127.0.0.1"; port = $H_MQ_PORT;
  cafile = "$P/tls/root/ca.crt"; cert = "$TA/fullchain.pem"; key = "$TA/key.pem";
};
e2e = {
  cert = "$EA/cert.pem"; key = "$EA/key.pem"; chain = "$EA/chain.pem";
  trust_root = "$P/e2e/root/ca.crt"; services_ca = "$P/e2e/services/ca.crt";
  crls = [ "$P/e2e/crls.pem" ]; ca_certs = [ "$P/e2e/cas.pem" ];
};
store = { path = "$2"; };
${3:-}
CONF
}
AUDCONF=$H_DIR/audit.conf
audit_conf "$AUDCONF" store.db
out=$("$DBIN/sms-audit" run --config "$AUDCONF" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "0:" "sms-audit run --check-config: a valid file, exit 0 and nothing printed"
tap_is "$(ls "$H_DIR"/store.db 2>/dev/null)" "" "sms-audit --check-config creates no store"
audit_conf "$AUDCONF" store.db 'store_grace = 5;'
out=$("$DBIN/sms-audit" run --config "$AUDCONF" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "1:sms-audit: $AUDCONF:11: store_grace is not a known key (misspelled?)" \
	"sms-audit --check-config: an unknown key is one line FILE:LINE, exit 1"
audit_conf "$AUDCONF" store.db
sed -i "s|key = \"$EA/key.pem\"|key = \"$H_DIR/no-such-key.pem\"|" "$AUDCONF"
out=$("$DBIN/sms-audit" run --config "$AUDCONF" --check-config 2>&1); rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -qF "$AUDCONF:6: e2e.key cannot open $H_DIR/no-such-key.pem" <<<"$out" &&
	tap_ok "sms-audit --check-config: a key it cannot open is named in one line" ||
	tap_not_ok "sms-audit --check-config, missing key (exit $rc): $out"
audit_conf "$AUDCONF" "$H_DIR/no-such-dir/store.db"
out=$("$DBIN/sms-audit" run --config "$AUDCONF" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "1:sms-audit: $AUDCONF:10: store.path cannot open $H_DIR/no-such-dir: No such file or directory" \
	"sms-audit --check-config: a store directory that is not there is named"
out=$("$DBIN/sms-audit" report --config "$AUDCONF" --check-config 2>&1); rc=$?
tap_is "$rc:$(wc -l <<<"$out")" "2:1" "sms-audit report --check-config: only run takes it (usage error, one line)"
for cmd in "sms-agent --config" "sms-db --bogus version" "sms-devicesim --count x" "sms-db devices --crl"; do
	# shellcheck disable=SC2086
	out=$("$DBIN"/$cmd 2>&1); rc=$?
	[ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && tap_ok "usage error '$cmd': exit 2, one line" ||
		tap_not_ok "usage error '$cmd': exit $rc, $(wc -l <<<"$out") lines"
done

# --- metrics from a running daemon
svc_daemon_start "metrics = { dir = \"$M\"; interval = 1; };"
svc_devsim 000001 00001 EQ1 --count 3 --seq-start 1 >/dev/null 2>&1
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 1 >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot" 4 30 || tap_not_ok "4 snapshots stored"
harness_pki revoke ma/000001/acc/00001/dev/EQ2 --pki e2e >/dev/null || tap_not_ok "sms-pki revoke"
for i in $(seq 1 100); do grep -q 'E2E CRLs reloaded' "$LOG" && break; sleep 0.1; done
svc_devsim 000001 00001 EQ2 --count 1 --seq-start 2 >/dev/null 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'revoked'" 1 30 || tap_not_ok "revoked dead letter"

metric() { harness_metric "$M/sms-snapshotd.prom" "$1"; }
for i in $(seq 1 50); do [ "$(metric "sms_snapshotd_rejected_total{reason='revoked'}")" = 1.0 ] && break; sleep 0.2; done
if $PROM_PARSE "$M/sms-snapshotd.prom" >"$H_DIR/parsed.txt" 2>"$H_DIR/parse.err"; then
	tap_ok "sms-snapshotd.prom parses with the Prometheus client's parser"
else
	tap_not_ok "sms-snapshotd.prom parses: $(cat "$H_DIR/parse.err")"
fi
tap_is "$(metric 'sms_snapshotd_snapshots_stored_total{}')" 4.0 "stored counter: 4"
tap_is "$(metric "sms_snapshotd_rejected_total{reason='revoked'}")" 1.0 "rejected counter by reason: revoked 1"
tap_is "$(metric 'sms_snapshotd_messages_received_total{}')" 5.0 "received = stored + duplicate + rejected = 5"
tap_is "$(metric "sms_snapshotd_broker_connected{session='0'}")" 1.0 "worker 0 is connected"
tap_is "$(metric "sms_snapshotd_build_info{version='$(cat "$H_ROOT/VERSION")'}")" 1.0 "build info carries VERSION"
next=$(metric 'sms_snapshotd_crl_next_update_seconds{}')
awk -v n="$next" 'BEGIN { exit !(n > 86400) }' && tap_ok "CRL nextUpdate is more than a day ahead ($next s)" ||
	tap_not_ok "CRL nextUpdate seconds: '$next'"
last=$(metric 'sms_snapshotd_last_stored_time_seconds{}')
awk -v l="$last" -v now="$(date +%s)" 'BEGIN { exit !(l > now - 120 && l <= now) }' &&
	tap_ok "last stored timestamp is recent" || tap_not_ok "last stored timestamp: '$last'"
grep -q '^# TYPE sms_snapshotd_snapshots_stored_total counter$' "$M/sms-snapshotd.prom" &&
	tap_ok "TYPE line for the counter" || tap_not_ok "TYPE line for the counter"
tap_is "$(find "$M" -name '.*' -type f | wc -l)" 0 "no temporary file left in the textfile directory"

# --- sms-agent's metrics: the outbox fills and empties with the service's receipts
agent_conf a3 000002 00007 EQ3 "metrics = { dir = \"$M\"; interval = 1; };"
agent_start a3 || tap_not_ok "sms-agent starts"
spool_put a3 EQ3 1 2
for i in $(seq 1 150); do [ "$(outbox_n a3)" = 0 ] && [ "$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ3'")" = 2 ] && break; sleep 0.2; done
ametric() { harness_metric "$M/sms-agent.prom" "$1"; }
for i in $(seq 1 50); do [ "$(ametric 'sms_agent_outbox_removed_total{}')" = 2.0 ] && break; sleep 0.2; done
$PROM_PARSE "$M/sms-agent.prom" >/dev/null 2>&1 && tap_ok "sms-agent.prom parses with the Prometheus client's parser" ||
	tap_not_ok "sms-agent.prom parses"
tap_is "$(ametric 'sms_agent_spool_accepted_total{}'):$(ametric 'sms_agent_outbox_added_total{}'):$(ametric 'sms_agent_outbox_removed_total{}')" \
	"2.0:2.0:2.0" "agent: 2 taken from the spool, 2 into the outbox, 2 removed by receipts"
tap_is "$(ametric 'sms_agent_outbox_entries{}'):$(ametric 'sms_agent_outbox_bytes{}')" "0.0:0.0" "agent: the outbox is empty"
tap_is "$(ametric "sms_agent_broker_connected{session='0'}")" 1.0 "agent: connected"
last=$(ametric 'sms_agent_last_receipt_time_seconds{}')
awk -v l="$last" -v now="$(date +%s)" 'BEGIN { exit !(l > now - 120 && l <= now) }' &&
	tap_ok "agent: the last receipt is recent" || tap_not_ok "agent: last receipt timestamp '$last'"
agent_stop a3 || tap_not_ok "sms-agent exits 0"
svc_daemon_stop || tap_not_ok "daemon exits 0"

# --- sms-db devices
serial_of() { # normalised: lowercase, no leading zeros
	openssl x509 -noout -serial -in "$1" | sed 's/^serial=//; s/^0*//' | tr 'A-F' 'a-f'
}
notafter_of() {
	date -u -d "$(openssl x509 -noout -enddate -in "$1" | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ
}
E1=$P/e2e/ma/000001/acc/00001/dev/EQ1/cert.pem
E2=$P/e2e/ma/000001/acc/00001/dev/EQ2/cert.pem
csv=$("$DBIN/sms-db" devices --format csv --crl "$P/e2e/crls.pem" --conninfo "$H_PG_CONNINFO" 2>&1)
tap_is "$(head -1 <<<"$csv")" \
	"master_account,account,equipment,device_type,first_seen,last_seen,last_snapshot,snapshots,cert_serial,cert_issuer,cert_not_after,revoked" \
	"devices --format csv: header"
row1=$(grep '^000001,00001,EQ1,' <<<"$csv")
IFS=, read -r _ _ _ _ _ seen _ count serial _ notafter revoked <<<"$(sed 's/"[^"]*"/ISSUER/' <<<"$row1")"
tap_is "$count:$revoked" "3:no" "EQ1: 3 snapshots, not revoked"
tap_is "$(sed 's/^0*//' <<<"$serial")" "$(serial_of "$E1")" "EQ1: the serial of its E2E certificate, from the database"
tap_is "$notafter" "$(notafter_of "$E1")" "EQ1: its certificate's notAfter"
[ -n "$seen" ] && tap_ok "EQ1: last seen is set ($seen)" || tap_not_ok "EQ1: last seen"
row2=$(grep '^000001,00001,EQ2,' <<<"$csv")
tap_is "$(awk -F, '{ print $NF }' <<<"$row2")" yes "EQ2: revoked by the CRL given with --crl"
json=$("$DBIN/sms-db" devices --format json --crl "$P/e2e/crls.pem" --conninfo "$H_PG_CONNINFO")
tap_is "$(/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(",".join("%s:%s:%s" % (x["equipment"], x["snapshots"], x["revoked"]) for x in d))' <<<"$json")" \
	"EQ1:3:False,EQ2:1:True,EQ3:2:False" "devices --format json: what a JSON parser reads"
table=$("$DBIN/sms-db" devices --conninfo "$H_PG_CONNINFO")
grep -q '^000001/00001/EQ1 .* 3 .*(no --crl)$' <<<"$table" && tap_ok "devices: the table without --crl" ||
	tap_not_ok "devices table: $table"
out=$("$DBIN/sms-db" devices --format xml --conninfo "$H_PG_CONNINFO" 2>&1); rc=$?
tap_is "$rc:$out" "2:sms-db: --format must be table, csv or json" "a bad --format is a usage error"
out=$("$DBIN/sms-db" devices --crl "$H_DIR/none.pem" --conninfo "$H_PG_CONNINFO" 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "$H_DIR/none.pem" <<<"$out" && tap_ok "an unreadable --crl is named" ||
	tap_not_ok "unreadable --crl: $rc $out"

# --- sms-db retention
svc_daemon_start
old=$(date -u -d "$(date -u +%Y-%m-15) -30 months" +%s)
old_part=t_snapshot_values_$(date -u -d "@$old" +%Y%m)
svc_devsim 000001 00001 EQ1 --count 2 --seq-start 1000 --taken-at "$old" >/dev/null 2>&1
svc_wait_count "select count(*) from t_snapshot where seq >= 1000" 2 30 || tap_not_ok "old snapshots stored"
tap_is "$(q "select to_regclass('$old_part') is not null")" t "the old month got its own partition ($old_part)"
svc_daemon_stop
dry=$("$DBIN/sms-db" retention --keep 24months --dry-run --conninfo "$H_PG_CONNINFO" 2>&1)
grep -q "^sms-db: would drop partition $old_part\$" <<<"$dry" && tap_ok "retention --dry-run names the partition it would drop" ||
	tap_not_ok "dry run: $dry"
grep -q 'would delete 0 value row(s) of t_snapshot_values_default and 2 snapshot(s)' <<<"$dry" &&
	tap_ok "retention --dry-run counts the snapshots it would delete" || tap_not_ok "dry run counts: $dry"
tap_is "$(q "select to_regclass('$old_part') is not null"):$(q 'select count(*) from t_snapshot')" "t:8" \
	"after the dry run nothing changed"
out=$("$DBIN/sms-db" retention --keep 24months --conninfo "$H_PG_CONNINFO" 2>&1) || tap_not_ok "retention: $out"
tap_is "$(q "select to_regclass('$old_part') is null")" t "retention dropped the old partition whole"
tap_is "$(q 'select count(*) from t_snapshot where seq >= 1000'):$(q 'select count(*) from t_snapshot')" "0:6" \
	"the old snapshots are gone, the recent ones stay"
tap_is "$(q 'select count(*) from t_ingest_log where snapshot_id is null and dead_letter_id is null')" 2 \
	"their ingest log rows stay (digests still known), unlinked"
tap_is "$(q 'select count(*) from t_snapshot_values')" "$(q 'select sum(n_values) from t_snapshot')" \
	"the values of the recent snapshots stay"
out=$("$DBIN/sms-db" retention --keep 2years --conninfo "$H_PG_CONNINFO" 2>&1); rc=$?
tap_is "$rc" 2 "--keep with an unknown unit is a usage error"
tap_done
