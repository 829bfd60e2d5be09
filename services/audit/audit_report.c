/* Report formatting; contract in audit_report.h. */
#include "services/audit/audit_report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "common/snapshot_json.h"

#define CHART_MAX_BUCKETS 60
#define CHART_W 720
#define CHART_H 220
#define CHART_PAD 40

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int report_model_add(report_model *r, const report_message *m)
{
	report_message *c;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		report_message *p = realloc(r->m, cap * sizeof *p);

		if (p == NULL)
			return -1;
		r->m = p;
		r->cap = cap;
	}
	c = &r->m[r->n];
	*c = *m;
	c->received_at = dup_or_empty(m->received_at);
	c->topic = dup_or_empty(m->topic);
	c->equipment = dup_or_empty(m->equipment);
	c->kind = dup_or_empty(m->kind);
	c->originator = dup_or_empty(m->originator);
	c->recipients = dup_or_empty(m->recipients);
	c->taken_at = dup_or_empty(m->taken_at);
	c->digest = dup_or_empty(m->digest);
	c->receipted = dup_or_empty(m->receipted);
	c->findings = dup_or_empty(m->findings);
	r->n++;
	if (!c->received_at || !c->topic || !c->equipment || !c->kind || !c->originator || !c->recipients ||
	    !c->taken_at || !c->digest || !c->receipted || !c->findings)
		return -1;   /* the partial entry is freed with the model */
	return 0;
}

static void message_free(report_message *m)
{
	free(m->received_at);
	free(m->topic);
	free(m->equipment);
	free(m->kind);
	free(m->originator);
	free(m->recipients);
	free(m->taken_at);
	free(m->digest);
	free(m->receipted);
	free(m->findings);
}

void report_model_free(report_model *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		message_free(&r->m[i]);
	free(r->m);
	free(r->scope);
	free(r->generated_at);
	memset(r, 0, sizeof *r);
}

int report_format_parse(const char *s, report_format *f)
{
	static const char *const names[] = { "table", "csv", "json", "html" };
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i]) == 0) {
			*f = (report_format)i;
			return 0;
		}
	return -1;
}

/* ------------------------------------------------------------ per device */

typedef struct {
	size_t first, end;            /* [first, end) of r->m */
	long long snapshots, bytes, receipts, others, findings, unreceipted;
} device_summary;

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* The device group starting at i (the model is ordered by equipment). */
static device_summary summarise(const report_model *r, size_t i)
{
	device_summary d = { .first = i };

	for (d.end = i; d.end < r->n && strcmp(r->m[d.end].equipment, r->m[i].equipment) == 0; d.end++) {
		const report_message *m = &r->m[d.end];

		if (strcmp(m->kind, "snapshot") == 0) {
			d.snapshots++;
			d.bytes += m->size;
			d.unreceipted += strcmp(m->receipted, "yes") != 0;
		} else if (strcmp(m->kind, "receipt") == 0) {
			d.receipts++;
		} else {
			d.others++;
		}
		d.findings += (long long)count_lines(m->findings);
	}
	return d;
}

static long long total_findings(const report_model *r)
{
	long long n = 0;
	size_t i;

	for (i = 0; i < r->n; i++)
		n += (long long)count_lines(r->m[i].findings);
	return n;
}

static size_t count_devices(const report_model *r)
{
	size_t i = 0, n = 0;

	while (i < r->n) {
		i = summarise(r, i).end;
		n++;
	}
	return n;
}

static const char *device_name(const char *equipment)
{
	return *equipment ? equipment : "(no device: topic outside the tree)";
}

/* ------------------------------------------------------------ table */

static void table_findings(const char *findings, FILE *out)
{
	const char *s = findings, *e;

	while (*s && (e = strchr(s, '\n')) != NULL) {
		fprintf(out, "      ! %.*s\n", (int)(e - s), s);
		s = e + 1;
	}
}

