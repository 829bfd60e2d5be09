/* Status report intake; contract in publisherd_status.h. */
#include "services/publisherd/publisherd_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fw_load_error.h"
#include "common/fw_status.h"
#include "common/log.h"

static const char *const ranked[] = { "queued", "offered", "downloading", "verified", "installing" };
#define FINISHED_RANK 5

static int rank_of_stored(const char *state)
{
	int i;

	for (i = 0; i < FINISHED_RANK; i++)
		if (strcmp(ranked[i], state) == 0)
			return i;
	return FINISHED_RANK + 1;   /* succeeded, failed, rejected, timed_out, aborted */
}

static int rank_of_report(fw_report_state s)
{
	switch (s) {
	case FW_REPORT_DOWNLOADING: return 2;
	case FW_REPORT_VERIFIED: return 3;
	case FW_REPORT_INSTALLING: return 4;
	default: return FINISHED_RANK;
	}
}

/* "ma/acc/eq" of "ma/acc/eq/firmware/status"; 0, or -1. */
static int topic_equipment(const char *topic, char *eq, size_t len)
{
	const char *tail = strstr(topic, "/firmware/status");
	size_t n;
	int slashes = 0;

	if (tail == NULL || strcmp(tail, "/firmware/status") != 0)
		return -1;
	n = (size_t)(tail - topic);
	if (n == 0 || n >= len)
		return -1;
	memcpy(eq, topic, n);
	eq[n] = '\0';
	for (size_t i = 0; i < n; i++)
		slashes += eq[i] == '/';
	return slashes == 2 ? 0 : -1;
}

typedef struct {
	const fw_status *st;
	const char *refused;      /* set when the report changes nothing, with why */
	char why[300];
	int moved;
	char from[16];
} apply_job;

static pg_class apply(pg_session *db, void *arg, char *err, size_t errlen)
{
	apply_job *j = arg;
	const fw_status *st = j->st;
	char rollout[24], pieces[24], of[24], code[16], installed[24];
	const char *sel[2] = { rollout, st->equipment };
	const char *upd[9] = { rollout, st->equipment, fw_report_state_name(st->state),
		               st->code ? code : NULL, st->detail[0] ? st->detail : NULL,
		               st->state == FW_REPORT_DOWNLOADING ? pieces : NULL,
		               st->state == FW_REPORT_DOWNLOADING ? of : NULL,
		               st->installed_version >= 0 ? installed : NULL, NULL };
	PGresult *res;
	pg_class c;
	int have, want;

	snprintf(rollout, sizeof rollout, "%lld", st->rollout);
	snprintf(pieces, sizeof pieces, "%lld", st->pieces);
	snprintf(of, sizeof of, "%lld", st->of);
	snprintf(code, sizeof code, "%d", st->code);
	snprintf(installed, sizeof installed, "%lld", st->installed_version);
	res = PQexecParams(pg_session_conn(db),
	                   "SELECT d.state, rel.release FROM t_fw_rollout_device d"
	                   "  JOIN t_fw_rollout r ON r.id = d.rollout_id JOIN t_fw_release rel ON rel.id = r.release_id"
	                   " WHERE d.rollout_id = $1::bigint AND d.equipment = $2 FOR UPDATE OF d",
	                   2, NULL, sel, NULL, NULL, 0);
	if ((c = pg_session_check(db, res, PGRES_TUPLES_OK, "reading the device's rollout state", err, errlen)) != PG_OK)
		goto out;
	if (PQntuples(res) != 1) {
		snprintf(j->why, sizeof j->why, "rollout %lld does not target %.150s", st->rollout, st->equipment);
		j->refused = j->why;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), st->release) != 0) {
		snprintf(j->why, sizeof j->why, "rollout %lld is release %.80s, not %s", st->rollout, PQgetvalue(res, 0, 1),
		         st->release);
		j->refused = j->why;
		goto out;
	}
	snprintf(j->from, sizeof j->from, "%s", PQgetvalue(res, 0, 0));
	have = rank_of_stored(j->from);
	want = rank_of_report(st->state);
	if (have > FINISHED_RANK - 1 || want < have) {
		snprintf(j->why, sizeof j->why, "device is %s already", j->from);
		j->refused = j->why;
		goto out;
	}
	j->moved = want > have || strcmp(j->from, fw_report_state_name(st->state)) != 0;
	PQclear(res);
	res = PQexecParams(pg_session_conn(db),
	                   "UPDATE t_fw_rollout_device SET state = $3, code = $4::int, detail = $5,"
	                   " progress_pieces = coalesce($6::int, progress_pieces), progress_of = coalesce($7::int, progress_of),"
	                   " installed_version = coalesce($8::bigint, installed_version), last_report_at = now(),"
	                   " updated_at = now() WHERE rollout_id = $1::bigint AND equipment = $2",
	                   8, NULL, upd, NULL, NULL, 0);
	c = pg_session_check(db, res, PGRES_COMMAND_OK, "moving the device's state", err, errlen);
