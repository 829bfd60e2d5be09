-- 007: value rows by COPY (issue 15).
--
-- With 006 a snapshot still reached PostgreSQL as five text arrays of 340
-- elements, parsed by array_in and float8in, turned back into text for the
-- layout digest, and inserted row by row from unnest(): more PostgreSQL CPU
-- per snapshot than a COPY of its rows. sms-snapshotd now stores a batch of
-- snapshots in one transaction as
--
--   sms_ingest_head(...) per snapshot (pipelined): everything but the
--       values (exactly-once log, accounts, device, t_snapshot, gaps,
--       signature), returning the channel ids of the snapshot's layout;
--   one COPY t_snapshot_values FROM STDIN (FORMAT binary) for the values of
--       every snapshot the heads stored.
--
-- The ids come from t_channel_layout, never from the client's memory: a
-- layout is recorded first by sms_channel_layout(), which resolves names,
-- creates new channels and refuses a unit mismatch exactly as 006 did, in
-- its own transaction (so a channel of a snapshot that then turns out to be
-- a duplicate may exist without values; a channel is only a name and unit
-- of a device type that sent it). The layout digest is now one the client
-- can compute: SHA-256 of "group\nchannel\nunit\n" per value, in order
-- (names and units hold no control characters, see snapshot_json.h).
--
-- Also: signed_data compressed with lz4, and sms_device_seen in PL/pgSQL.
--
-- sms_ingest_snapshot and sms_ingest_signed_snapshot keep their signatures
-- and their results (replays, and the fallback when a batch fails, use
-- them); both are now sms_ingest_head + sms_ingest_values, so the rules
-- live once.

