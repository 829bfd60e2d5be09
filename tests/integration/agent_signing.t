#!/usr/bin/env bash
# Signed snapshots (issue 12): sms-agent with e2e.sign_snapshots puts
# SignedData(JSON), signed with the device's E2E key, inside the envelope;
# sms-snapshotd verifies it (chain to the E2E root, signer = originator =
# the topic's equipment), stores the SignedData with the snapshot, and
# receipts it. OpenSSL verifies what is stored, and sms-snapshotd takes a
# SignedData OpenSSL made. A snapshot signed by another device is a dead
# letter; with e2e.require_signature an unsigned one is too, and stays in
# its agent's outbox (never receipted).
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
SMSCMS=$DBIN/smscms
E1=$P/e2e/ma/000001/acc/00001/dev/EQ1
E2=$P/e2e/ma/000001/acc/00001/dev/EQ2
T1=$P/tls/ma/000001/acc/00001/dev/EQ1
ROOT=$P/e2e/root/ca.crt
agent_conf signer 000001 00001 EQ1
sed -i '/^e2e = {/a\  sign_snapshots = true;' "$H_DIR/signer/agent.conf"
agent_conf plain 000001 00001 EQ2
signed_n() { q "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id join t_device d on d.id = s.device_id where d.equipment = '$1'"; }
stored_n() { q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = '$1'"; }
dead() { q "select count(*) from t_dead_letter where reason = '$1'"; }
publish_as() { # TLS-dir topic dir
	"$DBIN/sms-devicesim" --host 127.0.0.1 --port "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
		--cert "$1/fullchain.pem" --key "$1/key.pem" --topic "$2" --from "$3" >>"$H_DIR/pub.log" 2>&1
}
json() { # EQ SEQ
	printf '{"equipment":"%s","device_type":"FM","taken_at":"2026-11-22T10:00:00Z","seq":%d,"values":[{"group":"engine","channel":"operating_hours","unit":"h","value":1}]}' "$1" "$2"
}
# SignedData by LEAF (OpenSSL's own CMS code) over EQ1's JSON, in an
# envelope from EQ1: what a device built with another toolkit would send.
openssl_signed() { # NAME LEAF SEQ
	mkdir -p "$H_DIR/o/$1"
	json EQ1 "$3" >"$H_DIR/o/$1.json"
	openssl cms -sign -binary -nodetach -md sha256 -signer "$2/cert.pem" -inkey "$2/key.pem" \
		-certfile "$2/chain.pem" -in "$H_DIR/o/$1.json" -outform DER -out "$H_DIR/o/$1.sd" &&
	"$SMSCMS" encrypt --cert "$E1/cert.pem" --key "$E1/key.pem" --chain "$E1/chain.pem" --signed \
		--recipient "$VSS/cert.pem" --in "$H_DIR/o/$1.sd" --out "$H_DIR/o/$1/000001.cms"
}

svc_daemon_start
agent_start signer || harness_die "signer agent did not start: $(tail -n 2 "$H_DIR/signer/agent.log")"
agent_start plain || harness_die "plain agent did not start: $(tail -n 2 "$H_DIR/plain/agent.log")"

# --- Signed by the agent: stored, marked signed, receipted.
spool_put signer EQ1 $(seq 1 5)
spool_put plain EQ2 $(seq 1 5)
svc_wait_count "select count(*) from t_snapshot" 10 60
tap_is "$(stored_n EQ1) $(signed_n EQ1)" "5 5" "the signing agent's 5 snapshots are stored, each with its signature"
tap_is "$(stored_n EQ2) $(signed_n EQ2)" "5 0" "the plain agent's 5 snapshots are stored, none marked signed"
tap_is "$(q "select count(*) from t_snapshot_signature where signer like '%serialNumber=EQ1%' and signing_time > now() - interval '1 hour'")" 5 \
	"each signature names EQ1 as signer and has its signing time"
wait_outbox signer 0 30 && tap_ok "signed snapshots are receipted: the signer's outbox empties" ||
	tap_not_ok "signer outbox: $(outbox_n signer)"
tap_is "$(dead signature)$(dead signer_mismatch)" "00" "no signature dead letters for good traffic"

# --- A third party checks the stored signature with OpenSSL alone.
q "select encode(signed_data, 'hex') from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id where s.seq = 3" |
	xxd -r -p >"$H_DIR/seq3.sd"
if openssl cms -verify -binary -inform DER -in "$H_DIR/seq3.sd" -CAfile "$ROOT" -purpose any \
	-out "$H_DIR/seq3.json" 2>"$H_DIR/seq3.err"; then
	tap_ok "openssl cms -verify accepts the stored SignedData against the E2E root"
else
	tap_not_ok "openssl cms -verify: $(cat "$H_DIR/seq3.err")"
fi
grep -q '"equipment":"EQ1".*"seq":3' "$H_DIR/seq3.json" && tap_ok "... and its content is EQ1's snapshot 3" ||
	tap_not_ok "verified content: $(head -c 200 "$H_DIR/seq3.json")"
openssl cms -cmsout -print -inform DER -in "$H_DIR/seq3.sd" >"$H_DIR/seq3.txt" 2>&1
for a in contentType messageDigest signingTime; do
	grep -q "object: $a" "$H_DIR/seq3.txt" && tap_ok "signed attribute $a present" || tap_not_ok "no $a attribute"
done

# --- Interop the other way, and a signer that is not the originator.
openssl_signed own "$E1" 101 && openssl_signed other "$E2" 102 || tap_not_ok "building the OpenSSL-signed envelopes"
publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/o/own"
publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/o/other"
svc_wait_count "select count(*) from t_snapshot where seq = 101" 1 30
tap_is "$(q "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id where s.seq = 101")" 1 \
	"a SignedData made by openssl cms -sign with EQ1's key is verified and stored as signed"
svc_wait_count "select count(*) from t_dead_letter where reason = 'signer_mismatch'" 1 30
tap_is "$(dead signer_mismatch)" 1 "EQ1's envelope holding a snapshot signed by EQ2 is a dead letter (signer_mismatch)"
tap_is "$(q "select count(*) from t_snapshot where seq = 102")" 0 "... and nothing of it is stored"
grep -q "signer .*EQ2.* is not the originator" "$H_DIR/snapshotd.log" && tap_ok "the log line names the wrong signer" ||
	tap_not_ok "no log line naming EQ2 as signer"

# --- A signature that does not verify (one byte of the signed content flipped).
mkdir -p "$H_DIR/o/tampered"
perl -0777 -pe 's/"seq":101/"seq":109/' "$H_DIR/o/own.sd" >"$H_DIR/o/tampered.sd"
cmp -s "$H_DIR/o/own.sd" "$H_DIR/o/tampered.sd" && tap_not_ok "tampering changed nothing"
"$SMSCMS" encrypt --cert "$E1/cert.pem" --key "$E1/key.pem" --chain "$E1/chain.pem" --signed \
	--recipient "$VSS/cert.pem" --in "$H_DIR/o/tampered.sd" --out "$H_DIR/o/tampered/000001.cms"
publish_as "$T1" 000001/00001/EQ1/snapshots "$H_DIR/o/tampered"
svc_wait_count "select count(*) from t_dead_letter where reason = 'signature'" 1 30
tap_is "$(dead signature) $(q "select count(*) from t_snapshot where seq = 109")" "1 0" \
	"a tampered SignedData is a dead letter (signature), nothing stored"

# --- require_signature: unsigned snapshots become dead letters, signed ones still pass.
svc_daemon_stop TERM
sed '/^e2e = {/a\  require_signature = true;' "$H_DIR/snapshotd.conf" >"$H_DIR/snapshotd-req.conf"
SVC_CONF=$H_DIR/snapshotd-req.conf svc_daemon_start
spool_put plain EQ2 $(seq 11 13)
spool_put signer EQ1 $(seq 11 13)
svc_wait_count "select count(*) from t_dead_letter where reason = 'unsigned'" 3 60
tap_is "$(dead unsigned)" 3 "require_signature: the plain agent's 3 snapshots are dead letters (unsigned)"
tap_is "$(q "select count(*) from t_snapshot s join t_device d on d.id = s.device_id where d.equipment = 'EQ2' and seq > 10")" 0 \
	"... none of them stored"
grep -q "e2e.require_signature is set" "$H_DIR/snapshotd.log" && tap_ok "the reason says require_signature is set" ||
	tap_not_ok "no require_signature reason in the log"
svc_wait_count "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id join t_device d on d.id = s.device_id where d.equipment = 'EQ1' and s.seq between 11 and 13" 3 60 &&
	tap_ok "require_signature: the signing agent's 3 snapshots are stored as signed" ||
	tap_not_ok "require_signature: signed EQ1 snapshots $(signed_n EQ1)"
wait_outbox signer 0 30 && tap_ok "... and receipted" || tap_not_ok "signer outbox: $(outbox_n signer)"
sleep 1
tap_is "$(outbox_n plain)" 3 "the unsigned ones stay in the plain agent's outbox (a dead letter is never receipted)"
agent_stop signer; tap_is "$?" 0 "signing agent exits 0 on SIGTERM"
agent_stop plain

# --- Clock skew: the signing agent's clock 20 days ahead (libfaketime; the
# certificates and CRLs are still valid then). Its signing times are its
# own claim: stored as signed, not refused; its receipts verify and match.
# libfaketime preloaded through env (which execs): the agent keeps its pid for signals.
FT=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n 1)
[ -n "$FT" ] || harness_die "libfaketime not installed (faketime in scripts/bootstrap)"
# A sanitizer build wants its runtime first in the preload list.
ASAN_RT=$(ldd "$DBIN/sms-agent" | awk '/libasan\.so/ { print $3 }')
AGENT_WRAP="env LD_PRELOAD=${ASAN_RT:+$ASAN_RT:}$FT FAKETIME=+20d" agent_start signer || harness_die "skewed agent did not start"
spool_put signer EQ1 $(seq 21 30)
svc_wait_count "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id join t_device d on d.id = s.device_id where d.equipment = 'EQ1' and s.seq between 21 and 30" 10 60 &&
	tap_ok "clock +20 days: the 10 snapshots are stored as signed" ||
	tap_not_ok "clock +20 days: stored signed $(signed_n EQ1)"
tap_is "$(q "select count(*) from t_snapshot_signature g join t_snapshot s on s.id = g.snapshot_id where s.seq between 21 and 30 and g.signing_time between now() + interval '19 days' and now() + interval '21 days'")" 10 \
	"... with the device's signing times, 20 days ahead"
wait_outbox signer 0 30 && tap_ok "... and the receipts verify on the skewed agent and empty its outbox" ||
	tap_not_ok "skewed outbox: $(outbox_n signer); $(grep 'refused a receipt' "$H_DIR/signer/agent.log" | tail -n 1)"
tap_is "$(grep -c 'refused a receipt' "$H_DIR/signer/agent.log")" 0 "no receipt refused"
agent_stop signer; tap_is "$?" 0 "skewed agent exits 0 on SIGTERM"
SVC_CONF=$H_DIR/snapshotd-req.conf svc_daemon_stop TERM
tap_is "$?" 0 "sms-snapshotd exits 0 on SIGTERM"
tap_done
