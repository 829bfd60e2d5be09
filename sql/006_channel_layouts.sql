-- 006: ingest without resolving every channel name (issue 15).
--
-- sms_ingest_snapshot (002) resolved all names of a snapshot (340 in the
-- fleet benchmark) through joins on t_channel_group and t_channel three
-- times per snapshot: counting the known ones, checking units, inserting.
-- That was 2.7 ms of PostgreSQL CPU a snapshot, more than a COPY of its rows.
--
-- A device type sends the same channel list snapshot after snapshot. Its
-- resolution is kept as a layout: SHA-256 of the (group, channel, unit)
-- lists -> the channel ids in the order of the lists. A snapshot with a
-- known layout takes its ids with one index lookup and inserts its values
-- in one statement; the names are resolved only the first time a layout is
-- seen, exactly as before, and the layout is recorded once the values were
-- stored (so the units matched). This is sound because a channel keeps its
-- id and unit forever (nothing updates or deletes t_channel).
--
-- Bounded: at most 64 layouts per device type (a device that reports a
-- changing subset of its channels falls back to name resolution). Safe with
-- several workers: ON CONFLICT, and a layout is only ever the same ids.
-- Rows stored are the same as with 002.

CREATE TABLE t_channel_layout (
	device_type_id integer NOT NULL REFERENCES t_device_type(id),
	digest         bytea NOT NULL CHECK (octet_length(digest) = 32),
	channel_ids    integer[] NOT NULL,
	PRIMARY KEY (device_type_id, digest)
);

CREATE OR REPLACE FUNCTION sms_ingest_snapshot(
	p_digest bytea, p_topic text, p_master text, p_account text, p_equipment text,
	p_device_type text, p_taken_at timestamptz, p_seq bigint, p_originator text,
	p_groups text[], p_channels text[], p_units text[],
	p_num double precision[], p_txt text[], p_replay_of bigint DEFAULT NULL,
	OUT outcome text, OUT snapshot_id bigint, OUT first_topic text,
	OUT missing_from bigint, OUT missing_to bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_ma integer; v_acc integer; v_type integer; v_dev integer;
	v_n integer := cardinality(p_channels);
	v_known integer;
	v_bad text;
	v_last_at timestamptz; v_last_seq bigint;
	v_new boolean;
	v_layout bytea;
	v_ids integer[];
	v_resolved boolean := false;   -- names resolved here: record the layout
BEGIN
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

	-- The array text forms quote any element holding a brace, comma, quote
	-- or blank, so the concatenation of the three is unambiguous.
	v_layout := sha256(convert_to(p_groups::text || p_channels::text || p_units::text, 'UTF8'));
	SELECT channel_ids INTO v_ids FROM t_channel_layout WHERE device_type_id = v_type AND digest = v_layout;

	IF v_ids IS NULL THEN
		v_resolved := true;
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

		-- In the order of the lists; a name that did not resolve leaves
		-- a NULL, so the layout is not recorded below.
		SELECT array_agg(c.id ORDER BY u.ord) INTO v_ids
		  FROM unnest(p_groups, p_channels) WITH ORDINALITY AS u(grp, chan, ord)
		  LEFT JOIN t_channel_group g ON g.name = u.grp
		  LEFT JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan;
	END IF;

	INSERT INTO t_snapshot (device_id, taken_at, seq, originator, n_values)
		VALUES (v_dev, p_taken_at, p_seq, p_originator, v_n)
		ON CONFLICT (device_id, taken_at, seq) DO NOTHING
		RETURNING id INTO snapshot_id;
	IF snapshot_id IS NULL THEN
		outcome := 'duplicate';
		SELECT s.id INTO snapshot_id FROM t_snapshot s
		 WHERE s.device_id = v_dev AND s.taken_at = p_taken_at AND s.seq = p_seq;
	ELSE
		IF to_regclass(format('t_snapshot_values_%s',
		               to_char(p_taken_at AT TIME ZONE 'UTC', 'YYYYMM'))) IS NULL THEN
			PERFORM sms_ensure_partition(p_taken_at);
		END IF;
		INSERT INTO t_snapshot_values (snapshot_id, taken_at, channel_id, value_num, value_text)
			SELECT sms_ingest_snapshot.snapshot_id, p_taken_at, u.id, u.num, u.txt
			  FROM unnest(v_ids, p_num, p_txt) AS u(id, num, txt)
			 WHERE u.id IS NOT NULL;
		GET DIAGNOSTICS v_known = ROW_COUNT;
		IF v_known <> v_n THEN
			RAISE EXCEPTION 'stored % of % values', v_known, v_n USING ERRCODE = 'SMS02';
		END IF;
		outcome := 'stored';
		IF v_resolved THEN
			INSERT INTO t_channel_layout (device_type_id, digest, channel_ids)
				SELECT v_type, v_layout, v_ids
				 WHERE (SELECT count(*) FROM t_channel_layout WHERE device_type_id = v_type) < 64
				ON CONFLICT DO NOTHING;
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

	UPDATE t_ingest_log SET snapshot_id = sms_ingest_snapshot.snapshot_id
	 WHERE digest = p_digest AND topic = p_topic;
	IF p_replay_of IS NOT NULL THEN
		UPDATE t_dead_letter SET replay_requested_at = NULL, replayed_at = now(),
		       replay_snapshot_id = sms_ingest_snapshot.snapshot_id, replay_outcome = outcome
		 WHERE id = p_replay_of;
	END IF;
END $$;

DO $$
BEGIN
	EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', current_schema());
END $$;
