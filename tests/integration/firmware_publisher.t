#!/usr/bin/env bash
# Firmware rollouts, vendor side (issue 13, docs/firmware.md): sms-firmware
# release create signs the manifest as vendor-firmware-signer and keeps the
# content key only wrapped for the publisher; sms-publisherd publishes the
# release once (retained) and offers it per device, with rate, phases,
# abort threshold, deadline, pause/resume/abort and re-offers; forged status
# reports are refused; a publisher killed with -9 mid-rollout carries on
# without offering finished devices again. Devices are
# tests/harness/sms_test_fw_device.c processes (the common firmware modules
# on the device side), against the real broker with sms_auth and PostgreSQL.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
harness_init
svc_setup
FW=$DBIN/sms-firmware PUBD=$DBIN/sms-publisherd DEVICE=$DBIN/../tests/sms-test-fw-device
for b in "$FW" "$PUBD" "$DEVICE"; do [ -x "$b" ] || harness_die "$b not built"; done
grep -q vendor-firmware-service "$H_DIR/sms_auth.conf" 2>/dev/null || harness_die "the suite needs the sms_auth plugin"
harness_pki service vendor-firmware-service >/dev/null && harness_pki service vendor-firmware-signer >/dev/null ||
	harness_die "sms-pki service failed"

# Devices: account 000001/00001 FM (EQ1 EQ2 EQ4 EQ5 EQ6) and one of other hardware (EQX);
# 000002/00007/EQ3 FM; FMX devices that fail; FMS devices that never answer.
add_device() { # MA ACC EQ TYPE
	q "INSERT INTO t_master_account (name) VALUES ('$1') ON CONFLICT DO NOTHING;
	   INSERT INTO t_account (master_account_id, name) SELECT id, '$2' FROM t_master_account WHERE name = '$1'
	     ON CONFLICT DO NOTHING;
	   INSERT INTO t_device_type (name) VALUES ('$4') ON CONFLICT DO NOTHING;
	   INSERT INTO t_device (account_id, device_type_id, equipment)
	     SELECT a.id, t.id, '$3' FROM t_account a JOIN t_master_account m ON m.id = a.master_account_id,
	            t_device_type t WHERE m.name = '$1' AND a.name = '$2' AND t.name = '$4';" >/dev/null
}
for d in "000001 00001 EQ4" "000001 00001 EQ5" "000001 00001 EQ6" "000001 00001 EQX" \
	"000003 00001 F1" "000003 00001 F2" "000003 00001 F3" "000003 00001 F4" \
	"000004 00001 S1" "000004 00001 S2" "000004 00001 S3"; do
	set -- $d
	[ -d "$P/tls/ma/$1" ] || harness_pki master "$1" >/dev/null || harness_die "sms-pki master $1 failed"
	[ -d "$P/tls/ma/$1/acc/$2" ] || harness_pki account "$1" "$2" >/dev/null || harness_die "sms-pki account failed"
	harness_pki device "$1" "$2" "$3" >/dev/null || harness_die "sms-pki device $d failed"
done
# The broker reads the new CAs (intermediates, CRLs) at start.
harness_mosquitto_stop
harness_mosquitto_start_again
for d in "000001 00001 EQ1 FM" "000001 00001 EQ2 FM" "000001 00001 EQ4 FM" "000001 00001 EQ5 FM" \
	"000001 00001 EQ6 FM" "000001 00001 EQX OTHER" "000002 00007 EQ3 FM" \
	"000003 00001 F1 FMX" "000003 00001 F2 FMX" "000003 00001 F3 FMX" "000003 00001 F4 FMX" \
	"000004 00001 S1 FMS" "000004 00001 S2 FMS" "000004 00001 S3 FMS"; do
	add_device $d
done

# Database roles: one login per program, in its group role.
"$DBIN/sms-db" roles --conninfo "$H_PG_CONNINFO" >/dev/null || harness_die "sms-db roles failed"
q "CREATE ROLE publisherd LOGIN IN ROLE sms_publisherd; CREATE ROLE fwops LOGIN IN ROLE sms_firmware;" >/dev/null
FWDB="host=127.0.0.1 port=$PGPORT dbname=sms user=fwops"
fw() { "$FW" --conninfo "$FWDB" --quiet "$@"; }

