/* Releases: keys and retained publishing; contract in publisherd_release.h. */
#include "services/publisherd/publisherd_release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/fw_offer.h"
#include "common/log.h"
#include "common/role_cert.h"

int publisherd_release_key(publisherd *p, long long release_id, unsigned char key[FW_KEY_LEN], char *err,
                           size_t errlen)
{
	char id[24];
	const char *params[1] = { id };
	int fmts[1] = { 0 };
	unsigned char *pt = NULL;
	size_t i, pt_len = 0;
	smscms_originator orig;
	PGresult *res;
	int rc = -1;

	for (i = 0; i < p->n_keys; i++)
		if (p->keys[i].release_id == release_id) {
			memcpy(key, p->keys[i].key, FW_KEY_LEN);
			return 0;
		}
	memset(&orig, 0, sizeof orig);
	snprintf(id, sizeof id, "%lld", release_id);
	res = PQexecParams(pg_session_conn(p->db), "SELECT wrapped_key, release FROM t_fw_release WHERE id = $1::int",
	                   1, NULL, params, NULL, fmts, 1);
	if (pg_session_check(p->db, res, PGRES_TUPLES_OK, "reading a release key", err, errlen) != PG_OK)
		goto out;
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "release %lld: gone", release_id);
		goto out;
	}
	if (smscms_decrypt(p->ctx, NULL, p->me, p->verifier, (const unsigned char *)PQgetvalue(res, 0, 0),
	                   (size_t)PQgetlength(res, 0, 0), &pt, &pt_len, &orig) != SMSCMS_OK) {
		snprintf(err, errlen, "release %.80s: its wrapped key does not open: %s", PQgetvalue(res, 0, 1),
		         smscms_ctx_error(p->ctx));
		goto out;
	}
	if (role_cert_check(orig.cert, p->services_ca, FW_SIGNER_ROLE, "release key originator", err, errlen) != 0)
		goto out;
	if (pt_len != FW_KEY_LEN) {
		snprintf(err, errlen, "release %.80s: the wrapped key is not %d bytes", PQgetvalue(res, 0, 1), FW_KEY_LEN);
		goto out;
	}
	memcpy(key, pt, FW_KEY_LEN);
	if (p->n_keys == PUBLISHERD_MAX_KEYS) {
		/* Oldest out: it is unwrapped again when needed. */
		OPENSSL_cleanse(&p->keys[0], sizeof p->keys[0]);
		memmove(&p->keys[0], &p->keys[1], (PUBLISHERD_MAX_KEYS - 1) * sizeof p->keys[0]);
		p->n_keys--;
	}
	p->keys[p->n_keys].release_id = release_id;
	memcpy(p->keys[p->n_keys++].key, pt, FW_KEY_LEN);
	rc = 0;
out:
	if (pt != NULL)
		OPENSSL_clear_free(pt, pt_len);
	smscms_originator_clear(&orig);
	PQclear(res);
	return rc;
}

void publisherd_release_forget(publisherd *p)
{
	OPENSSL_cleanse(p->keys, sizeof p->keys);
	p->n_keys = 0;
}

static int publish(publisherd *p, const char *topic, const void *data, size_t len)
{
	char err[300];

	if (mqtt_session_publish(p->session, topic, data, len, 1, 1, NULL, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_WARNING, "publishing %s failed: %s", topic, err);
		return -1;
	}
	atomic_fetch_add(&p->stats.bytes_published, len);
	return 0;
}

/* One release: manifest, then every piece, one read at a time. */
static pg_class publish_one(publisherd *p, const char *id, const char *release, const char *manifest, int mlen,
                            int pieces)
{
	char topic[128], n_text[16], err[600];
	const char *params[2] = { id, n_text };
	PGresult *res;
	pg_class c;
	int n;

	snprintf(topic, sizeof topic, "sms/firmware/%s/manifest", release);
	if (publish(p, topic, manifest, (size_t)mlen) != 0)
		return PG_TRANSIENT;
	for (n = 0; n < pieces; n++) {
		snprintf(n_text, sizeof n_text, "%d", n);
		res = PQexecParams(pg_session_conn(p->db), "SELECT data FROM t_fw_piece WHERE release_id = $1::int"
		                   " AND n = $2::int", 2, NULL, params, NULL, NULL, 1);
		c = pg_session_check(p->db, res, PGRES_TUPLES_OK, "reading a piece", err, sizeof err);
		if (c == PG_OK && PQntuples(res) != 1) {
			snprintf(err, sizeof err, "release %s: piece %d missing", release, n);
			c = PG_DATA;
		}
		if (c != PG_OK) {
			sms_log(LOG_LEVEL_ERROR, "%s", err);
			PQclear(res);
			return c;
		}
		snprintf(topic, sizeof topic, "sms/firmware/%s/%d", release, n);
		if (publish(p, topic, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0)) != 0) {
			PQclear(res);
			return PG_TRANSIENT;
		}
		PQclear(res);
		atomic_fetch_add(&p->stats.pieces_published, 1);
	}
	return PG_OK;
}

static const char due_sql[] =
	"SELECT r.id::text, r.release, r.manifest, r.pieces::text FROM t_fw_release r"
	" WHERE (r.published_at IS NULL OR $1::bool)"
	"   AND EXISTS (SELECT 1 FROM t_fw_rollout o WHERE o.release_id = r.id AND o.state IN ('running', 'paused'))"
	" ORDER BY r.id";

pg_class publisherd_publish_releases(publisherd *p, int again)
{
	const char *params[1] = { again ? "true" : "false" };
	char err[600];
	PGresult *res, *upd;
	pg_class c;
	int i;

	res = PQexecParams(pg_session_conn(p->db), due_sql, 1, NULL, params, NULL, NULL, 1);
	if ((c = pg_session_check(p->db, res, PGRES_TUPLES_OK, "finding releases to publish", err, sizeof err)) !=
	    PG_OK) {
		sms_log(LOG_LEVEL_ERROR, "%s", err);
		PQclear(res);
		return c;
	}
	for (i = 0; i < PQntuples(res) && c == PG_OK; i++) {
		/* Binary results (for the manifest): text columns come as their
		 * bytes, NUL-terminated by libpq. */
		char id[16], release[FW_RELEASE_MAX];
		int pieces = atoi(PQgetvalue(res, i, 3));
		const char *up[1] = { id };

		snprintf(id, sizeof id, "%s", PQgetvalue(res, i, 0));
		snprintf(release, sizeof release, "%.*s", PQgetlength(res, i, 1), PQgetvalue(res, i, 1));
		c = publish_one(p, id, release, PQgetvalue(res, i, 2), PQgetlength(res, i, 2), pieces);
		if (c != PG_OK)
			break;
		upd = PQexecParams(pg_session_conn(p->db), "UPDATE t_fw_release SET published_at = now()"
		                   " WHERE id = $1::int AND published_at IS NULL", 1, NULL, up, NULL, NULL, 0);
		c = pg_session_check(p->db, upd, PGRES_COMMAND_OK, "marking a release published", err, sizeof err);
		PQclear(upd);
		if (c != PG_OK) {
			sms_log(LOG_LEVEL_ERROR, "%s", err);
			break;
		}
		atomic_fetch_add(&p->stats.releases_published, 1);
		sms_log(LOG_LEVEL_INFO, "release %s published: manifest and %d pieces, retained, on sms/firmware/%s/",
		        release, pieces, release);
	}
	PQclear(res);
	return c;
}
