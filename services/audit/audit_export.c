/* Snapshot export; contract in audit_export.h. */
#include "services/audit/audit_export.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "common/snapshot_json.h"

typedef struct {
	export_format fmt;
	FILE *out;
	long long n;
	const snapshot_dicts *dicts;
} exporter;

static void csv_cell(FILE *out, const char *s)
{
	fputc('"', out);
	if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
		fputc('\'', out);   /* not a formula in the customer's spreadsheet */
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
	}
	fputc('"', out);
}

/* "code, code" of the "code: detail\n" lines. */
static char *finding_codes(const char *findings)
{
	char *s = malloc(strlen(findings) + 1);
	const char *p = findings, *e;
	size_t off = 0;

	if (s == NULL)
		return NULL;
	s[0] = '\0';
	while (*p && (e = strchr(p, '\n')) != NULL) {
		const char *c = memchr(p, ':', (size_t)(e - p));
		size_t n = (size_t)((c ? c : e) - p);

		off += (size_t)sprintf(s + off, "%s%.*s", off ? " " : "", (int)n, p);
		p = e + 1;
	}
	return s;
}

static int csv_rows(exporter *x, const char *equipment, const char *received_at, const char *digest,
                    const char *codes, const char *json)
{
	snapshot snap;
	char err[200], seq[24], num[40];
	const char *head[] = { equipment, received_at, digest };
	size_t i, k;

	if (snapshot_parse_dict(json, strlen(json), 1000000, x->dicts, &snap, err, sizeof err) != SNAPSHOT_OK)
		return 0;   /* undecodable: a finding in the report, nothing to export */
	snprintf(seq, sizeof seq, "%lld", snap.seq);
	for (i = 0; i < snap.n_values; i++) {
		const snapshot_value *v = &snap.values[i];
		const char *tail[] = { seq, snap.taken_at, snap.device_type, v->group, v->channel, v->unit,
			               v->is_text ? v->text : num, codes };

		snprintf(num, sizeof num, "%.17g", v->num);
		for (k = 0; k < 3; k++) {
			csv_cell(x->out, head[k]);
			fputc(',', x->out);
		}
		for (k = 0; k < sizeof tail / sizeof tail[0]; k++) {
			csv_cell(x->out, tail[k]);
			fputs(k + 1 < sizeof tail / sizeof tail[0] ? "," : "\r\n", x->out);
		}
	}
	snapshot_free(&snap);
	return 0;
}

static int jsonl_line(exporter *x, const char *equipment, const char *received_at, const char *digest,
                      const char *codes, const char *json)
{
	cJSON *o = cJSON_CreateObject(), *snap = cJSON_Parse(json), *list = cJSON_CreateArray();
	const char *p = codes;
	char *text;

	if (o == NULL || list == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(snap);
		cJSON_Delete(list);
		return -1;
	}
	cJSON_AddStringToObject(o, "equipment", equipment);
	cJSON_AddStringToObject(o, "received_at", received_at);
	cJSON_AddStringToObject(o, "digest", digest);
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *c = strndup(p, n);

		if (c != NULL)
			cJSON_AddItemToArray(list, cJSON_CreateString(c));
		free(c);
		p += n + (e != NULL);
	}
	cJSON_AddItemToObject(o, "findings", list);
	if (snap != NULL)
		cJSON_AddItemToObject(o, "snapshot", snap);
	else
		cJSON_AddStringToObject(o, "snapshot_text", json);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return -1;
	fprintf(x->out, "%s\n", text);
	free(text);
	return 0;
}

static int one(void *ud, const char *equipment, const char *received_at, const char *digest, const char *findings,
               const char *json)
{
	exporter *x = ud;
	char *codes = finding_codes(findings);
	int rc;

	if (codes == NULL)
		return -1;
	rc = x->fmt == EXPORT_CSV ? csv_rows(x, equipment, received_at, digest, codes, json) :
	                            jsonl_line(x, equipment, received_at, digest, codes, json);
	free(codes);
	x->n++;
	return rc;
}

int audit_export(audit_store *s, const store_filter *f, export_format fmt, const snapshot_dicts *dicts, FILE *out,
                 char *err, size_t errlen)
{
	exporter x = { .fmt = fmt, .out = out, .dicts = dicts };

	if (fmt == EXPORT_CSV)
		fputs("device,received_at,digest,seq,taken_at,device_type,group,channel,unit,value,findings\r\n", out);
	if (store_each_snapshot(s, f, one, &x, err, errlen) != 0) {
		if (!*err)
			snprintf(err, errlen, "export: out of memory");
		return -1;
	}
	if (fflush(out) != 0 || ferror(out)) {
		snprintf(err, errlen, "export: write error");
		return -1;
	}
	return 0;
}
