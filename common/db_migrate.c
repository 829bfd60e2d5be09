/* Schema migrations; contract in db_migrate.h. */
#include "common/db_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#define MIGRATION_MAX_BYTES (1024 * 1024)
#define MIGRATION_LOCK_KEY "7403120001"   /* pg_advisory_lock key, any constant */

static int is_migration_name(const char *name)
{
	size_t n = strlen(name), i;

	if (n < 9 || strcmp(name + n - 4, ".sql") != 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	if (name[3] != '_')
		return 0;
	for (i = 4; i < n - 4; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	return 1;
}

static int select_migration(const struct dirent *d)
{
	return is_migration_name(d->d_name);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(MIGRATION_MAX_BYTES + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	n = fread(buf, 1, MIGRATION_MAX_BYTES + 1, f);
	if (ferror(f) || n > MIGRATION_MAX_BYTES) {
		snprintf(err, errlen, "cannot read %s: %s", path, ferror(f) ? "read error" : "larger than 1 MiB");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {
		snprintf(err, errlen, "%s contains a NUL byte", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = n;
out:
	fclose(f);
	return buf;
}

static int sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Runs sql and expects cmd_ok/tuples_ok; reports the server's message. */
static int exec_ok(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static const char schema_migrations_ddl[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version integer PRIMARY KEY,"
	" name text NOT NULL,"
	" sha256 text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

int db_schema_version(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res;
	int v = -1;

	res = PQexec(conn, "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0"
	                   " ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(err, errlen, "reading schema version: %s", PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		goto out;
	}
	v = atoi(PQgetvalue(res, 0, 0));
out:
	PQclear(res);
	return v;
}

/* Looks up version: 1 and *sha filled when applied, 0 when not, -1 on error. */
static int applied_sha(PGconn *conn, int version, char sha[65], char *err, size_t errlen)
{
	char vbuf[16];
	const char *params[1] = { vbuf };
	PGresult *res;
	int rc = -1;

	snprintf(vbuf, sizeof vbuf, "%d", version);
	res = PQexecParams(conn, "SELECT sha256 FROM schema_migrations WHERE version = $1",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading schema_migrations: %s", PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		goto out;
	}
	rc = PQntuples(res) == 1;
	if (rc)
		snprintf(sha, 65, "%s", PQgetvalue(res, 0, 0));
out:
	PQclear(res);
	return rc;
}

static int apply_one(PGconn *conn, int version, const char *name, const char *sql,
                     const char *sha, char *err, size_t errlen)
{
	char vbuf[16], what[300];
	const char *params[3] = { vbuf, name, sha };
	PGresult *res;

	snprintf(vbuf, sizeof vbuf, "%d", version);
	snprintf(what, sizeof what, "migration %s", name);
	if (exec_ok(conn, "BEGIN", what, err, errlen) != 0)
		return -1;
	if (exec_ok(conn, sql, what, err, errlen) != 0)
		goto rollback;
	res = PQexecParams(conn, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
	                   3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s: recording version: %s", what, PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	return exec_ok(conn, "COMMIT", what, err, errlen);
rollback:
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

static int migrate_locked(PGconn *conn, const char *sql_dir, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	int n, i, applied = 0, last = 0, known_max;
	char path[4096], sha[65], have[65];
	char *sql = NULL;
	size_t len;

	if (exec_ok(conn, schema_migrations_ddl, "creating schema_migrations", err, errlen) != 0)
		return -1;
	n = scandir(sql_dir, &names, select_migration, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "cannot list %s: %s", sql_dir, strerror(errno));
		return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "no migrations (NNN_name.sql) in %s", sql_dir);
		applied = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		int version = atoi(name), r;

		if (version != last + 1) {
			snprintf(err, errlen, "%s: expected version %03d (gap or duplicate)", name, last + 1);
			applied = -1;
			goto out;
		}
		last = version;
		snprintf(path, sizeof path, "%s/%s", sql_dir, name);
		free(sql);
		sql = read_file(path, &len, err, errlen);
		if (sql == NULL || sha256_hex(sql, len, sha) != 0) {
			if (sql != NULL)
				snprintf(err, errlen, "%s: SHA-256 failed", path);
			applied = -1;
			goto out;
		}
		r = applied_sha(conn, version, have, err, errlen);
		if (r < 0) {
			applied = -1;
			goto out;
		}
		if (r == 1) {
			if (strcmp(have, sha) != 0) {
				snprintf(err, errlen, "%s was changed after it was applied (sha256 %.12s..., applied %.12s...)",
				         name, sha, have);
				applied = -1;
				goto out;
			}
			continue;
		}
		if (apply_one(conn, version, name, sql, sha, err, errlen) != 0) {
			applied = -1;
			goto out;
		}
		applied++;
	}
	known_max = db_schema_version(conn, err, errlen);
	if (known_max < 0) {
		applied = -1;
	} else if (known_max > last) {
		snprintf(err, errlen, "database is at schema version %d, newer than the %d migrations in %s",
		         known_max, last, sql_dir);
		applied = -1;
	}
out:
	free(sql);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return applied;
}

int db_migrate(PGconn *conn, const char *sql_dir, char *err, size_t errlen)
{
	int applied;
	char unlock_err[256];

	if (exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", "taking migration lock",
	            err, errlen) != 0)
		return -1;
	applied = migrate_locked(conn, sql_dir, err, errlen);
	if (exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", "releasing migration lock",
	            unlock_err, sizeof unlock_err) != 0 && applied >= 0) {
		snprintf(err, errlen, "%s", unlock_err);
		applied = -1;
	}
	return applied;
}
