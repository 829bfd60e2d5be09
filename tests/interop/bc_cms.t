#!/usr/bin/env bash
# bc_cms.t: libsmscms <-> Bouncy Castle 1.72 (the thesis prototype's library),
# both directions, plaintexts compared byte for byte.
#
# The full cross product (ka x kdf x cipher x curve x recipients x authAttrs x
# originatorInfo = 480 cases) would cost minutes of JVM time for little, so
# CASES is a covering design: every value of every dimension appears for MQV
# and for ECDH, in both directions, and the production profile (MQV, SHA-256,
# AES-256, P-256, 3 recipients, authAttrs, originatorInfo) is one of them.
# Each Java step is one JVM running a batch file (SmsBc batch).
#
# MQV towards BC needs --bc-compat (BC 1.72 only reads originatorKey and
# derives the KEK with the raw addedukm as SharedInfo, see README.md); BC's
# MQV output must be readable by us as is. The KAT section checks our
# RFC 5753 (non-compat) KEK derivation against BC's primitives driven with
# an explicit ECC-CMS-SharedInfo, and that the two SharedInfo forms differ.
source "$(dirname "$0")/../harness/harness.sh"
source "$H_ROOT/tests/interop/lib.sh"

SMSCMS=$H_BIN/smscms
[ -x "$SMSCMS" ] || harness_die "$SMSCMS not built (make all)"
command -v javac >/dev/null || harness_die "javac missing (default-jdk-headless)"
interop_java_build || harness_die "cannot compile tests/interop/java"

harness_init
interop_pki || harness_die "cannot create the test PKI"
W=$H_DIR/w
mkdir -p "$W"
# 1 KB, binary: a snapshot is JSON, but arbitrary bytes catch any text
# handling on the way.
head -c 1024 /dev/urandom >"$W/pt.bin"

#        ka   kdf    cipher     curve rcpts attrs   originatorInfo
CASES=(
	"mqv  sha1   aes128-gcm 256 1 attrs   orig"
	"mqv  sha224 aes256-gcm 384 3 noattrs orig"
	"mqv  sha256 aes256-gcm 256 3 attrs   orig"
	"mqv  sha256 aes128-gcm 521 1 attrs   noorig"
	"mqv  sha384 aes256-gcm 256 3 noattrs noorig"
	"mqv  sha512 aes128-gcm 384 1 attrs   orig"
	"mqv  sha512 aes256-gcm 521 3 attrs   orig"
	"ecdh sha1   aes256-gcm 521 1 attrs   orig"
	"ecdh sha224 aes128-gcm 256 3 attrs   noorig"
	"ecdh sha256 aes256-gcm 384 1 noattrs orig"
	"ecdh sha384 aes128-gcm 521 3 attrs   orig"
	"ecdh sha512 aes256-gcm 256 1 noattrs noorig"
)

# case_vars "ka kdf ..." -> ka kdf cipher curve n attrs orig, RCPTS, OPTS, DESC
case_vars() {
	read -r ka kdf cipher curve n attrs orig <<<"$1"
	RCPTS=()
	local r
	for r in $(seq 1 "$n"); do RCPTS+=("R${r}c$curve"); done
	OPTS="--ka $ka --kdf $kdf --cipher $cipher"
	[ "$attrs" = noattrs ] && OPTS+=" --no-attrs"
	[ "$orig" = noorig ] && OPTS+=" --no-originator-info"
	DESC="$ka $kdf $cipher P-$curve ${n}rcpt $attrs $orig"
}

originator_args() {
	local d
	d=$(leaf_dir "EQ$1")
	echo "--cert $d/cert.pem --key $d/key.pem --chain $d/chain.pem"
}

recipient_args() {
	local r out=
	for r in "$@"; do out+=" --recipient $(leaf_dir "$r")/cert.pem"; done
	echo "$out"
}

