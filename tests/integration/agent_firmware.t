#!/usr/bin/env bash
# Firmware updates on the device (issue 13, docs/firmware.md): real broker
# with the sms_auth plugin, real sms-agent processes, the vendor side played
# by sms-test-firmware (the common/fw_* modules the publisher uses) and
# mosquitto_pub as vendor-firmware-service. Happy path (pieces, decryption,
# install into the inactive slot, current switched, signed reports that
# verify); every refusal with its RFC 4108 code (tampered piece and
# manifest, signers that are not vendor-firmware-signer, downgrade, replay,
# another device, other hardware, expired, dependencies, image too large);
# a revoked signer; kill -9 during the download (only the missing pieces are fetched) and
# during the install; a failing health check rolls back; a device offline
# during the offer installs when it is back; a 64 MiB image with the
# release agent's peak RSS under 16 MiB.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
# The broker's roles (tests/integration/testdata/sms_auth.conf.in, as in
# acl/sms_auth.conf): every client reads sms/firmware/#, the publisher
# writes releases and offers and reads the devices' reports.

harness_init
agent_setup
for r in vendor-firmware-signer vendor-firmware-service; do
	harness_pki service $r >/dev/null || harness_die "sms-pki service $r failed"
done
# A customer's CA issuing a certificate with the signer's name.
harness_pki client 000001 00001 vendor-firmware-signer >/dev/null || harness_die "sms-pki client failed"
TF=$H_BIN/../tests/sms-test-firmware
[ -x "$TF" ] || harness_die "sms-test-firmware not built"
SIGNER=$P/e2e/services/roles/vendor-firmware-signer
PUBE2E=$P/e2e/services/roles/vendor-firmware-service
PUBTLS=$P/tls/services/roles/vendor-firmware-service
FAKE=$P/e2e/ma/000001/acc/00001/clients/vendor-firmware-signer
EQ1=000001/00001/EQ1 EQ2=000001/00001/EQ2
DEV1=$P/e2e/ma/000001/acc/00001/dev/EQ1 DEV2=$P/e2e/ma/000001/acc/00001/dev/EQ2

# Hooks: the install hook copies and can be told to stall; the health hook
# fails while $H_DIR/unhealthy exists.
cat >"$H_DIR/install.sh" <<-HOOK
#!/bin/sh
cp "\$1" "\$2/image" || exit 1
echo \$\$ >"\$2/hook-started"
[ -f "$H_DIR/stall-install" ] && exec sleep 60
exit 0
HOOK
cat >"$H_DIR/health.sh" <<-HOOK
#!/bin/sh
echo \$\$ >"$H_DIR/health-started"
[ -f "$H_DIR/stall-health" ] && exec sleep 60
[ ! -f "$H_DIR/unhealthy" ]
HOOK
chmod 755 "$H_DIR/install.sh" "$H_DIR/health.sh"

fw_conf() { # NAME MAX_IMAGE
	printf 'firmware = { dir = "fw"; slots = "slots"; device_type = "FM"; window = 4; progress_every = 4;
	  install_hook = "%s"; health_hook = "%s"; hook_timeout = 120; max_image = %s;
	  versions = [ "fm-controller=1", "bootloader=3" ]; };\n' "$H_DIR/install.sh" "$H_DIR/health.sh" "$2" \
		>>"$H_DIR/$1/agent.conf"
}
agent_conf a1 000001 00001 EQ1 'metrics = { dir = "metrics"; interval = 1; };'
mkdir -p "$H_DIR/a1/metrics"
fw_conf a1 2097152
agent_conf a2 000001 00001 EQ2
fw_conf a2 134217728

