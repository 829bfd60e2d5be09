/*
 * sms-test-fw-device: a stand-in for the device side of firmware rollouts
 * in tests and benchmarks, built only on the common firmware modules (the
 * real agent is sms-agent). Two modes:
 *
 *   device --tls-dir D --e2e-dir E --equipment MA/ACC/EQ --tls-root F
 *          --e2e-root F --services-ca F --port N [--mode succeed|fail|reject|silent]
 *     connects as the equipment, decrypts every offer on <eq>/firmware
 *     (fw_offer_decrypt), and for succeed/fail fetches the manifest
 *     (fw_manifest_verify) and every piece (digest checked), decrypts the
 *     image (GCM tag, plaintext SHA-256) and reports downloading, verified,
 *     installing, succeeded (fail: failed badFirmware after verifying);
 *     reject answers rejected stalePackage at once; silent never answers.
 *     One line per event on stdout ("offer rollout=N release=R", "done ...").
 *   fleet  --tls-dir D --e2e-dir DIR --equipment MA/ACC/PREFIX --count N [--first I]
 *          --tls-root F --e2e-root F --services-ca F --port N [--mode ack|succeed]
 *     N devices MA/ACC/PREFIX<i> in one process (one connection and thread
 *     each), E2E identities DIR/PREFIX<i>/{cert,key,chain}.pem, all on the
 *     TLS certificate of D (a broker without sms_auth: benchmarks only).
 *     ack: the offer is decrypted and the manifest verified, then the
 *     device reports downloading N of N, verified, installing, succeeded
 *     without fetching the pieces.
 *   report --tls-dir D --tls-root F --port N --client-id ID --sign-dir E --topic-equipment MA/ACC/EQ
 *          --equipment MA/ACC/EQ --rollout N --release R --state S [--tamper]
 *     publishes one signed status report (as E's key; --tamper flips a
 *     byte of the signature) on MA/ACC/EQ/firmware/status and exits.
 * Exit status 0, or 1 with one line on stderr.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cms/smscms.h"
#include "common/fw_load_error.h"
#include "common/fw_manifest.h"
#include "common/fw_offer.h"
#include "common/fw_status.h"
#include "common/x509_util.h"

typedef struct {
	const char *tls_dir, *e2e_dir, *equipment, *tls_root, *e2e_root, *services_ca, *mode, *client_id, *sign_dir;
	const char *topic_eq;
	const char *release, *state;
	long long rollout;
	int port, tamper, count, first;
	char fleet_eq[IDENTITY_SCOPE_MAX], fleet_dir[512];
} args;

typedef struct {
	const args *a;
	struct mosquitto *mosq;
	smscms_ctx *ctx;
	smscms_identity *me;
	smscms_verifier *verifier;
	signed_data_trust *trust;
	X509 *services_ca;
	fw_offer offer;
	int busy, have_manifest;
	fw_manifest m;
	unsigned char **pieces;   /* by n, NULL until received */
	size_t *lens, n_have, max_pieces;
	int done;
} device;

static int die(const char *what)
{
	fprintf(stderr, "sms-test-fw-device: %s\n", what);
	return 1;
}

/* ------------------------------------------------------------ reporting */

static void report(device *d, fw_report_state st, long long pieces, long long of, int code, const char *detail)
{
	X509 *cert = smscms_identity_cert(d->me);
	EVP_PKEY *key = smscms_identity_key(d->me);
	unsigned char *der = NULL;
	char topic[256], err[600];
	fw_status s;
	size_t len;

	memset(&s, 0, sizeof s);
	snprintf(s.equipment, sizeof s.equipment, "%s", d->a->equipment);
	s.rollout = d->offer.rollout;
	snprintf(s.release, sizeof s.release, "%s", d->offer.release);
	s.state = st;
	s.pieces = pieces;
	s.of = of;
	s.code = code;
	snprintf(s.detail, sizeof s.detail, "%s", detail != NULL ? detail : "");
	s.installed_version = st == FW_REPORT_SUCCEEDED ? d->offer.version : -1;
	s.reported_at = time(NULL);
	if (fw_status_sign(cert, key, smscms_identity_chain(d->me), &s, &der, &len, err, sizeof err) != 0) {
		fprintf(stderr, "sms-test-fw-device: %s\n", err);
		return;
	}
	snprintf(topic, sizeof topic, "%s/firmware/status", d->a->equipment);
	mosquitto_publish(d->mosq, NULL, topic, (int)len, der, 1, false);
	OPENSSL_free(der);
	printf("report rollout=%lld state=%s\n", s.rollout, fw_report_state_name(st));
	fflush(stdout);
}

/* ------------------------------------------------------------ the image */

static int image_ok(device *d)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *out = malloc((size_t)d->m.piece_size), digest[FW_DIGEST_LEN];
	int outl, ok = c != NULL && md != NULL && out != NULL;
	size_t n;

	ok = ok && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, FW_NONCE_LEN, NULL) == 1 &&
	     EVP_DecryptInit_ex(c, NULL, NULL, d->offer.key, d->m.nonce) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)d->m.release, (int)strlen(d->m.release)) == 1 &&
	     EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (n = 0; ok && n < d->m.n_pieces; n++)
		ok = EVP_DecryptUpdate(c, out, &outl, d->pieces[n], (int)d->lens[n]) == 1 &&
		     EVP_DigestUpdate(md, out, (size_t)outl) == 1;
	ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, FW_TAG_LEN, d->m.tag) == 1 &&
	     EVP_DecryptFinal_ex(c, out, &outl) == 1 && EVP_DigestFinal_ex(md, digest, NULL) == 1 &&
	     memcmp(digest, d->m.sha256, FW_DIGEST_LEN) == 0;
	EVP_CIPHER_CTX_free(c);
	EVP_MD_CTX_free(md);
	free(out);
	return ok;
}

static void finish(device *d)
{
	int ok = image_ok(d);

	if (!ok) {
		report(d, FW_REPORT_FAILED, 0, 0, FW_ERR_DECRYPT_FAILURE, "image does not decrypt or verify");
	} else if (strcmp(d->a->mode, "fail") == 0) {
		report(d, FW_REPORT_VERIFIED, 0, 0, 0, NULL);
		report(d, FW_REPORT_FAILED, 0, 0, FW_ERR_BAD_FIRMWARE, "install hook failed (test)");
	} else {
		report(d, FW_REPORT_VERIFIED, 0, 0, 0, NULL);
		report(d, FW_REPORT_INSTALLING, 0, 0, 0, NULL);
		report(d, FW_REPORT_SUCCEEDED, 0, 0, 0, NULL);
	}
	printf("done rollout=%lld image=%s\n", d->offer.rollout, ok ? "ok" : "bad");
	fflush(stdout);
	d->busy = 0;
}

static void reset_download(device *d)
{
	size_t i;

	for (i = 0; d->pieces != NULL && i < d->max_pieces; i++)
		free(d->pieces[i]);
	free(d->pieces);
	free(d->lens);
	d->pieces = NULL;
	d->lens = NULL;
	d->n_have = d->max_pieces = 0;
	fw_manifest_free(&d->m);
	d->have_manifest = 0;
}

static void on_piece(device *d, size_t n, const void *data, size_t len)
{
	if (n >= FW_MANIFEST_MAX_PIECES || len == 0)
		return;
	if (d->pieces == NULL) {
		d->max_pieces = FW_MANIFEST_MAX_PIECES;
		d->pieces = calloc(d->max_pieces, sizeof *d->pieces);
		d->lens = calloc(d->max_pieces, sizeof *d->lens);
		if (d->pieces == NULL || d->lens == NULL)
			return;
	}
	if (d->pieces[n] != NULL)
		return;
	if (d->have_manifest && !fw_manifest_piece_ok(&d->m, n, data, len))
		return;
	if ((d->pieces[n] = malloc(len)) == NULL)
		return;
	memcpy(d->pieces[n], data, len);
	d->lens[n] = len;
	d->n_have++;
}

static void check_complete(device *d)
{
	size_t n;

	if (!d->have_manifest || d->n_have < d->m.n_pieces)
		return;
	for (n = 0; n < d->m.n_pieces; n++)
		if (d->pieces[n] == NULL || !fw_manifest_piece_ok(&d->m, n, d->pieces[n], d->lens[n]))
			return;
	report(d, FW_REPORT_DOWNLOADING, (long long)d->m.n_pieces, (long long)d->m.n_pieces, 0, NULL);
	finish(d);
	reset_download(d);
}

