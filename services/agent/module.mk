# sms-agent: the device agent (spool intake, durable outbox, receipts), and
# sms-test-receipt, the integration tests' stand-in for a receipting service.

# The firmware modules (state store, slots, image) are also linked by their unit tests.
AGENT_FIRMWARE_SRC := services/agent/agent_firmware_fs.c services/agent/agent_firmware_state.c \
	services/agent/agent_firmware_slots.c services/agent/agent_firmware_image.c

AGENT_SRC := services/agent/agent_main.c services/agent/agent_config.c services/agent/agent_intake.c \
	services/agent/agent_outbox.c services/agent/agent_crl.c services/agent/agent_socket.c services/agent/agent_metrics.c \
	services/agent/agent_firmware.c $(AGENT_FIRMWARE_SRC)

BINS += $(B)/bin/sms-agent

$(B)/bin/sms-agent: $(patsubst %.c,$(B)/obj/%.o,$(AGENT_SRC)) $(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lcjson -lconfig -lssl -lcrypto -lpthread -lm

HELPERS += $(B)/tests/sms-test-receipt

$(B)/tests/sms-test-receipt: $(B)/obj/tests/harness/sms_test_receipt.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcjson -lcrypto

UNIT_TESTS += $(B)/tests/unit/test_agent_outbox

$(B)/tests/unit/test_agent_outbox: $(B)/obj/tests/unit/test_agent_outbox.o $(B)/obj/services/agent/agent_outbox.o \
		$(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto -lpthread -lm

UNIT_TESTS += $(B)/tests/unit/test_agent_crl

$(B)/tests/unit/test_agent_crl: $(B)/obj/tests/unit/test_agent_crl.o $(B)/obj/tests/unit/pki_test_support.o \
		$(B)/obj/services/agent/agent_crl.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcrypto

UNIT_TESTS += $(B)/tests/unit/test_agent_firmware_store

$(B)/tests/unit/test_agent_firmware_store: $(B)/obj/tests/unit/test_agent_firmware_store.o \
		$(patsubst %.c,$(B)/obj/%.o,$(AGENT_FIRMWARE_SRC)) $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto

# sms-test-firmware: the vendor side for agent_firmware.t (releases, offers, status checks).
HELPERS += $(B)/tests/sms-test-firmware

$(B)/tests/sms-test-firmware: $(B)/obj/tests/harness/sms_test_firmware.o $(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcjson -lssl -lcrypto -lpthread -lm
