#!/usr/bin/env bash
# sms-pki bridge: a customer-site bridge certificate (O=MA, CN=bridge-NAME,
# extendedKeyUsage clientAuth + the SMS bridge OID, from the master-account
# CA, TLS only) with the site broker's server certificate, a regional
# bridge role (services CA, TLS only); export bridge/regional give exactly
# the files a bridging broker needs, and the acl/ example configurations
# load in mosquitto with them; revoke and renew work on bridges.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

pki() { harness_pki "$@" >/dev/null; }
pki init && pki master 000001 && pki master 000002 && pki account 000001 00002 ||
	harness_die "cannot issue the PKI"
OID=2.25.51606392005656112972880331953528505823
tap_is "$(grep -c "IDENTITY_BRIDGE_EKU_OID \"$OID\"" "$H_ROOT/common/identity.h")" 1 \
	"sms-pki's bridge OID is the one the plugin looks for (common/identity.h)"

tap_check "bridge site 000001 site-a --san edge.example.net" pki bridge site 000001 site-a --san edge.example.net
B=ma/000001/bridges/site-a
tap_is "$(subject tls $B)" "CN=bridge-site-a,O=000001" "subject O=MA, CN=bridge-NAME"
tap_check "chains to the TLS root through the master-account CA (name constraints hold)" verify_crl tls $B
tap_is "$(openssl x509 -in "$(pem tls $B)" -noout -issuer -nameopt RFC2253)" "issuer=CN=SMS master-account CA,O=000001" \
	"issued by the master-account CA"
ext tls $B extendedKeyUsage | grep -q "TLS Web Client Authentication, $OID" &&
	tap_ok "extendedKeyUsage clientAuth + the bridge OID" || tap_not_ok "$(ext tls $B extendedKeyUsage)"
tap_check "purpose sslclient" verify tls $B -purpose sslclient
tap_check "no E2E bridge: a broker never needs an E2E key" test ! -e "$PKI/e2e/$B"
tap_check "the site broker's server certificate chains too" verify tls $B/server -purpose sslserver
ext tls $B/server subjectAltName | grep -q "DNS:edge.example.net" && tap_ok "with the --san name" ||
	tap_not_ok "$(ext tls $B/server subjectAltName)"
tap_check_fails "the server certificate is no client" verify tls $B/server -purpose sslclient
tap_check "fails_with: bridge site twice" fails_with "already exists" harness_pki bridge site 000001 site-a
tap_check "fails_with: bridge under an unknown master account" fails_with "run sms-pki master" harness_pki bridge site 000009 x
tap_check "fails_with: bridge with --pki e2e" fails_with "tls PKI only" harness_pki --pki e2e bridge site 000001 y
tap_check "fails_with: a NAME outside the grammar" fails_with "outside A-Z" harness_pki bridge site 000001 'a:b'
tap_check "fails_with: a NAME too long for CN bridge-NAME" fails_with "longer than 57" \
	harness_pki bridge site 000001 "$(printf 'n%.0s' $(seq 1 58))"

tap_check "bridge regional vendor-regional-bridge" pki bridge regional vendor-regional-bridge
R=services/roles/vendor-regional-bridge
tap_is "$(subject tls $R)" "CN=vendor-regional-bridge" "regional bridge: a role CN from the services CA"
tap_check "regional bridge chains to the root" verify_crl tls $R
tap_check "regional bridge: TLS only" test ! -e "$PKI/e2e/$R"

# --- export
X=$H_DIR/export
files() { (cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort); }
want() { printf '%s\n' "$@" | LC_ALL=C sort; }
leaf() { printf '%s\n' "$1/$2/key.pem" "$1/$2/cert.pem" "$1/$2/chain.pem" "$1/$2/fullchain.pem"; }
harness_pki export bridge 000001 site-a "$X/site" >/dev/null
tap_is "$(files "$X/site")" "$(want MANIFEST-bridge-000001-site-a tls/root/ca.crt tls/cas.pem tls/crls.pem \
	tls/services/ca.crt $(leaf tls $B) $(leaf tls $B/server))" \
	"export bridge: its bridge and server keys, TLS root, CAs, CRLs, services CA; nothing else"
harness_pki export regional vendor-regional-bridge "$X/regional" >/dev/null
tap_is "$(files "$X/regional")" "$(want MANIFEST-regional-vendor-regional-bridge tls/root/ca.crt tls/cas.pem \
	tls/crls.pem tls/services/ca.crt $(leaf tls broker) $(leaf tls $R))" \
	"export regional: the broker's server key, the bridge role, TLS root, CAs, CRLs, services CA"
tap_check "no CA key in either export" test -z "$(find "$X" -name ca.key)"
tap_check "MANIFEST checks" sh -c "cd '$X/site' && sha256sum -c --quiet MANIFEST-bridge-000001-site-a"

# --- the acl/ examples load in mosquitto with these files (paths as exported)
sed "s|@PKI@|$PKI|g" "$H_ROOT/tests/integration/testdata/sms_auth.conf.in" >"$H_DIR/sms_auth.conf"
SO=
for d in "${SMS_RELEASE:-}" "$H_ROOT/build/release"; do
	[ -n "$d" ] && [ -f "$d/lib/sms/sms_auth.so" ] && SO=$d/lib/sms/sms_auth.so && break
done
for c in site regional; do
	if [ -z "$SO" ]; then tap_ok "acl/mosquitto-$c.conf # SKIP sms_auth.so not built"; continue; fi
	d=$X/$c
	{
		[ "$(id -u)" -eq 0 ] && echo "user root"
		sed -e "s|/etc/sms/pki|$d|g" -e "s|/etc/sms/sms_auth.conf|$H_DIR/sms_auth.conf|" \
			-e "s|/var/lib/mosquitto/|$H_DIR/$c-|" -e "s|/usr/local/lib/sms/sms_auth.so|$SO|" \
			-e "s|^listener 8883|listener 0 $H_DIR/$c.sock|" -e "s|^log_dest syslog|log_dest stderr|" \
			-e "s|\.example\.net:8883|.invalid:1|" "$H_ROOT/acl/mosquitto-$c.conf"
	} >"$H_DIR/$c.conf"
	timeout 3 mosquitto -c "$H_DIR/$c.conf" >"$H_DIR/$c.log" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && grep -q "sms_auth: loaded" "$H_DIR/$c.log" && grep -q "Connecting bridge" "$H_DIR/$c.log" &&
		tap_ok "acl/mosquitto-$c.conf: mosquitto runs it with the exported files, plugin loaded, bridge dialling" ||
		tap_not_ok "acl/mosquitto-$c.conf: exit $rc: $(grep -i error "$H_DIR/$c.log" | head -n 2)"
done

# --- revoke and renew
tap_check "revoke the site bridge" pki revoke $B
tap_check_fails "revoked: the chain check with CRLs fails" verify_crl tls $B
tap_check "renew the site bridge" pki renew $B
tap_check "renewed: valid again, same profile" verify_crl tls $B
ext tls $B extendedKeyUsage | grep -q "$OID" && tap_ok "renewed: still the bridge OID" || tap_not_ok "OID lost on renew"
tap_check "renew the server certificate" pki renew $B/server
ext tls $B/server subjectAltName | grep -q "DNS:edge.example.net" && tap_ok "renewed server keeps its names" ||
	tap_not_ok "$(ext tls $B/server subjectAltName)"
tap_check "revoke the regional role (TLS only)" pki revoke $R
tap_check_fails "regional role revoked" verify_crl tls $R
tap_done
