# sms-audit: the customer's auditor (SQLite store, analysis, reports), and
# its unit tests.

AUDIT_SRC := services/audit/audit_main.c services/audit/audit_config.c services/audit/audit_analysis.c \
	services/audit/audit_store.c services/audit/audit_intake.c services/audit/audit_report.c \
	services/audit/audit_export.c services/audit/audit_verify.c services/audit/audit_metrics.c
AUDIT_LIBS := -lmosquitto -lsqlite3 -lcjson -lconfig -lssl -lcrypto -lz -lpthread -lm

BINS += $(B)/bin/sms-audit

$(B)/bin/sms-audit: $(patsubst %.c,$(B)/obj/%.o,$(AUDIT_SRC)) $(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AUDIT_LIBS)

UNIT_TESTS += $(B)/tests/unit/test_audit

$(B)/obj/tests/unit/test_audit.o: MODULE_CFLAGS := -I/usr/include/cjson

$(B)/tests/unit/test_audit: $(B)/obj/tests/unit/test_audit.o $(B)/obj/services/audit/audit_store.o \
		$(B)/obj/services/audit/audit_report.o $(B)/obj/services/audit/audit_analysis.o \
		$(SMSCOMMON_LIB) $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lsqlite3 -lcjson -lconfig -lssl -lcrypto -lz -lpthread -lm
