/*
 * bench_fleet_load: a fleet of device sessions in one process against one
 * broker (tests/bench/load.bench runs it; figures only, nothing asserted).
 *
 *   --connect-only   connect devices 0..N-1 as fast as --max-pending
 *                    handshakes in flight allow; print one line
 *                    connected= seconds= per_s= broker_cpu_ms= rss_kib=...
 *   (default: hold)  a counting subscriber (forked, tests/bench/load_sub.h)
 *                    with the vendor role; then for each N of --steps: ramp
 *                    up to N devices at --rate connects/s, run --rounds
 *                    intervals of --interval s (each device publishes once
 *                    per interval), ask the subscriber what arrived; one
 *                    table row per step, stopping at the first step that
 *                    lost a message, delivered one of the measured window
 *                    later than --late-ms or dropped a session (the ramp's
 *                    worst latency is shown apart: it is a connect storm).
 *
 * Devices: N identities from tests/bench/fleet_pki under the account CA
 * MA/ACC of the sms-pki directory --pki, EQ = PREFIX + index, cached in
 * --cache DIR.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common/monotonic.h"
#include "tests/bench/fleet_pki.h"
#include "tests/bench/load_fleet.h"
#include "tests/bench/load_proc.h"
#include "tests/bench/load_sub.h"

struct opts {
	const char *host, *cafile, *pki, *cache, *ma, *acc, *prefix, *steps, *sub_cert, *sub_key, *sub_id, *filter;
	int port, keepalive, max_pending, sources, rounds, late_ms, connect_only;
	long devices, payload_bytes;
	double interval, rate;
	pid_t broker;
};

struct creds {
	fleet_pki *fleet;
	struct load_device *dev;
	size_t n;
	X509_STORE *roots;
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_fleet_load: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void load_creds(struct creds *c, const struct opts *o)
{
	char err[512];

	c->fleet = fleet_pki_open(o->pki, o->ma, o->acc, o->prefix, (size_t)o->devices, o->cache, stderr, err,
	                          sizeof err);
	if (c->fleet == NULL)
		die("device identities: %s", err);
	c->n = fleet_pki_count(c->fleet);
	if ((c->dev = calloc(c->n, sizeof *c->dev)) == NULL || (c->roots = X509_STORE_new()) == NULL)
		die("out of memory for %zu devices", c->n);
	if (X509_STORE_load_file(c->roots, o->cafile) != 1)
		die("cannot load the CA file %s", o->cafile);
	for (size_t i = 0; i < c->n; i++)
		c->dev[i] = (struct load_device){ fleet_pki_ma(c->fleet), fleet_pki_acc(c->fleet),
		                                  fleet_pki_equipment(c->fleet, i), fleet_pki_cert(c->fleet, FLEET_TLS, i),
		                                  fleet_pki_key(c->fleet, FLEET_TLS, i) };
}

static void free_creds(struct creds *c)
{
	X509_STORE_free(c->roots);
	free(c->dev);
	fleet_pki_free(c->fleet);
}

/* One descriptor per device here (load_fleet refuses libmosquitto's
 * socket pairs), and as many in the broker, whose limit its starter sets. */
static void raise_nofile(long devices)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)devices + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want)
		rl.rlim_max = want; /* needs CAP_SYS_RESOURCE */
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("%ld devices need %lu file descriptors: %s (ulimit -Hn)", devices, (unsigned long)want,
		    strerror(errno));
}

static load_fleet *new_fleet(const struct opts *o, const struct creds *c, unsigned char *payload)
{
	struct load_fleet_cfg cfg = {
		.host = o->host, .port = o->port, .keepalive = o->keepalive, .roots = c->roots, .chain = fleet_pki_chain(c->fleet, FLEET_TLS),
		.devices = c->dev, .n = c->n, .payload = payload, .payload_len = (size_t)o->payload_bytes,
		.sources = o->sources, .max_pending = o->max_pending,
	};
	char err[256];
	load_fleet *f = load_fleet_new(&cfg, err, sizeof err);

	if (f == NULL)
		die("%s", err);
	return f;
}

