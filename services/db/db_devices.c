/* sms-db devices; contract in db_devices.h. */
#include "services/db/db_devices.h"

#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include <libpq-fe.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/x509_util.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char devices_sql[] =
	"SELECT m.name, a.name, d.equipment, t.name, " ISO("d.first_seen") ", " ISO("d.last_seen") ", "
	ISO("d.last_taken_at") ", (SELECT count(*) FROM t_snapshot s WHERE s.device_id = d.id), "
	"d.cert_serial, d.cert_issuer, " ISO("d.cert_not_after")
	"  FROM t_device d JOIN t_account a ON a.id = d.account_id"
	"  JOIN t_master_account m ON m.id = a.master_account_id"
	"  JOIN t_device_type t ON t.id = d.device_type_id"
	" ORDER BY m.name, a.name, d.equipment";

enum { C_MA, C_ACC, C_EQ, C_TYPE, C_FIRST, C_LAST, C_TAKEN, C_COUNT, C_SERIAL, C_ISSUER, C_NOT_AFTER, N_COLS };

static const char *const col_names[N_COLS] = { "master_account", "account", "equipment", "device_type",
	"first_seen", "last_seen", "last_snapshot", "snapshots", "cert_serial", "cert_issuer", "cert_not_after" };

typedef struct {
	STACK_OF(X509_CRL) *crls;
	int given;
} crl_list;

