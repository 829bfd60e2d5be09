# plugin: sms_auth.so (mosquitto auth + ACL plugin). Identity mapping and
# UTF-8 come from common/ (libsmscommon.a).

PLUGIN_CORE_SRC := plugin/sms_auth_acl.c plugin/sms_auth_config.c plugin/sms_auth_chain.c
PLUGIN_SRC      := $(PLUGIN_CORE_SRC) plugin/sms_auth_plugin.c
PLUGIN_CORE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(PLUGIN_CORE_SRC)) $(SMSCOMMON_LIB)
PLUGIN_LIBS     := -lconfig -lcrypto

SMS_AUTH_SO := $(B)/lib/sms/sms_auth.so
PLUGINS += $(SMS_AUTH_SO)

# Symbols of the broker (mosquitto_log_printf, ...) resolve against the
# mosquitto executable at load time: no -lmosquitto (that is the client library).
$(SMS_AUTH_SO): $(patsubst %.c,$(B)/obj/%.o,$(PLUGIN_SRC)) $(SMSCOMMON_LIB) plugin/sms_auth.map
	@mkdir -p $(@D)
	$(CC) -shared $(ALL_LDFLAGS) -Wl,--version-script=plugin/sms_auth.map -o $@ $(filter %.o %.a,$^) $(PLUGIN_LIBS)

UNIT_TESTS += $(B)/tests/unit/test_plugin_acl $(B)/tests/unit/test_plugin_config \
	      $(B)/tests/unit/test_plugin_chain

# libmosquitto's own topic matcher is the independent oracle for the ACL algebra.
$(B)/tests/unit/test_plugin_acl: $(B)/obj/tests/unit/test_plugin_acl.o $(PLUGIN_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -lmosquitto $(PLUGIN_LIBS)

# test_plugin_chain runs pki/sms-pki into a private directory for its certificates.
$(B)/tests/unit/test_plugin_config: $(B)/obj/tests/unit/test_plugin_config.o $(PLUGIN_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(PLUGIN_LIBS)

$(B)/tests/unit/test_plugin_chain: $(B)/obj/tests/unit/test_plugin_chain.o $(B)/obj/tests/unit/pki_test_support.o \
		$(PLUGIN_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(PLUGIN_LIBS)

# Benchmark drivers (tests/bench/plugin.bench builds them in the release tree).
HELPERS += $(B)/tests/bench/bench_plugin_acl $(B)/tests/bench/bench_plugin_load

$(B)/tests/bench/bench_plugin_acl: $(B)/obj/tests/bench/bench_plugin_acl.o $(PLUGIN_CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PLUGIN_LIBS)

$(B)/tests/bench/bench_plugin_load: $(B)/obj/tests/bench/bench_plugin_load.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto
