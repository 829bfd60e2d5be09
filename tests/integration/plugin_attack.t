#!/usr/bin/env bash
# sms_auth.so in a real mosquitto against what an independent attack run
# found (issue 8): CRLs that do not verify, O/OU in another case under the
# real CA keys, CA and non-client certificates used as clients, lookalike
# and control characters in identities and client ids, and client-id
# squatting across a broker restart. Hostile certificates and CRLs are made
# with openssl (and tests/harness/utf8_csr) under the test PKI's real keys.
source "$(dirname "$0")/../harness/harness.sh"
source "$H_ROOT/plugin/testlib.sh"

harness_init
plugin_pick
PKI=$H_DIR/pki/tls
MA=ma/ms-acc-1 ACC=ma/ms-acc-1/acc/acc-1
pl_pki init
pl_pki master ms-acc-1
pl_pki account ms-acc-1 acc-1
pl_pki device ms-acc-1 acc-1 eq-1
pl_pki device ms-acc-1 acc-1 eq-2
pl_pki device ms-acc-1 acc-1 eq-r
pl_pki service MRO-Admin
EQ1=$ACC/dev/eq-1 EQ2=$ACC/dev/eq-2 ADMIN=services/roles/MRO-Admin
R=$H_DIR/rogue
LOG=$H_DIR/mosquitto/mosquitto.log

CONF=$H_DIR/sms_auth.conf
pl_conf "$CONF" 'roles = ( { name = "MRO-Admin"; rules = ( { access = "readwrite"; filter = "#"; } ); } );'
pl_start "$CONF"

# logged RE: the broker log has a line matching the extended regex RE.
logged() { grep -qE "$1" "$LOG"; }
# install FILE: FILE becomes the CRL bundle the plugin watches, atomically.
install() { cp "$1" "$PKI/crls.pem.tmp" && mv "$PKI/crls.pem.tmp" "$PKI/crls.pem"; }
# bundle OUT ACC_CRL: the real CRLs, the account CA's replaced by ACC_CRL.
bundle() { cat "$PKI/root/crl.pem" "$PKI/services/crl.pem" "$PKI/$MA/crl.pem" "$2" >"$1"; }

NEXT='earliest nextUpdate 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
logged "sms_auth: CRLs loaded: 4 issuers, 4 CRLs, 0 revoked entries, $NEXT" &&
	tap_ok "CRL load at start logged: issuers, CRLs, revoked entries, earliest nextUpdate" ||
	tap_not_ok "CRL load at start logged: issuers, CRLs, revoked entries, earliest nextUpdate"

# ---------------------------------------------------------------- 1. CRLs
pl_sub_bg v1 "$EQ1" 'ms-acc-1/acc-1/eq-1/#'
V1_PID=$H_LAST_PID
pl_wait_connected v1 || harness_die "eq-1 did not connect"
cp "$PKI/crls.pem" "$H_DIR/crls.good"

# fake_crl DIR KEY_FROM NUMBER: a CRL "of the account CA" listing eq-1, made
# with `openssl ca` from a copy of the account CA's database, signed with
# DIR/ca.key (a stranger's key, or the real one) and crlNumber NUMBER.
fake_crl() {
	local d=$1
	cp "$PKI/$ACC/db/index.txt" "$d/index.txt"
	echo 'unique_subject = no' >"$d/index.txt.attr"
	echo "$3" >"$d/crlnumber"
	printf '[ca]\ndefault_ca=x\n[x]\ndatabase=%s\ncrlnumber=%s\ncertificate=%s\nprivate_key=%s\ndefault_md=sha256\ndefault_crl_days=30\n' \
		"$d/index.txt" "$d/crlnumber" "$d/ca.crt" "$d/ca.key" >"$d/ca.cnf"
	openssl ca -config "$d/ca.cnf" -revoke "$PKI/$EQ1/cert.pem" -crl_reason keyCompromise >>"$H_DIR/fake.log" 2>&1 &&
		openssl ca -config "$d/ca.cnf" -gencrl -out "$d/crl.pem" >>"$H_DIR/fake.log" 2>&1 ||
		harness_die "cannot make a fake CRL (see fake.log)"
}