pub() { # TOPIC FILE [retain]
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$PUBTLS/fullchain.pem" \
		--key "$PUBTLS/key.pem" -i "role:vendor-firmware-service@test-$$-$RANDOM" -q 1 ${3:+-r} -t "$1" -f "$2"
}
# release DIR VERSION [sms-test-firmware options]: signed by the firmware signer unless --cert is given.
release() {
	local d=$H_DIR/rel/$1 v=$2; shift 2
	mkdir -p "$d"
	"$TF" release --out "$d" --package fm-controller --version "$v" --hardware FM,FX --piece-size 65536 \
		--cert "$SIGNER/cert.pem" --key "$SIGNER/key.pem" --chain "$SIGNER/chain.pem" "$@" >/dev/null
}
publish_release() { # DIR VERSION [PIECES...]: manifest and the pieces (all by default), retained
	local d=$H_DIR/rel/$1 v=$2 n i; shift 2
	pub "sms/firmware/fm-controller-$v/manifest" "$d/manifest.der" r || return 1
	n=$(cat "$d/pieces")
	for i in ${@:-$(seq 0 $((n - 1)))}; do
		pub "sms/firmware/fm-controller-$v/$i" "$d/piece.$i" r || return 1
	done
}
offer() { # DIR VERSION ROLLOUT DEVCERTDIR EQUIPMENT [TOPIC_EQ]
	local f=$H_DIR/rel/$1/offer-$3.der
	"$TF" offer --out "$f" --key-file "$H_DIR/rel/$1/key.hex" --to "$4/cert.pem" --equipment "$5" --rollout "$3" \
		--release "fm-controller-$2" --package fm-controller --version "$2" \
		--cert "$PUBE2E/cert.pem" --key "$PUBE2E/key.pem" --chain "$PUBE2E/chain.pem" &&
		pub "${6:-$5}/firmware" "$f"
}

# Every report the devices send, kept as hex lines; verified by sms-test-firmware.
mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$PUBTLS/fullchain.pem" \
	--key "$PUBTLS/key.pem" -i "role:vendor-firmware-service@test-reports-$$" -q 1 -v -F '%t %x' \
	-t '+/+/+/firmware/status' >"$H_DIR/reports.raw" 2>"$H_DIR/reports.err" &
H_PIDS+=("$!")
sleep 0.5
reports() { # EQPATH: every report of that device, verified, one line each
	grep "^$1/firmware/status " "$H_DIR/reports.raw" | cut -d' ' -f2 |
		"$TF" status --root "$P/e2e/root/ca.crt" --equipment "$1"
}
wait_report() { # EQPATH PATTERN SECONDS
	local i
	for i in $(seq 1 $(($3 * 5))); do
		reports "$1" 2>/dev/null | grep -Eq -- "$2" && return 0
		sleep 0.2
	done
	echo "# reports of $1:"; reports "$1" 2>&1 | tail -n 5 | sed 's/^/#   /'
	return 1
}
current() { readlink "$H_DIR/$1/slots/current"; }
installed() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["installed"])' \
	"$H_DIR/$1/fw/state/fm-controller.json" 2>/dev/null || echo none; }
image() { # NAME BYTES: a random image
	head -c "$2" /dev/urandom >"$H_DIR/img-$1"
}

# --check-config: the firmware group is all there or refused with one line.
check_fw() { # EXPECTED_PATTERN FIRMWARE_GROUP
	local d=$H_DIR/cc out
	mkdir -p "$d" && agent_conf cc 000001 00001 EQ1 "$2"
	out=$("$DBIN/sms-agent" --config "$d/agent.conf" --check-config 2>&1)
	if [ "$1" = valid ]; then [ -z "$out" ]; else echo "$out" | grep -q -- "$1"; fi ||
		{ echo "# got: $out"; return 1; }
}
tap_check "--check-config accepts the suite's firmware group" check_fw valid "$(tail -n 3 "$H_DIR/a1/agent.conf")"
tap_check "--check-config: firmware.dir without slots" check_fw 'firmware.slots.*required' \
	'firmware = { dir = "fw"; device_type = "FM"; };'
tap_check "--check-config: firmware.dir without device_type" check_fw 'firmware.device_type.*required' \
	'firmware = { dir = "fw"; slots = "slots"; };'
tap_check "--check-config: a versions entry that is not package=version" check_fw 'firmware.versions.*entry 0' \
	'firmware = { dir = "fw"; slots = "slots"; device_type = "FM"; versions = [ "boot:3" ]; };'
tap_check "--check-config: an install hook that does not exist" check_fw 'install_hook' \
	'firmware = { dir = "fw"; slots = "slots"; device_type = "FM"; install_hook = "/nonexistent/hook"; };'

agent_start a1 || harness_die "a1 did not start: $(tail -n 3 "$H_DIR/a1/agent.log")"
tap_is "$(current a1)" a "the slots are prepared, current -> a"

