-- 004: what vendor ops ask about a device (sms-db devices): when it last
-- reached us, and the E2E certificate it last signed with (serial, issuer,
-- notAfter), so expiry and revocation can be listed without the PKI host.
--
-- sms-snapshotd calls sms_device_seen right after each snapshot it commits
-- (or re-receives), with the originator certificate it verified.

ALTER TABLE t_device
	ADD COLUMN last_seen      timestamptz,
	ADD COLUMN cert_serial    text,          -- lowercase hex, as OpenSSL prints it (BN_bn2hex)
	ADD COLUMN cert_issuer    text,          -- RFC 2253
	ADD COLUMN cert_not_after timestamptz;

UPDATE t_device d SET last_seen = s.m
  FROM (SELECT device_id, max(received_at) AS m FROM t_snapshot GROUP BY device_id) s
 WHERE s.device_id = d.id;

CREATE FUNCTION sms_device_seen(p_master text, p_account text, p_equipment text,
                                p_serial text, p_issuer text, p_not_after timestamptz) RETURNS void
LANGUAGE sql AS $$
	UPDATE t_device d
	   SET last_seen = now(), cert_serial = p_serial, cert_issuer = p_issuer, cert_not_after = p_not_after
	  FROM t_account a JOIN t_master_account m ON m.id = a.master_account_id
	 WHERE d.account_id = a.id AND a.name = p_account AND m.name = p_master AND d.equipment = p_equipment;
$$;

REVOKE EXECUTE ON FUNCTION sms_device_seen(text, text, text, text, text, timestamptz) FROM PUBLIC;
