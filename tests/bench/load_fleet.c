#include "tests/bench/load_fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/monotonic.h"
#include "tests/bench/load_msg.h"

enum dev_state { D_IDLE, D_CONNECTING, D_UP };

struct dev {
	load_fleet *f;
	uint32_t idx;
	struct mosquitto *m;
	SSL_CTX *ctx;
	char *client_id, *topic, *receipts;
	enum dev_state state;
	int fd, tcp_up, refused, queued;
	uint32_t events, pub_gen;
	double started, retry_at;
	uint64_t seq;
};

struct due { double at; uint32_t idx, gen; };

struct load_fleet {
	struct load_fleet_cfg cfg;
	int ep;
	struct dev *d;
	unsigned char *buf;
	size_t target;
	double rate, rate_t0;
	long rate_started;
	uint32_t *q; /* connect queue, a ring of device indices */
	size_t qhead, qlen;
	struct due *heap;
	size_t hn;
	double interval, pub_t0;
	unsigned step;
	size_t misc_cursor;
	double misc_last;
	struct load_fleet_stats st;
};

static void heap_push(load_fleet *f, struct due e)
{
	size_t i = f->hn++;

	while (i > 0 && f->heap[(i - 1) / 2].at > e.at) {
		f->heap[i] = f->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	f->heap[i] = e;
}

static struct due heap_pop(load_fleet *f)
{
	struct due top = f->heap[0], last = f->heap[--f->hn];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < f->hn) {
		if (c + 1 < f->hn && f->heap[c + 1].at < f->heap[c].at)
			c++;
		if (f->heap[c].at >= last.at)
			break;
		f->heap[i] = f->heap[c];
		i = c;
	}
	if (f->hn > 0)
		f->heap[i] = last;
	return top;
}

/* The next publishing slot of device i at or after now: a phase of its own
 * (golden-ratio spacing keeps any prefix of the fleet evenly spread). */
static double next_slot(const load_fleet *f, uint32_t i, double now)
{
	double phase = fmod((double)i * 0.6180339887498949, 1.0) * f->interval;
	double k = ceil((now - f->pub_t0 - phase) / f->interval);

	return f->pub_t0 + phase + (k < 0 ? 0 : k) * f->interval;
}

static void schedule(load_fleet *f, struct dev *d, double now)
{
	if (f->interval > 0 && d->state == D_UP)
		heap_push(f, (struct due){ next_slot(f, d->idx, now), d->idx, d->pub_gen });
}

static void enqueue(load_fleet *f, struct dev *d)
{
	if (d->queued || f->qlen == f->cfg.n)
		return;
	f->q[(f->qhead + f->qlen++) % f->cfg.n] = d->idx;
	d->queued = 1;
}

static void dev_close(load_fleet *f, struct dev *d)
{
	if (d->fd >= 0)
		epoll_ctl(f->ep, EPOLL_CTL_DEL, d->fd, NULL);
	if (d->m != NULL)
		mosquitto_destroy(d->m);
	d->m = NULL;
	d->fd = -1;
	d->events = 0;
	if (d->state == D_UP)
		f->st.connected--;
	else if (d->state == D_CONNECTING)
		f->st.connecting--;
	d->state = D_IDLE;
	d->pub_gen++;
}

/* A session that failed (handshake, refusal) or dropped: closed, counted,
 * and queued to connect again while the device is still wanted. */
static void dev_fail(load_fleet *f, struct dev *d)
{
	if (d->state == D_UP)
		f->st.drops++;
	else if (d->refused)
		f->st.refused++;
	else
		f->st.failures++;
	dev_close(f, d);
	d->retry_at = monotonic_seconds() + LOAD_FLEET_RETRY_S;
	if (d->idx < f->target)
		enqueue(f, d);
}

static int handshake_done(const struct dev *d)
{
	SSL *ssl = mosquitto_ssl_get(d->m);

	return ssl != NULL && SSL_is_init_finished(ssl);
}

/* After every libmosquitto call on d: was its socket closed, and which
 * events does it wait for now? While the handshake runs, EPOLLOUT is
 * wanted only until the TCP connect completed (libmosquitto's want_write
 * stays set once the handshake asked for it, which would spin); the
 * handshake's later writes are small enough never to block. */
