#!/usr/bin/env bash
# Firmware rollouts end to end (issue 13): sms-firmware, sms-publisherd and
# real sms-agent processes with the sms_auth broker and PostgreSQL. A
# release goes to an account's devices in two phases; each agent fetches
# the retained pieces, installs into its inactive slot and reports; the
# publisher records every step. Then an older release to one device is a
# downgrade: the agent refuses it (rejected stalePackage) and the
# publisher stores the refusal with its RFC 4108 code.
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
FW=$DBIN/sms-firmware PUBD=$DBIN/sms-publisherd
for b in "$FW" "$PUBD"; do [ -x "$b" ] || harness_die "$b not built"; done
grep -q vendor-firmware-service "$H_DIR/sms_auth.conf" 2>/dev/null || harness_die "the suite needs the sms_auth plugin"
for r in vendor-firmware-service vendor-firmware-signer; do
	harness_pki service $r >/dev/null || harness_die "sms-pki service $r failed"
done
SIGNER=$P/e2e/services/roles/vendor-firmware-signer PUBE2E=$P/e2e/services/roles/vendor-firmware-service
PUBTLS=$P/tls/services/roles/vendor-firmware-service

# The devices the snapshot service knows (as after their first snapshot).
for eq in EQ1 EQ2; do
	q "INSERT INTO t_master_account (name) VALUES ('000001') ON CONFLICT DO NOTHING;
	   INSERT INTO t_account (master_account_id, name) SELECT id, '00001' FROM t_master_account WHERE name = '000001'
	     ON CONFLICT DO NOTHING;
	   INSERT INTO t_device_type (name) VALUES ('FM') ON CONFLICT DO NOTHING;
	   INSERT INTO t_device (account_id, device_type_id, equipment)
	     SELECT a.id, t.id, '$eq' FROM t_account a, t_device_type t WHERE a.name = '00001' AND t.name = 'FM';" >/dev/null
done
"$DBIN/sms-db" roles --conninfo "$H_PG_CONNINFO" >/dev/null || harness_die "sms-db roles failed"
q "CREATE ROLE publisherd LOGIN IN ROLE sms_publisherd; CREATE ROLE fwops LOGIN IN ROLE sms_firmware;" >/dev/null
fw() { "$FW" --conninfo "host=127.0.0.1 port=$PGPORT dbname=sms user=fwops" --quiet "$@"; }

mkdir -p "$H_DIR/pub"
cat >"$H_DIR/pub/publisherd.conf" <<CONF
broker = { host = "127.0.0.1"; port = $H_MQ_PORT; cafile = "$P/tls/root/ca.crt";
           cert = "$PUBTLS/fullchain.pem"; key = "$PUBTLS/key.pem"; keepalive = 10; };
e2e = { cert = "$PUBE2E/cert.pem"; key = "$PUBE2E/key.pem"; chain = "$PUBE2E/chain.pem";
        trust_root = "$P/e2e/root/ca.crt"; crls = [ "$P/e2e/crls.pem" ]; ca_certs = [ "$P/e2e/cas.pem" ];
        services_ca = "$P/e2e/services/ca.crt"; device_certs = "$P/e2e"; };
database = { conninfo = "host=127.0.0.1 port=$PGPORT dbname=sms user=publisherd"; };
poll_interval = 1;
reoffer_interval = 30;
CONF
harness_bg publisherd "$PUBD" --config "$H_DIR/pub/publisherd.conf"

cat >"$H_DIR/install.sh" <<'HOOK'
#!/bin/sh
cp "$1" "$2/image"
HOOK
printf '#!/bin/sh\nexit 0\n' >"$H_DIR/health.sh"
chmod 755 "$H_DIR/install.sh" "$H_DIR/health.sh"
for eq in EQ1 EQ2; do
	agent_conf "a-$eq" 000001 00001 "$eq" "firmware = { dir = \"fw\"; slots = \"slots\"; device_type = \"FM\";
	  install_hook = \"$H_DIR/install.sh\"; health_hook = \"$H_DIR/health.sh\"; max_image = 8388608;
	  versions = [ \"fm-controller=1\", \"bootloader=3\" ]; };"
	agent_start "a-$eq" || harness_die "sms-agent $eq did not start"
done

rel() { # VERSION IMAGE
	fw release create "$2" --package fm-controller --version "$1" --hardware FM --requires 'bootloader>=3' \
		--signer-cert "$SIGNER/cert.pem" --signer-key "$SIGNER/key.pem" --signer-chain "$SIGNER/chain.pem" \
		--publisher-cert "$PUBE2E/cert.pem" >/dev/null
}
states() { q "SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM (SELECT state, count(*) n
	FROM t_fw_rollout_device WHERE rollout_id = $1 GROUP BY state) s"; }
wait_states() { # ROLLOUT WANT SECONDS
	local i got
	for i in $(seq 1 $(($3 * 5))); do got=$(states "$1"); [ "$got" = "$2" ] && return 0; sleep 0.2; done
	echo "# rollout $1: got '$got', want '$2'"; tail -n 5 "$H_DIR"/a-EQ*/agent.log | sed 's/^/#   /'
	return 1
}

head -c 1500000 /dev/urandom >"$H_DIR/v3.bin"
head -c 200000 /dev/urandom >"$H_DIR/v2.bin"
tap_check "release fm-controller-3 created" rel 3 "$H_DIR/v3.bin"
R1=$(fw rollout create fm-controller-3 --target account:000001/00001 --phase 50%,100% --rate 120/min |
	sed -n 's/^rollout \([0-9]*\):.*/\1/p')
tap_check "both agents install the release (two phases)" wait_states "$R1" "succeeded=2" 90
for eq in EQ1 EQ2; do
	tap_check "$eq: the image in its current slot is the release's" \
		cmp "$H_DIR/v3.bin" "$H_DIR/a-$eq/slots/current/image"
done
tap_is "$(q "SELECT string_agg(DISTINCT to_state, ',' ORDER BY to_state) FROM t_fw_transition WHERE rollout_id = $R1")" \
	"downloading,installing,offered,queued,succeeded,verified" "every step the agents reported is stored"
tap_is "$(q "SELECT count(*) FROM t_fw_rollout_device WHERE rollout_id = $R1 AND installed_version = 3")" 2 \
	"... with the version each agent now runs"
st=$(fw rollout status "$R1")
tap_check "rollout status shows 2/2 done" grep -q 'progress \[#*\] 2/2 done (100%)' <<<"$st"

tap_check "an older release fm-controller-2 exists" rel 2 "$H_DIR/v2.bin"
R2=$(fw rollout create fm-controller-2 --target device:000001/00001/EQ1 | sed -n 's/^rollout \([0-9]*\):.*/\1/p')
tap_check "the agent refuses the downgrade" wait_states "$R2" "rejected=1" 30
tap_is "$(q "SELECT code FROM t_fw_rollout_device WHERE rollout_id = $R2")" 28 "... with stalePackage (28)"
tap_check "... and keeps running version 3" cmp "$H_DIR/v3.bin" "$H_DIR/a-EQ1/slots/current/image"
tap_done