static void on_manifest(device *d, const void *data, size_t len)
{
	char err[600];
	int code;

	if (d->have_manifest)
		return;
	if (fw_manifest_verify(d->trust, d->services_ca, data, len, &d->m, &code, err, sizeof err) != 0) {
		report(d, FW_REPORT_REJECTED, 0, 0, code, "manifest refused");
		d->busy = 0;
		return;
	}
	if (strcmp(d->m.release, d->offer.release) != 0) {
		fw_manifest_free(&d->m);
		return;
	}
	d->have_manifest = 1;
	if (strcmp(d->a->mode, "ack") == 0) {
		report(d, FW_REPORT_DOWNLOADING, (long long)d->m.n_pieces, (long long)d->m.n_pieces, 0, NULL);
		report(d, FW_REPORT_VERIFIED, 0, 0, 0, NULL);
		report(d, FW_REPORT_INSTALLING, 0, 0, 0, NULL);
		report(d, FW_REPORT_SUCCEEDED, 0, 0, 0, NULL);
		printf("done rollout=%lld image=skipped\n", d->offer.rollout);
		d->busy = 0;
		fw_manifest_free(&d->m);
		d->have_manifest = 0;
		return;
	}
	report(d, FW_REPORT_DOWNLOADING, (long long)d->n_have, (long long)d->m.n_pieces, 0, NULL);
}

/* ------------------------------------------------------------ the offer */

static void on_offer(device *d, const void *data, size_t len)
{
	char err[600], filter[128];
	fw_offer o;
	int code;

	if (fw_offer_decrypt(d->ctx, d->me, d->verifier, d->services_ca, data, len, &o, &code, err, sizeof err) != 0) {
		printf("offer refused code=%d: %s\n", code, err);
		fflush(stdout);
		return;
	}
	printf("offer rollout=%lld release=%s\n", o.rollout, o.release);
	fflush(stdout);
	if (d->busy && o.rollout == d->offer.rollout) {
		fw_offer_clear(&o);
		return;   /* a re-offer of what we work on */
	}
	fw_offer_clear(&d->offer);
	d->offer = o;
	if (strcmp(d->a->mode, "silent") == 0)
		return;
	if (strcmp(d->a->mode, "reject") == 0) {
		report(d, FW_REPORT_REJECTED, 0, 0, FW_ERR_STALE_PACKAGE, "test: refuses every offer");
		return;
	}
	d->busy = 1;
	reset_download(d);
	snprintf(filter, sizeof filter, strcmp(d->a->mode, "ack") == 0 ? "sms/firmware/%s/manifest" : "sms/firmware/%s/#",
	         o.release);
	mosquitto_subscribe(d->mosq, NULL, filter, 1);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	device *d = ud;
	char prefix[160];
	size_t plen;
	const char *rest;

	(void)m;
	if (msg->payloadlen <= 0)
		return;
	if (strcmp(msg->topic + strlen(d->a->equipment), "/firmware") == 0 &&
	    strncmp(msg->topic, d->a->equipment, strlen(d->a->equipment)) == 0) {
		on_offer(d, msg->payload, (size_t)msg->payloadlen);
		return;
	}
	if (!d->busy)
		return;
	plen = (size_t)snprintf(prefix, sizeof prefix, "sms/firmware/%s/", d->offer.release);
	if (strncmp(msg->topic, prefix, plen) != 0)
		return;
	rest = msg->topic + plen;
	if (strcmp(rest, "manifest") == 0)
		on_manifest(d, msg->payload, (size_t)msg->payloadlen);
	else
		on_piece(d, strtoul(rest, NULL, 10), msg->payload, (size_t)msg->payloadlen);
	if (d->busy)
		check_complete(d);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	device *d = ud;
	char topic[200];

	if (rc != 0)
		return;
	snprintf(topic, sizeof topic, "%s/firmware", d->a->equipment);
	mosquitto_subscribe(m, NULL, topic, 1);
	if (d->busy) {
		snprintf(topic, sizeof topic, "sms/firmware/%s/#", d->offer.release);
		mosquitto_subscribe(m, NULL, topic, 1);
	}
	printf("connected\n");
	fflush(stdout);
}

/* ---------------------------------------------------------------- setup */

static struct mosquitto *connect_as(const args *a, const char *client_id, void *ud)
{
	char cert[512], key[512];
	struct mosquitto *m = mosquitto_new(client_id, true, ud);

	snprintf(cert, sizeof cert, "%s/fullchain.pem", a->tls_dir);
	snprintf(key, sizeof key, "%s/key.pem", a->tls_dir);
	if (m == NULL || mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311) != MOSQ_ERR_SUCCESS ||
	    mosquitto_tls_set(m, a->tls_root, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_connect(m, "127.0.0.1", a->port, 30) != MOSQ_ERR_SUCCESS) {
		mosquitto_destroy(m);
		return NULL;
	}
	return m;
}

