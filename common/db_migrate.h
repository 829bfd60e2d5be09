/*
 * Schema migrations: sql/NNN_<name>.sql applied in version order, each in its
 * own transaction together with its row in schema_migrations (version, name,
 * SHA-256 of the file). Re-running is a no-op; a file whose content changed
 * after it was applied is refused, as is a gap or a duplicate version.
 * Concurrent runners are serialised by an advisory lock.
 */
#ifndef SMS_DB_MIGRATE_H
#define SMS_DB_MIGRATE_H

#include <stddef.h>
#include <libpq-fe.h>

/* Applies every pending migration found in sql_dir. Returns the number
 * applied (0 when up to date) or -1 with a one-line reason in err. */
int db_migrate(PGconn *conn, const char *sql_dir, char *err, size_t errlen);

/* The highest applied version, 0 for an empty database, -1 on error. */
int db_schema_version(PGconn *conn, char *err, size_t errlen);

#endif
