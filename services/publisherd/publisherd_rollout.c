/* The rollout driver; contract in publisherd_rollout.h. */
#include "services/publisherd/publisherd_rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509_vfy.h>

#include "common/fw_load_error.h"
#include "common/fw_offer.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/monotonic.h"
#include "common/x509_util.h"
#include "services/publisherd/publisherd_release.h"

#define NOT_FINISHED "('queued', 'offered', 'downloading', 'verified', 'installing')"

typedef struct {
	char id[24], release_id[24];
	int phase, n_phases, phases[16];
	int abort_hundredths;            /* -1: none */
	int rate;
	long total;
	char release[FW_RELEASE_MAX], package[FW_PACKAGE_MAX + 1];
	long long version;
} rollout;

/* Runs sql with text params; PGresult on success, NULL after a log line. */
static PGresult *run(publisherd *p, const char *what, ExecStatusType want, const char *sql, int n,
                     const char *const *params, pg_class *c)
{
	PGresult *res = PQexecParams(pg_session_conn(p->db), sql, n, NULL, params, NULL, NULL, 0);
	char err[800];

	*c = pg_session_check(p->db, res, want, what, err, sizeof err);
	if (*c != PG_OK) {
		sms_log(LOG_LEVEL_ERROR, "%s", err);
		PQclear(res);
		return NULL;
	}
	return res;
}

static pg_class exec(publisherd *p, const char *what, const char *sql, int n, const char *const *params)
{
	pg_class c;

	PQclear(run(p, what, PGRES_COMMAND_OK, sql, n, params, &c));
	return c;
}

/* ------------------------------------------------- aborts and deadlines */

static pg_class finish_aborted(publisherd *p)
{
	return exec(p, "aborting the devices of aborted rollouts",
	            "UPDATE t_fw_rollout_device d SET state = 'aborted', detail = 'rollout aborted', updated_at = now()"
	            "  FROM t_fw_rollout r WHERE r.id = d.rollout_id AND r.state = 'aborted'"
	            "   AND d.state IN " NOT_FINISHED, 0, NULL);
}

