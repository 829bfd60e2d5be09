/* sms-agent's firmware updates; contract in agent_firmware.h. */
#include "services/agent/agent_firmware.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/fw_load_error.h"
#include "common/fw_manifest.h"
#include "common/fw_offer.h"
#include "common/fw_status.h"
#include "common/log.h"
#include "common/x509_util.h"
#include "services/agent/agent_firmware_fs.h"
#include "services/agent/agent_firmware_image.h"
#include "services/agent/agent_firmware_slots.h"
#include "services/agent/agent_firmware_state.h"

#define TOPIC_PREFIX "sms/firmware/"
#define MAX_WINDOW 64
#define PATH_LEN 4096
#define DIR_LEN 3072    /* firmware.dir and below: room for a release and a file name in PATH_LEN */

struct agent_firmware {
	const agent_config *cfg;
	const smscms_identity *device;
	char equipment[IDENTITY_SCOPE_MAX];
	char topic_offer[IDENTITY_SCOPE_MAX + 16], topic_status[IDENTITY_SCOPE_MAX + 24];
	char state_dir[DIR_LEN], work_root[DIR_LEN];
	X509 *services_ca;
	signed_data_trust *trust;          /* manifests */
	smscms_verifier *verifier;         /* offers */
	smscms_ctx *ctx;                   /* under lock */
	mqtt_session *session;

	pthread_mutex_t lock;
	/* Under lock: the rollout in progress (st.rollout.phase != NONE) and
	 * what it needs in memory. */
	fw_state st;
	fw_manifest man;
	int have_manifest;
	unsigned char key[FW_KEY_LEN];
	int have_key;
	int subs[MAX_WINDOW];              /* pieces subscribed */
	int n_subs;
	int manifest_subscribed;
	int busy;                          /* tick works on the rollout outside the lock */
	int resume_due, install_due;
	unsigned int reported_pieces;
	unsigned long long n_succeeded, n_failed, n_rejected;
};

/* ---------------------------------------------------------- helpers */

static void work_dir(const agent_firmware *fw, const char *release, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", fw->work_root, release);
}

/* The installed version of package: the state's or firmware.versions', the higher; 0: none. */
static long long installed_version(agent_firmware *fw, const char *package)
{
	long long v = 0, c;
	size_t i, n = strlen(package);
	char err[300];
	fw_state other;

	if (fw->st.package[0] != '\0' && strcmp(fw->st.package, package) == 0)
		v = fw->st.installed;
	else if (fw_state_load(fw->state_dir, package, &other, err, sizeof err) == 0)
		v = other.installed;
	for (i = 0; i < fw->cfg->fw.n_versions; i++) {
		const char *e = fw->cfg->fw.versions[i];

		if (strncmp(e, package, n) == 0 && e[n] == '=' && (c = strtoll(e + n + 1, NULL, 10)) > v)
			v = c;
	}
	return v;
}

