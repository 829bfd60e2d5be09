#!/bin/sh
# The compose deployment's one-shot database step (service "migrate"):
# migrations and least-privilege roles as the schema owner, then the login
# role sms-snapshotd uses, with the password from its secret. Runs again
# harmlessly on every `docker compose up` (README.md "Database setup").
set -eu
conninfo="host=postgres dbname=sms user=sms_owner"
PGPASSWORD=$(cat /run/secrets/pg_owner_password)
export PGPASSWORD
sms-db migrate --conninfo "$conninfo"
sms-db roles --conninfo "$conninfo"
pw=$(cat /run/secrets/snapshotd_db_password)
psql "$conninfo" -v ON_ERROR_STOP=1 -v pw="$pw" -q <<'SQL'
SELECT 'CREATE ROLE snapshotd LOGIN IN ROLE sms_snapshotd'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'snapshotd') \gexec
ALTER ROLE snapshotd PASSWORD :'pw';
SQL
echo "db-setup: schema version $(sms-db version --conninfo "$conninfo"), role snapshotd ready"
