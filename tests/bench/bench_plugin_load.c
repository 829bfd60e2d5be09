/*
 * bench_plugin_load: 1 publisher -> S subscribers through a TLS broker on
 * loopback. Publishes N messages as fast as libmosquitto takes them (at most
 * `inflight` unacknowledged for QoS 1) and counts receipts at every
 * subscriber; bounded by N and by a timeout. Prints one line:
 *     msgs_per_s=<published messages per second until the last receipt> delivered=<d>/<N*S> seconds=<t>
 *
 *   bench_plugin_load --port P --cafile F --pub-cert F --pub-key F
 *                     --sub-cert F --sub-key F --topic T --filter F
 *                     [--subs S] [--qos 0|1] [--count N] [--timeout SEC]
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

struct opts {
	int port, subs, qos, count, timeout;
	const char *cafile, *pub_cert, *pub_key, *sub_cert, *sub_key, *topic, *filter;
};

static atomic_long received;
static atomic_int subscribed, connected_ok;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	const struct opts *o = ud;

	if (rc != 0) {
		fprintf(stderr, "bench_plugin_load: connection refused: %s\n", mosquitto_connack_string(rc));
		return;
	}
	atomic_fetch_add(&connected_ok, 1);
	if (o && o->filter && mosquitto_subscribe(m, NULL, o->filter, o->qos) != MOSQ_ERR_SUCCESS)
		fprintf(stderr, "bench_plugin_load: subscribe failed\n");
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	(void)m; (void)ud; (void)mid;
	if (n >= 1 && granted[0] <= 2)
		atomic_fetch_add(&subscribed, 1);
	else
		fprintf(stderr, "bench_plugin_load: subscription refused\n");
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m; (void)ud; (void)msg;
	atomic_fetch_add(&received, 1);
}

static struct mosquitto *client(const struct opts *o, const char *id, const char *cert, const char *key, bool sub)
{
	struct mosquitto *m = mosquitto_new(id, true, sub ? (void *)o : NULL);

	if (!m)
		return NULL;
	if (mosquitto_tls_set(m, o->cafile, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311) != MOSQ_ERR_SUCCESS) {
		mosquitto_destroy(m);
		return NULL;
	}
	mosquitto_connect_callback_set(m, on_connect);
	if (sub) {
		mosquitto_subscribe_callback_set(m, on_subscribe);
		mosquitto_message_callback_set(m, on_message);
	}
	/* QoS 1: a window of unacknowledged messages, like a real device. */
	mosquitto_max_inflight_messages_set(m, 100);
	if (mosquitto_connect(m, "127.0.0.1", o->port, 60) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench_plugin_load: %s cannot connect\n", id);
		mosquitto_destroy(m);
		return NULL;
	}
	return m;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_plugin_load --port P --cafile F --pub-cert F --pub-key F --sub-cert F "
		"--sub-key F --topic T --filter F [--subs S] [--qos 0|1] [--count N] [--timeout SEC]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", 1, NULL, 'p' }, { "cafile", 1, NULL, 'a' }, { "pub-cert", 1, NULL, 'c' },
		{ "pub-key", 1, NULL, 'k' }, { "sub-cert", 1, NULL, 'C' }, { "sub-key", 1, NULL, 'K' },
		{ "topic", 1, NULL, 't' }, { "filter", 1, NULL, 'f' }, { "subs", 1, NULL, 's' },
		{ "qos", 1, NULL, 'q' }, { "count", 1, NULL, 'n' }, { "timeout", 1, NULL, 'T' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	struct opts o = { 0, 1, 0, 10000, 30, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	struct mosquitto *pub = NULL, *subs[64] = { NULL };
	char payload[200], id[64];
	double start, end, deadline;
	long want;
	int c, i, rc = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o.port = atoi(optarg); break;
		case 'a': o.cafile = optarg; break;
		case 'c': o.pub_cert = optarg; break;
		case 'k': o.pub_key = optarg; break;
		case 'C': o.sub_cert = optarg; break;
		case 'K': o.sub_key = optarg; break;
		case 't': o.topic = optarg; break;
		case 'f': o.filter = optarg; break;
		case 's': o.subs = atoi(optarg); break;
		case 'q': o.qos = atoi(optarg); break;
		case 'n': o.count = atoi(optarg); break;
		case 'T': o.timeout = atoi(optarg); break;
		case 'h': usage(); return 0;
		default: return usage();
		}
	}
	if (!o.port || !o.cafile || !o.pub_cert || !o.pub_key || !o.sub_cert || !o.sub_key || !o.topic ||
	    !o.filter || o.subs < 1 || o.subs > 64 || o.qos < 0 || o.qos > 1 || o.count < 1 || o.timeout < 1)
		return usage();
	mosquitto_lib_init();
	for (i = 0; i < o.subs; i++) {
		snprintf(id, sizeof(id), "bench-sub-%d-%d", (int)getpid(), i);
		subs[i] = client(&o, id, o.sub_cert, o.sub_key, true);
		if (!subs[i])
			goto out;
	}
	deadline = now_s() + 10;
	while (atomic_load(&subscribed) < o.subs && now_s() < deadline)
		usleep(10000);
	if (atomic_load(&subscribed) < o.subs) {
		fprintf(stderr, "bench_plugin_load: only %d of %d subscribers ready\n", atomic_load(&subscribed), o.subs);
		goto out;
	}
	snprintf(id, sizeof(id), "bench-pub-%d", (int)getpid());
	pub = client(&o, id, o.pub_cert, o.pub_key, false);
	if (!pub)
		goto out;
	deadline = now_s() + 10;
	while (atomic_load(&connected_ok) < o.subs + 1 && now_s() < deadline)
		usleep(10000);
	if (atomic_load(&connected_ok) < o.subs + 1) {
		fprintf(stderr, "bench_plugin_load: publisher not connected\n");
		goto out;
	}
	memset(payload, 'x', sizeof(payload));
	want = (long)o.count * o.subs;
	start = now_s();
	deadline = start + o.timeout;
	for (i = 0; i < o.count && now_s() < deadline; i++) {
		int prc;

		/* QoS 1 beyond the inflight window is queued by the library. */
		while ((prc = mosquitto_publish(pub, NULL, o.topic, sizeof(payload), payload, o.qos, false)) ==
		       MOSQ_ERR_NOMEM)
			usleep(100);
		if (prc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "bench_plugin_load: publish: %s\n", mosquitto_strerror(prc));
			goto out;
		}
		/* Keep the client-side queue short so QoS 0 is not one big burst. */
		if (o.qos == 0 && (i % 256) == 255)
			while (atomic_load(&received) < (long)(i - 2048) * o.subs && now_s() < deadline)
				usleep(50);
	}
	while (atomic_load(&received) < want && now_s() < deadline)
		usleep(200);
	end = now_s();
	printf("msgs_per_s=%.0f delivered=%ld/%ld seconds=%.2f\n", (double)o.count / (end - start),
	       atomic_load(&received), want, end - start);
	rc = atomic_load(&received) == want ? 0 : 3;
out:
	if (pub) {
		mosquitto_disconnect(pub);
		mosquitto_loop_stop(pub, false);
		mosquitto_destroy(pub);
	}
	for (i = 0; i < o.subs; i++) {
		if (!subs[i])
			continue;
		mosquitto_disconnect(subs[i]);
		mosquitto_loop_stop(subs[i], false);
		mosquitto_destroy(subs[i]);
	}
	mosquitto_lib_cleanup();
	return rc;
}
