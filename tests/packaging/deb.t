#!/usr/bin/env bash
# The Debian packages as an operator gets them: built from the tree
# (scripts/deb, reused when no file changed since), lintian clean, installed
# into an empty root, and the broker started from what they installed.
#
# The root is a plain directory: `dpkg --root` with --force-script-chrootless
# runs the maintainer scripts on this host with DPKG_ROOT set, and every
# snippet debhelper writes honours it (systemd-sysusers --root,
# systemd-tmpfiles --root, deb-systemd-helper), so users, the spool
# directory and the unit state land in the root, not on the host (checked
# below). The root holds only our packages (--force-depends): the programs
# run against the host's libraries and the host's mosquitto, which is what
# the broker host runs too. Needs root (dpkg installs files owned by root
# and mosquitto drops to user mosquitto as it would under systemd).
source "$(dirname "$0")/../harness/harness.sh"
harness_init
cd "$H_ROOT" || harness_die "no tree"

if [ "$(id -u)" -ne 0 ]; then
	tap_ok "packages # SKIP dpkg --root and the mosquitto user need root"
	tap_done; exit
fi

OUT=$H_ROOT/build/deb
if out=$(nice scripts/deb --if-stale 2>&1); then tap_ok "packages built: $(echo "$out" | tail -n 1)"
else tap_not_ok "scripts/deb builds the packages"; echo "$out" | tail -n 20 | sed 's/^/#   /'; tap_done; exit; fi

PKGS=(sms-broker-plugin sms-vendor-services sms-agent sms-tools libsmscms-dev)
[ -f services/audit/module.mk ] && PKGS+=(sms-audit)
debs=()
for p in "${PKGS[@]}"; do
	f=$(ls "$OUT/${p}_"*.deb 2>/dev/null | head -n 1)
	if [ -n "$f" ]; then debs+=("$f"); printf '# %-28s %7d bytes\n' "$p" "$(stat -c %s "$f")"
	else tap_not_ok "package $p was built"; fi
done
tap_is "${#debs[@]}" "${#PKGS[@]}" "one .deb per package (${PKGS[*]})"

