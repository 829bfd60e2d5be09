#!/usr/bin/env bash
# sms_auth.so in a real mosquitto: who may connect, publish, subscribe and
# receive what, across two customers, with certificates from pki/sms-pki
# and hostile ones minted with openssl.
source "$(dirname "$0")/../harness/harness.sh"
source "$H_ROOT/plugin/testlib.sh"

harness_init
plugin_pick
PKI=$H_DIR/pki/tls
M1=ma/000001 A12=ma/000001/acc/00002 M2=ma/000002 A21=ma/000002/acc/00001
pl_pki init
pl_pki master 000001
pl_pki account 000001 00002
pl_pki account 000001 00003
pl_pki device 000001 00002 EQ1
pl_pki device 000001 00002 EQ2
pl_pki device 000001 00003 EQ1
pl_pki client 000001 ops
pl_pki client 000001 00002 auditor
pl_pki master 000002
pl_pki account 000002 00001
pl_pki device 000002 00001 EQ1
pl_pki service vendor-snapshot-service
pl_pki service vendor-firmware-service
pl_pki service MRO-Admin
pl_pki service narrow-reader
pl_pki service vendor-crl-service
pl_pki service unconfigured-role
DEV=$A12/dev/EQ1 DEV2=$A12/dev/EQ2 DEV3=ma/000001/acc/00003/dev/EQ1 OTHER=$A21/dev/EQ1
ACC=$A12/clients/auditor MA=$M1/clients/ops
SNAP=services/roles/vendor-snapshot-service FW=services/roles/vendor-firmware-service
ADMIN=services/roles/MRO-Admin NARROW=services/roles/narrow-reader CRLSVC=services/roles/vendor-crl-service

CONF=$H_DIR/sms_auth.conf
pl_conf "$CONF" 'roles = (
  { name = "vendor-snapshot-service"; rules = ( { access = "read"; filter = "+/+/+/snapshots"; },
                                               { access = "write"; filter = "+/+/+/receipts"; } ); },
  { name = "vendor-firmware-service"; rules = ( { access = "write"; filter = "+/+/+/firmware"; } ); },
  { name = "vendor-crl-service"; rules = ( { access = "write"; filter = "sms/crl/#"; } ); },
  { name = "MRO-Admin"; rules = ( { access = "readwrite"; filter = "#"; }, { access = "read"; filter = "$SYS/#"; } ); },
  { name = "narrow-reader"; rules = ( { access = "subscribe"; filter = "#"; }, { access = "read"; filter = "000001/#"; } ); }
);'
pl_start "$CONF"

# Retained messages in both customers' trees, published by the admin role.
for t in 000001/00002/EQ1/firmware 000001/00002/EQ2/firmware 000001/00003/EQ1/firmware \
	000002/00001/EQ1/firmware 000002/00001/EQ1/snapshots sms/crl/tls; do
	out=$(pl_pub "$ADMIN" "$t" "retained:$t" -r) || harness_die "admin could not publish $t: $out"
done
tap_ok "MRO-Admin (services CA) publishes retained messages in both customers' trees"

# A watcher sees every non-$ message: a publish arrived iff the watcher has it.
WATCH=$H_DIR/watch.log
# shellcheck disable=SC2046
harness_bg watcher mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$ADMIN") -t '#' -v -q 1
for i in $(seq 1 50); do grep -q '^sms/crl/tls ' "$H_DIR/watcher.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^sms/crl/tls ' "$H_DIR/watcher.log" || harness_die "watcher did not start"

