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