# A stranger's key under the account CA's very name.
mkdir -p "$R/stranger"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$R/stranger/ca.key" 2>/dev/null
openssl req -x509 -new -key "$R/stranger/ca.key" -subj "/O=ms-acc-1/OU=acc-1/CN=SMS account CA" -days 30 \
	-out "$R/stranger/ca.crt" 2>/dev/null || harness_die "cannot make the stranger CA"
fake_crl "$R/stranger" stranger 99
# The real account CA key, then one bit of the signature flipped.
mkdir -p "$R/broken"
cp "$PKI/$ACC/ca.crt" "$(harness_ca_key "$PKI/$ACC")" "$R/broken/"
fake_crl "$R/broken" real 98
openssl crl -in "$R/broken/crl.pem" -outform DER -out "$R/broken/crl.der"
size=$(stat -c %s "$R/broken/crl.der")
last=$(tail -c 1 "$R/broken/crl.der" | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $((last ^ 1)))" | dd of="$R/broken/crl.der" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
openssl crl -inform DER -in "$R/broken/crl.der" -out "$R/broken/crl.pem" || harness_die "cannot re-encode the broken CRL"

ISSUER='CN=SMS account CA,OU=acc-1,O=ms-acc-1'
for kind in stranger broken; do
	case $kind in
	stranger) what="a CRL signed by another key under the account CA's name" ;;
	broken) what="a CRL of the account CA with a broken signature" ;;
	esac
	n_before=$(grep -c 'sms_auth: CRLs reloaded:' "$LOG")
	bundle "$H_DIR/crls.$kind" "$R/$kind/crl.pem"
	install "$H_DIR/crls.$kind"
	sleep 2.5
	logged "CRL reload failed: CRL file $PKI/crls.pem: CRL of $ISSUER does not verify against its issuer's key" &&
		tap_ok "$what is refused, one line naming file and issuer" ||
		tap_not_ok "$what is refused, one line naming file and issuer"
	pl_kicked v1 && tap_not_ok "... and never kicks the device it lists" || tap_ok "... and never kicks the device it lists"
	tap_check_fails "... while the file holds it new connections are refused (fail closed)" pl_connect "$(pl_id "$EQ2")"
	install "$H_DIR/crls.good"
	sleep 2
	tap_check "... with the real CRLs restored new connections work again (no false replay)" pl_connect "$(pl_id "$EQ2")"
	n_after=$(grep -c 'sms_auth: CRLs reloaded:' "$LOG")
	[ "$n_after" -gt "$n_before" ] && tap_ok "... and the restore is logged as a CRL reload" ||
		tap_not_ok "... and the restore is logged as a CRL reload"
done
pl_kicked v1 && tap_not_ok "eq-1 stayed connected throughout" || tap_ok "eq-1 stayed connected throughout"
pl_pki revoke "$ACC/dev/eq-r"
sleep 2
logged "sms_auth: CRLs reloaded: 4 issuers, 4 CRLs, 1 revoked entries, $NEXT" &&
	tap_ok "a real revocation is logged as a reload with 1 revoked entry" ||
	tap_not_ok "a real revocation is logged as a reload with 1 revoked entry"

# ---------------------------------------------------------- 2. case binding
# A fresh broker: nothing below depends on how the CRL section ended.
kill "$V1_PID" 2>/dev/null
pl_restart
pl_mint "$PKI/$ACC" "/O=ms-acc-1/OU=acc-1/serialNumber=eq-m/CN=eq-m" "$R/exact"
tap_check "control: a device minted by hand under the account CA key is admitted" pl_connect "$(pl_id_dir "$R/exact")"
pl_mint "$PKI/$ACC" "/O=MS-ACC-1/OU=ACC-1/serialNumber=eq-1/CN=eq-1" "$R/upper"
tap_check_fails "O=MS-ACC-1, OU=ACC-1 from the ms-acc-1/acc-1 account CA is refused" pl_connect "$(pl_id_dir "$R/upper")"
logged "O/OU of 'MS-ACC-1/ACC-1/eq-1' are not byte for byte those of its account CA" &&
	tap_ok "... because O/OU differ from the account CA's" || tap_not_ok "... because O/OU differ from the account CA's"
