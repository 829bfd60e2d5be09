#!/usr/bin/env bash
# Issuing: layout, certificate profiles, keys, and that every chain of every
# identity kind verifies strictly in both PKIs, on all three curves.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

SMS_PKI=$H_ROOT/pki/sms-pki
LEAVES=(services/roles/MRO-Admin ma/000001/clients/boss ma/000001/acc/00002/clients/auditor
	ma/000001/acc/00002/dev/EQ1)
CAS=(services ma/000001 ma/000001/acc/00002)

issue_all() {
	"$SMS_PKI" --dir "$1" "${@:2}" init &&
	"$SMS_PKI" --dir "$1" "${@:2}" master 000001 &&
	"$SMS_PKI" --dir "$1" "${@:2}" account 000001 00002 &&
	"$SMS_PKI" --dir "$1" "${@:2}" device 000001 00002 EQ1 &&
	"$SMS_PKI" --dir "$1" "${@:2}" client 000001 00002 auditor &&
	"$SMS_PKI" --dir "$1" "${@:2}" client 000001 boss &&
	"$SMS_PKI" --dir "$1" "${@:2}" service MRO-Admin
}

tap_check "issue every identity kind (P-256)" issue_all "$PKI"
out=$(harness_pki device 000001 00002 EQ2)
tap_is "$out" "$(printf 'issued tls ma/000001/acc/00002/dev/EQ2 (serial %s)\nissued e2e ma/000001/acc/00002/dev/EQ2 (serial %s)' \
	"$(openssl x509 -in "$PKI/tls/ma/000001/acc/00002/dev/EQ2/cert.pem" -noout -serial | cut -d= -f2)" \
	"$(openssl x509 -in "$PKI/e2e/ma/000001/acc/00002/dev/EQ2/cert.pem" -noout -serial | cut -d= -f2)")" \
	"one progress line per certificate, with its serial"

# --- layout
layout_ok() {
	local pki rel f
	for pki in tls e2e; do
		for rel in root "${CAS[@]}"; do
			for f in ca.crt crl.pem; do
				[ -f "$PKI/$pki/$rel/$f" ] || { echo "missing $pki/$rel/$f"; return 1; }
			done
			[ -f "$PKI/private/$pki/$rel/ca.key" ] || { echo "missing private/$pki/$rel/ca.key"; return 1; }
			[ ! -e "$PKI/$pki/$rel/ca.key" ] || { echo "$pki/$rel/ca.key beside the certificate"; return 1; }
		done
		for rel in "${LEAVES[@]}"; do
			for f in cert.pem key.pem chain.pem fullchain.pem; do
				[ -f "$PKI/$pki/$rel/$f" ] || { echo "missing $pki/$rel/$f"; return 1; }
			done
		done
		for f in crls.pem cas.pem; do
			[ -f "$PKI/$pki/$f" ] || { echo "missing $pki/$f"; return 1; }
		done
	done
	for f in cert.pem key.pem chain.pem fullchain.pem; do
		[ -f "$PKI/tls/broker/$f" ] || { echo "missing tls/broker/$f"; return 1; }
	done
	[ ! -e "$PKI/e2e/broker" ] || { echo "e2e has a broker"; return 1; }
}
tap_check "layout of both PKIs as documented" layout_ok

# --- chains
for pki in tls e2e; do
	for rel in "${LEAVES[@]}" "${CAS[@]}"; do
		tap_check "$pki $rel verifies (-x509_strict, all CRLs)" verify_crl "$pki" "$rel"
	done
done
tap_check "tls broker verifies as a TLS server (sslserver purpose)" \
	verify_crl tls broker -purpose sslserver -verify_hostname localhost
tap_check "tls broker verifies for IP 127.0.0.1" verify tls broker -verify_ip 127.0.0.1
tap_check "tls broker verifies for IP ::1" verify tls broker -verify_ip ::1
tap_check "tls device verifies as a TLS client (sslclient purpose)" \
	verify tls ma/000001/acc/00002/dev/EQ1 -purpose sslclient
tap_check_fails "tls broker does not verify as a TLS client" verify tls broker -purpose sslclient
tap_check_fails "tls device does not verify as a TLS server" \
	verify tls ma/000001/acc/00002/dev/EQ1 -purpose sslserver

