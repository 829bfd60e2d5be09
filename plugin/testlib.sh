# plugin/testlib.sh: shared by tests/integration/plugin_*.t. Sourced after
# harness.sh. A real mosquitto loads sms_auth.so; clients are mosquitto_pub /
# mosquitto_sub with certificates from pki/sms-pki.
#
# The plugin comes from the ASan build when there is one. mosquitto itself
# is not instrumented, so the sanitizer runtimes are preloaded into the
# broker only (never into the clients).

plugin_pick() {
	local asan=${SMS_ASAN:-$H_ROOT/build/asan}/lib/sms/sms_auth.so
	local rel=${SMS_RELEASE:-$H_ROOT/build/release}/lib/sms/sms_auth.so
	PL_PRELOAD=
	if [ -f "$asan" ]; then
		PL_SO=$asan
		PL_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
	elif [ -f "$rel" ]; then
		PL_SO=$rel
	else
		harness_die "sms_auth.so not built (make all)"
	fi
}

# pl_pki ARGS...: sms-pki on the TLS PKI only; the E2E PKI is not used here.
pl_pki() { harness_pki --pki tls "$@" >>"$H_DIR/pki.log" 2>&1 || harness_die "sms-pki $* failed (see pki.log)"; }

# Extensions of a TLS client leaf as sms-pki issues it; pl_sign uses
# $PL_EXT instead when set (printf format).
PL_EXT_CLIENT='basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=clientAuth\n'

# pl_sign ISSUER_DIR OUT_DIR [openssl x509 args]: signs OUT_DIR/req.csr with
# the CA in ISSUER_DIR (ca.crt, ca.key) into OUT_DIR/cert.pem and fullchain.pem.
pl_sign() {
	local ca=$1 out=$2; shift 2
	# shellcheck disable=SC2059
	printf "${PL_EXT:-$PL_EXT_CLIENT}" >"$out/ext" &&
	openssl x509 -req -in "$out/req.csr" -CA "$ca/ca.crt" -CAkey "$(harness_ca_key "$ca")" -CAcreateserial \
		-extfile "$out/ext" -days 30 -out "$out/cert.pem" "$@" 2>/dev/null || return 1
	cat "$out/cert.pem" "$ca/ca.crt" >"$out/fullchain.pem"
	[ ! -f "$ca/../../ca.crt" ] || cat "$ca/../../ca.crt" >>"$out/fullchain.pem"
}

pl_newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1/key.pem" 2>/dev/null; }

# pl_mint ISSUER_DIR SUBJ OUT_DIR [openssl x509 args]: a client leaf signed
# directly with openssl, for certificates sms-pki would never issue.
pl_mint() {
	local ca=$1 subj=$2 out=$3; shift 3
	mkdir -p "$out"
	pl_newkey "$out" &&
	openssl req -new -key "$out/key.pem" -subj "$subj" -out "$out/req.csr" 2>/dev/null &&
	pl_sign "$ca" "$out" "$@" || harness_die "minting $subj failed"
}

# pl_mint_utf8 ISSUER_DIR OUT_DIR ATTR=VALUE...: like pl_mint, every value a
# raw UTF8String (tests/harness/utf8_csr), even where X.520 wants another type.
pl_mint_utf8() {
	local ca=$1 out=$2 tool; shift 2
	tool=${SMS_RELEASE:-$H_ROOT/build/release}/tests/utf8_csr
	[ -x "$tool" ] || tool=${SMS_ASAN:-$H_ROOT/build/asan}/tests/utf8_csr
	mkdir -p "$out"
	pl_newkey "$out" || harness_die "no key for $out"
	"$tool" "$out/key.pem" "$out/req.csr" "$@" >>"$H_DIR/mint.log" 2>&1 || harness_die "utf8_csr $* failed (mint.log)"
	pl_sign "$ca" "$out" || harness_die "signing $* failed"
}

# pl_conf FILE EXTRA...: the plugin config over the test PKI, crl check every second.
pl_conf() {
	local f=$1; shift
	{
		echo "trust_root = \"$PKI/root/ca.crt\";"
		echo "intermediates = \"$PKI/cas.pem\";"
		echo "crls = [ \"$PKI/crls.pem\" ];"
		echo "crl_check_interval = 1;"
		echo "services_ca = \"$PKI/services/ca.crt\";"
		echo 'public_read = [ "sms/crl/#" ];'
		printf '%s\n' "$@"
	} >"$f"
}

# pl_start CONF: mosquitto with a TLS listener and the plugin. mosquitto's
# own crlfile is left out on purpose: revocation must come from the plugin.
pl_start() {
	local opts=$H_DIR/listener.conf
	{
		echo "cafile $PKI/root/ca.crt"
		echo "certfile $PKI/broker/fullchain.pem"
		echo "keyfile $PKI/broker/key.pem"
		echo "require_certificate true"
		echo "tls_version tlsv1.2"
		echo "plugin $PL_SO"
		echo "plugin_opt_config $1"
	} >"$opts"
	LD_PRELOAD=$PL_PRELOAD LSAN_OPTIONS=$PL_LSAN harness_mosquitto_start "$opts"
}

