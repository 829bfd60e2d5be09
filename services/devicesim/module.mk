# sms-devicesim: load generator and reference publisher for equipment.

BINS += $(B)/bin/sms-devicesim

$(B)/bin/sms-devicesim: $(B)/obj/services/devicesim/sms_devicesim.o $(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lcjson -lssl -lcrypto -lz -lpthread -lm