# A Java batch: lines with a TAP description each; run_batch turns SmsBc's
# "ok N"/"not ok N" into this script's TAP lines, and a missing line (JVM
# died) into a failure.
BATCH=
BDESC=()
batch_new() { BATCH=$W/batch.$1; : >"$BATCH"; BDESC=(); }
batch_add() { BDESC+=("$1"); echo "$2" >>"$BATCH"; }
run_batch() {
	local out i line
	out=$(cd "$W" && smsbc batch "$BATCH" 2>&1)
	for i in "${!BDESC[@]}"; do
		line=$(grep -E "^(not )?ok $((i + 1)) - " <<<"$out" | head -n 1)
		case $line in
		ok*) tap_ok "${BDESC[$i]}" ;;
		"not ok"*) tap_not_ok "${BDESC[$i]}"; echo "#   ${line#*: }" | cut -c1-600 ;;
		*) tap_not_ok "${BDESC[$i]} (no result from the Java harness)"; tail -n 5 <<<"$out" | sed 's/^/#   /' ;;
		esac
	done
}

# ---- Bouncy Castle encrypts, we decrypt ----
batch_new bc-encrypt
for i in "${!CASES[@]}"; do
	case_vars "${CASES[$i]}"
	batch_add "BC encrypts: $DESC" \
		"encrypt $(originator_args "$curve") $(recipient_args "${RCPTS[@]}") $OPTS --in pt.bin --out bc_$i.der"
done
run_batch

for i in "${!CASES[@]}"; do
	case_vars "${CASES[$i]}"
	[ -f "$W/bc_$i.der" ] || continue
	for r in "${RCPTS[@]}"; do
		rm -f "$W/out"
		# shellcheck disable=SC2046
		tap_check "BC -> smscms: $DESC, recipient $r" run_and_cmp \
			"$W/pt.bin" "$W/out" "$SMSCMS" decrypt $(leaf_args "$r") --in "$W/bc_$i.der" --out "$W/out"
	done
	if [ "$orig" = orig ] && [ "$ka" = mqv ]; then
		rm -f "$W/out"
		# shellcheck disable=SC2046
		tap_check "BC -> smscms: $DESC, originator chain verified (root + CRLs)" run_and_cmp \
			"$W/pt.bin" "$W/out" "$SMSCMS" decrypt $(leaf_args "${RCPTS[0]}") --trust-root "$I_ROOT" --crl "$I_CRLS" \
			--in "$W/bc_$i.der" --out "$W/out"
	elif [ "$orig" = orig ]; then
		# ECDH's originatorKey is ephemeral: nothing binds the carried chain
		# to the sender, so libsmscms refuses to call it verified (status
		# originator, exit 20) and releases nothing.
		rm -f "$W/out"
		# shellcheck disable=SC2046
		"$SMSCMS" decrypt $(leaf_args "${RCPTS[0]}") --trust-root "$I_ROOT" --crl "$I_CRLS" \
			--in "$W/bc_$i.der" --out "$W/out" 2>/dev/null
		rc=$?
		if [ "$rc" -eq 20 ] && [ ! -s "$W/out" ]; then
			tap_ok "BC -> smscms: $DESC, --trust-root refused: ECDH does not authenticate the originator"
		else
			tap_not_ok "BC -> smscms: $DESC, --trust-root refused: ECDH does not authenticate the originator (exit $rc)"
		fi
	fi
done

# Tampered BC messages (production profile, case 2). BC writes BER with
# indefinite lengths, so the tag is the OCTET STRING(16) followed only by
# end-of-contents octets; signingTime sits in authAttrs. Our decrypt must
# answer "auth" (exit 19) and write nothing.
tamper_offsets() {
	python3 - "$1" <<'EOF'
import re, sys
d = open(sys.argv[1], 'rb').read()
tag = next(m.start() + 2 for m in re.finditer(rb'\x04\x10', d) if d[m.start() + 18:].strip(b'\0') == b'')
st = d.find(bytes.fromhex('06092a864886f70d010905'))
print(tag + 15, st + 16 if st >= 0 else -1)
EOF
}
tamper_check() {
	local desc=$1 off=$2 rc
	python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[int(sys.argv[3])] ^= 1; open(sys.argv[2], "wb").write(d)' \
		"$W/bc_2.der" "$W/tampered.der" "$off"
	rm -f "$W/out"
	# shellcheck disable=SC2046
	"$SMSCMS" decrypt $(leaf_args R1c256) --in "$W/tampered.der" --out "$W/out" 2>/dev/null
	rc=$?
	if [ "$rc" -eq 19 ] && [ ! -s "$W/out" ] && ! cmp -s "$W/tampered.der" "$W/bc_2.der"; then
		tap_ok "BC message with $desc flipped: smscms refuses (auth), no plaintext"
	else
		tap_not_ok "BC message with $desc flipped: smscms refuses (auth), no plaintext (exit $rc)"
	fi
}
if [ -s "$W/bc_2.der" ] && read -r tag_off st_off < <(tamper_offsets "$W/bc_2.der"); then
	tamper_check "the last GCM tag byte" "$tag_off"
	if [ "$st_off" -ge 0 ]; then tamper_check "a signingTime (authAttrs) byte" "$st_off"
	else tap_not_ok "BC message has no signingTime attribute"; fi
