# The SMS framework as container images, built from this tree's Debian
# packages (README.md "Packages"). Not exercised here: the build machines
# have no container engine (README.md "Containers").
#
#   docker build -t sms-runtime .            (docker compose build does it)
#
# Stage 1 has the toolchain and builds the .debs exactly as `make deb` does;
# stage 2 installs only those packages and their run-time dependencies: no
# compiler, no debhelper, no JDK (the JDK is for the interop tests only).

FROM debian:bookworm AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config debhelper dpkg-dev fakeroot \
      libssl-dev zlib1g-dev libmosquitto-dev mosquitto-dev libpq-dev libcjson-dev libconfig-dev libsqlite3-dev uthash-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Without .git, scripts/deb copies the tree by `find` (build/ and run/ excluded).
RUN rm -rf build && scripts/deb

FROM debian:bookworm-slim AS runtime
# Fixed ids, so that `sms-pki export ... --owner` on the Docker host and the
# containers agree on who owns a key (see docker-compose.yml). The packages'
# sysusers files find these users and leave them as they are; mosquitto's
# postinst does the same.
RUN groupadd --system --gid 1883 mosquitto \
 && useradd --system --uid 1883 --gid 1883 --home-dir /var/lib/mosquitto --shell /usr/sbin/nologin mosquitto \
 && groupadd --system --gid 1884 sms-snapshotd \
 && useradd --system --uid 1884 --gid 1884 --home-dir /var/lib/sms-snapshotd --shell /usr/sbin/nologin sms-snapshotd \
 && groupadd --system --gid 1885 sms-agent \
 && useradd --system --uid 1885 --gid 1885 --home-dir /var/lib/sms-agent --shell /usr/sbin/nologin sms-agent
COPY --from=builder /src/build/deb/ /tmp/debs/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd-standalone-sysusers postgresql-client \
      /tmp/debs/sms-broker-plugin_*.deb /tmp/debs/sms-vendor-services_*.deb \
      /tmp/debs/sms-agent_*.deb /tmp/debs/sms-tools_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/debs \
 && install -d -o mosquitto -g mosquitto -m 0750 /var/lib/mosquitto
# No default command: each service of docker-compose.yml names its program.