pl_mint "$PKI/$ACC" "/O=ms-acc-1/OU=Acc-1/CN=auditor" "$R/upper-ou"
tap_check_fails "an account client with OU=Acc-1 is refused" pl_connect "$(pl_id_dir "$R/upper-ou")"
pl_mint "$PKI/$MA" "/O=Ms-Acc-1/CN=ops" "$R/upper-o"
tap_check_fails "a master-account client with O=Ms-Acc-1 is refused" pl_connect "$(pl_id_dir "$R/upper-o")"
logged "O of 'Ms-Acc-1' is not byte for byte that of its master-account CA" &&
	tap_ok "... because O differs from the master-account CA's" || tap_not_ok "... because O differs from the master-account CA's"

# ------------------------------------------- 3. what a client certificate is
PL_EXT='basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nextendedKeyUsage=clientAuth\n' \
	pl_mint "$PKI/$ACC" "/O=ms-acc-1/OU=acc-1/serialNumber=eq-ca/CN=eq-ca" "$R/ca"
tap_check_fails "a CA certificate (CA:TRUE, keyCertSign) is refused as a client" pl_connect "$(pl_id_dir "$R/ca")"
logged "a CA certificate \(basicConstraints CA:TRUE\) is not a client identity" &&
	tap_ok "... logged as a CA certificate" || tap_not_ok "... logged as a CA certificate"
PL_EXT='basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,keyAgreement\n' \
	pl_mint "$PKI/$ACC" "/O=ms-acc-1/OU=acc-1/serialNumber=eq-noeku/CN=eq-noeku" "$R/noeku"
tap_check_fails "a certificate without extendedKeyUsage is refused" pl_connect "$(pl_id_dir "$R/noeku")"
logged "certificate lacks extendedKeyUsage clientAuth" &&
	tap_ok "... logged as lacking clientAuth" || tap_not_ok "... logged as lacking clientAuth"
PL_EXT='basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=emailProtection\n' \
	pl_mint "$PKI/$ACC" "/O=ms-acc-1/OU=acc-1/serialNumber=eq-mail/CN=eq-mail" "$R/mail"
tap_check_fails "a certificate with extendedKeyUsage emailProtection only is refused" pl_connect "$(pl_id_dir "$R/mail")"

# ---------------------------------------- 4. lookalikes and control characters
DIVSLASH=$(printf '\xe2\x88\x95') RLO=$(printf '\xe2\x80\xae')
pl_mint_utf8 "$PKI/$ACC" "$R/divslash" O=ms-acc-1 OU=acc-1 "serialNumber=eq-1${DIVSLASH}x" CN=x
tap_check_fails "serialNumber with U+2215 (division slash) is refused" pl_connect "$(pl_id_dir "$R/divslash")"
pl_mint_utf8 "$PKI/$ACC" "$R/rlo" O=ms-acc-1 OU=acc-1 "serialNumber=eq-${RLO}1" CN=x
tap_check_fails "serialNumber with U+202E (right-to-left override) is refused" pl_connect "$(pl_id_dir "$R/rlo")"
[ "$(grep -c 'serialNumber value contains a non-ASCII character' "$LOG")" -ge 2 ] &&
	tap_ok "... both logged as a non-ASCII character" || tap_not_ok "... both logged as a non-ASCII character"
grep -q -e "$DIVSLASH" -e "$RLO" "$LOG" && tap_not_ok "neither raw character reaches the broker log" ||
	tap_ok "neither raw character reaches the broker log"