N=0
# pub_allowed DESC ID TOPIC / pub_denied DESC ID TOPIC
pub_check() {
	local want=$1 desc=$2 id=$3 topic=$4 msg out i seen=no
	N=$((N + 1)); msg="m$N-$RANDOM"
	out=$(pl_pub "$id" "$topic" "$msg")
	for i in $(seq 1 20); do
		grep -qxF "$topic $msg" "$H_DIR/watcher.log" && { seen=yes; break; }
		[ "$want" = no ] && [ "$i" -gt 5 ] && break
		sleep 0.1
	done
	if [ "$seen" = "$want" ]; then tap_ok "$desc"; else
		tap_not_ok "$desc (delivered: $seen)"; echo "#   $out"; fi
}
pub_allowed() { pub_check yes "$@"; }
pub_denied() { pub_check no "$@"; }

# sub_gets DESC ID FILTER EXPECTED_TOPIC: subscribe, receive a retained message on EXPECTED_TOPIC.
sub_gets() {
	local desc=$1 out
	out=$(pl_sub_once "$2" "$3")
	if [ "${out%% *}" = "$4" ]; then tap_ok "$desc"; else tap_not_ok "$desc"; echo "#   got: $out"; fi
}
# sub_refused DESC ID FILTER: the SUBACK refuses the filter.
sub_refused() {
	local out
	out=$(pl_sub_once "$2" "$3")
	case $out in
	*"subscription requests were denied"*) tap_ok "$1" ;;
	*) tap_not_ok "$1"; echo "#   got: $out" ;;
	esac
}
# sub_silent DESC ID FILTER: subscription granted, nothing delivered.
sub_silent() {
	local out
	out=$(pl_sub_once "$2" "$3")
	case $out in
	*"Timed out"*) tap_ok "$1" ;;
	*) tap_not_ok "$1"; echo "#   got: $out" ;;
	esac
}

# --- equipment
pub_allowed "device publishes its snapshot" "$DEV" 000001/00002/EQ1/snapshots
pub_denied "device cannot publish as a sibling device" "$DEV" 000001/00002/EQ2/snapshots
pub_denied "device cannot publish into another account" "$DEV" 000001/00003/EQ1/snapshots
pub_denied "device cannot publish into the other customer's same-named device" "$DEV" 000002/00001/EQ1/snapshots
pub_denied "device cannot publish on its account level" "$DEV" 000001/00002/broadcast
pub_denied "device cannot publish the CRL channel" "$DEV" sms/crl/tls
sub_gets "device receives its own retained firmware" "$DEV" 000001/00002/EQ1/# 000001/00002/EQ1/firmware
sub_gets "device reads the public CRL topic" "$DEV" sms/crl/# sms/crl/tls
sub_refused "device cannot subscribe to its account" "$DEV" '000001/00002/#'
sub_refused "device cannot subscribe to ma/+/eq/#" "$DEV" '000001/+/EQ1/#'
sub_refused "device cannot subscribe to #" "$DEV" '#'
sub_refused "device cannot subscribe to +/#" "$DEV" '+/#'
sub_refused "device cannot subscribe to \$share/g/#" "$DEV" '$share/g/#'
sub_refused "device cannot subscribe to \$SYS/#" "$DEV" '$SYS/#'
sub_gets "device may use \$share/g/ on its own tree" "$DEV" '$share/g/000001/00002/EQ1/#' 000001/00002/EQ1/firmware
sub_refused "device in customer 2 cannot subscribe to customer 1" "$OTHER" '000001/#'
sub_gets "device in customer 2 gets its own tree only" "$OTHER" '000002/00001/EQ1/firmware' 000002/00001/EQ1/firmware
# --- client ids: only "<identity>" or "<identity>@..." (client_id_policy prefix)
VICTIM=000001/00002/EQ1@victim-session
# shellcheck disable=SC2046
harness_bg victim mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$DEV") -i "$VICTIM" -c -q 1 -t '000001/00002/EQ1/#' -v
for i in $(seq 1 50); do grep -q "as $VICTIM " "$H_MQ_DIR/mosquitto.log" && break; sleep 0.1; done
tap_check_fails "another device cannot take over a session by its client id" \
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$DEV2") -i "$VICTIM" -c -q 1 -t x -n
grep -q "client id '$VICTIM' is not 000001/00002/EQ2 or 000001/00002/EQ2@" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "... refused because the id is not 000001/00002/EQ2's" || tap_not_ok "... refused because the id is not 000001/00002/EQ2's"
grep -q "Client $VICTIM already connected" "$H_MQ_DIR/mosquitto.log" &&
	tap_not_ok "the session owner was not disconnected" || tap_ok "the session owner was not disconnected"
