# sms-snapshotd: snapshot subscriber -> PostgreSQL, and its unit tests.

SERVICES_LIBS := -lmosquitto -lpq -lcjson -lconfig -lssl -lcrypto -lz -lpthread -lm

$(B)/obj/services/%.o: MODULE_CFLAGS := -I/usr/include/cjson -I/usr/include/postgresql \
	-DSMS_SQL_DIR=\"$(PREFIX)/share/sms/sql\"

SNAPSHOTD_SRC := services/snapshotd/snapshotd_main.c services/snapshotd/snapshotd_worker.c \
	services/snapshotd/snapshotd_metrics.c \
	services/snapshotd/snapshotd_config.c services/snapshotd/snapshot_ingest.c \
	services/snapshotd/snapshot_store.c services/snapshotd/snapshotd_replay.c \
	services/snapshotd/snapshotd_receipts.c services/snapshotd/snapshotd_group_commit.c \
	services/snapshotd/snapshot_layout.c services/snapshotd/snapshot_copy.c

BINS += $(B)/bin/sms-snapshotd

$(B)/bin/sms-snapshotd: $(patsubst %.c,$(B)/obj/%.o,$(SNAPSHOTD_SRC)) $(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVICES_LIBS)

UNIT_TESTS += $(B)/tests/unit/test_services_config

$(B)/tests/unit/test_services_config: $(B)/obj/tests/unit/test_services_config.o \
		$(B)/obj/services/snapshotd/snapshotd_config.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lconfig -lcjson -lcrypto

UNIT_TESTS += $(B)/tests/unit/test_snapshotd_receipts

$(B)/tests/unit/test_snapshotd_receipts: $(B)/obj/tests/unit/test_snapshotd_receipts.o \
		$(B)/obj/tests/unit/pki_test_support.o $(B)/obj/services/snapshotd/snapshotd_receipts.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto -lpthread

UNIT_TESTS += $(B)/tests/unit/test_snapshot_copy

$(B)/obj/tests/unit/test_snapshot_copy.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/unit/test_snapshot_copy: $(B)/obj/tests/unit/test_snapshot_copy.o \
		$(B)/obj/services/snapshotd/snapshot_layout.o $(B)/obj/services/snapshotd/snapshot_copy.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto -lm
