/*
 * relay — outbound delivery to remote exchangers. See relay.h.
 *
 * An attempt walks: exchangers (MX by preference, RFC 5321 5.1; implicit
 * MX when there is none; RFC 7505 null MX fails at once) → each one's
 * addresses → a connection (an idle cached one to the same address and
 * port, or a new one) → one transaction. A failure before the transaction
 * got an answer (refused connection, 4xx greeting, broken session) moves
 * on to the next address; answers given in the transaction are final for
 * this attempt (4xx: retried later by the scheduler, 5xx: bounced).
 *
 * STARTTLS is used whenever offered (RFC 3207, opportunistic per RFC
 * 7435); when the handshake fails the same address is tried once more in
 * plaintext, and the log says so.
 */
#include "mta/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "crypto/srs.h"
#include "io/dns.h"
#include "io/io.h"
#include "io/reader.h"
#include "io/tls.h"
#include "mta/recipient.h"
#include "mta/server.h"
#include "mta/smtpc.h"
#include "proto/smtp_client.h"

#define RELAY_IDLE_S 10            /* keep an idle connection this long */
#define RELAY_CONNECT_S 30         /* connect timeout */
#define RELAY_MAX_PER_DEST 20      /* to one address and port (Postfix's default concurrency) */
#define RELAY_CHUNK (256 * 1024)   /* content read and pushed at a time */

struct relay_attempt;

struct relay_conn {
	struct relay *r;
	struct io_conn *io;
	struct smtp_client cli;
	char key[80];                  /* "addr port starttls" for reuse */
	char host[256];                /* the exchanger's name */
	struct relay_attempt *att;     /* the user, NULL while idle */
	struct io_timer *idle_timer;
	bool idle, closing;
	struct relay_conn *bnext;      /* the busy list (every open connection) */
	bool tls_started, tls_up;      /* to tell a failed handshake from other failures */
	struct relay_conn *next;       /* idle list */
};

struct relay {
	struct server *srv;
	struct io_dns *dns;
	struct io_tls *tls;
	struct relay_conn *idle;
	struct relay_conn *busy;       /* connections in use, for per-destination counts */
	struct relay_attempt *waiters; /* attempts waiting for a connection slot */
	unsigned nconns;
};

struct relay_attempt {
	struct relay *r;
	struct relay_req *req;
	char hosts[IO_DNS_MAX_MX][256];
	size_t nhosts, hi;
	int port;
	struct sockaddr_storage addrs[IO_DNS_MAX_ADDRS];
	size_t naddrs, ai;
	bool no_tls;                   /* plaintext retry after a failed handshake */
	struct smtp_client_txn txn;
	struct smtp_client_rcpt *crcpts;
	bool txn_started;
	struct io_reader *reader;      /* the content, read on the read pool */
	struct relay_conn *conn;       /* the connection in use, for the reader's wake-up */
	uint64_t left;
	bool fields_sent;              /* the fields known at acceptance went first */
	char srs_from[SRS_ADDR_MAX + 1]; /* the rewritten envelope sender of forwarded mail */
	char last_error[512];
	bool last_permanent;
	char wait_key[80];             /* waiting for a slot to this destination */
	struct relay_attempt *wnext;
};

static void relay_next_addr(struct relay_attempt *a);
static void relay_next_host(struct relay_attempt *a);
static void relay_use_conn(struct relay_attempt *a, struct relay_conn *rc);
static void relay_conn_pump(struct relay_conn *rc);

struct relay *relay_new(struct server *srv)
{
	struct relay *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->srv = srv;
	r->dns = srv->dns;
	if (r->dns == NULL) {
		free(r);
		return NULL;
	}
	r->tls = io_tls_client_opportunistic();
	return r;
}

void relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	io_tls_free(r->tls);
	free(r);
}

/* ---- ending an attempt ---- */

/* Give every recipient without an answer the same outcome. */
static void relay_fail_rest(struct relay_attempt *a, bool permanent, const char *status, const char *text)
{
	for (size_t i = 0; i < a->req->nrcpts; i++) {
		struct relay_rcpt *rr = &a->req->rcpts[i];
		if (rr->delivered || rr->text[0])
			continue;
		rr->permanent = permanent;
		snprintf(rr->status, sizeof rr->status, "%s", status);
		snprintf(rr->text, sizeof rr->text, "%s", text);
	}
}