static void write_table(const report_model *r, FILE *out)
{
	size_t i = 0, j;

	fprintf(out, "sms-audit report for %s, generated %s: %zu device(s), %zu message(s), %lld finding(s)\n",
	        r->scope, r->generated_at, count_devices(r), r->n, total_findings(r));
	while (i < r->n) {
		device_summary d = summarise(r, i);

		fprintf(out, "\ndevice %s: %lld snapshot(s), %lld bytes, %lld receipt(s), %lld other, %lld finding(s)\n",
		        device_name(r->m[i].equipment), d.snapshots, d.bytes, d.receipts, d.others, d.findings);
		fprintf(out, "  %-6s %-20s %-9s %8s %-24s %7s %-9s %s\n", "id", "received", "kind", "seq", "taken_at",
		        "bytes", "receipted", "recipients");
		for (j = d.first; j < d.end; j++) {
			const report_message *m = &r->m[j];
			char seq[24] = "-";

			if (m->seq >= 0)
				snprintf(seq, sizeof seq, "%lld", m->seq);
			fprintf(out, "  %-6lld %-20s %-9s %8s %-24s %7lld %-9s %s\n", m->id, m->received_at, m->kind, seq,
			        *m->taken_at ? m->taken_at : "-", m->size, *m->receipted ? m->receipted : "-",
			        *m->recipients ? m->recipients : "-");
			table_findings(m->findings, out);
		}
		i = d.end;
	}
}

/* ------------------------------------------------------------ csv */

/* RFC 4180 quoting; a cell a spreadsheet would run as a formula gets a
 * leading apostrophe (the texts come from devices). */
static void csv_cell(const char *s, FILE *out)
{
	fputc('"', out);
	if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s == '\n' ? ' ' : *s, out);
	}
	fputc('"', out);
}

static void write_csv(const report_model *r, FILE *out)
{
	size_t i;

	fputs("device,id,received_at,topic,kind,seq,taken_at,bytes,deliveries,receipted,originator,recipients,"
	      "digest,findings\r\n", out);
	for (i = 0; i < r->n; i++) {
		const report_message *m = &r->m[i];
		const char *cells[] = { m->originator, m->recipients, m->digest, m->findings };
		size_t k;

		csv_cell(m->equipment, out);
		fprintf(out, ",%lld,", m->id);
		csv_cell(m->received_at, out);
		fputc(',', out);
		csv_cell(m->topic, out);
		fputc(',', out);
		csv_cell(m->kind, out);
		if (m->seq >= 0)
			fprintf(out, ",%lld,", m->seq);
		else
			fputs(",,", out);
		csv_cell(m->taken_at, out);
		fprintf(out, ",%lld,%lld,", m->size, m->deliveries);
		csv_cell(m->receipted, out);
		for (k = 0; k < sizeof cells / sizeof cells[0]; k++) {
			fputc(',', out);
			csv_cell(cells[k], out);
		}
		fputs("\r\n", out);
	}
}

/* ------------------------------------------------------------ json */

static cJSON *findings_json(const char *findings)
{
	cJSON *a = cJSON_CreateArray();
	const char *s = findings, *e;

	while (a != NULL && *s && (e = strchr(s, '\n')) != NULL) {
		const char *colon = memchr(s, ':', (size_t)(e - s));
		cJSON *f = cJSON_CreateObject();
		char *line = strndup(s, (size_t)(e - s));

		if (f == NULL || line == NULL) {
			cJSON_Delete(f);
			free(line);
			cJSON_Delete(a);
			return NULL;
		}
		if (colon != NULL) {
			line[colon - s] = '\0';
			cJSON_AddStringToObject(f, "code", line);
			cJSON_AddStringToObject(f, "detail", line + (colon - s) + (colon + 1 < e && colon[1] == ' ' ? 2 : 1));
		} else {
			cJSON_AddStringToObject(f, "code", line);
		}
		free(line);
		cJSON_AddItemToArray(a, f);
		s = e + 1;
	}
	return a;
}

static cJSON *message_json(const report_message *m)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)m->id);
	cJSON_AddStringToObject(o, "received_at", m->received_at);
	cJSON_AddStringToObject(o, "topic", m->topic);
	cJSON_AddStringToObject(o, "kind", m->kind);
	if (m->seq >= 0)
		cJSON_AddNumberToObject(o, "seq", (double)m->seq);
	if (*m->taken_at)
		cJSON_AddStringToObject(o, "taken_at", m->taken_at);
	cJSON_AddNumberToObject(o, "bytes", (double)m->size);
	cJSON_AddNumberToObject(o, "deliveries", (double)m->deliveries);
	if (*m->receipted)
		cJSON_AddStringToObject(o, "receipted", m->receipted);
	cJSON_AddStringToObject(o, "originator", m->originator);
	cJSON_AddStringToObject(o, "recipients", m->recipients);
	cJSON_AddStringToObject(o, "digest", m->digest);
	cJSON_AddItemToObject(o, "findings", findings_json(m->findings));
	return o;
}

