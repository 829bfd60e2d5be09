#include "tests/bench/load_sub.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "tests/bench/load_msg.h"

/* Latencies are kept per millisecond up to this, beyond in the last bucket
 * (p50/p99 say 20000 then); the maximum is kept exactly. */
#define HIST_MS 20000

struct step_count {
	long received, duplicates, late, max_ms;
	long hist[HIST_MS + 1];
};

struct sub {
	const struct load_sub_cfg *cfg;
	pthread_mutex_t mu;
	struct step_count *steps; /* LOAD_SUB_MAX_STEPS */
	uint64_t *last_seq;       /* per device */
	int subscribed;           /* 1 granted, -1 refused */
	int refused_rc;
};

static void reply(int fd, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		perror("load_sub: writing to the generator");
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct sub *s = ud;

	(void)flags; (void)props;
	if (rc != 0) {
		pthread_mutex_lock(&s->mu);
		s->subscribed = -1;
		s->refused_rc = rc;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (mosquitto_subscribe(m, NULL, s->cfg->filter, 1) != MOSQ_ERR_SUCCESS) {
		pthread_mutex_lock(&s->mu);
		s->subscribed = -1;
		pthread_mutex_unlock(&s->mu);
	}
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
	struct sub *s = ud;

	(void)m; (void)mid; (void)props;
	pthread_mutex_lock(&s->mu);
	s->subscribed = (n == 1 && granted[0] <= 2) ? 1 : -1;
	pthread_mutex_unlock(&s->mu);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct sub *s = ud;
	struct load_msg_stamp st;
	struct step_count *c;
	int64_t ms;

	(void)m; (void)props;
	if (load_msg_read(msg->payload, (size_t)msg->payloadlen, &st) != 0 || st.step >= LOAD_SUB_MAX_STEPS ||
	    st.device >= s->cfg->max_devices)
		return;
	ms = (load_msg_now_ns() - st.sent_ns) / 1000000;
	pthread_mutex_lock(&s->mu);
	c = &s->steps[st.step];
	if (st.seq <= s->last_seq[st.device]) {
		c->duplicates++;
	} else {
		s->last_seq[st.device] = st.seq;
		c->received++;
		c->hist[ms < 0 ? 0 : ms > HIST_MS ? HIST_MS : ms]++;
		if (ms > s->cfg->late_ms)
			c->late++;
		if (ms > c->max_ms)
			c->max_ms = (long)ms;
	}
	pthread_mutex_unlock(&s->mu);
}

/* The latency (ms) below which a fraction q of the step's messages arrived. */
static long quantile_ms(const struct step_count *c, double q)
{
	long want = (long)((double)c->received * q + 0.999999), seen = 0;

	if (c->received == 0)
		return -1;
	for (long ms = 0; ms <= HIST_MS; ms++) {
		seen += c->hist[ms];
		if (seen >= want)
			return ms;
	}
	return HIST_MS;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void answer_step(struct sub *s, int rep_fd, unsigned k, long sent)
{
	int64_t until = load_msg_now_ns() + (int64_t)s->cfg->late_ms * 1000000;
	struct step_count *c = &s->steps[k];
	long got;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		got = c->received;
		pthread_mutex_unlock(&s->mu);
		if (got >= sent || load_msg_now_ns() >= until)
			break;
		sleep_ms(10);
	}
	pthread_mutex_lock(&s->mu);
	reply(rep_fd, "result %u %ld %ld %ld %ld %ld %ld\n", k, c->received, c->duplicates, c->late,
	      quantile_ms(c, 0.5), quantile_ms(c, 0.99), c->received ? c->max_ms : -1);
	pthread_mutex_unlock(&s->mu);
}

static int wait_subscribed(struct sub *s, int rep_fd)
{
	int state = 0;

	for (int i = 0; i < 3000 && state == 0; i++) {
		sleep_ms(10);
		pthread_mutex_lock(&s->mu);
		state = s->subscribed;
		pthread_mutex_unlock(&s->mu);
	}
	if (state == 1) {
		reply(rep_fd, "ready\n");
		return 0;
	}
	reply(rep_fd, "error subscriber as %s: %s\n", s->cfg->client_id,
	      state == 0 ? "not subscribed within 30 s"
	      : s->refused_rc ? mosquitto_connack_string(s->refused_rc) : "subscription refused");
	return -1;
}

static void serve(struct sub *s, int cmd_fd, int rep_fd)
{
	FILE *in = fdopen(cmd_fd, "r");
	char line[128];
	unsigned k;
	long sent;

	if (in == NULL)
		return;
	while (fgets(line, sizeof line, in) != NULL) {
		if (sscanf(line, "step %u %ld", &k, &sent) == 2 && k < LOAD_SUB_MAX_STEPS)
			answer_step(s, rep_fd, k, sent);
		else if (strncmp(line, "quit", 4) == 0)
			break;
	}
	fclose(in);
}

static int start(struct sub *s, struct mosquitto **out, int rep_fd)
{
	const struct load_sub_cfg *c = s->cfg;
	struct mosquitto *m = mosquitto_new(c->client_id, true, s);
	int rc;

	if (m == NULL) {
		reply(rep_fd, "error cannot create the subscriber's client\n");
		return -1;
	}
	*out = m;
	rc = mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_set(m, c->cafile, NULL, c->cert, c->key, NULL);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_message_v5_callback_set(m, on_message);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_async(m, c->host, c->port, 60);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_start(m);
	if (rc != MOSQ_ERR_SUCCESS) {
		reply(rep_fd, "error subscriber connecting to %s:%d: %s\n", c->host, c->port, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

int load_sub_run(const struct load_sub_cfg *cfg, int cmd_fd, int rep_fd)
{
	struct sub s = { .cfg = cfg };
	struct mosquitto *m = NULL;
	int status = 1;

	pthread_mutex_init(&s.mu, NULL);
	s.steps = calloc(LOAD_SUB_MAX_STEPS, sizeof *s.steps);
	s.last_seq = calloc(cfg->max_devices ? cfg->max_devices : 1, sizeof *s.last_seq);
	if (s.steps == NULL || s.last_seq == NULL) {
		reply(rep_fd, "error out of memory\n");
		goto out;
	}
	mosquitto_lib_init();
	if (start(&s, &m, rep_fd) != 0 || wait_subscribed(&s, rep_fd) != 0)
		goto out_lib;
	serve(&s, cmd_fd, rep_fd);
	status = 0;
out_lib:
	if (m != NULL) {
		mosquitto_disconnect(m);
		mosquitto_loop_stop(m, true);
		mosquitto_destroy(m);
	}
	mosquitto_lib_cleanup();
out:
	free(s.steps);
	free(s.last_seq);
	pthread_mutex_destroy(&s.mu);
	return status;
}
