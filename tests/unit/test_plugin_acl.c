/*
 * plugin/sms_auth_acl.c: filter-within-pattern and the access decision.
 * Thesis Table 4.1 is read from tests/unit/data/table-4.1.tsv at run time;
 * the containment algebra is also checked exhaustively against libmosquitto's
 * own matcher over a small topic universe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mosquitto.h>

#include "plugin/sms_auth.h"

/* Repo root: SMS_ROOT, else the working directory (tests/run cds there). */
static void repo_path(char *buf, size_t len, const char *rel)
{
	const char *root = getenv("SMS_ROOT");

	snprintf(buf, len, "%s/%s", root && *root ? root : ".", rel);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void table_4_1(void **state)
{
	struct sms_config cfg;
	char path[4096], line[512], pattern[300];
	FILE *f;
	int rows = 0;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	repo_path(path, sizeof(path), "tests/unit/data/table-4.1.tsv");
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *ident, *request, *allowed, *save = NULL;
		bool want;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		ident = strtok_r(line, "\t", &save);
		request = strtok_r(NULL, "\t", &save);
		allowed = strtok_r(NULL, "\t", &save);
		assert_non_null(ident);
		assert_non_null(request);
		assert_non_null(allowed);
		if (strcmp(ident, "identity") == 0)
			continue;   /* header row */
		assert_true(strcmp(allowed, "yes") == 0 || strcmp(allowed, "no") == 0);
		want = strcmp(allowed, "yes") == 0;
		snprintf(pattern, sizeof(pattern), "%s/#", ident);
		if (acl_filter_within(request, pattern) != want)
			fail_msg("filter_within(%s, %s) != %s", request, pattern, allowed);
		if (acl_scope_contains(ident, strlen(ident), request) != want)
			fail_msg("scope_contains(%s, %s) != %s", ident, request, allowed);
		if (acl_allows(&cfg, ident, ACL_SUBSCRIBE, request) != want)
			fail_msg("%s SUBSCRIBE %s != %s", ident, request, allowed);
		if (acl_topic_valid(request)) {
			assert_int_equal(acl_allows(&cfg, ident, ACL_READ, request), want);
			/* The table gives reach; writing is narrowed by direction
			 * (DESIGN.md "The way back"): its topic rows are account
			 * and master-account clients, who write nothing, and a
			 * device on a sibling's topic. */
			assert_false(acl_allows(&cfg, ident, ACL_WRITE, request));
		}
		rows++;
	}
	fclose(f);
	assert_int_equal(rows, 15);
}