else
	tap_not_ok "no BC message to tamper with"
fi

# ---- we encrypt, Bouncy Castle decrypts ----
batch_new bc-decrypt
for i in "${!CASES[@]}"; do
	case_vars "${CASES[$i]}"
	compat=
	[ "$ka" = mqv ] && compat=--bc-compat
	# shellcheck disable=SC2046,SC2086
	if ! out=$("$SMSCMS" encrypt $(originator_args "$curve") $(recipient_args "${RCPTS[@]}") $OPTS $compat \
		--in "$W/pt.bin" --out "$W/our_$i.der" 2>&1); then
		tap_not_ok "smscms encrypts $compat: $DESC"; echo "$out" | tail -n 8 | sed 's/^/#   /'
		rm -f "$W/our_$i.der"
		continue
	fi
	for r in "${RCPTS[@]}"; do
		batch_add "smscms $compat -> BC: $DESC, recipient $r" \
			"decrypt $(leaf_args "$r") --in our_$i.der --expect pt.bin"
	done
	[ "$orig" = orig ] && batch_add "smscms $compat -> BC: $DESC, BC validates our originatorInfo chain (PKIX + CRLs)" \
		"decrypt $(leaf_args "${RCPTS[0]}") --trust $I_ROOT --crl $I_CRLS --in our_$i.der --expect pt.bin"
done

# Recipients named by subjectKeyIdentifier (--rid ski), MQV and ECDH.
for ka in mqv ecdh; do
	compat=
	[ "$ka" = mqv ] && compat=--bc-compat
	# shellcheck disable=SC2046,SC2086
	if out=$("$SMSCMS" encrypt $(originator_args 256) $(recipient_args R1c256 R2c256 R3c256) --ka "$ka" --rid ski \
		$compat --in "$W/pt.bin" --out "$W/ski_$ka.der" 2>&1); then
		for r in R1c256 R3c256; do
			batch_add "smscms $compat --rid ski -> BC: $ka sha256 aes256-gcm P-256 3rcpt, recipient $r" \
				"decrypt $(leaf_args "$r") --in ski_$ka.der --expect pt.bin"
		done
	else
		tap_not_ok "smscms encrypts $ka --rid ski"; echo "$out" | tail -n 8 | sed 's/^/#   /'
	fi
done

# ---- KEK derivation, checked against BC's primitives (SmsBc derive) ----
# derive recomputes Z (ECMQVBasicAgreement), the X9.63 KDF (KDF2BytesGenerator)
# with the SharedInfo named, the AES key unwrap and the GCM decryption, so
# a pass pins the whole derivation; the cross checks prove the two
# SharedInfo forms really give different KEKs (the test can fail).
R1=$(leaf_args R1c256)
for kdf in sha1 sha224 sha256 sha384 sha512; do
	for mode in rfc5753 bc; do
		flag=
		[ "$mode" = bc ] && flag=--bc-compat
		# shellcheck disable=SC2046,SC2086
		if ! out=$("$SMSCMS" encrypt $(originator_args 256) --recipient "$(leaf_dir R1c256)/cert.pem" \
			--ka mqv --kdf "$kdf" $flag --in "$W/pt.bin" --out "$W/kat_${mode}_$kdf.der" 2>&1); then
			tap_not_ok "smscms encrypts MQV $kdf ${flag:-(RFC 5753)}"; echo "$out" | tail -n 8 | sed 's/^/#   /'
			# a failed run leaves nothing for the checks below to pass on
			rm -f "$W/kat_${mode}_$kdf.der"
			continue
		fi
		other="bc"
		[ "$mode" = bc ] && other=rfc5753
		batch_add "KAT MQV $kdf: smscms ${flag:-(RFC 5753 mode)} KEK = BC primitives with $mode SharedInfo" \
			"derive $R1 --shared-info $mode --in kat_${mode}_$kdf.der --expect pt.bin"
		batch_add "KAT MQV $kdf: smscms ${flag:-(RFC 5753 mode)} KEK != BC primitives with $other SharedInfo" \
			"derive $R1 --shared-info $other --in kat_${mode}_$kdf.der --expect-error checksum"
	done