# --- the publisher
SIGNER=$P/e2e/services/roles/vendor-firmware-signer PUBE2E=$P/e2e/services/roles/vendor-firmware-service
PUBTLS=$P/tls/services/roles/vendor-firmware-service
mkdir -p "$H_DIR/pub/metrics"
cat >"$H_DIR/pub/publisherd.conf" <<CONF
broker = { host = "127.0.0.1"; port = $H_MQ_PORT; cafile = "$P/tls/root/ca.crt";
           cert = "$PUBTLS/fullchain.pem"; key = "$PUBTLS/key.pem"; keepalive = 10; };
e2e = { cert = "$PUBE2E/cert.pem"; key = "$PUBE2E/key.pem"; chain = "$PUBE2E/chain.pem";
        trust_root = "$P/e2e/root/ca.crt"; crls = [ "$P/e2e/crls.pem" ]; ca_certs = [ "$P/e2e/cas.pem" ];
        services_ca = "$P/e2e/services/ca.crt"; device_certs = "$P/e2e"; };
database = { conninfo = "host=127.0.0.1 port=$PGPORT dbname=sms user=publisherd"; };
poll_interval = 1;
reoffer_interval = 2;
metrics = { dir = "metrics"; interval = 1; };
CONF
PUBLOG=$H_DIR/publisherd.log
pub_start() {
	"$PUBD" --config "$H_DIR/pub/publisherd.conf" --verbose >>"$PUBLOG" 2>&1 &
	PUB=$!
	H_PIDS+=("$PUB")
	wait_for "$PUBLOG" 'started: firmware rollouts' "$(( $(grep -c 'started: firmware rollouts' "$PUBLOG" 2>/dev/null) + 1 ))"
}
pub_stop() { kill -"${1:-TERM}" "$PUB" 2>/dev/null; wait "$PUB" 2>/dev/null; }
wait_for() { # FILE PATTERN N: until FILE has N lines matching PATTERN (20 s)
	local i
	for i in $(seq 1 100); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ] && return 0
		sleep 0.2
	done
	return 1
}

# --- the devices (one process each, for the whole suite)
device() { # MA ACC EQ MODE
	local t=$P/tls/ma/$1/acc/$2/dev/$3 e=$P/e2e/ma/$1/acc/$2/dev/$3
	harness_bg "dev-$3" "$DEVICE" device --tls-dir "$t" --e2e-dir "$e" --equipment "$1/$2/$3" \
		--tls-root "$P/tls/root/ca.crt" --e2e-root "$P/e2e/root/ca.crt" --services-ca "$P/e2e/services/ca.crt" \
		--port "$H_MQ_PORT" --mode "$4"
}
for d in "000001 00001 EQ1" "000001 00001 EQ2" "000001 00001 EQ4" "000001 00001 EQ5" "000001 00001 EQ6" \
	"000001 00001 EQX" "000002 00007 EQ3"; do device $d succeed; done
for d in F1 F2 F3 F4; do device 000003 00001 $d fail; done
for d in S1 S2 S3; do device 000004 00001 $d silent; done
for d in EQ1 EQ2 EQ3 EQ4 EQ5 EQ6 EQX F1 F2 F3 F4 S1 S2 S3; do
	wait_for "$H_DIR/dev-$d.log" '^connected' || harness_die "device $d did not connect"
done

state_of() { q "SELECT state FROM t_fw_rollout_device WHERE rollout_id = $1 AND equipment = '$2'"; }
states() { q "SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM (SELECT state, count(*) n
	FROM t_fw_rollout_device WHERE rollout_id = $1 GROUP BY state) s"; }
wait_states() { # ROLLOUT WANT [SECONDS]
	local i got
	for i in $(seq 1 $((${3:-30} * 5))); do
		got=$(states "$1"); [ "$got" = "$2" ] && return 0
		sleep 0.2
	done
	echo "# rollout $1: got '$got', want '$2'"
	return 1
}
rollout_state() { q "SELECT state || coalesce('/' || end_reason, '') FROM t_fw_rollout WHERE id = $1"; }
wait_rollout() { # ROLLOUT WANT
	local i
	for i in $(seq 1 50); do [ "$(rollout_state "$1")" = "$2" ] && return 0; sleep 0.2; done
	echo "# rollout $1: $(rollout_state "$1"), want $2"
	return 1
}
new_rollout() { fw rollout create "$@" | sed -n 's/^rollout \([0-9]*\):.*/\1/p'; }

