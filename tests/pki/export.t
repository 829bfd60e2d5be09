#!/usr/bin/env bash
# sms-pki export: exactly the files each host needs, in the PKI's layout,
# never a CA key (and on the broker nothing of the E2E PKI), keys moded and
# owned for the service user, a MANIFEST that sha256sum -c accepts, and a
# repeated export that changes nothing.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init
# shellcheck source=tests/pki/lib.sh
source "$(dirname "$0")/lib.sh"

pki() { harness_pki "$@" >/dev/null; }
pki init && pki master 000001 && pki account 000001 00002 && pki device 000001 00002 EQ1 &&
	pki device 000001 00002 EQ2 && pki client 000001 00002 auditor && pki client 000001 00002 second &&
	pki master 000002 && pki account 000002 00001 && pki device 000002 00001 EQ9 &&
	pki service vendor-snapshot-service && pki service vendor-firmware-service &&
	pki service vendor-crl-service && pki service vendor-firmware-signer || harness_die "cannot issue the PKI"
X=$H_DIR/export
SMS_PKI=$H_ROOT/pki/sms-pki

# files DIR: every file in DIR, relative, sorted (MANIFESTs included).
files() { (cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort); }

# want LIST...: the expected file list, sorted.
want() { printf '%s\n' "$@" | LC_ALL=C sort; }

leaf() { printf '%s\n' "$1/$2/key.pem" "$1/$2/cert.pem" "$1/$2/chain.pem" "$1/$2/fullchain.pem"; }

# --- exactly the files per host
harness_pki export broker "$X/broker" >/dev/null
tap_is "$(files "$X/broker")" "$(want MANIFEST-broker tls/root/ca.crt tls/cas.pem tls/crls.pem \
	tls/services/ca.crt $(leaf tls broker))" "broker: its TLS key and chain, TLS root, CAs, CRLs, services CA; nothing else"
tap_check "broker: no E2E file at all" test ! -e "$X/broker/e2e"

harness_pki export snapshotd "$X/snapshotd" >/dev/null
V=services/roles/vendor-snapshot-service
tap_is "$(files "$X/snapshotd")" "$(want MANIFEST-snapshotd tls/root/ca.crt $(leaf tls $V) \
	e2e/root/ca.crt e2e/cas.pem e2e/crls.pem $(leaf e2e $V))" \
	"snapshotd: the role in both PKIs, TLS root, E2E root, CAs and CRLs"

D=ma/000001/acc/00002
harness_pki export agent 000001 00002 EQ1 "$X/agent" >/dev/null
tap_is "$(files "$X/agent")" "$(want MANIFEST-agent-000001-00002-EQ1 tls/root/ca.crt $(leaf tls $D/dev/EQ1) \
	e2e/root/ca.crt e2e/services/ca.crt e2e/cas.pem e2e/crls.pem $(leaf e2e $D/dev/EQ1) \
	e2e/$V/cert.pem e2e/$D/clients/auditor/cert.pem e2e/$D/clients/second/cert.pem)" \
	"agent: the equipment in both PKIs, the receipt signer's CA, the recipients' certificates (no other device)"

harness_pki export audit 000001 00002 "$X/audit" >/dev/null
tap_is "$(files "$X/audit")" "$(want MANIFEST-audit-000001-00002-auditor tls/root/ca.crt $(leaf tls $D/clients/auditor) \
	e2e/root/ca.crt e2e/services/ca.crt e2e/cas.pem e2e/crls.pem $(leaf e2e $D/clients/auditor))" \
	"audit: the account client (default auditor) in both PKIs"

harness_pki export crlpub "$X/crlpub" >/dev/null
tap_is "$(files "$X/crlpub")" "$(want MANIFEST-crlpub tls/root/ca.crt tls/cas.pem tls/crls.pem \
	$(leaf tls services/roles/vendor-crl-service) e2e/root/ca.crt e2e/cas.pem e2e/crls.pem)" \
	"crlpub: its TLS role and every CA and CRL of both PKIs"