pub_allowed "the session owner still receives" "$ADMIN" 000001/00002/EQ1/commands
grep -q '^000001/00002/EQ1/commands ' "$H_DIR/victim.log" && tap_ok "... its own subscriber got it" ||
	tap_not_ok "... its own subscriber got it"

# --- account and master-account clients
sub_gets "account client reads its devices" "$ACC" '000001/00002/+/firmware' 000001/00002/EQ1/firmware
sub_refused "account client cannot read a sibling account" "$ACC" '000001/00003/#'
sub_refused "account client cannot widen to its master account" "$ACC" '000001/+/+/firmware'
# Customers audit: they reach their subtree (Table 4.1) but write none of
# it (direction, below).
pub_denied "account client cannot publish below its account (commands of its device)" "$ACC" 000001/00002/EQ2/commands
pub_denied "account client cannot publish into a sibling account" "$ACC" 000001/00003/EQ1/commands
sub_gets "master-account client reads every account of its own" "$MA" '000001/00003/#' 000001/00003/EQ1/firmware
sub_refused "master-account client cannot read the other customer" "$MA" '000002/#'
sub_refused "master-account client cannot subscribe +/+/+/snapshots" "$MA" '+/+/+/snapshots'
pub_denied "master-account client cannot publish to the other customer" "$MA" 000002/00001/EQ1/commands
# Retained messages in another tenant's tree are never delivered.
out=$(pl_sub_once "$MA" '000001/#' -C 10 -W 2 | grep -c '^000002/')
tap_is "$out" 0 "master 000001 subscribed to 000001/# receives no retained message of 000002"
# --- roles
sub_gets "snapshot service reads snapshots of any customer" "$SNAP" '+/+/+/snapshots' 000002/00001/EQ1/snapshots
sub_gets "snapshot service may use a shared subscription" "$SNAP" '$share/ingest/+/+/+/snapshots' 000002/00001/EQ1/snapshots
sub_refused "snapshot service cannot read firmware" "$SNAP" '+/+/+/firmware'
pub_denied "snapshot service cannot publish snapshots" "$SNAP" 000001/00002/EQ1/snapshots
pub_allowed "firmware service publishes firmware to any device" "$FW" 000002/00001/EQ1/firmware
pub_denied "firmware service cannot publish snapshots" "$FW" 000002/00001/EQ1/snapshots
sub_refused "firmware service cannot subscribe" "$FW" '+/+/+/firmware'
sub_gets "MRO-Admin reads \$SYS" "$ADMIN" '$SYS/broker/version' '$SYS/broker/version'
# --- the shared CRL namespace: read by every authenticated client, written by vendor roles only
sub_gets "account client reads sms/crl/#" "$ACC" 'sms/crl/#' sms/crl/tls
sub_gets "master-account client reads sms/crl/#" "$MA" 'sms/crl/#' sms/crl/tls
sub_gets "device of the other customer reads sms/crl/#" "$OTHER" 'sms/crl/+' sms/crl/tls
sub_gets "snapshot service (no rule for it) reads sms/crl/#" "$SNAP" 'sms/crl/#' sms/crl/tls
sub_gets "firmware service (a write-only role) reads sms/crl/#" "$FW" 'sms/crl/#' sms/crl/tls
sub_gets "vendor-crl-service reads what it writes" "$CRLSVC" 'sms/crl/#' sms/crl/tls
sub_refused "device cannot widen to sms/#" "$DEV" 'sms/#'
sub_refused "device cannot subscribe to +/crl/#" "$DEV" '+/crl/#'
pub_allowed "vendor-crl-service publishes on sms/crl/e2e/<key id>" "$CRLSVC" sms/crl/e2e/00aa
pub_denied "vendor-crl-service cannot publish outside sms/crl/#" "$CRLSVC" 000001/00002/EQ1/firmware
pub_denied "vendor-crl-service cannot publish on sms/crlx" "$CRLSVC" sms/crlx
pub_denied "snapshot service cannot publish CRLs" "$SNAP" sms/crl/tls/00aa
pub_denied "firmware service cannot publish CRLs" "$FW" sms/crl/tls/00aa
pub_denied "account client cannot publish CRLs" "$ACC" sms/crl/tls/00aa
pub_denied "master-account client cannot publish CRLs" "$MA" sms/crl/tls/00aa
pub_denied "device cannot publish below sms/crl/tls" "$DEV" sms/crl/tls/00aa
# --- direction (DESIGN.md "The way back"): the channel decides who writes
pub_allowed "device publishes its firmware/status" "$DEV" 000001/00002/EQ1/firmware/status
for c in receipts firmware crl commands commands/result; do
	pub_denied "device cannot publish its own $c" "$DEV" "000001/00002/EQ1/$c"