/* installed: the package's installed version (0: none). */
static void report(agent_firmware *fw, long long rollout, const char *release, fw_report_state state, int code,
                   const char *detail, long long installed)
{
	fw_status s;
	unsigned char *der = NULL;
	size_t len = 0;
	char err[400];
	int mid;

	memset(&s, 0, sizeof s);
	snprintf(s.equipment, sizeof s.equipment, "%s", fw->equipment);
	s.rollout = rollout;
	snprintf(s.release, sizeof s.release, "%s", release);
	s.state = state;
	if (state == FW_REPORT_DOWNLOADING) {
		s.pieces = fw_state_pieces_held(&fw->st);
		s.of = fw->st.rollout.n_pieces;
	}
	s.code = state == FW_REPORT_FAILED || state == FW_REPORT_REJECTED ? code : 0;
	snprintf(s.detail, sizeof s.detail, "%s", detail ? detail : "");
	s.installed_version = installed;
	s.reported_at = time(NULL);
	if (fw_status_sign(smscms_identity_cert(fw->device), smscms_identity_key(fw->device),
	                   smscms_identity_chain(fw->device), &s, &der, &len, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "firmware status %s for rollout %lld not signed: %s", fw_report_state_name(state),
		        rollout, err);
		return;
	}
	fw->n_succeeded += state == FW_REPORT_SUCCEEDED;
	fw->n_failed += state == FW_REPORT_FAILED;
	fw->n_rejected += state == FW_REPORT_REJECTED;
	if (mqtt_session_publish(fw->session, fw->topic_status, der, len, 1, 0, &mid, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_WARNING, "firmware status %s for rollout %lld not sent: %s", fw_report_state_name(state),
		        rollout, err);
	else
		sms_log(LOG_LEVEL_INFO, "firmware rollout %lld (%s): reported %s%s%s%s%s", rollout, release,
		        fw_report_state_name(state), s.code ? " " : "", s.code ? fw_load_error_name(s.code) : "",
		        s.detail[0] ? ": " : "", s.detail);
	OPENSSL_free(der);
}

static void save_state(agent_firmware *fw)
{
	char err[600];

	if (fw_state_save(fw->state_dir, &fw->st, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_ERROR, "firmware: %s", err);
}

/* ---------------------------------------------------- subscriptions */

static void manifest_topic(const char *release, char *buf, size_t len)
{
	snprintf(buf, len, TOPIC_PREFIX "%s/manifest", release);
}

static void piece_topic(const char *release, int n, char *buf, size_t len)
{
	snprintf(buf, len, TOPIC_PREFIX "%s/%d", release, n);
}

static void unsubscribe_all(agent_firmware *fw)
{
	char topic[256], err[300];
	int i;

	if (fw->manifest_subscribed) {
		manifest_topic(fw->st.rollout.release, topic, sizeof topic);
		mqtt_session_unsubscribe(fw->session, topic, err, sizeof err);
		fw->manifest_subscribed = 0;
	}
	for (i = 0; i < fw->n_subs; i++) {
		piece_topic(fw->st.rollout.release, fw->subs[i], topic, sizeof topic);
		mqtt_session_unsubscribe(fw->session, topic, err, sizeof err);
	}
	fw->n_subs = 0;
}

static int subscribed(const agent_firmware *fw, int n)
{
	int i;

	for (i = 0; i < fw->n_subs; i++)
		if (fw->subs[i] == n)
			return 1;
	return 0;
}

static void subscribe(agent_firmware *fw, const char *topic)
{
	char err[300];

	/* Not connected: on_connected subscribes again. */
	if (mqtt_session_connected(fw->session) && mqtt_session_subscribe(fw->session, topic, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_WARNING, "firmware: %s", err);
}

/* The missing pieces, lowest first, up to the window. */
static void fill_window(agent_firmware *fw)
{
	char topic[256];
	unsigned int n;

	for (n = 0; n < fw->st.rollout.n_pieces && fw->n_subs < fw->cfg->fw.window; n++) {
		if (fw_state_has_piece(&fw->st, n) || subscribed(fw, (int)n))
			continue;
		fw->subs[fw->n_subs++] = (int)n;
		piece_topic(fw->st.rollout.release, (int)n, topic, sizeof topic);
		subscribe(fw, topic);
	}
}

/* Also for a piece we did not ask for: the persistent session may hold a
 * subscription from before a restart. */
static void drop_sub(agent_firmware *fw, int n)
{
	char topic[256], err[300];
	int i;

	for (i = 0; i < fw->n_subs; i++)
		if (fw->subs[i] == n) {
			fw->subs[i] = fw->subs[--fw->n_subs];
			break;
		}
	piece_topic(fw->st.rollout.release, n, topic, sizeof topic);
	mqtt_session_unsubscribe(fw->session, topic, err, sizeof err);
}

/* What the phase needs, (again) after a connect or a resume. */
static void subscribe_wanted(agent_firmware *fw)
{
	char topic[256];
	int i;

	if (fw->busy)
		return;
	if (fw->st.rollout.phase == FW_PHASE_MANIFEST) {
		manifest_topic(fw->st.rollout.release, topic, sizeof topic);
		subscribe(fw, topic);
		fw->manifest_subscribed = 1;
	} else if (fw->st.rollout.phase == FW_PHASE_DOWNLOADING && fw->have_manifest) {
		for (i = 0; i < fw->n_subs; i++) {
			piece_topic(fw->st.rollout.release, fw->subs[i], topic, sizeof topic);
			subscribe(fw, topic);
		}
		fill_window(fw);
	}
}

/* --------------------------------------------------------- finishing */

/* Ends the rollout in progress: reported, stored as the last outcome, its
 * files removed. */
static void finish(agent_firmware *fw, fw_report_state state, int code, const char *detail)
{
	char dir[PATH_LEN], err[600];
	long long id = fw->st.rollout.id;
	char release[FW_RELEASE_MAX];

	snprintf(release, sizeof release, "%s", fw->st.rollout.release);
	unsubscribe_all(fw);
	fw_state_finish(&fw->st, fw_report_state_name(state), code ? fw_load_error_name(code) : "", code, detail);
	save_state(fw);
	report(fw, id, release, state, code, detail, fw->st.installed);
	work_dir(fw, release, dir, sizeof dir);
	if (fw_fs_remove_tree(dir, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_WARNING, "firmware: %s", err);
	if (fw->have_manifest)
		fw_manifest_free(&fw->man);
	fw->have_manifest = 0;
	OPENSSL_cleanse(fw->key, sizeof fw->key);
	fw->have_key = 0;
	fw->install_due = 0;
}

static void log_refusal(const char *what, long long rollout, const char *release, int code, const char *detail)
{
	sms_log(LOG_LEVEL_WARNING, "firmware rollout %lld (%s): %s refused, %s: %s", rollout, release, what,
	        fw_load_error_name(code), detail);
}

/* ------------------------------------------------------------ offers */

/* The rollout in progress, as the publisher should see it now. */
static void report_progress(agent_firmware *fw)
{
	switch (fw->st.rollout.phase) {
	case FW_PHASE_DOWNLOADING:
		report(fw, fw->st.rollout.id, fw->st.rollout.release, FW_REPORT_DOWNLOADING, 0, NULL, fw->st.installed);
		break;
	case FW_PHASE_INSTALLING:
	case FW_PHASE_SWITCHED:
		report(fw, fw->st.rollout.id, fw->st.rollout.release, FW_REPORT_INSTALLING, 0, NULL, fw->st.installed);
		break;
	default:
		break;
	}
}

/* Checks an authentic offer against what is installed and seen; 0 when it
 * may start, else the code and detail of the refusal. */
static int offer_allowed(agent_firmware *fw, const fw_offer *o, const fw_state *ps, char *detail, size_t len)
{
	long long installed = installed_version(fw, o->package);

	if (o->version <= installed) {
		snprintf(detail, len, "offered version %lld <= installed %lld", o->version, installed);
		return FW_ERR_STALE_PACKAGE;
	}
	if (o->version < ps->highest_seen) {
		snprintf(detail, len, "offered version %lld < %lld already seen (replay)", o->version, ps->highest_seen);
		return FW_ERR_STALE_PACKAGE;
	}
	return 0;
}

/* The offer's envelope kept with the rollout: the content key stays
 * encrypted on disk, decrypted again after a restart. */
static int start_rollout(agent_firmware *fw, const fw_offer *o, const unsigned char *der, size_t len, fw_state *ps,
                         char *err, size_t errlen)
{
	char dir[PATH_LEN];

	work_dir(fw, o->release, dir, sizeof dir);
	if (fw_fs_remove_tree(dir, err, errlen) != 0 || fw_fs_mkdirs(dir, err, errlen) != 0 ||
	    fw_fs_replace(dir, "offer.der", der, len, err, errlen) != 0)
		return -1;
	ps->rollout.phase = FW_PHASE_MANIFEST;
	ps->rollout.id = o->rollout;
	ps->rollout.version = o->version;
	snprintf(ps->rollout.release, sizeof ps->rollout.release, "%s", o->release);
	if (fw_state_save(fw->state_dir, ps, err, errlen) != 0)
		return -1;
	fw->st = *ps;
	memcpy(fw->key, o->key, FW_KEY_LEN);
	fw->have_key = 1;
	fw->reported_pieces = 0;
	return 0;
}

/* A newer offer for the package in progress replaces it; anything else
 * waits for the rollout in progress. 1: handled (refused or repeated). */
static int offer_while_busy(agent_firmware *fw, const fw_offer *o)
{
	char detail[FW_DETAIL_MAX];

	if (fw->st.rollout.phase == FW_PHASE_NONE)
		return 0;
	if (fw->st.rollout.id == o->rollout && strcmp(fw->st.rollout.release, o->release) == 0) {
		report_progress(fw);
		return 1;
	}
	if (!fw->busy && fw->st.rollout.phase <= FW_PHASE_DOWNLOADING && strcmp(fw->st.package, o->package) == 0 &&
	    o->version > fw->st.rollout.version) {
		snprintf(detail, sizeof detail, "superseded by rollout %lld (%s)", o->rollout, o->release);
		finish(fw, FW_REPORT_FAILED, FW_ERR_OTHER_ERROR, detail);
		return 0;
	}
	snprintf(detail, sizeof detail, "busy with rollout %lld (%s)", fw->st.rollout.id, fw->st.rollout.release);
	log_refusal("offer", o->rollout, o->release, FW_ERR_OTHER_ERROR, detail);
	report(fw, o->rollout, o->release, FW_REPORT_REJECTED, FW_ERR_OTHER_ERROR, detail,
	       installed_version(fw, o->package));
	return 1;
}

static void on_offer(agent_firmware *fw, const unsigned char *der, size_t len)
{
	fw_offer o;
	fw_state ps;
	char err[600], detail[FW_DETAIL_MAX];
	int code;

	if (fw_offer_decrypt(fw->ctx, fw->device, fw->verifier, fw->services_ca, der, len, &o, &code, err,
	                     sizeof err) != 0) {
		sms_log(LOG_LEVEL_WARNING, "firmware offer (%zu bytes) refused, %s: %s", len, fw_load_error_name(code), err);
		/* Only the publisher's offer for another equipment is answered; anything
		 * else has no authentic rollout to answer to. */
		if (code == FW_ERR_WRONG_HARDWARE && o.rollout > 0)
			report(fw, o.rollout, o.release, FW_REPORT_REJECTED, code, err, installed_version(fw, o.package));
		goto out;
	}
	sms_log(LOG_LEVEL_INFO, "firmware offer: rollout %lld, release %s", o.rollout, o.release);
	if (offer_while_busy(fw, &o))
		goto out;
	if (fw_state_load(fw->state_dir, o.package, &ps, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "firmware offer of rollout %lld not taken: %s", o.rollout, err);
		goto out;
	}
	if ((code = offer_allowed(fw, &o, &ps, detail, sizeof detail)) != 0) {
		log_refusal("offer", o.rollout, o.release, code, detail);
		report(fw, o.rollout, o.release, FW_REPORT_REJECTED, code, detail, installed_version(fw, o.package));
		goto out;
	}
	if (start_rollout(fw, &o, der, len, &ps, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "firmware offer of rollout %lld not taken: %s", o.rollout, err);
		goto out;
	}
	subscribe_wanted(fw);
out:
	fw_offer_clear(&o);
}

/* --------------------------------------------------------- manifest */

static int has_hardware(const fw_manifest *m, const char *type)
{
	size_t i;

	for (i = 0; i < m->n_hardware; i++)
		if (strcmp(m->hardware[i], type) == 0)
			return 1;
	return 0;
}

static int dependencies_met(agent_firmware *fw, const fw_manifest *m, char *detail, size_t len)
{
	long long have;
	size_t i;

	for (i = 0; i < m->n_requires; i++) {
		have = installed_version(fw, m->requires[i].package);
		if (have == 0) {
			snprintf(detail, len, "requires %s >= %lld, which is not installed", m->requires[i].package,
			         m->requires[i].min_version);
			return FW_ERR_MISSING_DEPENDENCY;
		}
		if (have < m->requires[i].min_version) {
			snprintf(detail, len, "requires %s >= %lld, installed is %lld", m->requires[i].package,
			         m->requires[i].min_version, have);
			return FW_ERR_WRONG_DEPENDENCY_VERSION;
		}
	}
	return 0;
}

/* The device's checks of a verified manifest (common/fw_manifest leaves
 * them to us): 0, or the RFC 4108 code with detail. */
static int manifest_allowed(agent_firmware *fw, const fw_manifest *m, char *detail, size_t len)
{
	long long installed = installed_version(fw, m->package);

	if (strcmp(m->release, fw->st.rollout.release) != 0 || m->version != fw->st.rollout.version) {
		snprintf(detail, len, "the manifest is release %s, the offer %s", m->release, fw->st.rollout.release);
		return FW_ERR_OTHER_ERROR;
	}
	if (!has_hardware(m, fw->cfg->fw.device_type)) {
		snprintf(detail, len, "built for other hardware than %s", fw->cfg->fw.device_type);
		return FW_ERR_WRONG_HARDWARE;
	}
	if (m->expires <= time(NULL)) {
		snprintf(detail, len, "expired");
		return FW_ERR_STALE_PACKAGE;
	}
	if (m->version <= installed || m->version < fw->st.highest_seen) {
		snprintf(detail, len, "version %lld, installed %lld, highest seen %lld", m->version, installed,
		         fw->st.highest_seen);
		return FW_ERR_STALE_PACKAGE;
	}
	/* min_version (the lowest version still accepted, DESIGN.md) needs no
	 * check of its own: it is <= version (fw_manifest), and version >= the
	 * highest version seen, which keeps every floor a manifest set. */
	if ((unsigned long long)m->size > fw->cfg->fw.max_image) {
		snprintf(detail, len, "image of %lld bytes, firmware.max_image is %llu", m->size, fw->cfg->fw.max_image);
		return FW_ERR_INSUFFICIENT_MEMORY;
	}
	return dependencies_met(fw, m, detail, len);
}

static void on_manifest(agent_firmware *fw, const unsigned char *der, size_t len)
{
	fw_manifest m;
	char err[600], dir[PATH_LEN];
	int code;

	if (fw_manifest_verify(fw->trust, fw->services_ca, der, len, &m, &code, err, sizeof err) != 0) {
		log_refusal("manifest", fw->st.rollout.id, fw->st.rollout.release, code, err);
		finish(fw, FW_REPORT_REJECTED, code, err);
		return;
	}
	if ((code = manifest_allowed(fw, &m, err, sizeof err)) != 0) {
		log_refusal("manifest", fw->st.rollout.id, fw->st.rollout.release, code, err);
		fw_manifest_free(&m);
		finish(fw, FW_REPORT_REJECTED, code, err);
		return;
	}
	work_dir(fw, fw->st.rollout.release, dir, sizeof dir);
	if (fw_fs_replace(dir, "manifest.der", der, len, err, sizeof err) != 0) {
		sms_log(LOG_LEVEL_ERROR, "firmware manifest of %s not stored (taken again later): %s",
		        fw->st.rollout.release, err);
		fw_manifest_free(&m);
		return;
	}
	fw->man = m;
	fw->have_manifest = 1;
	if (m.version > fw->st.highest_seen)
		fw->st.highest_seen = m.version;
	fw->st.rollout.phase = FW_PHASE_DOWNLOADING;
	fw->st.rollout.n_pieces = (unsigned int)m.n_pieces;
	memset(fw->st.rollout.have, 0, sizeof fw->st.rollout.have);
	save_state(fw);
	unsubscribe_all(fw);
	sms_log(LOG_LEVEL_INFO, "firmware rollout %lld: manifest of %s accepted (%lld bytes, %zu pieces)",
	        fw->st.rollout.id, m.release, m.size, m.n_pieces);
	report(fw, fw->st.rollout.id, fw->st.rollout.release, FW_REPORT_DOWNLOADING, 0, NULL, fw->st.installed);
	fill_window(fw);
}

/* ------------------------------------------------------------ pieces */

static void on_piece(agent_firmware *fw, unsigned int n, const unsigned char *data, size_t len)
{
	char dir[PATH_LEN], err[600];
	fw_image_result r;
	unsigned int held;

	if (n >= fw->st.rollout.n_pieces || fw_state_has_piece(&fw->st, n)) {
		drop_sub(fw, (int)n);
		return;
	}
	work_dir(fw, fw->st.rollout.release, dir, sizeof dir);
	r = fw_piece_store(dir, &fw->man, n, data, len, err, sizeof err);
	if (r == FW_IMAGE_MISMATCH) {
		log_refusal("piece", fw->st.rollout.id, fw->st.rollout.release, FW_ERR_BAD_FIRMWARE, err);
		finish(fw, FW_REPORT_FAILED, FW_ERR_BAD_FIRMWARE, err);
		return;
	}
	if (r != FW_IMAGE_OK) {
		/* The disk, not the piece: the broker delivers it again. */
		sms_log(LOG_LEVEL_ERROR, "firmware: %s; the piece is fetched again", err);
		mqtt_session_abandon(fw->session, "firmware piece not stored");
		return;
	}
	fw_state_set_piece(&fw->st, n);
	save_state(fw);
	held = fw_state_pieces_held(&fw->st);
	sms_log(LOG_LEVEL_INFO, "firmware rollout %lld: piece %u stored (%u of %u)", fw->st.rollout.id, n, held,
	        fw->st.rollout.n_pieces);
	drop_sub(fw, (int)n);
	if (held == fw->st.rollout.n_pieces || held - fw->reported_pieces >= (unsigned int)fw->cfg->fw.progress_every) {
		fw->reported_pieces = held;
		report(fw, fw->st.rollout.id, fw->st.rollout.release, FW_REPORT_DOWNLOADING, 0, NULL, fw->st.installed);
	}
	if (held == fw->st.rollout.n_pieces)
		fw->install_due = 1;
	else
		fill_window(fw);
}

/* sms/firmware/<release>/<rest> of the rollout in progress: rest, or NULL. */
static const char *release_topic_rest(const agent_firmware *fw, const char *topic)
{
	size_t n = strlen(fw->st.rollout.release);

	if (fw->st.rollout.phase == FW_PHASE_NONE || strncmp(topic, TOPIC_PREFIX, strlen(TOPIC_PREFIX)) != 0)
		return NULL;
	topic += strlen(TOPIC_PREFIX);
	if (strncmp(topic, fw->st.rollout.release, n) != 0 || topic[n] != '/')
		return NULL;
	return topic + n + 1;
}

static int parse_piece_number(const char *s, unsigned int *n)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= FW_MAX_PIECES)
		return -1;
	*n = (unsigned int)v;
	return 0;
}

int agent_firmware_wants(const agent_firmware *fw, const char *topic)
{
	return strcmp(topic, fw->topic_offer) == 0 || strncmp(topic, TOPIC_PREFIX, strlen(TOPIC_PREFIX)) == 0;
}

void agent_firmware_on_message(agent_firmware *fw, const struct mosquitto_message *msg)
{
	const unsigned char *p = msg->payload;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	const char *rest;
	unsigned int n;

	pthread_mutex_lock(&fw->lock);
	if (len == 0) {
		sms_log(LOG_LEVEL_DEBUG, "firmware: empty message on %s ignored (a withdrawn release)", msg->topic);
	} else if (strcmp(msg->topic, fw->topic_offer) == 0) {
		on_offer(fw, p, len);
	} else if (fw->busy || (rest = release_topic_rest(fw, msg->topic)) == NULL) {
		sms_log(LOG_LEVEL_DEBUG, "firmware: message on %s ignored (no rollout waits for it)", msg->topic);
	} else if (strcmp(rest, "manifest") == 0) {
		if (fw->st.rollout.phase == FW_PHASE_MANIFEST)
			on_manifest(fw, p, len);
	} else if (parse_piece_number(rest, &n) == 0 && fw->st.rollout.phase == FW_PHASE_DOWNLOADING &&
	           fw->have_manifest) {
		on_piece(fw, n, p, len);
	}
	pthread_mutex_unlock(&fw->lock);
}

void agent_firmware_on_connected(agent_firmware *fw)
{
	pthread_mutex_lock(&fw->lock);
	subscribe_wanted(fw);
	pthread_mutex_unlock(&fw->lock);
}

/* --------------------------------------------------------- install */

static void staging_path(const agent_firmware *fw, char *buf, size_t len)
{
	work_dir(fw, fw->st.rollout.release, buf, len);
	strncat(buf, "/image", len - strlen(buf) - 1);
}

/* Decrypts into staging unless a verified staged image is there already
 * (a restart during the install). 0, or the code with detail. */
static int stage_image(agent_firmware *fw, char *detail, size_t len)
{
	char dir[PATH_LEN], staging[PATH_LEN];
	fw_image_result r;

	work_dir(fw, fw->st.rollout.release, dir, sizeof dir);
	staging_path(fw, staging, sizeof staging);
	if (access(staging, F_OK) == 0 && fw_image_check(staging, fw->man.sha256, detail, len) == FW_IMAGE_OK)
		return 0;
	if (!fw->have_key) {
		snprintf(detail, len, "the content key is gone (offer no longer decrypts)");
		return FW_ERR_NO_DECRYPT_KEY;
	}
	r = fw_image_decrypt(dir, &fw->man, fw->key, staging, detail, len);
	switch (r) {
	case FW_IMAGE_OK:
		return 0;
	case FW_IMAGE_TAG:
		return FW_ERR_DECRYPT_FAILURE;
	case FW_IMAGE_DIGEST:
	case FW_IMAGE_SIZE:
	case FW_IMAGE_MISMATCH:
		return FW_ERR_BAD_FIRMWARE;
	default:
		return FW_ERR_OTHER_ERROR;
	}
}

/* Health check of the switched slot, then commit or roll back. Lock not held. */
static int health_and_commit(agent_firmware *fw, char *detail, size_t len)
{
	const char *slots = fw->cfg->fw.slots;
	char err[600];

	if (fw_slots_health(slots, fw->cfg->fw.health_hook, fw->cfg->fw.hook_timeout, detail, len) == 0)
		return 0;
	if (fw_slots_switch(slots, fw->st.rollout.slot_from, err, sizeof err) != 0)
		sms_log(LOG_LEVEL_ERROR, "firmware: rollback failed: %s", err);
	else
		sms_log(LOG_LEVEL_WARNING, "firmware: health check failed (%s); back on slot %c", detail,
		        fw->st.rollout.slot_from);
	return FW_ERR_BAD_FIRMWARE;
}

/* Switch (again: the rename may or may not have happened before a crash),
 * health check, outcome. Lock not held, busy set. */
static int switch_and_check(agent_firmware *fw, char *detail, size_t len)
{
	if (fw_slots_switch(fw->cfg->fw.slots, fw->st.rollout.slot_to, detail, len) != 0)
		return FW_ERR_OTHER_ERROR;
	sms_log(LOG_LEVEL_INFO, "firmware rollout %lld: current is slot %c, running the health check", fw->st.rollout.id,
	        fw->st.rollout.slot_to);
	return health_and_commit(fw, detail, len);
}

/* Runs with busy set: on_message leaves the rollout alone meanwhile, so
 * the lock is taken only around state changes. */
static int install(agent_firmware *fw, char *detail, size_t len)
{
	const agent_config *cfg = fw->cfg;
	char staging[PATH_LEN], cur;
	int code;

	if (fw->st.rollout.phase == FW_PHASE_SWITCHED)
		return switch_and_check(fw, detail, len);
	if ((code = stage_image(fw, detail, len)) != 0)
		return code;
	pthread_mutex_lock(&fw->lock);
	if (fw->st.rollout.phase == FW_PHASE_DOWNLOADING)
		report(fw, fw->st.rollout.id, fw->st.rollout.release, FW_REPORT_VERIFIED, 0, NULL, fw->st.installed);
	if ((cur = fw_slots_current(cfg->fw.slots, detail, len)) == 0) {
		pthread_mutex_unlock(&fw->lock);
		return FW_ERR_OTHER_ERROR;
	}
	fw->st.rollout.phase = FW_PHASE_INSTALLING;
	fw->st.rollout.slot_from = cur;
	fw->st.rollout.slot_to = fw_slots_other(cur);
	save_state(fw);
	report(fw, fw->st.rollout.id, fw->st.rollout.release, FW_REPORT_INSTALLING, 0, NULL, fw->st.installed);
	pthread_mutex_unlock(&fw->lock);
	staging_path(fw, staging, sizeof staging);
	sms_log(LOG_LEVEL_INFO, "firmware rollout %lld: installing into slot %c", fw->st.rollout.id,
	        fw->st.rollout.slot_to);
	if (fw_slots_install(cfg->fw.slots, fw->st.rollout.slot_to, staging, cfg->fw.install_hook, cfg->fw.hook_timeout,
	                     detail, len) != 0)
		return FW_ERR_OTHER_ERROR;
	pthread_mutex_lock(&fw->lock);
	fw->st.rollout.phase = FW_PHASE_SWITCHED;
	save_state(fw);
	pthread_mutex_unlock(&fw->lock);
	return switch_and_check(fw, detail, len);
}

static void run_install(agent_firmware *fw)
{
	char detail[FW_DETAIL_MAX];
	long long version = fw->st.rollout.version;
	int code;

	fw->busy = 1;
	fw->install_due = 0;
	pthread_mutex_unlock(&fw->lock);
	detail[0] = '\0';
	code = install(fw, detail, sizeof detail);
	pthread_mutex_lock(&fw->lock);
	fw->busy = 0;
	if (code != 0) {
		log_refusal("install (or health check)", fw->st.rollout.id, fw->st.rollout.release, code, detail);
		finish(fw, FW_REPORT_FAILED, code, detail);
		return;
	}
	fw->st.installed = version;
	sms_log(LOG_LEVEL_INFO, "firmware rollout %lld: %s installed and healthy", fw->st.rollout.id,
	        fw->st.rollout.release);
	finish(fw, FW_REPORT_SUCCEEDED, 0, NULL);
}

/* ----------------------------------------------------------- resume */

/* The key again from the offer kept on disk. */
static int reload_key(agent_firmware *fw, char *err, size_t errlen)
{
	char path[PATH_LEN];
	unsigned char *der = NULL;
	size_t len;
	fw_offer o;
	int code, rc;

	work_dir(fw, fw->st.rollout.release, path, sizeof path);
	strncat(path, "/offer.der", sizeof path - strlen(path) - 1);
	if (fw_fs_read(path, FW_OFFER_MAX_DER, &der, &len, err, errlen) != 0)
		return -1;
	rc = fw_offer_decrypt(fw->ctx, fw->device, fw->verifier, fw->services_ca, der, len, &o, &code, err, errlen);
	free(der);
	if (rc != 0)
		return -1;
	memcpy(fw->key, o.key, FW_KEY_LEN);
	fw->have_key = 1;
	fw_offer_clear(&o);
	return 0;
}

static int reload_manifest(agent_firmware *fw, char *err, size_t errlen)
{
	char path[PATH_LEN];
	unsigned char *der = NULL;
	size_t len;
	int code, rc;

	work_dir(fw, fw->st.rollout.release, path, sizeof path);
	strncat(path, "/manifest.der", sizeof path - strlen(path) - 1);
	if (fw_fs_read(path, FW_MANIFEST_MAX_DER, &der, &len, err, errlen) != 0)
		return -1;
	rc = fw_manifest_verify(fw->trust, fw->services_ca, der, len, &fw->man, &code, err, errlen);
	free(der);
	if (rc == 0)
		fw->have_manifest = 1;
	return rc;
}

/* After a restart: the rollout in progress taken up where the state says. */
static void resume(agent_firmware *fw)
{
	char err[600];
	fw_phase p = fw->st.rollout.phase;

	fw->resume_due = 0;
	if (p == FW_PHASE_NONE)
		return;
	sms_log(LOG_LEVEL_INFO, "firmware rollout %lld (%s): resuming in phase %s, %u of %u pieces on disk",
	        fw->st.rollout.id, fw->st.rollout.release, fw_phase_name(p), fw_state_pieces_held(&fw->st),
	        fw->st.rollout.n_pieces);
	if (p < FW_PHASE_SWITCHED && reload_key(fw, err, sizeof err) != 0 && p != FW_PHASE_INSTALLING) {
		finish(fw, FW_REPORT_FAILED, FW_ERR_NO_DECRYPT_KEY, err);
		return;
	}
	/* Once switched, the manifest is not needed again: the health check decides. */
	if (p >= FW_PHASE_DOWNLOADING && p < FW_PHASE_SWITCHED && reload_manifest(fw, err, sizeof err) != 0) {
		finish(fw, FW_REPORT_FAILED, FW_ERR_SIGNATURE_FAILURE, err);
		return;
	}
	if (p >= FW_PHASE_INSTALLING || fw_state_pieces_held(&fw->st) == fw->st.rollout.n_pieces)
		fw->install_due = p >= FW_PHASE_DOWNLOADING;
	fw->reported_pieces = fw_state_pieces_held(&fw->st);
	subscribe_wanted(fw);
}

void agent_firmware_tick(agent_firmware *fw)
{
	pthread_mutex_lock(&fw->lock);
	if (fw->resume_due)
		resume(fw);
	if (fw->install_due && !fw->busy && fw->st.rollout.phase >= FW_PHASE_DOWNLOADING)
		run_install(fw);
	pthread_mutex_unlock(&fw->lock);
}

/* -------------------------------------------------------------- setup */

/* The package whose rollout was in progress when the agent stopped. */
static int find_rollout(agent_firmware *fw, char *err, size_t errlen)
{
	char names[64][FW_PACKAGE_MAX + 1];
	fw_state st;
	size_t n, i;

	if (fw_state_list(fw->state_dir, names, 64, &n, err, errlen) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (fw_state_load(fw->state_dir, names[i], &st, err, errlen) != 0)
			return -1;
		if (st.rollout.phase != FW_PHASE_NONE) {
			fw->st = st;
			fw->resume_due = 1;
			return 0;
		}
	}
	return 0;
}

/* A crash between a rollout's end and the removal of its files leaves
 * them behind: everything but the rollout in progress goes. */
static void clean_work(agent_firmware *fw)
{
	DIR *d = opendir(fw->work_root);
	struct dirent *de;
	char path[PATH_LEN], err[600];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (fw->st.rollout.phase != FW_PHASE_NONE && strcmp(de->d_name, fw->st.rollout.release) == 0))
			continue;
		snprintf(path, sizeof path, "%s/%s", fw->work_root, de->d_name);
		if (fw_fs_remove_tree(path, err, sizeof err) != 0)
			sms_log(LOG_LEVEL_WARNING, "firmware: %s", err);
		else
			sms_log(LOG_LEVEL_INFO, "firmware: removed %s, left from an earlier rollout", path);
	}
	closedir(d);
}