# --- Happy path: v2, 20 pieces, installed into b.
image v2 1300000
release v2 2 --image "$H_DIR/img-v2" || harness_die "release v2"
publish_release v2 2 || harness_die "publish v2"
offer v2 2 1 "$DEV1" $EQ1 || harness_die "offer v2"
wait_report $EQ1 '^succeeded 1 fm-controller-2 installed=2$' 60 &&
	tap_ok "v2: the device reports succeeded, signed, installed_version 2" || tap_not_ok "v2 not succeeded"
tap_is "$(current a1)" b "v2: current switched to slot b"
cmp -s "$H_DIR/img-v2" "$H_DIR/a1/slots/b/image" && tap_ok "v2: slot b holds exactly the image" ||
	tap_not_ok "slot b differs from the image"
tap_is "$(reports $EQ1 | cut -d' ' -f1 | uniq | tr '\n' ' ')" "downloading verified installing succeeded " \
	"v2: the reports in order: downloading (progress), verified, installing, succeeded"
reports $EQ1 | grep -q '^downloading 1 fm-controller-2 20/20' && tap_ok "v2: progress reported up to 20/20" ||
	tap_not_ok "progress: $(reports $EQ1 | grep downloading | tr '\n' ';')"
reports $EQ1 >/dev/null && tap_ok "every report's signature and chain verify, signer = EQ1" ||
	tap_not_ok "a report does not verify: $(reports $EQ1 | grep REFUSED)"
tap_is "$(installed a1)" 2 "v2: the state store says installed 2"
M1=$H_DIR/a1/metrics/sms-agent.prom
harness_wait_metric "$M1" "sms_agent_firmware_reports_total{state='succeeded'}" 1.0 10 &&
	[ "$(harness_metric "$M1" 'sms_agent_firmware_phase{}')" = 0.0 ] &&
	tap_ok "metrics: one succeeded report, no rollout in progress" ||
	tap_not_ok "metrics: $(grep firmware "$M1" | grep -v '^#' | tr '\n' ' ')"
[ -z "$(ls "$H_DIR/a1/fw/work")" ] && tap_ok "v2: pieces and staging removed after the install" ||
	tap_not_ok "left in work/: $(ls "$H_DIR/a1/fw/work")"
# A report that was tampered with, or that claims another device, does not verify.
h=$(grep "^$EQ1/firmware/status " "$H_DIR/reports.raw" | tail -n 1 | cut -d' ' -f2)
echo "$h" | "$TF" status --root "$P/e2e/root/ca.crt" --equipment $EQ2 >/dev/null &&
	tap_not_ok "EQ1's report accepted for EQ2" || tap_ok "EQ1's report does not verify as EQ2's"

# refused ROLLOUT CODE DESC: the device answered rollout with rejected/failed CODE, current still $CUR.
refused() {
	local state=${4:-rejected}
	wait_report $EQ1 "^$state $1 fm-controller-[0-9]+ $2 " 30 && [ "$(current a1)" = "$CUR" ] &&
		tap_ok "$3: $state $2, current unchanged" || tap_not_ok "$3: no '$state $2' for rollout $1"
}
CUR=b

# --- Replay and downgrade.
pub "$EQ1/firmware" "$H_DIR/rel/v2/offer-1.der"
refused 1 stalePackage "replayed offer (the bytes of rollout 1 again)"
offer v2 2 2 "$DEV1" $EQ1
refused 2 stalePackage "an old release (v2 again) in a new rollout"
release v1 1 --image "$H_DIR/img-v2" && publish_release v1 1 && offer v1 1 3 "$DEV1" $EQ1
refused 3 stalePackage "downgrade to v1"