static int write_json(const report_model *r, FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *devs = cJSON_CreateArray();
	size_t i = 0, j;
	char *text;
	int rc = -1;

	if (root == NULL || devs == NULL)
		goto out;
	cJSON_AddStringToObject(root, "scope", r->scope);
	cJSON_AddStringToObject(root, "generated_at", r->generated_at);
	cJSON_AddNumberToObject(root, "findings", (double)total_findings(r));
	cJSON_AddItemToObject(root, "devices", devs);
	while (i < r->n) {
		device_summary d = summarise(r, i);
		cJSON *dev = cJSON_CreateObject(), *msgs = cJSON_CreateArray();

		if (dev == NULL || msgs == NULL) {
			cJSON_Delete(dev);
			cJSON_Delete(msgs);
			goto out_root;
		}
		cJSON_AddItemToArray(devs, dev);
		cJSON_AddStringToObject(dev, "equipment", r->m[i].equipment);
		cJSON_AddNumberToObject(dev, "snapshots", (double)d.snapshots);
		cJSON_AddNumberToObject(dev, "snapshot_bytes", (double)d.bytes);
		cJSON_AddNumberToObject(dev, "receipts", (double)d.receipts);
		cJSON_AddNumberToObject(dev, "findings", (double)d.findings);
		cJSON_AddItemToObject(dev, "messages", msgs);
		for (j = d.first; j < d.end; j++)
			cJSON_AddItemToArray(msgs, message_json(&r->m[j]));
		i = d.end;
	}
	text = cJSON_Print(root);
	if (text != NULL) {
		fprintf(out, "%s\n", text);
		free(text);
		rc = 0;
	}
out_root:
	cJSON_Delete(root);
	return rc;
out:
	cJSON_Delete(root);
	cJSON_Delete(devs);
	return rc;
}

/* ------------------------------------------------------------ html */

void report_html_escape(const char *s, FILE *out)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

static void html_cell(const char *s, FILE *out)
{
	fputs("<td>", out);
	report_html_escape(s, out);
	fputs("</td>", out);
}

static const long bucket_sizes[] = { 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400 };

static void iso(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%MZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* Snapshot counts per time bucket as bars, drawn here: no script, no fetch. */
static void html_chart(const report_model *r, FILE *out)
{
	long long counts[CHART_MAX_BUCKETS] = { 0 }, max = 0;
	time_t lo = 0, hi = 0, t;
	long size = bucket_sizes[sizeof bucket_sizes / sizeof bucket_sizes[0] - 1];
	size_t i, n_buckets, b;
	int any = 0;
	char a[24], z[24];

	for (i = 0; i < r->n; i++)
		if (strcmp(r->m[i].kind, "snapshot") == 0 && snapshot_time_parse(r->m[i].received_at, &t)) {
			lo = any && lo < t ? lo : t;
			hi = any && hi > t ? hi : t;
			any = 1;
		}
	fputs("<h2>Snapshots over time</h2>\n", out);
	if (!any) {
		fputs("<p class=\"chart-empty\">No snapshots received.</p>\n", out);
		return;
	}
	for (i = 0; i < sizeof bucket_sizes / sizeof bucket_sizes[0]; i++)
		if ((hi - lo) / bucket_sizes[i] + 1 <= CHART_MAX_BUCKETS) {
			size = bucket_sizes[i];
			break;
		}
	lo -= lo % size;
	n_buckets = (size_t)((hi - lo) / size + 1);
	if (n_buckets > CHART_MAX_BUCKETS)
		n_buckets = CHART_MAX_BUCKETS;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->m[i].kind, "snapshot") == 0 && snapshot_time_parse(r->m[i].received_at, &t)) {
			b = (size_t)((t - lo) / size);
			if (b >= n_buckets)
				b = n_buckets - 1;
			if (++counts[b] > max)
				max = counts[b];
		}
	iso(lo, a, sizeof a);
	iso(lo + (time_t)(n_buckets * (size_t)size), z, sizeof z);
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
	        "aria-label=\"snapshots received per %ld seconds\">\n", CHART_W, CHART_H, size);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", CHART_PAD,
	        CHART_H - CHART_PAD, CHART_W - 10, CHART_H - CHART_PAD);
	for (b = 0; b < n_buckets; b++) {
		double w = (double)(CHART_W - CHART_PAD - 10) / (double)n_buckets;
		double h = (double)(CHART_H - 2 * CHART_PAD) * (double)counts[b] / (double)max;
		char when[24];

		iso(lo + (time_t)(b * (size_t)size), when, sizeof when);
		fprintf(out, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#36c\">"
		        "<title>%s: %lld snapshot(s)</title></rect>\n", CHART_PAD + b * w + 1, CHART_H - CHART_PAD - h,
		        w > 2 ? w - 2 : w, h, when, counts[b]);
	}
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%lld</text>\n", 4, CHART_PAD, max);
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", CHART_PAD, CHART_H - CHART_PAD + 16, a);
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">%s</text>\n", CHART_W - 10,
	        CHART_H - CHART_PAD + 16, z);
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\">snapshots per %ld s</text>\n", CHART_W / 2 - 60,
	        CHART_H - 6, size);
	fputs("</svg>\n", out);
}