static pg_class finish_deadlines(publisherd *p)
{
	pg_class c;
	PGresult *res = run(p, "applying deadlines", PGRES_TUPLES_OK,
	                    "WITH due AS (UPDATE t_fw_rollout SET state = 'finished', end_reason = 'deadline',"
	                    "                    finished_at = now()"
	                    "              WHERE state IN ('running', 'paused') AND deadline <= now() RETURNING id),"
	                    "     dev AS (UPDATE t_fw_rollout_device d SET state = 'timed_out', detail = 'deadline',"
	                    "                    updated_at = now()"
	                    "               FROM due WHERE d.rollout_id = due.id AND d.state IN " NOT_FINISHED
	                    "             RETURNING d.rollout_id)"
	                    " SELECT due.id, (SELECT count(*) FROM dev WHERE dev.rollout_id = due.id) FROM due",
	                    0, NULL, &c);
	int i;

	for (i = 0; res != NULL && i < PQntuples(res); i++)
		sms_log(LOG_LEVEL_INFO, "rollout %s: deadline passed, %s unfinished device(s) timed out",
		        PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return c;
}

/* ---------------------------------------------------------------- phases */

static long phase_limit(const rollout *r, int phase)
{
	return (r->total * r->phases[phase - 1] + 99) / 100;
}

static pg_class end_rollout(publisherd *p, const rollout *r, const char *state, const char *reason)
{
	const char *params[3] = { r->id, state, reason };

	return exec(p, "ending a rollout",
	            "UPDATE t_fw_rollout SET state = $2, end_reason = $3, finished_at = now()"
	            " WHERE id = $1::bigint AND state = 'running'", 3, params);
}

/* Moves r past finished phases; *open 1 when it still offers. */
static pg_class advance(publisherd *p, rollout *r, int *open)
{
	char limit[24], phase[16];
	const char *params[2] = { r->id, limit };
	long lim, unfinished, failures;
	PGresult *res;
	pg_class c;

	*open = 0;
	for (;;) {
		lim = phase_limit(r, r->phase);
		snprintf(limit, sizeof limit, "%ld", lim);
		res = run(p, "reading a phase", PGRES_TUPLES_OK,
		          "SELECT count(*) FILTER (WHERE state IN " NOT_FINISHED "),"
		          "       count(*) FILTER (WHERE state IN ('failed', 'rejected'))"
		          "  FROM t_fw_rollout_device WHERE rollout_id = $1::bigint AND seq < $2::int", 2, params, &c);
		if (res == NULL)
			return c;
		unfinished = atol(PQgetvalue(res, 0, 0));
		failures = atol(PQgetvalue(res, 0, 1));
		PQclear(res);
		if (unfinished > 0) {
			*open = 1;
			return PG_OK;
		}
		if (r->abort_hundredths >= 0 && lim > 0 && failures * 10000 > (long)r->abort_hundredths * lim) {
			sms_log(LOG_LEVEL_WARNING, "rollout %s: phase %d ended with %ld of %ld devices failed or rejected,"
			        " above %d.%02d%%: aborting", r->id, r->phase, failures, lim, r->abort_hundredths / 100,
			        r->abort_hundredths % 100);
			if ((c = end_rollout(p, r, "aborted", "abort_threshold")) == PG_OK)
				c = finish_aborted(p);
			return c;
		}
		if (r->phase == r->n_phases) {
			sms_log(LOG_LEVEL_INFO, "rollout %s: completed (%ld devices)", r->id, r->total);
			return end_rollout(p, r, "finished", "completed");
		}
		r->phase++;
		snprintf(phase, sizeof phase, "%d", r->phase);
		{
			const char *up[2] = { r->id, phase };
			if ((c = exec(p, "opening a phase", "UPDATE t_fw_rollout SET phase = $2::int WHERE id = $1::bigint",
			              2, up)) != PG_OK)
				return c;
		}
		sms_log(LOG_LEVEL_INFO, "rollout %s: phase %d of %d opens (%d%% of %ld devices)", r->id, r->phase,
		        r->n_phases, r->phases[r->phase - 1], r->total);
	}
}

/* ---------------------------------------------------------------- offers */

/* The device's E2E certificate, checked: its own subject, chains to the
 * E2E root through the CAs, not revoked. NULL with why. */
static X509 *device_cert(publisherd *p, const char *equipment, char *why, size_t whylen)
{
	char path[1024], ma[72], acc[72], eq[72];
	X509_STORE_CTX *vc = NULL;
	identity id;
	X509 *cert;

	if (sscanf(equipment, "%71[^/]/%71[^/]/%71s", ma, acc, eq) != 3) {
		snprintf(why, whylen, "not an equipment name");
		return NULL;
	}
	snprintf(path, sizeof path, "%s/ma/%s/acc/%s/dev/%s/cert.pem", p->cfg->device_certs, ma, acc, eq);
	if ((cert = x509_read_cert(path)) == NULL) {
		snprintf(why, whylen, "no E2E certificate %.300s", path);
		return NULL;
	}
	if (identity_from_subject(X509_get_subject_name(cert), &id, why, whylen) != 0 || id.kind != IDENTITY_EQUIPMENT ||
	    strcmp(id.name, equipment) != 0) {
		snprintf(why, whylen, "%.200s is not the certificate of %.100s", path, equipment);
		goto fail;
	}
	if ((vc = X509_STORE_CTX_new()) == NULL || X509_STORE_CTX_init(vc, p->devices, cert, p->cas) != 1 ||
	    X509_verify_cert(vc) != 1) {
		snprintf(why, whylen, "E2E certificate does not verify: %s",
		         vc != NULL ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)) : "out of memory");
		goto fail;
	}
	X509_STORE_CTX_free(vc);
	return cert;
fail:
	X509_STORE_CTX_free(vc);
	X509_free(cert);
	return NULL;
}

static pg_class mark_unofferable(publisherd *p, const rollout *r, const char *equipment, const char *why)
{
	char code[8], detail[300];
	const char *params[4] = { r->id, equipment, code, detail };

	snprintf(code, sizeof code, "%d", FW_ERR_NO_DECRYPT_KEY);
	snprintf(detail, sizeof detail, "publisher: %.250s", why);
	sms_log(LOG_LEVEL_WARNING, "rollout %s: %s cannot be offered: %s", r->id, equipment, why);
	return exec(p, "failing a device", "UPDATE t_fw_rollout_device SET state = 'failed', code = $3::int,"
	            " detail = $4, updated_at = now() WHERE rollout_id = $1::bigint AND equipment = $2"
	            " AND state IN ('queued', 'offered')", 4, params);
}