chain_ok() {
	local pki=$1 rel=$2; shift 2
	cat "$@" | cmp -s - "$PKI/$pki/$rel/chain.pem" || { echo "chain.pem of $pki/$rel differs"; return 1; }
	cat "$PKI/$pki/$rel/cert.pem" "$PKI/$pki/$rel/chain.pem" | cmp -s - "$PKI/$pki/$rel/fullchain.pem" ||
		{ echo "fullchain.pem of $pki/$rel differs"; return 1; }
}
for pki in tls e2e; do
	tap_check "$pki device chain.pem is account CA, master CA" chain_ok "$pki" ma/000001/acc/00002/dev/EQ1 \
		"$PKI/$pki/ma/000001/acc/00002/ca.crt" "$PKI/$pki/ma/000001/ca.crt"
	tap_check "$pki master client chain.pem is master CA" chain_ok "$pki" ma/000001/clients/boss \
		"$PKI/$pki/ma/000001/ca.crt"
	tap_check "$pki service chain.pem is services CA" chain_ok "$pki" services/roles/MRO-Admin \
		"$PKI/$pki/services/ca.crt"
done

# --- subjects (RFC 2253 prints the last RDN first: O, OU, serialNumber, CN in the DER)
tap_is "$(subject tls ma/000001/acc/00002/dev/EQ1)" "CN=EQ1,serialNumber=EQ1,OU=00002,O=000001" "device subject"
tap_is "$(subject e2e ma/000001/acc/00002/clients/auditor)" "CN=auditor,OU=00002,O=000001" "account client subject"
tap_is "$(subject tls ma/000001/clients/boss)" "CN=boss,O=000001" "master client subject"
tap_is "$(subject e2e services/roles/MRO-Admin)" "CN=MRO-Admin" "service subject"
tap_is "$(subject tls ma/000001)" "CN=SMS master-account CA,O=000001" "master-account CA subject"
tap_is "$(subject tls ma/000001/acc/00002)" "CN=SMS account CA,OU=00002,O=000001" "account CA subject"

# --- profiles
strip() { sed -n '2,$p' | sed 's/^ *//' | tr '\n' ' ' | sed 's/ *$//'; }
bc() { ext "$1" "$2" basicConstraints; }
tap_is "$(bc tls root | strip)" "CA:TRUE, pathlen:2" "root: CA, pathLen 2"
tap_is "$(bc e2e services | strip)" "CA:TRUE, pathlen:0" "services CA: pathLen 0"
tap_is "$(bc tls ma/000001 | strip)" "CA:TRUE, pathlen:1" "master-account CA: pathLen 1"
tap_is "$(bc e2e ma/000001/acc/00002 | strip)" "CA:TRUE, pathlen:0" "account CA: pathLen 0"
profile_ok() {
	local pki rel
	for pki in tls e2e; do
		for rel in root "${CAS[@]}"; do
			bc "$pki" "$rel" | grep -q 'Basic Constraints: critical' || { echo "$pki/$rel bc not critical"; return 1; }
			[ "$(ext "$pki" "$rel" keyUsage | strip)" = "Certificate Sign, CRL Sign" ] ||
				{ echo "$pki/$rel keyUsage"; return 1; }
			ext "$pki" "$rel" keyUsage | grep -q critical || { echo "$pki/$rel keyUsage not critical"; return 1; }
			[ -n "$(ext "$pki" "$rel" subjectKeyIdentifier)" ] || { echo "$pki/$rel no SKI"; return 1; }
		done
		for rel in "${CAS[@]}" "${LEAVES[@]}"; do
			[ -n "$(ext "$pki" "$rel" authorityKeyIdentifier)" ] || { echo "$pki/$rel no AKI"; return 1; }
		done
		for rel in "${LEAVES[@]}"; do
			[ "$(bc "$pki" "$rel" | strip)" = "CA:FALSE" ] || { echo "$pki/$rel not CA:FALSE"; return 1; }
			bc "$pki" "$rel" | grep -q critical || { echo "$pki/$rel bc not critical"; return 1; }
			[ "$(ext "$pki" "$rel" keyUsage | strip)" = "Digital Signature, Key Agreement" ] ||
				{ echo "$pki/$rel keyUsage"; return 1; }
			[ -n "$(ext "$pki" "$rel" subjectKeyIdentifier)" ] || { echo "$pki/$rel no SKI"; return 1; }
		done
	done
}
tap_check "basicConstraints, keyUsage (critical), SKI, AKI on every certificate" profile_ok
tap_is "$(ext tls ma/000001/acc/00002/dev/EQ1 extendedKeyUsage | strip)" "TLS Web Client Authentication" "tls leaf EKU clientAuth"
tap_is "$(ext e2e ma/000001/acc/00002/dev/EQ1 extendedKeyUsage)" "" "e2e leaf has no EKU"
tap_is "$(ext tls broker extendedKeyUsage | strip)" "TLS Web Server Authentication" "broker EKU serverAuth"
tap_is "$(ext tls broker subjectAltName | strip)" "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" \
	"broker SAN localhost, 127.0.0.1, ::1"
