/* The SQLite store; contract in audit_store.h. */
#include "services/audit/audit_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000

struct audit_store {
	sqlite3 *db;
	sqlite3_stmt *find, *bump, *last, *insert, *derive, *receipt;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT OR IGNORE INTO meta VALUES('schema', '1');"
	"CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, received_at TEXT NOT NULL,"
	" topic TEXT NOT NULL, payload BLOB NOT NULL, digest BLOB NOT NULL, qos INTEGER NOT NULL,"
	" retain INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 1, chain BLOB NOT NULL,"
	" UNIQUE(topic, digest));"
	"CREATE INDEX IF NOT EXISTS messages_digest ON messages(digest);"
	"CREATE TABLE IF NOT EXISTS derived(message_id INTEGER PRIMARY KEY REFERENCES messages(id),"
	" kind TEXT NOT NULL, equipment TEXT NOT NULL, originator TEXT NOT NULL, recipients TEXT NOT NULL,"
	" for_us INTEGER NOT NULL, seq INTEGER NOT NULL, taken_at TEXT NOT NULL, signed_at TEXT NOT NULL,"
	" content TEXT, findings TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS derived_equipment ON derived(equipment, kind);"
	"CREATE TABLE IF NOT EXISTS receipted(message_id INTEGER NOT NULL REFERENCES messages(id),"
	" digest BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS receipted_digest ON receipted(digest);";

static int fail(audit_store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "store: %s: %s", what, s->db ? sqlite3_errmsg(s->db) : "out of memory");
	return -1;
}

static int prepare(audit_store *s, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return fail(s, err, errlen, "prepare");
	return 0;
}

