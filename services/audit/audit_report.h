/*
 * The customer's report: per device what was sent, when, to whom, how much,
 * and every finding, as a text table, CSV, JSON or one static HTML page
 * (a table per device and an inline SVG chart of snapshot counts over
 * time; no script, every value HTML-escaped).
 *
 * The model is filled by audit_store.h and owned by the caller
 * (report_model_free). Formatting is a pure function of the model.
 */
#ifndef SMS_AUDIT_REPORT_H
#define SMS_AUDIT_REPORT_H

#include <stddef.h>
#include <stdio.h>

typedef enum { REPORT_TABLE, REPORT_CSV, REPORT_JSON, REPORT_HTML } report_format;

typedef struct {
	long long id;
	char *received_at;   /* "YYYY-MM-DDTHH:MM:SSZ" */
	char *topic;
	char *equipment;     /* "ma/acc/eq", "" when the topic names none */
	char *kind;          /* snapshot, receipt, status, firmware, other */
	char *originator, *recipients, *taken_at, *digest;
	long long seq;       /* -1 when none */
	long long size;      /* payload bytes */
	long long deliveries;
	char *receipted;     /* snapshots: "yes", "pending", "no"; "" otherwise */
	char *findings;      /* "code: detail\n" per finding, "" when none */
} report_message;

typedef struct {
	char *scope;
	char *generated_at;
	report_message *m;   /* ordered by equipment, then id */
	size_t n, cap;
} report_model;

/* Appends a message (the strings are copied; NULL counts as ""). 0, or -1. */
int report_model_add(report_model *r, const report_message *m);
void report_model_free(report_model *r);

/* 0 when "table", "csv", "json" or "html" (sets *f), else -1. */
int report_format_parse(const char *s, report_format *f);
/* Writes the report; 0, or -1 on a write error. */
int report_write(const report_model *r, report_format f, FILE *out);

/* s with &, <, >, ", ' as entities, into out (always terminated; truncated). */
void report_html_escape(const char *s, FILE *out);

#endif
