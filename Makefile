# Smart Maintenance Services: top-level build.
#
# One non-recursive build. Every part describes itself in <part>/module.mk
# and appends to the lists below; outputs go under $(B) so a release build
# (build/release) and a sanitizer build (build/asan) live side by side.
#
#   make            release build of every part
#   make check      bootstrap, ASan+UBSan build, release build, every suite
#   make demo       bootstrap, then the whole system on loopback under ./run
#   make demo stop  tear the demo down
#   make bench      benchmarks, printed as tables with ratios
#   make fuzz       longer libFuzzer runs (FUZZ_SECONDS, default 300)
#   make install    PREFIX (/usr/local), SYSCONFDIR, UNITDIR and DESTDIR honoured
#   make deb        Debian packages under build/deb (scripts/deb, debian/)

PREFIX  ?= /usr/local
DESTDIR ?=
# /etc/sms whatever the PREFIX: every config, unit and guide names it.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
# libsmscms.a and smscms.pc (the packages use the multiarch directory).
LIBDIR     ?= $(PREFIX)/lib
CC      ?= cc
B       ?= build/release
SAN     ?= 0
# The one version every program prints with --version (common/version.h).
SMS_VERSION := $(shell cat VERSION)

# Lists each <part>/module.mk appends to.
LIBS       :=   # static libraries
BINS       :=   # executables installed to $(PREFIX)/bin
PLUGINS    :=   # shared objects installed to $(PREFIX)/lib/sms
UNIT_TESTS :=   # TAP-speaking test executables, run under ASan and valgrind
FUZZERS    :=   # libFuzzer target sources (built with clang, see tests/fuzz)
HELPERS    :=   # test-only executables (not installed)

WARN      := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
SAN_FLAGS :=
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ALL_CFLAGS  = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -O2 -g -fPIC \
              $(WARN) $(SAN_FLAGS) -I. $(MODULE_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# Sub-builds of check/demo/bench use every core unless the caller chose -j.
JOBS := $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))

.PHONY: all check demo stop bench fuzz install deb clean unit-tests helpers
all:

include common/module.mk cms/module.mk plugin/module.mk $(wildcard services/*/module.mk) tests/module.mk

all: $(LIBS) $(BINS) $(PLUGINS)
unit-tests: $(UNIT_TESTS)
helpers: $(HELPERS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# make check: both builds, then every suite; tests/run prints the totals.
check:
	scripts/bootstrap
	$(MAKE) $(JOBS) --no-print-directory B=build/asan SAN=1 all unit-tests helpers
	$(MAKE) $(JOBS) --no-print-directory B=build/release all unit-tests helpers
	tests/run

ifneq ($(filter stop,$(MAKECMDGOALS)),)
demo:
	scripts/demo stop
stop:
	@:
else
demo:
	scripts/bootstrap
	$(MAKE) $(JOBS) --no-print-directory B=build/release all helpers
	scripts/demo start
stop:
	scripts/demo stop
endif

bench:
	scripts/bootstrap
	$(MAKE) $(JOBS) --no-print-directory B=build/release all unit-tests helpers
	tests/bench/run

fuzz:
	scripts/bootstrap
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/fuzz/run

# What the packages are made of (debian/*.install picks from it). Paths
# written into the shipped configs and units say /usr/local, /usr and /etc;
# they are rewritten to PREFIX and SYSCONFDIR on the way. A config that is
# already there is left alone (only DESTDIR staging gets fresh copies).
INSTALL_CONFS := acl/mosquitto.conf:mosquitto.conf acl/sms_auth.conf:sms_auth.conf \
	services/snapshotd/snapshotd.conf.example:snapshotd.conf services/agent/agent.conf.example:agent.conf \
	$(foreach d,$(wildcard services/*/),$(if $(filter-out snapshotd agent,$(notdir $(d:/=))),\
	  $(foreach f,$(wildcard $(d)*.conf.example),$(f):$(notdir $(f:.conf.example=.conf)))))
# The tree's version (VERSION when there is one, else debian/changelog).
PKG_VERSION = $(or $(SMS_VERSION),$(shell cat VERSION 2>/dev/null),$(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog))
INSTALL_SED := -e 's|/usr/local/|$(PREFIX)/|g' -e 's|/usr/lib/sms/|$(PREFIX)/lib/sms/|g' \
	-e 's|/usr/bin/|$(PREFIX)/bin/|g' -e 's|/etc/sms/|$(SYSCONFDIR)/sms/|g'

# sms-pki reads ../VERSION in the tree; the installed copy carries the
# version in its INSTALLED_VERSION= line (and the install fails without one).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/sms $(DESTDIR)$(LIBDIR)/pkgconfig \
	           $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/sms/sql \
	           $(DESTDIR)$(PREFIX)/share/sms/acl $(DESTDIR)$(PREFIX)/share/man/man1 \
	           $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(SYSCONFDIR)/sms $(DESTDIR)$(UNITDIR)
	$(if $(BINS),install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin)
	sed 's|^INSTALLED_VERSION=$$|INSTALLED_VERSION=$(PKG_VERSION)|' pki/sms-pki >$(DESTDIR)$(PREFIX)/bin/sms-pki
	grep -qx 'INSTALLED_VERSION=$(PKG_VERSION)' $(DESTDIR)$(PREFIX)/bin/sms-pki || \
		{ echo "make install: pki/sms-pki has no INSTALLED_VERSION= line to fill in" >&2; exit 1; }
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/sms-pki
	$(if $(PLUGINS),install -m 0644 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/sms)
	install -m 0644 $(SMSCMS_LIB) $(DESTDIR)$(LIBDIR)
	install -m 0644 cms/smscms.h $(DESTDIR)$(PREFIX)/include
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(PKG_VERSION)|g' \
		cms/smscms.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/smscms.pc
	$(if $(wildcard sql/*.sql),install -m 0644 $(wildcard sql/*.sql) $(DESTDIR)$(PREFIX)/share/sms/sql)
	$(if $(wildcard acl/*),install -m 0644 $(wildcard acl/*) $(DESTDIR)$(PREFIX)/share/sms/acl)
	$(if $(wildcard man/*.1),install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1)
	$(if $(wildcard man/*.8),install -m 0644 $(wildcard man/*.8) $(DESTDIR)$(PREFIX)/share/man/man8)
	for u in $(wildcard deploy/systemd/*.service deploy/systemd/*.timer); do \
		sed $(INSTALL_SED) $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	for pair in $(INSTALL_CONFS); do \
		dst=$(DESTDIR)$(SYSCONFDIR)/sms/$${pair#*:}; \
		[ -e $$dst ] || sed $(INSTALL_SED) $${pair%%:*} >$$dst || exit 1; done

# Debian packages of this tree, built from a copy under build/deb.
deb:
	scripts/deb

clean:
	rm -rf build
