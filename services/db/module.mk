# sms-db: schema migrations and database maintenance.

BINS += $(B)/bin/sms-db

$(B)/bin/sms-db: $(B)/obj/services/db/sms_db_main.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lpq -lcrypto