static int open_trust(agent_firmware *fw, char *err, size_t errlen)
{
	const agent_config *cfg = fw->cfg;

	if ((fw->services_ca = signed_data_load_cert(cfg->e2e_services_ca, err, errlen)) == NULL ||
	    (fw->trust = signed_data_trust_new(cfg->e2e.trust_root, err, errlen)) == NULL)
		return -1;
	if ((fw->ctx = smscms_ctx_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (smscms_verifier_new(fw->ctx, cfg->e2e.trust_root, NULL, 0, &fw->verifier) != SMSCMS_OK) {
		snprintf(err, errlen, "firmware: offer verifier: %s", smscms_ctx_error(fw->ctx));
		return -1;
	}
	return 0;
}

agent_firmware *agent_firmware_open(const agent_config *cfg, const identity *self, const smscms_identity *device,
                                    char *err, size_t errlen)
{
	agent_firmware *fw = calloc(1, sizeof *fw);

	if (fw == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fw->cfg = cfg;
	fw->device = device;
	if (strlen(cfg->fw.dir) > DIR_LEN - 16) {
		snprintf(err, errlen, "firmware.dir: path too long");
		free(fw);
		return NULL;
	}
	pthread_mutex_init(&fw->lock, NULL);
	snprintf(fw->equipment, sizeof fw->equipment, "%s", self->name);
	snprintf(fw->topic_offer, sizeof fw->topic_offer, "%s/firmware", self->name);
	snprintf(fw->topic_status, sizeof fw->topic_status, "%s/firmware/status", self->name);
	snprintf(fw->state_dir, sizeof fw->state_dir, "%s/state", cfg->fw.dir);
	snprintf(fw->work_root, sizeof fw->work_root, "%s/work", cfg->fw.dir);
	if (fw_fs_mkdirs(fw->state_dir, err, errlen) != 0 || fw_fs_mkdirs(fw->work_root, err, errlen) != 0 ||
	    fw_slots_prepare(cfg->fw.slots, err, errlen) != 0 || open_trust(fw, err, errlen) != 0 ||
	    find_rollout(fw, err, errlen) != 0) {
		agent_firmware_close(fw);
		return NULL;
	}
	clean_work(fw);
	return fw;
}

void agent_firmware_close(agent_firmware *fw)
{
	if (fw == NULL)
		return;
	if (fw->have_manifest)
		fw_manifest_free(&fw->man);
	OPENSSL_cleanse(fw->key, sizeof fw->key);
	smscms_verifier_free(fw->verifier);
	smscms_ctx_free(fw->ctx);
	signed_data_trust_free(fw->trust);
	X509_free(fw->services_ca);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}

const char *agent_firmware_offer_topic(const agent_firmware *fw)
{
	return fw->topic_offer;
}

void agent_firmware_attach(agent_firmware *fw, mqtt_session *s)
{
	fw->session = s;
}

int agent_firmware_set_crls(agent_firmware *fw, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&fw->lock);
	if (signed_data_trust_set_crls(fw->trust, crls, err, errlen) != 0) {
		rc = -1;
	} else if (smscms_verifier_set_crls(fw->ctx, fw->verifier, crls) != SMSCMS_OK) {
		snprintf(err, errlen, "firmware: offer verifier CRLs: %s", smscms_ctx_error(fw->ctx));
		rc = -1;
	}
	pthread_mutex_unlock(&fw->lock);
	return rc;
}

void agent_firmware_get_stats(agent_firmware *fw, agent_firmware_stats *out)
{
	pthread_mutex_lock(&fw->lock);
	out->phase = (int)fw->st.rollout.phase;
	out->pieces = fw->st.rollout.n_pieces;
	out->pieces_held = fw_state_pieces_held(&fw->st);
	out->succeeded = fw->n_succeeded;
	out->failed = fw->n_failed;
	out->rejected = fw->n_rejected;
	pthread_mutex_unlock(&fw->lock);
}
