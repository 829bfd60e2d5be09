# The Bouncy Castle harness (tests/interop/java), compiled into $(B)/java so
# `make check` builds it; the interop suites and cms.bench also compile it
# on demand (tests/interop/lib.sh) when it is missing or stale.
BC_JARS := /usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
INTEROP_JAVA_SRC := $(wildcard tests/interop/java/*.java)
HELPERS += $(B)/java/SmsBc.class

$(B)/java/SmsBc.class: $(INTEROP_JAVA_SRC)
	@mkdir -p $(@D)
	javac -nowarn -d $(@D) -cp $(BC_JARS) $(INTEROP_JAVA_SRC)
	@touch $@
