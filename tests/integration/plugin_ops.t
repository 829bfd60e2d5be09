#!/usr/bin/env bash
# What the broker tells vendor ops (issue 11), in a real mosquitto with
# sms_auth.so: the plugin's version at load; one line per CRL at every
# accepted load (issuer, crlNumber, nextUpdate); ACL denials logged with
# identity, client id and topic, rate-limited (a burst, then one a second,
# the rest reported as "N similar lines suppressed"); and an old key name
# in the configuration refused with its new name.
source "$(dirname "$0")/../harness/harness.sh"
source "$H_ROOT/plugin/testlib.sh"

harness_init
plugin_pick
PKI=$H_DIR/pki/tls
DEV=ma/000001/acc/00002/dev/EQ1
pl_pki init
pl_pki master 000001
pl_pki account 000001 00002
pl_pki device 000001 00002 EQ1
pl_pki device 000001 00002 EQ2
CONF=$H_DIR/sms_auth.conf
pl_conf "$CONF"
pl_start "$CONF"
LOG=$H_MQ_DIR/mosquitto.log

grep -q "sms_auth: loaded $CONF (sms $(cat "$H_ROOT/VERSION");" "$LOG" &&
	tap_ok "the load line names the SMS version" || tap_not_ok "load line with the version"
n_crl=$(grep -c 'sms_auth: CRL of "' "$LOG")
n_issuers=$(sed -n 's/.*sms_auth: CRLs loaded: \([0-9]*\) issuers.*/\1/p' "$LOG" | head -1)
tap_is "$n_crl" "$n_issuers" "at load: one line per CRL, as many as there are issuers ($n_issuers)"
grep -qE 'sms_auth: CRL of "[^"]*CN=[^"]*": crlNumber [0-9]+, thisUpdate 20[0-9-]+T[0-9:]+Z, nextUpdate 20[0-9-]+T[0-9:]+Z, 0 revoked' "$LOG" &&
	tap_ok "each says issuer, crlNumber, thisUpdate, nextUpdate and revoked entries" ||
	tap_not_ok "CRL line format: $(grep -m1 'CRL of' "$LOG")"

# --- a revocation: the reload names the account CA's new CRL with a higher crlNumber
acc_issuer_re='OU=00002'
before=$(grep 'sms_auth: CRL of "' "$LOG" | grep "$acc_issuer_re" | grep -v 'O=Vendor' | tail -1 |
	sed -n 's/.*crlNumber \([0-9]*\),.*/\1/p')
pl_pki revoke "$DEV"
for i in $(seq 1 50); do grep -q 'sms_auth: CRLs reloaded' "$LOG" && break; sleep 0.1; done
after_line=$(grep 'sms_auth: CRL of "' "$LOG" | grep "$acc_issuer_re" | tail -1)
after=$(sed -n 's/.*crlNumber \([0-9]*\),.*/\1/p' <<<"$after_line")
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ] && grep -q ', 1 revoked$' <<<"$after_line"; then
	tap_ok "after a revocation: the account CA's CRL, crlNumber $before -> $after, 1 revoked"
else
	tap_not_ok "reload line for the revoking CRL: before '$before', after: $after_line"
fi

# --- ACL denials, rate-limited
OTHER=ma/000001/acc/00002/dev/EQ2
seq 1 200 | sed 's/^/x/' |
	mosquitto_pub -h 127.0.0.1 -p "$H_MQ_PORT" $(pl_id "$OTHER") -q 0 -t "000001/00002/EQ9/snapshots" -l \
	>"$H_DIR/flood.log" 2>&1
sleep 1
denials=$(grep -c 'sms_auth: denied write on "000001/00002/EQ9/snapshots" to 000001/00002/EQ2 (client 000001/00002/EQ2@' "$LOG")
[ "$denials" -ge 1 ] && [ "$denials" -le 22 ] &&
	tap_ok "200 denied publishes: $denials lines (a burst of 20, then one a second)" ||
	tap_not_ok "denial lines: $denials (flood: $(head -c 300 "$H_DIR/flood.log"))"
for i in $(seq 1 150); do grep -q 'similar lines suppressed (ACL denials' "$LOG" && break; sleep 0.1; done
sup=$(sed -n 's/.*sms_auth: \([0-9]*\) similar lines suppressed (ACL denials.*/\1/p' "$LOG" | awk '{ s += $1 } END { print s + 0 }')
tap_is "$((sup + denials))" 200 "the rest is counted exactly: $sup suppressed + $denials logged = 200"
pl_pub "$OTHER" "000001/00002/EQ8/snapshots" y >/dev/null
grep -q 'sms_auth: denied write on "000001/00002/EQ8/snapshots"' "$LOG" &&
	tap_ok "after the flood a new denial is logged again" || tap_not_ok "denial after the flood"
grep -c 'sms_auth: denied' "$LOG" | grep -qv '^0$' && ! grep -q $'\e\[' "$LOG" &&
	tap_ok "no terminal escapes in the broker log" || tap_not_ok "escapes in the log"

# --- an old key name: refused with the new one
BAD=$H_DIR/old.conf
pl_conf "$BAD"
sed -i 's/^trust_root =/trust_anchor =/' "$BAD"
mkdir -p "$H_DIR/badmq"
{
	echo "per_listener_settings false"
	[ "$(id -u)" -eq 0 ] && echo "user root"
	echo "log_dest stderr"
	echo "listener $(harness_free_port) 127.0.0.1"
	echo "plugin $PL_SO"
	echo "plugin_opt_config $BAD"
} >"$H_DIR/badmq/mosquitto.conf"
LD_PRELOAD=$PL_PRELOAD timeout 10 mosquitto -c "$H_DIR/badmq/mosquitto.conf" >"$H_DIR/badmq/out" 2>&1
grep -q "sms_auth: $BAD:1: 'trust_anchor' is now called 'trust_root'" "$H_DIR/badmq/out" &&
	tap_ok "the old key trust_anchor stops the broker with a line naming trust_root" ||
	tap_not_ok "old key refused: $(grep sms_auth "$H_DIR/badmq/out" | head -2)"
harness_mosquitto_stop
pl_check_sanitizer
tap_done
