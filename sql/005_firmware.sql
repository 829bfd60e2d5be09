-- 005: firmware releases and rollouts (docs/firmware.md). sms-firmware
-- writes releases and rollouts; sms-publisherd drives them and records
-- what each device reports. The snapshot tables are not touched.
--
-- A release keeps the manifest exactly as the offline signer made it
-- (SignedData DER), the ciphertext pieces, and its content key only as an
-- AuthEnvelopedData for the vendor-firmware-service E2E certificate
-- (originator: the signer): the database never holds the key in clear.

CREATE TABLE t_fw_release (
	id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	release      text NOT NULL UNIQUE,                   -- <package>-<version>
	package      text NOT NULL,
	version      bigint NOT NULL CHECK (version BETWEEN 1 AND 9007199254740991),
	hardware     text[] NOT NULL CHECK (cardinality(hardware) BETWEEN 1 AND 16),
	size         bigint NOT NULL CHECK (size > 0),
	piece_size   integer NOT NULL CHECK (piece_size > 0),
	pieces       integer NOT NULL CHECK (pieces BETWEEN 1 AND 4096),
	expires      timestamptz NOT NULL,
	manifest     bytea NOT NULL,                         -- SignedData DER
	wrapped_key  bytea NOT NULL,                         -- AuthEnvelopedData for the publisher
	created_at   timestamptz NOT NULL DEFAULT now(),
	published_at timestamptz,                            -- manifest and pieces are retained on the broker
	UNIQUE (package, version),
	CHECK (release = package || '-' || version)
);

CREATE TABLE t_fw_piece (
	release_id integer NOT NULL REFERENCES t_fw_release(id),
	n          integer NOT NULL CHECK (n >= 0),
	data       bytea NOT NULL,                           -- ciphertext piece n
	PRIMARY KEY (release_id, n)
);

-- phases: cumulative percentages of the rollout's devices, ascending, the
-- last one 100. abort_failures: the share (percent) of failed or rejected
-- devices at the end of a phase that stops the rollout (NULL: never).
CREATE TABLE t_fw_rollout (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	release_id     integer NOT NULL REFERENCES t_fw_release(id),
	target_kind    text NOT NULL CHECK (target_kind IN ('device', 'account', 'master', 'device_type')),
	target         text NOT NULL,
	rate_per_min   integer NOT NULL DEFAULT 60 CHECK (rate_per_min BETWEEN 1 AND 1000000),
	phases         smallint[] NOT NULL DEFAULT '{100}'
	               CHECK (cardinality(phases) BETWEEN 1 AND 16 AND phases[cardinality(phases)] = 100),
	phase          integer NOT NULL DEFAULT 1,           -- 1-based index into phases being offered
	abort_failures numeric(5,2) CHECK (abort_failures BETWEEN 0 AND 100),
	deadline       timestamptz,
	state          text NOT NULL DEFAULT 'running'
	               CHECK (state IN ('running', 'paused', 'aborted', 'finished')),
	end_reason     text CHECK (end_reason IN ('completed', 'deadline', 'abort_threshold', 'operator')),
	created_at     timestamptz NOT NULL DEFAULT now(),
	finished_at    timestamptz,
	CHECK ((state IN ('aborted', 'finished')) = (end_reason IS NOT NULL))
);

CREATE TABLE t_fw_rollout_device (
	rollout_id      bigint NOT NULL REFERENCES t_fw_rollout(id),
	equipment       text NOT NULL,                       -- ma/acc/eq
	seq             integer NOT NULL,                    -- order of offers; phases cut it
	state           text NOT NULL DEFAULT 'queued'
	                CHECK (state IN ('queued', 'offered', 'downloading', 'verified', 'installing', 'succeeded',
	                                 'failed', 'rejected', 'timed_out', 'aborted')),
	code            integer,                             -- RFC 4108 code of failed / rejected
	detail          text,
	offers          integer NOT NULL DEFAULT 0,
	last_offer_at   timestamptz,
	last_report_at  timestamptz,
	progress_pieces integer,
	progress_of     integer,
	installed_version bigint,
	updated_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (rollout_id, equipment),
	UNIQUE (rollout_id, seq)
);

CREATE INDEX t_fw_rollout_device_state ON t_fw_rollout_device (rollout_id, state);
CREATE INDEX t_fw_rollout_device_equipment ON t_fw_rollout_device (equipment);

-- Every state a device entered, with its time and code: written by the
-- trigger below, so no program can change a state without a row here.
CREATE TABLE t_fw_transition (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rollout_id bigint NOT NULL,
	equipment  text NOT NULL,
	from_state text,                                     -- NULL: entered the rollout
	to_state   text NOT NULL,
	code       integer,
	detail     text,
	at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX t_fw_transition_equipment ON t_fw_transition (equipment, at);

-- SECURITY DEFINER: the programs get no INSERT on the log, so its rows
-- come only from here.
CREATE FUNCTION sms_fw_log_transition() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
		INSERT INTO t_fw_transition (rollout_id, equipment, from_state, to_state, code, detail)
		VALUES (NEW.rollout_id, NEW.equipment, CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state,
		        NEW.code, NEW.detail);
	END IF;
	RETURN NULL;
END $$;

REVOKE EXECUTE ON FUNCTION sms_fw_log_transition() FROM PUBLIC;

CREATE TRIGGER t_fw_rollout_device_transition
	AFTER INSERT OR UPDATE OF state ON t_fw_rollout_device
	FOR EACH ROW EXECUTE FUNCTION sms_fw_log_transition();