done
# The BC 1.72 quirks, on our RFC 5753 mode output: its CMS API refuses an
# issuerAndSerialNumber MQV originator; with the originator rewritten to
# originatorKey (which changes neither the KEK nor the GCM AAD), it still
# cannot derive our KEK for sha256 (raw-ukm SharedInfo only), and for sha1
# only its legacy RFC 3278 form (NULL wrap parameters) is tried.
batch_add "BC 1.72 refuses an issuerAndSerialNumber MQV originator (why --bc-compat sends originatorKey)" \
	"decrypt $R1 --in kat_rfc5753_sha256.der --expect-error IssuerAndSerialNumber"
for kdf in sha1 sha256; do
	batch_add "reoriginate RFC 5753 mode MQV $kdf message to originatorKey" \
		"reoriginate --in kat_rfc5753_$kdf.der --out kat_ok_$kdf.der"
	batch_add "BC 1.72 CMS API cannot derive an RFC 5753 MQV $kdf KEK (why --bc-compat changes the SharedInfo)" \
		"decrypt $R1 --in kat_ok_$kdf.der --expect-error checksum"
done
run_batch

# ---- RFC 3274 CompressedData inside the envelope (sms-agent e2e.compress) ----
# A JSON snapshot (compressible, unlike pt.bin), both directions, MQV with the
# production profile and ECDH; BC compresses with its ZlibCompressor and
# expands with ZlibExpanderProvider, we with zlib.
python3 - "$W/snap.json" <<'PY'
import json, sys
vals = [{"group": "g%d" % (i // 10), "channel": "c%d" % i, "unit": "h", "value": 1000.25 + i} for i in range(340)]
json.dump({"equipment": "EQ1", "device_type": "FM", "taken_at": "2026-11-21T10:00:00Z", "seq": 1, "values": vals},
          open(sys.argv[1], "w"))
PY
batch_new bc-compress
batch_add "BC encrypts CompressedData: mqv sha256 aes256-gcm P-256 2rcpt" \
	"encrypt $(originator_args 256) $(recipient_args R1c256 R2c256) --ka mqv --kdf sha256 --compress --in snap.json --out bcz_mqv.der"
batch_add "BC encrypts CompressedData: ecdh sha256 aes128-gcm P-384 1rcpt" \
	"encrypt $(originator_args 384) $(recipient_args R1c384) --ka ecdh --kdf sha256 --cipher aes128-gcm --compress --in snap.json --out bcz_ecdh.der"
for c in "mqv 256 R1c256 --bc-compat" "ecdh 384 R1c384"; do
	read -r ka curve r compat <<<"$c"
	# shellcheck disable=SC2046,SC2086
	"$SMSCMS" encrypt $(originator_args "$curve") $(recipient_args "$r") --ka "$ka" $compat --compress \
		--in "$W/snap.json" --out "$W/oursz_$ka.der" || tap_not_ok "smscms --compress $ka"
	batch_add "smscms --compress -> BC: $ka P-$curve, BC expands the CompressedData" \
		"decrypt $(leaf_args "$r") --in oursz_$ka.der --expect snap.json"
done
run_batch
for c in "mqv R2c256" "ecdh R1c384"; do
	read -r ka r <<<"$c"
	rm -f "$W/out"
	# shellcheck disable=SC2046
	tap_check "BC CompressedData -> smscms: $ka, recipient $r" run_and_cmp "$W/snap.json" "$W/out" \
		"$SMSCMS" decrypt $(leaf_args "$r") --in "$W/bcz_$ka.der" --out "$W/out"
done
[ "$(wc -c <"$W/oursz_mqv.der")" -lt $(($(wc -c <"$W/snap.json") / 3)) ] &&
	tap_ok "the compressed message is under a third of the JSON" || tap_not_ok "compressed size"

tap_done
