/*
 * serve — `tern serve [-c FILE]`: every listener, the queue, deliveries,
 * in the foreground, logging to stderr.
 *
 * Signals: SIGTERM/SIGINT stop accepting, let sessions that are
 * committing a message finish, answer 421 to idle ones, wait for running
 * deliveries, and exit 0 (nothing acknowledged is lost: it is on disk).
 * SIGHUP re-reads the configuration and the TLS certificate; listeners
 * keep their addresses until a restart.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "conf/conf.h"
#include "io/dns.h"
#include "io/io.h"
#include "io/watch.h"
#include "io/tls.h"
#include "mta/control.h"
#include "mta/datadir.h"
#include "mta/delivery.h"
#include "mta/pickup.h"
#include "mta/auth.h"
#include "mta/service.h"
#include "mta/relay.h"
#include "mta/scheduler.h"
#include "mta/server.h"
#include "mta/signer.h"
#include "queue/queue_store.h"

#define SERVE_STOP_GRACE_MS 20000 /* how long SIGTERM waits for work in flight */
/* Worker threads: commits (8: a commit waits on fsyncs, several share one
 * flush of msg/), deliveries (4), reads for sending (2), password
 * hashing (2: it must never wait behind the fsyncs that gate each 250). */
#define SERVE_COMMIT_WORKERS 8
#define SERVE_DELIVERY_WORKERS 4
#define SERVE_READ_WORKERS 2
#define SERVE_AUTH_WORKERS 2
#define SERVE_IMAP_WORKERS 4

struct serve_state {
	struct server srv;
	const char *conf_path;
	struct io_timer *stop_timer;
	unsigned stop_ticks;
	bool reloading, reload_again; /* a reload job runs; another SIGHUP came meanwhile */
	struct conf **retired;      /* configurations replaced by a reload (kept, see below) */
	size_t nretired;
	struct io_tls **retired_tls;
	struct signer **retired_signers;
};

static struct serve_state serve_st;

/* A recovered message keeps its retry schedule: its earliest pending
 * recipient's next_try from the state log. */
static void serve_recovered_cb(void *arg, const char *id)
{
	struct server *srv = arg;
	struct queue_env env;
	time_t next = 0;
	if (queue_load(srv->queue, id, &env) == 0) {
		for (size_t i = 0; i < env.nrcpts; i++)
			if (env.rcpts[i].state == QUEUE_RCPT_PENDING && (next == 0 || env.rcpts[i].next_try < next))
				next = env.rcpts[i].next_try;
		queue_env_free(&env);
	}
	scheduler_add(srv->sched, id, next);
}

static void serve_shutdown_sessions(struct server *srv)
{
	for (size_t i = 0; i < srv->nservices; i++)
		srv->services[i]->kind->shutdown(srv->services[i]);
}

/* Runs every 50 ms after SIGTERM until nothing is in flight. */
static void serve_stop_tick(void *arg)
{
	struct serve_state *st = arg;
	st->stop_ticks++;
	bool idle = service_active(&st->srv) == 0 && scheduler_busy(st->srv.sched) == 0;
	if (idle || st->stop_ticks * 50 >= SERVE_STOP_GRACE_MS) {
		if (!idle)
			log_msg("stop: giving up on work in flight; queued mail stays queued");
		io_loop_exit(st->srv.loop);
		return;
	}
	if (st->stop_ticks % 20 == 0)
		serve_shutdown_sessions(&st->srv); /* sessions that finished their work meanwhile */
	io_timer_start(st->stop_timer, 50);
}

static void serve_stop_cb(void *arg)
{
	struct serve_state *st = arg;
	if (st->srv.stopping)
		return;
	st->srv.stopping = true;
	log_msg("stop: signal received, finishing work in flight");
	for (size_t i = 0; i < st->srv.nservices; i++)
		service_stop_listening(st->srv.services[i]);
	scheduler_stop(st->srv.sched);
	relay_close_idle(st->srv.relay);
	serve_shutdown_sessions(&st->srv);
	st->stop_timer = io_timer_new(st->srv.loop, serve_stop_tick, st);
	io_timer_start(st->stop_timer, 0);
}

static int serve_load(const char *path, struct conf *c)
{
	char err[1024];
	int rc = conf_load_chosen(path, 0, c, err, sizeof err);
	if (rc < 0)
		log_msg("%s", err);
	return rc;
}

/* A reload reads files (the configuration, the users file, the
 * certificate): on a worker, like every other disk access; the loop only
 * swaps the result in. One reload at a time; a SIGHUP meanwhile is
 * remembered and served after it. */
struct serve_reload {
	struct serve_state *st;
	struct conf *c;           /* the new configuration (owned until swapped) */
	struct io_tls *tls;
	struct signer *signer;
	char err[1024];
};