tap_is "$(ext tls ma/000001 nameConstraints | strip)" "Permitted: DirName:O = 000001" "master-account CA name constraint"
tap_is "$(ext e2e ma/000001/acc/00002 nameConstraints | strip)" "Permitted: DirName:O = 000001, OU = 00002" \
	"account CA name constraint"
nc_critical() { ext "$1" "$2" nameConstraints | grep -q 'Name Constraints: critical'; }
tap_check "name constraints are critical" nc_critical tls ma/000001/acc/00002

serials_ok() {
	local s all=() pki rel
	for pki in tls e2e; do
		for rel in "${LEAVES[@]}" "${CAS[@]}"; do
			s=$(openssl x509 -in "$(pem "$pki" "$rel")" -noout -serial | cut -d= -f2)
			[ "${#s}" -ge 30 ] || { echo "$pki/$rel serial $s is short"; return 1; }
			all+=("$s")
		done
	done
	[ "$(printf '%s\n' "${all[@]}" | sort -u | wc -l)" -eq "${#all[@]}" ] || { echo "serials repeat"; return 1; }
}
tap_check "serials are random (>= 120 bits) and distinct" serials_ok

# --- keys
keys_ok() {
	local k pub1 pub2 d
	while read -r k; do
		[ "$(stat -c %a "$k")" = 600 ] || { echo "$k mode $(stat -c %a "$k")"; return 1; }
		[ "$(head -n 1 "$k")" = "-----BEGIN PRIVATE KEY-----" ] || { echo "$k is not PKCS#8"; return 1; }
		openssl pkey -in "$k" -noout || { echo "$k does not parse"; return 1; }
		d=${k%/*}
		if [ -f "$d/cert.pem" ]; then c=$d/cert.pem; else c=${d/\/private\///}/ca.crt; fi
		pub1=$(openssl pkey -in "$k" -pubout)
		pub2=$(openssl x509 -in "$c" -noout -pubkey)
		[ "$pub1" = "$pub2" ] || { echo "$k does not match $c"; return 1; }
	done < <(find "$PKI" -name key.pem -o -name ca.key)
}
tap_check "every key is PKCS#8 PEM, mode 0600, matching its certificate" keys_ok
tap_is "$(find "$PKI" \( -name key.pem -o -name ca.key \) | wc -l)" 19 "19 keys: 2 roots, 6 CAs, 2x5 leaves, broker"
pub() { openssl x509 -in "$1" -noout -pubkey; }
roots_differ() { [ "$(pub "$PKI/tls/root/ca.crt")" != "$(pub "$PKI/e2e/root/ca.crt")" ]; }
tap_check "TLS and E2E roots have different keys" roots_differ
tap_check "TLS and E2E root names differ" test "$(subject tls root)" != "$(subject e2e root)"
leaf_keys_differ() { [ "$(pub "$PKI/tls/ma/000001/acc/00002/dev/EQ1/cert.pem")" != "$(pub "$PKI/e2e/ma/000001/acc/00002/dev/EQ1/cert.pem")" ]; }
tap_check "a device has independent TLS and E2E keys" leaf_keys_differ
tap_check_fails "a TLS device does not verify against the E2E root" \
	verify_cert e2e "$PKI/tls/ma/000001/acc/00002/dev/EQ1/cert.pem" "$PKI/tls/ma/000001/acc/00002/dev/EQ1/chain.pem"
curve_is() { openssl pkey -in "$1" -noout -text_pub | grep -q "NIST CURVE: $2"; }
tap_check "default curve is P-256" curve_is "$PKI/e2e/ma/000001/acc/00002/dev/EQ1/key.pem" P-256

bundles_ok() {
	local pki
	for pki in tls e2e; do
		[ "$(grep -c 'BEGIN X509 CRL' "$PKI/$pki/crls.pem")" -eq 4 ] || { echo "$pki crls.pem"; return 1; }
		[ "$(grep -c 'BEGIN CERTIFICATE' "$PKI/$pki/cas.pem")" -eq 3 ] || { echo "$pki cas.pem"; return 1; }
		grep -q "$(sed -n 2p "$PKI/$pki/root/ca.crt")" "$PKI/$pki/cas.pem" && { echo "$pki cas.pem has the root"; return 1; }
	done
	return 0
}
tap_check "crls.pem holds 4 CRLs, cas.pem 3 intermediates (no root)" bundles_ok
crl_ok() { openssl crl -in "$PKI/$1/$2/crl.pem" -noout -verify -CAfile "$PKI/$1/$2/ca.crt" 2>&1 | grep -q 'verify OK'; }
tap_check "each CA's CRL is signed by it" crl_ok e2e ma/000001/acc/00002

# --- a real mutual TLS handshake on loopback: broker cert as server, device
# cert as client, both sides verifying strictly with every CRL.
# tls_handshake PKI_OF_CLIENT CLIENT_REL: ok when the server answers over a
# connection it authenticated.
tls_handshake() {
	local c=$PKI/$1/$2 t=$PKI/tls port out
	port=$(harness_free_port)
	cat "$t/root/ca.crt" "$t/crls.pem" >"$H_DIR/trust.pem"
	harness_bg "s_server-$port" openssl s_server -www -naccept 1 -accept "127.0.0.1:$port" \
		-cert "$t/broker/cert.pem" -key "$t/broker/key.pem" -cert_chain "$t/broker/chain.pem" \
		-CAfile "$H_DIR/trust.pem" -Verify 3 -verify_return_error -x509_strict -crl_check_all
	for _ in $(seq 1 50); do
		grep -q ACCEPT "$H_DIR/s_server-$port.log" 2>/dev/null && break
		sleep 0.1
	done
	out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$port" \
		-CAfile "$t/root/ca.crt" -verify_return_error -verify_hostname localhost -x509_strict \
		-cert "$c/cert.pem" -key "$c/key.pem" -cert_chain "$c/chain.pem" 2>&1)
	kill "$H_LAST_PID" 2>/dev/null
	grep -q 'Ciphers supported in s_server' <<<"$out" || { echo "$out"; return 1; }
}
tap_check "mutual TLS handshake: device client, broker server, CRLs checked" \
	tls_handshake tls ma/000001/acc/00002/dev/EQ1
tap_check_fails "the E2E certificate of the same device is refused by the TLS server" \
	tls_handshake e2e ma/000001/acc/00002/dev/EQ1

# --- other curves, in separate directories
for curve in P-384 P-521; do
	D=$H_DIR/$curve
	tap_check "issue every identity kind ($curve)" issue_all "$D" --curve "$curve"
	PKI=$D
	for pki in tls e2e; do
		for rel in "${LEAVES[@]}"; do
			tap_check "$curve $pki $rel verifies" verify_crl "$pki" "$rel"
		done
	done
	tap_check "$curve keys are on $curve" curve_is "$D/tls/ma/000001/acc/00002/dev/EQ1/key.pem" "$curve"
	PKI=$H_DIR/pki
done
sig_is() { openssl x509 -in "$1" -noout -text | grep -m1 'Signature Algorithm' | grep -q "$2"; }
tap_check "P-521 issuers sign with SHA-512" sig_is "$H_DIR/P-521/tls/ma/000001/clients/boss/cert.pem" ecdsa-with-SHA512
tap_check "P-384 issuers sign with SHA-384" sig_is "$H_DIR/P-384/e2e/root/ca.crt" ecdsa-with-SHA384

# A P-384 device under a P-256 CA: the signature follows the issuer.
tap_check "--curve P-384 device under P-256 CAs" harness_pki --curve P-384 device 000001 00002 EQ384
tap_check "... verifies" verify_crl tls ma/000001/acc/00002/dev/EQ384
tap_check "... has a P-384 key" curve_is "$PKI/e2e/ma/000001/acc/00002/dev/EQ384/key.pem" P-384

# --san, --days
D=$H_DIR/san
tap_check "init --san adds names" "$SMS_PKI" --dir "$D" --pki tls init --san mqtt.example.net --san 192.0.2.7 --san 2001:db8::1
tap_is "$(openssl x509 -in "$D/tls/broker/cert.pem" -noout -ext subjectAltName | strip)" \
	"DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:mqtt.example.net, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1" \
	"broker SAN with --san names"
tap_check "--pki tls init creates no e2e PKI" test ! -e "$D/e2e"
tap_check_fails "--san with a bad name is refused" "$SMS_PKI" --dir "$H_DIR/san2" init --san 'a b'
tap_check "--days 10 client" harness_pki --days 10 client 000001 short
days_left() {
	local end now
	end=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
	now=$(date +%s)
	echo $(((end - now + 3600) / 86400))
}
tap_is "$(days_left "$PKI/tls/ma/000001/clients/short/cert.pem")" 10 "--days 10 gives 10 days"
tap_is "$(days_left "$PKI/tls/ma/000001/clients/boss/cert.pem")" 730 "leaves default to 730 days"

tap_done
