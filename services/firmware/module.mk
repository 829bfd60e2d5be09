# sms-firmware: releases (signed manifest, encrypted pieces) and rollouts.

FIRMWARE_SRC := services/firmware/firmware_main.c services/firmware/firmware_parse.c \
	services/firmware/firmware_db.c services/firmware/firmware_release.c services/firmware/firmware_rollout.c

BINS += $(B)/bin/sms-firmware

$(B)/obj/services/firmware/%.o: MODULE_CFLAGS := -I/usr/include/postgresql -I/usr/include/cjson

$(B)/bin/sms-firmware: $(patsubst %.c,$(B)/obj/%.o,$(FIRMWARE_SRC)) $(SMSCOMMON_LIB) $(B)/lib/libsmscms.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lpq -lcjson $(SMSCMS_LDLIBS) -lm

UNIT_TESTS += $(B)/tests/unit/test_firmware_parse

$(B)/tests/unit/test_firmware_parse: $(B)/obj/tests/unit/test_firmware_parse.o \
		$(B)/obj/services/firmware/firmware_parse.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson $(SMSCMS_LDLIBS) -lm