static void serve_reload_work(void *arg)
{
	struct serve_reload *r = arg;
	r->c = calloc(1, sizeof *r->c);
	if (r->c == NULL) {
		snprintf(r->err, sizeof r->err, "out of memory");
		return;
	}
	if (conf_load_chosen(r->st->conf_path, 0, r->c, r->err, sizeof r->err) < 0) {
		free(r->c);
		r->c = NULL;
		return;
	}
	r->tls = io_tls_new(r->c->tls_cert, r->c->tls_key, r->c->data_dir, r->c->hostname, r->err, sizeof r->err);
	if (r->tls)
		r->signer = signer_load(r->c, r->err, sizeof r->err);
}

static void serve_reload_cb(void *arg);

static void serve_reload_done(void *arg)
{
	struct serve_reload *r = arg;
	struct serve_state *st = r->st;
	struct conf *c = r->c;
	st->reloading = false;
	if (c == NULL || r->tls == NULL || r->signer == NULL) {
		log_msg("reload: %s; configuration not changed", r->err);
		goto drop;
	}
	if (strcmp(c->data_dir, st->srv.conf->data_dir) != 0 ||
	    (c->dns == NULL) != (st->srv.conf->dns == NULL) ||
	    (c->dns && strcmp(c->dns, st->srv.conf->dns) != 0)) {
		/* The queue and the DNS channel belong to the running process. */
		log_msg("reload: data-dir and dns cannot change without a restart; configuration not changed");
		goto drop;
	}
	/* The old configuration may still be read by a delivery running on a
	 * worker thread: it is kept, not freed (reloads are rare). Sessions
	 * already open keep their limits. */
	struct conf **rc = realloc(st->retired, (st->nretired + 1) * sizeof *rc);
	struct io_tls **rt = rc ? realloc(st->retired_tls, (st->nretired + 1) * sizeof *rt) : NULL;
	struct signer **rs = rt ? realloc(st->retired_signers, (st->nretired + 1) * sizeof *rs) : NULL;
	if (rc)
		st->retired = rc;
	if (rt)
		st->retired_tls = rt;
	if (rs)
		st->retired_signers = rs;
	if (rc == NULL || rt == NULL || rs == NULL) {
		log_msg("reload: out of memory; configuration not changed");
		goto drop;
	}
	st->retired[st->nretired] = st->srv.conf;
	st->retired_tls[st->nretired] = st->srv.tls;
	st->retired_signers[st->nretired++] = st->srv.signer; /* messages being signed hold its keys */
	st->srv.conf = c;
	st->srv.signer = r->signer;
	st->srv.tls = r->tls; /* SSL objects of open sessions hold references to the old context */
	log_msg("reload: configuration re-read from %s", st->conf_path ? st->conf_path : "(embedded default)");
	free(r);
	goto again;
drop:
	io_tls_free(r->tls);
	signer_free(r->signer);
	if (c) {
		conf_free(c);
		free(c);
	}
	free(r);
again:
	if (st->reload_again) {
		st->reload_again = false;
		serve_reload_cb(st);
	}
}

static void serve_reload_cb(void *arg)
{
	struct serve_state *st = arg;
	if (st->reloading) {
		st->reload_again = true;
		return;
	}
	struct serve_reload *r = calloc(1, sizeof *r);
	if (r == NULL) {
		log_msg("reload: out of memory; configuration not changed");
		return;
	}
	r->st = st;
	st->reloading = true;
	io_workers_submit(st->srv.commit_pool, serve_reload_work, serve_reload_done, r);
}