static double cpu_of(pid_t pid)
{
	return pid > 0 ? load_proc_cpu_seconds(pid) : -1;
}

static int run_connect_only(const struct opts *o, load_fleet *f)
{
	struct load_fleet_stats st;
	long rss0 = o->broker ? load_proc_rss_kib(o->broker) : -1, rss1;
	double cpu0 = cpu_of(o->broker), cpu1, t0 = monotonic_seconds(), progress = t0;
	size_t last = 0;

	load_fleet_set_target(f, (size_t)o->devices, 0);
	for (;;) {
		load_fleet_poll(f, 50);
		load_fleet_stats(f, &st);
		if (st.connected != last) {
			last = st.connected;
			progress = monotonic_seconds();
		}
		if (st.connected == (size_t)o->devices || monotonic_seconds() - progress > 30)
			break;
	}
	cpu1 = cpu_of(o->broker);
	rss1 = o->broker ? load_proc_rss_kib(o->broker) : -1;
	printf("connected=%zu of=%ld seconds=%.3f per_s=%.1f failures=%ld refused=%ld broker_cpu_ms=%.3f "
	       "rss_kib_before=%ld rss_kib_after=%ld\n",
	       st.connected, o->devices, st.last_connack - t0,
	       st.connected ? (double)st.connected / (st.last_connack - t0) : 0.0, st.failures, st.refused,
	       cpu0 >= 0 && st.connected ? (cpu1 - cpu0) * 1000.0 / (double)st.connected : -1.0, rss0, rss1);
	load_fleet_set_target(f, 0, 0);
	return st.connected == (size_t)o->devices ? 0 : 1;
}

/* ---- hold mode: the subscriber child and its pipes */

struct sub_link {
	pid_t pid;
	int cmd, rep;
	char buf[1024];
	size_t len;
};