# --- lintian: no error, no warning (each override says why in its file)
if lint=$(nice lintian --fail-on error,warning --tag-display-limit 0 "$OUT"/*.changes 2>&1); then
	tap_ok "lintian: no error or warning ($(echo "$lint" | grep -c '^[IPN]:') info/pedantic notes)"
else tap_not_ok "lintian: no error or warning"; echo "$lint" | grep -v 'root privileges' | head -n 20 | sed 's/^/#   /'; fi

# --- install into an empty root
R=$H_DIR/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" && touch "$R/var/lib/dpkg/status"
host_users=$(cut -d: -f1 /etc/passwd | sort | tr '\n' ' ')
host_dsh=$(ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | tr '\n' ' ')
if out=$(dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null -i "${debs[@]}" 2>&1); then
	tap_ok "dpkg --root installs every package (maintainer scripts chrootless)"
else tap_not_ok "dpkg --root installs every package"; echo "$out" | grep -iv 'depend\|not installed' | tail -n 15 | sed 's/^/#   /'; fi
tap_is "$(cut -d: -f1 /etc/passwd | sort | tr '\n' ' ')" "$host_users" "the host's users are untouched"
tap_is "$(ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | tr '\n' ' ')" "$host_dsh" \
	"the host's unit state is untouched"
q() { dpkg-query --admindir="$R/var/lib/dpkg" "$@"; }
tap_is "$(q -W -f='${Status}\n' "${PKGS[@]}" | sort -u)" "install ok installed" "every package is configured"

# --- files, owners, modes
# mode_is PATH MODE OWNER:GROUP (names as the root's /etc/passwd knows them)
uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/passwd"; }
gid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/group"; }
mode_is() {
	local f=$R$1 want u g
	u=${3%%:*}; g=${3#*:}
	[ "$u" = root ] && u=0 || u=$(uid_of "$u")
	[ "$g" = root ] && g=0 || g=$(gid_of "$g")
	want="$2 $u $g"
	tap_is "$(stat -c '%a %u %g' "$f" 2>&1)" "$want" "$1 is $2 $3"
}
mode_is /usr/lib/sms/sms_auth.so 644 root:root
BINS=(smscms sms-pki sms-devicesim sms-firmware sms-db sms-snapshotd sms-crlpub sms-publisherd sms-agent)
CONFS=(mosquitto sms_auth snapshotd crlpub publisherd agent)
USERS=(sms-snapshotd sms-crlpub sms-publisherd sms-agent)
if [[ " ${PKGS[*]} " == *" sms-audit "* ]]; then BINS+=(sms-audit); CONFS+=(audit); USERS+=(sms-audit); fi
for b in "${BINS[@]}"; do mode_is /usr/bin/$b 755 root:root; done
for c in "${CONFS[@]}"; do mode_is /etc/sms/$c.conf 644 root:root; done
mode_is /usr/share/sms/sql/001_snapshot_schema.sql 644 root:root
mode_is /var/spool/sms-agent 2770 sms-agent:sms-agent
for u in "${USERS[@]}"; do
	shell=$(awk -F: -v n="$u" '$1 == n { print $7 }' "$R/etc/passwd")
	tap_is "$shell" /usr/sbin/nologin "system user $u created in the root, no login shell"
done
tap_is "$(q -L sms-broker-plugin | grep -c '^/usr/lib/sms/sms_auth.so$')" 1 "sms_auth.so is in sms-broker-plugin"
tap_is "$(q -L sms-broker-plugin | grep -cE '^/usr/share/doc/sms-broker-plugin/examples/mosquitto-(site|regional)\.conf$')" 2 \
	"sms-broker-plugin has the cascades' mosquitto.conf examples (site, regional)"
tap_is "$(q -L sms-tools | grep -cE '^/usr/bin/(smscms|sms-pki|sms-devicesim|sms-firmware)$')" 4 "sms-tools has smscms, sms-pki, sms-devicesim, sms-firmware"
# The CRL renewal runs where the CA keys are, i.e. where sms-pki is.
tap_is "$(q -L sms-tools | grep -cE '^/lib/systemd/system/sms-pki-crl-renew\.(service|timer)$')" 2 \
	"sms-tools has sms-pki-crl-renew.service and .timer"
tap_is "$(q -L sms-tools | grep -c '^/usr/share/doc/sms-tools/examples/sms-pki-crl-renew$')" 1 \
	"sms-tools has the cron form as an example"
tap_is "$(q -L sms-vendor-services | grep -cE '^/usr/bin/sms-(snapshotd|db|crlpub|publisherd)$')" 4 "sms-vendor-services has sms-snapshotd, sms-db, sms-crlpub, sms-publisherd"
tap_is "$(q -L sms-vendor-services | grep -cE '^(/lib/systemd/system/sms-(snapshotd|crlpub|publisherd)\.service|/etc/sms/(snapshotd|crlpub|publisherd)\.conf)$')" 6 \
	"sms-vendor-services has the units and configs of sms-snapshotd, sms-crlpub and sms-publisherd"
if [[ " ${PKGS[*]} " == *" sms-audit "* ]]; then
	tap_is "$(q -L sms-audit | grep -cE '^(/usr/bin/sms-audit|/lib/systemd/system/sms-audit\.service|/etc/sms/audit\.conf)$')" 3 \
		"sms-audit has the program, its unit and /etc/sms/audit.conf"
fi
tap_is "$(q -L libsmscms-dev | grep -cE '/(libsmscms\.a|smscms\.h|smscms\.pc)$')" 3 "libsmscms-dev has the library, the header, smscms.pc"
# Only what the host needs: no daemon of another host, never a CA key.
tap_is "$(q -L sms-agent sms-broker-plugin | grep -cE 'sms-snapshotd|sms-db|sms-pki|\.key$')" 0 \
	"the broker and equipment packages carry no backend program, no PKI tool, no key"

conffiles=$(q -W -f='${Conffiles}\n' "${PKGS[@]}" | awk 'NF { print $1 }' | sort | tr '\n' ' ')
etc_files=$(cd "$R" && find etc/sms -name '*.conf' | sed 's|^|/|' | sort | tr '\n' ' ')
tap_is "$conffiles" "$etc_files" "every /etc/sms config is a conffile ($etc_files)"
for c in "${CONFS[@]}"; do
	case " $conffiles" in *" /etc/sms/$c.conf "*) ;; *) tap_not_ok "/etc/sms/$c.conf is shipped as a conffile" ;; esac
done
tap_is "$(grep -l '/usr/local' "$R"/etc/sms/*.conf "$R"/lib/systemd/system/sms-*.service 2>/dev/null)" "" \
	"no installed config or unit names /usr/local"
grep -q '^plugin /usr/lib/sms/sms_auth.so$' "$R/etc/sms/mosquitto.conf" &&
	tap_ok "mosquitto.conf loads the installed plugin" || tap_not_ok "mosquitto.conf loads the installed plugin"

# The packaged sms-pki has no VERSION file beside it: make install wrote the
# version into it.
tap_is "$("$R/usr/bin/sms-pki" --version 2>&1)" "sms-pki (sms) $(cat VERSION)" \
	"the installed sms-pki --version prints the tree's version"

# --- a man page for every command, in the command's package, naming every
# option its --help prints
for b in "$R"/usr/bin/*; do
	n=${b##*/}
	page=$(ls "$R/usr/share/man/man1/$n.1.gz" "$R/usr/share/man/man8/$n.8.gz" 2>/dev/null | head -n 1)
	[ -n "$page" ] || { tap_not_ok "$n has a man page"; continue; }
	pkg_b=$(q -S "/usr/bin/$n" | cut -d: -f1)
	pkg_m=$(q -S "${page#"$R"}" | cut -d: -f1)
	tap_is "$pkg_m" "$pkg_b" "$n: man page ${page##*/} ships with the program"
	warn=$(zcat "$page" | LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z - 2>&1 >/dev/null)
	tap_is "$warn" "" "$n: man page renders without warnings"
	text=$(zcat "$page")
	missing=
	for o in $("$b" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "${o//-/\\-}" <<<"$text" || missing="$missing $o"
	done
	tap_is "${missing# }" "" "$n: the man page documents every option of --help"
	grep -q '^\.SH EXIT STATUS' <<<"$text" && tap_ok "$n: the man page documents the exit status" ||
		tap_not_ok "$n: the man page documents the exit status"
done

# --- units: they parse, they are sandboxed, none is enabled by the install
mkdir -p "$H_DIR/units"
for u in "$R"/lib/systemd/system/sms-*.service "$R"/lib/systemd/system/sms-*.timer; do
	# Exec paths into the root so verify finds the programs.
	sed "s#/usr/bin/#$R/usr/bin/#g" "$u" >"$H_DIR/units/${u##*/}"
done
tap_is "$(ls "$H_DIR"/units | grep -c '^sms-pki-crl-renew\.\(service\|timer\)$')" 2 "the CRL renewal units are installed"
out=$(systemd-analyze verify --man=no "$H_DIR"/units/*.service "$H_DIR"/units/*.timer 2>&1)
tap_is "$out" "" "systemd-analyze verify: every unit and timer parses, every command exists"
# After renewing, the renewal reloads whichever broker runs: the packaged
# one (which conflicts with mosquitto.service) reloads on HUP.
RENEW=$R/lib/systemd/system/sms-pki-crl-renew.service
tap_is "$(sed -n 's/^ExecStartPost=//p' "$RENEW")" \
	"-/bin/systemctl --no-block try-reload-or-restart sms-broker.service mosquitto.service" \
	"sms-pki-crl-renew.service reloads sms-broker.service or mosquitto.service, whichever runs"
tap_is "$(sed -n 's/^ExecReload=//p' "$R/lib/systemd/system/sms-broker.service")" '/bin/kill -HUP $MAINPID' \
	"sms-broker.service reloads with SIGHUP (mosquitto re-reads its crlfile)"
grep -q 'try-reload-or-restart sms-broker.service mosquitto.service' \
	"$R/usr/share/doc/sms-tools/examples/sms-pki-crl-renew" &&
	tap_ok "the cron example reloads sms-broker.service or mosquitto.service" ||
	tap_not_ok "the cron example reloads sms-broker.service or mosquitto.service"
# The daemons; the CRL renewal runs as root on purpose (the CA keys are
# root's, exports are chowned), with only the capabilities it needs. Every
# daemon is hardened alike: each rates exactly 1.2 (a unit that drops an
# option, as sms-crlpub once lacked PrivateUsers, RemoveIPC and
# SystemCallErrorNumber at 1.4, fails here even while still "OK").
for u in "$R"/lib/systemd/system/sms-*.service; do
	n=${u##*/}
	[ "$n" = sms-pki-crl-renew.service ] && continue
	line=$(systemd-analyze security --offline=yes --root="$R" "$n" 2>&1 | grep 'Overall exposure level')
	echo "# $line"
	case $line in
	*" OK "* | *" SAFE "*) tap_ok "$n: systemd-analyze security rates it OK or SAFE" ;;
	*) tap_not_ok "$n: systemd-analyze security rates it OK or SAFE ($line)" ;;
	esac
	tap_is "$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' <<<"$line")" 1.2 \
		"$n: exposure 1.2, as every daemon unit"
	grep -q '^User=' "$u" && tap_ok "$n runs as a dedicated user ($(sed -n 's/^User=//p' "$u"))" ||
		tap_not_ok "$n runs as a dedicated user"
