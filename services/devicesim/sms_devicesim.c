/*
 * sms-devicesim: reference device agent. Builds snapshots, encrypts them
 * with libsmscms for the vendor (and any other recipient) and publishes
 * them at QoS 1 on <ma>/<acc>/<eq>/snapshots with a persistent session, so
 * a broker restart or a full inflight window loses nothing. Waits until the
 * broker acknowledged every message.
 *
 * Values are a deterministic function of (seq, channel index) so a test can
 * check what arrived: channel i is group "g<i/10>", channel "c<i>"; every
 * 17th channel (i % 17 == 5) is text ("ok" for even seq, "check" for odd),
 * the others are numbers seq*1000 + i + 0.25 with unit "h".
 *
 * --write DIR stores the encrypted payloads as DIR/<seq>.cms instead of
 * publishing; --from DIR publishes such files (sorted by name) unchanged.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>
#include <cJSON.h>
#include <openssl/pem.h>

#include "cms/smscms.h"
#include "common/version.h"
#include "common/identity.h"
#include "common/mqtt_session.h"
#include "common/snapshot_dict.h"

#define MAX_RECIPIENTS 8
#define MAX_PAYLOAD (4 * 1024 * 1024)

typedef struct {
	const char *host, *cafile, *cert, *key, *client_id, *topic;
	int port, qos, max_inflight, timeout;
	const char *e2e_cert, *e2e_key, *e2e_chain;
	const char *recipients[MAX_RECIPIENTS];
	size_t n_recipients;
	const char *equipment, *device_type, *write_dir, *from_dir;
	long long count, seq_start, taken_at;
	int values, interval_ms, ecdh, compress;
	const char *dictionary, *make_dictionary;
} options;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t acked_cond = PTHREAD_COND_INITIALIZER;
static long long n_acked;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sms-devicesim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A command line that makes no sense: one line, exit status 2. */
static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sms-devicesim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see --help\n", stderr);
	exit(2);
}

/* A whole decimal number in lo..hi, or a usage error naming the option. */
static long long number(const char *opt, const char *s, long long lo, long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		usage_error("--%s %s is not a number in %lld..%lld", opt, s, lo, hi);
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-devicesim [options]\n"
	        "  --e2e-cert F --e2e-key F [--e2e-chain F]  device E2E identity (originator)\n"
	        "  --recipient F          recipient certificate (repeatable, at least one)\n"
	        "  --host H --port P --cafile F --cert F --key F   broker and device TLS identity\n"
	        "  --topic T              default: <ma>/<acc>/<eq>/snapshots from the E2E certificate\n"
	        "  --client-id ID         default: <identity>@devsim-<eq> (persistent session), where\n"
	        "                         <identity> is the --cert identity (the broker's client_id_policy)\n"
	        "  --equipment EQ         \"equipment\" in the JSON (default: from the certificate)\n"
	        "  --device-type T        default FM\n"
	        "  --count N              snapshots (default 1)\n"
	        "  --values V             values per snapshot (default 10)\n"
	        "  --seq-start S          first seq (default 1)\n"
	        "  --taken-at EPOCH       taken_at of the first snapshot (default now); +1 s each\n"
	        "  --interval-ms MS       pause between publishes (default 0)\n"
	        "  --max-inflight N       unacknowledged messages at once (default 20)\n"
	        "  --qos Q                0 or 1 (default 1)\n"
	        "  --ecdh                 ephemeral-static ECDH instead of ECMQV\n"
	        "  --compress             RFC 3274 CompressedData (zlib) inside the envelope\n"
	        "  --dictionary F         compact form: values by the channel dictionary F, without names\n"
	        "  --make-dictionary F    write the channel dictionary of --device-type/--values to F, exit\n"
	        "  --timeout S            give up waiting for acks after S seconds (default 120)\n"
	        "  --write DIR            write DIR/<seq>.cms instead of publishing\n"
	        "  --from DIR             publish the *.cms files of DIR as they are\n"
	        "  --help, --version\n"
	        "\n" SMS_EXIT_CODES_HELP);
}

