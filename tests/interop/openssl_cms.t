#!/usr/bin/env bash
# openssl_cms.t: libsmscms <-> `openssl cms` (OpenSSL 3.0 from Debian).
#
# OpenSSL's CMS has no MQV, so the common ground is ephemeral-static ECDH
# AuthEnvelopedData. `openssl cms -encrypt -aes-*-gcm` with EC recipient
# certificates writes AuthEnvelopedData without authAttrs and without
# originatorInfo, one KeyAgreeRecipientInfo (own ephemeral key) per -recip,
# KDF SHA-1 unless -keyopt ecdh_kdf_md:<md> follows that -recip.
source "$(dirname "$0")/../harness/harness.sh"
source "$H_ROOT/tests/interop/lib.sh"

SMSCMS=$H_BIN/smscms
[ -x "$SMSCMS" ] || harness_die "$SMSCMS not built (make all)"
interop_java_build || harness_die "cannot compile tests/interop/java"

harness_init
interop_pki || harness_die "cannot create the test PKI"
W=$H_DIR/w
mkdir -p "$W"
head -c 1024 /dev/urandom >"$W/pt.bin"
echo "# $(openssl version)"

cert() { echo "$(leaf_dir "$1")/cert.pem"; }
key() { echo "$(leaf_dir "$1")/key.pem"; }
orig() { local d; d=$(leaf_dir "EQ$1"); echo "--cert $d/cert.pem --key $d/key.pem --chain $d/chain.pem"; }

# check_openssl_decrypt DESC MSG RCPT: openssl cms -decrypt, byte-compare.
check_openssl_decrypt() {
	rm -f "$W/out"
	tap_check "$1" run_and_cmp "$W/pt.bin" "$W/out" \
		openssl cms -decrypt -inform DER -in "$2" -recip "$(cert "$3")" -inkey "$(key "$3")" -out "$W/out"
}

check_smscms_decrypt() {
	rm -f "$W/out"
	tap_check "$1" run_and_cmp "$W/pt.bin" "$W/out" \
		"$SMSCMS" decrypt --cert "$(cert "$3")" --key "$(key "$3")" --in "$2" --out "$W/out"
}

# ---- we encrypt (ECDH, no authAttrs), openssl decrypts ----
#       kdf    cipher     curve recipients
OURS=(
	"sha1   aes128-gcm 256 R1c256"
	"sha256 aes256-gcm 256 R1c256 R2c256 R3c256"
	"sha384 aes256-gcm 384 R1c384"
	"sha512 aes128-gcm 521 R1c521 R2c521 R3c521"
	"sha224 aes256-gcm 521 R2c521"
)
for i in "${!OURS[@]}"; do
	read -r kdf cipher curve rcpts <<<"${OURS[$i]}"
	args=()
	for r in $rcpts; do args+=(--recipient "$(cert "$r")"); done
	desc="ECDH $kdf $cipher P-$curve $(wc -w <<<"$rcpts")rcpt no authAttrs"
	# shellcheck disable=SC2046
	if ! out=$("$SMSCMS" encrypt $(orig "$curve") "${args[@]}" --ka ecdh --kdf "$kdf" --cipher "$cipher" \
		--no-attrs --in "$W/pt.bin" --out "$W/ours_$i.der" 2>&1); then
		tap_not_ok "smscms encrypts $desc"; echo "$out" | tail -n 8 | sed 's/^/#   /'; continue
	fi
	for r in $rcpts; do
		check_openssl_decrypt "smscms -> openssl cms: $desc, recipient $r" "$W/ours_$i.der" "$r"
	done
done

# With authAttrs: DESIGN.md recorded that OpenSSL 3.0.19 could not read them;
# whether this OpenSSL can is first asked of a BC-made message, and only
# then is the same demanded of ours (a difference would be our bug).
# shellcheck disable=SC2046
smsbc encrypt $(orig 256) --recipient "$(cert R1c256)" --ka ecdh --kdf sha256 \
	--in "$W/pt.bin" --out "$W/bc_attrs.der" >/dev/null 2>&1
