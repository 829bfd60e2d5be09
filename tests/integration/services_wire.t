#!/usr/bin/env bash
# The wire forms of a snapshot (issue 15): the full JSON, RFC 3274
# CompressedData inside the envelope, the compact form by a channel
# dictionary, and both, also with the device certificate alone in
# originatorInfo (the receivers hold the CAs). The same 340-value snapshot in each form is stored
# with the same rows by sms-snapshotd and exported alike by sms-audit; the
# compact+compressed form is far smaller; a compact snapshot naming a
# dictionary the receiver does not hold is a dead letter (snapshotd) and a
# finding (audit), never a guess; a decompression bomb is a dead letter.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
[ -x "$DBIN/sms-audit" ] || harness_die "sms-audit not built"
SMSCMS=$DBIN/smscms
harness_pki client 000001 00001 auditor >/dev/null || harness_die "sms-pki client failed"
TA=$P/tls/ma/000001/acc/00001/clients/auditor
EA=$P/e2e/ma/000001/acc/00001/clients/auditor
DICTS=$H_DIR/dictionaries
mkdir -p "$DICTS" "$H_DIR/audit"

"$DBIN/sms-devicesim" --make-dictionary "$DICTS/FM-1.json" --values 340 &&
	"$DBIN/sms-devicesim" --make-dictionary "$H_DIR/FM-other.json" --values 339 ||
	harness_die "sms-devicesim --make-dictionary failed"
tap_is "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["device_type"], d["version"], len(d["channels"]))' "$DICTS/FM-1.json")" \
	"FM 1 340" "--make-dictionary writes the 340 channels of device type FM"

cat >"$H_DIR/audit/audit.conf" <<CONF
broker = {
  host = "127.0.0.1"; port = $H_MQ_PORT;
  cafile = "$P/tls/root/ca.crt"; cert = "$TA/fullchain.pem"; key = "$TA/key.pem";
  keepalive = 10;
};
e2e = {
  cert = "$EA/cert.pem"; key = "$EA/key.pem"; chain = "$EA/chain.pem";
  trust_root = "$P/e2e/root/ca.crt"; services_ca = "$P/e2e/services/ca.crt";
  crls = [ "$P/e2e/crls.pem" ]; ca_certs = [ "$P/e2e/cas.pem" ];
};
store = { path = "store.db"; };
dictionaries = "$DICTS";
CONF
"$DBIN/sms-audit" run --config "$H_DIR/audit/audit.conf" >>"$H_DIR/audit/audit.log" 2>&1 &
H_PIDS+=($!)
for _ in $(seq 1 100); do grep -q 'session ' "$H_DIR/audit/audit.log" && break; sleep 0.1; done

tap_check "sms-snapshotd --check-config with dictionaries" "$DBIN/sms-snapshotd" --check-config \
	--config <(cat "$H_DIR/snapshotd.conf"; echo "dictionaries = \"$DICTS\";")
echo '{"device_type":"FM"}' >"$H_DIR/broken.json"
mkdir -p "$H_DIR/broken" && cp "$H_DIR/broken.json" "$H_DIR/broken/"
out=$("$DBIN/sms-snapshotd" --check-config --config <(cat "$H_DIR/snapshotd.conf"; echo "dictionaries = \"$H_DIR/broken\";") 2>&1)
echo "$out" | grep -Eq "dictionaries.*broken\.json" && tap_ok "a broken dictionary fails the start, named" ||
	tap_not_ok "broken dictionary: $out"

svc_daemon_start "dictionaries = \"$DICTS\";"
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "sms-snapshotd started with dictionaries" ||
	{ tap_not_ok "daemon started"; tap_done; exit 1; }

# One snapshot per form: even seqs, so the text channels say "ok" in all.
T0=$(date -u +%s)
forms=("" "--compress" "--dictionary $DICTS/FM-1.json" "--compress --dictionary $DICTS/FM-1.json"
	"--compress --dictionary $DICTS/FM-1.json")
