# cms: libsmscms (CMS AuthEnvelopedData with ECMQV/ECDH and AES-GCM), the
# smscms tool, their unit tests. The fuzz target is built by tests/fuzz/run
# with clang so the gcc trees stay untouched.

CMS_LIB_SRC := cms/cms_asn1.c cms/cms_certcache.c cms/cms_compress.c cms/cms_ctx.c cms/cms_decrypt.c cms/cms_encrypt.c cms/cms_gcm.c \
	cms/cms_identity.c cms/cms_inspect.c cms/cms_kek.c cms/cms_key.c cms/cms_mqv.c cms/cms_message.c cms/cms_recipients.c \
	cms/cms_scheme.c cms/cms_verifier.c
SMSCMS_LIB := $(B)/lib/libsmscms.a
SMSCMS_LDLIBS := -lcrypto -lz -lpthread

LIBS += $(SMSCMS_LIB)
BINS += $(B)/bin/smscms
FUZZERS += tests/fuzz/fuzz_cms_decrypt.c tests/fuzz/fuzz_cms_uncompress.c

$(SMSCMS_LIB): $(patsubst %.c,$(B)/obj/%.o,$(CMS_LIB_SRC))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/smscms: $(B)/obj/cms/smscms_main.o $(B)/obj/common/version.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SMSCMS_LDLIBS)

CMS_UNIT := mqv kdf roundtrip negative certcache compress
UNIT_TESTS += $(patsubst %,$(B)/tests/unit/test_cms_%,$(CMS_UNIT))

$(patsubst %,$(B)/tests/unit/test_cms_%,$(CMS_UNIT)): $(B)/tests/unit/test_cms_%: \
		$(B)/obj/tests/unit/test_cms_%.o $(B)/obj/tests/unit/cms_test_support.o $(SMSCMS_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(SMSCMS_LDLIBS)