done
tap_is "$(find "$R/etc/systemd" -name 'sms-*' 2>/dev/null)" "" "no unit is enabled by the installation"

# --- the broker from the installed root: mosquitto with the packaged plugin
# and configs, only the /etc/sms and /usr/lib/sms prefixes and the listener
# rewritten; the PKI as sms-pki writes it for the broker host.
PKI=$H_DIR/pki
PKIT=$R/usr/bin/sms-pki
pki() { "$PKIT" --dir "$PKI" --pki tls "$@" >>"$H_DIR/pki.log" 2>&1 || harness_die "sms-pki $* failed (pki.log)"; }
pki init
pki master 000001
pki account 000001 00002
pki device 000001 00002 EQ1
pki device 000001 00002 EQ2
pki revoke ma/000001/acc/00002/dev/EQ2 --reason keyCompromise
BROKER_PKI=$R/etc/sms/pki
if "$PKIT" --help 2>&1 | grep -q '^  export '; then
	"$PKIT" --dir "$PKI" export broker "$BROKER_PKI" --owner root:mosquitto >>"$H_DIR/pki.log" 2>&1 ||
		harness_die "sms-pki export broker failed (pki.log)"
else
	# Before `sms-pki export`: what it writes for the broker, in the same
	# layout, the key as `export broker DIR --owner root:mosquitto` leaves it.
	for f in root/ca.crt cas.pem crls.pem services/ca.crt broker/cert.pem broker/chain.pem \
	         broker/fullchain.pem broker/key.pem; do
		install -D -m 644 "$PKI/tls/$f" "$BROKER_PKI/tls/$f" || harness_die "copying $f"
	done
	chgrp mosquitto "$BROKER_PKI/tls/broker/key.pem" && chmod 640 "$BROKER_PKI/tls/broker/key.pem"