# --- Manifests the device must refuse (each before any piece is fetched).
image v3 300000
release v3 3 --image "$H_DIR/img-v3"
cp -r "$H_DIR/rel/v3" "$H_DIR/rel/v3t"
perl -0777 -pi -e 's/"FX"/"FY"/' "$H_DIR/rel/v3t/manifest.der"
cmp -s "$H_DIR/rel/v3/manifest.der" "$H_DIR/rel/v3t/manifest.der" && harness_die "manifest not tampered"
publish_release v3t 3 && offer v3t 3 4 "$DEV1" $EQ1
refused 4 signatureFailure "tampered manifest (hardware list changed after signing)"
release v3c 3 --image "$H_DIR/img-v3" --cert "$FAKE/cert.pem" --key "$FAKE/key.pem" --chain "$FAKE/chain.pem"
publish_release v3c 3 && offer v3c 3 5 "$DEV1" $EQ1
refused 5 notAuthorized "manifest signed by a customer CA's CN=vendor-firmware-signer"
release v3p 3 --image "$H_DIR/img-v3" --cert "$PUBE2E/cert.pem" --key "$PUBE2E/key.pem" --chain "$PUBE2E/chain.pem"
publish_release v3p 3 && offer v3p 3 6 "$DEV1" $EQ1
refused 6 notAuthorized "manifest signed by the online publisher key"
release v3h 3 --image "$H_DIR/img-v3" --hardware XY
publish_release v3h 3 && offer v3h 3 7 "$DEV1" $EQ1
refused 7 wrongHardware "release for other hardware"
release v3e 3 --image "$H_DIR/img-v3" --expires-in -60
publish_release v3e 3 && offer v3e 3 8 "$DEV1" $EQ1
refused 8 stalePackage "expired manifest"
release v3d 3 --image "$H_DIR/img-v3" --requires radio=2
publish_release v3d 3 && offer v3d 3 9 "$DEV1" $EQ1
refused 9 missingDependency "missing dependency (radio)"
release v3b 3 --image "$H_DIR/img-v3" --requires bootloader=5
publish_release v3b 3 && offer v3b 3 10 "$DEV1" $EQ1
refused 10 wrongDependencyVersion "dependency too old (bootloader 3 < 5)"
image big 2200000
release v3l 3 --image "$H_DIR/img-big"
publish_release v3l 3 && offer v3l 3 11 "$DEV1" $EQ1
refused 11 insufficientMemory "image larger than firmware.max_image"
harness_wait_metric "$M1" "sms_agent_firmware_reports_total{state='rejected'}" 11.0 10 &&
	tap_ok "metrics: the eleven rejections counted" ||
	tap_not_ok "metrics: $(grep 'reports_total{' "$M1" | tr '\n' ' ')"
grep -q 'piece [0-9]* stored' <(sed -n '/rollout 4 /,$p' "$H_DIR/a1/agent.log") &&
	tap_not_ok "a piece was fetched for a refused manifest" || tap_ok "no piece fetched for any refused manifest"

# --- An offer for another device: refused, nothing starts.
offer v3 3 12 "$DEV1" $EQ2 $EQ1
refused 12 wrongHardware "an offer naming another equipment (encrypted for EQ1, naming EQ2)"
# An offer encrypted for EQ2 on EQ1's topic does not even decrypt.
offer v3 3 13 "$DEV2" $EQ2 $EQ1
wait_log_count "$H_DIR/a1/agent.log" 'firmware offer .* refused, noDecryptKey' 1 20 &&
	tap_ok "an offer encrypted for another device is refused (noDecryptKey)" || tap_not_ok "EQ2's offer not refused"

# --- Tampered piece: v3's piece 2 changed on the broker.
cp -r "$H_DIR/rel/v3" "$H_DIR/rel/v3x"
perl -0777 -pi -e 's/^(.{100})(.)/$1 . chr(ord($2) ^ 1)/se' "$H_DIR/rel/v3x/piece.2"
publish_release v3x 3 && offer v3x 3 14 "$DEV1" $EQ1
refused 14 badFirmware "tampered piece (its SHA-256 is not the manifest's)" failed
[ ! -e "$H_DIR/a1/slots/a/image" ] && tap_ok "tampered piece: nothing was written into the inactive slot" ||
	tap_not_ok "slot a has an image"
# The genuine pieces again, a new rollout: installs (v3 >= highest seen 3).
publish_release v3 3 2 && offer v3 3 15 "$DEV1" $EQ1
wait_report $EQ1 '^succeeded 15 fm-controller-3 installed=3$' 60 && [ "$(current a1)" = a ] &&
	tap_ok "v3 with the genuine piece: succeeded into slot a" || tap_not_ok "v3 not installed: $(current a1)"
CUR=a

