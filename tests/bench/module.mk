# Benchmark drivers owned by tests/bench (tests/bench/<part>.bench runs them
# from the release tree). bench_cms links the library the cms part builds;
# it is skipped while cms/module.mk does not define SMSCMS_LIB.
ifneq ($(SMSCMS_LIB),)
HELPERS += $(B)/tests/bench/bench_cms

$(B)/tests/bench/bench_cms: $(B)/obj/tests/bench/bench_cms.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcrypto -lz -lpthread
endif
