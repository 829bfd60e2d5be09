/* Privileges per program; contract in db_privileges.h. */
#include "common/db_privileges.h"

#define N(a) (sizeof (a) / sizeof *(a))
#define TABLE_SI(t) { "SELECT", t, NULL }, { "INSERT", t, NULL }

/* Everything sms_ingest_snapshot, sms_dead_letter, sms_device_seen and the replay poll touch,
 * running as the caller (only sms_ensure_partition runs as the owner). */
static const pg_need snapshotd_needs[] = {
	{ "SELECT", "schema_migrations", NULL },
	{ "EXECUTE", "sms_ingest_snapshot(bytea,text,text,text,text,text,timestamptz,bigint,text,"
	             "text[],text[],text[],double precision[],text[],bigint)", NULL },
	{ "EXECUTE", "sms_ingest_signed_snapshot(bytea,text,text,text,text,text,timestamptz,bigint,text,"
	             "text[],text[],text[],double precision[],text[],bigint,bytea,text,timestamptz)", NULL },
	{ "EXECUTE", "sms_ingest_head(bytea,text,text,text,text,text,timestamptz,bigint,text,integer,bytea,bigint,"
	             "bytea,text,timestamptz)", NULL },
	{ "EXECUTE", "sms_ingest_values(bigint,timestamptz,text,text[],text[],text[],double precision[],text[])", NULL },
	{ "EXECUTE", "sms_channel_layout(text,bytea,text[],text[],text[])", NULL },
	{ "EXECUTE", "sms_layout_digest(text[],text[],text[])", NULL },
	{ "INSERT", "t_snapshot_signature", NULL },
	{ "EXECUTE", "sms_dead_letter(bytea,text,bytea,bigint,text,text)", NULL },
	{ "EXECUTE", "sms_dead_letter_replay_failed(bigint,text)", NULL },
	{ "EXECUTE", "sms_ensure_partitions(integer,integer)", NULL },
	{ "EXECUTE", "sms_ensure_partition(timestamptz)", NULL },
	{ "EXECUTE", "sms_device_seen(text,text,text,text,text,timestamptz)", NULL },
	TABLE_SI("t_ingest_log"),
	{ "UPDATE", "t_ingest_log", "snapshot_id" },
	{ "UPDATE", "t_ingest_log", "dead_letter_id" },
	TABLE_SI("t_master_account"),
	TABLE_SI("t_account"),
	TABLE_SI("t_device_type"),
	TABLE_SI("t_device"),
	{ "UPDATE", "t_device", "last_taken_at" },
	{ "UPDATE", "t_device", "last_seq" },
	{ "UPDATE", "t_device", "last_seen" },
	{ "UPDATE", "t_device", "cert_serial" },
	{ "UPDATE", "t_device", "cert_issuer" },
	{ "UPDATE", "t_device", "cert_not_after" },
	TABLE_SI("t_unit"),
	TABLE_SI("t_channel_group"),
	TABLE_SI("t_channel"),
	TABLE_SI("t_channel_layout"),
	TABLE_SI("t_snapshot"),
	{ "INSERT", "t_snapshot_values", NULL },
	TABLE_SI("t_dead_letter"),
	{ "UPDATE", "t_dead_letter", "replay_requested_at" },
	{ "UPDATE", "t_dead_letter", "replayed_at" },
	{ "UPDATE", "t_dead_letter", "replay_snapshot_id" },
	{ "UPDATE", "t_dead_letter", "replay_outcome" },
};

/* Deleting a dead letter sets t_ingest_log.dead_letter_id to NULL through
 * the foreign key, which runs as the table owner: no grant on the log. */
static const pg_need admin_needs[] = {
	{ "SELECT", "schema_migrations", NULL },
	{ "SELECT", "t_dead_letter", NULL },
	{ "DELETE", "t_dead_letter", NULL },
	{ "UPDATE", "t_dead_letter", "replay_requested_at" },
};

static const pg_need reader_needs[] = {
	{ "SELECT", "schema_migrations", NULL },
	{ "SELECT", "t_master_account", NULL },
	{ "SELECT", "t_account", NULL },
	{ "SELECT", "t_device_type", NULL },
	{ "SELECT", "t_device", NULL },
	{ "SELECT", "t_unit", NULL },
	{ "SELECT", "t_channel_group", NULL },
	{ "SELECT", "t_channel", NULL },
	{ "SELECT", "t_snapshot", NULL },
	{ "SELECT", "t_snapshot_values", NULL },
	{ "SELECT", "t_snapshot_signature", NULL },
};

/* Releases and rollouts are written whole; the operator's pause, resume
 * and abort change only the rollout's state. The device tables resolve
 * targets. The transition log is read only (its trigger writes it). */
static const pg_need firmware_needs[] = {
	{ "SELECT", "schema_migrations", NULL },
	TABLE_SI("t_fw_release"),
	{ "INSERT", "t_fw_piece", NULL },
	TABLE_SI("t_fw_rollout"),
	{ "UPDATE", "t_fw_rollout", "state" },
	{ "UPDATE", "t_fw_rollout", "end_reason" },
	{ "UPDATE", "t_fw_rollout", "finished_at" },
	TABLE_SI("t_fw_rollout_device"),
	{ "SELECT", "t_fw_transition", NULL },
	{ "SELECT", "t_master_account", NULL },
	{ "SELECT", "t_account", NULL },
	{ "SELECT", "t_device_type", NULL },
	{ "SELECT", "t_device", NULL },
};

/* The publisher reads releases (the wrapped key is only usable with its
 * own E2E key) and rollouts, and moves states; it creates nothing. */
static const pg_need publisherd_needs[] = {
	{ "SELECT", "schema_migrations", NULL },
	{ "SELECT", "t_fw_release", NULL },
	{ "UPDATE", "t_fw_release", "published_at" },
	{ "SELECT", "t_fw_piece", NULL },
	{ "SELECT", "t_fw_rollout", NULL },
	{ "UPDATE", "t_fw_rollout", "phase" },
	{ "UPDATE", "t_fw_rollout", "state" },
	{ "UPDATE", "t_fw_rollout", "end_reason" },
	{ "UPDATE", "t_fw_rollout", "finished_at" },
	{ "SELECT", "t_fw_rollout_device", NULL },
	{ "UPDATE", "t_fw_rollout_device", "state" },
	{ "UPDATE", "t_fw_rollout_device", "code" },
	{ "UPDATE", "t_fw_rollout_device", "detail" },
	{ "UPDATE", "t_fw_rollout_device", "offers" },
	{ "UPDATE", "t_fw_rollout_device", "last_offer_at" },
	{ "UPDATE", "t_fw_rollout_device", "last_report_at" },
	{ "UPDATE", "t_fw_rollout_device", "progress_pieces" },
	{ "UPDATE", "t_fw_rollout_device", "progress_of" },
	{ "UPDATE", "t_fw_rollout_device", "installed_version" },
	{ "UPDATE", "t_fw_rollout_device", "updated_at" },
};

const db_role_spec db_role_snapshotd = { "sms_snapshotd", "sms-snapshotd", snapshotd_needs, N(snapshotd_needs) };
const db_role_spec db_role_admin = { "sms_admin", "sms-db dead-letters", admin_needs, N(admin_needs) };
const db_role_spec db_role_reader = { "sms_reader", "read-only reports", reader_needs, N(reader_needs) };
const db_role_spec db_role_firmware = { "sms_firmware", "sms-firmware", firmware_needs, N(firmware_needs) };
const db_role_spec db_role_publisherd = { "sms_publisherd", "sms-publisherd", publisherd_needs,
	                                  N(publisherd_needs) };
