#!/usr/bin/env bash
# docker-compose.yml and Dockerfile as far as this machine can check them
# without a container engine: Compose parses the file and resolves every
# file it mounts (with the operator's PKI and secrets stand-ins present),
# the services the guide relies on are there, the runtime stage installs
# only this tree's packages and no toolchain, and the database step is a
# valid shell script. Building and running the images is not exercised.
source "$(dirname "$0")/../harness/harness.sh"
harness_init
cd "$H_ROOT" || harness_die "no tree"

if ! command -v docker-compose >/dev/null 2>&1; then
	tap_ok "compose # SKIP docker-compose is not installed (scripts/bootstrap installs it)"
	tap_done; exit
fi

# A copy of what an operator's checkout holds after the steps in the
# file's header comment (the PKI exports and secrets are stand-ins).
W=$H_DIR/w
mkdir -p "$W"
cp -r docker-compose.yml Dockerfile deploy "$W/"
mkdir -p "$W/deploy/pki/broker" "$W/deploy/pki/snapshotd" "$W/deploy/compose/secrets"
echo stand-in >"$W/deploy/compose/secrets/pg_owner_password"
echo stand-in >"$W/deploy/compose/secrets/snapshotd_db_password"
if out=$(cd "$W" && docker-compose config 2>&1); then tap_ok "docker-compose config accepts the file"
else tap_not_ok "docker-compose config accepts the file"; echo "$out" | tail -n 10 | sed 's/^/#   /'; fi
tap_is "$(cd "$W" && docker-compose config --services 2>/dev/null | sort | tr '\n' ' ')" \
	"broker migrate postgres snapshotd " "services: broker, migrate (one-shot), postgres, snapshotd"

# Every bind mount names a file or directory that exists.
missing= n=0
for src in $(cd "$W" && docker-compose config 2>/dev/null | sed -n 's/^ *- \(\/[^:]*\):.*/\1/p'); do
	n=$((n + 1)); [ -e "$src" ] || missing="$missing ${src#"$W/"}"
done
tap_is "${missing# }" "" "each of the $n bind-mounted files exists in the tree (or is made by the header's steps)"
[ "$n" -ge 5 ] && tap_ok "the services mount their PKI, configs and scripts ($n bind mounts)" ||
	tap_not_ok "the services mount their PKI, configs and scripts (only $n bind mounts found)"

tap_check "the migrate service's script is valid sh" sh -n deploy/compose/db-setup.sh
grep -q 'sms-db migrate' deploy/compose/db-setup.sh && grep -q 'sms-db roles' deploy/compose/db-setup.sh &&
	tap_ok "the migrate service runs sms-db migrate and sms-db roles" ||
	tap_not_ok "the migrate service runs sms-db migrate and sms-db roles"
grep -q 'condition: service_completed_successfully' docker-compose.yml &&
	tap_ok "snapshotd starts only after the migrations finished" ||
	tap_not_ok "snapshotd starts only after the migrations finished"

# pg_hba admits the backend subnet the compose file fixes, and nothing else
# from the network.
subnet=$(sed -n 's/^ *- subnet: \([0-9./]*\).*/\1/p' docker-compose.yml)
tap_is "$(awk '$1 == "host" { print $4 }' deploy/compose/pg_hba.conf | sort -u | tr '\n' ' ')" "$subnet " \
	"pg_hba.conf admits the backend subnet ($subnet) only"
tap_is "$(awk '!/^#/ && NF && $NF != "scram-sha-256"' deploy/compose/pg_hba.conf)" "" "pg_hba.conf: passwords (SCRAM) only"

# The runtime stage: from the packages, no compiler, no JDK.
runtime=$(sed -n '/^FROM .* AS runtime/,$p' Dockerfile)
tap_is "$(grep -cE 'build-essential|gcc|clang|jdk|debhelper|-dev\b' <<<"$runtime")" 0 \
	"the runtime stage installs no compiler, no JDK, no -dev package"
for p in sms-broker-plugin sms-vendor-services sms-agent sms-tools; do
	grep -q "/tmp/debs/${p}_\*\.deb" <<<"$runtime" && tap_ok "runtime installs $p from the built packages" ||
		tap_not_ok "runtime installs $p from the built packages"
done
tap_done