static int encrypt_offer(publisherd *p, const rollout *r, const char *equipment, X509 *cert,
                         unsigned char **der, size_t *len)
{
	char err[600];
	fw_offer o;
	int rc;

	memset(&o, 0, sizeof o);
	snprintf(o.equipment, sizeof o.equipment, "%s", equipment);
	o.rollout = atoll(r->id);
	snprintf(o.release, sizeof o.release, "%s", r->release);
	snprintf(o.package, sizeof o.package, "%s", r->package);
	o.version = r->version;
	o.offered_at = time(NULL);
	if (publisherd_release_key(p, atoll(r->release_id), o.key, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "rollout %s: %s", r->id, err);
		fw_offer_clear(&o);
		return -1;
	}
	rc = fw_offer_encrypt(p->ctx, p->me, cert, &o, der, len, err, sizeof err);
	fw_offer_clear(&o);
	if (rc != 0)
		sms_log(LOG_LEVEL_ERROR, "rollout %s: offer for %s: %s", r->id, equipment, err);
	return rc;
}

/* Offers the release to one device; PG_OK also when only the offer failed
 * (it is tried again next pass). *sent 1 when an offer went out. */
static pg_class offer(publisherd *p, const rollout *r, const char *equipment, int again, int *sent)
{
	const char *params[2] = { r->id, equipment };
	char why[600], topic[256], err[300];
	unsigned char *der = NULL;
	size_t len = 0;
	X509 *cert;
	pg_class c = PG_OK;

	*sent = 0;
	if ((cert = device_cert(p, equipment, why, sizeof why)) == NULL)
		return mark_unofferable(p, r, equipment, why);
	if (encrypt_offer(p, r, equipment, cert, &der, &len) != 0) {
		atomic_fetch_add(&p->stats.offer_failures, 1);
		goto out;
	}
	snprintf(topic, sizeof topic, "%s/firmware", equipment);
	if (mqtt_session_publish(p->session, topic, der, len, 1, 0, NULL, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_WARNING, "rollout %s: offer to %s not sent: %s", r->id, equipment, err);
		atomic_fetch_add(&p->stats.offer_failures, 1);
		goto out;
	}
	*sent = 1;
	atomic_fetch_add(again ? &p->stats.reoffers : &p->stats.offers, 1);
	sms_log(LOG_LEVEL_DEBUG, "rollout %s: %s %s (%zu bytes)", r->id, again ? "re-offered to" : "offered to",
	        equipment, len);
	/* A report may have moved the device meanwhile: only queued -> offered. */
	c = exec(p, "recording an offer", "UPDATE t_fw_rollout_device SET state = CASE WHEN state = 'queued'"
	         " THEN 'offered' ELSE state END, offers = offers + 1, last_offer_at = now(), updated_at = now()"
	         " WHERE rollout_id = $1::bigint AND equipment = $2", 2, params);
out:
	OPENSSL_free(der);
	X509_free(cert);
	return c;
}

static publisherd_pace *pace_of(publisherd *p, const rollout *r)
{
	long long id = atoll(r->id);
	size_t i;

	for (i = 0; i < p->n_pace; i++)
		if (p->pace[i].rollout_id == id)
			return &p->pace[i];
	if (p->n_pace == PUBLISHERD_MAX_ROLLOUTS)
		p->n_pace = 0;   /* forget them all: at worst a second's extra offers */
	p->pace[p->n_pace].rollout_id = id;
	p->pace[p->n_pace].next_offer = monotonic_seconds();
	return &p->pace[p->n_pace++];
}

