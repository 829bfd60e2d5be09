/*
 * sms-crlpub: publishes every CA's current CRL of both PKIs, retained, on
 * sms/crl/<pki>/<issuer key id> (crl_topic.h), so that devices, which see
 * the vendor only through the broker, learn of revocations (DESIGN.md "The
 * way back"). What it publishes and when: crlpub_publish.h.
 *
 * It connects with a services-CA role certificate (vendor-crl-service in
 * acl/sms_auth.conf: write on sms/crl/#). A CRL is sent when its file
 * changed and verified, every republish_interval, and after every
 * reconnect (a broker that lost its retained messages gets them again).
 *
 * Signals: SIGTERM/SIGINT disconnect and exit 0; SIGHUP re-reads the files
 * and sends every CRL at once. With metrics.dir, DIR/sms-crlpub.prom every
 * metrics.interval and at exit (crlpub_metrics.h).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "common/daemon_cli.h"
#include "common/log.h"
#include "common/mqtt_session.h"
#include "common/monotonic.h"
#include "services/crlpub/crlpub_config.h"
#include "services/crlpub/crlpub_metrics.h"
#include "services/crlpub/crlpub_publish.h"

typedef struct {
	const crlpub_config *cfg;
	crlpub *pub[CRL_PKI_COUNT];
	mqtt_session *session;
	pthread_t thread;
	atomic_int session_done, reconnected;
	char session_err[600];
} publisher;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sms-crlpub --config FILE [--check-config] [--verbose]\n"
	        "\n"
	        "Publishes the current CRL of every CA of both PKIs (tls, e2e), DER,\n"
	        "retained, on sms/crl/<pki>/<issuer key id>, when a CRL file changes,\n"
	        "at the republish interval and after every reconnect. A CRL that does\n"
	        "not verify against the configured CA certificates, or is older than\n"
	        "the one published, is not published. Warns ahead of every nextUpdate.\n"
	        "\n"
	        "  --config FILE  libconfig file (see services/crlpub/crlpub.conf.example)\n"
	        "  --check-config read the file, every file it names and every CRL, then\n"
	        "                 exit: 0, or 1 with one line naming the problem\n"
	        "  --verbose      debug logging\n"
	        "  --help         this text\n"
	        "\n"
	        "Signals: TERM/INT disconnect and exit; HUP re-reads the CRLs and republishes.\n");
}

static int send_retained(void *ud, const char *topic, const unsigned char *der, size_t len, char *err,
                         size_t errlen)
{
	publisher *p = ud;

	return mqtt_session_publish(p->session, topic, der, len, 1, 1, NULL, err, errlen);
}

static void on_connected(mqtt_session *s, void *ud, int session_present)
{
	publisher *p = ud;

	(void)s;
	(void)session_present;
	atomic_store(&p->reconnected, 1);
}

static void *session_main(void *arg)
{
	publisher *p = arg;

	if (mqtt_session_run(p->session, p->session_err, sizeof p->session_err) != 0)
		sms_log(LOG_LEVEL_ERROR, "%s", p->session_err);
	atomic_store(&p->session_done, 1);
	return NULL;
}

static int open_pkis(publisher *p, char *err, size_t errlen)
{
	const crlpub_config *cfg = p->cfg;
	int i;

	for (i = 0; i < CRL_PKI_COUNT; i++) {
		const crlpub_pki_files *f = &cfg->pki[i];

		if (f->n_crls == 0)
			continue;
		p->pub[i] = crlpub_new((crl_pki)i, (const char *const *)f->crls, f->n_crls,
		                       (const char *const *)f->ca_certs, f->n_ca_certs, cfg->check_interval,
		                       (time_t)cfg->warn_days * 86400, err, errlen);
		if (p->pub[i] == NULL)
			return -1;
	}
	return 0;
}

static int start_session(publisher *p, const char *client_id, char *err, size_t errlen)
{
	const crlpub_config *cfg = p->cfg;
	mqtt_session_handlers h = { .on_connected = on_connected };
	mqtt_session_config mc = {
		.host = cfg->broker.host, .port = cfg->broker.port, .cafile = cfg->broker.cafile,
		.cert = cfg->broker.cert, .key = cfg->broker.key, .client_id = client_id,
		.keepalive = cfg->broker.keepalive, .clean_start = 1, .name = "broker",
	};

	p->session = mqtt_session_new(&mc, NULL, 0, 1, &h, p, err, errlen);
	if (p->session == NULL)
		return -1;
	if (pthread_create(&p->thread, NULL, session_main, p) != 0) {
		snprintf(err, errlen, "cannot start the session thread");
		return -1;
	}
	return 0;
}

static void write_metrics(const publisher *p, time_t started)
{
	if (p->cfg->metrics.dir != NULL)
		crlpub_metrics_write(p->cfg->metrics.dir, p->pub, p->session, started);
}

static void supervise(publisher *p)
{
	struct timespec tick = { 1, 0 };
	time_t last_all = time(NULL), started = last_all;
	double last_metrics = 0;
	sigset_t set;
	int sig = 0, i, all, force;

	daemon_signal_set(&set);
	while (!atomic_load(&p->session_done)) {
		time_t now = time(NULL);
		int up = mqtt_session_connected(p->session);

		force = sig == SIGHUP;
		all = force || now - last_all >= p->cfg->republish_interval;
		if (up && atomic_exchange(&p->reconnected, 0))
			all = 1;
		for (i = 0; i < CRL_PKI_COUNT; i++)
			if (p->pub[i] != NULL)
				crlpub_poll(p->pub[i], now, force, all, up ? send_retained : NULL, p);
		if (up && all)
			last_all = now;
		if (monotonic_seconds() - last_metrics >= p->cfg->metrics.interval) {
			write_metrics(p, started);
			last_metrics = monotonic_seconds();
		}
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			sms_log(LOG_LEVEL_INFO, "%s: disconnecting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP)
			sms_log(LOG_LEVEL_INFO, "SIGHUP: re-reading the CRL files and publishing every CRL");
	}
	write_metrics(p, started);
}

static int run(const crlpub_config *cfg, const char *client_id)
{
	publisher p;
	char err[800];
	int rc = 1, i, started = 0;

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	if (open_pkis(&p, err, sizeof err) != 0)
		goto out;
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		snprintf(err, sizeof err, "mosquitto_lib_init failed");
		goto out;
	}
	if (start_session(&p, client_id, err, sizeof err) == 0) {
		started = 1;
		sms_log(LOG_LEVEL_INFO, "started: publishing %s%s%s CRLs via %s:%d as %s", p.pub[0] ? "TLS" : "",
		        p.pub[0] && p.pub[1] ? " and " : "", p.pub[1] ? "E2E" : "", cfg->broker.host, cfg->broker.port,
		        client_id);
		supervise(&p);
		rc = atomic_load(&p.session_done) ? 1 : 0;
		mqtt_session_stop(p.session);
		pthread_join(p.thread, NULL);
	}
	mqtt_session_free(p.session);
	mosquitto_lib_cleanup();
out:
	if (!started)
		sms_log(LOG_LEVEL_ERROR, "%s", err);
	for (i = 0; i < CRL_PKI_COUNT; i++)
		crlpub_free(p.pub[i]);
	return rc;
}

/* --check-config also loads and verifies every CRL, as a start would. */
static int check_crls(const crlpub_config *cfg)
{
	char err[800];
	int i;

	sms_log_init("sms-crlpub", LOG_LEVEL_ERROR);
	for (i = 0; i < CRL_PKI_COUNT; i++) {
		const crlpub_pki_files *f = &cfg->pki[i];
		crlpub *p;

		if (f->n_crls == 0)
			continue;
		p = crlpub_new((crl_pki)i, (const char *const *)f->crls, f->n_crls, (const char *const *)f->ca_certs,
		               f->n_ca_certs, cfg->check_interval, 0, err, sizeof err);
		if (p == NULL) {
			fprintf(stderr, "sms-crlpub: %s\n", err);
			return -1;
		}
		crlpub_free(p);
	}
	return 0;
}