static int load_identity(smscms_ctx *ctx, const char *dir, smscms_identity **out)
{
	char cert[512], key[512], chain[512];

	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	snprintf(chain, sizeof chain, "%s/chain.pem", dir);
	return smscms_identity_load_pem(ctx, cert, key, chain, out) == SMSCMS_OK ? 0 : -1;
}

/* Loads the identities and connects: 0, or -1 after a line on stderr. */
static int device_open(device *d, const args *a)
{
	char id[200], err[600];

	memset(d, 0, sizeof *d);
	d->a = a;
	if ((d->ctx = smscms_ctx_new()) == NULL || load_identity(d->ctx, a->e2e_dir, &d->me) != 0 ||
	    smscms_verifier_new(d->ctx, a->e2e_root, NULL, 0, &d->verifier) != SMSCMS_OK ||
	    (d->trust = signed_data_trust_new(a->e2e_root, err, sizeof err)) == NULL ||
	    (d->services_ca = x509_read_cert(a->services_ca)) == NULL)
		return die("cannot load the E2E identity, root or services CA"), -1;
	snprintf(id, sizeof id, "%s@fwtest", a->equipment);
	if ((d->mosq = connect_as(a, id, d)) == NULL)
		return die("cannot connect to the broker"), -1;
	mosquitto_connect_callback_set(d->mosq, on_connect);
	mosquitto_message_callback_set(d->mosq, on_message);
	return 0;
}

static void device_close(device *d)
{
	reset_download(d);
	fw_offer_clear(&d->offer);
	mosquitto_destroy(d->mosq);
	X509_free(d->services_ca);
	signed_data_trust_free(d->trust);
	smscms_verifier_free(d->verifier);
	smscms_identity_free(d->me);
	smscms_ctx_free(d->ctx);
}

static int run_device(const args *a)
{
	device d;
	int rc = 1;

	if (device_open(&d, a) == 0)
		rc = mosquitto_loop_forever(d.mosq, -1, 1) == MOSQ_ERR_SUCCESS ? 0 : 1;
	device_close(&d);
	return rc;
}

/* count devices, one thread each (libmosquitto's), until a signal. */
static int run_fleet(const args *a)
{
	args *each = calloc((size_t)a->count, sizeof *each);
	device *devs = calloc((size_t)a->count, sizeof *devs);
	int i, opened = 0, rc = 1;
	sigset_t set;

	if (each == NULL || devs == NULL)
		goto out;
	for (i = 0; i < a->count; i++) {
		each[i] = *a;
		snprintf(each[i].fleet_eq, sizeof each[i].fleet_eq, "%s%d", a->equipment, a->first + i);
		snprintf(each[i].fleet_dir, sizeof each[i].fleet_dir, "%s/%s%d", a->e2e_dir,
		         strrchr(a->equipment, '/') + 1, a->first + i);
		each[i].equipment = each[i].fleet_eq;
		each[i].e2e_dir = each[i].fleet_dir;
		if (device_open(&devs[i], &each[i]) != 0 || mosquitto_loop_start(devs[i].mosq) != MOSQ_ERR_SUCCESS)
			goto out;
		opened = i + 1;
	}
	printf("fleet connected: %d\n", a->count);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &i);
	rc = 0;
out:
	for (i = 0; i < opened; i++) {
		mosquitto_disconnect(devs[i].mosq);
		mosquitto_loop_stop(devs[i].mosq, true);
	}
	for (i = 0; devs != NULL && i < a->count; i++)
		if (devs[i].a != NULL)
			device_close(&devs[i]);
	free(devs);
	free(each);
	return rc;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)mid;
	*(int *)ud = 1;
	mosquitto_disconnect(m);
}

