# sms-crlpub: publishes the CRLs of both PKIs on sms/crl/<pki>/<issuer key id>.

CRLPUB_SRC := services/crlpub/crlpub_main.c services/crlpub/crlpub_config.c services/crlpub/crlpub_publish.c \
	services/crlpub/crlpub_metrics.c

BINS += $(B)/bin/sms-crlpub

$(B)/bin/sms-crlpub: $(patsubst %.c,$(B)/obj/%.o,$(CRLPUB_SRC)) $(SMSCOMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lmosquitto -lconfig -lssl -lcrypto -lpthread -lm
