/*
 * bench_fleet: a fleet of distinct devices (tests/bench/fleet_pki) for
 * tests/bench/fleet.bench.
 *
 *   bench_fleet pki      FLEET [--write I --out DIR]
 *   bench_fleet encrypt  FLEET --recipient CERT --rounds R [--values V] [--dictionary D] --out FILE
 *   bench_fleet publish  FLEET --port P --cafile ROOT --in FILE [--round R]
 *                        [--inflight W] [--rate MSG_PER_S] [--stamps FILE] [--shard K/S]
 *   bench_fleet decrypt  FLEET --in FILE --cert C --key K --chain F --trust ROOT --crl F
 *   FLEET = --pki DIR --ma MA --acc ACC --prefix P --devices N --cache DIR
 *
 * pki loads or issues the fleet and prints "devices=N source=issued|cache
 * seconds=S" (--write also writes device I's files, sms-pki layout).
 * encrypt writes R rounds of one snapshot per device (round robin, device
 * 0..N-1, seq = round + 1), each MQV-encrypted by the device's E2E identity
 * for CERT, to FILE as records (u32 device, u32 length, DER). --dictionary:
 * the compact form by the channel dictionary D, as RFC 3274 CompressedData
 * (what sms-devicesim --dictionary D --compress sends).
 * publish connects every device over TLS with its own certificate (one
 * connection each, held open, driven by one poll loop) and publishes the
 * records of round R (default: all) on MA/ACC/EQ/snapshots at QoS 1, at
 * most W unacknowledged at once (default 200), at MSG_PER_S when given. It
 * prints "connected=N seconds=S" and "published=K seconds=S". libmosquitto
 * takes three descriptors a client, so one process holds ~6,000 devices:
 * --shard K/S takes devices i with i % S == K only (run S of them). --stamps
 * F writes F.<K>: "EQ<TAB>seq<TAB>epoch_ms" of each message as it is published.
 * decrypt reads rounds 1 and 2 of FILE as recipient C and prints
 * "cold=<msg/s> warm=<msg/s> rss_growth_kib=<KiB> mqv_only=<msg/s>
 * warm_reparse=<msg/s>": cold is round 1 (every device seen for the first
 * time: MQV decrypt + chain verification against ROOT with the CRLs), warm
 * round 2 (same devices again, through the caches: a certificate cache of
 * sms-snapshotd's default size, the verifier's), mqv_only round 2 without
 * a verifier, warm_reparse round 2 through a ctx's own 32-entry cache
 * (every certificate parsed again); rss_growth is the resident size the
 * first two passes added (what the caches hold for N devices, plus
 * allocator slack).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "cms/smscms.h"
#include "common/snapshot_dict.h"
#include "common/snapshot_json.h"
#include "services/snapshotd/snapshotd_config.h"
#include "tests/bench/fleet_pki.h"

typedef struct {
	const char *cmd, *pki, *ma, *acc, *prefix, *cache, *out, *in, *recipient, *cafile, *stamps;
	const char *cert, *key, *chain, *trust, *crl, *dictionary;
	long devices, write_index, rounds, values, round, inflight, port, shard, shards;
	double rate;
} opts;

typedef struct {
	uint32_t dev, len, seq;
	unsigned char *der;
} record;

typedef struct {
	struct mosquitto *mosq;
	SSL_CTX *ssl;
	char topic[200];
	int connected;
} device_conn;

static long n_connected, n_acked, n_failed;
static FILE *stamps_out;
static record *recs;

static void die(const char *what)
{
	fprintf(stderr, "bench_fleet: %s\n", what);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof *o);
	o->write_index = -1;
	o->values = 340;
	o->inflight = 200;
	o->round = -1;
	o->shards = 1;
	if (argc < 2)
		return 0;
	o->cmd = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--pki")) o->pki = v;
		else if (!strcmp(a, "--ma")) o->ma = v;
		else if (!strcmp(a, "--acc")) o->acc = v;
		else if (!strcmp(a, "--prefix")) o->prefix = v;
		else if (!strcmp(a, "--cache")) o->cache = v;
		else if (!strcmp(a, "--devices")) o->devices = atol(v);
		else if (!strcmp(a, "--write")) o->write_index = atol(v);
		else if (!strcmp(a, "--out")) o->out = v;
		else if (!strcmp(a, "--in")) o->in = v;
		else if (!strcmp(a, "--recipient")) o->recipient = v;
		else if (!strcmp(a, "--rounds")) o->rounds = atol(v);
		else if (!strcmp(a, "--values")) o->values = atol(v);
		else if (!strcmp(a, "--round")) o->round = atol(v);
		else if (!strcmp(a, "--inflight")) o->inflight = atol(v);
		else if (!strcmp(a, "--rate")) o->rate = atof(v);
		else if (!strcmp(a, "--port")) o->port = atol(v);
		else if (!strcmp(a, "--cafile")) o->cafile = v;
		else if (!strcmp(a, "--stamps")) o->stamps = v;
		else if (!strcmp(a, "--shard")) { o->shard = atol(v); o->shards = atol(strchr(v, '/') ? strchr(v, '/') + 1 : "0"); }
		else if (!strcmp(a, "--cert")) o->cert = v;
		else if (!strcmp(a, "--key")) o->key = v;
		else if (!strcmp(a, "--chain")) o->chain = v;
		else if (!strcmp(a, "--trust")) o->trust = v;
		else if (!strcmp(a, "--crl")) o->crl = v;
		else if (!strcmp(a, "--dictionary")) o->dictionary = v;
		else {
			fprintf(stderr, "bench_fleet: unknown option %s\n", a);
			return 0;
		}
	}
	return o->pki && o->ma && o->acc && o->prefix && o->cache && o->devices > 0 && o->inflight > 0 &&
	       o->shards >= 1 && o->shard >= 0 && o->shard < o->shards;
}

static fleet_pki *open_fleet(const opts *o)
{
	char err[600];
	fleet_pki *f = fleet_pki_open(o->pki, o->ma, o->acc, o->prefix, (size_t)o->devices, o->cache, stderr,
	                              err, sizeof err);

	if (f == NULL)
		die(err);
	return f;
}

static int cmd_pki(const opts *o)
{
	double t0 = now_s();
	fleet_pki *f = open_fleet(o);
	char err[600];

	printf("devices=%zu source=%s seconds=%.2f\n", fleet_pki_count(f), fleet_pki_issued(f) ? "issued" : "cache",
	       now_s() - t0);
	if (o->write_index >= 0 && fleet_pki_write_device(f, (size_t)o->write_index, o->out, err, sizeof err) != 0)
		die(err);
	fleet_pki_free(f);
	return 0;
}

/* The snapshot sms-devicesim builds for (eq, seq): channel i is "c<i>" in
 * group "g<i/10>", every 17th a text, the others seq*1000 + i + 0.25 h. */