if openssl cms -decrypt -inform DER -in "$W/bc_attrs.der" -recip "$(cert R1c256)" -inkey "$(key R1c256)" \
	-out "$W/out" >/dev/null 2>&1 && cmp -s "$W/out" "$W/pt.bin"; then
	# shellcheck disable=SC2046
	"$SMSCMS" encrypt $(orig 256) --recipient "$(cert R1c256)" --ka ecdh --kdf sha256 \
		--in "$W/pt.bin" --out "$W/ours_attrs.der" || rm -f "$W/ours_attrs.der"
	check_openssl_decrypt "smscms -> openssl cms: ECDH sha256 with authAttrs (this OpenSSL reads BC's)" \
		"$W/ours_attrs.der" R1c256
	# and the AAD really is checked on that path: a flipped signingTime byte
	rm -f "$W/ours_attrs_t.der"
	[ -s "$W/ours_attrs.der" ] && python3 - "$W/ours_attrs.der" "$W/ours_attrs_t.der" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(bytes.fromhex('06092a864886f70d010905'))  # signingTime OID
d[i + 16] ^= 1                                         # inside the time value
open(sys.argv[2], 'wb').write(d)
EOF
	[ -s "$W/ours_attrs_t.der" ] || tap_not_ok "no message to tamper with"
	[ -s "$W/ours_attrs_t.der" ] && tap_check_fails "openssl cms refuses our message with a flipped authAttrs byte" \
		openssl cms -decrypt -inform DER -in "$W/ours_attrs_t.der" -recip "$(cert R1c256)" \
		-inkey "$(key R1c256)" -out "$W/out"
else
	tap_ok "# SKIP $(openssl version) cannot read ECDH AuthEnvelopedData with authAttrs"
fi

# MQV: openssl has none; it must refuse rather than produce garbage.
# shellcheck disable=SC2046
if "$SMSCMS" encrypt $(orig 256) --recipient "$(cert R1c256)" --ka mqv --no-attrs \
	--in "$W/pt.bin" --out "$W/ours_mqv.der"; then
	tap_check_fails "openssl cms refuses MQV (no ECMQV in OpenSSL)" \
		openssl cms -decrypt -inform DER -in "$W/ours_mqv.der" -recip "$(cert R1c256)" \
		-inkey "$(key R1c256)" -out "$W/out"
else
	tap_not_ok "smscms encrypts MQV for the openssl refusal check"
fi

# ---- openssl encrypts, we decrypt ----
#       cipher      curve  recipient:kdf ...  ("-" = openssl's default, SHA-1)
THEIRS=(
	"aes-256-gcm 256 R1c256:-"
	"aes-128-gcm 256 R1c256:sha256"
	"aes-256-gcm 384 R1c384:sha384 R2c384:- R3c384:sha512"
	"aes-128-gcm 521 R1c521:sha224"
	"aes-256-gcm 521 R2c521:sha512 R3c521:sha256"
)
for i in "${!THEIRS[@]}"; do
	read -r cipher curve spec <<<"${THEIRS[$i]}"
	args=()
	for rk in $spec; do
		args+=(-recip "$(cert "${rk%%:*}")")
		[ "${rk#*:}" = - ] || args+=(-keyopt "ecdh_kdf_md:${rk#*:}")
	done
	desc="openssl -$cipher P-$curve $spec"
	if ! out=$(openssl cms -encrypt "-$cipher" -binary -outform DER -in "$W/pt.bin" -out "$W/theirs_$i.der" \
		"${args[@]}" 2>&1); then
		tap_not_ok "openssl cms encrypts: $desc"; echo "#   $out"; continue
	fi
	for rk in $spec; do
		check_smscms_decrypt "openssl cms -> smscms: $desc, recipient ${rk%%:*}" "$W/theirs_$i.der" "${rk%%:*}"
	done
done

