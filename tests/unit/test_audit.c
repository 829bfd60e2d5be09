/*
 * services/audit: the store (one row per distinct message, redeliveries
 * counted, the hash chain, derived rows read back in the canonical form
 * verify compares, receipts matched to snapshots, filters) and the report
 * formats (HTML escaping of everything, CSV quoting, JSON structure).
 * Analyses are built by hand: what the store keeps does not depend on keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "services/audit/audit_report.h"
#include "services/audit/audit_store.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof path, "/tmp/sms-audit-test.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	char p[80];

	(void)state;
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	return 0;
}

static void snapshot_analysis(analysis *a, const char *eq, long long seq, const char *finding_code)
{
	memset(a, 0, sizeof *a);
	snprintf(a->kind, sizeof a->kind, "snapshot");
	snprintf(a->equipment, sizeof a->equipment, "%s", eq);
	snprintf(a->recipients, sizeof a->recipients, "/CN=vendor-snapshot-service; us");
	a->for_us = 1;
	a->seq = seq;
	snprintf(a->taken_at, sizeof a->taken_at, "2026-11-21T10:00:00Z");
	if (finding_code != NULL) {
		snprintf(a->findings[0].code, sizeof a->findings[0].code, "%s", finding_code);
		snprintf(a->findings[0].detail, sizeof a->findings[0].detail, "detail of %s", finding_code);
		a->n_findings = 1;
	}
}

static void sha256(const char *s, unsigned char out[32])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL), 1);
}

static store_put_result put(audit_store *s, const char *topic, const char *payload, time_t at, const analysis *a)
{
	char err[300];
	store_put_result r = store_put(s, topic, (const unsigned char *)payload, strlen(payload), 1, 0, at, a, err,
	                               sizeof err);

	if (r != STORE_PUT_NEW && r != STORE_PUT_DUPLICATE)
		fail_msg("store_put: %s", err);
	return r;
}

static void test_store_once_per_message(void **state)
{
	char err[300];
	audit_store *s = store_open(path, 0, err, sizeof err);
	analysis a;

	(void)state;
	assert_non_null(s);
	snapshot_analysis(&a, "ma/acc/EQ1", 1, NULL);
	assert_int_equal(put(s, "ma/acc/EQ1/snapshots", "payload-1", 1000, &a), STORE_PUT_NEW);
	assert_int_equal(put(s, "ma/acc/EQ1/snapshots", "payload-1", 1001, &a), STORE_PUT_DUPLICATE);
	/* The same bytes on another topic are another message (a replay). */
	assert_int_equal(put(s, "ma/acc/EQ2/snapshots", "payload-1", 1002, &a), STORE_PUT_NEW);
	assert_int_equal(put(s, "ma/acc/EQ1/snapshots", "", 1003, &a), STORE_PUT_NEW);
	assert_int_equal(store_count(s, "messages"), 3);
	assert_int_equal(store_count(s, "derived"), 3);
	store_close(s);
}

typedef struct {
	unsigned char prev[32];
	int n, bad;
} chain_walk;

static int walk(void *ud, const store_raw *m)
{
	chain_walk *w = ud;
	unsigned char link[32];

	assert_int_equal(m->chain_len, 32);
	assert_int_equal(store_chain_link(w->prev, m->id, m->received_at, m->topic, m->digest, link), 0);
	if (memcmp(link, m->chain, 32) != 0)
		w->bad++;
	memcpy(w->prev, m->chain, 32);
	w->n++;
	return 0;
}

static void test_store_chain_and_canonical(void **state)
{
	char err[300], *stored, *findings, *digests, *want;
	audit_store *s = store_open(path, 0, err, sizeof err);
	chain_walk w = { .n = 0 };
	analysis a, r;

	(void)state;
	assert_non_null(s);
	snapshot_analysis(&a, "ma/acc/EQ1", 7, "not_for_us");
	put(s, "ma/acc/EQ1/snapshots", "p1", 1000, &a);
	memset(&r, 0, sizeof r);
	snprintf(r.kind, sizeof r.kind, "receipt");
	snprintf(r.equipment, sizeof r.equipment, "ma/acc/EQ1");
	r.seq = -1;
	r.digests = calloc(2, 32);
	assert_non_null(r.digests);
	r.n_digests = 2;
	sha256("p1", r.digests[0]);
	sha256("never-seen", r.digests[1]);
	put(s, "ma/acc/EQ1/receipts", "r1", 1001, &r);
	assert_int_equal(store_each_raw(s, walk, &w, err, sizeof err), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.bad, 0);
	/* The chain covers the position: a different id gives another link. */
	{
		unsigned char zero[32] = { 0 }, l1[32], l2[32], d[32];

		sha256("p1", d);
		store_chain_link(zero, 1, "t", "topic", d, l1);
		store_chain_link(zero, 2, "t", "topic", d, l2);
		assert_memory_not_equal(l1, l2, 32);
	}
	findings = analysis_findings_text(&r);
	digests = analysis_digests_text(&r);
	want = analysis_canonical(r.kind, r.equipment, r.originator, r.recipients, r.for_us, r.seq, r.taken_at,
	                          r.signed_at, r.content, findings, digests);
	stored = store_derived_canonical(s, 2);
	assert_non_null(stored);
	assert_string_equal(stored, want);
	free(stored);
	free(want);
	free(findings);
	free(digests);
	stored = store_derived_canonical(s, 1);
	assert_non_null(strstr(stored, "not_for_us: detail of not_for_us\n"));
	free(stored);
	assert_null(store_derived_canonical(s, 99));
	free(r.digests);
	store_close(s);
}