done
pub_denied "device cannot publish on its own prefix" "$DEV" 000001/00002/EQ1
for c in snapshots receipts firmware/status firmware; do
	pub_denied "account client cannot publish its device's $c" "$ACC" "000001/00002/EQ1/$c"
	pub_denied "master-account client cannot publish its device's $c" "$MA" "000001/00002/EQ1/$c"
done
pub_denied "account client cannot publish on its account level" "$ACC" 000001/00002/broadcast
pub_allowed "snapshot service publishes receipts to any device" "$SNAP" 000002/00001/EQ1/receipts
pub_denied "firmware service cannot publish receipts" "$FW" 000002/00001/EQ1/receipts
out=$(pl_pub "$SNAP" 000001/00002/EQ1/receipts retained-receipt -r) || tap_not_ok "retained receipt: $out"
sub_gets "device reads its receipts" "$DEV" 000001/00002/EQ1/receipts 000001/00002/EQ1/receipts
sub_gets "account client reads its device's receipts" "$ACC" '000001/00002/+/receipts' 000001/00002/EQ1/receipts
pl_pub "$SNAP" 000001/00002/EQ1/receipts '' -r >/dev/null   # the retained receipt goes again
# READ is checked on delivery: a wide subscription only delivers what may be read.
out=$(pl_sub_once "$NARROW" '#' -C 10 -W 2)
n1=$(grep -c '^000001/' <<<"$out"); n2=$(grep -c '^000002/' <<<"$out")
if [ "$n1" -ge 3 ] && [ "$n2" -eq 0 ]; then tap_ok "role subscribed to # receives 000001 only (READ checked per delivery)"
else tap_not_ok "role subscribed to # receives 000001 only (got $n1 from 000001, $n2 from 000002)"; fi
out=$(pl_connect "$(pl_id services/roles/unconfigured-role)") && tap_not_ok "a role missing from the config is refused" ||
	tap_ok "a role missing from the config is refused"

