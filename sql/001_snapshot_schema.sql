-- 001: snapshot data (thesis Fig. 5.4) plus accounts, ingest log, dead letters.
--
-- Applied by `sms-db migrate` (or `sms-snapshotd --migrate`) inside one
-- transaction; the runner records the version in schema_migrations.
--
-- Values: a snapshot value is either a number (operating hours, pressure) or
-- a short text (filter state "ok"). They get one typed column each instead of
-- a jsonb: numbers stay float8 so aggregates over a time range need no cast,
-- the row stays narrow (a NULL costs one bit), and a CHECK keeps exactly one
-- of the two set.

CREATE TABLE t_master_account (
	id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text NOT NULL UNIQUE,              -- opaque id, first topic level
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE t_account (
	id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	master_account_id integer NOT NULL REFERENCES t_master_account(id),
	name              text NOT NULL,             -- second topic level
	created_at        timestamptz NOT NULL DEFAULT now(),
	UNIQUE (master_account_id, name)
);

CREATE TABLE t_device_type (
	id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE
);

CREATE TABLE t_device (
	id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id     integer NOT NULL REFERENCES t_account(id),
	device_type_id integer NOT NULL REFERENCES t_device_type(id),
	equipment      text NOT NULL,                -- third topic level
	first_seen     timestamptz NOT NULL DEFAULT now(),
	UNIQUE (account_id, equipment)
);

CREATE TABLE t_unit (
	id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	symbol text NOT NULL UNIQUE                  -- '' for dimensionless / text channels
);

CREATE TABLE t_channel_group (
	id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE
);

-- A channel belongs to a device type (all filters of type FM report the same
-- channels); its unit is fixed by the first snapshot that reports it.
CREATE TABLE t_channel (
	id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	device_type_id integer NOT NULL REFERENCES t_device_type(id),
	group_id       integer NOT NULL REFERENCES t_channel_group(id),
	name           text NOT NULL,
	unit_id        integer NOT NULL REFERENCES t_unit(id),
	UNIQUE (device_type_id, group_id, name)
);

CREATE TABLE t_snapshot (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	device_id   integer NOT NULL REFERENCES t_device(id),
	taken_at    timestamptz NOT NULL,
	seq         bigint NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now(),
	originator  text NOT NULL,                   -- E2E certificate subject (RFC 2253)
	n_values    integer NOT NULL,
	-- A device that re-encrypts the same snapshot (new digest) is still one
	-- snapshot. The index also serves "latest snapshot per device" and "one
	-- device over a time range"; INCLUDE (id) makes both index-only scans.
	UNIQUE (device_id, taken_at, seq) INCLUDE (id)
);

-- Partitioned by time so a month of old data is dropped with DROP TABLE.
-- Monthly partitions are created by sms_ensure_partition(); rows outside
-- every partition land in the default partition instead of failing.
CREATE TABLE t_snapshot_values (
	snapshot_id bigint NOT NULL,
	taken_at    timestamptz NOT NULL,            -- copy of t_snapshot.taken_at: the partition key
	channel_id  integer NOT NULL,
	value_num   double precision,
	value_text  text,
	CHECK ((value_num IS NULL) <> (value_text IS NULL)),
	-- Serves both "values of one snapshot" and "one channel of one snapshot".
	PRIMARY KEY (snapshot_id, channel_id, taken_at)
) PARTITION BY RANGE (taken_at);

CREATE TABLE t_snapshot_values_default PARTITION OF t_snapshot_values DEFAULT;

-- Exactly-once: every message the daemon has finished with, accepted or
-- rejected, keyed by SHA-256 of the raw payload, written in the same
-- transaction as its effect.
CREATE TABLE t_ingest_log (
	digest         bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
	received_at    timestamptz NOT NULL DEFAULT now(),
	topic          text NOT NULL,
	snapshot_id    bigint REFERENCES t_snapshot(id),
	dead_letter_id bigint
);

CREATE TABLE t_dead_letter (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	received_at timestamptz NOT NULL DEFAULT now(),
	topic       text NOT NULL,
	payload     bytea NOT NULL,                  -- raw, as received (still encrypted)
	digest      bytea NOT NULL,
	reason      text NOT NULL,                   -- stable code: 'auth', 'originator_mismatch', 'schema', ...
	detail      text NOT NULL DEFAULT ''
);
CREATE INDEX t_dead_letter_received_at ON t_dead_letter (received_at);
ALTER TABLE t_ingest_log ADD FOREIGN KEY (dead_letter_id) REFERENCES t_dead_letter(id);

-- sms_ensure_partition(ts): the monthly partition holding ts exists
-- afterwards. Serialised by an advisory lock so concurrent workers do not race
-- on the catalog; returns false when the month cannot be split off because
-- the default partition already holds rows of it (they stay there).
CREATE FUNCTION sms_ensure_partition(ts timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	lo   timestamptz := date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
	hi   timestamptz := lo + interval '1 month';
	part text := format('t_snapshot_values_%s', to_char(lo AT TIME ZONE 'UTC', 'YYYYMM'));
BEGIN
	IF to_regclass(part) IS NOT NULL THEN
		RETURN true;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('sms_ensure_partition'));
	IF to_regclass(part) IS NOT NULL THEN
		RETURN true;
	END IF;
	IF EXISTS (SELECT 1 FROM t_snapshot_values_default WHERE taken_at >= lo AND taken_at < hi) THEN
		RETURN false;
	END IF;
	EXECUTE format('CREATE TABLE %I PARTITION OF t_snapshot_values FOR VALUES FROM (%L) TO (%L)',
	               part, lo, hi);
	RETURN true;
END $$;

-- Partitions for the months around now, so the ingest path rarely needs DDL.
CREATE FUNCTION sms_ensure_partitions(months_back integer, months_ahead integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN -months_back .. months_ahead LOOP
		PERFORM sms_ensure_partition(now() + make_interval(months => i));
	END LOOP;
END $$;

SELECT sms_ensure_partitions(1, 2);

-- sms_ingest_snapshot: stores one verified, parsed snapshot in one round trip.
-- Returns ('stored', id) or ('duplicate', id of the earlier snapshot or NULL).
-- The values arrive as parallel arrays; exactly one of num[i], txt[i] is set.
-- A unit that disagrees with the channel's recorded unit raises SQLSTATE
-- SMS01, which the daemon turns into a dead letter.
CREATE FUNCTION sms_ingest_snapshot(
	p_digest bytea, p_topic text, p_master text, p_account text, p_equipment text,
	p_device_type text, p_taken_at timestamptz, p_seq bigint, p_originator text,
	p_groups text[], p_channels text[], p_units text[],
	p_num double precision[], p_txt text[],
	OUT outcome text, OUT snapshot_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_ma integer; v_acc integer; v_type integer; v_dev integer;
	v_n integer := cardinality(p_channels);
	v_known integer;
	v_bad text;
BEGIN
	INSERT INTO t_ingest_log (digest, topic) VALUES (p_digest, p_topic)
		ON CONFLICT (digest) DO NOTHING;
	IF NOT FOUND THEN
		outcome := 'duplicate';
		SELECT l.snapshot_id INTO snapshot_id FROM t_ingest_log l WHERE l.digest = p_digest;
		RETURN;
	END IF;

	-- Dimensions: the common case is a SELECT hit; insert only what is new.
	SELECT id INTO v_ma FROM t_master_account WHERE name = p_master;
	IF v_ma IS NULL THEN
		INSERT INTO t_master_account (name) VALUES (p_master) ON CONFLICT (name) DO NOTHING;
		SELECT id INTO v_ma FROM t_master_account WHERE name = p_master;
	END IF;
	SELECT id INTO v_acc FROM t_account WHERE master_account_id = v_ma AND name = p_account;
	IF v_acc IS NULL THEN
		INSERT INTO t_account (master_account_id, name) VALUES (v_ma, p_account) ON CONFLICT DO NOTHING;
		SELECT id INTO v_acc FROM t_account WHERE master_account_id = v_ma AND name = p_account;
	END IF;
	SELECT id INTO v_type FROM t_device_type WHERE name = p_device_type;
	IF v_type IS NULL THEN
		INSERT INTO t_device_type (name) VALUES (p_device_type) ON CONFLICT (name) DO NOTHING;
		SELECT id INTO v_type FROM t_device_type WHERE name = p_device_type;
	END IF;
	SELECT id INTO v_dev FROM t_device WHERE account_id = v_acc AND equipment = p_equipment;
	IF v_dev IS NULL THEN
		INSERT INTO t_device (account_id, device_type_id, equipment)
			VALUES (v_acc, v_type, p_equipment) ON CONFLICT DO NOTHING;
		SELECT id INTO v_dev FROM t_device WHERE account_id = v_acc AND equipment = p_equipment;
	END IF;

	SELECT count(*) INTO v_known
	  FROM unnest(p_groups, p_channels) AS u(grp, chan)
	  JOIN t_channel_group g ON g.name = u.grp
	  JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan;
	IF v_known < v_n THEN
		-- Sorted inserts: concurrent workers take row locks in the same order.
		INSERT INTO t_channel_group (name)
			SELECT DISTINCT grp FROM unnest(p_groups) AS grp ORDER BY 1 ON CONFLICT DO NOTHING;
		INSERT INTO t_unit (symbol)
			SELECT DISTINCT un FROM unnest(p_units) AS un ORDER BY 1 ON CONFLICT DO NOTHING;
		INSERT INTO t_channel (device_type_id, group_id, name, unit_id)
			SELECT v_type, g.id, u.chan, un.id
			  FROM unnest(p_groups, p_channels, p_units) AS u(grp, chan, unit)
			  JOIN t_channel_group g ON g.name = u.grp
			  JOIN t_unit un ON un.symbol = u.unit
			 ORDER BY g.id, u.chan
			ON CONFLICT DO NOTHING;
	END IF;

	SELECT format('%s/%s: unit %L, channel has %L', u.grp, u.chan, u.unit, un.symbol) INTO v_bad
	  FROM unnest(p_groups, p_channels, p_units) AS u(grp, chan, unit)
	  JOIN t_channel_group g ON g.name = u.grp
	  JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan
	  JOIN t_unit un ON un.id = c.unit_id
	 WHERE un.symbol <> u.unit
	 LIMIT 1;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION 'unit mismatch: %', v_bad USING ERRCODE = 'SMS01';
	END IF;

	INSERT INTO t_snapshot (device_id, taken_at, seq, originator, n_values)
		VALUES (v_dev, p_taken_at, p_seq, p_originator, v_n)
		ON CONFLICT (device_id, taken_at, seq) DO NOTHING
		RETURNING id INTO snapshot_id;
	IF snapshot_id IS NULL THEN
		outcome := 'duplicate';
		SELECT s.id INTO snapshot_id FROM t_snapshot s
		 WHERE s.device_id = v_dev AND s.taken_at = p_taken_at AND s.seq = p_seq;
		UPDATE t_ingest_log SET snapshot_id = sms_ingest_snapshot.snapshot_id WHERE digest = p_digest;
		RETURN;
	END IF;

	IF to_regclass(format('t_snapshot_values_%s',
	               to_char(p_taken_at AT TIME ZONE 'UTC', 'YYYYMM'))) IS NULL THEN
		PERFORM sms_ensure_partition(p_taken_at);
	END IF;

	INSERT INTO t_snapshot_values (snapshot_id, taken_at, channel_id, value_num, value_text)
		SELECT sms_ingest_snapshot.snapshot_id, p_taken_at, c.id, u.num, u.txt
		  FROM unnest(p_groups, p_channels, p_num, p_txt) AS u(grp, chan, num, txt)
		  JOIN t_channel_group g ON g.name = u.grp
		  JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan;
	GET DIAGNOSTICS v_known = ROW_COUNT;
	IF v_known <> v_n THEN
		RAISE EXCEPTION 'stored % of % values', v_known, v_n USING ERRCODE = 'SMS02';
	END IF;

	UPDATE t_ingest_log SET snapshot_id = sms_ingest_snapshot.snapshot_id WHERE digest = p_digest;
	outcome := 'stored';
END $$;

-- sms_dead_letter: records a rejected message once (by digest). Returns the
-- dead-letter id, or NULL when the digest was already handled.
CREATE FUNCTION sms_dead_letter(p_digest bytea, p_topic text, p_payload bytea,
                                p_reason text, p_detail text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	INSERT INTO t_ingest_log (digest, topic) VALUES (p_digest, p_topic)
		ON CONFLICT (digest) DO NOTHING;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO t_dead_letter (topic, payload, digest, reason, detail)
		VALUES (p_topic, p_payload, p_digest, p_reason, p_detail)
		RETURNING id INTO v_id;
	UPDATE t_ingest_log SET dead_letter_id = v_id WHERE digest = p_digest;
	RETURN v_id;
END $$;