static char *snapshot_json(const char *eq, long seq, long values, time_t taken)
{
	cJSON *root = cJSON_CreateObject(), *vals, *v;
	char ts[32], name[32];
	struct tm tm;
	char *out = NULL;

	gmtime_r(&taken, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (root == NULL || cJSON_AddStringToObject(root, "equipment", eq) == NULL ||
	    cJSON_AddStringToObject(root, "device_type", "FM") == NULL ||
	    cJSON_AddStringToObject(root, "taken_at", ts) == NULL ||
	    cJSON_AddNumberToObject(root, "seq", (double)seq) == NULL ||
	    (vals = cJSON_AddArrayToObject(root, "values")) == NULL)
		goto out;
	for (long i = 0; i < values; i++) {
		if ((v = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(vals, v))
			goto out;
		snprintf(name, sizeof name, "g%ld", i / 10);
		if (cJSON_AddStringToObject(v, "group", name) == NULL)
			goto out;
		snprintf(name, sizeof name, "c%ld", i);
		if (cJSON_AddStringToObject(v, "channel", name) == NULL)
			goto out;
		if (i % 17 == 5 ? cJSON_AddStringToObject(v, "value", seq % 2 == 0 ? "ok" : "check") == NULL
		                : (cJSON_AddStringToObject(v, "unit", "h") == NULL ||
		                   cJSON_AddNumberToObject(v, "value", (double)seq * 1000 + i + 0.25) == NULL))
			goto out;
	}
	out = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return out;
}

/* The compact form of the full JSON by dict (the same parser reads both). */
static char *compact_json(const snapshot_dict *dict, char *json)
{
	snapshot s;
	char err[300], *out = NULL;

	if (snapshot_parse(json, strlen(json), 1000000, &s, err, sizeof err) != SNAPSHOT_OK)
		die(err);
	if (snapshot_dict_compact(dict, &s, &out, err, sizeof err) != 0)
		die(err);
	snapshot_free(&s);
	free(json);
	return out;
}

static int cmd_encrypt(const opts *o)
{
	snapshot_dict *dict = NULL;
	char derr[300];
	fleet_pki *f = open_fleet(o);
	smscms_ctx *ctx = smscms_ctx_new();
	smscms_encrypt_opts eo;
	X509 *rcpt = NULL;
	FILE *out = o->out ? fopen(o->out, "wb") : NULL;
	time_t base = time(NULL) - 86400;

	if (ctx == NULL || out == NULL || o->recipient == NULL || o->rounds < 1)
		die("encrypt needs --recipient, --rounds >= 1 and a writable --out");
	if (smscms_cert_load_pem(ctx, o->recipient, &rcpt) != SMSCMS_OK)
		die(smscms_ctx_error(ctx));
	smscms_encrypt_opts_init(&eo);
	if (o->dictionary != NULL) {
		if (snapshot_dict_load(o->dictionary, &dict, derr, sizeof derr) != 0)
			die(derr);
		eo.compress = 1;
	}
	for (long r = 0; r < o->rounds; r++)
		for (size_t i = 0; i < fleet_pki_count(f); i++) {
			smscms_identity *me = NULL;
			char *json = snapshot_json(fleet_pki_equipment(f, i), r + 1, o->values, base + r);

			if (json != NULL && dict != NULL)
				json = compact_json(dict, json);
			unsigned char *der = NULL;
			size_t len = 0;
			uint32_t hdr[2];

			if (json == NULL || smscms_identity_new(ctx, fleet_pki_cert(f, FLEET_E2E, i),
			                                        fleet_pki_key(f, FLEET_E2E, i),
			                                        fleet_pki_chain(f, FLEET_E2E), &me) != SMSCMS_OK ||
			    smscms_encrypt(ctx, &eo, me, &rcpt, 1, (unsigned char *)json, strlen(json), &der, &len) != SMSCMS_OK)
				die(smscms_ctx_error(ctx));
			hdr[0] = (uint32_t)i;
			hdr[1] = (uint32_t)len;
			if (fwrite(hdr, sizeof hdr, 1, out) != 1 || fwrite(der, 1, len, out) != len)
				die("writing the payloads failed");
			OPENSSL_free(der);
			free(json);
			smscms_identity_free(me);
		}
	if (fclose(out) != 0)
		die("writing the payloads failed");
	X509_free(rcpt);
	smscms_ctx_free(ctx);
	fleet_pki_free(f);
	snapshot_dict_free(dict);
	return 0;
}

static size_t read_records(const char *path, size_t devices, long round, long shard, long shards)
{
	FILE *in = fopen(path, "rb");
	size_t n = 0, cap = 0, k = 0;
	uint32_t hdr[2];

	if (in == NULL)
		die("cannot open --in");
	while (fread(hdr, sizeof hdr, 1, in) == 1) {
		unsigned char *der = malloc(hdr[1]);
		uint32_t seq = (uint32_t)(k++ / devices) + 1;

		if (der == NULL || fread(der, 1, hdr[1], in) != hdr[1])
			die("short payload file");
		if ((round >= 0 && seq != (uint32_t)round + 1) || (long)(hdr[0] % (uint32_t)shards) != shard) {
			free(der);
			continue;
		}
		if (n == cap && (recs = realloc(recs, (cap = cap ? 2 * cap : 4096) * sizeof *recs)) == NULL)
			die("out of memory");
		recs[n++] = (record){ hdr[0], hdr[1], seq, der };
	}
	fclose(in);
	return n;
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	device_conn *d = ud;

	(void)m;
	if (rc != 0) {
		n_failed++;
		return;
	}
	d->connected = 1;
	n_connected++;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m;
	(void)ud;
	(void)mid;
	n_acked++;
}

static SSL_CTX *device_ssl(fleet_pki *f, size_t i, X509_STORE *store)
{
	SSL_CTX *s = SSL_CTX_new(TLS_client_method());
	STACK_OF(X509) *chain = fleet_pki_chain(f, FLEET_TLS);

	if (s == NULL || SSL_CTX_use_certificate(s, fleet_pki_cert(f, FLEET_TLS, i)) != 1 ||
	    SSL_CTX_use_PrivateKey(s, fleet_pki_key(f, FLEET_TLS, i)) != 1)
		die("TLS context for a device failed");
	for (int c = 0; c < sk_X509_num(chain); c++)
		if (SSL_CTX_add1_chain_cert(s, sk_X509_value(chain, c)) != 1)
			die("TLS chain for a device failed");
	SSL_CTX_set1_cert_store(s, store);
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER, NULL);
	return s;
}

/* One pass of the poll loop over every connection. */
static void pump(device_conn *c, size_t n, struct pollfd *pfd, int timeout_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int fd = mosquitto_socket(c[i].mosq);
		pfd[i].fd = fd;
		pfd[i].events = fd < 0 ? 0 : (short)(POLLIN | (mosquitto_want_write(c[i].mosq) ? POLLOUT : 0));
		pfd[i].revents = 0;
		k++;
	}
	if (poll(pfd, k, timeout_ms) < 0 && errno != EINTR)
		die("poll failed");
	for (size_t i = 0; i < n; i++) {
		if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			mosquitto_loop_read(c[i].mosq, 1);
		if (mosquitto_socket(c[i].mosq) >= 0 && mosquitto_want_write(c[i].mosq))
			mosquitto_loop_write(c[i].mosq, 1);
	}
}

