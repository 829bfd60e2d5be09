# sms-db: schema migrations and database maintenance.

BINS += $(B)/bin/sms-db

$(B)/obj/services/db/%.o: MODULE_CFLAGS := -I/usr/include/postgresql -I/usr/include/cjson

$(B)/bin/sms-db: $(B)/obj/services/db/sms_db_main.o $(B)/obj/services/db/db_devices.o \
		$(B)/obj/services/db/db_retention.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lpq -lcjson -lcrypto