static int load_crls(const char *const *files, size_t n, crl_list *out, char *err, size_t errlen)
{
	size_t i;
	int j;

	out->given = n > 0;
	out->crls = sk_X509_CRL_new_null();
	if (out->crls == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		STACK_OF(X509_INFO) *infos = NULL;
		int found = 0;

		if (x509_read_pem(files[i], &infos, err, errlen) != 0)
			return -1;
		for (j = 0; j < sk_X509_INFO_num(infos); j++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, j);

			if (xi->crl == NULL)
				continue;
			if (!sk_X509_CRL_push(out->crls, xi->crl)) {
				sk_X509_INFO_pop_free(infos, X509_INFO_free);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			xi->crl = NULL; /* now ours */
			found = 1;
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		if (!found) {
			snprintf(err, errlen, "--crl %s: no CRL in the file", files[i]);
			return -1;
		}
	}
	return 0;
}

/* "yes", "no", or "unknown" (no certificate recorded, or no CRL of its issuer); NULL without --crl. */
static const char *revoked(const crl_list *l, const char *serial_hex, const char *issuer)
{
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	const char *verdict = "unknown";
	char name[512];
	int i;

	if (!l->given)
		return NULL;
	if (serial_hex == NULL || issuer == NULL || BN_hex2bn(&bn, serial_hex) == 0 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	for (i = 0; i < sk_X509_CRL_num(l->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(l->crls, i);
		X509_REVOKED *rev = NULL;

		x509_name_string(X509_CRL_get_issuer(crl), name, sizeof name);
		if (strcmp(name, issuer) != 0)
			continue;
		if (X509_CRL_get0_by_serial(crl, &rev, serial) == 1) {
			verdict = "yes";
			break;
		}
		verdict = "no";
	}
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return verdict;
}

static const char *cell(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void csv_field(FILE *out, const char *v, int last)
{
	const char *p;

	if (v != NULL && strpbrk(v, ",\"\r\n") != NULL) {
		fputc('"', out);
		for (p = v; *p; p++) {
			if (*p == '"')
				fputc('"', out);
			fputc(*p, out);
		}
		fputc('"', out);
	} else if (v != NULL) {
		fputs(v, out);
	}
	fputc(last ? '\n' : ',', out);
}

static void print_csv(PGresult *res, const crl_list *l, FILE *out)
{
	int r, c;

	for (c = 0; c < N_COLS; c++)
		csv_field(out, col_names[c], 0);
	csv_field(out, "revoked", 1);
	for (r = 0; r < PQntuples(res); r++) {
		for (c = 0; c < N_COLS; c++)
			csv_field(out, cell(res, r, c), 0);
		csv_field(out, revoked(l, cell(res, r, C_SERIAL), cell(res, r, C_ISSUER)), 1);
	}
}

static const char *dash(const char *v)
{
	return v != NULL ? v : "-";
}

static void print_table(PGresult *res, const crl_list *l, FILE *out)
{
	char dev[200];
	int r;

	fprintf(out, "%-34s %-6s %-20s %-20s %-20s %9s %-20s %-20s %s\n", "device", "type", "first_seen", "last_seen",
	        "last_snapshot", "snapshots", "cert_serial", "cert_not_after", "revoked");
	for (r = 0; r < PQntuples(res); r++) {
		const char *rv = revoked(l, cell(res, r, C_SERIAL), cell(res, r, C_ISSUER));

		snprintf(dev, sizeof dev, "%s/%s/%s", cell(res, r, C_MA), cell(res, r, C_ACC), cell(res, r, C_EQ));
		fprintf(out, "%-34s %-6s %-20s %-20s %-20s %9s %-20s %-20s %s\n", dev, cell(res, r, C_TYPE),
		        dash(cell(res, r, C_FIRST)), dash(cell(res, r, C_LAST)), dash(cell(res, r, C_TAKEN)),
		        cell(res, r, C_COUNT), dash(cell(res, r, C_SERIAL)), dash(cell(res, r, C_NOT_AFTER)),
		        rv != NULL ? rv : "(no --crl)");
	}
}

static int print_json(PGresult *res, const crl_list *l, FILE *out, char *err, size_t errlen)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	char *text = NULL;
	int r, c, ok = arr != NULL;

	for (r = 0; ok && r < PQntuples(res); r++) {
		const char *rv = revoked(l, cell(res, r, C_SERIAL), cell(res, r, C_ISSUER));

		ok = (o = cJSON_CreateObject()) != NULL && cJSON_AddItemToArray(arr, o);
		for (c = 0; ok && c < N_COLS; c++) {
			const char *v = cell(res, r, c);

			if (c == C_COUNT)
				ok = cJSON_AddNumberToObject(o, col_names[c], strtod(v, NULL)) != NULL;
			else
				ok = (v != NULL ? cJSON_AddStringToObject(o, col_names[c], v)
				                : cJSON_AddNullToObject(o, col_names[c])) != NULL;
		}
		if (ok)
			ok = (rv == NULL || strcmp(rv, "unknown") == 0 ? cJSON_AddNullToObject(o, "revoked")
			                                                : cJSON_AddBoolToObject(o, "revoked", strcmp(rv, "yes") == 0)) != NULL;
	}
	if (ok)
		ok = (text = cJSON_Print(arr)) != NULL;
	if (ok)
		fprintf(out, "%s\n", text);
	else
		snprintf(err, errlen, "out of memory building JSON");
	cJSON_free(text);
	cJSON_Delete(arr);
	return ok ? 0 : -1;
}

pg_class db_devices_print(pg_session *db, db_devices_format format, const char *const *crl_files, size_t n_crl_files,
                          FILE *out, char *err, size_t errlen)
{
	crl_list l = { NULL, 0 };
	PGresult *res = NULL;
	pg_class c = PG_SETUP;

	if (load_crls(crl_files, n_crl_files, &l, err, errlen) != 0)
		goto out;
	res = PQexec(pg_session_conn(db), devices_sql);
	c = pg_session_check(db, res, PGRES_TUPLES_OK, "listing devices", err, errlen);
	if (c != PG_OK)
		goto out;
	if (format == DB_DEVICES_CSV)
		print_csv(res, &l, out);
	else if (format == DB_DEVICES_JSON)
		c = print_json(res, &l, out, err, errlen) == 0 ? PG_OK : PG_SETUP;
	else
		print_table(res, &l, out);
out:
	PQclear(res);
	sk_X509_CRL_pop_free(l.crls, X509_CRL_free);
	return c;
}