harness_pki export firmware "$X/firmware" >/dev/null
F=services/roles/vendor-firmware-service
tap_is "$(files "$X/firmware")" "$(want MANIFEST-firmware tls/root/ca.crt $(leaf tls $F) \
	e2e/root/ca.crt e2e/services/ca.crt e2e/cas.pem e2e/crls.pem $(leaf e2e $F) e2e/$D/dev/EQ1/cert.pem \
	e2e/$D/dev/EQ2/cert.pem e2e/ma/000002/acc/00001/dev/EQ9/cert.pem)" \
	"firmware: its role, the services CA and every device's E2E certificate"

harness_pki export firmware-signer "$X/firmware-signer" >/dev/null
tap_is "$(files "$X/firmware-signer")" "$(want MANIFEST-firmware-signer e2e/root/ca.crt \
	$(leaf e2e services/roles/vendor-firmware-signer) e2e/$F/cert.pem)" \
	"firmware-signer: the E2E signer role, the publisher's certificate, the E2E root; nothing of TLS"
tap_is "$(grep -rl 'PRIVATE KEY' "$X/firmware-signer" | sed "s|$X/firmware-signer/||")" \
	e2e/services/roles/vendor-firmware-signer/key.pem "the signer export holds one private key, the signer's"

# --- no CA key anywhere, by content: no exported key belongs to a CA certificate
ca_pubs() {
	local c
	find "$PKI" -path "$PKI/private" -prune -o -name ca.crt -print | while read -r c; do
		openssl x509 -in "$c" -noout -pubkey
	done | sort -u
}
no_ca_key() {
	local k cas
	cas=$(ca_pubs)
	[ -n "$cas" ] || { echo "no CA public keys found"; return 1; }
	while read -r k; do
		if grep -qxF -- "$(openssl pkey -in "$k" -pubout | tr -d '\n')" <(tr -d '\n' <<<"$cas" | sed 's/-----END PUBLIC KEY-----/&\n/g'); then
			echo "$k is a CA key"; return 1
		fi
	done < <(grep -rl 'PRIVATE KEY' "$X")
	! find "$X" -name ca.key | grep -q . || { echo "a ca.key was exported"; return 1; }
	! grep -rq 'ENCRYPTED PRIVATE KEY' "$X" || { echo "an encrypted key was exported"; return 1; }
}
tap_check "no export holds a CA private key (compared by public key with every CA)" no_ca_key
tap_is "$(grep -rl 'PRIVATE KEY' "$X/broker" | sed "s|$X/broker/||")" tls/broker/key.pem \
	"the broker export holds one private key, the broker's"

# --- the files are the PKI's own and the MANIFEST proves it
same_as_pki() {
	local d=$1 f
	while read -r f; do
		case $f in MANIFEST-*) continue ;; esac
		cmp -s "$d/$f" "$PKI/$f" || { echo "$f differs from the PKI's"; return 1; }
	done < <(files "$d")
}
for h in broker snapshotd agent audit crlpub firmware firmware-signer; do
	tap_check "$h: every file is the PKI's file at the same relative path" same_as_pki "$X/$h"
done
tap_check "MANIFEST-broker verifies with sha256sum -c" sh -c "cd '$X/broker' && sha256sum --quiet -c MANIFEST-broker"
tap_is "$(wc -l <"$X/broker/MANIFEST-broker")" 8 "MANIFEST-broker lists its 8 files"

# --- modes and owner
modes() { (cd "$1" && find . -type f -printf '%m %u:%g %P\n' | LC_ALL=C sort -k3); }
me="$(id -un):$(id -gn)"
tap_is "$(modes "$X/broker" | awk '$3 ~ /key.pem$/ { print $1, $2 }')" "600 $me" "without --owner: key 0600, the exporter's"
tap_is "$(modes "$X/broker" | awk '$3 !~ /key.pem$/ { print $1 }' | sort -u)" 644 "everything else 0644"
tap_is "$(find "$X/broker" -type d -printf '%m\n' | sort -u)" 755 "directories 0755"

