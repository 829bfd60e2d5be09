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
#   make install    PREFIX (/usr/local) and DESTDIR honoured

PREFIX  ?= /usr/local
DESTDIR ?=
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
              $(WARN) $(SAN_FLAGS) -I. $(MODULE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# Sub-builds of check/demo/bench use every core unless the caller chose -j.
JOBS := $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))

.PHONY: all check demo stop bench fuzz install clean unit-tests helpers
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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/sms \
	           $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/sms/sql \
	           $(DESTDIR)$(PREFIX)/share/sms/acl
	$(if $(BINS),install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin)
	install -m 0755 pki/sms-pki $(DESTDIR)$(PREFIX)/bin
	$(if $(PLUGINS),install -m 0755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/sms)
	$(if $(LIBS),install -m 0644 $(LIBS) $(DESTDIR)$(PREFIX)/lib)
	install -m 0644 cms/smscms.h $(DESTDIR)$(PREFIX)/include
	$(if $(wildcard sql/*.sql),install -m 0644 $(wildcard sql/*.sql) $(DESTDIR)$(PREFIX)/share/sms/sql)
	$(if $(wildcard acl/*),install -m 0644 $(wildcard acl/*) $(DESTDIR)$(PREFIX)/share/sms/acl)

clean:
	rm -rf build