fi
tap_is "$(stat -c '%a %U %G' "$BROKER_PKI/tls/broker/key.pem")" "640 root mosquitto" \
	"the broker key is root:mosquitto 0640 (mosquitto runs as user mosquitto)"
tap_is "$(find "$BROKER_PKI" -name 'ca.key' -o -path '*/dev/*' | wc -l)" 0 "the broker host gets no CA key, no device key"
PORT=$(harness_free_port)
MQ=$H_DIR/mq
mkdir -p "$MQ"
sed -e "s#/etc/sms/#$R/etc/sms/#g" -e "s#/usr/lib/sms/#$R/usr/lib/sms/#g" \
    -e "s#^listener 8883\$#listener $PORT 127.0.0.1#" -e 's#^persistence true#persistence false#' \
    -e 's#^log_dest syslog#log_dest stderr#' "$R/etc/sms/mosquitto.conf" >"$MQ/mosquitto.conf"
sed -e "s#/etc/sms/#$R/etc/sms/#g" -e 's#^crl_check_interval = .*#crl_check_interval = 1;#' \
	"$R/etc/sms/sms_auth.conf" >"$R/etc/sms/sms_auth.conf.test"
sed -i "s#^plugin_opt_config .*#plugin_opt_config $R/etc/sms/sms_auth.conf.test#" "$MQ/mosquitto.conf"
tap_is "$(grep -c "^listener $PORT 127.0.0.1\$" "$MQ/mosquitto.conf")" 1 "installed mosquitto.conf moved to loopback:$PORT"
# mosquitto drops root for user mosquitto (its default), as the unit runs it.
mosquitto -c "$MQ/mosquitto.conf" >"$MQ/mosquitto.log" 2>&1 &
H_PIDS+=("$!")
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then tap_ok "mosquitto runs with the installed plugin and configs"
else tap_not_ok "mosquitto runs with the installed plugin and configs"; tail -n 20 "$MQ/mosquitto.log" | sed 's/^/#   /'; fi
grep -q 'sms_auth' "$MQ/mosquitto.log" && tap_ok "the plugin logged its start" || tap_not_ok "the plugin logged its start"