# --- certificates that must not get in
ROGUE=$H_DIR/rogue
pl_mint "$PKI/$A12" "/CN=MRO-Admin" "$ROGUE/acc-admin"
tap_check_fails "customer account CA minting CN=MRO-Admin is refused" pl_connect "$(pl_id_dir "$ROGUE/acc-admin")"
pl_mint "$PKI/$A12" "/O=000001/OU=00002/CN=MRO-Admin" "$ROGUE/acc-admin2"
out=$(mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id_dir "$ROGUE/acc-admin2") -V mqttv5 -t '$SYS/#' -C 1 -W 2 2>&1)
case $out in *denied*) tap_ok "account-CA certificate with CN=MRO-Admin is just an account client (no \$SYS)" ;;
*) tap_not_ok "account-CA certificate with CN=MRO-Admin is just an account client"; echo "#   $out" ;; esac
# The root has no name constraints: only the services_ca check stops this one.
mkdir -p "$ROGUE/rootca"; cp "$PKI/root/ca.crt" "$(harness_ca_key "$PKI/root")" "$ROGUE/rootca/"
pl_mint "$ROGUE/rootca" "/CN=MRO-Admin" "$ROGUE/root-admin"
tap_check_fails "CN=MRO-Admin issued by the root (not the services CA) is refused" pl_connect "$(pl_id_dir "$ROGUE/root-admin")"
grep -q "role 'MRO-Admin' claimed by a certificate not issued by the services CA" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "the refusal is logged with its reason" || tap_not_ok "the refusal is logged with its reason"
grep -q 'refused client from 127.0.0.1, subject "CN=MRO-Admin"' "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "the refusal log names the subject and the client address" ||
	tap_not_ok "the refusal log names the subject and the client address"
mkdir -p "$ROGUE/svc"; cp "$PKI/services/ca.crt" "$(harness_ca_key "$PKI/services")" "$ROGUE/svc/"
pl_mint "$ROGUE/svc" "/O=000001/CN=ops" "$ROGUE/svc-tenant"
tap_check_fails "services CA issuing a tenant identity is refused" pl_connect "$(pl_id_dir "$ROGUE/svc-tenant")"
grep -q "the services CA issues roles only" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "... because the services CA issues roles only" || tap_not_ok "... because the services CA issues roles only"
pl_mint "$PKI/$A12" "/O=000002/OU=00001/serialNumber=EQ1/CN=EQ1" "$ROGUE/cross"
tap_check_fails "customer 1's CA minting a customer 2 device is refused (name constraints)" pl_connect "$(pl_id_dir "$ROGUE/cross")"
pl_mint "$PKI/$A12" '/O=000001/OU=00002/serialNumber=EQ\+1/CN=x' "$ROGUE/plus"
tap_check_fails "subject value with '+' is refused" pl_connect "$(pl_id_dir "$ROGUE/plus")"
grep -q "serialNumber value contains '+'" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "... because of the '+'" || tap_not_ok "... because of the '+'"
pl_mint "$ROGUE/rootca" "/O=000001/OU=00002/serialNumber=EQ1/CN=EQ1/CN=again" "$ROGUE/twocn"
tap_check_fails "repeated CN is refused" pl_connect "$(pl_id_dir "$ROGUE/twocn")"
pl_mint "$ROGUE/rootca" "/C=DE/O=000001/CN=x" "$ROGUE/country"
tap_check_fails "unknown attribute (C) is refused" pl_connect "$(pl_id_dir "$ROGUE/country")"
# A self-made root with the same name as the real one.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ROGUE/fake.key" \
	-subj "$(openssl x509 -in "$PKI/root/ca.crt" -noout -subject -nameopt compat | sed 's/^subject=//')" \
	-days 30 -out "$ROGUE/fake.crt" 2>/dev/null
mkdir -p "$ROGUE/fake"; cp "$ROGUE/fake.crt" "$ROGUE/fake/ca.crt"; cp "$ROGUE/fake.key" "$ROGUE/fake/ca.key"
pl_mint "$ROGUE/fake" "/CN=MRO-Admin" "$ROGUE/fake-admin"
tap_check_fails "certificate from a look-alike root is refused" pl_connect "$(pl_id_dir "$ROGUE/fake-admin")"
pl_pki device 000001 00002 OLD --start-date 20200101000000Z --end-date 20200102000000Z
tap_check_fails "expired device certificate is refused" pl_connect "$(pl_id "$A12/dev/OLD")"
# A client-chosen username changes nothing: the plugin sets it.
out=$(mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$DEV") -u 'role:MRO-Admin' -V mqttv5 -t '#' -C 1 -W 2 2>&1)
case $out in *denied*) tap_ok "a device sending username role:MRO-Admin is still only the device" ;;
*) tap_not_ok "a device sending username role:MRO-Admin is still only the device"; echo "#   $out" ;; esac
grep -q "authenticated as 000001/00002/EQ1" "$H_MQ_DIR/mosquitto.log" &&
	tap_ok "username set to the identity path" || tap_not_ok "username set to the identity path"