/* The simulated channels: group g<i/10>, channel c<i>, unit "h" except
 * every 17th (a text state without unit). */
static int channel_is_text(int i)
{
	return i % 17 == 5;
}

/* The channel dictionary of these channels (common/snapshot_dict.h). */
static void write_dictionary(const options *o)
{
	cJSON *root = cJSON_CreateObject(), *chans, *c;
	char name[32], *text = NULL;
	FILE *f;
	int i;

	if (root == NULL || !cJSON_AddStringToObject(root, "device_type", o->device_type) ||
	    !cJSON_AddNumberToObject(root, "version", 1) || (chans = cJSON_AddArrayToObject(root, "channels")) == NULL)
		die("out of memory");
	for (i = 0; i < o->values; i++) {
		if ((c = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(chans, c))
			die("out of memory");
		snprintf(name, sizeof name, "g%d", i / 10);
		if (!cJSON_AddStringToObject(c, "group", name))
			die("out of memory");
		snprintf(name, sizeof name, "c%d", i);
		if (!cJSON_AddStringToObject(c, "channel", name) ||
		    (!channel_is_text(i) && !cJSON_AddStringToObject(c, "unit", "h")))
			die("out of memory");
	}
	if ((text = cJSON_PrintUnformatted(root)) == NULL)
		die("out of memory");
	if ((f = fopen(o->make_dictionary, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		die("cannot write %s: %s", o->make_dictionary, strerror(errno));
	free(text);
	cJSON_Delete(root);
}

/* The full JSON in the compact form of dict (the same parser reads both). */
static char *compact_json(const snapshot_dict *dict, char *json)
{
	snapshot s;
	char err[300], *out = NULL;

	if (snapshot_parse(json, strlen(json), 1000000, &s, err, sizeof err) != SNAPSHOT_OK)
		die("simulated snapshot does not parse: %s", err);
	if (snapshot_dict_compact(dict, &s, &out, err, sizeof err) != 0)
		die("compact form: %s", err);
	snapshot_free(&s);
	free(json);
	return out;
}

static char *build_json(const options *o, const char *eq, long long seq, time_t taken)
{
	cJSON *root = cJSON_CreateObject(), *vals, *v;
	char ts[32], name[32];
	struct tm tm;
	char *out = NULL;
	int i;

	if (root == NULL)
		return NULL;
	gmtime_r(&taken, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (cJSON_AddStringToObject(root, "equipment", eq) == NULL ||
	    cJSON_AddStringToObject(root, "device_type", o->device_type) == NULL ||
	    cJSON_AddStringToObject(root, "taken_at", ts) == NULL ||
	    cJSON_AddNumberToObject(root, "seq", (double)seq) == NULL ||
	    (vals = cJSON_AddArrayToObject(root, "values")) == NULL)
		goto out;
	for (i = 0; i < o->values; i++) {
		v = cJSON_CreateObject();
		if (v == NULL || !cJSON_AddItemToArray(vals, v))
			goto out;
		snprintf(name, sizeof name, "g%d", i / 10);
		if (cJSON_AddStringToObject(v, "group", name) == NULL)
			goto out;
		snprintf(name, sizeof name, "c%d", i);
		if (cJSON_AddStringToObject(v, "channel", name) == NULL)
			goto out;
		if (channel_is_text(i)) {
			if (cJSON_AddStringToObject(v, "value", seq % 2 == 0 ? "ok" : "check") == NULL)
				goto out;
		} else if (cJSON_AddStringToObject(v, "unit", "h") == NULL ||
		           cJSON_AddNumberToObject(v, "value", (double)seq * 1000 + i + 0.25) == NULL) {
			goto out;
		}
	}
	out = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return out;
}

static void on_published(mqtt_session *session, void *ud, int mid)
{
	(void)session;
	(void)ud;
	(void)mid;
	pthread_mutex_lock(&lock);
	n_acked++;
	pthread_cond_broadcast(&acked_cond);
	pthread_mutex_unlock(&lock);
}

/* Waits until at most `limit` messages are unacknowledged (or timeout). */
static int wait_acked(long long sent, long long limit, int timeout_s)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_s;
	pthread_mutex_lock(&lock);
	while (sent - n_acked > limit && rc == 0)
		rc = pthread_cond_timedwait(&acked_cond, &lock, &until);
	pthread_mutex_unlock(&lock);
	return rc == 0 ? 0 : -1;
}

static mqtt_session *mqtt_start(const options *o, const char *client_id)
{
	const mqtt_session_handlers h = { .on_published = on_published };
	mqtt_session_config mc = {
		.host = o->host, .port = o->port, .cafile = o->cafile, .cert = o->cert, .key = o->key,
		.client_id = client_id, .keepalive = 30,
		/* Persistent session: what is in flight survives a broker restart. */
		.clean_start = 0, .session_expiry = 3600,
		.backoff_min_ms = 500, .backoff_max_ms = 5000, .max_inflight = o->max_inflight,
		.name = "sms-devicesim",
	};
	char err[400];
	mqtt_session *m;

	m = mqtt_session_new(&mc, NULL, 0, 1, &h, NULL, err, sizeof err);
	if (m == NULL)
		die("%s", err);
	if (mqtt_session_start(m) != 0)
		die("cannot start the MQTT thread");
	if (mqtt_session_wait_connected(m, o->timeout, err, sizeof err) != 0)
		die("%s", err);
	return m;
}

static void publish_one(mqtt_session *m, const options *o, long long sent, const void *der, size_t len)
{
	char err[300];
	int tries = 0;

	if (o->qos > 0 && wait_acked(sent, o->max_inflight - 1, o->timeout) != 0)
		die("broker did not acknowledge within %d s", o->timeout);
	/* A QoS 0 message is dropped while disconnected: retry that one. */
	while (mqtt_session_publish(m, o->topic, der, len, o->qos, 0, NULL, err, sizeof err) != 0) {
		if (o->qos > 0 || ++tries > o->timeout * 10)
			die("%s", err);
		usleep(100000);
	}
	if (o->qos == 0)
		on_published(m, NULL, 0);
	if (o->interval_ms > 0)
		usleep((useconds_t)o->interval_ms * 1000);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;

	if (f == NULL)
		die("cannot open %s: %s", path, strerror(errno));
	buf = malloc(MAX_PAYLOAD);
	if (buf == NULL)
		die("out of memory");
	*len = fread(buf, 1, MAX_PAYLOAD, f);
	if (ferror(f))
		die("cannot read %s", path);
	fclose(f);
	return buf;
}

static int cms_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && strcmp(d->d_name + n - 4, ".cms") == 0;
}

static long long publish_dir(mqtt_session *m, const options *o)
{
	struct dirent **names;
	char path[4096];
	long long sent = 0;
	int n, i;

	n = scandir(o->from_dir, &names, cms_file, alphasort);
	if (n < 0)
		die("cannot list %s: %s", o->from_dir, strerror(errno));
	for (i = 0; i < n; i++) {
		unsigned char *buf;
		size_t len;

		snprintf(path, sizeof path, "%s/%s", o->from_dir, names[i]->d_name);
		buf = read_all(path, &len);
		publish_one(m, o, sent, buf, len);
		sent++;
		free(buf);
		free(names[i]);
	}
	free(names);
	return sent;
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		die("cannot open %s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		die("%s: not a PEM certificate", path);
	return x;
}

static void write_payload(const char *dir, long long seq, const unsigned char *der, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%012lld.cms", dir, seq);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(der, 1, len, f) != len || fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

static void parse_args(int argc, char **argv, options *o)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' }, { "port", required_argument, NULL, 'p' },
		{ "cafile", required_argument, NULL, 'A' }, { "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' }, { "client-id", required_argument, NULL, 'i' },
		{ "topic", required_argument, NULL, 't' }, { "e2e-cert", required_argument, NULL, 'e' },
		{ "e2e-key", required_argument, NULL, 'k' }, { "e2e-chain", required_argument, NULL, 'c' },
		{ "recipient", required_argument, NULL, 'r' }, { "equipment", required_argument, NULL, 'E' },
		{ "device-type", required_argument, NULL, 'T' }, { "count", required_argument, NULL, 'n' },
		{ "values", required_argument, NULL, 'v' }, { "seq-start", required_argument, NULL, 's' },
		{ "taken-at", required_argument, NULL, 'a' }, { "interval-ms", required_argument, NULL, 'I' },
		{ "max-inflight", required_argument, NULL, 'm' }, { "qos", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'o' }, { "write", required_argument, NULL, 'w' },
		{ "from", required_argument, NULL, 'f' }, { "ecdh", no_argument, NULL, 'D' },
		{ "compress", no_argument, NULL, 'z' }, { "dictionary", required_argument, NULL, 'd' },
		{ "make-dictionary", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
	};
	int opt;

	opterr = 0;
	memset(o, 0, sizeof *o);
	o->host = "127.0.0.1";
	o->port = 8883;
	o->qos = 1;
	o->max_inflight = 20;
	o->timeout = 120;
	o->device_type = "FM";
	o->count = 1;
	o->values = 10;
	o->seq_start = 1;
	o->taken_at = (long long)time(NULL);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = (int)number("port", optarg, 1, 65535); break;
		case 'A': o->cafile = optarg; break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'i': o->client_id = optarg; break;
		case 't': o->topic = optarg; break;
		case 'e': o->e2e_cert = optarg; break;
		case 'k': o->e2e_key = optarg; break;
		case 'c': o->e2e_chain = optarg; break;
		case 'r':
			if (o->n_recipients == MAX_RECIPIENTS)
				usage_error("at most %d --recipient", MAX_RECIPIENTS);
			o->recipients[o->n_recipients++] = optarg;
			break;
		case 'E': o->equipment = optarg; break;
		case 'T': o->device_type = optarg; break;
		case 'n': o->count = number("count", optarg, 0, 1LL << 40); break;
		case 'v': o->values = (int)number("values", optarg, 1, 1000000); break;
		case 's': o->seq_start = number("seq-start", optarg, 0, 1LL << 62); break;
		case 'a': o->taken_at = number("taken-at", optarg, 0, 253402300799LL); break;
		case 'I': o->interval_ms = (int)number("interval-ms", optarg, 0, 3600000); break;
		case 'm': o->max_inflight = (int)number("max-inflight", optarg, 1, 65535); break;
		case 'q': o->qos = (int)number("qos", optarg, 0, 1); break;
		case 'o': o->timeout = (int)number("timeout", optarg, 1, 86400); break;
		case 'w': o->write_dir = optarg; break;
		case 'f': o->from_dir = optarg; break;
		case 'D': o->ecdh = 1; break;
		case 'z': o->compress = 1; break;
		case 'd': o->dictionary = optarg; break;
		case 'M': o->make_dictionary = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': sms_print_version(stdout, "sms-devicesim"); exit(0);
		default: usage_error("unknown option or missing argument '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (o->count < 0 || o->values < 1 || o->max_inflight < 1 || (o->qos != 0 && o->qos != 1) || o->timeout < 1)
		usage_error("bad --count, --values, --max-inflight, --qos or --timeout");
	if (o->make_dictionary != NULL)
		return;
	if (o->from_dir == NULL && (o->e2e_cert == NULL || o->e2e_key == NULL || o->n_recipients == 0))
		usage_error("--e2e-cert, --e2e-key and at least one --recipient are required");
	if (o->write_dir == NULL && (o->cafile == NULL || o->cert == NULL || o->key == NULL))
		usage_error("--cafile, --cert and --key are required to publish");
	if (o->from_dir != NULL && o->topic == NULL)
		usage_error("--from needs --topic");
}

static void default_client_id(const options *o, const char *what, char *buf, size_t len)
{
	char err[300];

	if (mqtt_client_id_for_cert(o->cert, what, buf, len, err, sizeof err) != 0)
		die("%s (or give --client-id)", err);
}

int main(int argc, char **argv)
{
	static char topic_buf[IDENTITY_SCOPE_MAX + 16], client_buf[IDENTITY_SCOPE_MAX + IDENTITY_VALUE_MAX + 32];
	char what[IDENTITY_VALUE_MAX + 32];
	options o;
	smscms_ctx *ctx = NULL;
	smscms_identity *me = NULL;
	smscms_encrypt_opts eo;
	X509 *rcpt[MAX_RECIPIENTS];
	mqtt_session *m = NULL;
	identity id;
	char err[300];
	snapshot_dict *dict = NULL;
	long long i, sent = 0;
	size_t r;

	parse_args(argc, argv, &o);
	if (o.make_dictionary != NULL) {
		write_dictionary(&o);
		return 0;
	}
	if (o.dictionary != NULL && snapshot_dict_load(o.dictionary, &dict, err, sizeof err) != 0)
		die("%s", err);
	/* A broker restart must show up as a write error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	if (o.from_dir != NULL) {
		snprintf(what, sizeof what, "devsim-replay-%ld", (long)getpid());
		default_client_id(&o, what, client_buf, sizeof client_buf);
		m = mqtt_start(&o, o.client_id ? o.client_id : client_buf);
		sent = publish_dir(m, &o);
		goto finish;
	}
	ctx = smscms_ctx_new();
	if (ctx == NULL || smscms_identity_load_pem(ctx, o.e2e_cert, o.e2e_key, o.e2e_chain, &me) != SMSCMS_OK)
		die("loading %s: %s", o.e2e_cert, ctx ? smscms_ctx_error(ctx) : "out of memory");
	if (identity_from_subject(X509_get_subject_name(smscms_identity_cert(me)), &id, err, sizeof err) != 0 ||
	    id.kind != IDENTITY_EQUIPMENT)
		die("%s is not an equipment certificate: %s", o.e2e_cert, err);
	if (o.topic == NULL) {
		snprintf(topic_buf, sizeof topic_buf, "%s/snapshots", id.name);
		o.topic = topic_buf;
	}
	if (o.equipment == NULL)
		o.equipment = id.equipment;
	for (r = 0; r < o.n_recipients; r++)
		rcpt[r] = load_cert(o.recipients[r]);
	smscms_encrypt_opts_init(&eo);
	if (o.ecdh)
		eo.ka = SMSCMS_KA_ECDH;
	eo.compress = o.compress;
	if (o.write_dir == NULL) {
		snprintf(what, sizeof what, "devsim-%s", id.equipment);
		default_client_id(&o, what, client_buf, sizeof client_buf);
		m = mqtt_start(&o, o.client_id ? o.client_id : client_buf);
	}
	for (i = 0; i < o.count; i++) {
		long long seq = o.seq_start + i;
		char *json = build_json(&o, o.equipment, seq, (time_t)(o.taken_at + i));
		unsigned char *der = NULL;
		size_t der_len = 0;

		if (json == NULL)
			die("out of memory building snapshot");
		if (dict != NULL)
			json = compact_json(dict, json);
		if (smscms_encrypt(ctx, &eo, me, rcpt, o.n_recipients, (unsigned char *)json, strlen(json),
		                   &der, &der_len) != SMSCMS_OK)
			die("encrypt: %s", smscms_ctx_error(ctx));
		free(json);
		if (o.write_dir != NULL)
			write_payload(o.write_dir, seq, der, der_len);
		else
			publish_one(m, &o, sent++, der, der_len);
		OPENSSL_free(der);
	}
	for (r = 0; r < o.n_recipients; r++)
		X509_free(rcpt[r]);
finish:
	if (m != NULL) {
		if (wait_acked(sent, 0, o.timeout) != 0)
			die("broker did not acknowledge every message within %d s", o.timeout);
		mqtt_session_stop(m);
		if (mqtt_session_join(m, err, sizeof err) != 0)
			die("%s", err);
		mqtt_session_free(m);
		fprintf(stderr, "sms-devicesim: %lld message(s) published and acknowledged on %s\n", sent, o.topic);
	}
	snapshot_dict_free(dict);
	smscms_identity_free(me);
	smscms_ctx_free(ctx);
	mosquitto_lib_cleanup();
	return 0;
}