# dev_pub EQ [CLIENT_ID]: one QoS 1 snapshot publish as equipment EQ.
dev_pub() {
	local d=$PKI/tls/ma/000001/acc/00002/dev/$1
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$PORT" --cafile "$PKI/tls/root/ca.crt" --cert "$d/fullchain.pem" \
		--key "$d/key.pem" -i "${2:-000001/00002/$1}" -q 1 -t "000001/00002/$1/snapshots" -m x
}
tap_check "a device with a valid certificate connects and publishes (QoS 1 acknowledged)" dev_pub EQ1
grep -q 'sms_auth: client 000001/00002/EQ1 from 127.0.0.1 authenticated as 000001/00002/EQ1' "$MQ/mosquitto.log" &&
	tap_ok "the plugin authenticated it by its certificate" || tap_not_ok "the plugin authenticated it by its certificate"
tap_check_fails "the plugin refuses that device under another's client id" dev_pub EQ1 000001/00002/EQ9
n_before=$(grep -c 'certificate verify failed' "$MQ/mosquitto.log")
tap_check_fails "the revoked device is refused" dev_pub EQ2
# The packaged mosquitto.conf keeps mosquitto's own crlfile as the first
# line: the handshake fails before the plugin is asked.
tap_is "$(grep -c 'certificate verify failed' "$MQ/mosquitto.log")" $((n_before + 1)) \
	"the broker refused the revoked certificate in the TLS handshake (crlfile from the PKI)"
kill -TERM "${H_PIDS[-1]}" 2>/dev/null

# Why the key is root:mosquitto 0640: a root-only key stops the broker at
# start once it has dropped to user mosquitto.
K=$BROKER_PKI/tls/broker/key.pem
chgrp root "$K" && chmod 600 "$K"
sed -i "s#^listener $PORT #listener $(harness_free_port) #" "$MQ/mosquitto.conf"
timeout 20 mosquitto -c "$MQ/mosquitto.conf" >"$MQ/mosquitto-0600.log" 2>&1
rc=$?
grep -q 'Unable to load server key file' "$MQ/mosquitto-0600.log" && [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
	tap_ok "with a root-only 0600 key the broker exits at start ($rc): Unable to load server key file" ||
	{ tap_not_ok "with a root-only 0600 key the broker exits at start (exit $rc)"; tail -n 5 "$MQ/mosquitto-0600.log" | sed 's/^/#   /'; }
tap_done