static void relay_finish(struct relay_attempt *a)
{
	struct relay_req *req = a->req;
	io_reader_free(a->reader);
	free(a->crcpts);
	free(a);
	req->done(req->arg, req);
}

/* ---- connections ---- */

static void relay_wake(struct relay *r, const char *key);

/* The attempt and the connection part: neither refers to the other. */
static void relay_conn_detach(struct relay_conn *rc)
{
	if (rc->att && rc->att->conn == rc)
		rc->att->conn = NULL;
	rc->att = NULL;
}

static void relay_conn_free(struct relay_conn *rc)
{
	struct relay *r = rc->r;
	relay_conn_detach(rc);
	for (struct relay_conn **bp = &r->busy; *bp; bp = &(*bp)->bnext)
		if (*bp == rc) {
			*bp = rc->bnext;
			break;
		}
	char key[80];
	snprintf(key, sizeof key, "%s", rc->key);
	if (rc->idle) {
		struct relay_conn **pp = &r->idle;
		while (*pp && *pp != rc)
			pp = &(*pp)->next;
		if (*pp)
			*pp = rc->next;
	}
	io_timer_free(rc->idle_timer);
	io_conn_free(rc->io);
	smtp_client_free(&rc->cli);
	r->nconns--;
	free(rc);
	relay_wake(r, key);
}

static void relay_idle_timer_cb(void *arg)
{
	struct relay_conn *rc = arg;
	if (!rc->idle)
		return;
	smtp_client_quit(&rc->cli);
	relay_conn_pump(rc);
}

/* The attempt is done with this connection. */
static void relay_conn_release(struct relay_conn *rc)
{
	relay_conn_detach(rc);
	if (smtp_client_is_ready(&rc->cli) && !rc->closing) {
		for (struct relay_attempt **wp = &rc->r->waiters; *wp; wp = &(*wp)->wnext) {
			struct relay_attempt *w = *wp;
			if (strcmp(w->wait_key, rc->key) == 0) {
				*wp = w->wnext;
				w->wait_key[0] = '\0';
				relay_use_conn(w, rc);
				return;
			}
		}
		rc->idle = true;
		rc->next = rc->r->idle;
		rc->r->idle = rc;
		io_conn_set_timeout(rc->io, 0, 60);
		io_timer_start(rc->idle_timer, RELAY_IDLE_S * 1000);
		return;
	}
	if (!smtp_client_is_closed(&rc->cli))
		smtp_client_quit(&rc->cli);
	relay_conn_pump(rc);
}

/* The transaction ended: note each recipient's outcome. */
static void relay_txn_done_cb(void *ctx, struct smtp_client_txn *t)
{
	struct relay_conn *rc = ctx;
	struct relay_attempt *a = rc->att;
	if (a == NULL)
		return;
	for (size_t i = 0; i < t->nrcpts; i++) {
		struct smtp_client_rcpt *cr = &t->rcpts[i];
		struct relay_rcpt *rr = &a->req->rcpts[i];
		snprintf(rr->mx, sizeof rr->mx, "%s", rc->host);
		const struct smtp_client_reply *rep = cr->state == SMTP_CLIENT_RCPT_REFUSED ? &cr->reply : &t->reply;
		if (cr->state == SMTP_CLIENT_RCPT_DELIVERED) {
			rr->delivered = true;
			snprintf(rr->text, sizeof rr->text, "%s", smtp_client_reply_text(&t->reply));
			snprintf(rr->status, sizeof rr->status, "%s", t->reply.status[0] ? t->reply.status : "2.0.0");
		} else {
			rr->permanent = smtp_client_reply_class(rep) == 5;
			snprintf(rr->text, sizeof rr->text, "%s", smtp_client_reply_text(rep));
			snprintf(rr->status, sizeof rr->status, "%s",
			         rep->status[0] ? rep->status : (rr->permanent ? "5.0.0" : "4.0.0"));
		}
	}
	if (rc->io && io_conn_is_tls(rc->io))
		snprintf(a->req->tls, sizeof a->req->tls, "%s %s", io_conn_tls_version(rc->io),
		         io_conn_tls_cipher(rc->io));
}

