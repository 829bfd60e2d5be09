# sms-publisherd: firmware rollouts (releases retained, per-device offers, status reports).

PUBLISHERD_SRC := services/publisherd/publisherd_main.c services/publisherd/publisherd_config.c \
	services/publisherd/publisherd_release.c services/publisherd/publisherd_rollout.c \
	services/publisherd/publisherd_status.c services/publisherd/publisherd_metrics.c

BINS += $(B)/bin/sms-publisherd

$(B)/obj/services/publisherd/%.o: MODULE_CFLAGS := -I/usr/include/postgresql -I/usr/include/cjson

$(B)/bin/sms-publisherd: $(patsubst %.c,$(B)/obj/%.o,$(PUBLISHERD_SRC)) $(SMSCOMMON_LIB) $(B)/lib/libsmscms.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lconfig -lpq -lcjson -lssl $(SMSCMS_LDLIBS) -lm

# The test-only device side (tests/harness/sms_test_fw_device.c), until and
# besides the real agent: firmware_publisher.t and firmware.bench.
HELPERS += $(B)/tests/sms-test-fw-device

$(B)/obj/tests/harness/sms_test_fw_device.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/sms-test-fw-device: $(B)/obj/tests/harness/sms_test_fw_device.o $(SMSCOMMON_LIB) $(B)/lib/libsmscms.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lcjson -lssl $(SMSCMS_LDLIBS) -lm