harness_mosquitto_stop
pl_check_sanitizer

# --- the shipped examples (acl/mosquitto.conf + acl/sms_auth.conf) run as they are,
# with only paths, port and log destination pointed at this test.
EX=$H_DIR/example
mkdir -p "$EX/data"
sed -e "s|/etc/sms/pki/tls|$PKI|g" "$H_ROOT/acl/sms_auth.conf" >"$EX/sms_auth.conf"
EX_PORT=$(harness_free_port)
sed -e "s|/etc/sms/pki/tls|$PKI|g" -e "s|/etc/sms/sms_auth.conf|$EX/sms_auth.conf|" \
	-e "s|/usr/local/lib/sms/sms_auth.so|$PL_SO|" -e "s|^listener 8883$|listener $EX_PORT 127.0.0.1|" \
	-e "s|/var/lib/mosquitto/|$EX/data/|" -e "s|^log_dest syslog$|log_dest file $EX/mosquitto.log|" \
	"$H_ROOT/acl/mosquitto.conf" >"$EX/mosquitto.conf"
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$EX/mosquitto.conf"
EX_PID=$(LD_PRELOAD=$PL_PRELOAD servers_mosquitto_start "$EX" "$EX_PORT" 2>&1) ||
	harness_die "the example mosquitto.conf does not start: $EX_PID"
H_PIDS+=("$EX_PID")
H_MQ_PORT=$EX_PORT
tap_ok "acl/mosquitto.conf with acl/sms_auth.conf starts"
tap_check "example broker: a device connects and publishes (TLS 1.3)" pl_connect "$(pl_id "$DEV")"
# openssl s_client pins the version and suite (mosquitto_pub's --tls-version is a minimum).
tls_try() {
	timeout 5 openssl s_client -connect "127.0.0.1:$EX_PORT" "$@" -CAfile "$PKI/root/ca.crt" \
		-cert "$PKI/$DEV/cert.pem" -key "$PKI/$DEV/key.pem" -cert_chain "$PKI/$DEV/chain.pem" </dev/null
}
tap_check "example broker: TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256 works" \
	tls_try -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
tap_check_fails "example broker: TLS 1.2 with a CBC suite (ECDHE-ECDSA-AES128-SHA256) is refused" \
	tls_try -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256
tap_check_fails "example broker: TLS 1.1 is refused" tls_try -tls1_1 -cipher 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0'
out=$(pl_sub_once "$SNAP" '+/+/+/snapshots')
case $out in *Timed\ out*) tap_ok "example broker: vendor-snapshot-service subscribes +/+/+/snapshots" ;;
*) tap_not_ok "example broker: vendor-snapshot-service subscribes +/+/+/snapshots"; echo "#   $out" ;; esac
sub_refused "example broker: vendor-firmware-service may not subscribe" "$FW" '+/+/+/firmware'
kill "$EX_PID"
for i in $(seq 1 100); do kill -0 "$EX_PID" 2>/dev/null || break; sleep 0.1; done
if [ -z "$PL_PRELOAD" ]; then
	tap_ok "example broker sanitizer check # SKIP plugin from the release build"
elif grep -qE "$PL_SAN_RE" "$EX/stdout.log" 2>/dev/null; then
	tap_not_ok "no sanitizer report from the example broker"; head -40 "$EX/stdout.log" | sed 's/^/#   /'
else tap_ok "no sanitizer report from the example broker"; fi
tap_done