static pg_class send_offers(publisherd *p, const rollout *r)
{
	publisherd_pace *pace = pace_of(p, r);
	double now = monotonic_seconds(), step = 60.0 / r->rate;
	char limit[24], batch[24], reoffer[24];
	const char *params[4] = { r->id, limit, batch, reoffer };
	long want;
	PGresult *res;
	pg_class c = PG_OK;
	int i, sent;

	/* Idle time buys at most one second's share of offers. */
	if (pace->next_offer < now - (step > 1.0 ? step : 1.0))
		pace->next_offer = now - (step > 1.0 ? step : 1.0) + step;
	if (pace->next_offer > now)
		return PG_OK;
	want = (long)((now - pace->next_offer) / step) + 1;
	snprintf(limit, sizeof limit, "%ld", phase_limit(r, r->phase));
	snprintf(batch, sizeof batch, "%ld", want);
	snprintf(reoffer, sizeof reoffer, "%d", p->cfg->reoffer_interval);
	res = run(p, "choosing devices to offer", PGRES_TUPLES_OK,
	          "SELECT equipment, state = 'offered' FROM t_fw_rollout_device WHERE rollout_id = $1::bigint"
	          "   AND ((state = 'queued' AND seq < $2::int)"
	          "     OR (state = 'offered' AND last_offer_at < now() - $4::int * interval '1 second'))"
	          " ORDER BY state = 'offered', seq LIMIT $3::int", 4, params, &c);
	for (i = 0; res != NULL && i < PQntuples(res) && c == PG_OK; i++) {
		c = offer(p, r, PQgetvalue(res, i, 0), strcmp(PQgetvalue(res, i, 1), "t") == 0, &sent);
		if (sent)
			pace->next_offer += step;
	}
	PQclear(res);
	return c;
}

/* ---------------------------------------------------------------- a pass */

static int parse_phases(const char *s, rollout *r)
{
	char *end;

	r->n_phases = 0;
	while (*s != '\0' && r->n_phases < 16) {
		r->phases[r->n_phases++] = (int)strtol(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
		if (end == s && *s != '\0')
			return -1;
	}
	return r->n_phases > 0 && r->phases[r->n_phases - 1] == 100 ? 0 : -1;
}

static const char active_sql[] =
	"SELECT r.id, r.release_id, r.phase, array_to_string(r.phases, ','),"
	"       coalesce(round(r.abort_failures * 100)::int, -1), r.rate_per_min, rel.release, rel.package,"
	"       rel.version, (SELECT count(*) FROM t_fw_rollout_device d WHERE d.rollout_id = r.id)"
	"  FROM t_fw_rollout r JOIN t_fw_release rel ON rel.id = r.release_id"
	" WHERE r.state = 'running' ORDER BY r.id";

static pg_class drive_running(publisherd *p)
{
	pg_class c = PG_OK;
	PGresult *res = run(p, "reading running rollouts", PGRES_TUPLES_OK, active_sql, 0, NULL, &c);
	rollout r;
	int i, open;

	for (i = 0; res != NULL && i < PQntuples(res) && c == PG_OK; i++) {
		memset(&r, 0, sizeof r);
		snprintf(r.id, sizeof r.id, "%s", PQgetvalue(res, i, 0));
		snprintf(r.release_id, sizeof r.release_id, "%s", PQgetvalue(res, i, 1));
		r.phase = atoi(PQgetvalue(res, i, 2));
		r.abort_hundredths = atoi(PQgetvalue(res, i, 4));
		r.rate = atoi(PQgetvalue(res, i, 5));
		snprintf(r.release, sizeof r.release, "%s", PQgetvalue(res, i, 6));
		snprintf(r.package, sizeof r.package, "%s", PQgetvalue(res, i, 7));
		r.version = atoll(PQgetvalue(res, i, 8));
		r.total = atol(PQgetvalue(res, i, 9));
		if (parse_phases(PQgetvalue(res, i, 3), &r) != 0 || r.phase < 1 || r.phase > r.n_phases || r.rate < 1) {
			sms_log(LOG_LEVEL_ERROR, "rollout %s: phases or rate unreadable; skipped", r.id);
			continue;
		}
		if ((c = advance(p, &r, &open)) == PG_OK && open)
			c = send_offers(p, &r);
	}
	PQclear(res);
	return c;
}

pg_class publisherd_drive(publisherd *p)
{
	pg_class c;

	if ((c = finish_aborted(p)) != PG_OK || (c = finish_deadlines(p)) != PG_OK)
		return c;
	return drive_running(p);
}