# ---------------------------------------------------------------- releases
head -c 700000 /dev/urandom >"$H_DIR/image-1.bin"
head -c 300000 /dev/urandom >"$H_DIR/image-2.bin"
rel() { # IMAGE VERSION HARDWARE...
	local img=$1 v=$2; shift 2
	local hw=() h
	for h in "$@"; do hw+=(--hardware "$h"); done
	fw release create "$img" --package fm-controller --version "$v" "${hw[@]}" --min-version 1 \
		--requires "bootloader>=3" --expires +30d --piece-size 65536 \
		--signer-cert "$SIGNER/cert.pem" --signer-key "$SIGNER/key.pem" --signer-chain "$SIGNER/chain.pem" \
		--publisher-cert "$PUBE2E/cert.pem"
}
out=$(rel "$H_DIR/image-1.bin" 42 FM FMX FMS 2>&1)
tap_is "$out" "$(printf 'release fm-controller-42: 700000 bytes, 11 pieces of 65536 bytes, manifest %s bytes, expires %s' \
	"$(q "SELECT length(manifest) FROM t_fw_release WHERE release = 'fm-controller-42'")" \
	"$(q "SELECT to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM t_fw_release")")" \
	"release create: one line with the release, pieces and manifest size"
q "SELECT encode(manifest, 'hex') FROM t_fw_release WHERE release = 'fm-controller-42'" | xxd -r -p >"$H_DIR/manifest.der"
tap_check "the stored manifest is SignedData that verifies against the E2E root (openssl cms)" \
	openssl cms -verify -binary -inform DER -in "$H_DIR/manifest.der" -CAfile "$P/e2e/root/ca.crt" \
	-purpose any -out "$H_DIR/manifest.json"
tap_is "$(openssl cms -cmsout -print -inform DER -in "$H_DIR/manifest.der" | grep -A1 'subject:' | grep -c 'CN=vendor-firmware-signer')" 1 \
	"... signed by CN=vendor-firmware-signer"
tap_is "$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["release"], m["version"], m["size"], len(m["pieces"]), m["hardware"], m["requires"])' "$H_DIR/manifest.json")" \
	"fm-controller-42 42 700000 11 ['FM', 'FMX', 'FMS'] [{'package': 'bootloader', 'min_version': 3}]" \
	"... its content is the manifest of docs/firmware.md"
q "SELECT encode(wrapped_key, 'hex') FROM t_fw_release WHERE release = 'fm-controller-42'" | xxd -r -p >"$H_DIR/wrapped.der"
tap_check_fails "the wrapped key does not open with the signer's own key" \
	"$DBIN/smscms" decrypt --cert "$SIGNER/cert.pem" --key "$SIGNER/key.pem" --in "$H_DIR/wrapped.der"
"$DBIN/smscms" decrypt --cert "$PUBE2E/cert.pem" --key "$PUBE2E/key.pem" --trust-root "$P/e2e/root/ca.crt" \
	--show-originator --in "$H_DIR/wrapped.der" --out "$H_DIR/key.bin" 2>"$H_DIR/originator.txt"
KEYHEX=$(od -An -v -tx1 "$H_DIR/key.bin" | tr -d ' \n')
tap_is "${#KEYHEX}" 64 "the publisher opens the wrapped key: 32 bytes"
tap_is "$(grep -c 'CN=vendor-firmware-signer' "$H_DIR/originator.txt")" 1 "... wrapped by the signer"
pg_dump -h 127.0.0.1 -p "$PGPORT" -U sms --data-only sms >"$H_DIR/dump.sql"
tap_is "$(grep -c "$KEYHEX" "$H_DIR/dump.sql")" 0 "the content key appears nowhere in the database in clear"
tap_check_fails "a version is never reused" rel "$H_DIR/image-2.bin" 42 FM
tap_check "a second release, for other hardware" rel "$H_DIR/image-2.bin" 43 OTHER
out=$("$FW" --conninfo "$FWDB" release create "$H_DIR/image-2.bin" --package fm-controller --version 43 \
	--hardware FM --signer-cert "$PUBE2E/cert.pem" --signer-key "$PUBE2E/key.pem" \
	--publisher-cert "$PUBE2E/cert.pem" 2>&1)
tap_is "$?:$out" "1:sms-firmware: --signer-cert $PUBE2E/cert.pem: not the role vendor-firmware-signer (devices would refuse it)" \
	"the online publisher key cannot make a release (one line, exit 1)"