# --- Health check failing: v4 installed into b, switched, unhealthy, rolled back to a.
image v4 200000
release v4 4 --image "$H_DIR/img-v4" && publish_release v4 4
touch "$H_DIR/unhealthy"
offer v4 4 16 "$DEV1" $EQ1
refused 16 badFirmware "health check failing: rolled back to slot a" failed
rm -f "$H_DIR/unhealthy"
cmp -s "$H_DIR/img-v4" "$H_DIR/a1/slots/b/image" && grep -q 'back on slot a' "$H_DIR/a1/agent.log" &&
	tap_ok "the new image was in slot b and current went back to a" || tap_not_ok "no rollback seen"
tap_is "$(installed a1)" 3 "after the rollback the installed version is still 3"

# --- kill -9 during the install: the hook stalls, the agent is killed, restarted.
image v5 200000
release v5 5 --image "$H_DIR/img-v5" && publish_release v5 5
touch "$H_DIR/stall-install"
rm -f "$H_DIR/a1/slots/b/hook-started"
offer v5 5 17 "$DEV1" $EQ1
for i in $(seq 1 100); do [ -f "$H_DIR/a1/slots/b/hook-started" ] && break; sleep 0.2; done
agent_stop a1 KILL
kill "$(cat "$H_DIR/a1/slots/b/hook-started")" 2>/dev/null # the stalled hook (our child's child)
rm -f "$H_DIR/stall-install"
tap_is "$(current a1) $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rollout"]["phase"])' \
	"$H_DIR/a1/fw/state/fm-controller.json")" "a installing" \
	"killed during the install: current is still the old slot, the state says installing"
agent_start a1 || harness_die "a1 did not restart"
wait_report $EQ1 '^succeeded 17 fm-controller-5 installed=5$' 60 && [ "$(current a1)" = b ] &&
	cmp -s "$H_DIR/img-v5" "$H_DIR/a1/slots/b/image" &&
	tap_ok "after the restart the install is redone: succeeded, current b holds v5" ||
	tap_not_ok "v5 after kill -9: current $(current a1)"
CUR=b

# --- kill -9 during the health check (after the switch): back up, current
# names the new slot and the health check runs again.
rm -f "$H_DIR/health-started"
touch "$H_DIR/stall-health"
image v6 150000
release v6 6 --image "$H_DIR/img-v6" && publish_release v6 6 && offer v6 6 18 "$DEV1" $EQ1
for i in $(seq 1 100); do [ -f "$H_DIR/health-started" ] && break; sleep 0.2; done
agent_stop a1 KILL
kill "$(cat "$H_DIR/health-started")" 2>/dev/null # the stalled health hook (our child's child)
rm -f "$H_DIR/stall-health"
tap_is "$(current a1) $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rollout"]["phase"])' \
	"$H_DIR/a1/fw/state/fm-controller.json")" "a switched" \
	"killed during the health check: current already names the new slot a, the state says switched"
agent_start a1 || harness_die "a1 did not restart"
wait_report $EQ1 '^succeeded 18 fm-controller-6 installed=6$' 60 && [ "$(current a1)" = a ] &&
	cmp -s "$H_DIR/img-v6" "$H_DIR/a1/slots/a/image" &&
	tap_ok "after the restart the health check ran again: succeeded, current a holds v6" ||
	tap_not_ok "v6 after kill -9 in the health check: current $(current a1)"
CUR=a

# --- The offer carries a wrong content key: the GCM tag fails, no slot is touched.
image v7w 150000
release v7w 7 --image "$H_DIR/img-v7w" && publish_release v7w 7
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$H_DIR/rel/v7w/key.hex"
rm -f "$H_DIR/a1/slots/b/hook-started"
offer v7w 7 19 "$DEV1" $EQ1
refused 19 decryptFailure "an offer with the wrong content key" failed
[ ! -e "$H_DIR/a1/slots/b/hook-started" ] && tap_ok "wrong key: the install hook never ran" ||
	tap_not_ok "the install hook ran for an image that did not decrypt"

# --- Offline during the offer: the persistent session delivers it later.
agent_stop a1 TERM
image v7 150000
release v7 7 --image "$H_DIR/img-v7" && publish_release v7 7 && offer v7 7 20 "$DEV1" $EQ1
mkdir -p "$H_DIR/a1/fw/work/fm-controller-99" && echo x >"$H_DIR/a1/fw/work/fm-controller-99/piece.0"
agent_start a1 || harness_die "a1 did not restart"
[ ! -e "$H_DIR/a1/fw/work/fm-controller-99" ] && tap_ok "files left from an ended rollout are removed at start" ||
	tap_not_ok "work/fm-controller-99 still there"
