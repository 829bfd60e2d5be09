# Benchmark drivers owned by tests/bench (tests/bench/<part>.bench runs them
# from the release tree). bench_cms links the library the cms part builds;
# it is skipped while cms/module.mk does not define SMSCMS_LIB.
ifneq ($(SMSCMS_LIB),)
HELPERS += $(B)/tests/bench/bench_cms

$(B)/tests/bench/bench_cms: $(B)/obj/tests/bench/bench_cms.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcrypto -lpthread
endif

# bench_fleet: a fleet of distinct devices (fleet_pki) for fleet.bench; the
# load tests link fleet_pki.o too.
HELPERS += $(B)/tests/bench/bench_fleet

$(B)/obj/tests/bench/bench_fleet.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/bench/bench_fleet: $(B)/obj/tests/bench/bench_fleet.o $(B)/obj/tests/bench/fleet_pki.o \
		$(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lcjson -lssl -lcrypto -lpthread -lm