audit_store *store_open(const char *path, int readonly, char *err, size_t errlen)
{
	audit_store *s = calloc(1, sizeof *s);
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* FULL: a commit is on disk (WAL fsynced) when sqlite3_step returns. */
	if (sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK ||
	    (!readonly && sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)) {
		snprintf(err, errlen, "store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (readonly && sqlite3_exec(s->db, "SELECT 1 FROM messages, derived, receipted LIMIT 0", NULL, NULL,
	                             NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store %s: not an sms-audit store: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (readonly)
		return s;
	if (prepare(s, "SELECT id FROM messages WHERE topic = ?1 AND digest = ?2", &s->find, err, errlen) ||
	    prepare(s, "UPDATE messages SET deliveries = deliveries + 1 WHERE id = ?1", &s->bump, err, errlen) ||
	    prepare(s, "SELECT id, chain FROM messages ORDER BY id DESC LIMIT 1", &s->last, err, errlen) ||
	    prepare(s, "INSERT INTO messages(id, received_at, topic, payload, digest, qos, retain, chain)"
	            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &s->insert, err, errlen) ||
	    prepare(s, "INSERT INTO derived VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", &s->derive, err,
	            errlen) ||
	    prepare(s, "INSERT INTO receipted VALUES(?1, ?2)", &s->receipt, err, errlen))
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(audit_store *s)
{
	if (s == NULL)
		return;
	sqlite3_finalize(s->find);
	sqlite3_finalize(s->bump);
	sqlite3_finalize(s->last);
	sqlite3_finalize(s->insert);
	sqlite3_finalize(s->derive);
	sqlite3_finalize(s->receipt);
	sqlite3_close(s->db);
	free(s);
}

int store_chain_link(const unsigned char prev[STORE_DIGEST_LEN], long long id, const char *received_at,
                     const char *topic, const unsigned char digest[STORE_DIGEST_LEN],
                     unsigned char out[STORE_DIGEST_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char idb[8];
	unsigned int n = 0;
	int i, ok;

	for (i = 0; i < 8; i++)
		idb[i] = (unsigned char)((unsigned long long)id >> (56 - 8 * i));
	/* NUL-terminated texts: no two (received_at, topic) pairs hash alike. */
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, prev, STORE_DIGEST_LEN) == 1 && EVP_DigestUpdate(md, idb, sizeof idb) == 1 &&
	     EVP_DigestUpdate(md, received_at, strlen(received_at) + 1) == 1 &&
	     EVP_DigestUpdate(md, topic, strlen(topic) + 1) == 1 &&
	     EVP_DigestUpdate(md, digest, STORE_DIGEST_LEN) == 1 && EVP_DigestFinal_ex(md, out, &n) == 1 &&
	     n == STORE_DIGEST_LEN;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static store_put_result step_result(audit_store *s, int rc, char *err, size_t errlen, const char *what)
{
	fail(s, err, errlen, what);
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL ?
	       STORE_PUT_RETRY : STORE_PUT_FAILED;
}

static int exec_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

/* The derived rows of a new message (inside the open transaction). */
static int put_derived(audit_store *s, long long id, const analysis *a)
{
	char *findings = analysis_findings_text(a);
	size_t i;
	int rc = SQLITE_NOMEM;

	if (findings == NULL)
		return rc;
	sqlite3_bind_int64(s->derive, 1, id);
	bind_text(s->derive, 2, a->kind);
	bind_text(s->derive, 3, a->equipment);
	bind_text(s->derive, 4, a->originator);
	bind_text(s->derive, 5, a->recipients);
	sqlite3_bind_int(s->derive, 6, a->for_us);
	sqlite3_bind_int64(s->derive, 7, a->seq);
	bind_text(s->derive, 8, a->taken_at);
	bind_text(s->derive, 9, a->signed_at);
	if (a->content != NULL)
		sqlite3_bind_text(s->derive, 10, a->content, (int)a->content_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s->derive, 10);
	bind_text(s->derive, 11, findings);
	rc = exec_step(s->derive);
	free(findings);
	for (i = 0; i < a->n_digests && rc == SQLITE_DONE; i++) {
		sqlite3_bind_int64(s->receipt, 1, id);
		sqlite3_bind_blob(s->receipt, 2, a->digests[i], RECEIPT_DIGEST_LEN, SQLITE_STATIC);
		rc = exec_step(s->receipt);
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_new(audit_store *s, const char *topic, const unsigned char *payload, size_t len, int qos,
                      int retain, const char *at, const unsigned char *digest, const analysis *a)
{
	unsigned char prev[STORE_DIGEST_LEN] = { 0 }, chain[STORE_DIGEST_LEN];
	long long id = 1;
	int rc = sqlite3_step(s->last);

	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s->last, 0) + 1;
		if (sqlite3_column_bytes(s->last, 1) == STORE_DIGEST_LEN)
			memcpy(prev, sqlite3_column_blob(s->last, 1), STORE_DIGEST_LEN);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(s->last);
	if (rc != SQLITE_DONE)
		return rc;
	if (store_chain_link(prev, id, at, topic, digest, chain) != 0)
		return SQLITE_NOMEM;
	sqlite3_bind_int64(s->insert, 1, id);
	bind_text(s->insert, 2, at);
	bind_text(s->insert, 3, topic);
	if (len > 0)
		sqlite3_bind_blob(s->insert, 4, payload, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob(s->insert, 4, 0);
	sqlite3_bind_blob(s->insert, 5, digest, STORE_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int(s->insert, 6, qos);
	sqlite3_bind_int(s->insert, 7, retain);
	sqlite3_bind_blob(s->insert, 8, chain, STORE_DIGEST_LEN, SQLITE_STATIC);
	rc = exec_step(s->insert);
	if (rc != SQLITE_DONE)
		return rc;
	return put_derived(s, id, a);
}

store_put_result store_put(audit_store *s, const char *topic, const unsigned char *payload, size_t len, int qos,
                           int retain, time_t received, const analysis *a, char *err, size_t errlen)
{
	unsigned char digest[STORE_DIGEST_LEN];
	unsigned int dlen = 0;
	char at[24];
	struct tm tm;
	int rc, dup = 0;

	if (EVP_Digest(payload, len, digest, &dlen, EVP_sha256(), NULL) != 1 || gmtime_r(&received, &tm) == NULL) {
		snprintf(err, errlen, "store: SHA-256 or time failed");
		return STORE_PUT_RETRY;
	}
	strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* IMMEDIATE: the write lock first, so the chain's last row cannot change under us. */
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return step_result(s, rc, err, errlen, "begin");
	bind_text(s->find, 1, topic);
	sqlite3_bind_blob(s->find, 2, digest, STORE_DIGEST_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s->find);
	if (rc == SQLITE_ROW) {
		dup = 1;
		sqlite3_bind_int64(s->bump, 1, sqlite3_column_int64(s->find, 0));
		sqlite3_reset(s->find);
		rc = exec_step(s->bump) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	} else {
		sqlite3_reset(s->find);
		rc = rc == SQLITE_DONE ? insert_new(s, topic, payload, len, qos, retain, at, digest, a) : rc;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_put_result r = step_result(s, rc, err, errlen, "commit");

		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return dup ? STORE_PUT_DUPLICATE : STORE_PUT_NEW;
}

/* ------------------------------------------------------------ readers */

int store_each_raw(audit_store *s, int (*fn)(void *ud, const store_raw *m), void *ud, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	if (prepare(s, "SELECT id, received_at, topic, payload, digest, chain FROM messages ORDER BY id", &st, err,
	            errlen) != 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_raw m = {
			.id = sqlite3_column_int64(st, 0),
			.received_at = (const char *)sqlite3_column_text(st, 1),
			.topic = (const char *)sqlite3_column_text(st, 2),
			.payload = sqlite3_column_blob(st, 3),
			.len = (size_t)sqlite3_column_bytes(st, 3),
			.digest = sqlite3_column_blob(st, 4),
			.digest_len = (size_t)sqlite3_column_bytes(st, 4),
			.chain = sqlite3_column_blob(st, 5),
			.chain_len = (size_t)sqlite3_column_bytes(st, 5),
		};
		if (m.received_at == NULL)
			m.received_at = "";
		if (m.topic == NULL)
			m.topic = "";
		if ((r = fn(ud, &m)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail(s, err, errlen, "reading messages");
	sqlite3_finalize(st);
	return r;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t ? t : "";
}

char *store_derived_canonical(audit_store *s, long long id)
{
	sqlite3_stmt *st = NULL;
	char *out = NULL;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT kind, equipment, originator, recipients, for_us, seq, taken_at, signed_at,"
	                       " content, findings, (SELECT coalesce(group_concat(h, ''), '') FROM (SELECT"
	                       " lower(hex(digest)) || char(10) AS h FROM receipted WHERE message_id = ?1"
	                       " ORDER BY rowid)) FROM derived WHERE message_id = ?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		out = analysis_canonical(col(st, 0), col(st, 1), col(st, 2), col(st, 3), sqlite3_column_int(st, 4),
		                         sqlite3_column_int64(st, 5), col(st, 6), col(st, 7), col(st, 8), col(st, 9),
		                         col(st, 10));
	sqlite3_finalize(st);
	return out;
}

int store_read_begin(audit_store *s, char *err, size_t errlen)
{
	/* A deferred transaction takes its snapshot at the first read. */
	if (sqlite3_exec(s->db, "BEGIN; SELECT count(*) FROM messages;", NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, err, errlen, "begin");
	return 0;
}

void store_read_end(audit_store *s)
{
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

long long store_count(audit_store *s, const char *table)
{
	char sql[80];
	sqlite3_stmt *st = NULL;
	long long n = -1;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* ?1 device, ?2 since, ?3 the time before which a snapshot must be receipted. */
static const char report_sql[] =
	"SELECT m.id, m.received_at, m.topic, d.equipment, d.kind, d.originator, d.recipients, d.taken_at,"
	" lower(hex(m.digest)), d.seq, length(m.payload), m.deliveries, d.findings,"
	" CASE WHEN d.kind <> 'snapshot' THEN ''"
	"  WHEN EXISTS (SELECT 1 FROM receipted r JOIN derived rd ON rd.message_id = r.message_id"
	"   WHERE r.digest = m.digest AND rd.equipment = d.equipment) THEN 'yes'"
	"  WHEN m.received_at > ?3 THEN 'pending' ELSE 'no' END,"
	" CASE WHEN d.kind = 'receipt' AND m.received_at <= ?3 THEN (SELECT group_concat(lower(hex(r.digest)), ' ')"
	"  FROM receipted r WHERE r.message_id = m.id AND NOT EXISTS (SELECT 1 FROM messages m2"
	"   WHERE m2.digest = r.digest AND m2.topic = d.equipment || '/snapshots')) END"
	" FROM messages m JOIN derived d ON d.message_id = m.id"
	" WHERE (?1 IS NULL OR d.equipment = ?1 OR substr(d.equipment, -length(?1) - 1) = '/' || ?1)"
	"  AND (?2 IS NULL OR m.received_at >= ?2)"
	" ORDER BY d.equipment, m.id";

static void bind_filter(sqlite3_stmt *st, const store_filter *f)
{
	char cutoff[24];
	time_t t = f->now - (time_t)f->grace;
	struct tm tm;

	if (f->device)
		sqlite3_bind_text(st, 1, f->device, -1, SQLITE_TRANSIENT);
	if (f->since)
		sqlite3_bind_text(st, 2, f->since, -1, SQLITE_TRANSIENT);
	if (gmtime_r(&t, &tm) == NULL || strftime(cutoff, sizeof cutoff, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(cutoff, sizeof cutoff, "0000");
	sqlite3_bind_text(st, 3, cutoff, -1, SQLITE_TRANSIENT);
}

/* Stored findings plus the cross-message ones of this row (malloc'd). */
static char *row_findings(sqlite3_stmt *st)
{
	const char *stored = col(st, 12), *receipted = col(st, 13), *unseen = col(st, 14);
	size_t len = strlen(stored) + strlen(unseen) + 200;
	char *s = malloc(len);
	size_t off;

	if (s == NULL)
		return NULL;
	off = (size_t)snprintf(s, len, "%s", stored);
	if (strcmp(receipted, "no") == 0)
		off += (size_t)snprintf(s + off, len - off,
		                        "never_receipted: no verified receipt from the vendor lists this snapshot\n");
	if (*unseen)
		snprintf(s + off, len - off, "receipt_unseen: receipt for snapshot(s) never seen here: %s\n", unseen);
	return s;
}

int store_load_report(audit_store *s, const store_filter *f, report_model *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	if (prepare(s, report_sql, &st, err, errlen) != 0)
		return -1;
	bind_filter(st, f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *findings = row_findings(st);
		report_message m = {
			.id = sqlite3_column_int64(st, 0), .received_at = (char *)col(st, 1), .topic = (char *)col(st, 2),
			.equipment = (char *)col(st, 3), .kind = (char *)col(st, 4), .originator = (char *)col(st, 5),
			.recipients = (char *)col(st, 6), .taken_at = (char *)col(st, 7), .digest = (char *)col(st, 8),
			.seq = sqlite3_column_int64(st, 9), .size = sqlite3_column_int64(st, 10),
			.deliveries = sqlite3_column_int64(st, 11), .receipted = (char *)col(st, 13),
			.findings = findings,
		};

		if (findings == NULL || report_model_add(out, &m) != 0) {
			free(findings);
			snprintf(err, errlen, "out of memory");
			r = -1;
			break;
		}
		free(findings);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail(s, err, errlen, "report query");
	sqlite3_finalize(st);
	return r;
}

int store_each_snapshot(audit_store *s, const store_filter *f,
                        int (*fn)(void *ud, const char *equipment, const char *received_at, const char *digest,
                                  const char *findings, const char *json),
                        void *ud, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	if (prepare(s, "SELECT d.equipment, m.received_at, lower(hex(m.digest)), d.findings, d.content"
	            " FROM messages m JOIN derived d ON d.message_id = m.id"
	            " WHERE d.kind = 'snapshot' AND d.content IS NOT NULL"
	            "  AND (?1 IS NULL OR d.equipment = ?1 OR substr(d.equipment, -length(?1) - 1) = '/' || ?1)"
	            "  AND (?2 IS NULL OR m.received_at >= ?2) ORDER BY m.id", &st, err, errlen) != 0)
		return -1;
	bind_filter(st, f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = fn(ud, col(st, 0), col(st, 1), col(st, 2), col(st, 3), col(st, 4))) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = fail(s, err, errlen, "export query");
	sqlite3_finalize(st);
	return r;
}