static const struct smtp_client_ops relay_client_ops = {
	.txn_done = relay_txn_done_cb,
};

/* Hand the engine the content read so far, while the peer keeps up: at
 * most RELAY_CHUNK octets wait in the connection's output. The reader
 * wakes the pump when a piece it waited for has arrived. */
static void relay_push_content(struct relay_conn *rc)
{
	struct relay_attempt *a = rc->att;
	/* The DKIM-Signature fields made at acceptance go above the content,
	 * whose first field is our Received: the next hop sees them on top.
	 * Our Authentication-Results stays home: it speaks for this ADMD
	 * only (RFC 8601 5), and the next hop judges the message itself. */
	const struct queue_env *env = a->req->env;
	if (!a->fields_sent && smtp_client_wants_content(&rc->cli)) {
		a->fields_sent = true;
		if (env->out_fields)
			smtp_client_content(&rc->cli, env->out_fields, strlen(env->out_fields), false);
	}
	while (smtp_client_wants_content(&rc->cli) && io_conn_output_len(rc->io) + rc->cli.out.len <= RELAY_CHUNK) {
		const char *p;
		size_t n;
		int r = io_reader_peek(a->reader, &p, &n);
		if (r == 0)
			return; /* relay_reader_ready_cb follows */
		if (r < 0 || (n == 0 && a->left > 0) || n > a->left) {
			log_msg("%s relay error=\"cannot read queue file: %s\"", a->req->env->id,
			        r < 0 ? strerror(errno) : "its size changed");
			smtp_client_abort(&rc->cli, "queue file read error");
			return;
		}
		a->left -= n;
		smtp_client_content(&rc->cli, p, n, a->left == 0);
		io_reader_consume(a->reader, n);
		if (n == 0)
			return;
	}
}

static void relay_push_content_cb(void *arg)
{
	relay_push_content(arg);
}

/*
 * Move a connection along (mta/smtpc does the engine's part) and act on
 * what its session became. Called on every connection event; the only
 * place that moves a connection along.
 */
static void relay_conn_pump(struct relay_conn *rc)
{
	struct relay_attempt *a = rc->att;
	struct smtpc_step step = {
		.txn = a ? &a->txn : NULL,
		.txn_started = a ? &a->txn_started : NULL,
		.content = a ? relay_push_content_cb : NULL,
		.arg = rc,
		.write_timeout = 300,
		.keep_timeouts = rc->idle,
	};
	if (smtpc_step(rc->io, &rc->cli, &step) == SMTPC_TLS) {
		if (io_conn_start_tls_client(rc->io, rc->r->tls, rc->host) == 0) {
			rc->tls_started = true;
			return;
		}
		smtp_client_abort(&rc->cli, "cannot start TLS");
	}
	if (a && a->txn.done && smtp_client_is_ready(&rc->cli)) {
		relay_conn_release(rc);
		relay_finish(a);
		return; /* rc may be gone (released and pumped) */
	}
	if (a && a->txn.done && smtp_client_is_closed(&rc->cli)) {
		/* the transaction ended and the session with it (e.g. QUIT sent) */
		relay_conn_detach(rc);
		relay_finish(a);
		a = NULL;
	}
	if (smtp_client_is_closed(&rc->cli)) {
		if (a) {
			/* the session failed before the transaction was answered */
			relay_conn_detach(rc);
			snprintf(a->last_error, sizeof a->last_error, "%s: %s", rc->host,
			         smtp_client_reply_text(&rc->cli.error));
			a->last_permanent = false;
			if (rc->tls_started && !rc->tls_up && !a->no_tls) {
				char host[LOG_VALUE_MAX];
				log_msg("%s relay tls=failed mx=%s action=retry-in-plaintext", a->req->env->id,
				        log_value(host, sizeof host, rc->host));
				a->no_tls = true;
				a->ai--; /* the same address again */
			}
			relay_conn_free(rc);
			relay_next_addr(a);
			return;
		}
		if (io_conn_output_len(rc->io) == 0) {
			relay_conn_free(rc);
			return;
		}
		rc->closing = true;
	}
}