static int run_report(const args *a)
{
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_identity *id = NULL;
	unsigned char *der = NULL;
	char topic[256], err[600];
	struct mosquitto *m = NULL;
	fw_status s;
	size_t len;
	int sent = 0, rc = 1;

	memset(&s, 0, sizeof s);
	snprintf(s.equipment, sizeof s.equipment, "%s", a->equipment);
	s.rollout = a->rollout;
	snprintf(s.release, sizeof s.release, "%s", a->release);
	s.state = fw_report_state_from_name(a->state);
	s.installed_version = -1;
	s.reported_at = time(NULL);
	if (s.state == FW_REPORT_FAILED || s.state == FW_REPORT_REJECTED)
		s.code = FW_ERR_OTHER_ERROR;
	if (s.state == FW_REPORT_DOWNLOADING)
		s.of = 1;
	if (ctx == NULL || load_identity(ctx, a->sign_dir, &id) != 0) {
		die("cannot load the signing identity");
		goto out;
	}
	if (fw_status_sign(smscms_identity_cert(id), smscms_identity_key(id), smscms_identity_chain(id), &s, &der, &len,
	                   err, sizeof err) != 0) {
		die(err);
		goto out;
	}
	if (a->tamper)
		der[len - 10] ^= 0x01;   /* inside the ECDSA signature, the last field */
	snprintf(topic, sizeof topic, "%s/firmware/status", a->topic_eq);
	if ((m = connect_as(a, a->client_id, &sent)) == NULL) {
		die("cannot connect to the broker");
		goto out;
	}
	mosquitto_publish_callback_set(m, on_publish);
	if (mosquitto_publish(m, NULL, topic, (int)len, der, 1, false) != MOSQ_ERR_SUCCESS) {
		die("publish failed");
		goto out;
	}
	mosquitto_loop_forever(m, 10000, 1);
	rc = sent ? 0 : die("no PUBACK");
out:
	mosquitto_destroy(m);
	OPENSSL_free(der);
	smscms_identity_free(id);
	smscms_ctx_free(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tls-dir", required_argument, NULL, 't' }, { "e2e-dir", required_argument, NULL, 'e' },
		{ "equipment", required_argument, NULL, 'q' }, { "tls-root", required_argument, NULL, 'r' },
		{ "e2e-root", required_argument, NULL, 'R' }, { "services-ca", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' }, { "mode", required_argument, NULL, 'm' },
		{ "client-id", required_argument, NULL, 'i' }, { "sign-dir", required_argument, NULL, 'S' },
		{ "topic-equipment", required_argument, NULL, 'T' }, { "rollout", required_argument, NULL, 'o' },
		{ "release", required_argument, NULL, 'l' }, { "state", required_argument, NULL, 'x' },
		{ "tamper", no_argument, NULL, 'z' }, { "count", required_argument, NULL, 'n' },
		{ "first", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 }
	};
	args a;
	int opt, rc;

	memset(&a, 0, sizeof a);
	a.mode = "succeed";
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': a.tls_dir = optarg; break;
		case 'e': a.e2e_dir = optarg; break;
		case 'q': a.equipment = optarg; break;
		case 'r': a.tls_root = optarg; break;
		case 'R': a.e2e_root = optarg; break;
		case 's': a.services_ca = optarg; break;
		case 'p': a.port = atoi(optarg); break;
		case 'm': a.mode = optarg; break;
		case 'i': a.client_id = optarg; break;
		case 'S': a.sign_dir = optarg; break;
		case 'T': a.topic_eq = optarg; break;
		case 'o': a.rollout = atoll(optarg); break;
		case 'l': a.release = optarg; break;
		case 'x': a.state = optarg; break;
		case 'z': a.tamper = 1; break;
		case 'n': a.count = atoi(optarg); break;
		case 'f': a.first = atoi(optarg); break;
		default: return die("usage: see the comment at the top of tests/harness/sms_test_fw_device.c");
		}
	}
	if (optind != argc - 1 || a.tls_dir == NULL || a.tls_root == NULL || a.port <= 0)
		return die("usage: device|report with --tls-dir, --tls-root and --port");
	setvbuf(stdout, NULL, _IOLBF, 0);
	mosquitto_lib_init();
	if (strcmp(argv[optind], "device") == 0 && a.e2e_dir && a.equipment && a.e2e_root && a.services_ca)
		rc = run_device(&a);
	else if (strcmp(argv[optind], "fleet") == 0 && a.e2e_dir && a.equipment && strchr(a.equipment, '/') &&
	         a.e2e_root && a.services_ca && a.count > 0) {
		sigset_t set;

		/* Blocked before the device threads start: only sigwait takes them. */
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		rc = run_fleet(&a);
	}
	else if (strcmp(argv[optind], "report") == 0 && a.client_id && a.sign_dir && a.topic_eq && a.equipment &&
	         a.release && a.state && fw_report_state_from_name(a.state) != 0)
		rc = run_report(&a);
	else
		rc = die("device needs --e2e-dir --equipment --e2e-root --services-ca; report needs --client-id"
		         " --sign-dir --topic-equipment --equipment --rollout --release --state");
	mosquitto_lib_cleanup();
	return rc;
}