static void start_subscriber(const struct opts *o, struct sub_link *s)
{
	struct load_sub_cfg cfg = {
		.host = o->host, .cafile = o->cafile, .cert = o->sub_cert, .key = o->sub_key,
		.client_id = o->sub_id, .filter = o->filter, .port = o->port, .max_devices = (size_t)o->devices,
		.late_ms = o->late_ms,
	};
	int to_sub[2], from_sub[2];

	if (pipe(to_sub) != 0 || pipe(from_sub) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((s->pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		close(to_sub[1]);
		close(from_sub[0]);
		_exit(load_sub_run(&cfg, to_sub[0], from_sub[1]));
	}
	close(to_sub[0]);
	close(from_sub[1]);
	s->cmd = to_sub[1];
	s->rep = from_sub[0];
	if (fcntl(s->rep, F_SETFL, O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
}

/* One line from the subscriber into line, or 0 when none is complete yet. */
static int sub_line(struct sub_link *s, char *line, size_t size)
{
	size_t take;
	ssize_t n = 0;
	char *nl;

	if (s->len < sizeof s->buf - 1)
		n = read(s->rep, s->buf + s->len, sizeof s->buf - 1 - s->len);
	if (n > 0)
		s->len += (size_t)n;
	else if (n == 0 && s->len == 0)
		die("the subscriber exited");
	s->buf[s->len] = '\0';
	if ((nl = strchr(s->buf, '\n')) == NULL)
		return 0;
	take = (size_t)(nl - s->buf) < size - 1 ? (size_t)(nl - s->buf) : size - 1;
	memcpy(line, s->buf, take);
	line[take] = '\0';
	s->len -= (size_t)(nl + 1 - s->buf);
	memmove(s->buf, nl + 1, s->len);
	return 1;
}

/* Keeps the fleet running while it waits for the subscriber's next line. */
static void await_line(struct sub_link *s, load_fleet *f, char *line, size_t size, double timeout)
{
	double until = monotonic_seconds() + timeout;

	while (!sub_line(s, line, size)) {
		if (monotonic_seconds() > until)
			die("no answer from the subscriber within %.0f s", timeout);
		if (f != NULL)
			load_fleet_poll(f, 10);
		else
			usleep(10000);
	}
}

static void run_for(load_fleet *f, double seconds)
{
	double until = monotonic_seconds() + seconds;

	while (monotonic_seconds() < until)
		load_fleet_poll(f, 50);
}

/* Ramps up to n connected devices; seconds it took, or -1 when it stalled. */
static double ramp(const struct opts *o, load_fleet *f, size_t n)
{
	struct load_fleet_stats st;
	double t0 = monotonic_seconds(), progress = t0;
	size_t last = 0;

	load_fleet_set_target(f, n, o->rate);
	for (;;) {
		load_fleet_poll(f, 50);
		load_fleet_stats(f, &st);
		if (st.connected >= n)
			return monotonic_seconds() - t0;
		if (st.connected != last) {
			last = st.connected;
			progress = monotonic_seconds();
		}
		if (monotonic_seconds() - progress > 60)
			return -1;
	}
}

struct step_row {
	size_t n;
	double ramp_s, window_s, cpu_broker, cpu_sub, cpu_gen, lag_max;
	long rss_kib, rss_base, sent, received, dup, late, p50, p99, max, ramp_max, drops, errors;
};

static void print_header(void)
{
	printf("%8s %6s %7s %5s %5s %4s %7s %7s %7s %7s %6s %6s %6s %8s %6s %4s\n", "devices", "ramp", "sent",
	       "lost", "late", "dup", "p50 ms", "p99 ms", "max ms", "ramp", "broker", "subscr", "genera", "broker",
	       "KiB/", "held");
	printf("%8s %6s %7s %5s %5s %4s %7s %7s %7s %7s %6s %6s %6s %8s %6s %4s\n", "", "s", "", "", "", "",
	       "", "", "", "max ms", "CPU %", "CPU %", "CPU %", "RSS MiB", "device", "");
}

static int print_row(const struct step_row *r)
{
	int held = r->received >= r->sent && r->late == 0 && r->drops == 0 && r->errors == 0;
	double pct = 100.0 / r->window_s;

	printf("%8zu %6.1f %7ld %5ld %5ld %4ld %7ld %7ld %7ld %7ld %6.1f %6.1f %6.1f %8.1f %6.1f %4s\n", r->n,
	       r->ramp_s, r->sent, r->sent - r->received, r->late, r->dup, r->p50, r->p99, r->max, r->ramp_max,
	       r->cpu_broker * pct, r->cpu_sub * pct, r->cpu_gen * pct, (double)r->rss_kib / 1024.0,
	       (double)(r->rss_kib - r->rss_base) / (double)r->n, held ? "yes" : "NO");
	if (r->drops || r->errors || r->lag_max > 1.0)
		printf("         (sessions dropped %ld, publish errors %ld, generator up to %.1f s behind its schedule)\n",
		       r->drops, r->errors, r->lag_max);
	fflush(stdout);
	return held;
}

/* Sends "step TAG SENT" and reads the subscriber's answer into its fields. */
static void ask_subscriber(const struct opts *o, load_fleet *f, struct sub_link *s, unsigned tag, long sent,
                           long out[6])
{
	char line[256];
	unsigned got;

	dprintf(s->cmd, "step %u %ld\n", tag, sent);
	await_line(s, f, line, sizeof line, o->late_ms / 1000.0 + 60);
	if (sscanf(line, "result %u %ld %ld %ld %ld %ld %ld", &got, &out[0], &out[1], &out[2], &out[3], &out[4],
	           &out[5]) != 7 || got != tag)
		die("unexpected answer from the subscriber: %s", line);
}

/* Step k: messages published while the fleet grows to n are stamped 2k (a
 * connect storm: counted for losses, their worst latency shown apart),
 * those of the measured window 2k+1 (losses and lateness decide). */
static int hold_step(const struct opts *o, load_fleet *f, struct sub_link *s, unsigned k, size_t n, long rss_base)
{
	struct step_row r = { .n = n, .rss_base = rss_base };
	struct load_fleet_stats st0, st;
	long ramp_sent, grow[6], win[6];
	double t0, c_b, c_s, c_g;

	load_fleet_stats(f, &st0);
	if ((r.ramp_s = ramp(o, f, n)) < 0) {
		load_fleet_stats(f, &st);
		printf("%8zu  ramp stalled at %zu connected (%ld handshakes failed, %ld refused)\n", n, st.connected,
		       st.failures - st0.failures, st.refused - st0.refused);
		return 0;
	}
	load_fleet_stats(f, &st);
	ramp_sent = st.published;
	load_fleet_set_publishing(f, o->interval, 2 * k + 1);
	t0 = monotonic_seconds();
	c_b = cpu_of(o->broker), c_s = cpu_of(s->pid), c_g = cpu_of(getpid());
	run_for(f, o->interval * o->rounds);
	r.window_s = monotonic_seconds() - t0;
	r.cpu_broker = cpu_of(o->broker) - c_b, r.cpu_sub = cpu_of(s->pid) - c_s, r.cpu_gen = cpu_of(getpid()) - c_g;
	r.rss_kib = o->broker ? load_proc_rss_kib(o->broker) : -1;
	load_fleet_stats(f, &st);
	r.errors = st.publish_errors, r.drops = st.drops - st0.drops, r.lag_max = st.lag_max;
	load_fleet_set_publishing(f, o->interval, 2 * k + 2);
	ask_subscriber(o, f, s, 2 * k, ramp_sent, grow);
	ask_subscriber(o, f, s, 2 * k + 1, st.published, win);
	r.sent = ramp_sent + st.published;
	r.received = grow[0] + win[0], r.dup = grow[1] + win[1], r.late = win[2];
	r.p50 = win[3], r.p99 = win[4], r.max = win[5], r.ramp_max = grow[5];
	return print_row(&r);
}

static size_t parse_steps(const char *list, size_t *out, size_t max)
{
	char *copy = strdup(list), *tok, *save = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL && n < max; tok = strtok_r(NULL, ", ", &save))
		out[n++] = strtoul(tok, NULL, 10);
	free(copy);
	return n;
}

static int run_hold(const struct opts *o, load_fleet *f, struct sub_link *s)
{
	size_t steps[LOAD_SUB_MAX_STEPS / 2 - 1];
	size_t ns = parse_steps(o->steps, steps, LOAD_SUB_MAX_STEPS / 2 - 1);
	long rss_base = o->broker ? load_proc_rss_kib(o->broker) : -1;
	unsigned k;

	print_header();
	load_fleet_set_publishing(f, o->interval, 0);
	for (k = 0; k < ns; k++) {
		if (steps[k] == 0 || steps[k] > (size_t)o->devices)
			die("step %zu is not within 1..%ld devices", steps[k], o->devices);
		if (!hold_step(o, f, s, k, steps[k], rss_base))
			break;
	}
	return 0;
}

/* ---- options */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: bench_fleet_load --port P --cafile F --pki DIR --ma MA --acc ACC --devices N --cache DIR\n"
	        "       [options]\n"
	        "  --host H (127.0.0.1)  --prefix P (F)  --keepalive S (60)  --payload-bytes B (22034)\n"
	        "  --max-pending K (64)  --sources K (0: bind devices to 127.0.0.2 .. K+1 round robin)\n"
	        "  --broker-pid PID      read the broker's CPU and memory from /proc\n"
	        "  --connect-only        connect all N as fast as allowed, print one line\n"
	        "  hold mode: --steps N1,N2,... --interval S (60) --rounds R (1) --rate C/s (0: unbounded)\n"
	        "             --late-ms L (5000) --sub-cert F --sub-key F [--sub-id ID] [--filter F]\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "host", 1, 0, 'H' }, { "port", 1, 0, 'p' }, { "cafile", 1, 0, 'c' }, { "pki", 1, 0, 'k' },
		{ "ma", 1, 0, 'm' }, { "acc", 1, 0, 'a' }, { "prefix", 1, 0, 'x' }, { "devices", 1, 0, 'n' },
		{ "keepalive", 1, 0, 'K' }, { "payload-bytes", 1, 0, 'b' }, { "max-pending", 1, 0, 'P' },
		{ "sources", 1, 0, 'S' }, { "broker-pid", 1, 0, 'B' }, { "connect-only", 0, 0, 'C' },
		{ "steps", 1, 0, 's' }, { "interval", 1, 0, 'i' }, { "rounds", 1, 0, 'r' }, { "rate", 1, 0, 'R' },
		{ "late-ms", 1, 0, 'l' }, { "sub-cert", 1, 0, 'e' }, { "sub-key", 1, 0, 'y' }, { "sub-id", 1, 0, 'I' },
		{ "filter", 1, 0, 'f' }, { "cache", 1, 0, 'D' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 'c': o->cafile = optarg; break;
		case 'k': o->pki = optarg; break;
		case 'm': o->ma = optarg; break;
		case 'a': o->acc = optarg; break;
		case 'x': o->prefix = optarg; break;
		case 'n': o->devices = atol(optarg); break;
		case 'K': o->keepalive = atoi(optarg); break;
		case 'b': o->payload_bytes = atol(optarg); break;
		case 'P': o->max_pending = atoi(optarg); break;
		case 'S': o->sources = atoi(optarg); break;
		case 'B': o->broker = (pid_t)atol(optarg); break;
		case 'C': o->connect_only = 1; break;
		case 's': o->steps = optarg; break;
		case 'i': o->interval = atof(optarg); break;
		case 'r': o->rounds = atoi(optarg); break;
		case 'R': o->rate = atof(optarg); break;
		case 'l': o->late_ms = atoi(optarg); break;
		case 'e': o->sub_cert = optarg; break;
		case 'y': o->sub_key = optarg; break;
		case 'I': o->sub_id = optarg; break;
		case 'f': o->filter = optarg; break;
		case 'D': o->cache = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || !o->port || !o->cafile || !o->pki || !o->cache || !o->ma || !o->acc || o->devices < 1 ||
	    o->payload_bytes < 64 || o->interval <= 0 || o->rounds < 1 || o->max_pending < 1 ||
	    (!o->connect_only && (!o->steps || !o->sub_cert || !o->sub_key))) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct opts o = {
		.host = "127.0.0.1", .prefix = "F", .keepalive = 60, .max_pending = 64, .rounds = 1, .late_ms = 5000,
		.payload_bytes = 22034, .interval = 60, .sub_id = "role:vendor-snapshot-service@load",
		.filter = "+/+/+/snapshots",
	};
	struct sub_link sub = { .pid = 0 };
	struct creds c = { 0 };
	unsigned char *payload;
	load_fleet *f;
	int status;

	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(o.devices);
	if (!o.connect_only)
		start_subscriber(&o, &sub);
	load_creds(&c, &o);
	/* The bytes of a snapshot's size; the subscriber only counts them. */
	if ((payload = malloc((size_t)o.payload_bytes)) == NULL || RAND_bytes(payload, (int)o.payload_bytes) != 1)
		die("no payload of %ld bytes", o.payload_bytes);
	mosquitto_lib_init();
	f = new_fleet(&o, &c, payload);
	if (o.connect_only) {
		status = run_connect_only(&o, f);
	} else {
		char line[256];

		await_line(&sub, NULL, line, sizeof line, 40);
		if (strcmp(line, "ready") != 0)
			die("%s", line);
		status = run_hold(&o, f, &sub);
		dprintf(sub.cmd, "quit\n");
		waitpid(sub.pid, NULL, 0);
	}
	load_fleet_free(f);
	mosquitto_lib_cleanup();
	free_creds(&c);
	free(payload);
	return status;
}
