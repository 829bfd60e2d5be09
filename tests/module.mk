# Test helpers shared by every suite. Unit test binaries are declared by the
# part they test (<part>/module.mk) as $(B)/tests/unit/test_<name>.
HELPERS += $(B)/tests/free_port $(B)/tests/utf8_csr

$(B)/tests/free_port: $(B)/obj/tests/harness/free_port.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(B)/tests/utf8_csr: $(B)/obj/tests/harness/utf8_csr.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcrypto

# Suites that build their own programs (bench drivers, interop helpers)
# describe them in tests/<suite>/module.mk.
include $(wildcard tests/*/module.mk)