static int dev_sync(load_fleet *f, struct dev *d)
{
	struct epoll_event ev = { 0 };
	uint32_t want = EPOLLIN | EPOLLRDHUP;
	int fd = mosquitto_socket(d->m);

	if (fd < 0 || fd != d->fd || d->refused) {
		dev_fail(f, d);
		return -1;
	}
	if (!handshake_done(d))
		want |= d->tcp_up ? 0 : EPOLLOUT;
	else if (mosquitto_want_write(d->m))
		want |= EPOLLOUT;
	if (want == d->events)
		return 0;
	ev.events = want;
	ev.data.ptr = d;
	if (epoll_ctl(f->ep, d->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
		fprintf(stderr, "load_fleet: epoll_ctl for %s: %s\n", d->client_id, strerror(errno));
		dev_fail(f, d);
		return -1;
	}
	d->events = want;
	return 0;
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct dev *d = ud;
	load_fleet *f = d->f;
	char *subs[2] = { d->receipts, "sms/crl/#" };

	(void)flags; (void)props;
	if (rc != 0) {
		d->refused = rc;
		return;
	}
	d->state = D_UP;
	f->st.connecting--;
	f->st.connected++;
	f->st.last_connack = monotonic_seconds();
	if (mosquitto_subscribe_multiple(m, NULL, 2, subs, 1, 0, NULL) != MOSQ_ERR_SUCCESS)
		fprintf(stderr, "load_fleet: %s could not subscribe\n", d->client_id);
	schedule(f, d, f->st.last_connack);
}

static void on_publish(struct mosquitto *m, void *ud, int mid, int reason, const mosquitto_property *props)
{
	struct dev *d = ud;

	(void)m; (void)mid; (void)props;
	if (reason < 0x80)
		d->f->st.acked++;
}

static SSL_CTX *make_ctx(const load_fleet *f, const struct dev *d)
{
	const struct load_device *ld = &f->cfg.devices[d->idx];
	unsigned char ip[16];
	X509_VERIFY_PARAM *vp;
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	int ok;

	if (c == NULL)
		return NULL;
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set1_cert_store(c, f->cfg.roots);
	ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 && SSL_CTX_use_certificate(c, ld->cert) == 1 && SSL_CTX_use_PrivateKey(c, ld->key) == 1;
	for (int i = 0; ok && i < sk_X509_num(f->cfg.chain); i++)
		ok = SSL_CTX_add1_chain_cert(c, sk_X509_value(f->cfg.chain, i)) == 1;
	vp = SSL_CTX_get0_param(c);
	if (ok && (inet_pton(AF_INET, f->cfg.host, ip) == 1 || inet_pton(AF_INET6, f->cfg.host, ip) == 1))
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, f->cfg.host) == 1;
	else if (ok)
		ok = X509_VERIFY_PARAM_set1_host(vp, f->cfg.host, 0) == 1;
	if (!ok) {
		fprintf(stderr, "load_fleet: TLS context for %s: %s\n", d->client_id,
		        ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

/* libmosquitto 2.0 opens a socket pair per client only to wake its own
 * threaded loop, which this fleet never runs; when the pair cannot be
 * opened it logs a warning and every use checks for INVALID_SOCKET. At
 * three descriptors a device, a hard limit of 20,000 (no CAP_SYS_RESOURCE
 * to raise it) would cap one process at 6,600 devices: the pair is refused
 * by setting the soft limit to the lowest free descriptor around
 * mosquitto_new (this process has one thread). */
static struct mosquitto *new_client(const load_fleet *f, struct dev *d)
{
	struct rlimit rl, tight;
	struct mosquitto *m;
	int lowest = fcntl(f->ep, F_DUPFD, 0);

	if (lowest < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		if (lowest >= 0)
			close(lowest);
		return mosquitto_new(d->client_id, true, d);
	}
	close(lowest);
	tight = rl;
	tight.rlim_cur = (rlim_t)lowest;
	if (setrlimit(RLIMIT_NOFILE, &tight) != 0)
		return mosquitto_new(d->client_id, true, d);
	m = mosquitto_new(d->client_id, true, d);
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		fprintf(stderr, "load_fleet: restoring the descriptor limit: %s\n", strerror(errno));
	return m;
}

static int dev_connect(load_fleet *f, struct dev *d, double now)
{
	char bind[32];
	int rc;

	d->refused = 0;
	d->tcp_up = 0;
	if (d->ctx == NULL && (d->ctx = make_ctx(f, d)) == NULL)
		return -1;
	if ((d->m = new_client(f, d)) == NULL)
		return -1;
	rc = mosquitto_int_option(d->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(d->m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_void_option(d->m, MOSQ_OPT_SSL_CTX, d->ctx);
	mosquitto_connect_v5_callback_set(d->m, on_connect);
	mosquitto_publish_v5_callback_set(d->m, on_publish);
	if (f->cfg.sources > 0)
		snprintf(bind, sizeof bind, "127.0.0.%u", 2 + (unsigned)(d->idx % (uint32_t)f->cfg.sources) % 250);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_bind_async(d->m, f->cfg.host, f->cfg.port, f->cfg.keepalive,
		                                  f->cfg.sources > 0 ? bind : NULL);
	d->state = D_CONNECTING;
	d->started = now;
	d->fd = -1;
	f->st.connecting++;
	f->st.connects++;
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "load_fleet: %s connecting: %s\n", d->client_id, mosquitto_strerror(rc));
		dev_fail(f, d);
		return 0;
	}
	d->fd = mosquitto_socket(d->m);
	dev_sync(f, d);
	return 0;
}

static void dev_event(load_fleet *f, struct dev *d, uint32_t events)
{
	int rc = MOSQ_ERR_SUCCESS;

	if (!handshake_done(d)) {
		if (events & EPOLLOUT)
			d->tcp_up = 1;
		rc = mosquitto_loop_read(d->m, 1); /* continues SSL_connect */
		if (rc == MOSQ_ERR_SUCCESS && !handshake_done(d) && (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
			rc = MOSQ_ERR_CONN_LOST;
		if (rc != MOSQ_ERR_SUCCESS) {
			dev_fail(f, d);
			return;
		}
		if (!handshake_done(d)) {
			dev_sync(f, d);
			return;
		}
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		rc = mosquitto_loop_read(d->m, 1);
	}
	if (rc == MOSQ_ERR_SUCCESS && d->m != NULL && mosquitto_socket(d->m) >= 0 && mosquitto_want_write(d->m))
		rc = mosquitto_loop_write(d->m, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		dev_fail(f, d);
	else
		dev_sync(f, d);
}

static void connect_pass(load_fleet *f, double now)
{
	while (f->qlen > 0 && f->st.connecting < (size_t)f->cfg.max_pending) {
		struct dev *d = &f->d[f->q[f->qhead]];

		if (f->rate > 0 && (double)f->rate_started >= (now - f->rate_t0) * f->rate)
			return;
		if (d->state == D_IDLE && d->idx < f->target && d->retry_at > now)
			return;
		f->qhead = (f->qhead + 1) % f->cfg.n;
		f->qlen--;
		d->queued = 0;
		if (d->state != D_IDLE || d->idx >= f->target)
			continue;
		f->rate_started++;
		if (dev_connect(f, d, now) != 0) {
			f->st.failures++;
			d->retry_at = now + LOAD_FLEET_RETRY_S;
			enqueue(f, d);
		}
	}
}

static void publish(load_fleet *f, struct dev *d, double due, double now)
{
	struct load_msg_stamp s = { f->step, d->idx, ++d->seq, load_msg_now_ns() };
	int rc;

	load_msg_stamp(f->buf, &s);
	rc = mosquitto_publish(d->m, NULL, d->topic, (int)f->cfg.payload_len, f->buf, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		f->st.publish_errors++;
		d->seq--;
	} else {
		f->st.published++;
	}
	if (now - due > f->st.lag_max)
		f->st.lag_max = now - due;
	if (dev_sync(f, d) == 0)
		heap_push(f, (struct due){ due + f->interval, d->idx, d->pub_gen });
}

static void publish_pass(load_fleet *f, double now)
{
	while (f->hn > 0 && f->heap[0].at <= now) {
		struct due e = heap_pop(f);
		struct dev *d = &f->d[e.idx];

		if (d->state == D_UP && e.gen == d->pub_gen && f->interval > 0)
			publish(f, d, e.at, now);
	}
}

/* Keepalive and handshake timeouts: every wanted device about once a second. */
static void misc_pass(load_fleet *f, double now)
{
	size_t span = f->target, k;

	if (span == 0)
		return;
	k = (size_t)((now - f->misc_last) * (double)span) + 1;
	if (k > span)
		k = span;
	f->misc_last = now;
	while (k-- > 0) {
		struct dev *d = &f->d[f->misc_cursor++ % span];

		if (d->state == D_CONNECTING && now - d->started > LOAD_FLEET_HANDSHAKE_S)
			dev_fail(f, d);
		else if (d->state == D_UP && mosquitto_loop_misc(d->m) != MOSQ_ERR_SUCCESS)
			dev_fail(f, d);
		else if (d->state == D_UP)
			dev_sync(f, d);
	}
}

void load_fleet_poll(load_fleet *f, int timeout_ms)
{
	struct epoll_event ev[512];
	double now = monotonic_seconds();
	int n;

	if (f->hn > 0) {
		/* Rounded up: waking early would spin until the slot is due. */
		double wait = ceil((f->heap[0].at - now) * 1000.0);
		if (wait < timeout_ms)
			timeout_ms = wait < 0 ? 0 : (int)wait;
	}
	if (f->qlen > 0 && timeout_ms > 5)
		timeout_ms = 5;
	n = epoll_wait(f->ep, ev, (int)(sizeof ev / sizeof ev[0]), timeout_ms);
	for (int i = 0; i < n; i++) {
		struct dev *d = ev[i].data.ptr;

		if (d->m != NULL)
			dev_event(f, d, ev[i].events);
	}
	now = monotonic_seconds();
	connect_pass(f, now);
	publish_pass(f, now);
	misc_pass(f, now);
}

void load_fleet_set_target(load_fleet *f, size_t target, double rate)
{
	if (target > f->cfg.n)
		target = f->cfg.n;
	for (size_t i = target; i < f->target; i++)
		dev_close(f, &f->d[i]);
	for (size_t i = f->target; i < target; i++)
		if (f->d[i].state == D_IDLE) {
			f->d[i].retry_at = 0;
			enqueue(f, &f->d[i]);
		}
	f->target = target;
	f->rate = rate;
	f->rate_t0 = monotonic_seconds();
	f->rate_started = 0;
}

void load_fleet_set_publishing(load_fleet *f, double interval, unsigned step)
{
	double now = monotonic_seconds();

	f->step = step;
	f->st.published = 0;
	f->st.publish_errors = 0;
	f->st.lag_max = 0;
	if (interval == f->interval)
		return;
	f->interval = interval;
	f->pub_t0 = now;
	f->hn = 0;
	for (size_t i = 0; i < f->target; i++) {
		f->d[i].pub_gen++;
		schedule(f, &f->d[i], now);
	}
}

void load_fleet_stats(const load_fleet *f, struct load_fleet_stats *st)
{
	*st = f->st;
}

static int dev_names(struct dev *d, const struct load_device *ld)
{
	size_t n = strlen(ld->ma) + strlen(ld->acc) + strlen(ld->eq) + 3;

	d->client_id = malloc(n);
	d->topic = malloc(n + sizeof "/snapshots");
	d->receipts = malloc(n + sizeof "/receipts");
	if (d->client_id == NULL || d->topic == NULL || d->receipts == NULL)
		return -1;
	snprintf(d->client_id, n, "%s/%s/%s", ld->ma, ld->acc, ld->eq);
	snprintf(d->topic, n + sizeof "/snapshots", "%s/snapshots", d->client_id);
	snprintf(d->receipts, n + sizeof "/receipts", "%s/receipts", d->client_id);
	return 0;
}

load_fleet *load_fleet_new(const struct load_fleet_cfg *cfg, char *err, size_t errlen)
{
	load_fleet *f = calloc(1, sizeof *f);

	if (f == NULL || cfg->n == 0 || cfg->payload_len < LOAD_MSG_STAMP_LEN || cfg->max_pending < 1) {
		snprintf(err, errlen, "load fleet: no memory, no devices, a payload under %d bytes or max_pending < 1",
		         LOAD_MSG_STAMP_LEN);
		free(f);
		return NULL;
	}
	f->cfg = *cfg;
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->d = calloc(cfg->n, sizeof *f->d);
	f->q = calloc(cfg->n, sizeof *f->q);
	f->heap = calloc(cfg->n, sizeof *f->heap);
	f->buf = malloc(cfg->payload_len);
	if (f->ep < 0 || f->d == NULL || f->q == NULL || f->heap == NULL || f->buf == NULL) {
		snprintf(err, errlen, "load fleet of %zu devices: %s", cfg->n, strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	memcpy(f->buf, cfg->payload, cfg->payload_len);
	for (size_t i = 0; i < cfg->n; i++) {
		f->d[i].f = f;
		f->d[i].idx = (uint32_t)i;
		f->d[i].fd = -1;
		if (dev_names(&f->d[i], &cfg->devices[i]) != 0) {
			snprintf(err, errlen, "load fleet: out of memory at device %zu", i);
			goto fail;
		}
	}
	f->misc_last = monotonic_seconds();
	return f;
fail:
	load_fleet_free(f);
	return NULL;
}

void load_fleet_free(load_fleet *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; f->d != NULL && i < f->cfg.n; i++) {
		dev_close(f, &f->d[i]);
		SSL_CTX_free(f->d[i].ctx);
		free(f->d[i].client_id);
		free(f->d[i].topic);
		free(f->d[i].receipts);
	}
	if (f->ep >= 0)
		close(f->ep);
	free(f->d);
	free(f->q);
	free(f->heap);
	free(f->buf);
	free(f);
}
