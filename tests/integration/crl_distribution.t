#!/usr/bin/env bash
# CRL distribution (issue 12, DESIGN.md "The way back"): sms-crlpub
# publishes every CA's CRL of both PKIs retained on sms/crl/<pki>/<issuer key
# id>, again when a file changes, never one that does not verify; sms-agent
# keeps the highest crlNumber per issuer durably, refuses replays, and
# refuses a broker whose certificate a CRL it holds revokes. sms-crlpub's
# metrics (sms-crlpub.prom, read with the Prometheus client's parser) count
# what it published and carry each published CRL's crlNumber and nextUpdate.
# It sends every CRL again each republish_interval with no file change, and
# after a reconnect: a broker restarted without its persistence file is
# refilled (a fresh subscriber gets every retained CRL again).
source "$(dirname "$0")/../harness/harness.sh"
source "$(dirname "$0")/services_common.bash"
source "$(dirname "$0")/agent_common.bash"
harness_init
agent_setup
[ -x "$DBIN/sms-crlpub" ] || harness_die "sms-crlpub not built"
harness_pki service vendor-crl-service >/dev/null || harness_die "sms-pki service vendor-crl-service failed"
grep -q vendor-crl-service "$H_DIR/sms_auth.conf" 2>/dev/null || harness_die "the suite needs the sms_auth plugin"
PUB=$H_DIR/crlpub LOG=$H_DIR/crlpub/crlpub.log CRS=$P/tls/services/roles/vendor-crl-service
DEV=$P/tls/ma/000001/acc/00001/dev/EQ1
M=$PUB/metrics
mkdir -p "$PUB" "$M"
cp "$P/tls/crls.pem" "$PUB/tls.pem"
cp "$P/e2e/crls.pem" "$PUB/e2e.pem"
cat >"$PUB/crlpub.conf" <<CONF
broker = { host = "127.0.0.1"; port = $H_MQ_PORT; cafile = "$P/tls/root/ca.crt";
           cert = "$CRS/fullchain.pem"; key = "$CRS/key.pem"; keepalive = 10; };