static void relay_readable_cb(void *arg)
{
	relay_conn_pump(arg);
}

static void relay_drained_cb(void *arg)
{
	struct relay_conn *rc = arg;
	if (rc->closing) {
		relay_conn_free(rc);
		return;
	}
	relay_conn_pump(rc);
}

static void relay_closed_cb(void *arg, const char *why)
{
	struct relay_conn *rc = arg;
	if (rc->closing || (rc->idle && rc->att == NULL)) {
		relay_conn_free(rc);
		return;
	}
	smtp_client_abort(&rc->cli, why);
	relay_conn_pump(rc);
}

static void relay_tls_ready_cb(void *arg)
{
	struct relay_conn *rc = arg;
	rc->tls_up = true;
	smtp_client_tls_done(&rc->cli);
	relay_conn_pump(rc);
}

static void relay_connected_cb(void *arg)
{
	struct relay_conn *rc = arg;
	io_conn_set_timeout(rc->io, SMTP_CLIENT_TIMEOUT_GREETING, 300);
}

static const struct io_conn_handlers relay_conn_handlers = {
	.readable = relay_readable_cb,
	.drained = relay_drained_cb,
	.closed = relay_closed_cb,
	.tls_ready = relay_tls_ready_cb,
	.connected = relay_connected_cb,
};

/* ---- walking exchangers and addresses ---- */

static void relay_use_conn(struct relay_attempt *a, struct relay_conn *rc)
{
	rc->att = a;
	a->conn = rc;
	a->txn_started = false;
	relay_conn_pump(rc);
}

/* A piece of content the pump waited for has been read. */
static void relay_reader_ready_cb(void *arg)
{
	struct relay_attempt *a = arg;
	if (a->conn && a->conn->att == a)
		relay_conn_pump(a->conn);
}

/* The read pool's side: the queue file, at the start of its content. */
struct relay_source {
	struct queue *q;
	char id[QUEUE_ID_MAX];
	off_t off;
};

static int relay_source_open(void *arg)
{
	const struct relay_source *s = arg;
	return queue_open_content_at(s->q, s->id, s->off);
}

static void relay_next_addr(struct relay_attempt *a)
{
	struct relay *r = a->r;
	if (a->ai >= a->naddrs) {
		a->hi++;
		relay_next_host(a);
		return;
	}
	struct sockaddr_storage *ss = &a->addrs[a->ai++];
	char addr[64];
	io_addr_text((struct sockaddr *)ss, addr, sizeof addr);
	char key[80];
	snprintf(key, sizeof key, "%s %d %d", addr, a->port, a->no_tls ? 0 : 1);
	for (struct relay_conn **pp = &r->idle; *pp; pp = &(*pp)->next) {
		struct relay_conn *rc = *pp;
		if (strcmp(rc->key, key) == 0 && smtp_client_is_ready(&rc->cli)) {
			*pp = rc->next;
			rc->idle = false;
			io_timer_stop(rc->idle_timer);
			relay_use_conn(a, rc);
			return;
		}
	}
	unsigned same = 0;
	for (struct relay_conn *b = r->busy; b; b = b->bnext)
		same += strcmp(b->key, key) == 0;
	if (same >= RELAY_MAX_PER_DEST) {
		/* Wait for one of them: released or closed, it wakes us. */
		a->ai--;
		snprintf(a->wait_key, sizeof a->wait_key, "%s", key);
		a->wnext = r->waiters;
		r->waiters = a;
		return;
	}
	if (r->nconns >= r->srv->max_outbound) {
		snprintf(a->last_error, sizeof a->last_error, "too many outbound connections");
		relay_fail_rest(a, false, "4.4.5", a->last_error);
		relay_finish(a);
		return;
	}
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)a->port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)a->port);
	struct relay_conn *rc = calloc(1, sizeof *rc);
	if (rc == NULL) {
		relay_next_addr(a);
		return;
	}
	rc->r = r;
	snprintf(rc->key, sizeof rc->key, "%s", key);
	snprintf(rc->host, sizeof rc->host, "%s", a->hosts[a->hi]);
	rc->idle_timer = io_timer_new(r->srv->loop, relay_idle_timer_cb, rc);
	struct smtp_client_config cfg = {
		.helo = r->srv->conf->hostname,
		.starttls = a->no_tls ? SMTP_CLIENT_TLS_NONE : SMTP_CLIENT_TLS_OPPORTUNISTIC,
	};
	smtp_client_init(&rc->cli, &cfg, &relay_client_ops, rc);
	socklen_t sl = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	rc->io = io_conn_connect(r->srv->loop, (struct sockaddr *)ss, sl, RELAY_CONNECT_S, &relay_conn_handlers, rc);
	if (rc->io == NULL) {
		snprintf(a->last_error, sizeof a->last_error, "%s[%s]: cannot connect", rc->host, addr);
		io_timer_free(rc->idle_timer);
		smtp_client_free(&rc->cli);
		free(rc);
		relay_next_addr(a);
		return;
	}
	r->nconns++;
	rc->bnext = r->busy;
	r->busy = rc;
	rc->att = a;
	a->conn = rc;
	a->txn_started = false;
}

