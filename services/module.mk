# services: sms-snapshotd (snapshot subscriber -> PostgreSQL), sms-db (schema
# migrations), sms-devicesim (reference device agent), their unit tests.

SERVICES_LIBS := -lmosquitto -lpq -lcjson -lconfig -lssl -lcrypto -lpthread -lm

$(B)/obj/services/%.o: MODULE_CFLAGS := -I/usr/include/cjson -I/usr/include/postgresql \
	-DSMS_SQL_DIR=\"$(PREFIX)/share/sms/sql\"
$(B)/obj/tests/unit/test_services_%.o: MODULE_CFLAGS := -I/usr/include/cjson -I/usr/include/postgresql

SNAPSHOTD_SRC := services/snapshotd_main.c services/snapshotd_worker.c services/snapshotd_config.c \
	services/snapshotd_log.c services/snapshot_ingest.c services/snapshot_store.c \
	services/snapshot_json.c services/snapshot_topic.c services/db_migrate.c
SMS_DB_SRC := services/sms_db_main.c services/db_migrate.c
DEVICESIM_SRC := services/sms_devicesim.c

BINS += $(B)/bin/sms-db

$(B)/bin/sms-db: $(patsubst %.c,$(B)/obj/%.o,$(SMS_DB_SRC))
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVICES_LIBS)

# The daemon and the device agent need libsmscms (cms/module.mk sets
# SMSCMS_LIB) and plugin/identity.c; until both parts exist they are left out
# rather than breaking everyone's build.
ifneq ($(and $(SMSCMS_LIB),$(wildcard plugin/identity.c)),)
BINS += $(B)/bin/sms-snapshotd $(B)/bin/sms-devicesim

$(B)/bin/sms-snapshotd: $(patsubst %.c,$(B)/obj/%.o,$(SNAPSHOTD_SRC)) $(B)/obj/plugin/identity.o $(B)/obj/plugin/utf8.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVICES_LIBS)

$(B)/bin/sms-devicesim: $(patsubst %.c,$(B)/obj/%.o,$(DEVICESIM_SRC)) $(B)/obj/plugin/identity.o $(B)/obj/plugin/utf8.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVICES_LIBS)
endif

UNIT_TESTS += $(B)/tests/unit/test_services_parse $(B)/tests/unit/test_services_config

$(B)/tests/unit/test_services_parse: $(B)/obj/tests/unit/test_services_parse.o \
		$(B)/obj/services/snapshot_json.o $(B)/obj/services/snapshot_topic.o $(B)/obj/plugin/utf8.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lm

$(B)/tests/unit/test_services_config: $(B)/obj/tests/unit/test_services_config.o \
		$(B)/obj/services/snapshotd_config.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lconfig
