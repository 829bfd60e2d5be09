-- 003: signed snapshots (issue 12, DESIGN.md "End-to-end protection").
--
-- A device may sign its snapshot (CMS SignedData inside the envelope) so
-- that the vendor and the customer can show a third party which device
-- sent what. sms-snapshotd verifies the signature (signer chain to the E2E
-- root with CRLs, signer = envelope originator = the topic's equipment)
-- before it stores anything, and keeps the SignedData exactly as signed:
-- `openssl cms -verify` reads it without this project's code.
--
-- sms_ingest_signed_snapshot is sms_ingest_snapshot (002) plus the
-- signature, in the same transaction: a snapshot stored as signed always
-- has its row here, and an unsigned one (p_signed_data NULL) never has.

CREATE TABLE t_snapshot_signature (
	snapshot_id  bigint PRIMARY KEY REFERENCES t_snapshot(id) ON DELETE CASCADE,
	signed_data  bytea NOT NULL,          -- DER ContentInfo(SignedData), content embedded
	signer       text NOT NULL,           -- RFC 2253 subject of the signer certificate
	signing_time timestamptz NOT NULL     -- the signingTime signed attribute
);

CREATE FUNCTION sms_ingest_signed_snapshot(
	p_digest bytea, p_topic text, p_master text, p_account text, p_equipment text,
	p_device_type text, p_taken_at timestamptz, p_seq bigint, p_originator text,
	p_groups text[], p_channels text[], p_units text[],
	p_num double precision[], p_txt text[], p_replay_of bigint,
	p_signed_data bytea, p_signer text, p_signing_time timestamptz,
	OUT outcome text, OUT snapshot_id bigint, OUT first_topic text,
	OUT missing_from bigint, OUT missing_to bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT i.outcome, i.snapshot_id, i.first_topic, i.missing_from, i.missing_to
	  INTO outcome, snapshot_id, first_topic, missing_from, missing_to
	  FROM sms_ingest_snapshot(p_digest, p_topic, p_master, p_account, p_equipment, p_device_type,
	                           p_taken_at, p_seq, p_originator, p_groups, p_channels, p_units,
	                           p_num, p_txt, p_replay_of) AS i;
	IF outcome = 'stored' AND p_signed_data IS NOT NULL THEN
		INSERT INTO t_snapshot_signature (snapshot_id, signed_data, signer, signing_time)
			VALUES (sms_ingest_signed_snapshot.snapshot_id, p_signed_data, p_signer, p_signing_time);
	END IF;
END $$;

DO $$
BEGIN
	EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', current_schema());
END $$;
