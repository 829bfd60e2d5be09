# shellcheck shell=bash disable=SC2034
# tests/interop/lib.sh: sourced by tests/interop/*.t and tests/bench/cms.bench
# after tests/harness/harness.sh.
#
#   interop_java_build    compiles tests/interop/java/*.java into
#                         $SMS_RELEASE/java when missing or older than the
#                         sources (make helpers does the same); sets SMSBC_CP
#   smsbc ARGS...         runs the Bouncy Castle harness (SmsBc.java header)
#   interop_pki           E2E test PKI in $H_DIR/pki: account 000001/00002 with
#                         device EQ<c> and clients R1c<c> R2c<c> R3c<c> for
#                         c in 256 384 521 (leaf curve P-<c>); sets I_ACC, I_ROOT,
#                         I_CRLS
#   leaf_args NAME        "--cert .../cert.pem --key .../key.pem" for a leaf
#                         (EQ<c> is the device, R<n>c<c> a client)

INTEROP_BC_JARS=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar

interop_java_build() {
	local out=${SMS_RELEASE:-$H_ROOT/build/release}/java src tmp
	src=("$H_ROOT"/tests/interop/java/*.java)
	SMSBC_CP=$out:$INTEROP_BC_JARS
	if [ -f "$out/SmsBc.class" ]; then
		local stale=0 f
		for f in "${src[@]}"; do [ "$f" -nt "$out/SmsBc.class" ] && stale=1; done
		[ "$stale" -eq 0 ] && return 0
	fi
	mkdir -p "$(dirname "$out")" || return 1
	# Compile beside the target and swap in, so a concurrent reader never
	# sees half a class directory.
	tmp=$(mktemp -d "$out.tmp.XXXXXX") || return 1
	if ! javac -nowarn -d "$tmp" -cp "$INTEROP_BC_JARS" "${src[@]}"; then
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$out" && mv "$tmp" "$out"
}

# Tiered compilation level 1 halves the JVM start for the short test runs;
# the benchmark calls java itself with the full JIT.
smsbc() { java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$SMSBC_CP" SmsBc "$@"; }

interop_pki() {
	local c r
	harness_pki init >/dev/null || return 1
	harness_pki --pki e2e master 000001 >/dev/null || return 1
	harness_pki --pki e2e account 000001 00002 >/dev/null || return 1
	for c in 256 384 521; do
		harness_pki --pki e2e --curve "P-$c" device 000001 00002 "EQ$c" >/dev/null || return 1
		for r in 1 2 3; do
			harness_pki --pki e2e --curve "P-$c" client 000001 00002 "R${r}c$c" >/dev/null || return 1
		done
	done
	I_ACC=$H_DIR/pki/e2e/ma/000001/acc/00002
	I_ROOT=$H_DIR/pki/e2e/root/ca.crt
	I_CRLS=$H_DIR/pki/e2e/crls.pem
}

leaf_dir() {
	case $1 in
	EQ*) echo "$I_ACC/dev/$1" ;;
	*) echo "$I_ACC/clients/$1" ;;
	esac
}

leaf_args() { local d; d=$(leaf_dir "$1"); echo "--cert $d/cert.pem --key $d/key.pem"; }

# run_and_cmp WANT GOT CMD...: runs CMD, then compares GOT with WANT byte for byte.
run_and_cmp() {
	local want=$1 got=$2
	shift 2
	"$@" && cmp "$want" "$got"
}