if [ "$(id -u)" -eq 0 ]; then
	TU=nobody TG=$(id -gn nobody)
	harness_pki export broker "$X/owned" --owner "root:$TG" >/dev/null
	tap_is "$(stat -c '%a %U:%G' "$X/owned/tls/broker/key.pem")" "640 root:$TG" \
		"--owner root:GROUP: key 0640 root:GROUP (a broker that drops root reads it)"
	tap_check "... and the service user can read it" runuser -u "$TU" -g "$TG" -- cat "$X/owned/tls/broker/key.pem"
	harness_pki export snapshotd "$X/owned" --owner "$TU" >/dev/null
	tap_is "$(stat -c '%a %U' "$X/owned/tls/$V/key.pem")" "600 $TU" "--owner USER: key 0600 USER"
	tap_check_fails "... which no other user reads" runuser -u daemon -- cat "$X/owned/tls/$V/key.pem"
	tap_is "$(stat -c '%a %U:%G' "$X/owned/tls/root/ca.crt")" "644 root:root" \
		"shared public files stay the exporter's (two hosts' exports share a directory)"
	tap_is "$(stat -c '%a %U:%G' "$X/owned/tls/broker/key.pem")" "640 root:$TG" "... and each key keeps its own owner"
	tap_check "both MANIFESTs still verify in the shared directory" \
		sh -c "cd '$X/owned' && sha256sum --quiet -c MANIFEST-broker MANIFEST-snapshotd"
else
	for i in 1 2 3 4 5 6 7; do tap_ok "# SKIP --owner needs root"; done
fi
tap_check "--owner with an unknown user fails with one line" \
	fails_with "no user 'no-such-user-sms'" harness_pki export broker "$X/bad" --owner no-such-user-sms

# --- idempotent, atomic, refreshed
ino_before=$(stat -c %i "$X/broker/tls/crls.pem")
out=$(harness_pki export broker "$X/broker")
tap_is "$out" "exported broker to $X/broker: 8 files, 0 changed" "a repeated export changes nothing"
tap_is "$(stat -c %i "$X/broker/tls/crls.pem")" "$ino_before" "... not even an inode (the watchers see no change)"
harness_pki revoke $D/dev/EQ2 >/dev/null
tap_check "revoke refreshes the exported CRLs" cmp -s "$X/broker/tls/crls.pem" "$PKI/tls/crls.pem"
tap_check "... which now list EQ2" sh -c "openssl storeutl -noout -text -crls '$X/broker/tls/crls.pem' | grep -q \
	'$(openssl x509 -in "$PKI/tls/$D/dev/EQ2/cert.pem" -noout -serial | cut -d= -f2)'"
tap_check "... in every export that has them (agent e2e)" cmp -s "$X/agent/e2e/crls.pem" "$PKI/e2e/crls.pem"
tap_check "... and the MANIFEST follows" sh -c "cd '$X/broker' && sha256sum --quiet -c MANIFEST-broker"
harness_pki client 000001 00002 third >/dev/null
harness_pki export agent 000001 00002 EQ1 "$X/agent" >/dev/null
tap_check "a new account client becomes a recipient on the next export" test -f "$X/agent/e2e/$D/clients/third/cert.pem"

# --- refusals (usage errors exit 2, with one line)
usage_rc() {
	local rc err
	err=$("$@" 2>&1 >/dev/null); rc=$?
	[ "$rc" -eq 2 ] || { echo "exit $rc, not 2: $err"; return 1; }
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { printf 'not one line:\n%s\n' "$err"; return 1; }
}
tap_check "export into the PKI directory is a usage error" usage_rc harness_pki export broker "$PKI/out"
tap_check "export onto a PKI (private/ inside) is a usage error" usage_rc "$SMS_PKI" --dir "$X/broker" export broker "$PKI"
tap_check "unknown host is a usage error" usage_rc harness_pki export dmz "$X/x"
tap_check "agent without EQ is a usage error" usage_rc harness_pki export agent 000001 00002 "$X/x"
tap_check "an identity that was never issued fails (exit 1) with one line" \
	fails_with "tls/ma/000001/acc/00002/dev/NOPE does not exist" harness_pki export agent 000001 00002 NOPE "$X/x"
tap_check_fails "... and writes no MANIFEST" test -e "$X/x/MANIFEST-agent-000001-00002-NOPE"

tap_done