static const report_message *find_seq(const report_model *m, long long seq)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->m[i].seq == seq)
			return &m->m[i];
	return NULL;
}

static void test_store_report_receipts(void **state)
{
	char err[300];
	audit_store *s = store_open(path, 0, err, sizeof err);
	store_filter f = { .now = 10000, .grace = 0 };
	report_model m = { 0 };
	analysis a, r;
	size_t i;

	(void)state;
	assert_non_null(s);
	snapshot_analysis(&a, "ma/acc/EQ1", 1, NULL);
	put(s, "ma/acc/EQ1/snapshots", "s1", 1000, &a);
	snapshot_analysis(&a, "ma/acc/EQ1", 2, NULL);
	put(s, "ma/acc/EQ1/snapshots", "s2", 1000, &a);
	snapshot_analysis(&a, "ma/acc/EQ2", 3, NULL);
	put(s, "ma/acc/EQ2/snapshots", "s3", 9990, &a);
	memset(&r, 0, sizeof r);
	snprintf(r.kind, sizeof r.kind, "receipt");
	snprintf(r.equipment, sizeof r.equipment, "ma/acc/EQ1");
	r.seq = -1;
	r.digests = calloc(3, 32);
	assert_non_null(r.digests);
	r.n_digests = 3;
	sha256("s1", r.digests[0]);
	sha256("ghost", r.digests[1]);
	sha256("s3", r.digests[2]);   /* EQ2's snapshot in EQ1's receipt: not EQ2's receipt */
	put(s, "ma/acc/EQ1/receipts", "r1", 1001, &r);
	free(r.digests);

	assert_int_equal(store_load_report(s, &f, &m, err, sizeof err), 0);
	assert_int_equal(m.n, 4);
	assert_string_equal(find_seq(&m, 1)->receipted, "yes");
	assert_string_equal(find_seq(&m, 1)->findings, "");
	assert_string_equal(find_seq(&m, 2)->receipted, "no");
	assert_non_null(strstr(find_seq(&m, 2)->findings, "never_receipted: "));
	assert_string_equal(find_seq(&m, 3)->receipted, "no");
	for (i = 0; i < m.n; i++)
		if (strcmp(m.m[i].kind, "receipt") == 0) {
			assert_non_null(strstr(m.m[i].findings, "receipt_unseen: "));
			assert_null(strstr(m.m[i].findings, m.m[0].digest));   /* s1 was seen */
		}
	report_model_free(&m);

	/* Within the grace period it is pending, not a finding. */
	f.grace = 100;
	assert_int_equal(store_load_report(s, &f, &m, err, sizeof err), 0);
	assert_string_equal(find_seq(&m, 3)->receipted, "pending");
	assert_string_equal(find_seq(&m, 3)->findings, "");
	report_model_free(&m);

	f.device = "EQ2";
	assert_int_equal(store_load_report(s, &f, &m, err, sizeof err), 0);
	assert_int_equal(m.n, 1);
	report_model_free(&m);
	f.device = "Q2";   /* a suffix that is not a whole level matches nothing */
	assert_int_equal(store_load_report(s, &f, &m, err, sizeof err), 0);
	assert_int_equal(m.n, 0);
	report_model_free(&m);
	f.device = NULL;
	f.since = "1970-01-01T02:46:00Z";   /* 9960 */
	assert_int_equal(store_load_report(s, &f, &m, err, sizeof err), 0);
	assert_int_equal(m.n, 1);
	report_model_free(&m);
	store_close(s);
}

static void test_store_readonly_refuses_other_files(void **state)
{
	char err[300];
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	fputs("not a database", f);
	fclose(f);
	assert_null(store_open(path, 1, err, sizeof err));
	assert_non_null(strstr(err, path));
	assert_null(store_open("/nonexistent/dir/x.db", 1, err, sizeof err));
}

/* ------------------------------------------------------------ report */

