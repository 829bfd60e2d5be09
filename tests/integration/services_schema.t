#!/usr/bin/env bash
# sql/ migrations through sms-db, and the storage functions they define,
# against a private PostgreSQL.
source "$(dirname "$0")/../harness/harness.sh"
harness_init
harness_pg_start
DB="$H_BIN/sms-db"
[ -x "$DB" ] || harness_die "$DB not built"
q() { psql -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

out=$("$DB" migrate --conninfo "$H_PG_CONNINFO" --sql-dir "$H_ROOT/sql" 2>&1)
tap_is "$?" 0 "sms-db migrate applies the migrations ($out)"
nfiles=$(ls "$H_ROOT"/sql/[0-9][0-9][0-9]_*.sql | wc -l)
tap_is "$("$DB" version --conninfo "$H_PG_CONNINFO")" "$nfiles" "schema version is the number of migration files"
out=$("$DB" migrate --conninfo "$H_PG_CONNINFO" --sql-dir "$H_ROOT/sql" 2>&1)
tap_is "$out" "sms-db: 0 migrations applied, schema version $nfiles" "re-running migrate is a no-op"
tap_is "$(q "select count(*) from schema_migrations")" "$nfiles" "one schema_migrations row per file"

# A migration edited after it was applied is refused, not silently skipped.
tmp=$H_DIR/sql; mkdir -p "$tmp"; cp "$H_ROOT"/sql/*.sql "$tmp"/
echo "-- edited" >>"$tmp/001_snapshot_schema.sql"
tap_check_fails "an applied migration whose file changed is refused" \
	"$DB" migrate --conninfo "$H_PG_CONNINFO" --sql-dir "$tmp"
out=$("$DB" migrate --conninfo "$H_PG_CONNINFO" --sql-dir "$tmp" 2>&1)
case "$out" in *"001_snapshot_schema.sql was changed"*) tap_ok "the refusal names the file";;
	*) tap_not_ok "the refusal names the file: $out";; esac
# A failing migration rolls back completely.
cp "$H_ROOT"/sql/*.sql "$tmp"/
n2=$(printf '%03d' $((nfiles + 1)))
printf 'CREATE TABLE t_half_done (x int);\nSELECT 1/0;\n' >"$tmp/${n2}_broken.sql"
tap_check_fails "a failing migration makes sms-db fail" "$DB" migrate --conninfo "$H_PG_CONNINFO" --sql-dir "$tmp"
tap_is "$(q "select to_regclass('t_half_done') is null")" t "a failing migration leaves nothing behind"
tap_is "$("$DB" version --conninfo "$H_PG_CONNINFO")" "$nfiles" "version unchanged after a failing migration"
tap_check_fails "sms-db without --conninfo fails" "$DB" migrate
tap_check "sms-db --help" "$DB" --help

# The ingest function: one call stores a snapshot with its dimensions.
ingest() { # digest-hex seq eq units...
	q "select outcome || ':' || (snapshot_id is not null) from sms_ingest_snapshot('\\x$1'::bytea, 'm/a/$3/snapshots',
	   'm', 'a', '$3', 'FM', '2026-11-21T10:00:0${2}Z', $2, 'CN=$3',
	   array['engine','filter'], array['hours','state'], array['$4',''],
	   array[12345.5, null]::float8[], array[null, 'ok'])"
}
d1=$(printf 'a%.0s' $(seq 64)); d2=$(printf 'b%.0s' $(seq 64)); d3=$(printf 'c%.0s' $(seq 64))
d4=$(printf 'd%.0s' $(seq 64))
tap_is "$(ingest "$d1" 1 EQ1 h)" "stored:true" "sms_ingest_snapshot stores a snapshot"
tap_is "$(ingest "$d1" 1 EQ1 h)" "duplicate:true" "the same digest again is a duplicate"
tap_is "$(ingest "$d2" 1 EQ1 h)" "duplicate:true" "a new digest for the same device, taken_at and seq is a duplicate"
tap_is "$(ingest "$d3" 2 EQ1 h)" "stored:true" "the next snapshot is stored"
tap_is "$(q "select count(*) from t_snapshot")" 2 "two snapshots"
tap_is "$(q "select string_agg(coalesce(value_num::text, value_text), ',' order by channel_id) from t_snapshot_values v
            join t_snapshot s on s.id = v.snapshot_id where s.seq = 2")" "12345.5,ok" "values stored typed"
tap_is "$(q "select count(*) from t_ingest_log where snapshot_id is not null")" 3 "each digest points at its snapshot"
out=$(ingest "$d4" 3 EQ1 bar 2>&1)
case "$out" in *"unit mismatch"*) tap_ok "a unit that contradicts the channel is refused (SMS01)";;
	*) tap_not_ok "unit mismatch refused: $out";; esac
tap_is "$(q "select count(*) from t_ingest_log where digest = '\\x$d4'")" 0 "a refused snapshot leaves no ingest-log row"

# Channel layouts (006): the second snapshot of a channel list takes its ids
# from t_channel_layout instead of resolving names, and stores the same rows.
tap_is "$(q "select count(*) || ':' || min(cardinality(channel_ids)) from t_channel_layout")" "1:2" \
	"one layout recorded for the channel list, with one id per channel"
tap_is "$(q "select count(distinct v) from (select s.seq, string_agg(channel_id || '=' || coalesce(value_num::text, value_text), ','
             order by channel_id) v from t_snapshot_values x join t_snapshot s on s.id = x.snapshot_id group by s.seq) y")" 1 \
	"a snapshot stored through its layout has the same rows as the one that resolved the names"
d5=$(printf '5%.0s' $(seq 64))
tap_is "$(q "select outcome from sms_ingest_snapshot('\\x$d5'::bytea, 'm/a/EQ1/snapshots', 'm', 'a', 'EQ1', 'FM',
           '2026-11-21T10:00:05Z', 5, 'CN=EQ1', array['filter','engine'], array['state','hours'], array['','h'],
           array[null, 777]::float8[], array['worn', null])")" stored "the same channels in another order are stored"
tap_is "$(q "select count(*) from t_channel_layout")" 2 "another order is another layout"
tap_is "$(q "select string_agg(coalesce(value_num::text, value_text), ',' order by channel_id) from t_snapshot_values v
            join t_snapshot s on s.id = v.snapshot_id where s.seq = 5")" "777,worn" "each value lands on its own channel"
q "update t_channel_layout set channel_ids = array[-1, -2] where cardinality(channel_ids) = 2" >/dev/null
q "select sms_ingest_snapshot('\\x$(printf '6%.0s' $(seq 64))'::bytea, 'm/a/EQ1/snapshots', 'm', 'a', 'EQ1', 'FM',
   '2026-11-21T10:00:06Z', 6, 'CN=EQ1', array['engine','filter'], array['hours','state'], array['h',''],
   array[1, null]::float8[], array[null, 'ok'])" >/dev/null
tap_is "$(q "select string_agg(channel_id::text, ',' order by channel_id) from t_snapshot_values v
            join t_snapshot s on s.id = v.snapshot_id where s.seq = 6")" "-2,-1" "a known layout is read, not the names (ids taken from it)"
q "delete from t_snapshot_values where channel_id < 0; delete from t_channel_layout" >/dev/null
q "select count(*) from (select sms_ingest_snapshot(sha256(i::text::bytea), 'm/a/EQL/snapshots', 'm', 'a', 'EQL', 'LT',
   '2026-11-21T10:00:00Z'::timestamptz + i * interval '1 s', i, 'CN=EQL', array['g'], array['c' || i], array[''],
   array[i]::float8[], array[null]::text[]) from generate_series(1, 70) i) x" >/dev/null
tap_is "$(q "select count(distinct s.id) || ':' || (select count(*) from t_channel_layout l join t_device_type t
             on t.id = l.device_type_id where t.name = 'LT') from t_snapshot s join t_device d on d.id = s.device_id
             where d.equipment = 'EQL'")" "70:64" "70 channel lists of one device type: all stored, 64 layouts kept"
tap_is "$(q "select relname from pg_class c join pg_inherits i on i.inhrelid = c.oid
            join t_snapshot s on true join t_snapshot_values v on v.snapshot_id = s.id and v.tableoid = c.oid
            where s.seq = 2 limit 1")" "t_snapshot_values_202611" "values land in their monthly partition"

# Dead letters are recorded once per digest.
dl() { q "select sms_dead_letter('\\x$1'::bytea, 'm/a/EQ1/snapshots', '\\x0102'::bytea, 'schema', 'x') is not null"; }
e1=$(printf 'e%.0s' $(seq 64))
tap_is "$(dl "$e1")" t "sms_dead_letter records a rejection"
tap_is "$(dl "$e1")" f "the same rejected payload again is not recorded twice"
tap_is "$(q "select reason || ':' || encode(payload, 'hex') from t_dead_letter")" "schema:0102" "dead letter keeps reason and raw payload"

# Partitions: a month far away is created on demand; old months drop cheaply.
tap_is "$(q "select sms_ensure_partition('2031-05-17T00:00:00Z')")" t "sms_ensure_partition creates a month"
tap_is "$(q "select to_regclass('t_snapshot_values_203105') is not null")" t "partition t_snapshot_values_203105 exists"
tap_check "a month partition can be dropped" q "drop table t_snapshot_values_203105"
tap_done
