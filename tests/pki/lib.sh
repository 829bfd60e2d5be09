# shellcheck shell=bash
# tests/pki/lib.sh: helpers shared by the pki suites (sourced after harness.sh).
#
# The verifier is always `openssl verify -x509_strict`, an implementation we
# did not write, so these suites test the certificates, not our own reading
# of them.

PKI=${H_DIR:?harness_init first}/pki

# pem PKI REL: the certificate at REL (a CA's ca.crt or a leaf's cert.pem).
pem() {
	if [ -f "$PKI/$1/$2/ca.crt" ]; then echo "$PKI/$1/$2/ca.crt"; else echo "$PKI/$1/$2/cert.pem"; fi
}

# verify_cert PKI CERT UNTRUSTED [ARGS...]: strict chain from CERT through
# the UNTRUSTED bundle to the PKI's root.
verify_cert() {
	local pki=$1 cert=$2 untrusted=$3; shift 3
	openssl verify -x509_strict -CAfile "$PKI/$pki/root/ca.crt" \
		-untrusted "$untrusted" "$@" "$cert"
}

# verify PKI REL [ARGS...]: the certificate at REL with its own chain.pem
# (a CA: with cas.pem).
verify() {
	local pki=$1 rel=$2 untrusted; shift 2
	untrusted=$PKI/$pki/$rel/chain.pem
	[ -f "$untrusted" ] || untrusted=$PKI/$pki/cas.pem
	verify_cert "$pki" "$(pem "$pki" "$rel")" "$untrusted" "$@"
}

# verify_crl PKI REL: as verify, with every CA's CRL checked.
verify_crl() {
	verify "$1" "$2" -crl_check_all -CRLfile "$PKI/$1/crls.pem"
}

# fails_with PATTERN CMD...: CMD fails and its output says PATTERN (so a
# failure for an unrelated reason does not count as the expected one).
fails_with() {
	local want=$1 out; shift
	if out=$("$@" 2>&1); then
		printf 'succeeded, but should not have:\n%s\n' "$out"; return 1
	fi
	grep -q -- "$want" <<<"$out" && return 0
	printf 'failed for another reason than "%s":\n%s\n' "$want" "$out"; return 1
}

# ext PKI REL NAME: the text of one extension of the certificate at REL.
ext() {
	openssl x509 -in "$(pem "$1" "$2")" -noout -ext "$3" 2>/dev/null
}

subject() {
	openssl x509 -in "$(pem "$1" "$2")" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}

# mint_under CA_DIR SUBJECT OUT: a leaf signed directly with a CA's key, as a
# customer holding that key could do, bypassing sms-pki entirely.
mint_under() {
	local ca=$1 subj=$2 out=$3
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out.key" 2>/dev/null &&
	openssl req -new -key "$out.key" -subj "$subj" -out "$out.csr" 2>/dev/null &&
	printf '%s\n' 'basicConstraints=critical,CA:false' 'keyUsage=critical,digitalSignature' \
		'extendedKeyUsage=clientAuth' 'subjectKeyIdentifier=hash' \
		'authorityKeyIdentifier=keyid:always' >"$out.ext" &&
	openssl x509 -req -in "$out.csr" -CA "$ca/ca.crt" -CAkey "$(harness_ca_key "$ca")" -set_serial 0x"$(openssl rand -hex 16)" \
		-days 30 -extfile "$out.ext" -out "$out" 2>/dev/null
}