int cmd_serve(int argc, char **argv)
{
	const char *explicit_path = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c') {
			explicit_path = optarg;
		} else {
			fputs("usage: tern serve [-c FILE]\n", stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fputs("usage: tern serve [-c FILE]\n", stderr);
		return EX_USAGE;
	}
	struct serve_state *st = &serve_st;
	bool must_exist = false;
	st->conf_path = conf_choose_path(explicit_path, &must_exist);
	struct conf *c = calloc(1, sizeof *c);
	if (c == NULL || serve_load(st->conf_path, c) < 0)
		return EX_CONFIG;
	struct server *srv = &st->srv;
	srv->conf = c;
	signal(SIGPIPE, SIG_IGN);
	if (server_limits_init(srv, SERVE_COMMIT_WORKERS + SERVE_DELIVERY_WORKERS + SERVE_READ_WORKERS +
	                                SERVE_AUTH_WORKERS + SERVE_IMAP_WORKERS) < 0)
		return EX_OSERR;

	srv->queue = queue_open(c->data_dir);
	if (srv->queue == NULL)
		fatal("out of memory");
	/* Start-up trust (CONTRACT.md): nothing is written into a data-dir
	 * that others could have prepared. */
	char err[1024];
	if (datadir_check_root(c->data_dir, err, sizeof err) < 0) {
		log_msg("%s", err);
		return EX_CONFIG;
	}
	if (fsutil_mkdirs(c->data_dir, 0700) < 0 || queue_init_dirs(srv->queue) < 0) {
		log_msg("%s: cannot create the data directory: %s", c->data_dir, strerror(errno));
		return EX_CANTCREAT;
	}
	if (datadir_check(c->data_dir, c->tls_cert == NULL, err, sizeof err) < 0) {
		log_msg("%s", err);
		return EX_CONFIG;
	}
	srv->loop = io_loop_new();
	if (srv->loop == NULL)
		fatal("cannot create the event loop");
	srv->commit_pool = io_workers_new(srv->loop, SERVE_COMMIT_WORKERS);
	srv->delivery_pool = io_workers_new(srv->loop, SERVE_DELIVERY_WORKERS);
	srv->read_pool = io_workers_new(srv->loop, SERVE_READ_WORKERS);
	srv->auth_pool = io_workers_new(srv->loop, SERVE_AUTH_WORKERS);
	srv->imap_pool = io_workers_new(srv->loop, SERVE_IMAP_WORKERS);
	srv->watch = io_watch_new(srv->loop);
	if (srv->watch == NULL)
		log_msg("inotify unavailable (%s): IMAP IDLE learns of changes at the next command only",
		        strerror(errno));
	srv->auth = auth_new(srv);
	if (srv->auth == NULL)
		fatal("out of memory");
	srv->sched = scheduler_new(srv);
	char dnserr[256];
	srv->dns = io_dns_new(srv->loop, c->dns, dnserr, sizeof dnserr);
	if (srv->dns == NULL)
		log_msg("%s", dnserr);
	srv->relay = relay_new(srv);
	if (srv->relay == NULL)
		log_msg("relay: outbound delivery unavailable; remote mail stays queued");
	srv->tls = io_tls_new(c->tls_cert, c->tls_key, c->data_dir, c->hostname, err, sizeof err);
	if (srv->tls == NULL) {
		log_msg("%s", err);
		return c->tls_cert ? EX_CONFIG : EX_SOFTWARE;
	}
	if (srs_secret_load(c->data_dir, &srv->srs, err, sizeof err) < 0) {
		log_msg("%s", err);
		return EX_CONFIG;
	}
	srv->signer = signer_load(c, err, sizeof err);
	if (srv->signer == NULL) {
		log_msg("%s", err);
		return EX_CONFIG;
	}

	/* Another server on this data-dir is refused before anything touches the queue. */
	if (control_start(srv) < 0)
		return EX_TEMPFAIL;
	srv->services = calloc(c->nlistens ? c->nlistens : 1, sizeof *srv->services);
	if (srv->services == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < c->nlistens; i++) {
		const struct conf_listen *l = &c->listens[i];
		struct service *svc = service_listen(srv, l, err, sizeof err);
		if (svc == NULL) {
			log_msg("%s", err);
			return EX_OSERR;
		}
		srv->services[srv->nservices++] = svc;
		const char *fmt = strchr(l->addr, ':') ? "listening on [%s]:%d (%s)" : "listening on %s:%d (%s)";
		log_msg(fmt, l->addr, l->port, conf_role_name(l->role));
	}
	/* Recovery: tmp leftovers go, acknowledged messages are scheduled. */
	if (queue_recover(srv->queue, serve_recovered_cb, srv) < 0) {
		log_msg("%s: queue recovery failed: %s", c->data_dir, strerror(errno));
		return EX_SOFTWARE;
	}
	if (pickup_start(srv) < 0)
		return EX_CANTCREAT;
	io_loop_signal(srv->loop, SIGTERM, serve_stop_cb, st);
	io_loop_signal(srv->loop, SIGINT, serve_stop_cb, st);
	io_loop_signal(srv->loop, SIGHUP, serve_reload_cb, st);
	log_msg("tern %s serving as %s, data in %s", TERN_VERSION, c->hostname, c->data_dir);
	if (st->conf_path == NULL) {
		for (size_t i = 0; i < srv->nservices; i++)
			if (srv->services[i]->role == ROLE_SMTP) {
				const struct conf_listen *l = NULL;
				for (size_t k = 0; k < c->nlistens; k++)
					if (c->listens[k].role == ROLE_SMTP)
						l = &c->listens[k];
				printf("tern is running on the embedded default configuration (loopback only).\n"
				       "Send a test message with:\n"
				       "  printf 'Subject: hello\\r\\n\\r\\nIt works.\\r\\n' | curl -sS "
				       "smtp://%s:%d/client.localhost --mail-from me@localhost --mail-rcpt bob@localhost -T -\n"
				       "then look in %s/mail/localhost/bob/new/\n",
				       l->addr, l->port, c->data_dir);
				fflush(stdout);
				break;
			}
	}
	io_loop_run(srv->loop);
	control_stop(srv);
	io_workers_free(srv->commit_pool);
	io_workers_free(srv->delivery_pool);
	io_workers_free(srv->read_pool);
	io_workers_free(srv->imap_pool);
	io_watch_free(srv->watch);
	log_msg("stopped");
	return 0;
}