tls = { crls = [ "tls.pem" ]; ca_certs = [ "$P/tls/root/ca.crt", "$P/tls/cas.pem" ]; };
e2e = { crls = [ "e2e.pem" ]; ca_certs = [ "$P/e2e/root/ca.crt", "$P/e2e/cas.pem" ]; };
check_interval = 1;
warn_days = 7;
metrics = { dir = "metrics"; interval = 1; };
CONF
metric() { harness_metric "$M/sms-crlpub.prom" "$1"; }
wait_metric() { harness_wait_metric "$M/sms-crlpub.prom" "$@"; }
num_eq() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 == b + 0) }'; }
crl_number_of() { echo $((16#$(openssl crl -in "$1" -noout -crlnumber | sed 's/^crlNumber=//; s/^0x//'))); }
next_update_of() { date -d "$(openssl crl -in "$1" -noout -nextupdate | sed 's/^nextUpdate=//')" +%s; }

wait_for() { # FILE PATTERN [N] [SECONDS]
	wait_log_count "$1" "$2" "${3:-1}" "${4:-15}"
}
# Every CRL of a PEM bundle as its own file: DIR/1.pem, DIR/2.pem, ...
split_crls() {
	rm -rf "$2"; mkdir -p "$2"
	awk -v d="$2" '/BEGIN X509 CRL/{n++} n{print > (d "/" n ".pem")} /END X509 CRL/{close(d "/" n ".pem")}' "$1"
}
keyid() { # PEM -> lowercase hex of the authorityKeyIdentifier
	openssl crl -in "$1" -noout -text | awk '/Authority Key Identifier/{getline; print; exit}' |
		sed 's/keyid://; s/[: ]//g' | tr 'A-F' 'a-f'
}
der_hex() { openssl crl -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
# The retained CRL messages as "topic hex" lines.
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$DEV/fullchain.pem" \
		--key "$DEV/key.pem" -i "000001/00001/EQ1@crl-reader-$RANDOM" -V mqttv5 -t 'sms/crl/#' \
		-F '%t %x' -W "${1:-3}" 2>/dev/null
	return 0
}
crl_pub() { # DIR IDENTITY TOPIC FILE [args]: publishes FILE with the TLS identity in DIR
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$1/fullchain.pem" \
		--key "$1/key.pem" -i "$2@t-$RANDOM" -V mqttv5 -q 1 -t "$3" -f "$4" "${@:5}" 2>&1
}
crlpub_start() { # [CONFIG]
	"$DBIN/sms-crlpub" --config "${1:-$PUB/crlpub.conf}" >>"$LOG" 2>&1 &
	CRLPUB_PID=$!
	H_PIDS+=("$CRLPUB_PID")
}

# --- the command line
tap_check "sms-crlpub --help" "$DBIN/sms-crlpub" --help
out=$("$DBIN/sms-crlpub" --config "$PUB/crlpub.conf" --check-config 2>&1)
tap_is "$?:$out" "0:" "--check-config accepts the example-shaped file, silently"
sed 's/warn_days/warn_dayz/' "$PUB/crlpub.conf" >"$PUB/bad.conf"
out=$("$DBIN/sms-crlpub" --config "$PUB/bad.conf" --check-config 2>&1); rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q 'bad.conf:[0-9]*: warn_dayz is not a known key' <<<"$out"
then tap_ok "a misspelled key: exit 1, one line FILE:LINE"; else tap_not_ok "misspelled key (rc $rc): $out"; fi
sed "s|dir = \"metrics\"|dir = \"nowhere\"|" "$PUB/crlpub.conf" >"$PUB/m1.conf"
out=$("$DBIN/sms-crlpub" --config "$PUB/m1.conf" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "1:sms-crlpub: $PUB/m1.conf:$(grep -n '^metrics' "$PUB/m1.conf" | cut -d: -f1): metrics.dir cannot open $PUB/nowhere: No such file or directory" \
	"--check-config: a metrics.dir that is not there is one line naming the file, line and directory"
sed "s|metrics = { dir|metrics = { directory|" "$PUB/crlpub.conf" >"$PUB/m2.conf"
out=$("$DBIN/sms-crlpub" --config "$PUB/m2.conf" --check-config 2>&1); rc=$?
tap_is "$rc:$out" "1:sms-crlpub: $PUB/m2.conf:$(grep -n '^metrics' "$PUB/m2.conf" | cut -d: -f1): metrics.directory is not a known key (misspelled?)" \
	"--check-config: an unknown key in the metrics group is refused"

# The shipped example, with its paths pointed at this PKI.
sed -e "s|\"pki/|\"$P/|g" -e "s|broker.example.net|127.0.0.1|" "$H_ROOT/services/crlpub/crlpub.conf.example" \
	>"$PUB/example.conf"
tap_check "services/crlpub/crlpub.conf.example passes --check-config" \
	"$DBIN/sms-crlpub" --config "$PUB/example.conf" --check-config

# --- publishing both PKIs
crlpub_start
wait_for "$LOG" 'published the CRL of' 1 20 || harness_die "sms-crlpub published nothing: $(tail -n 5 "$LOG")"
split_crls "$P/tls/crls.pem" "$H_DIR/tls-crls"; split_crls "$P/e2e/crls.pem" "$H_DIR/e2e-crls"
n_tls=$(ls "$H_DIR/tls-crls" | wc -l); n_e2e=$(ls "$H_DIR/e2e-crls" | wc -l)
wait_for "$LOG" 'published the CRL of' $((n_tls + n_e2e)) 20
got=$(retained 3)
ok=0 bad=
for pki in tls e2e; do
	for f in "$H_DIR/$pki-crls"/*.pem; do
		if grep -qxF "sms/crl/$pki/$(keyid "$f") $(der_hex "$f")" <<<"$got"; then ok=$((ok + 1)); else bad+=" $pki:$f"; fi
	done
done
tap_is "$ok" $((n_tls + n_e2e)) "every CRL of both PKIs ($n_tls TLS, $n_e2e E2E) is retained on sms/crl/<pki>/<issuer key id>, as DER"
[ -z "$bad" ] || echo "# missing:$bad"
tap_is "$(wc -l <<<"$got")" $((n_tls + n_e2e)) "and nothing else is published there"
grep -q '^sms/crl/tls/[0-9a-f]\{40\} ' <<<"$got" && tap_ok "the key id level is 40 lowercase hex digits (sms-pki's SHA-1 key ids)" ||
	tap_not_ok "key id form"

# --- its metrics: one publish per CRL, each CRL's crlNumber and nextUpdate
wait_metric "sms_crlpub_crls_published_total{pki='e2e'}" "$n_e2e.0" 10
wait_metric "sms_crlpub_crls_published_total{pki='tls'}" "$n_tls.0" 10
if $PROM_PARSE "$M/sms-crlpub.prom" >"$PUB/parsed.txt" 2>"$PUB/parse.err"; then
	tap_ok "sms-crlpub.prom parses with the Prometheus client's parser"
else
	tap_not_ok "sms-crlpub.prom parses: $(cat "$PUB/parse.err")"
fi
tap_is "$(metric "sms_crlpub_crls_published_total{pki='tls'}"):$(metric "sms_crlpub_crls_published_total{pki='e2e'}")" \
	"$n_tls.0:$n_e2e.0" "CRLs published: $n_tls TLS and $n_e2e E2E, one per CRL in the files"
tap_is "$(metric "sms_crlpub_publish_failures_total{pki='tls'}"):$(metric "sms_crlpub_publish_failures_total{pki='e2e'}")" \
	"0.0:0.0" "no publish failed"
ok=0 bad=
for pki in tls e2e; do
	for f in "$H_DIR/$pki-crls"/*.pem; do
		k="{issuer_key_id='$(keyid "$f")',pki='$pki'}"
		if num_eq "$(metric "sms_crlpub_crl_number$k")" "$(crl_number_of "$f")" &&
			num_eq "$(metric "sms_crlpub_crl_next_update_time_seconds$k")" "$(next_update_of "$f")"
		then ok=$((ok + 1)); else bad+=" $pki:$(basename "$f")"; fi
	done
done
tap_is "$ok:$(grep -c '^sms_crlpub_crl_number{' "$PUB/parsed.txt")" "$((n_tls + n_e2e)):$((n_tls + n_e2e))" \
	"per issuer (pki, issuer_key_id): crlNumber and nextUpdate of the CRL in the file, nothing else"
[ -z "$bad" ] || echo "# differ:$bad"
last=$(metric "sms_crlpub_last_publish_time_seconds{pki='tls'}")
awk -v l="$last" -v now="$(date +%s)" 'BEGIN { exit !(l > now - 60 && l <= now) }' &&
	tap_ok "last publish time is recent ($last)" || tap_not_ok "last publish time '$last'"
tap_is "$(metric "sms_crlpub_broker_connected{session='0'}"):$(metric "sms_crlpub_broker_connects_total{session='0'}")" \
	"1.0:1.0" "shared daemon metrics: connected, one connect"
tap_is "$(metric "sms_crlpub_build_info{version='$(cat "$H_ROOT/VERSION")'}"):$(metric 'sms_crlpub_crl_loaded{}')" "1.0:1.0" \
	"build info carries VERSION; CRLs loaded"
earliest=$(for f in "$H_DIR"/tls-crls/*.pem "$H_DIR"/e2e-crls/*.pem; do next_update_of "$f"; done | sort -n | head -n 1)
nu=$(metric 'sms_crlpub_crl_next_update_seconds{}')
awk -v n="$nu" -v e="$earliest" -v now="$(date +%s)" 'BEGIN { d = e - now - n; exit !(n != "" && d >= -5 && d <= 5) }' &&
	tap_ok "crl_next_update_seconds counts to the earliest nextUpdate of both PKIs ($nu s)" ||
	tap_not_ok "crl_next_update_seconds '$nu', earliest nextUpdate $earliest"

# --- the agent takes them
agent_conf a 000001 00001 EQ1 "crl = { dir = \"crls\"; tls_ca_certs = [ \"$P/tls/cas.pem\" ]; };"
agent_start a || harness_die "sms-agent did not start: $(tail -n 5 "$H_DIR/a/agent.log")"
AL=$H_DIR/a/agent.log
wait_for "$AL" 'CRL on sms/crl/.*: CRL of .* stored in' $((n_tls + n_e2e)) 20 &&
	tap_ok "the agent verifies and stores every CRL of its CAs" ||
	{ tap_not_ok "agent stores the CRLs ($(grep -c 'stored in' "$AL"))"; tail -n 5 "$AL" | sed 's/^/# /'; }
tap_is "$(ls "$H_DIR/a/crls" | grep -c '^\(tls\|e2e\)-[0-9a-f]*\.crl$')" $((n_tls + n_e2e)) "one file per issuer in crl.dir"
skid() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -n 1 | sed 's/[: ]//g' | tr 'A-F' 'a-f'; }
SVC_KEYID=$(skid "$P/tls/services/ca.crt")
tap_is "$(cmp -s <(openssl crl -in "$H_DIR/a/crls/tls-$SVC_KEYID.crl" -inform DER -outform DER) \
	"$H_DIR/a/crls/tls-$SVC_KEYID.crl" && echo same)" same "the stored file is the DER CRL of the services CA"

# --- a file changes: published again
ACC_TLS=$(skid "$P/tls/ma/000001/acc/00001/ca.crt")
cp "$H_DIR/a/crls/tls-$ACC_TLS.crl" "$H_DIR/acc-before.der"
n_tls_pub=$(grep -c 'published the CRL of .* on sms/crl/tls/' "$LOG")
n_e2e_pub=$(grep -c 'published the CRL of .* on sms/crl/e2e/' "$LOG")
harness_pki revoke ma/000001/acc/00001/dev/EQ2 --pki tls >/dev/null || tap_not_ok "sms-pki revoke EQ2"
cp "$P/tls/crls.pem" "$PUB/tls.pem"
wait_for "$LOG" "published the CRL of .* on sms/crl/tls/$ACC_TLS" 2 15 &&
	tap_ok "a changed CRL file is published again within the check interval" ||
	{ tap_not_ok "republish on change"; tail -n 5 "$LOG" | sed 's/^/# /'; }
# sms-pki revoke regenerates every CRL of the PKI it acts on: all TLS ones, no E2E one.
wait_for "$LOG" 'published the CRL of .* on sms/crl/tls/' $((n_tls_pub + n_tls)) 10
tap_is "$(grep -c 'published the CRL of .* on sms/crl/tls/' "$LOG")" $((n_tls_pub + n_tls)) "every changed TLS CRL is sent once"
tap_is "$(grep -c 'published the CRL of .* on sms/crl/e2e/' "$LOG")" "$n_e2e_pub" "the unchanged E2E CRLs are not sent again"
wait_metric "sms_crlpub_crls_published_total{pki='tls'}" "$((2 * n_tls)).0" 10
tap_is "$(metric "sms_crlpub_crls_published_total{pki='tls'}"):$(metric "sms_crlpub_crls_published_total{pki='e2e'}")" \
	"$((2 * n_tls)).0:$n_e2e.0" "metrics: the changed TLS CRLs counted once more, the E2E count unchanged"
split_crls "$P/tls/crls.pem" "$H_DIR/tls-crls2"
for f in "$H_DIR"/tls-crls2/*.pem; do [ "$(keyid "$f")" = "$ACC_TLS" ] && acc_new=$f; done
num_eq "$(metric "sms_crlpub_crl_number{issuer_key_id='$ACC_TLS',pki='tls'}")" "$(crl_number_of "$acc_new")" &&
	tap_ok "metrics: the account CA's crlNumber is the new CRL's ($(crl_number_of "$acc_new"))" ||
	tap_not_ok "crlNumber after the change: $(metric "sms_crlpub_crl_number{issuer_key_id='$ACC_TLS',pki='tls'}")"
n_acc=$(openssl crl -in "$H_DIR/acc-before.der" -inform DER -noout -crlnumber)
wait_for "$AL" "CRL on sms/crl/tls/$ACC_TLS: .* replacing" 1 15 && tap_ok "the agent replaces it by the newer one ($n_acc before)" ||
	tap_not_ok "agent took the newer CRL"

# --- a CRL that does not verify is not published: a look-alike services CA
R=$H_DIR/rogue; mkdir -p "$R"; touch "$R/index.txt"; echo 99 >"$R/crlnumber"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$R/ca.key" 2>/dev/null
subj=$(openssl x509 -in "$P/tls/services/ca.crt" -noout -subject -nameopt compat | sed 's/^subject=//')
openssl req -x509 -new -key "$R/ca.key" -subj "$subj" -days 30 -out "$R/ca.crt" \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
cat >"$R/ca.cnf" <<CNF
[ ca ]
default_ca = r
[ r ]
database = $R/index.txt
crlnumber = $R/crlnumber
default_md = sha256
default_crl_days = 30
crl_extensions = ext
[ ext ]
authorityKeyIdentifier = keyid:always
CNF
openssl ca -config "$R/ca.cnf" -gencrl -keyfile "$R/ca.key" -cert "$R/ca.crt" -out "$R/rogue.pem" 2>/dev/null ||
	harness_die "cannot make the rogue CRL"
n_pub=$(grep -c 'published the CRL of' "$LOG")
cat "$P/tls/crls.pem" "$R/rogue.pem" >"$PUB/tls.pem"
wait_for "$LOG" 'TLS CRLs refused, keeping the previous ones: .*does not verify' 1 15 &&
	tap_ok "a CRL signed by another key under the services CA's name is refused (the whole file)" ||
	{ tap_not_ok "rogue CRL refused by the publisher"; tail -n 3 "$LOG" | sed 's/^/# /'; }
out=$("$DBIN/sms-crlpub" --config "$PUB/crlpub.conf" --check-config 2>&1); rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q 'tls.pem: CRL of .*does not verify' <<<"$out"
then tap_ok "--check-config refuses that file with one line"; else tap_not_ok "--check-config on the rogue file (rc $rc): $out"; fi
sleep 1
tap_is "$(grep -c 'published the CRL of' "$LOG")" "$n_pub" "and nothing is published from that file"
grep -q "sms/crl/tls/$(keyid "$R/rogue.pem") " <<<"$(retained 2)" && tap_not_ok "the rogue CRL's topic is empty" ||
	tap_ok "the rogue CRL's topic stays empty"
cp "$P/tls/crls.pem" "$PUB/tls.pem"
# The agent checks for itself: the rogue CRL sent by a client with write rights.
openssl crl -in "$R/rogue.pem" -outform DER -out "$R/rogue.der"
out=$(crl_pub "$CRS" role:vendor-crl-service "sms/crl/tls/$(keyid "$R/rogue.pem")" "$R/rogue.der")
wait_for "$AL" 'refused a CRL on sms/crl/tls/.*does not verify against its issuer' 1 10 &&
	tap_ok "the agent refuses a CRL that does not verify, with its issuer" || tap_not_ok "agent refused the rogue CRL"
openssl crl -in "$H_DIR/tls-crls/1.pem" -outform DER -out "$H_DIR/other.der"
crl_pub "$CRS" role:vendor-crl-service "sms/crl/tls/0011223344" "$H_DIR/other.der" >/dev/null
wait_for "$AL" 'refused a CRL on sms/crl/tls/0011223344: .*published for issuer key id 0011223344' 1 10 &&
	tap_ok "a CRL on another issuer's topic is refused" || tap_not_ok "topic/issuer binding"

# --- a replayed older CRL (from before the revocation) is refused and logged
sum_before=$(sha256sum <"$H_DIR/a/crls/tls-$ACC_TLS.crl")
out=$(crl_pub "$CRS" role:vendor-crl-service "sms/crl/tls/$ACC_TLS" "$H_DIR/acc-before.der")
wait_for "$AL" "refused a CRL on sms/crl/tls/$ACC_TLS: CRL of .*crlNumber .* is older than the one held .*replayed" 1 10 &&
	tap_ok "a replayed older CRL is refused, logged with issuer and both crlNumbers" ||
	{ tap_not_ok "replay refused"; tail -n 3 "$AL" | sed 's/^/# /'; }
tap_is "$(sha256sum <"$H_DIR/a/crls/tls-$ACC_TLS.crl")" "$sum_before" "the stored CRL is unchanged"

# --- a device cannot write the CRL namespace
out=$(crl_pub "$DEV" 000001/00001/EQ1 "sms/crl/tls/$ACC_TLS" "$H_DIR/acc-before.der" -r)
sleep 1
ret=$(retained 2 | grep "^sms/crl/tls/$ACC_TLS ")
cur=$(od -An -v -tx1 <"$H_DIR/a/crls/tls-$ACC_TLS.crl" | tr -d ' \n')
tap_is "${ret#* }" "$cur" "a device publishing on sms/crl/# changes nothing (the retained CRL is the current one)"
grep -q "Not authorized\|not authorised\|denied" <<<"$out" && tap_ok "... the broker refuses its publish" ||
	{ tap_not_ok "device publish refused"; echo "#   $out"; }

# --- durable: the store survives kill -9
agent_stop a KILL
agent_start a || harness_die "sms-agent did not start again"
wait_for "$AL" 'CRL store .* held' 2 10   # the log is appended: the second start's line
grep "CRL store" "$AL" | tail -n 1 | grep -q "$n_tls TLS and $n_e2e E2E CRL(s) held" &&
	tap_ok "after kill -9 and a restart the agent holds every CRL from its store before it connects" ||
	{ tap_not_ok "store loaded at start"; grep "CRL store" "$AL" | sed 's/^/# /'; }
out=$(crl_pub "$CRS" role:vendor-crl-service "sms/crl/tls/$ACC_TLS" "$H_DIR/acc-before.der")
wait_for "$AL" "refused a CRL on sms/crl/tls/$ACC_TLS: .*older" 2 10 &&
	tap_ok "and after the restart the replay is still refused" || tap_not_ok "replay refused after restart"

# --- E2E CRLs from the broker decide receipts (agent b has no e2e.crls files)
agent_conf b 000002 00007 EQ3 "crl = { dir = \"crls\"; };"
sed -i '/crls = \[/d' "$H_DIR/b/agent.conf"
agent_start b || harness_die "sms-agent b did not start: $(tail -n 5 "$H_DIR/b/agent.log")"
BL=$H_DIR/b/agent.log
wait_for "$BL" 'CRL on sms/crl/e2e/.* stored in' 2 15 || tap_not_ok "agent b took the E2E root and services CRLs"
D=0000000000000000000000000000000000000000000000000000000000000001
receipt_sign "$H_DIR/r1.der" 000002/00007/EQ3 "$VSS" $D >/dev/null && receipt_publish 000002/00007/EQ3 "$H_DIR/r1.der"
wait_for "$BL" 'receipt for 1 snapshot(s)' 1 10 && tap_ok "control: agent b accepts a receipt of the snapshot service" ||
	{ tap_not_ok "control receipt"; tail -n 3 "$BL" | sed 's/^/# /'; }
n_b=$(grep -c 'CRL on sms/crl/e2e/.* replacing' "$BL")
harness_pki revoke services/roles/vendor-snapshot-service --pki e2e >/dev/null || tap_not_ok "sms-pki revoke the E2E receipt signer"
cp "$P/e2e/crls.pem" "$PUB/e2e.pem"
wait_for "$BL" 'CRL on sms/crl/e2e/.* replacing' $((n_b + 2)) 15
receipt_sign "$H_DIR/r2.der" 000002/00007/EQ3 "$VSS" $D >/dev/null && receipt_publish 000002/00007/EQ3 "$H_DIR/r2.der"
wait_for "$BL" 'refused a receipt on 000002/00007/EQ3/receipts .*revoked' 1 10 &&
	tap_ok "after the E2E CRL from the broker revokes the receipt signer, its receipts are refused" ||
	{ tap_not_ok "revoked receipt signer refused"; tail -n 3 "$BL" | sed 's/^/# /'; }
agent_stop b

# --- the broker's certificate revoked: refused on the next connect
n_svc=$(grep -c "CRL on sms/crl/tls/$SVC_KEYID: .* replacing" "$AL")
harness_pki revoke broker --pki tls >/dev/null || tap_not_ok "sms-pki revoke broker"
cp "$P/tls/crls.pem" "$PUB/tls.pem"
wait_for "$AL" "CRL on sms/crl/tls/$SVC_KEYID: .* replacing" $((n_svc + 1)) 15 &&
	tap_ok "the agent got the services CA's CRL that revokes the broker" || tap_not_ok "services CRL taken"
connects=$(grep -c 'connected as' "$AL")
harness_mosquitto_stop
LD_PRELOAD= harness_mosquitto_start_again
wait_for "$AL" "broker's certificate chain is revoked: .*CN=sms-broker" 1 20 &&
	tap_ok "on the next connect the agent refuses the revoked broker certificate, naming it" ||
	{ tap_not_ok "revoked broker refused"; tail -n 5 "$AL" | sed 's/^/# /'; }
sleep 3
tap_is "$(grep -c 'connected as' "$AL")" "$connects" "the agent does not connect to it"
kill -0 "${AGENT_PID[a]}" 2>/dev/null && tap_ok "and keeps running (retrying with backoff)" || tap_not_ok "agent exited"
# Control: a client that does not check CRLs still connects to that broker.
out=$(mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" --cafile "$P/tls/root/ca.crt" --cert "$DEV/fullchain.pem" \
	--key "$DEV/key.pem" -i "000001/00001/EQ1@probe" -q 1 -t 000001/00001/EQ1/snapshots -n 2>&1) &&
	tap_ok "control: the same broker is reachable for a client without CRLs" || tap_not_ok "control connect: $out"

# --- a fresh certificate for the broker: the agent connects again
harness_pki renew broker >/dev/null || tap_not_ok "sms-pki renew broker"
harness_mosquitto_stop
harness_mosquitto_start_again
wait_for "$AL" 'connected as' $((connects + 1)) 30 && tap_ok "with a fresh broker certificate the agent connects again" ||
	{ tap_not_ok "agent reconnected"; tail -n 5 "$AL" | sed 's/^/# /'; }

# --- nextUpdate ahead: warned
n_e2e_rep=$(grep -c 'CRL on sms/crl/e2e/.* replacing' "$AL")
harness_pki crl --pki e2e --next-update-days 2 >/dev/null || tap_not_ok "sms-pki crl --next-update-days 2"
cp "$P/e2e/crls.pem" "$PUB/e2e.pem"
wait_for "$LOG" 'E2E CRLs: [0-9]* CRL(s) reach nextUpdate within 7 day(s)' 1 15 &&
	tap_ok "sms-crlpub warns ahead of nextUpdate (warn_days)" || { tap_not_ok "nextUpdate warning"; tail -n 3 "$LOG" | sed 's/^/# /'; }
wait_for "$AL" 'CRL on sms/crl/e2e/.* replacing' $((n_e2e_rep + 1)) 15 && tap_ok "the renewed E2E CRLs reach the agent" ||
	tap_not_ok "renewed E2E CRLs at the agent"

# --- SIGHUP: every CRL sent again at once
sent() { grep -c 'Received PUBLISH from role:vendor-crl-service@sms-crlpub .*sms/crl/' "$H_MQ_DIR/mosquitto.log"; }
before=$(sent)
m_tls=$(metric "sms_crlpub_crls_published_total{pki='tls'}"); m_e2e=$(metric "sms_crlpub_crls_published_total{pki='e2e'}")
kill -HUP "$CRLPUB_PID"
wait_for "$LOG" 'SIGHUP: re-reading the CRL files' 1 5
for i in $(seq 1 50); do [ "$(sent)" -ge $((before + n_tls + n_e2e)) ] && break; sleep 0.1; done
tap_is "$(($(sent) - before))" $((n_tls + n_e2e)) "SIGHUP: sms-crlpub sends every CRL again"
wait_metric "sms_crlpub_crls_published_total{pki='e2e'}" "$(awk -v m="$m_e2e" -v n="$n_e2e" 'BEGIN { printf "%.1f", m + n }')" 10
tap_is "$(metric "sms_crlpub_crls_published_total{pki='tls'}"):$(metric "sms_crlpub_crls_published_total{pki='e2e'}")" \
	"$(awk -v m="$m_tls" -v n="$n_tls" 'BEGIN { printf "%.1f", m + n }'):$(awk -v m="$m_e2e" -v n="$n_e2e" 'BEGIN { printf "%.1f", m + n }')" \
	"metrics: SIGHUP counted as one more publish of every CRL"

# --- SIGTERM
kill -TERM "$CRLPUB_PID"; wait "$CRLPUB_PID"; rc=$?
tap_is "$rc" 0 "sms-crlpub exits 0 on SIGTERM"
tap_is "$(metric "sms_crlpub_broker_connects_total{session='0'}")" 3.0 \
	"metrics written at exit: 3 connects (the start and the two broker restarts)"
tap_is "$(find "$M" -name '.*' -type f | wc -l)" 0 "no temporary file left in the textfile directory"

# --- republish_interval: every CRL sent again with no file change
# A fresh sms-crlpub (its counters start at 0) with the shortest interval the
# configuration allows; no file is touched, no signal sent, no reconnect.
published() { echo "$(metric "sms_crlpub_crls_published_total{pki='tls'}"):$(metric "sms_crlpub_crls_published_total{pki='e2e'}")"; }
echo 'republish_interval = 10;' | cat "$PUB/crlpub.conf" - >"$PUB/republish.conf"
crlpub_start "$PUB/republish.conf"
wait_metric "sms_crlpub_crls_published_total{pki='e2e'}" "$n_e2e.0" 20
wait_metric "sms_crlpub_crls_published_total{pki='tls'}" "$n_tls.0" 5
tap_is "$(published)" "$n_tls.0:$n_e2e.0" "republish_interval = 10: a fresh start publishes every CRL once"
t0=$SECONDS
wait_metric "sms_crlpub_crls_published_total{pki='e2e'}" "$((2 * n_e2e)).0" 20
wait_metric "sms_crlpub_crls_published_total{pki='tls'}" "$((2 * n_tls)).0" 5
waited=$((SECONDS - t0))
tap_is "$(published):$(metric "sms_crlpub_broker_connects_total{session='0'}")" \
	"$((2 * n_tls)).0:$((2 * n_e2e)).0:1.0" \
	"... and every CRL again after the interval, with no file change and no reconnect (after ${waited} s)"
[ "$waited" -ge 5 ] && tap_ok "the second publish waited for the interval (${waited} s, not at once)" ||
	tap_not_ok "the second publish came after ${waited} s, before the 10 s interval could pass"
kill -TERM "$CRLPUB_PID"; wait "$CRLPUB_PID" || tap_not_ok "sms-crlpub (republish.conf) exits 0"

# --- the broker comes back without its retained messages: republished on reconnect
# The default republish_interval (3600 s) cannot refill the broker here; only
# the republish after a reconnect can. sms-crlpub is stopped (SIGSTOP) while
# the broker restarts with its persistence file deleted, so the control below
# sees the broker empty before sms-crlpub can reconnect.
crlpub_start
wait_metric "sms_crlpub_crls_published_total{pki='e2e'}" "$n_e2e.0" 20
wait_metric "sms_crlpub_crls_published_total{pki='tls'}" "$n_tls.0" 5 ||
	harness_die "sms-crlpub did not publish at start: $(tail -n 3 "$LOG")"
kill -STOP "$CRLPUB_PID"
harness_mosquitto_stop
rm -f "$H_MQ_DIR/mosquitto.db"
harness_mosquitto_start_again
tap_is "$(retained 2 | wc -l)" 0 "control: the broker restarted without its persistence file holds no retained CRL"
kill -CONT "$CRLPUB_PID"
split_crls "$PUB/tls.pem" "$H_DIR/tls-now"; split_crls "$PUB/e2e.pem" "$H_DIR/e2e-now"
want=$(for pki in tls e2e; do for f in "$H_DIR/$pki-now"/*.pem; do echo "sms/crl/$pki/$(keyid "$f") $(der_hex "$f")"; done; done | sort)
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 30 ]; do
	got=$(retained 2 | sort)
	[ "$got" = "$want" ] && break
done
tap_is "$(comm -3 <(echo "$want") <(echo "$got") | wc -l):$(wc -l <<<"$got")" "0:$((n_tls + n_e2e))" \
	"a fresh subscriber to sms/crl/# gets every current CRL retained again within 30 s of the restart (after $((SECONDS - t0)) s)"
wait_metric "sms_crlpub_broker_connects_total{session='0'}" 2.0 10
tap_is "$(published):$(metric "sms_crlpub_broker_connects_total{session='0'}")" \
	"$((2 * n_tls)).0:$((2 * n_e2e)).0:2.0" "metrics: the reconnect counted, every CRL published once more"
kill -TERM "$CRLPUB_PID"; wait "$CRLPUB_PID"
tap_is "$?" 0 "sms-crlpub exits 0 on SIGTERM after the broker restart"
agent_stop a; tap_is "$?" 0 "sms-agent exits 0 on SIGTERM"
for f in "$LOG" "$AL"; do
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
		tap_not_ok "no sanitizer report in $(basename "$f")"; grep -A 20 -E 'Sanitizer|runtime error' "$f" | head -30 | sed 's/^/# /'
	else tap_ok "no sanitizer report in $(basename "$(dirname "$f")")/$(basename "$f")"; fi
done
tap_done