# A client id is the client's choice: what the plugin logs of it is escaped.
# probe_as ID CLIENT_ID: connects as the identity at ID with that client id.
probe_as() {
	# shellcheck disable=SC2046
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$1") -i "$2" -V mqttv5 -q 1 -t probe/none -n 2>&1
}
tap_check_fails "a client id with an ESC sequence is refused (by mosquitto already)" \
	probe_as "$EQ2" "ms-acc-1/acc-1/eq-2@x$(printf '\033')[31m"
tap_check_fails "a client id with U+202E after '<identity>@' is refused" probe_as "$EQ2" "ms-acc-1/acc-1/eq-2@x${RLO}y"
logged "client id 'ms-acc-1/acc-1/eq-2@x\\\\xe2\\\\x80\\\\xaey' is not ms-acc-1/acc-1/eq-2 or" &&
	tap_ok "... and the plugin logs it escaped (\\xe2\\x80\\xae)" || tap_not_ok "... and the plugin logs it escaped (\\xe2\\x80\\xae)"
grep 'sms_auth:' "$LOG" | grep -q -e "$RLO" -e "$DIVSLASH" && tap_not_ok "no raw U+202E or U+2215 in any sms_auth line" ||
	tap_ok "no raw U+202E or U+2215 in any sms_auth line"
tap_check "a client id <identity>@<printable ASCII> is admitted" probe_as "$EQ2" 'ms-acc-1/acc-1/eq-2@w/1:a@b'

# ------------------------------------------ 5. client ids across a restart
VID=ms-acc-1/acc-1/eq-1@session
# session ID ARGS...: as the identity at ID, a subscriber to eq-1's commands
# whose session (with -c) outlives the connection by an hour.
session() {
	local cert=$1; shift
	# shellcheck disable=SC2046
	mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$cert") -V mqttv5 -x 3600 -q 1 \
		-t 'ms-acc-1/acc-1/eq-1/commands' "$@" 2>&1
}
session "$EQ1" -i "$VID" -c -W 1 >/dev/null
pl_restart
out=$(pl_pub "$ADMIN" ms-acc-1/acc-1/eq-1/commands queued-for-the-victim)
tap_check_fails "after a restart another device cannot be first to take the victim's client id" \
	probe_as "$EQ2" "$VID"
logged "client id '$VID' is not ms-acc-1/acc-1/eq-2 or" &&
	tap_ok "... refused because the id is not eq-2's" || tap_not_ok "... refused because the id is not eq-2's"
out=$(session "$EQ1" -i "$VID" -c -C 1 -W 3)
[ "$out" = queued-for-the-victim ] && tap_ok "the owner resumes its session and gets what was queued for it" ||
	{ tap_not_ok "the owner resumes its session and gets what was queued for it"; echo "#   got: $out"; }

# client_id_policy "any": first come keeps an id, and the table is bounded.
pl_conf "$CONF" 'roles = ( { name = "MRO-Admin"; rules = ( { access = "readwrite"; filter = "#"; } ); } );' \
	'client_id_policy = "any";' 'client_id_owners_max = 2;'
pl_restart
tap_check "policy any: a device may use any client id" probe_as "$EQ1" shared-1
tap_check_fails "policy any: ... which another identity then cannot use" probe_as "$EQ2" shared-1
logged "client id 'shared-1' belongs to ms-acc-1/acc-1/eq-1" &&
	tap_ok "... refused because it belongs to eq-1" || tap_not_ok "... refused because it belongs to eq-1"
tap_check "policy any: a second id fills the table (client_id_owners_max 2)" probe_as "$EQ2" shared-2
tap_check_fails "policy any: a third new id is refused, nothing is evicted" probe_as "$EQ2" shared-3
logged "client id 'shared-3' is new and the table of client ids is full \(client_id_owners_max 2\)" &&
	tap_ok "... logged as a full table" || tap_not_ok "... logged as a full table"
tap_check "policy any: known ids still work with a full table" probe_as "$EQ1" shared-1

harness_mosquitto_stop
pl_check_sanitizer
tap_done