# ---------------------------------------------------------------- offline release, import
flip() { python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(b)' "$1" "$2"; }
out=$("$FW" --conninfo "host=/nonexistent" --quiet release create "$H_DIR/image-2.bin" --package fm-controller \
	--version 44 --hardware FM --piece-size 65536 --out "$H_DIR/bundle" \
	--signer-cert "$SIGNER/cert.pem" --signer-key "$SIGNER/key.pem" --signer-chain "$SIGNER/chain.pem" \
	--publisher-cert "$PUBE2E/cert.pem" 2>&1)
tap_is "$?:$(ls "$H_DIR/bundle" | paste -sd' ')" "0:key.cms manifest.der pieces.bin" \
	"release create --out: the signed bundle, written without any database (offline signing host)"
imp() { fw release import "$1" --e2e-root "$P/e2e/root/ca.crt" --services-ca "$P/e2e/services/ca.crt"; }
cp -a "$H_DIR/bundle" "$H_DIR/bad-piece" && flip "$H_DIR/bad-piece/pieces.bin" 70000
out=$(imp "$H_DIR/bad-piece" 2>&1)
tap_is "$?:$out" "1:sms-firmware: ciphertext: piece 1 is short or does not match the manifest's digest" \
	"release import: a changed ciphertext byte is refused (piece digest)"
cp -a "$H_DIR/bundle" "$H_DIR/bad-manifest" && flip "$H_DIR/bad-manifest/manifest.der" 200
tap_check_fails "release import: a changed manifest is refused (signature)" imp "$H_DIR/bad-manifest"
tap_is "$(q "SELECT count(*) FROM t_fw_release WHERE release = 'fm-controller-44'")" 0 "... and nothing was stored"
out=$(imp "$H_DIR/bundle" 2>&1)
tap_is "$?:${out%%,*}" "0:release fm-controller-44 imported: 300000 bytes" "release import: the intact bundle is stored"
tap_is "$(q "SELECT encode(manifest, 'hex') FROM t_fw_release WHERE release = 'fm-controller-44'")" \
	"$(od -An -v -tx1 "$H_DIR/bundle/manifest.der" | tr -d ' \n')" "... with the manifest exactly as signed"

# ---------------------------------------------------------------- a device target
pub_start
R1=$(new_rollout fm-controller-42 --target device:000002/00007/EQ3)
tap_check "device target: EQ3 succeeds" wait_states "$R1" "succeeded=1"
tap_is "$(grep -c '^done rollout='"$R1"' image=ok' "$H_DIR/dev-EQ3.log")" 1 \
	"... after fetching the retained pieces, checking each digest, the GCM tag and the image SHA-256"
tap_is "$(fw device history 000002/00007/EQ3 | awk 'NR > 1 { print $4 "->" $5 }' | paste -sd' ')" \
	"-->queued queued->offered offered->downloading downloading->verified verified->installing installing->succeeded" \
	"device history: every transition, with its time"
tap_check "... and the rollout is finished (completed)" wait_rollout "$R1" finished/completed
metric() { awk -v k="$1" '$1 == k { print $2 }' "$H_DIR/pub/metrics/sms-publisherd.prom"; }
sleep 1.5
tap_is "$(metric sms_publisherd_pieces_published_total)" 11 "the release's 11 pieces were published once"
retained=$(mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" \
	--cert "$P/tls/ma/000001/acc/00001/dev/EQ1/fullchain.pem" --key "$P/tls/ma/000001/acc/00001/dev/EQ1/key.pem" \
	-i "000001/00001/EQ1@retained-$$" -t 'sms/firmware/fm-controller-42/#' -F '%t' -W 3 2>/dev/null | sort | paste -sd' ')
tap_is "$retained" "$(printf 'sms/firmware/fm-controller-42/%s\n' 0 1 10 2 3 4 5 6 7 8 9 manifest | sort | paste -sd' ')" \
	"any device reads the release retained on sms/firmware/<release>/ (manifest and pieces)"

# ---------------------------------------------------------------- account target, phases, rate
R2=$(new_rollout fm-controller-42 --target account:000001/00001 --phase 40%,100% --rate 60/min)
tap_is "$(q "SELECT count(*) FROM t_fw_rollout_device WHERE rollout_id = $R2")" 5 \
	"account target: its 5 FM devices, not the one of other hardware"
tap_check "... all succeed" wait_states "$R2" "succeeded=5" 40
phase2_first_offer=$(q "SELECT min(t.at) FROM t_fw_transition t JOIN t_fw_rollout_device d USING (rollout_id, equipment)
	WHERE t.rollout_id = $R2 AND t.to_state = 'offered' AND d.seq >= 2")
phase1_last_end=$(q "SELECT max(t.at) FROM t_fw_transition t JOIN t_fw_rollout_device d USING (rollout_id, equipment)
	WHERE t.rollout_id = $R2 AND t.to_state = 'succeeded' AND d.seq < 2")
tap_is "$(q "SELECT '$phase2_first_offer'::timestamptz > '$phase1_last_end'::timestamptz")" t \
	"phase 2 (100%) opened only after both devices of phase 1 (40% of 5) finished"
tap_is "$(q "SELECT bool_and(gap >= 0.9) FROM (SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY at)) gap
	FROM t_fw_transition WHERE rollout_id = $R2 AND to_state = 'offered') s WHERE gap IS NOT NULL")" t \
	"rate 60/min: offers at least a second apart"

# ---------------------------------------------------------------- master and type targets
R3=$(new_rollout fm-controller-42 --target master:000002)
tap_check "master target: the master account's device succeeds" wait_states "$R3" "succeeded=1"
R4=$(new_rollout fm-controller-43 --target type:OTHER)
tap_check "device type target: the one OTHER device succeeds" wait_states "$R4" "succeeded=1"
tap_is "$(q "SELECT equipment FROM t_fw_rollout_device WHERE rollout_id = $R4")" 000001/00001/EQX "... and only it"
out=$(fw rollout create fm-controller-42 --target type:NOPE 2>&1)
tap_is "$?:$out" "1:sms-firmware: release fm-controller-42 is not built for device type NOPE" \
	"a type the release is not built for is refused"

# ---------------------------------------------------------------- abort threshold after a phase
R5=$(new_rollout fm-controller-42 --target type:FMX --phase 50%,100% --abort-failures 10% --rate 600/min)
tap_check "abort threshold: phase 1 fails (2 of 2 > 10%), the other 2 devices are aborted unoffered" \
	wait_states "$R5" "aborted=2 failed=2" 30
tap_check "... the rollout is aborted (abort_threshold)" wait_rollout "$R5" aborted/abort_threshold
tap_is "$(q "SELECT count(*) FROM t_fw_transition t JOIN t_fw_rollout_device d USING (rollout_id, equipment)
	WHERE t.rollout_id = $R5 AND d.seq >= 2 AND t.to_state = 'offered'")" 0 "... phase 2 was never offered"
tap_is "$(q "SELECT string_agg(DISTINCT code::text, ',') FROM t_fw_rollout_device WHERE rollout_id = $R5 AND state = 'failed'")" 34 \
	"failed devices carry their RFC 4108 code (badFirmware 34)"

# ---------------------------------------------------------------- deadline and re-offers
R6=$(new_rollout fm-controller-42 --target device:000004/00001/S1 --deadline +6s)
tap_check "deadline: the silent device is timed_out" wait_states "$R6" "timed_out=1" 20
tap_check "... the rollout is finished (deadline)" wait_rollout "$R6" finished/deadline
tap_check "a device that does not answer is offered again (reoffer_interval 2 s)" \
	test "$(grep -c "^offer rollout=$R6 " "$H_DIR/dev-S1.log")" -ge 2

# ---------------------------------------------------------------- pause, resume, abort
pub_stop
R7=$(new_rollout fm-controller-42 --target account:000001/00001 --rate 600/min)
tap_is "$(fw rollout pause "$R7")" "rollout $R7: paused" "rollout pause"
pub_start
sleep 3
tap_is "$(states "$R7")" "queued=5" "a paused rollout gets no offers"
tap_is "$(fw rollout resume "$R7")" "rollout $R7: running" "rollout resume"
tap_check "... then its devices succeed" wait_states "$R7" "succeeded=5" 30
R8=$(new_rollout fm-controller-42 --target type:FMS)
tap_check "silent devices are offered" wait_states "$R8" "offered=3" 15
tap_is "$(fw rollout abort "$R8")" "rollout $R8: aborted" "rollout abort"
tap_check "... every unfinished device is aborted" wait_states "$R8" "aborted=3" 10
out=$(fw rollout resume "$R8" 2>&1)
tap_is "$?:$out" "1:sms-firmware: rollout $R8: no such rollout, or it is not paused" "an aborted rollout stays aborted"
st=$(fw rollout status "$R7")
tap_check "rollout status: a table per state with counts and a progress bar" \
	grep -Eq '^succeeded +5 \[#{40}\]$' <<<"$st"
tap_check "... and the progress line" grep -Eq '^progress \[#{50}\] 5/5 done \(100%\)$' <<<"$st"
grep -Eq '^progress' <<<"$st" || printf '%s\n' "$st" | sed 's/^/#   /'

# ---------------------------------------------------------------- forged status reports
R9=$(new_rollout fm-controller-42 --target type:FMS --rate 600/min)
tap_check "a rollout of silent devices waits in offered" wait_states "$R9" "offered=3" 15
INJ=$P/tls/services/roles/sms-test-injector
S1E=$P/e2e/ma/000004/acc/00001/dev/S1 S2E=$P/e2e/ma/000004/acc/00001/dev/S2
report() { # TLS_DIR CLIENT_ID SIGN_DIR TOPIC_EQ EQUIPMENT STATE [--tamper]
	"$DEVICE" report --tls-dir "$1" --client-id "$2" --sign-dir "$3" --topic-equipment "$4" --equipment "$5" \
		--rollout "$R9" --release fm-controller-42 --state "$6" ${7:-} --tls-root "$P/tls/root/ca.crt" \
		--port "$H_MQ_PORT"
}
refused_before=$(grep -c 'firmware status on .* refused' "$PUBLOG")
report "$INJ" "role:sms-test-injector@fw1" "$S2E" 000004/00001/S1 000004/00001/S1 succeeded
report "$INJ" "role:sms-test-injector@fw2" "$S1E" 000004/00001/S2 000004/00001/S1 succeeded
report "$P/tls/ma/000004/acc/00001/dev/S1" "000004/00001/S1@fw3" "$S1E" 000004/00001/S1 000004/00001/S1 succeeded --tamper
tap_check "three forged reports are refused by the publisher" \
	wait_for "$PUBLOG" 'firmware status on .* refused' $((refused_before + 3))
tap_is "$(grep 'firmware status on 000004/00001/S1/firmware/status refused' "$PUBLOG" | grep -c "signed by CN=S2,.*, not by the topic's equipment")" 1 \
	"... another device's key on S1's topic"
tap_is "$(grep -c "firmware status on 000004/00001/S2/firmware/status refused: .*signed by CN=S1,.*, not by the topic's equipment" "$PUBLOG")" 1 \
	"... S1's own report on another equipment's topic"
tap_is "$(grep 'firmware status on 000004/00001/S1/firmware/status refused' "$PUBLOG" | grep -c 'signature')" 1 \
	"... a report whose signature was changed"
tap_is "$(states "$R9")" "offered=3" "no forged report moved a device"
report "$P/tls/ma/000004/acc/00001/dev/S1" "000004/00001/S1@fw4" "$S1E" 000004/00001/S1 000004/00001/S1 succeeded
tap_check "S1's genuine report is accepted (the forgeries failed for what they forged)" \
	wait_states "$R9" "offered=2 succeeded=1" 10
fw rollout abort "$R9" >/dev/null

# ---------------------------------------------------------------- kill -9 mid-rollout
R10=$(new_rollout fm-controller-42 --target account:000001/00001 --rate 30/min)
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM t_fw_rollout_device WHERE rollout_id = $R10 AND state = 'succeeded'")" -ge 2 ] && break
	sleep 0.2
done
pub_stop KILL
finished_before=$(q "SELECT count(*) FROM t_fw_rollout_device WHERE rollout_id = $R10 AND state = 'succeeded'")
tap_check "publisher killed (-9) with 2..4 of 5 devices finished" test "$finished_before" -ge 2 -a "$finished_before" -le 4
pub_start
tap_check "after the restart the rollout completes" wait_states "$R10" "succeeded=5" 40
tap_is "$(q "SELECT max(offers) FROM t_fw_rollout_device WHERE rollout_id = $R10")" 1 \
	"no device was offered twice (finished ones were not offered again)"
n=0
for d in EQ1 EQ2 EQ4 EQ5 EQ6; do n=$((n + $(grep -c "^offer rollout=$R10 " "$H_DIR/dev-$d.log"))); done
tap_is "$n" 5 "... as the devices saw it: 5 offers for 5 devices"
tap_is "$(q "SELECT count(*) FROM t_fw_transition WHERE rollout_id = $R10")" 30 \
	"every transition stored once: 6 per device (entered, offered, downloading, verified, installing, succeeded)"

pub_stop
tap_is "$?" 0 "SIGTERM: sms-publisherd exits 0"
tap_done