wait_report $EQ1 '^succeeded 20 fm-controller-7 installed=7$' 60 && [ "$(current a1)" = b ] &&
	tap_ok "offline during the offer: installed once back (persistent session)" || tap_not_ok "v7 not installed"

# --- 64 MiB on the release build, killed -9 halfway through the download.
[ -x "$SMS_RELEASE/bin/sms-agent" ] && DBIN_A2=$SMS_RELEASE/bin || DBIN_A2=$DBIN
image v9 $((64 * 1024 * 1024))
release v9 9 --image "$H_DIR/img-v9" --piece-size 1048576 || harness_die "release v9"
publish_release v9 9 $(seq 0 24) || harness_die "publish v9"
DBIN=$DBIN_A2 agent_start a2 || harness_die "a2 did not start: $(tail -n 3 "$H_DIR/a2/agent.log")"
offer v9 9 21 "$DEV2" $EQ2
wait_log_count "$H_DIR/a2/agent.log" 'piece [0-9]* stored' 25 60 || tap_not_ok "a2 did not store 25 pieces"
sleep 0.5
agent_stop a2 KILL
before=$(grep -c 'piece [0-9]* stored' "$H_DIR/a2/agent.log")
publish_release v9 9 $(seq 25 63) || harness_die "publish v9 rest"
DBIN=$DBIN_A2 agent_start a2 || harness_die "a2 did not restart"
wait_report $EQ2 '^succeeded 21 fm-controller-9 installed=9$' 180 &&
	tap_ok "64 MiB: succeeded after kill -9 during the download" || tap_not_ok "v9 not installed"
after=$(( $(grep -c 'piece [0-9]* stored' "$H_DIR/a2/agent.log") - before ))
tap_is "$before+$after" "25+39" "kill -9 after 25 of 64 pieces: the restart fetched only the 39 missing ones"
cmp -s "$H_DIR/img-v9" "$H_DIR/a2/slots/b/image" && tap_ok "64 MiB: slot b holds exactly the image" ||
	tap_not_ok "slot b differs"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/${AGENT_PID[a2]}/status")
if [ "$DBIN_A2" = "$SMS_RELEASE/bin" ]; then
	[ "$hwm" -lt 16384 ] && tap_ok "64 MiB image: the agent's peak RSS (VmHWM) is $hwm KiB < 16 MiB" ||
		tap_not_ok "VmHWM $hwm KiB >= 16 MiB"
else
	tap_ok "# SKIP peak RSS: no release build (VmHWM $hwm KiB under ASan)"
fi
echo "# a2 (release build) VmHWM after a 64 MiB install: $hwm KiB"

# --- A revoked signer: its manifests are refused once the E2E CRL lists it.
cp -r "$SIGNER" "$H_DIR/old-signer"
harness_pki revoke services/roles/vendor-firmware-signer --pki e2e >/dev/null || harness_die "sms-pki revoke"
kill -HUP "${AGENT_PID[a1]}" # re-reads e2e.crls now
sleep 1
image v10 100000
release v10 10 --image "$H_DIR/img-v10" --cert "$H_DIR/old-signer/cert.pem" --key "$H_DIR/old-signer/key.pem" \
	--chain "$H_DIR/old-signer/chain.pem"
CUR=b
publish_release v10 10 && offer v10 10 22 "$DEV1" $EQ1
refused 22 signatureFailure "manifest signed by a revoked vendor-firmware-signer"
grep -q 'rollout 22 .*revoked' "$H_DIR/a1/agent.log" && tap_ok "the refusal names the revocation" ||
	tap_not_ok "$(grep 'rollout 22 ' "$H_DIR/a1/agent.log" | head -n 2)"

for a in a1 a2; do agent_stop $a TERM; done
tap_is "$(grep -c 'ERROR' "$H_DIR/a1/agent.log" "$H_DIR/a2/agent.log" | awk -F: '{s+=$2} END {print s}')" 0 \
	"no ERROR line in either agent's log"
tap_done
