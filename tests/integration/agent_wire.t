#!/usr/bin/env bash
# sms-agent's wire options (issue 15): with e2e.compress and a channel
# dictionary, the agent sends signed snapshots in the compact form inside
# RFC 3274 CompressedData; it also takes compact snapshots from the spool.
# Signing needs e2e.chain (the SignedData carries the signer's chain). sms-snapshotd stores the
# same rows as for an agent sending the full form, verifies and keeps the
# signature (over the compact JSON), and receipts them; a snapshot with a
# channel the dictionary lacks goes in the full form.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
DICTS=$H_DIR/dictionaries
mkdir -p "$DICTS"
printf '%s' '{"device_type":"FM","version":1,"channels":[{"group":"engine","channel":"operating_hours","unit":"h"},{"group":"filter","channel":"state"}]}' \
	>"$DICTS/FM-1.json"
DIGEST=$(sha256sum "$DICTS/FM-1.json" | cut -d' ' -f1)
agent_conf small 000001 00001 EQ1 "dictionary = \"$DICTS/FM-1.json\";"
sed -i -e '/^e2e = {/a\  compress = true; sign_snapshots = true;' "$H_DIR/small/agent.conf"
sed -e 's|chain = "[^"]*";||' "$H_DIR/small/agent.conf" >"$H_DIR/small/nochain.conf"
out=$("$DBIN/sms-agent" --check-config --config "$H_DIR/small/nochain.conf" 2>&1)
[ $? -ne 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "sign_snapshots.*needs e2e.chain" <<<"$out" &&
	tap_ok "signing without e2e.chain is refused at start, one line" || tap_not_ok "nochain: $out"
agent_conf full 000001 00001 EQ2
stored_n() { q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = '$1'"; }
# The rows of EQ's snapshots: group/channel/unit=value per seq, one line each.
rows() {
	q "select string_agg(s.seq || ':' || g.name || '/' || c.name || '/' || u.symbol || '=' ||
	        coalesce(v.value_num::text, v.value_text), ' ' order by s.seq, g.name, c.name)
	   from t_snapshot s join t_device d on d.id = s.device_id join t_snapshot_values v on v.snapshot_id = s.id
	   join t_channel c on c.id = v.channel_id join t_channel_group g on g.id = c.group_id
	   join t_unit u on u.id = c.unit_id where d.equipment = '$1'"
}

tap_check "sms-agent --check-config with compress and a dictionary" "$DBIN/sms-agent" --check-config \
	--config "$H_DIR/small/agent.conf"
agent_start small || harness_die "agent did not start: $(tail -n 2 "$H_DIR/small/agent.log")"
agent_start full || harness_die "agent did not start: $(tail -n 2 "$H_DIR/full/agent.log")"

spool_put small EQ1 1 2 3
spool_put full EQ2 1 2 3
# The device's software may write the compact form itself.
mkdir -p "$H_DIR/small/staging"
printf '{"equipment":"EQ1","device_type":"FM","taken_at":"2026-11-21T10:00:00Z","seq":4,"dictionary":"%s","values":[4,"ok"]}' \
	"$DIGEST" >"$H_DIR/small/staging/c4.json" && mv "$H_DIR/small/staging/c4.json" "$H_DIR/small/spool/c4.json"
spool_put full EQ2 4
# A channel the dictionary does not list: the full form goes.
printf '{"equipment":"EQ1","device_type":"FM","taken_at":"2026-11-21T10:00:00Z","seq":5,"values":[{"group":"engine","channel":"oil","unit":"bar","value":5}]}' \
	>"$H_DIR/small/staging/c5.json" && mv "$H_DIR/small/staging/c5.json" "$H_DIR/small/spool/c5.json"
# Before the snapshot service runs, nothing is receipted: the outbox shows what goes out.
wait_outbox small 5 30 || tap_not_ok "5 entries in the outbox"
files=0 zipped=0
for f in "$H_DIR"/small/outbox/*.cms; do
	[ -f "$f" ] || continue
	files=$((files + 1))
	"$DBIN/smscms" inspect --in "$f" 2>&1 | grep -q 'encrypted content type.*compressedData' && zipped=$((zipped + 1))
done
[ "$files" -ge 4 ] && [ "$zipped" = "$files" ] &&
	tap_ok "every envelope in the outbox holds CompressedData (e2e.compress)" || tap_not_ok "outbox: $zipped of $files compressed"
svc_daemon_start "dictionaries = \"$DICTS\";"
svc_wait_count "select count(*) from t_snapshot" 9 60 || tap_not_ok "9 snapshots stored"
tap_is "$(stored_n EQ1) $(stored_n EQ2)" "5 4" "every snapshot of both agents is stored"
tap_is "$(rows EQ1 | sed 's/ 5:engine\/oil\/bar=5$//')" "$(rows EQ2)" \
	"compact+compressed snapshots (spooled full or compact) are stored with the rows of the full form"
tap_is "$(q "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id
            join t_device d on d.id = s.device_id where d.equipment = 'EQ1'
            and position(convert_to('\"dictionary\":\"$DIGEST\"', 'UTF8') in g.signed_data) > 0")" 4 \
	"the four snapshots the dictionary covers were signed in the compact form"
tap_is "$(q "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id
            join t_device d on d.id = s.device_id where d.equipment = 'EQ1'
            and position(convert_to('\"channel\":\"oil\"', 'UTF8') in g.signed_data) > 0")" 1 \
	"the one with an unlisted channel went in the full form"
wait_outbox small 0 30 && tap_ok "the compact snapshots are receipted: the outbox empties" ||
	tap_not_ok "outbox: $(outbox_n small)"
q "select reason, detail from t_dead_letter limit 3" | sed "s/^/# dead letter: /"
tap_is "$(q "select count(*) from t_dead_letter")" 0 "no dead letters"
tap_done