-- The SignedData (the snapshot's JSON with its signature, ~22 KB) is
-- compressed on the way into TOAST; lz4 does that several times faster than
-- the default pglz. A server built without lz4 keeps pglz.
DO $$
BEGIN
	ALTER TABLE t_snapshot_signature ALTER COLUMN signed_data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 not available: signed_data stays compressed with pglz';
END $$;

-- 006's digests were of the arrays' text forms; a layout is a cache of
-- resolved names, rebuilt from the first snapshot that uses it.
TRUNCATE t_channel_layout;

CREATE FUNCTION sms_layout_digest(p_groups text[], p_channels text[], p_units text[]) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT sha256(convert_to(coalesce(string_agg(x.g || E'\n' || x.c || E'\n' || x.u || E'\n', '' ORDER BY x.o), ''),
	                         'UTF8'))
	  FROM unnest(p_groups, p_channels, p_units) WITH ORDINALITY AS x(g, c, u, o)
$$;

-- The channel ids of a channel list of a device type, in the order of the
-- list, creating the type and channels that are new; SMS01 on a unit that
-- differs from the channel's. recorded: the layout is in t_channel_layout
-- (at most 64 per device type), so sms_ingest_head can take it by digest.
-- p_layout, when given, must be the list's digest (SMS04 otherwise).
CREATE FUNCTION sms_channel_layout(p_device_type text, p_layout bytea,
	p_groups text[], p_channels text[], p_units text[],
	OUT channel_ids integer[], OUT recorded boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_type integer;
	v_n integer := cardinality(p_channels);
	v_layout bytea;
	v_known integer;
	v_bad text;
BEGIN
	IF v_n = 0 OR cardinality(p_groups) <> v_n OR cardinality(p_units) <> v_n
	   OR array_position(p_groups, NULL) IS NOT NULL OR array_position(p_channels, NULL) IS NOT NULL
	   OR array_position(p_units, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'channel list of % names, % groups, % units (or a NULL)',
			v_n, cardinality(p_groups), cardinality(p_units) USING ERRCODE = 'SMS02';
	END IF;
	v_layout := sms_layout_digest(p_groups, p_channels, p_units);
	IF p_layout IS NOT NULL AND p_layout <> v_layout THEN
		RAISE EXCEPTION 'layout digest % is not the digest of the channel list (%)',
			encode(p_layout, 'hex'), encode(v_layout, 'hex') USING ERRCODE = 'SMS04';
	END IF;

	SELECT id INTO v_type FROM t_device_type WHERE name = p_device_type;
	IF v_type IS NULL THEN
		INSERT INTO t_device_type (name) VALUES (p_device_type) ON CONFLICT (name) DO NOTHING;
		SELECT id INTO v_type FROM t_device_type WHERE name = p_device_type;
	END IF;

	SELECT l.channel_ids INTO channel_ids FROM t_channel_layout l
	 WHERE l.device_type_id = v_type AND l.digest = v_layout;
	IF channel_ids IS NOT NULL THEN
		recorded := true;
		RETURN;
	END IF;

	SELECT count(*) INTO v_known
	  FROM unnest(p_groups, p_channels) AS u(grp, chan)
	  JOIN t_channel_group g ON g.name = u.grp
	  JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan;
	IF v_known < v_n THEN
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

	SELECT array_agg(c.id ORDER BY u.ord) INTO channel_ids
	  FROM unnest(p_groups, p_channels) WITH ORDINALITY AS u(grp, chan, ord)
	  LEFT JOIN t_channel_group g ON g.name = u.grp
	  LEFT JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan;
	IF array_position(channel_ids, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'channel list of type % did not resolve (a group or channel appears twice?)',
			p_device_type USING ERRCODE = 'SMS02';
	END IF;

	INSERT INTO t_channel_layout (device_type_id, digest, channel_ids)
		SELECT v_type, v_layout, channel_ids
		 WHERE (SELECT count(*) FROM t_channel_layout WHERE device_type_id = v_type) < 64
		ON CONFLICT DO NOTHING;
	recorded := FOUND OR EXISTS (SELECT 1 FROM t_channel_layout
	                              WHERE device_type_id = v_type AND digest = v_layout);
END $$;

-- Everything of a snapshot but its values, in the caller's transaction.
-- outcome 'stored': the caller inserts the values (channel_ids, in the
-- order of the snapshot's list, when p_layout was given; taken_at_us is
-- taken_at as microseconds since 2000-01-01, COPY's binary timestamptz).
-- 'duplicate' / 'replay' as before: nothing stored. p_layout must be a
-- recorded layout of the device type (SMS03 otherwise, before any write).
CREATE FUNCTION sms_ingest_head(
	p_digest bytea, p_topic text, p_master text, p_account text, p_equipment text,
	p_device_type text, p_taken_at timestamptz, p_seq bigint, p_originator text,
	p_n_values integer, p_layout bytea, p_replay_of bigint,
	p_signed_data bytea, p_signer text, p_signing_time timestamptz,
	OUT outcome text, OUT snapshot_id bigint, OUT first_topic text,
	OUT missing_from bigint, OUT missing_to bigint,
	OUT channel_ids integer[], OUT taken_at_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_ma integer; v_acc integer; v_type integer; v_dev integer;
	v_ids integer[];
	v_last_at timestamptz; v_last_seq bigint;
	v_new boolean;
BEGIN
	IF p_layout IS NOT NULL THEN
		SELECT l.channel_ids INTO v_ids FROM t_channel_layout l JOIN t_device_type t ON t.id = l.device_type_id
		 WHERE t.name = p_device_type AND l.digest = p_layout;
		IF v_ids IS NULL OR cardinality(v_ids) <> p_n_values THEN
			RAISE EXCEPTION 'layout % of device type % is not recorded for % values',
				encode(p_layout, 'hex'), p_device_type, p_n_values USING ERRCODE = 'SMS03';
		END IF;
	END IF;

	IF p_replay_of IS NULL THEN
		PERFORM 1 FROM t_ingest_log l WHERE l.digest = p_digest AND l.topic = p_topic;
		v_new := NOT FOUND;
		IF v_new THEN
			-- Checked before our row exists, so the caller's dead letter
			-- can record it under this topic.
			SELECT l.topic INTO first_topic FROM t_ingest_log l
			 WHERE l.digest = p_digest ORDER BY l.received_at LIMIT 1;
			IF first_topic IS NOT NULL THEN
				outcome := 'replay';
				RETURN;
			END IF;
			INSERT INTO t_ingest_log (digest, topic) VALUES (p_digest, p_topic)
				ON CONFLICT (digest, topic) DO NOTHING;
			v_new := FOUND;   -- false: a concurrent worker took it first
		END IF;
		IF NOT v_new THEN
			outcome := 'duplicate';
			SELECT l.snapshot_id INTO snapshot_id FROM t_ingest_log l
			 WHERE l.digest = p_digest AND l.topic = p_topic;
			RETURN;
		END IF;
	ELSE
		-- The row written with the dead letter; locked so a concurrent
		-- replay of the same dead letter waits and then sees it done.
		PERFORM 1 FROM t_ingest_log l
		  WHERE l.digest = p_digest AND l.topic = p_topic AND l.dead_letter_id = p_replay_of
		    AND l.snapshot_id IS NULL
		  FOR UPDATE;
		IF NOT FOUND THEN
			outcome := 'duplicate';
			SELECT l.snapshot_id INTO snapshot_id FROM t_ingest_log l
			 WHERE l.digest = p_digest AND l.topic = p_topic;
			UPDATE t_dead_letter SET replay_requested_at = NULL, replay_outcome = 'duplicate'
			 WHERE id = p_replay_of;
			RETURN;
		END IF;
	END IF;

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

	INSERT INTO t_snapshot (device_id, taken_at, seq, originator, n_values)
		VALUES (v_dev, p_taken_at, p_seq, p_originator, p_n_values)
		ON CONFLICT (device_id, taken_at, seq) DO NOTHING
		RETURNING id INTO snapshot_id;
	IF snapshot_id IS NULL THEN
		outcome := 'duplicate';
		SELECT s.id INTO snapshot_id FROM t_snapshot s
		 WHERE s.device_id = v_dev AND s.taken_at = p_taken_at AND s.seq = p_seq;
	ELSE
		outcome := 'stored';
		channel_ids := v_ids;
		taken_at_us := (extract(epoch FROM p_taken_at) * 1000000)::bigint - 946684800000000;
		IF to_regclass(format('t_snapshot_values_%s',
		               to_char(p_taken_at AT TIME ZONE 'UTC', 'YYYYMM'))) IS NULL THEN
			PERFORM sms_ensure_partition(p_taken_at);
		END IF;
		IF p_signed_data IS NOT NULL THEN
			INSERT INTO t_snapshot_signature (snapshot_id, signed_data, signer, signing_time)
				VALUES (sms_ingest_head.snapshot_id, p_signed_data, p_signer, p_signing_time);
		END IF;

		-- Gaps: only a snapshot newer than the last one can reveal skipped
		-- seqs; a late (redelivered, reordered) one does not move the mark,
		-- and a lower seq after a newer taken_at is a device restart.
		SELECT last_taken_at, last_seq INTO v_last_at, v_last_seq FROM t_device WHERE id = v_dev FOR UPDATE;
		IF v_last_at IS NULL OR p_taken_at > v_last_at THEN
			IF v_last_seq IS NOT NULL AND p_seq > v_last_seq + 1 THEN
				missing_from := v_last_seq + 1;
				missing_to := p_seq - 1;
			END IF;
			UPDATE t_device SET last_taken_at = p_taken_at, last_seq = p_seq WHERE id = v_dev;
		END IF;
	END IF;

	UPDATE t_ingest_log SET snapshot_id = sms_ingest_head.snapshot_id
	 WHERE digest = p_digest AND topic = p_topic;
	IF p_replay_of IS NOT NULL THEN
		UPDATE t_dead_letter SET replay_requested_at = NULL, replayed_at = now(),
		       replay_snapshot_id = sms_ingest_head.snapshot_id, replay_outcome = outcome
		 WHERE id = p_replay_of;
	END IF;
END $$;

-- The values of a snapshot sms_ingest_head stored, from the name arrays.
CREATE FUNCTION sms_ingest_values(p_snapshot_id bigint, p_taken_at timestamptz, p_device_type text,
	p_groups text[], p_channels text[], p_units text[], p_num double precision[], p_txt text[])
	RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_ids integer[];
	v_n integer;
BEGIN
	SELECT l.channel_ids INTO v_ids FROM sms_channel_layout(p_device_type, NULL, p_groups, p_channels, p_units) l;
	INSERT INTO t_snapshot_values (snapshot_id, taken_at, channel_id, value_num, value_text)
		SELECT p_snapshot_id, p_taken_at, u.id, u.num, u.txt
		  FROM unnest(v_ids, p_num, p_txt) AS u(id, num, txt);
	GET DIAGNOSTICS v_n = ROW_COUNT;
	IF v_n <> cardinality(p_channels) THEN
		RAISE EXCEPTION 'stored % of % values', v_n, cardinality(p_channels) USING ERRCODE = 'SMS02';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION sms_ingest_snapshot(
	p_digest bytea, p_topic text, p_master text, p_account text, p_equipment text,
	p_device_type text, p_taken_at timestamptz, p_seq bigint, p_originator text,
	p_groups text[], p_channels text[], p_units text[],
	p_num double precision[], p_txt text[], p_replay_of bigint DEFAULT NULL,
	OUT outcome text, OUT snapshot_id bigint, OUT first_topic text,
	OUT missing_from bigint, OUT missing_to bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT h.outcome, h.snapshot_id, h.first_topic, h.missing_from, h.missing_to
	  INTO outcome, snapshot_id, first_topic, missing_from, missing_to
	  FROM sms_ingest_head(p_digest, p_topic, p_master, p_account, p_equipment, p_device_type, p_taken_at,
	                       p_seq, p_originator, cardinality(p_channels), NULL, p_replay_of, NULL, NULL, NULL) h;
	IF outcome = 'stored' THEN
		PERFORM sms_ingest_values(snapshot_id, p_taken_at, p_device_type, p_groups, p_channels, p_units,
		                          p_num, p_txt);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION sms_ingest_signed_snapshot(
	p_digest bytea, p_topic text, p_master text, p_account text, p_equipment text,
	p_device_type text, p_taken_at timestamptz, p_seq bigint, p_originator text,
	p_groups text[], p_channels text[], p_units text[],
	p_num double precision[], p_txt text[], p_replay_of bigint,
	p_signed_data bytea, p_signer text, p_signing_time timestamptz,
	OUT outcome text, OUT snapshot_id bigint, OUT first_topic text,
	OUT missing_from bigint, OUT missing_to bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT h.outcome, h.snapshot_id, h.first_topic, h.missing_from, h.missing_to
	  INTO outcome, snapshot_id, first_topic, missing_from, missing_to
	  FROM sms_ingest_head(p_digest, p_topic, p_master, p_account, p_equipment, p_device_type, p_taken_at,
	                       p_seq, p_originator, cardinality(p_channels), NULL, p_replay_of,
	                       p_signed_data, p_signer, p_signing_time) h;
	IF outcome = 'stored' THEN
		PERFORM sms_ingest_values(snapshot_id, p_taken_at, p_device_type, p_groups, p_channels, p_units,
		                          p_num, p_txt);
	END IF;
END $$;

-- 004's sms_device_seen was LANGUAGE sql: PostgreSQL plans such a body on
-- every call. The same statement in PL/pgSQL keeps its plan per session.
CREATE OR REPLACE FUNCTION sms_device_seen(p_master text, p_account text, p_equipment text,
                                           p_serial text, p_issuer text, p_not_after timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE t_device d
	   SET last_seen = now(), cert_serial = p_serial, cert_issuer = p_issuer, cert_not_after = p_not_after
	  FROM t_account a JOIN t_master_account m ON m.id = a.master_account_id
	 WHERE d.account_id = a.id AND a.name = p_account AND m.name = p_master AND d.equipment = p_equipment;
END $$;

DO $$
BEGIN
	EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', current_schema());
END $$;