# pl_restart: stops the broker and starts it again on the same files
# (persistence included), with the plugin configuration as it is now.
pl_restart() {
	harness_mosquitto_stop
	LD_PRELOAD=$PL_PRELOAD LSAN_OPTIONS=$PL_LSAN harness_mosquitto_start_again
}

PL_LSAN=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$H_ROOT/tests/integration/testdata/mosquitto-lsan.supp

# The sanitizer report, if any, lands in mosquitto's stdout.log; leaks are
# reported when the broker exits, so stop it first.
PL_SAN_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
pl_check_sanitizer() {
	if [ -z "$PL_PRELOAD" ]; then
		tap_ok "sanitizer check # SKIP plugin from the release build (no build/asan)"
	elif grep -qE "$PL_SAN_RE" "$H_MQ_DIR/stdout.log" 2>/dev/null; then
		tap_not_ok "no sanitizer report from the plugin inside mosquitto"
		grep -A 30 -E "$PL_SAN_RE" "$H_MQ_DIR/stdout.log" | head -40 | sed 's/^/#   /'
	else
		tap_ok "no sanitizer report (ASan+UBSan, leaks) from the plugin inside mosquitto"
	fi
}

# pl_name CERT: the identity (mosquitto username) sms_auth maps CERT's
# subject to: "ma/acc/eq", "ma/acc", "ma" or "role:<CN>".
pl_name() {
	local subj o ou sn cn
	subj=,$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//')
	o=$(sed -n 's/.*,O=\([^,]*\).*/\1/p' <<<"$subj")
	ou=$(sed -n 's/.*,OU=\([^,]*\).*/\1/p' <<<"$subj")
	sn=$(sed -n 's/.*,serialNumber=\([^,]*\).*/\1/p' <<<"$subj")
	cn=$(sed -n 's/.*,CN=\([^,]*\).*/\1/p' <<<"$subj")
	if [ -z "$o" ]; then echo "role:$cn"
	elif [ -z "$ou" ]; then echo "$o"
	elif [ -z "$sn" ]; then echo "$o/$ou"
	else echo "$o/$ou/$sn"; fi
}

# cert args for the identity at PKI-relative path $1 (pl_id) or in directory
# $1 (pl_id_dir), with a client id the default client_id_policy "prefix"
# admits ("<identity>@<unique>"); a later -i overrides it.
pl_id() { pl_id_dir "$PKI/$1"; }
pl_id_dir() {
	echo "--cafile $PKI/root/ca.crt --cert $1/fullchain.pem --key $1/key.pem -i $(pl_name "$1/cert.pem")@t$BASHPID-$RANDOM"
}

# pl_pub ID TOPIC MSG [args]: MQTT 5 QoS 1, so a refusal comes back in the PUBACK.
pl_pub() {
	local id=$1 topic=$2 msg=$3; shift 3
	# shellcheck disable=SC2046
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$id") -V mqttv5 -q 1 -t "$topic" -m "$msg" "$@" 2>&1
}

# pl_sub_once ID FILTER [args]: first message (topic payload) within 2 s, or the refusal text.
pl_sub_once() {
	local id=$1 filter=$2; shift 2
	# shellcheck disable=SC2046
	mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$id") -V mqttv5 -t "$filter" -C 1 -W 2 -v "$@" 2>&1
}

# pl_connect CERT_ARGS...: succeeds when the broker accepts the connection.
pl_connect() {
	# shellcheck disable=SC2068
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" $@ -V mqttv5 -q 1 -t "probe/none" -n 2>&1
}

# pl_sub_bg NAME ID FILTER: a long-lived subscriber (log $H_DIR/NAME.log) for
# the identity at PKI-relative path ID, with the fixed client id <identity>@NAME.
pl_sub_bg() {
	# shellcheck disable=SC2046
	harness_bg "$1" mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$2") -i "$(pl_name "$PKI/$2/cert.pem")@$1" \
		-t "$3" -v -W 60
}
# pl_connected NAME: mosquitto logged the connect of client id <identity>@NAME.
pl_connected() { grep -q "New client connected from .* as [^ ]*@$1 " "$H_MQ_DIR/mosquitto.log"; }
pl_wait_connected() {
	local i
	for i in $(seq 1 50); do pl_connected "$1" && return 0; sleep 0.1; done
	return 1
}
# pl_kicked NAME: the plugin logged the disconnect of client id <identity>@NAME.
pl_kicked() { grep -q "sms_auth: disconnecting client [^ ]*@$1 " "$H_MQ_DIR/mosquitto.log"; }
# pl_wait_kicked NAME SECONDS: tenths of seconds it took, or fails.
pl_wait_kicked() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		pl_kicked "$1" && { echo "$i"; return 0; }
		sleep 0.1
	done
	return 1
}
