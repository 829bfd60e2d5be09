# Benchmark drivers owned by tests/bench (tests/bench/<part>.bench runs them
# from the release tree). bench_cms links the library the cms part builds;
# it is skipped while cms/module.mk does not define SMSCMS_LIB.
ifneq ($(SMSCMS_LIB),)
HELPERS += $(B)/tests/bench/bench_cms

$(B)/tests/bench/bench_cms: $(B)/obj/tests/bench/bench_cms.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcrypto -lz -lpthread
endif

# bench_wire: bytes and receiver CPU per snapshot message (tests/bench/wire.bench).
ifneq ($(SMSCMS_LIB),)
HELPERS += $(B)/tests/bench/bench_wire

$(B)/obj/tests/bench/bench_wire.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/bench/bench_wire: $(B)/obj/tests/bench/bench_wire.o $(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcjson -lcrypto -lz -lpthread -lm
endif

# bench_memtouch: touches the machine's free memory once (tests/bench/run,
# SMS_BENCH_TOUCH_MEMORY=1).
HELPERS += $(B)/tests/bench/bench_memtouch

$(B)/tests/bench/bench_memtouch: $(B)/obj/tests/bench/bench_memtouch.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# bench_fleet: a fleet of distinct devices (fleet_pki) for fleet.bench; the
# load tests link fleet_pki.o too.
HELPERS += $(B)/tests/bench/bench_fleet

$(B)/obj/tests/bench/bench_fleet.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/bench/bench_fleet: $(B)/obj/tests/bench/bench_fleet.o $(B)/obj/tests/bench/fleet_pki.o \
		$(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lcjson -lssl $(SMSCMS_LDLIBS) -lm

# The fleet load generator (tests/bench/load.bench): device sessions with
# fleet_pki identities, the counting subscriber it forks, /proc readings.
HELPERS += $(B)/tests/bench/bench_fleet_load

$(B)/tests/bench/bench_fleet_load: $(B)/obj/tests/bench/bench_fleet_load.o $(B)/obj/tests/bench/load_fleet.o \
		$(B)/obj/tests/bench/load_sub.o $(B)/obj/tests/bench/load_msg.o $(B)/obj/tests/bench/load_proc.o \
		$(B)/obj/tests/bench/fleet_pki.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lssl -lcrypto -lpthread -lm