# ---- a signed snapshot: SignedData inside the envelope (sms-agent e2e.sign_snapshots) ----
# The nesting of RFC 5652 (inner content type id-signedData) read by OpenSSL
# alone: openssl cms -decrypt hands out the SignedData, -verify checks it
# against the E2E root and gives the snapshot back.
d=$(leaf_dir EQ256)
signed_round_trip() {
	openssl cms -sign -binary -nodetach -md sha256 -signer "$d/cert.pem" -inkey "$d/key.pem" \
		-certfile "$d/chain.pem" -in "$W/pt.bin" -outform DER -out "$W/sd.der" &&
	# shellcheck disable=SC2046
	"$SMSCMS" encrypt $(orig 256) --recipient "$(cert R1c256)" --ka ecdh --kdf sha256 --no-attrs --signed \
		--in "$W/sd.der" --out "$W/sd_env.der" &&
	openssl cms -decrypt -inform DER -in "$W/sd_env.der" -recip "$(cert R1c256)" -inkey "$(key R1c256)" \
		-out "$W/sd_out.der" && cmp "$W/sd.der" "$W/sd_out.der" &&
	openssl cms -verify -binary -inform DER -in "$W/sd_out.der" -CAfile "$I_ROOT" -purpose any \
		-out "$W/sd_pt.bin" 2>/dev/null && cmp "$W/pt.bin" "$W/sd_pt.bin"
}
tap_check "signed snapshot: openssl decrypts the envelope, openssl cms -verify checks the SignedData inside" \
	signed_round_trip
"$SMSCMS" inspect --in "$W/sd_env.der" 2>&1 | grep -q "encrypted content type.*1.2.840.113549.1.7.2\|encrypted content type.*signedData\|encrypted content type.*pkcs7-signedData" &&
	tap_ok "smscms inspect shows the inner content type id-signedData" ||
	tap_not_ok "inspect: $("$SMSCMS" inspect --in "$W/sd_env.der" 2>&1 | grep 'encrypted content type')"

# ---- RFC 3274 CompressedData inside the envelope (sms-agent e2e.compress) ----
# openssl cms -decrypt hands out the CompressedData ContentInfo; Debian's
# OpenSSL is built without zlib, so `openssl cms -uncompress` refuses
# ("unsupported compression algorithm"): then openssl asn1parse shows the
# structure and the zlib stream is expanded on the test side (python3 zlib).
python3 -c 'import sys; sys.stdout.write("".join("{\"channel\":\"c%d\",\"value\":%d.25}," % (i, i) for i in range(300)))' \
	>"$W/z.json"
compressed_round_trip() {
	# shellcheck disable=SC2046
	"$SMSCMS" encrypt $(orig 256) --recipient "$(cert R1c256)" --ka ecdh --kdf sha256 --no-attrs --compress \
		--in "$W/z.json" --out "$W/z_env.der" &&
	openssl cms -decrypt -inform DER -in "$W/z_env.der" -recip "$(cert R1c256)" -inkey "$(key R1c256)" \
		-out "$W/z_cd.der" || return 1
	if openssl cms -uncompress -inform DER -in "$W/z_cd.der" -out "$W/z_out" 2>/dev/null; then
		echo "# openssl cms -uncompress read it"
	else
		echo "# openssl cms -uncompress: OpenSSL without zlib; expanded by python3 zlib"
		local parsed off hl len
		parsed=$(openssl asn1parse -inform DER -in "$W/z_cd.der") || return 1
		grep -q ":id-smime-ct-compressedData" <<<"$parsed" && grep -q ":zlib compression" <<<"$parsed" &&
			grep -q ":pkcs7-data" <<<"$parsed" || { echo "$parsed" | sed 's/^/#   /'; return 1; }
		# "  52:d=5  hl=2 l=  33 prim: OCTET STRING": the zlib stream's bytes, after the header
		read -r off hl len < <(sed -n 's/^ *\([0-9]*\):d=[0-9]* *hl=\([0-9]*\) *l= *\([0-9]*\) *prim: OCTET STRING.*/\1 \2 \3/p' \
			<<<"$parsed" | head -n 1)
		[ -n "$len" ] || return 1
		tail -c +$((off + hl + 1)) "$W/z_cd.der" | head -c "$len" >"$W/z_stream"
		python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1], "rb").read()))' \
			"$W/z_stream" >"$W/z_out" || return 1
	fi
	cmp "$W/z.json" "$W/z_out"
}
tap_check "compressed snapshot: openssl decrypts the envelope, the CompressedData inside expands to the JSON" \
	compressed_round_trip
"$SMSCMS" inspect --in "$W/z_env.der" 2>&1 | grep -q "encrypted content type.*compressedData\|encrypted content type.*1.2.840.113549.1.9.16.1.9" &&
	tap_ok "smscms inspect shows the encrypted content type id-ct-compressedData" ||
	tap_not_ok "inspect: $("$SMSCMS" inspect --in "$W/z_env.der" 2>&1 | grep 'encrypted content type')"

tap_done
