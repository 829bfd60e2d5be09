# common: libsmscommon.a, what more than one program needs (identity
# mapping, UTF-8, logging, snapshot schema and topics, migrations). Each
# module has its contract in its header; the plugin links the pieces it uses.

COMMON_SRC := common/identity.c common/utf8.c common/log.c common/conf.c common/mqtt_session.c \
	common/snapshot_json.c common/json_arena.c common/snapshot_dict.c common/snapshot_topic.c common/db_migrate.c common/x509_util.c common/crl_set.c \
	common/crl_watch.c common/ident_grammar.c common/errf.c common/pg_session.c common/db_privileges.c \
	common/sleep_unless.c common/signed_data.c common/receipt.c common/conf_blocks.c common/daemon_cli.c common/crl_topic.c \
	common/version.c common/metrics.c common/json_fields.c common/role_cert.c common/fw_release_id.c common/fw_load_error.c common/fw_manifest.c common/fw_offer.c common/fw_status.c common/daemon_metrics.c common/log_limit.c common/write_all.c common/monotonic.c
SMSCOMMON_LIB := $(B)/lib/libsmscommon.a
LIBS += $(SMSCOMMON_LIB)

$(B)/obj/common/%.o: MODULE_CFLAGS := -I/usr/include/cjson -I/usr/include/postgresql

$(SMSCOMMON_LIB): $(patsubst %.c,$(B)/obj/%.o,$(COMMON_SRC))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

UNIT_TESTS += $(B)/tests/unit/test_identity $(B)/tests/unit/test_services_parse $(B)/tests/unit/test_crl_set \
	$(B)/tests/unit/test_pg_session

$(B)/tests/unit/test_identity: $(B)/obj/tests/unit/test_identity.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcrypto

# test_crl_set runs pki/sms-pki into a private directory for its CRLs.
$(B)/tests/unit/test_crl_set: $(B)/obj/tests/unit/test_crl_set.o $(B)/obj/tests/unit/pki_test_support.o \
		$(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcrypto

$(B)/obj/tests/unit/test_services_%.o: MODULE_CFLAGS := -I/usr/include/cjson -I/usr/include/postgresql

$(B)/tests/unit/test_services_parse: $(B)/obj/tests/unit/test_services_parse.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto -lm

UNIT_TESTS += $(B)/tests/unit/test_snapshot_dict

$(B)/obj/tests/unit/test_snapshot_dict.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/unit/test_snapshot_dict: $(B)/obj/tests/unit/test_snapshot_dict.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto -lm

UNIT_TESTS += $(B)/tests/unit/test_json_arena

$(B)/obj/tests/unit/test_json_arena.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/unit/test_json_arena: $(B)/obj/tests/unit/test_json_arena.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto -lpthread -lm

UNIT_TESTS += $(B)/tests/unit/test_common_runtime

$(B)/tests/unit/test_common_runtime: $(B)/obj/tests/unit/test_common_runtime.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lmosquitto -lconfig -lssl -lcrypto -lpthread

$(B)/obj/tests/unit/test_pg_session.o: MODULE_CFLAGS := -I/usr/include/postgresql

$(B)/tests/unit/test_pg_session: $(B)/obj/tests/unit/test_pg_session.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lpq

UNIT_TESTS += $(B)/tests/unit/test_receipt

$(B)/obj/tests/unit/test_receipt.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/unit/test_receipt: $(B)/obj/tests/unit/test_receipt.o $(B)/obj/tests/unit/pki_test_support.o \
		$(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson -lcrypto

UNIT_TESTS += $(B)/tests/unit/test_signed_data

$(B)/tests/unit/test_signed_data: $(B)/obj/tests/unit/test_signed_data.o $(B)/obj/tests/unit/pki_test_support.o \
		$(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcrypto

# The version is compiled into version.o only; a new VERSION rebuilds it.
$(B)/obj/common/version.o: VERSION
$(B)/obj/common/version.o: MODULE_CFLAGS := -DSMS_VERSION='"$(SMS_VERSION)"'

# test_metrics reads its files back with the Prometheus client's parser
# (python3-prometheus-client, tests/unit/prom_parse.py).
UNIT_TESTS += $(B)/tests/unit/test_metrics

$(B)/tests/unit/test_metrics: $(B)/obj/tests/unit/test_metrics.o $(B)/obj/tests/unit/pki_test_support.o \
		$(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lm

UNIT_TESTS += $(B)/tests/unit/test_log_limit

$(B)/tests/unit/test_log_limit: $(B)/obj/tests/unit/test_log_limit.o $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka

# The firmware formats (manifest, offer, status, ids, RFC 4108 codes).
UNIT_TESTS += $(B)/tests/unit/test_fw_formats

$(B)/obj/tests/unit/test_fw_formats.o: MODULE_CFLAGS := -I/usr/include/cjson -D_GNU_SOURCE

$(B)/tests/unit/test_fw_formats: $(B)/obj/tests/unit/test_fw_formats.o $(B)/obj/tests/unit/pki_test_support.o \
		$(SMSCOMMON_LIB) $(B)/lib/libsmscms.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lcjson $(SMSCMS_LDLIBS) -lm