/* A connection to `key` closed: the first attempt waiting for it retries. */
static void relay_wake(struct relay *r, const char *key)
{
	for (struct relay_attempt **wp = &r->waiters; *wp; wp = &(*wp)->wnext) {
		struct relay_attempt *w = *wp;
		if (strcmp(w->wait_key, key) == 0) {
			*wp = w->wnext;
			w->wait_key[0] = '\0';
			relay_next_addr(w);
			return;
		}
	}
}

static void relay_addr_cb(void *arg, enum io_dns_status st, const struct sockaddr_storage *addrs, size_t n)
{
	struct relay_attempt *a = arg;
	if (st != IO_DNS_OK || n == 0) {
		snprintf(a->last_error, sizeof a->last_error, "%s: no address (%s)", a->hosts[a->hi],
		         st == IO_DNS_TEMPFAIL ? "DNS lookup failed" : "no A or AAAA record");
		a->hi++;
		relay_next_host(a);
		return;
	}
	memcpy(a->addrs, addrs, n * sizeof addrs[0]);
	a->naddrs = n;
	a->ai = 0;
	relay_next_addr(a);
}

static void relay_next_host(struct relay_attempt *a)
{
	if (a->hi >= a->nhosts) {
		/* Every exchanger failed before answering the transaction. */
		relay_fail_rest(a, a->last_permanent, a->last_permanent ? "5.4.4" : "4.4.1",
		                a->last_error[0] ? a->last_error : "no exchanger reachable");
		relay_finish(a);
		return;
	}
	io_dns_addr(a->r->dns, a->hosts[a->hi], relay_addr_cb, a);
}

static void relay_mx_cb(void *arg, enum io_dns_status st, const struct io_dns_mx *mx, size_t n)
{
	struct relay_attempt *a = arg;
	const char *domain = a->req->domain;
	switch (st) {
	case IO_DNS_OK:
		if (n == 1 && mx[0].host[0] == '\0') {
			/* RFC 7505 3: a null MX means no mail, for good. */
			relay_fail_rest(a, true, "5.1.10", "Domain does not accept mail (null MX, RFC 7505)");
			relay_finish(a);
			return;
		}
		for (size_t i = 0; i < n && a->nhosts < IO_DNS_MAX_MX; i++)
			if (mx[i].host[0])
				snprintf(a->hosts[a->nhosts++], sizeof a->hosts[0], "%s", mx[i].host);
		break;
	case IO_DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain itself is the implicit MX. */
		snprintf(a->hosts[a->nhosts++], sizeof a->hosts[0], "%s", domain);
		break;
	case IO_DNS_NXDOMAIN:
		relay_fail_rest(a, true, "5.1.2", "Domain not found (NXDOMAIN)");
		relay_finish(a);
		return;
	default:
		relay_fail_rest(a, false, "4.4.3", "DNS lookup of the MX records failed, will retry");
		relay_finish(a);
		return;
	}
	a->hi = 0;
	relay_next_host(a);
}

/*
 * The envelope sender for this transaction. Mail an alias forwards (a
 * recipient whose original address is local) from a sender of another
 * domain leaves with an SRS address of our first domain: the next hop's
 * SPF check then judges our address, which our record covers, and its
 * bounces come back to us to be sent on (mta/recipient.c).
 */