/* The committed copy must be the design's table when the design is beside the clone. */
static void table_copy_matches_shared(void **state)
{
	char mine[4096], shared[4096];
	char *a, *b;

	(void)state;
	repo_path(mine, sizeof(mine), "tests/unit/data/table-4.1.tsv");
	repo_path(shared, sizeof(shared), "../shared/table-4.1.tsv");
	b = slurp(shared);
	if (!b)
		skip();
	a = slurp(mine);
	assert_non_null(a);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

struct case_ {
	const char *filter, *pattern;
	bool within;
};

static void hostile_filters(void **state)
{
	static const struct case_ cases[] = {
		{ "#", "ma/acc/eq/#", false },
		{ "+/#", "ma/acc/eq/#", false },
		{ "+", "ma/#", false },
		{ "ma/+/eq/#", "ma/acc/eq/#", false },
		{ "ma/acc/+/#", "ma/acc/eq/#", false },
		{ "ma/acc/eq/+", "ma/acc/eq/#", true },
		{ "ma/acc/eq/+/+/#", "ma/acc/eq/#", true },
		{ "ma/acc/eq", "ma/acc/eq/#", true },          /* "a/#" matches "a" */
		{ "ma/acc/eq/#", "ma/acc/eq/#", true },
		{ "ma/acc/eq/#", "ma/acc/eq/+", false },       /* misses ma/acc/eq and deeper */
		{ "ma/acc/eq/../x", "ma/acc/eq/#", true },     /* ".." is a literal level */
		{ "ma/acc/eq/../x", "ma/acc/x/#", false },
		{ "ma/acc/eq/./x", "ma/acc/eq/#", true },
		{ "ma/acc/eqx", "ma/acc/eq/#", false },        /* prefix of a level is not a level */
		{ "ma/acc/e", "ma/acc/eq/#", false },
		{ "ma/acc", "ma/acc/eq/#", false },
		{ "ma//eq", "ma/acc/#", false },               /* empty level is not "acc" */
		{ "ma/acc//x", "ma/acc/#", true },
		{ "/ma/acc", "ma/acc/#", false },
		{ "ma/acc/", "ma/acc/#", true },
		{ "ma/acc/", "ma/acc/+", true },               /* '+' matches the empty level */
		{ "ma/acc", "ma/acc/+", false },
		{ "$SYS/#", "#", false },                      /* leading wildcards skip $ topics */
		{ "$SYS/broker/uptime", "+/broker/uptime", false },
		{ "$SYS/broker/uptime", "$SYS/#", true },
		{ "$SYS", "$SYS/#", true },
		{ "+/x", "#", true },                           /* '+' never matches "$..." either */
		{ "#", "#", true },
		{ "#", "+/#", true },                           /* no topic has zero levels */
		{ "a/#", "a/+/#", false },                      /* misses "a" itself */
		{ "#", "+", false },
		{ "+", "+/#", true },
		{ "$share/g/#", "#", false },                   /* not a plain filter: strip first */
		{ "a/b#", "#", false },                         /* invalid filters are never inside */
		{ "a/#/b", "#", false },
		{ "a/+b", "#", false },
		{ "", "#", false },
		{ "a", "", false },
		{ "a", "a/b#", false },
		{ "M\xc3\xbcller/acc/x", "M\xc3\xbcller/acc/#", true },
		{ "Mu\xcc\x88ller/acc/x", "M\xc3\xbcller/acc/#", false }, /* no Unicode normalisation */
		{ "+/+/+/snapshots", "+/+/+/snapshots", true },
		{ "ma/acc/eq/snapshots", "+/+/+/snapshots", true },
		{ "ma/acc/eq/snapshots/x", "+/+/+/snapshots", false },
		{ "ma/acc/+/snapshots", "+/+/+/snapshots", true },
		{ "ma/+/#", "+/+/+/snapshots", false },
		{ "+/+/+/firmware", "+/+/+/snapshots", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (acl_filter_within(cases[i].filter, cases[i].pattern) != cases[i].within)
			fail_msg("filter_within('%s', '%s') should be %s", cases[i].filter, cases[i].pattern,
				 cases[i].within ? "true" : "false");
}

static void long_topics(void **state)
{
	size_t n = 65535, i;
	char *t = malloc(n + 1), *f = malloc(n + 1);

	(void)state;
	assert_non_null(t);
	assert_non_null(f);
	memcpy(t, "ma/acc/eq", 9);
	for (i = 9; i < n; i++)
		t[i] = (i % 2) ? '/' : 'x';
	t[n] = '\0';
	assert_true(acl_scope_contains("ma/acc/eq", 9, t));
	assert_true(acl_filter_within(t, "ma/acc/eq/#"));
	assert_false(acl_filter_within(t, "ma/acc/other/#"));
	/* Thousands of '+' levels: still linear, still correct. */
	memcpy(f, "ma/acc/eq", 9);
	for (i = 9; i + 1 < n; i += 2) {
		f[i] = '/';
		f[i + 1] = '+';
	}
	f[i] = '\0';
	assert_true(acl_filter_valid(f));
	assert_true(acl_filter_within(f, "ma/acc/eq/#"));
	assert_false(acl_filter_within(f, "ma/+/eq/#") == false);  /* '+' in pattern covers "acc" */
	f[4] = '+';  /* "ma/a+c/..." is not a valid filter */
	assert_false(acl_filter_within(f, "#"));
	free(t);
	free(f);
}

static void share_strip(void **state)
{
	(void)state;
	assert_string_equal(acl_share_strip("$share/g/ma/acc/#"), "ma/acc/#");
	assert_string_equal(acl_share_strip("ma/acc/#"), "ma/acc/#");
	assert_null(acl_share_strip("$share/g"));
	assert_null(acl_share_strip("$share/g/"));
	assert_null(acl_share_strip("$share//ma/#"));
	assert_null(acl_share_strip("$share/+/ma/#"));
	assert_null(acl_share_strip("$share/#/ma"));
	assert_string_equal(acl_share_strip("$sharex/g/ma"), "$sharex/g/ma");
}

/*
 * Exhaustive cross-check: over every topic of up to 4 levels from the
 * alphabet {a, b, "", $s}, filter F is within pattern P exactly when every
 * topic F matches (by libmosquitto) is matched by P.
 */
static const char *const lv_filter[] = { "a", "b", "", "$s", "+", "#" };
#define NLV (sizeof(lv_filter) / sizeof(lv_filter[0]))

static int build(char *out, size_t len, const int *idx, int n, int alphabet_size)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int w;

		if (idx[i] >= alphabet_size)
			return -1;
		w = snprintf(out + used, len - used, "%s%s", i ? "/" : "", lv_filter[idx[i]]);
		used += (size_t)w;
	}
	return 0;
}

static bool matches(const char *filter, const char *topic)
{
	bool r = false;

	if (mosquitto_topic_matches_sub(filter, topic, &r) != MOSQ_ERR_SUCCESS)
		return false;
	return r;
}

struct universe {
	char topics[2000][32];
	int n;
};

static void enumerate(char list[][32], int *count, int max, int alphabet, int maxlevels, bool valid_only)
{
	int n, idx[4], i;

	for (n = 1; n <= maxlevels; n++) {
		int total = 1;

		for (i = 0; i < n; i++)
			total *= alphabet;
		for (int k = 0; k < total; k++) {
			int v = k;
			char buf[32];

			for (i = 0; i < n; i++) {
				idx[i] = v % alphabet;
				v /= alphabet;
			}
			build(buf, sizeof(buf), idx, n, alphabet);
			if (valid_only && !acl_filter_valid(buf))
				continue;
			if (!buf[0])
				continue;   /* the empty string is neither topic nor filter */
			assert_true(*count < max);
			memcpy(list[(*count)++], buf, sizeof(buf));
		}
	}
}

static void exhaustive_vs_libmosquitto(void **state)
{
	static struct universe topics;
	static char filters[4000][32];
	static bool m[400][400];    /* m[filter][topic]: libmosquitto's verdict */
	int nf = 0, i, j, t, checked = 0;

	(void)state;
	topics.n = 0;
	enumerate(topics.topics, &topics.n, 2000, 4, 4, false);       /* a b "" $s */
	enumerate(filters, &nf, 4000, (int)NLV, 3, true);
	assert_true(nf <= 400 && topics.n <= 400);
	for (i = 0; i < nf; i++)
		for (t = 0; t < topics.n; t++)
			m[i][t] = matches(filters[i], topics.topics[t]);
	for (i = 0; i < nf; i++) {
		for (j = 0; j < nf; j++) {
			bool want = true, got;

			for (t = 0; t < topics.n && want; t++)
				if (m[i][t] && !m[j][t])
					want = false;
			got = acl_filter_within(filters[i], filters[j]);
			if (got != want)
				fail_msg("filter_within('%s', '%s') = %d, libmosquitto says %d",
					 filters[i], filters[j], got, want);
			checked++;
		}
	}
	assert_true(checked > 10000);
}

/* Decisions for each identity kind and role, as the plugin makes them. */
static void decisions(void **state)
{
	struct sms_rule snap[] = { { ACL_READ | ACL_SUBSCRIBE, "+/+/+/snapshots" } };
	struct sms_rule fw[] = { { ACL_WRITE, "+/+/+/firmware" } };
	struct sms_rule admin[] = { { ACL_READ | ACL_SUBSCRIBE | ACL_WRITE, "#" }, { ACL_READ | ACL_SUBSCRIBE, "$SYS/#" } };
	struct sms_rule wide[] = { { ACL_SUBSCRIBE, "#" }, { ACL_READ, "x/#" } };
	struct sms_role roles[] = {
		{ "vendor-snapshot-service", snap, 1 },
		{ "vendor-firmware-service", fw, 1 },
		{ "MRO-Admin", admin, 2 },
		{ "narrow-reader", wide, 2 },
	};
	char *pub[] = { "sms/crl/#" };
	struct sms_config cfg;
	const char *dev = "000001/00002/EQ1";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.roles = roles;
	cfg.nroles = 4;
	cfg.public_read = pub;
	cfg.npublic_read = 1;

	/* equipment */
	assert_true(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/snapshots"));
	assert_true(acl_allows(&cfg, dev, ACL_READ, "000001/00002/EQ1/firmware"));
	assert_true(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "000001/00002/EQ1/#"));
	assert_true(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "$share/g/000001/00002/EQ1/firmware"));
	assert_false(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "$share/g/000001/00002/#"));
	assert_false(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "$share/g/#"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ2/snapshots"));
	assert_false(acl_allows(&cfg, dev, ACL_READ, "000001/00002/EQ10/snapshots"));
	assert_false(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "000001/00002/+/firmware"));
	assert_false(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "#"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/#"));   /* wildcard publish */
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/+"));
	assert_false(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "$SYS/#"));
	/* public_read: read and subscribe, never write */
	assert_true(acl_allows(&cfg, dev, ACL_READ, "sms/crl/tls"));
	assert_true(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "sms/crl/#"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "sms/crl/tls"));
	assert_false(acl_allows(&cfg, dev, ACL_SUBSCRIBE, "sms/#"));
	/* unsubscribe only needs a valid filter */
	assert_true(acl_allows(&cfg, dev, ACL_UNSUBSCRIBE, "#"));
	assert_false(acl_allows(&cfg, dev, ACL_UNSUBSCRIBE, "a/#/b"));
	/* direction: the device writes its snapshots and firmware/status only */
	assert_true(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/firmware/status"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/receipts"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/firmware"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/crl"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/commands"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/commands/result"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/snapshots/x"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/snapshotsx"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1/firmware/status/x"));
	assert_false(acl_allows(&cfg, dev, ACL_WRITE, "000001/00002/EQ1//snapshots"));
	/* ... and still reads and subscribes to all of its tree */
	assert_true(acl_allows(&cfg, dev, ACL_READ, "000001/00002/EQ1/receipts"));
	assert_true(acl_allows(&cfg, dev, ACL_READ, "000001/00002/EQ1/crl"));
	assert_true(acl_allows(&cfg, dev, ACL_READ, "000001/00002/EQ1/commands"));
	/* customers read their subtree and write none of it */
	assert_true(acl_allows(&cfg, "000001/00002", ACL_READ, "000001/00002/EQ1/receipts"));
	assert_true(acl_allows(&cfg, "000001", ACL_READ, "000001/00002/EQ1/firmware/status"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_WRITE, "000001/00002/EQ1/snapshots"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_WRITE, "000001/00002/EQ1/receipts"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_WRITE, "000001/00002/EQ1/firmware/status"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_WRITE, "000001/00002/EQ1/commands"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_WRITE, "000001/00002/snapshots"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_WRITE, "000001/00002"));
	assert_false(acl_allows(&cfg, "000001", ACL_WRITE, "000001/00002/EQ1/snapshots"));
	assert_false(acl_allows(&cfg, "000001", ACL_WRITE, "000001/00002/EQ1/firmware"));
	assert_false(acl_allows(&cfg, "000001", ACL_WRITE, "000001/x"));
	/* account and master */
	assert_true(acl_allows(&cfg, "000001/00002", ACL_SUBSCRIBE, "000001/00002/+/snapshots"));
	assert_false(acl_allows(&cfg, "000001/00002", ACL_SUBSCRIBE, "000001/+/+/snapshots"));
	assert_true(acl_allows(&cfg, "000001", ACL_SUBSCRIBE, "000001/+/+/snapshots"));
	assert_false(acl_allows(&cfg, "000001", ACL_SUBSCRIBE, "+/+/+/snapshots"));
	assert_false(acl_allows(&cfg, "000001", ACL_READ, "0000010/a/b/snapshots"));
	/* roles */
	assert_true(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_SUBSCRIBE, "+/+/+/snapshots"));
	assert_true(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_SUBSCRIBE, "$share/ingest/+/+/+/snapshots"));
	assert_true(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_READ, "1/2/3/snapshots"));
	assert_false(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_WRITE, "1/2/3/snapshots"));
	assert_false(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_SUBSCRIBE, "#"));
	assert_false(acl_allows(&cfg, "role:vendor-snapshot-service", ACL_READ, "1/2/3/firmware"));
	assert_true(acl_allows(&cfg, "role:vendor-firmware-service", ACL_WRITE, "1/2/3/firmware"));
	assert_false(acl_allows(&cfg, "role:vendor-firmware-service", ACL_READ, "1/2/3/firmware"));
	assert_false(acl_allows(&cfg, "role:vendor-firmware-service", ACL_SUBSCRIBE, "+/+/+/firmware"));
	assert_false(acl_allows(&cfg, "role:vendor-firmware-service", ACL_WRITE, "1/2/firmware"));
	assert_true(acl_allows(&cfg, "role:MRO-Admin", ACL_SUBSCRIBE, "#"));
	assert_true(acl_allows(&cfg, "role:MRO-Admin", ACL_SUBSCRIBE, "$SYS/#"));
	assert_true(acl_allows(&cfg, "role:MRO-Admin", ACL_READ, "$SYS/broker/uptime"));
	assert_false(acl_allows(&cfg, "role:MRO-Admin", ACL_WRITE, "$SYS/broker/uptime"));
	assert_true(acl_allows(&cfg, "role:narrow-reader", ACL_SUBSCRIBE, "#"));
	assert_true(acl_allows(&cfg, "role:narrow-reader", ACL_READ, "x/1"));
	assert_false(acl_allows(&cfg, "role:narrow-reader", ACL_READ, "y/1"));
	/* a customer-site bridge: its master account's devices' channels, on their behalf */
	{
		const char *br = "bridge:000001/site-a";

		assert_true(acl_allows(&cfg, br, ACL_WRITE, "000001/00002/EQ1/snapshots"));
		assert_true(acl_allows(&cfg, br, ACL_WRITE, "000001/00003/EQ9/firmware/status"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000002/00002/EQ1/snapshots"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "0000010/00002/EQ1/snapshots"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001/00002/EQ1/receipts"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001/00002/EQ1/firmware"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001/00002/snapshots"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001/00002//snapshots"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001//EQ1/snapshots"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001/00002/EQ1/snapshots/x"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "000001/"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "sms/crl/tls"));
		assert_true(acl_allows(&cfg, br, ACL_SUBSCRIBE, "000001/#"));
		assert_true(acl_allows(&cfg, br, ACL_SUBSCRIBE, "000001/+/+/receipts"));
		assert_true(acl_allows(&cfg, br, ACL_READ, "000001/00002/EQ1/firmware"));
		assert_true(acl_allows(&cfg, br, ACL_SUBSCRIBE, "sms/crl/#"));
		assert_false(acl_allows(&cfg, br, ACL_SUBSCRIBE, "#"));
		assert_false(acl_allows(&cfg, br, ACL_SUBSCRIBE, "+/+/+/receipts"));
		assert_false(acl_allows(&cfg, br, ACL_READ, "000002/00002/EQ1/receipts"));
		assert_false(acl_allows(&cfg, br, ACL_SUBSCRIBE, "$SYS/#"));
		assert_false(acl_allows(&cfg, br, ACL_WRITE, "$SYS/broker/connection/x/state"));
		/* usernames sms_auth never sets for a bridge */
		assert_false(acl_allows(&cfg, "bridge:000001", ACL_READ, "000001/a"));
		assert_false(acl_allows(&cfg, "bridge:/x", ACL_READ, "a"));
		assert_false(acl_allows(&cfg, "bridge:+/x", ACL_READ, "a/b"));
		assert_false(acl_allows(&cfg, "bridge:#/x", ACL_SUBSCRIBE, "#"));
		assert_false(acl_allows(&cfg, "bridge:000001/x/y", ACL_READ, "000001/a"));
		assert_false(acl_allows(&cfg, "bridge:000001/", ACL_READ, "000001/a"));
	}
	/* names that are no identity sms_auth would set */
	assert_false(acl_allows(&cfg, "role:unknown", ACL_READ, "sms/crl/x"));
	assert_false(acl_allows(&cfg, "role:", ACL_READ, "a"));
	assert_false(acl_allows(&cfg, "#", ACL_SUBSCRIBE, "#"));
	assert_false(acl_allows(&cfg, "+", ACL_READ, "a"));
	assert_false(acl_allows(&cfg, "a//b", ACL_READ, "a//b/c"));
	assert_false(acl_allows(&cfg, "a/b/c/d", ACL_READ, "a/b/c/d"));
	assert_false(acl_allows(&cfg, "$SYS", ACL_READ, "$SYS/x"));
	assert_false(acl_allows(&cfg, "", ACL_READ, "a"));
	assert_false(acl_allows(&cfg, NULL, ACL_READ, "a"));
	assert_false(acl_allows(&cfg, dev, ACL_READ, NULL));
	assert_false(acl_allows(&cfg, dev, 0x10, "000001/00002/EQ1/x"));
	assert_false(acl_allows(NULL, dev, ACL_READ, "000001/00002/EQ1/x"));
}

/* client_id_policy prefix: no identity's client ids can be another's. */
static void client_ids(void **state)
{
	(void)state;
	assert_true(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1"));
	assert_true(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1@"));
	assert_true(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1@worker-1"));
	assert_true(sms_client_id_allowed("role:vendor-snapshot-service", "role:vendor-snapshot-service@sms-snapshotd-2"));
	/* a master account is a prefix of its accounts' paths, '/' is no separator */
	assert_false(sms_client_id_allowed("000001", "000001/00002/EQ1"));
	assert_false(sms_client_id_allowed("000001/00002", "000001/00002/EQ1@x"));
	/* ids may contain - _ . : those are no separators either */
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1-x"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1.x"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1_x"));
	/* a master account called "role" is not a role */
	assert_false(sms_client_id_allowed("role", "role:MRO-Admin"));
	assert_false(sms_client_id_allowed("role:MRO-Admin", "MRO-Admin"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/eq1"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", ""));
	/* mosquitto logs client ids raw: no controls, spaces or non-ASCII after '@' */
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1@x\x1b[31m"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1@a b"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1@\xe2\x80\xae"));
	assert_true(sms_client_id_allowed("000001/00002/EQ1", "000001/00002/EQ1@a/b:c@d"));
	assert_false(sms_client_id_allowed("000001/00002/EQ1", "victim-session"));
	assert_false(sms_client_id_allowed("", "x"));
	assert_false(sms_client_id_allowed(NULL, "x"));
	assert_false(sms_client_id_allowed("x", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_4_1),
		cmocka_unit_test(table_copy_matches_shared),
		cmocka_unit_test(hostile_filters),
		cmocka_unit_test(long_topics),
		cmocka_unit_test(share_strip),
		cmocka_unit_test(exhaustive_vs_libmosquitto),
		cmocka_unit_test(decisions),
		cmocka_unit_test(client_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