names=(full compressed compact compact+compressed "compact+compressed, leaf only")
E1=$P/e2e/ma/000001/acc/00001/dev/EQ1
for k in 0 1 2 3 4; do
	seq=$((10 + 2 * k))
	mkdir -p "$H_DIR/w$k"
	chain=(--e2e-chain "$E1/chain.pem")
	[ "$k" = 4 ] && chain=()
	# shellcheck disable=SC2086
	"$DBIN/sms-devicesim" --e2e-cert "$E1/cert.pem" --e2e-key "$E1/key.pem" "${chain[@]}" --recipient "$VSS/cert.pem" \
		--recipient "$EA/cert.pem" --values 340 --seq-start $seq --taken-at $((T0 + k)) \
		${forms[$k]} --write "$H_DIR/w$k" >/dev/null 2>&1 || tap_not_ok "encrypting the ${names[$k]} form"
	bytes[$k]=$(cat "$H_DIR/w$k"/*.cms | wc -c)
	echo "# ${names[$k]}: ${bytes[$k]} bytes, $((bytes[$k] * 10 / 340)) tenths of a byte per value"
	"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
		--cert "$P/tls/ma/000001/acc/00001/dev/EQ1/fullchain.pem" --key "$P/tls/ma/000001/acc/00001/dev/EQ1/key.pem" \
		--topic 000001/00001/EQ1/snapshots --from "$H_DIR/w$k" >>"$H_DIR/pub.log" 2>&1 ||
		tap_not_ok "publishing the ${names[$k]} form"
done
tap_ok "the five forms encrypted and published"
[ "${bytes[1]}" -lt "${bytes[0]}" ] && [ "${bytes[2]}" -lt "${bytes[0]}" ] && [ "${bytes[3]}" -lt "${bytes[1]}" ] &&
	[ "${bytes[3]}" -lt "${bytes[2]}" ] && [ $((bytes[3] * 4)) -lt "${bytes[0]}" ] && [ "${bytes[4]}" -lt "${bytes[3]}" ] &&
	tap_ok "leaf only (${bytes[4]} B) < compact+compressed (${bytes[3]} B) < compressed, compact < full (${bytes[0]} B) / 4" ||
	tap_not_ok "sizes: ${bytes[*]}"

svc_wait_count "select count(*) from t_snapshot" 5 || tap_not_ok "5 snapshots stored"
tap_is "$(q "select string_agg(seq || '=' || n, ' ' order by seq) from (select s.seq, count(*) n from t_snapshot s
            join t_snapshot_values v on v.snapshot_id = s.id group by 1) x")" "10=340 12=340 14=340 16=340 18=340" \
	"each form stored as one snapshot of 340 values"
# The rows, with the seq taken out of the numbers (sms-devicesim: seq*1000 + i + 0.25).
rows_md5() {
	q "select s.seq, md5(string_agg(g.name || '/' || c.name || '/' || u.symbol || '=' ||
	        coalesce((v.value_num - s.seq * 1000)::text, v.value_text), ',' order by g.name, c.name))
	   from t_snapshot s join t_snapshot_values v on v.snapshot_id = s.id join t_channel c on c.id = v.channel_id
	   join t_channel_group g on g.id = c.group_id join t_unit u on u.id = c.unit_id group by 1 order by 1"
}
md5s=$(rows_md5 | cut -d'|' -f2 | sort -u | wc -l)
tap_is "$md5s" 1 "the five forms are stored with the same rows (group, channel, unit, value)"
tap_is "$(q "select count(*) from t_snapshot_values v join t_snapshot s on s.id = v.snapshot_id
            join t_channel c on c.id = v.channel_id
            where case when substr(c.name, 2)::int % 17 = 5 then v.value_text is distinct from 'ok'
                       else v.value_num is distinct from s.seq * 1000 + substr(c.name, 2)::int + 0.25 end")" 0 \
	"every value equals what the device sent"

# --- a dictionary the receivers do not hold
mkdir -p "$H_DIR/unk"
svc_devsim 000001 00001 EQ2 --recipient "$EA/cert.pem" --values 339 --seq-start 20 \
	--dictionary "$H_DIR/FM-other.json" --compress >/dev/null 2>&1 || tap_not_ok "publishing with another dictionary"
svc_wait_count "select count(*) from t_dead_letter where reason = 'unknown_dictionary'" 1 30 &&
	tap_ok "a compact snapshot by an unknown dictionary is the dead letter unknown_dictionary" ||
	tap_not_ok "unknown dictionary dead letter"
q "select detail from t_dead_letter where reason = 'unknown_dictionary'" |
	grep -Eq "channel dictionary [0-9a-f]{64} \(device type FM\) is not known here" &&
	tap_ok "its detail names digest and device type" || tap_not_ok "unknown_dictionary detail"
tap_is "$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ2'")" 0 \
	"nothing stored for it"

# --- a decompression bomb: 4 MiB of zeros, 4 KB on the wire
mkdir -p "$H_DIR/bomb"
head -c 4194304 /dev/zero >"$H_DIR/zeros"
"$SMSCMS" encrypt --cert "$E1/cert.pem" --key "$E1/key.pem" --chain "$E1/chain.pem" --recipient "$VSS/cert.pem" \
	--compress --in "$H_DIR/zeros" --out "$H_DIR/bomb/000001.cms" || tap_not_ok "smscms encrypt --compress"
tap_is "$([ "$(wc -c <"$H_DIR/bomb/000001.cms")" -lt 65536 ] && echo small)" small "the bomb fits limits.max_payload"
"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
	--cert "$P/tls/ma/000001/acc/00001/dev/EQ1/fullchain.pem" --key "$P/tls/ma/000001/acc/00001/dev/EQ1/key.pem" \
	--topic 000001/00001/EQ1/snapshots --from "$H_DIR/bomb" >>"$H_DIR/pub.log" 2>&1
svc_wait_count "select count(*) from t_dead_letter where reason = 'too_large' and detail like '%expands beyond the limit%'" 1 30 &&
	tap_ok "a decompression bomb is the dead letter too_large" || tap_not_ok "bomb dead letter"
kill -0 "$SVC_DAEMON" 2>/dev/null && tap_ok "sms-snapshotd still running" || tap_not_ok "sms-snapshotd died"

# --- the customer's auditor reads every form
AQ() { sqlite3 "$H_DIR/audit/store.db" "$1"; }
for _ in $(seq 1 150); do
	[ "$(AQ "select count(*) from derived where kind = 'snapshot'" 2>/dev/null)" -ge 6 ] && break
	sleep 0.2
done
"$DBIN/sms-audit" export --config "$H_DIR/audit/audit.conf" --device EQ1 --format csv >"$H_DIR/audit/export.csv" ||
	tap_not_ok "sms-audit export"
tap_is "$(python3 - "$H_DIR/audit/export.csv" <<'PY'
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, rows = rows[0], rows[1:]
ix = {k: i for i, k in enumerate(head)}
per = collections.defaultdict(list)
for r in rows:
    seq = int(r[ix["seq"]])
    v = r[ix["value"]]
    try:
        v = "%.2f" % (float(v) - seq * 1000)
    except ValueError:
        pass
    per[seq].append((r[ix["group"]], r[ix["channel"]], r[ix["unit"]], v))
print(" ".join("%d=%d" % (s, len(per[s])) for s in sorted(per)), len({tuple(sorted(v)) for v in per.values()}))
PY
)" "10=340 12=340 14=340 16=340 18=340 1" "sms-audit exports the five forms with the same 340 rows"
tap_is "$(AQ "select count(*) from derived where equipment like '%/EQ2' and findings like '%unknown_dictionary%'" 2>/dev/null)" 1 \
	"sms-audit: the unknown dictionary is a finding"
tap_done