static void misc_all(device_conn *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mosquitto_loop_misc(c[i].mosq);
}

/* This shard's devices: position i is device shard + i * shards. */
static size_t own_count(const opts *o, size_t devices)
{
	return (devices - (size_t)o->shard + (size_t)o->shards - 1) / (size_t)o->shards;
}

static void connect_all(fleet_pki *f, const opts *o, device_conn *c, struct pollfd *pfd)
{
	size_t n = own_count(o, fleet_pki_count(f));
	X509_STORE *store = X509_STORE_new();
	X509 *root = NULL;
	FILE *rf = fopen(o->cafile, "r");
	double t0 = now_s(), last = t0;
	int rc;

	if (store == NULL || rf == NULL || (root = PEM_read_X509(rf, NULL, NULL, NULL)) == NULL ||
	    X509_STORE_add_cert(store, root) != 1)
		die("cannot load --cafile");
	fclose(rf);
	for (size_t i = 0; i < n; i++) {
		size_t dev = (size_t)o->shard + i * (size_t)o->shards;
		char id[300];

		snprintf(c[i].topic, sizeof c[i].topic, "%s/%s/%s/snapshots", fleet_pki_ma(f), fleet_pki_acc(f),
		         fleet_pki_equipment(f, dev));
		snprintf(id, sizeof id, "%s/%s/%s@fleet", fleet_pki_ma(f), fleet_pki_acc(f), fleet_pki_equipment(f, dev));
		c[i].ssl = device_ssl(f, dev, store);
		c[i].mosq = mosquitto_new(id, true, &c[i]);
		if (c[i].mosq == NULL ||
		    mosquitto_int_option(c[i].mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) != MOSQ_ERR_SUCCESS ||
		    mosquitto_void_option(c[i].mosq, MOSQ_OPT_SSL_CTX, c[i].ssl) != MOSQ_ERR_SUCCESS)
			die("mosquitto client setup failed");
		mosquitto_connect_callback_set(c[i].mosq, on_connect);
		mosquitto_publish_callback_set(c[i].mosq, on_publish);
		if ((rc = mosquitto_connect(c[i].mosq, "127.0.0.1", (int)o->port, 600)) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "bench_fleet: device %zu of %zu: connect: %s (%s)\n", i, n, mosquitto_strerror(rc),
			        rc == MOSQ_ERR_ERRNO ? strerror(errno) : "");
			exit(1);
		}
		/* Handshakes in batches, so the broker's accept queue never overflows. */
		while ((long)i + 1 - n_connected - n_failed >= 100)
			pump(c, i + 1, pfd, 100);
		if (now_s() - last > 5) {
			fprintf(stderr, "bench_fleet: %ld of %zu connected\n", n_connected, n);
			last = now_s();
		}
	}
	while ((size_t)(n_connected + n_failed) < n && now_s() - t0 < 600)
		pump(c, n, pfd, 100);
	if (n_failed > 0 || (size_t)n_connected < n)
		die("not every device could connect (see the broker's log)");
	X509_free(root);
	X509_STORE_free(store);
	printf("connected=%ld seconds=%.2f\n", n_connected, now_s() - t0);
	fflush(stdout);
}