out:
	PQclear(res);
	return c;
}

static int verify(publisherd *p, const char *equipment, const struct mosquitto_message *msg, fw_status *st,
                  char *err, size_t errlen)
{
	int rc;

	if (msg->payloadlen <= 0 || msg->payloadlen > FW_STATUS_MAX_DER) {
		snprintf(err, errlen, "firmware status: empty or larger than %d bytes", FW_STATUS_MAX_DER);
		return -1;
	}
	pthread_mutex_lock(&p->trust_lock);
	rc = fw_status_verify(p->status_trust, msg->payload, (size_t)msg->payloadlen, equipment, st, err, errlen);
	pthread_mutex_unlock(&p->trust_lock);
	return rc;
}

void publisherd_on_status(mqtt_session *s, void *ud, const struct mosquitto_message *msg)
{
	publisherd *p = ud;
	char equipment[IDENTITY_SCOPE_MAX], err[800];
	apply_job j;
	fw_status st;
	pg_class c;

	if (topic_equipment(msg->topic, equipment, sizeof equipment) != 0) {
		atomic_fetch_add(&p->stats.reports_refused, 1);
		sms_log(LOG_LEVEL_WARNING, "message on %s ignored: not <ma>/<acc>/<eq>/firmware/status", msg->topic);
		return;
	}
	if (verify(p, equipment, msg, &st, err, sizeof err) != 0) {
		atomic_fetch_add(&p->stats.reports_refused, 1);
		sms_log(LOG_LEVEL_WARNING, "firmware status on %s refused: %s", msg->topic, err);
		return;
	}
	for (;;) {
		memset(&j, 0, sizeof j);
		j.st = &st;
		c = pg_session_connect(p->db_status, err, sizeof err);
		if (c == PG_OK)
			c = pg_session_transaction(p->db_status, apply, &j, err, sizeof err);
		if (c != PG_TRANSIENT)
			break;
		if (mqtt_session_hold(s, 1000, "database unavailable") != 0)
			return;
	}
	if (c != PG_OK) {
		atomic_fetch_add(&p->stats.reports_refused, 1);
		sms_log(LOG_LEVEL_ERROR, "firmware status from %s not stored: %s", equipment, err);
	} else if (j.refused != NULL) {
		atomic_fetch_add(&p->stats.reports_ignored, 1);
		sms_log(LOG_LEVEL_INFO, "firmware status from %s (%s) changes nothing: %s", equipment,
		        fw_report_state_name(st.state), j.refused);
	} else {
		atomic_fetch_add(&p->stats.reports_accepted, 1);
		if (j.moved)
			sms_log(LOG_LEVEL_INFO, "rollout %lld: %s %s -> %s%s%s", st.rollout, equipment, j.from,
			        fw_report_state_name(st.state), st.code ? " " : "", st.code ? fw_load_error_name(st.code) : "");
	}
}
