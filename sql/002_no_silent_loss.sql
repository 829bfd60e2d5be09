-- 002: no acknowledged message may vanish (issue 9).
--
-- * Exactly-once per (digest, topic): the same bytes on another topic are a
--   new message (a replay), which becomes a dead letter with that topic
--   instead of being taken for a duplicate and dropped.
-- * Dead letters are bounded: the daemon stores a prefix of the payload and
--   the full length (the digest was there already); empty payloads are
--   dead letters too. Operators can ask for a dead letter to be replayed
--   (sms-db dead-letters replay); the daemon re-ingests it through its normal
--   path and records the outcome here.
-- * Partitions work under a least-privilege role: sms_ensure_partition runs
--   as the schema owner (PostgreSQL 15 gives nobody else CREATE on public).
-- * Per-device sequence tracking, so snapshots dropped before they reached
--   the daemon (broker queue limits) are reported.
-- * EXECUTE on the functions is granted by `sms-db roles`, not to PUBLIC.

ALTER TABLE t_ingest_log DROP CONSTRAINT t_ingest_log_pkey;
ALTER TABLE t_ingest_log ADD PRIMARY KEY (digest, topic);

-- A purged dead letter leaves its ingest-log row (the message stays handled).
ALTER TABLE t_ingest_log DROP CONSTRAINT t_ingest_log_dead_letter_id_fkey;
ALTER TABLE t_ingest_log ADD FOREIGN KEY (dead_letter_id) REFERENCES t_dead_letter(id) ON DELETE SET NULL;

ALTER TABLE t_dead_letter
	ADD COLUMN payload_length      bigint,
	ADD COLUMN truncated           boolean NOT NULL DEFAULT false,
	ADD COLUMN replay_requested_at timestamptz,   -- set by sms-db dead-letters replay
	ADD COLUMN replayed_at         timestamptz,   -- set by the daemon when the replay was stored
	ADD COLUMN replay_snapshot_id  bigint REFERENCES t_snapshot(id),
	ADD COLUMN replay_outcome      text;          -- last replay attempt: 'stored', 'duplicate' or reason: detail
UPDATE t_dead_letter SET payload_length = octet_length(payload);
ALTER TABLE t_dead_letter ALTER COLUMN payload_length SET NOT NULL,
	ADD CHECK (truncated = (octet_length(payload) < payload_length)),
	ADD CHECK (NOT (truncated AND replay_requested_at IS NOT NULL));
CREATE INDEX t_dead_letter_replay ON t_dead_letter (id) WHERE replay_requested_at IS NOT NULL;

-- Highest (taken_at, seq) seen per device, for gap reports.
ALTER TABLE t_device ADD COLUMN last_taken_at timestamptz, ADD COLUMN last_seq bigint;

-- DDL needs the owner's rights; everything else stays with the caller.
-- Fixed search_path: a SECURITY DEFINER function must not resolve names
-- through a schema the caller controls (pg_catalog is searched first
-- implicitly, pg_temp last; new partitions go to the schema of the tables).
DO $$
BEGIN
	EXECUTE format('ALTER FUNCTION sms_ensure_partition(timestamptz) SECURITY DEFINER '
	               'SET search_path = %I, pg_temp', current_schema());
END $$;

DROP FUNCTION sms_ingest_snapshot(bytea, text, text, text, text, text, timestamptz, bigint, text,
                                  text[], text[], text[], double precision[], text[]);

-- sms_ingest_snapshot: as in 001, plus
--   p_replay_of: a dead letter being replayed (its ingest-log row is taken
--                over instead of counting as a duplicate); NULL normally;
--   outcome 'replay': these bytes were already received on another topic
--                (first_topic); nothing stored, the caller dead-letters it;
--   missing_from..missing_to: seqs this device skipped since its last
--                snapshot (taken_at order), NULL when none.
CREATE FUNCTION sms_ingest_snapshot(
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
			SELECT sms_ingest_snapshot.snapshot_id, p_taken_at, c.id, u.num, u.txt
			  FROM unnest(p_groups, p_channels, p_num, p_txt) AS u(grp, chan, num, txt)
			  JOIN t_channel_group g ON g.name = u.grp
			  JOIN t_channel c ON c.device_type_id = v_type AND c.group_id = g.id AND c.name = u.chan;
		GET DIAGNOSTICS v_known = ROW_COUNT;
		IF v_known <> v_n THEN
			RAISE EXCEPTION 'stored % of % values', v_known, v_n USING ERRCODE = 'SMS02';
		END IF;
		outcome := 'stored';

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

DROP FUNCTION sms_dead_letter(bytea, text, bytea, text, text);

-- sms_dead_letter: records a rejected message once per (digest, topic).
-- p_payload may be a prefix of the message (p_length is the full length;
-- the digest is of the full message) and may be empty. Returns the
-- dead-letter id, or NULL when this message was already handled.
CREATE FUNCTION sms_dead_letter(p_digest bytea, p_topic text, p_payload bytea, p_length bigint,
                                p_reason text, p_detail text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
	v_first text;
BEGIN
	SELECT l.topic INTO v_first FROM t_ingest_log l
	 WHERE l.digest = p_digest AND l.topic <> p_topic ORDER BY l.received_at LIMIT 1;
	INSERT INTO t_ingest_log (digest, topic) VALUES (p_digest, p_topic)
		ON CONFLICT (digest, topic) DO NOTHING;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF v_first IS NOT NULL THEN
		p_detail := p_detail || format(' (replay: these bytes came first on %s)', v_first);
	END IF;
	INSERT INTO t_dead_letter (topic, payload, digest, reason, detail, payload_length, truncated)
		VALUES (p_topic, p_payload, p_digest, p_reason, p_detail, p_length, octet_length(p_payload) < p_length)
		RETURNING id INTO v_id;
	UPDATE t_ingest_log SET dead_letter_id = v_id WHERE digest = p_digest AND topic = p_topic;
	RETURN v_id;
END $$;

-- The 001 form (whole payload), kept for callers of the old signature.
CREATE FUNCTION sms_dead_letter(p_digest bytea, p_topic text, p_payload bytea,
                                p_reason text, p_detail text) RETURNS bigint
LANGUAGE sql AS $$
	SELECT sms_dead_letter(p_digest, p_topic, p_payload, octet_length(p_payload)::bigint, p_reason, p_detail)
$$;

-- A replay that was refused again: the dead letter stays, with the outcome.
CREATE FUNCTION sms_dead_letter_replay_failed(p_id bigint, p_outcome text) RETURNS void
LANGUAGE sql AS $$
	UPDATE t_dead_letter SET replay_requested_at = NULL, replay_outcome = p_outcome WHERE id = p_id
$$;

DO $$
BEGIN
	EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', current_schema());
END $$;