static int next_due_ms(const opts *o, size_t next, size_t nrec, double t0)
{
	double wait;

	if (next >= nrec || (long)next - n_acked >= o->inflight)
		return 50;
	if (o->rate <= 0)
		return 0;
	wait = ((double)(next + 1) / o->rate - (now_s() - t0)) * 1000;
	return wait < 1 ? 1 : wait > 50 ? 50 : (int)wait;
}

static int cmd_publish(const opts *o)
{
	fleet_pki *f = open_fleet(o);
	size_t n = own_count(o, fleet_pki_count(f)), nrec;
	device_conn *c = calloc(n, sizeof *c);
	struct pollfd *pfd = calloc(n, sizeof *pfd);
	double t0, tmisc;
	size_t next = 0;

	if (c == NULL || pfd == NULL || o->in == NULL || o->cafile == NULL || o->port <= 0)
		die("publish needs --in, --cafile and --port");
	nrec = read_records(o->in, fleet_pki_count(f), o->round, o->shard, o->shards);
	if (o->stamps != NULL) {
		char path[4096];

		snprintf(path, sizeof path, "%s.%ld", o->stamps, o->shard);
		/* Line-buffered: the bench stops publishers with SIGTERM. */
		if ((stamps_out = fopen(path, "w")) == NULL || setvbuf(stamps_out, NULL, _IOLBF, 0) != 0)
			die("cannot write --stamps");
	}
	mosquitto_lib_init();
	connect_all(f, o, c, pfd);
	t0 = tmisc = now_s();
	while ((size_t)n_acked < nrec) {
		while (next < nrec && (long)next - n_acked < o->inflight &&
		       (o->rate <= 0 || (double)next < (now_s() - t0) * o->rate)) {
			record *r = &recs[next];
			device_conn *d = &c[r->dev / (uint32_t)o->shards];
			if (mosquitto_publish(d->mosq, NULL, d->topic, (int)r->len, r->der, 1, false) !=
			    MOSQ_ERR_SUCCESS)
				die("publish failed (connection lost?)");
			if (stamps_out != NULL)
				fprintf(stamps_out, "%s\t%u\t%lld\n", fleet_pki_equipment(f, r->dev), r->seq, epoch_ms());
			next++;
		}
		/* Sleep in poll until the next message is due (at most 50 ms):
		 * a scan of thousands of sockets every few ms would eat the
		 * CPU the ingest under test needs. */
		pump(c, n, pfd, next_due_ms(o, next, nrec, t0));
		if (now_s() - tmisc > 1) {
			misc_all(c, n);
			tmisc = now_s();
		}
	}
	printf("published=%zu seconds=%.2f\n", nrec, now_s() - t0);
	if (stamps_out != NULL && fclose(stamps_out) != 0)
		die("writing --stamps failed");
	for (size_t i = 0; i < n; i++) {
		mosquitto_disconnect(c[i].mosq);
		mosquitto_loop_write(c[i].mosq, 1);
		mosquitto_destroy(c[i].mosq);
		SSL_CTX_free(c[i].ssl);
	}
	for (size_t k = 0; k < nrec; k++)
		free(recs[k].der);
	free(recs);
	free(c);
	free(pfd);
	fleet_pki_free(f);
	mosquitto_lib_cleanup();
	return 0;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, rss = 0;

	if (f == NULL || fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = 0;
	if (f != NULL)
		fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Messages per second decrypting recs[from, to). */
static double decrypt_pass(smscms_ctx *ctx, const smscms_identity *me, smscms_verifier *v, size_t from, size_t to)
{
	double t0 = now_s();

	for (size_t k = from; k < to; k++) {
		unsigned char *pt = NULL;
		size_t len = 0;

		if (smscms_decrypt(ctx, NULL, me, v, recs[k].der, recs[k].len, &pt, &len, NULL) != SMSCMS_OK)
			die(smscms_ctx_error(ctx));
		OPENSSL_free(pt);
	}
	return (double)(to - from) / (now_s() - t0);
}

static int cmd_decrypt(const opts *o)
{
	smscms_ctx *ctx = smscms_ctx_new(), *small = smscms_ctx_new();
	smscms_certcache *certs = smscms_certcache_new(SNAPSHOTD_CERT_CACHE);
	smscms_identity *me = NULL;
	smscms_verifier *v = NULL;
	const char *crls[1] = { o->crl };
	size_t n = (size_t)o->devices, nrec;
	double cold, warm, mqv, reparse;
	long rss0;

	if (ctx == NULL || small == NULL || certs == NULL)
		die("out of memory");
	/* As sms-snapshotd: one cache of its default size for the fleet. */
	smscms_ctx_use_certcache(ctx, certs);
	if (o->in == NULL || o->cert == NULL || o->key == NULL || o->trust == NULL || o->crl == NULL)
		die("decrypt needs --in, --cert, --key, --trust and --crl");
	if (smscms_identity_load_pem(ctx, o->cert, o->key, o->chain, &me) != SMSCMS_OK ||
	    smscms_verifier_new(ctx, o->trust, crls, 1, &v) != SMSCMS_OK)
		die(smscms_ctx_error(ctx));
	nrec = read_records(o->in, n, -1, 0, 1);
	if (nrec < 2 * n)
		die("decrypt needs two rounds in --in");
	rss0 = rss_kib();
	cold = decrypt_pass(ctx, me, v, 0, n);
	warm = decrypt_pass(ctx, me, v, n, 2 * n);
	printf("cold=%.0f warm=%.0f", cold, warm);
	printf(" rss_growth_kib=%ld", rss_kib() - rss0);
	mqv = decrypt_pass(ctx, me, NULL, n, 2 * n);
	/* A ctx's own 32-entry cache: what every message costs when the fleet
	 * is larger than the cache (the certificate parsed each time). */
	reparse = decrypt_pass(small, me, v, n, 2 * n);
	printf(" mqv_only=%.0f warm_reparse=%.0f\n", mqv, reparse);
	for (size_t k = 0; k < nrec; k++)
		free(recs[k].der);
	free(recs);
	smscms_verifier_free(v);
	smscms_identity_free(me);
	smscms_certcache_free(certs);
	smscms_ctx_free(small);
	smscms_ctx_free(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	opts o;

	if (!parse(argc, argv, &o)) {
		fputs("usage: bench_fleet pki|encrypt|publish --pki DIR --ma MA --acc ACC --prefix P --devices N\n"
		      "       --cache DIR [command options, see the source's header]\n", stderr);
		return 2;
	}
	if (!strcmp(o.cmd, "pki"))
		return cmd_pki(&o);
	if (!strcmp(o.cmd, "encrypt"))
		return cmd_encrypt(&o);
	if (!strcmp(o.cmd, "publish"))
		return cmd_publish(&o);
	if (!strcmp(o.cmd, "decrypt"))
		return cmd_decrypt(&o);
	fprintf(stderr, "bench_fleet: unknown command %s\n", o.cmd);
	return 2;
}