int main(int argc, char **argv)
{
	crlpub_config cfg;
	daemon_args args;
	char err[600], id[128];
	const char *client_id;
	int rc;

	if (daemon_args_parse(argc, argv, "sms-crlpub", usage, NULL, &args, &rc) != 0)
		return rc;
	if (crlpub_config_load(args.config_path, &cfg, 1, err, sizeof err) != 0) {
		fprintf(stderr, "sms-crlpub: %s\n", err);
		return 1;
	}
	client_id = cfg.broker.client_id;
	if (client_id == NULL) {
		if (mqtt_client_id_for_cert(cfg.broker.cert, "sms-crlpub", id, sizeof id, err, sizeof err) != 0) {
			fprintf(stderr, "sms-crlpub: broker.client_id is not set and none follows from broker.cert: %s\n",
			        err);
			crlpub_config_free(&cfg);
			return 1;
		}
		client_id = id;
	}
	/* --check-config: silent when valid, one line when not (daemon_cli.h). */
	if (args.check_only) {
		rc = check_crls(&cfg);
		crlpub_config_free(&cfg);
		return rc == 0 ? 0 : 1;
	}
	if (daemon_log_start("sms-crlpub", &args, cfg.log_file) != 0 || daemon_block_signals() != 0) {
		crlpub_config_free(&cfg);
		return 1;
	}
	rc = run(&cfg, client_id);
	crlpub_config_free(&cfg);
	return rc;
}
