#!/usr/bin/env bash
# Name constraints: a customer holding its master-account or account CA key
# cannot mint certificates for another customer, another account, or a
# vendor role. The minting is done with plain openssl and the CA's key, the
# check by `openssl verify -x509_strict`.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

tap_check "init" harness_pki init
tap_check "master 000001" harness_pki master 000001
tap_check "master 000002" harness_pki master 000002
tap_check "account 000001 00002" harness_pki account 000001 00002

M=$H_DIR/minted
mkdir -p "$M"
VIOLATION="permitted subtree violation"

for pki in tls e2e; do
	ma=$PKI/$pki/ma/000001
	acc=$ma/acc/00002

	tap_check "$pki: master CA key mints O=000001 (control)" mint_under "$ma" "/O=000001/CN=own" "$M/$pki-own.pem"
	tap_check "$pki: ... and it verifies" verify_cert "$pki" "$M/$pki-own.pem" "$ma/ca.crt"

	tap_check "$pki: master CA key mints O=000002" mint_under "$ma" "/O=000002/CN=foreign" "$M/$pki-foreign-o.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-foreign-o.pem" "$ma/ca.crt"

	tap_check "$pki: master CA key mints O=000002, OU=00002, serialNumber=EQ" \
		mint_under "$ma" "/O=000002/OU=00002/serialNumber=EQX/CN=EQX" "$M/$pki-foreign-dev.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-foreign-dev.pem" "$ma/ca.crt"

	tap_check "$pki: master CA key mints a subject without O" mint_under "$ma" "/CN=000001" "$M/$pki-no-o.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-no-o.pem" "$ma/ca.crt"

	# RDN order matters: O must come first, so an "OU, O" subject is outside.
	tap_check "$pki: master CA key mints OU first, then O=000001" mint_under "$ma" "/OU=x/O=000001/CN=x" "$M/$pki-order.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-order.pem" "$ma/ca.crt"

	tap_check "$pki: account CA key mints O=000001, OU=00002 (control)" \
		mint_under "$acc" "/O=000001/OU=00002/CN=own" "$M/$pki-acc-own.pem"
	untrusted=$H_DIR/$pki-acc-chain.pem
	cat "$acc/ca.crt" "$ma/ca.crt" >"$untrusted"
	tap_check "$pki: ... and it verifies" verify_cert "$pki" "$M/$pki-acc-own.pem" "$untrusted"

	tap_check "$pki: account CA key mints a foreign OU=00003" \
		mint_under "$acc" "/O=000001/OU=00003/serialNumber=EQ1/CN=EQ1" "$M/$pki-acc-ou.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-acc-ou.pem" "$untrusted"

	tap_check "$pki: account CA key mints a master-account client O=000001, CN=x" \
		mint_under "$acc" "/O=000001/CN=x" "$M/$pki-acc-up.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-acc-up.pem" "$untrusted"

	tap_check "$pki: account CA key mints a foreign O=000002, OU=00002" \
		mint_under "$acc" "/O=000002/OU=00002/CN=x" "$M/$pki-acc-o.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-acc-o.pem" "$untrusted"

	# The rogue admin: a customer CA minting a vendor role name.
	tap_check "$pki: account CA key mints CN=MRO-Admin" mint_under "$acc" "/CN=MRO-Admin" "$M/$pki-rogue.pem"
	tap_check "$pki: ... rejected by the name constraint" \
		fails_with "$VIOLATION" verify_cert "$pki" "$M/$pki-rogue.pem" "$untrusted"
done

# pathLen: an account CA (pathLen 0) cannot grow a sub-CA that issues.
mint_ca_under() {
	local ca=$1 subj=$2 out=$3
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out.key" 2>/dev/null &&
	openssl req -new -key "$out.key" -subj "$subj" -out "$out.csr" 2>/dev/null &&
	printf '%s\n' 'basicConstraints=critical,CA:true' 'keyUsage=critical,keyCertSign,cRLSign' \
		'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' >"$out.ext" &&
	openssl x509 -req -in "$out.csr" -CA "$ca/ca.crt" -CAkey "$(harness_ca_key "$ca")" -set_serial 0x"$(openssl rand -hex 16)" \
		-days 30 -extfile "$out.ext" -out "$out" 2>/dev/null &&
	mkdir -p "$out.d" && cp "$out" "$out.d/ca.crt" && cp "$out.key" "$out.d/ca.key"
}
acc=$PKI/tls/ma/000001/acc/00002
tap_check "account CA key mints a sub-CA inside its names" mint_ca_under "$acc" "/O=000001/OU=00002/CN=sub" "$M/sub.pem"
tap_check "... which mints a leaf inside the names" mint_under "$M/sub.pem.d" "/O=000001/OU=00002/CN=deep" "$M/deep.pem"
cat "$M/sub.pem" "$acc/ca.crt" "$PKI/tls/ma/000001/ca.crt" >"$M/deep-chain.pem"
tap_check "... rejected: path length constraint exceeded" \
	fails_with "path length constraint exceeded" verify_cert tls "$M/deep.pem" "$M/deep-chain.pem"

tap_done