static const char *relay_sender(struct relay *r, const struct relay_req *req, char *buf, size_t len)
{
	const struct queue_env *env = req->env;
	const struct conf *c = r->srv->conf;
	if (env->sender[0] == '\0' || c->ndomains == 0 || recipient_is_local(c, env->sender))
		return env->sender;
	bool forwarded = false;
	for (size_t i = 0; i < req->nrcpts && !forwarded; i++) {
		const struct queue_rcpt *q = &env->rcpts[req->rcpts[i].idx];
		forwarded = q->orcpt && recipient_is_local(c, q->orcpt);
	}
	if (!forwarded)
		return env->sender;
	const struct srs_secret *k = &r->srv->srs;
	enum srs_status st = srs_forward(k->key, sizeof k->key, (int64_t)time(NULL), env->sender, c->domains[0], buf, len);
	/* RFC 5321 4.5.3.1.1 bounds a local part at 64 octets, and receivers
	 * (tern among them) refuse longer ones: a long sender keeps its own
	 * address, which may fail SPF at the next hop but is delivered. */
	const char *at = st == SRS_OK ? strrchr(buf, '@') : NULL;
	if (st == SRS_OK && (at == NULL || at - buf > SMTP_LOCAL_MAX))
		st = SRS_TOO_LONG;
	if (st != SRS_OK) {
		log_msg("%s relay srs=unchanged reason=\"%s\"", env->id,
		        st == SRS_TOO_LONG ? "SRS local part over 64 octets" : srs_status_text(st));
		return env->sender;
	}
	return buf;
}

void relay_send(struct relay *r, struct relay_req *req)
{
	struct relay_attempt *a = calloc(1, sizeof *a);
	if (a == NULL || r == NULL) {
		free(a);
		for (size_t i = 0; i < req->nrcpts; i++)
			snprintf(req->rcpts[i].text, sizeof req->rcpts[i].text, "local error: relay unavailable");
		req->done(req->arg, req);
		return;
	}
	a->r = r;
	a->req = req;
	a->left = req->env->content_len;
	a->crcpts = calloc(req->nrcpts, sizeof *a->crcpts);
	struct relay_source *src = malloc(sizeof *src);
	if (src) {
		src->q = r->srv->queue;
		memcpy(src->id, req->env->id, sizeof src->id);
		src->off = req->env->content_off;
		struct io_reader_source rs = {.open = relay_source_open, .free_arg = free, .arg = src,
		                              .len = req->env->content_len};
		a->reader = io_reader_new(r->srv->read_pool, &rs, relay_reader_ready_cb, a);
	}
	if (a->reader == NULL || a->crcpts == NULL) {
		relay_fail_rest(a, false, "4.3.0", "cannot read the queued message");
		relay_finish(a);
		return;
	}
	for (size_t i = 0; i < req->nrcpts; i++)
		a->crcpts[i].addr = req->rcpts[i].addr;
	a->txn.from = relay_sender(r, req, a->srs_from, sizeof a->srs_from);
	a->txn.rcpts = a->crcpts;
	a->txn.nrcpts = req->nrcpts;
	a->txn.eightbit = req->env->eightbit;
	a->txn.utf8_headers = req->env->smtputf8;
	a->port = r->srv->conf->smtp_port;
	if (r->srv->conf->relay_host) {
		const char *name = r->srv->conf->relay_name;
		snprintf(a->hosts[0], sizeof a->hosts[0], "%s", name ? name : r->srv->conf->relay_host);
		a->nhosts = 1;
		a->port = r->srv->conf->relay_port ? r->srv->conf->relay_port : a->port;
		relay_next_host(a);
		return;
	}
	io_dns_mx(r->dns, req->domain, relay_mx_cb, a);
}

void relay_close_idle(struct relay *r)
{
	if (r == NULL)
		return;
	while (r->idle) {
		struct relay_conn *rc = r->idle;
		r->idle = rc->next;
		rc->idle = false;
		smtp_client_quit(&rc->cli);
		relay_conn_pump(rc);
	}
}