static char *render(const report_model *m, report_format f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(report_write(m, f, out), 0);
	fclose(out);
	return buf;
}

static void model_with_hostile_text(report_model *m)
{
	report_message msg = {
		.id = 1, .received_at = "2026-12-01T10:00:00Z", .topic = "ma/acc/EQ1/snapshots", .equipment = "ma/acc/EQ1",
		.kind = "snapshot", .originator = "/O=ma/OU=acc/serialNumber=EQ1/CN=x", .recipients = "=cmd|' /C calc'!A0",
		.taken_at = "2026-11-21T10:00:00Z", .digest = "ab", .seq = 5, .size = 100, .deliveries = 1,
		.receipted = "no",
		.findings = "undecodable: snapshot JSON: \"<script>alert(1)</script>\" & 'x'\nnever_receipted: none\n",
	};

	memset(m, 0, sizeof *m);
	m->scope = strdup("ma/acc<b>");
	m->generated_at = strdup("2026-12-01T11:00:00Z");
	assert_int_equal(report_model_add(m, &msg), 0);
	msg.id = 2;
	msg.equipment = "ma/acc/EQ2";
	msg.findings = "";
	msg.seq = -1;
	msg.kind = "receipt";
	assert_int_equal(report_model_add(m, &msg), 0);
}

static void test_report_html_escapes_everything(void **state)
{
	report_model m;
	char *html;

	(void)state;
	model_with_hostile_text(&m);
	html = render(&m, REPORT_HTML);
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "&quot;"));
	assert_non_null(strstr(html, "&#39;x&#39;"));
	assert_non_null(strstr(html, "&amp;"));
	assert_non_null(strstr(html, "ma/acc&lt;b&gt;"));
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(strstr(html, "default-src 'none'"));
	assert_non_null(strstr(html, "<h2>Device ma/acc/EQ1</h2>"));
	assert_non_null(strstr(html, "<h2>Device ma/acc/EQ2</h2>"));
	free(html);
	report_model_free(&m);
}

static void test_report_csv_quotes(void **state)
{
	report_model m;
	char *csv;

	(void)state;
	model_with_hostile_text(&m);
	csv = render(&m, REPORT_CSV);
	assert_true(strncmp(csv, "device,id,received_at,", 22) == 0);
	/* A formula is neutralised, quotes doubled, newlines flattened. */
	assert_non_null(strstr(csv, "\"'=cmd|' /C calc'!A0\""));
	assert_non_null(strstr(csv, "\"\"<script>alert(1)</script>\"\""));
	assert_null(strstr(csv, "'x'\nnever"));
	free(csv);
	report_model_free(&m);
}

static void test_report_json_structure(void **state)
{
	report_model m;
	char *text;
	cJSON *root, *devs, *f0;

	(void)state;
	model_with_hostile_text(&m);
	text = render(&m, REPORT_JSON);
	root = cJSON_Parse(text);
	assert_non_null(root);
	devs = cJSON_GetObjectItem(root, "devices");
	assert_int_equal(cJSON_GetArraySize(devs), 2);
	assert_int_equal(cJSON_GetObjectItem(root, "findings")->valueint, 2);
	f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
	        cJSON_GetArrayItem(devs, 0), "messages"), 0), "findings"), 0);
	assert_string_equal(cJSON_GetObjectItem(f0, "code")->valuestring, "undecodable");
	assert_string_equal(cJSON_GetObjectItem(f0, "detail")->valuestring,
	                    "snapshot JSON: \"<script>alert(1)</script>\" & 'x'");
	cJSON_Delete(root);
	free(text);
	report_model_free(&m);
}

static void test_report_table_and_formats(void **state)
{
	report_model m;
	report_format f;
	char *t;

	(void)state;
	model_with_hostile_text(&m);
	t = render(&m, REPORT_TABLE);
	assert_non_null(strstr(t, "2 device(s), 2 message(s), 2 finding(s)"));
	assert_non_null(strstr(t, "device ma/acc/EQ1: 1 snapshot(s), 100 bytes, 0 receipt(s), 0 other, 2 finding(s)"));
	assert_non_null(strstr(t, "      ! never_receipted: none\n"));
	free(t);
	report_model_free(&m);
	assert_int_equal(report_format_parse("html", &f), 0);
	assert_int_equal(f, REPORT_HTML);
	assert_int_equal(report_format_parse("HTML", &f), -1);
	assert_int_equal(report_format_parse("", &f), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_once_per_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_chain_and_canonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_report_receipts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_readonly_refuses_other_files, setup, teardown),
		cmocka_unit_test(test_report_html_escapes_everything),
		cmocka_unit_test(test_report_csv_quotes),
		cmocka_unit_test(test_report_json_structure),
		cmocka_unit_test(test_report_table_and_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