static void html_findings(const char *findings, FILE *out)
{
	const char *s = findings, *e;

	fputs("<td>", out);
	if (*s)
		fputs("<ul class=\"findings\">", out);
	while (*s && (e = strchr(s, '\n')) != NULL) {
		char *line = strndup(s, (size_t)(e - s));

		fputs("<li class=\"finding\">", out);
		if (line != NULL)
			report_html_escape(line, out);
		fputs("</li>", out);
		free(line);
		s = e + 1;
	}
	if (*findings)
		fputs("</ul>", out);
	fputs("</td>", out);
}

static void html_device(const report_model *r, const device_summary *d, FILE *out)
{
	size_t j;

	fputs("<section class=\"device\"><h2>Device ", out);
	report_html_escape(device_name(r->m[d->first].equipment), out);
	fprintf(out, "</h2>\n<p class=\"summary\">%lld snapshot(s), %lld bytes, %lld receipt(s), %lld other, "
	        "%lld finding(s)</p>\n", d->snapshots, d->bytes, d->receipts, d->others, d->findings);
	fputs("<table><thead><tr><th>id</th><th>received</th><th>kind</th><th>seq</th><th>taken at</th>"
	      "<th>bytes</th><th>receipted</th><th>originator</th><th>recipients</th><th>findings</th></tr></thead>"
	      "<tbody>\n", out);
	for (j = d->first; j < d->end; j++) {
		const report_message *m = &r->m[j];
		char n[24];

		fprintf(out, "<tr%s><td>%lld</td>", *m->findings ? " class=\"has-finding\"" : "", m->id);
		html_cell(m->received_at, out);
		html_cell(m->kind, out);
		snprintf(n, sizeof n, "%lld", m->seq);
		html_cell(m->seq >= 0 ? n : "", out);
		html_cell(m->taken_at, out);
		fprintf(out, "<td>%lld</td>", m->size);
		html_cell(m->receipted, out);
		html_cell(m->originator, out);
		html_cell(m->recipients, out);
		html_findings(m->findings, out);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table></section>\n", out);
}

static void write_html(const report_model *r, FILE *out)
{
	size_t i = 0;

	/* The CSP forbids every fetch and script: the page is what it says. */
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	      "<title>sms-audit report: ", out);
	report_html_escape(r->scope, out);
	fputs("</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
	      "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;vertical-align:top}"
	      "tr.has-finding{background:#fee}ul.findings{margin:0;padding-left:1em;color:#a00}</style>\n"
	      "</head><body>\n<h1>Audit report for ", out);
	report_html_escape(r->scope, out);
	fputs("</h1>\n<p class=\"overview\">Generated ", out);
	report_html_escape(r->generated_at, out);
	fprintf(out, ": %zu device(s), %zu message(s), %lld finding(s).</p>\n", count_devices(r), r->n,
	        total_findings(r));
	html_chart(r, out);
	while (i < r->n) {
		device_summary d = summarise(r, i);

		html_device(r, &d, out);
		i = d.end;
	}
	fputs("</body></html>\n", out);
}

int report_write(const report_model *r, report_format f, FILE *out)
{
	switch (f) {
	case REPORT_TABLE:
		write_table(r, out);
		break;
	case REPORT_CSV:
		write_csv(r, out);
		break;
	case REPORT_JSON:
		if (write_json(r, out) != 0)
			return -1;
		break;
	case REPORT_HTML:
		write_html(r, out);
		break;
	}
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
