/*
 * sms-db: database administration for the SMS services.
 *
 *   sms-db migrate --conninfo C [--sql-dir D]   apply pending migrations
 *   sms-db version --conninfo C                 print the schema version
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "common/db_migrate.h"

#ifndef SMS_SQL_DIR
#define SMS_SQL_DIR "/usr/local/share/sms/sql"
#endif

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-db migrate --conninfo CONNINFO [--sql-dir DIR]\n"
	        "       sms-db version --conninfo CONNINFO\n"
	        "\n"
	        "  migrate   apply the pending sql/NNN_*.sql migrations, each in one\n"
	        "            transaction; running it again is a no-op\n"
	        "  version   print the highest applied schema version (0: empty)\n"
	        "\n"
	        "  --conninfo C  libpq connection string (\"host=... dbname=...\")\n"
	        "  --sql-dir D   migrations directory (default %s)\n"
	        "  --help        this text\n", SMS_SQL_DIR);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "conninfo", required_argument, NULL, 'c' },
		{ "sql-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conninfo = NULL, *sql_dir = SMS_SQL_DIR, *cmd;
	char err[512];
	PGconn *conn = NULL;
	int opt, rc = 1, n;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': conninfo = optarg; break;
		case 'd': sql_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "sms-db: expected one command (migrate or version); see --help\n");
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "version") != 0) {
		fprintf(stderr, "sms-db: unknown command '%s'; see --help\n", cmd);
		return 2;
	}
	if (conninfo == NULL) {
		fprintf(stderr, "sms-db: --conninfo is required\n");
		return 2;
	}
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "sms-db: cannot connect: %s", PQerrorMessage(conn));
		goto out;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	if (strcmp(cmd, "version") == 0) {
		n = db_schema_version(conn, err, sizeof err);
		if (n < 0) {
			fprintf(stderr, "sms-db: %s\n", err);
			goto out;
		}
		printf("%d\n", n);
		rc = 0;
		goto out;
	}
	n = db_migrate(conn, sql_dir, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "sms-db: %s\n", err);
		goto out;
	}
	printf("sms-db: %d migration%s applied, schema version %d\n", n, n == 1 ? "" : "s",
	       db_schema_version(conn, err, sizeof err));
	rc = 0;
out:
	PQfinish(conn);
	return rc;
}
