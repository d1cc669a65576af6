/*
 * smtpd — SMTP sessions: engine + connection + recipient policy + queue
 * intake. See smtpd.h.
 *
 * Life of a session: accept → limits → early-talker check → greeting →
 * feed input to the engine, write its replies whenever it has consumed
 * all input or waits (that is PIPELINING) → on QUIT or an error, close
 * once the output has drained. A session whose client vanishes while its
 * message is being committed stays allocated (`dead`) until the commit
 * completes, because the commit's callback still refers to it.
 */
#include "mta/smtpd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "io/dns.h"
#include "io/io.h"
#include "io/tls.h"
#include "mta/auth.h"
#include "mta/intake.h"
#include "mta/msgauth.h"
#include "mta/recipient.h"
#include "mta/scheduler.h"
#include "mta/server.h"
#include "mta/service.h"
#include "mta/signer.h"
#include "proto/ar_strip.h"
#include "proto/mail_header.h"
#include "proto/smtp_reply_parse.h"
#include "proto/smtp_server.h"
#include "queue/queue_commit.h"
#include "queue/queue_store.h"

#define SMTPD_GREET_PAUSE_MS 0 /* greet on the next loop turn: a client that talks first is seen doing it */
#define SMTPD_MIN_DATA_RATE 500 /* octets per second of content, beyond command-timeout */

/* A reverse lookup may outlive its session: the session cuts the link. */
struct smtpd_ptr {
	struct smtpd_session *ss;
};

struct smtpd_session {
	struct service_session base; /* first: svc->sessions lists it */
	struct io_conn *conn;
	struct smtp_server eng;
	time_t data_started;          /* DATA/BDAT content began (0: not in content) */
	uint64_t data_octets;         /* ...octets of it read so far */
	char rdns[256];               /* the client's reverse name, "" unknown */
	struct smtpd_ptr *ptr;        /* lookup in flight */
	/* transaction */
	struct recipient_list rcpts;  /* final addresses */
	struct recipient_list orcpts; /* as given, index-aligned with rcpts */
	struct intake *in;            /* the message being received (owned until committed) */
	struct intake *judged;        /* ...handed over while msgauth decides (owned) */
	struct msgauth *ma;           /* inbound checks of this message (smtp role) */
	struct ar_strip strip;        /* forged Authentication-Results removal */
	bool stripping;
	struct msgsign *sign;         /* DKIM signing of a user's message */
	struct buf scratch;           /* the content after ar_strip */
	struct buf sigs;              /* DKIM-Signature fields made at the end of data */
	char qid[QUEUE_ID_MAX];
	char sender[SMTP_PATH_MAX + 8];
	time_t arrival;
	bool committing;              /* the intake's commit will call back */
	bool write_failed;            /* the intake failed: logged once */
	bool authing;                 /* a password check refers to this session */
	bool dead;                    /* the connection is gone */
	bool closing;                 /* io_conn_finish called: closes once output has left */
	bool greeted;                 /* the 220 (or the refusal) has been sent */
	int fd;
	struct io_timer *greet_timer;
	/* commit job result */
	int commit_rc, commit_errno;
	uint64_t size;
	unsigned nrcpt_msg;
};

/* The per-message authentication state: checks, filter, signer. */
static void smtpd_txn_auth_free(struct smtpd_session *ss)
{
	msgauth_free(ss->ma);
	ss->ma = NULL;
	if (ss->stripping)
		ar_strip_free(&ss->strip);
	ss->stripping = false;
	msgsign_free(ss->sign);
	ss->sign = NULL;
	buf_free(&ss->sigs);
	buf_init(&ss->sigs, 0);
	intake_abort(ss->judged);
	ss->judged = NULL;
}

static void smtpd_free(struct smtpd_session *ss)
{
	io_timer_free(ss->greet_timer);
	if (ss->ptr)
		ss->ptr->ss = NULL;
	intake_abort(ss->in);
	ss->in = NULL;
	smtpd_txn_auth_free(ss);
	buf_free(&ss->scratch);
	recipient_list_free(&ss->rcpts);
	recipient_list_free(&ss->orcpts);
	smtp_server_free(&ss->eng);
	io_conn_free(ss->conn);
	service_session_remove(&ss->base);
	free(ss);
}

/* The connection ended (or must): free now unless a commit still runs. */
static void smtpd_end(struct smtpd_session *ss, const char *why)
{
	if (!ss->dead) {
		char w[LOG_VALUE_MAX];
		log_msg("%s disconnect from [%s] reason=%s", ss->base.sid, ss->base.slot.addr, log_value(w, sizeof w, why));
	}
	ss->dead = true;
	if (ss->committing || ss->authing) {
		io_conn_pause_read(ss->conn, true);
		return;
	}
	smtpd_free(ss);
}

/* Send what the engine wrote; once it has closed, the connection ends
 * when every reply has left (io_conn_finish). */
static void smtpd_flush(struct smtpd_session *ss)
{
	if (ss->eng.out.len) {
		io_conn_write(ss->conn, ss->eng.out.data, ss->eng.out.len);
		buf_reset(&ss->eng.out);
	}
	if (smtp_server_is_closed(&ss->eng) && !ss->closing) {
		ss->closing = true;
		io_conn_finish(ss->conn, "quit");
	}
}

static bool smtpd_over_limits(struct smtpd_session *ss);

/* io feeds input (conn.c holds it back while our replies are not read):
 * the engine takes what it can; its replies go out at once, which is all
 * PIPELINING needs (they leave together when the loop writes). */
static size_t smtpd_feed_cb(void *arg, const char *p, size_t n)
{
	struct smtpd_session *ss = arg;
	if (!ss->greeted || ss->closing || ss->dead)
		return 0; /* before the greeting, input stays for the early-talker check */
	if (ss->in && intake_busy(ss->in))
		return 0; /* the disk is behind: smtpd_intake_resume_cb kicks us */
	if (smtpd_over_limits(ss))
		return 0;
	size_t k = smtp_server_feed(&ss->eng, p, n);
	if (smtp_server_in_content(&ss->eng)) {
		if (ss->data_started == 0)
			ss->data_started = time(NULL);
		ss->data_octets += k;
	} else {
		ss->data_started = 0;
		ss->data_octets = 0;
	}
	smtpd_flush(ss);
	return k;
}

/* Close with this reply once it has left. */
static void smtpd_close(struct smtpd_session *ss, enum smtp_reply_id id, const char *why)
{
	smtp_server_close(&ss->eng, id);
	ss->closing = true;
	io_conn_write(ss->conn, ss->eng.out.data, ss->eng.out.len);
	buf_reset(&ss->eng.out);
	io_conn_finish(ss->conn, why);
}

/*
 * The limits on time, checked whenever input comes: a session lasts at
 * most server_session_lifetime() (checked between commands, so nothing
 * is cut short), and content arrives at SMTPD_MIN_DATA_RATE at least, on
 * top of command-timeout (Postfix's smtpd_min_data_rate): a client that
 * trickles a message one octet at a time is dropped, a slow link is not.
 */
static bool smtpd_over_limits(struct smtpd_session *ss)
{
	time_t now = time(NULL);
	if (smtp_server_is_idle(&ss->eng) && now - ss->base.started > (time_t)server_session_lifetime(ss->base.srv)) {
		log_msg("%s limit=lifetime client=[%s] seconds=%lld", ss->base.sid, ss->base.slot.addr,
		        (long long)(now - ss->base.started));
		smtpd_close(ss, SMTP_R_SESSION_TOO_LONG, "lifetime");
		return true;
	}
	if (ss->data_started && smtp_server_in_content(&ss->eng)) {
		uint64_t allowed = ss->base.srv->conf->command_timeout + ss->data_octets / SMTPD_MIN_DATA_RATE;
		if ((uint64_t)(now - ss->data_started) > allowed) {
			log_msg("%s limit=data-rate client=[%s] octets=%llu seconds=%lld", ss->base.sid, ss->base.slot.addr,
			        (unsigned long long)ss->data_octets, (long long)(now - ss->data_started));
			smtpd_close(ss, SMTP_R_DATA_TOO_SLOW, "data-rate");
			return true;
		}
	}
	return false;
}

/* An asynchronous step ended: send its reply, take the waiting input. */
static void smtpd_resume(struct smtpd_session *ss)
{
	smtpd_flush(ss);
	io_conn_kick(ss->conn);
}

/* The intake caught up with a large message: read on. */
static void smtpd_intake_resume_cb(void *arg)
{
	struct smtpd_session *ss = arg;
	io_conn_kick(ss->conn);
}

static void smtpd_closed_cb(void *arg, const char *why)
{
	smtpd_end(arg, why);
}

/* No command for command-timeout: 421, then close once it has left (RFC
 * 5321 4.5.3.2.7). A session waiting on us is not idle. */
static void smtpd_idle_cb(void *arg)
{
	struct smtpd_session *ss = arg;
	if (ss->committing || ss->authing) {
		io_conn_pause_read(ss->conn, false);
		return;
	}
	log_msg("%s timeout client=[%s]", ss->base.sid, ss->base.slot.addr);
	smtpd_close(ss, SMTP_R_TIMEOUT, "timeout");
}

/* AUTH is offered under TLS, or on loopback, and only when users exist. */
static bool smtpd_auth_available(const struct smtpd_session *ss)
{
	return ss->base.srv->conf->nusers > 0 && (ss->base.slot.loopback || io_conn_is_tls(ss->conn));
}

static void smtpd_tls_ready_cb(void *arg)
{
	struct smtpd_session *ss = arg;
	log_msg("%s tls version=%s cipher=%s", ss->base.sid, io_conn_tls_version(ss->conn), io_conn_tls_cipher(ss->conn));
	bool starttls = smtp_server_wants_tls(&ss->eng);
	smtp_server_tls_done(&ss->eng, smtpd_auth_available(ss));
	if (!starttls)
		smtp_server_greet(&ss->eng); /* implicit TLS: greet once the handshake is done */
	smtpd_resume(ss);
}

static const struct io_conn_handlers smtpd_conn_handlers = {
	.feed = smtpd_feed_cb,
	.idle = smtpd_idle_cb,
	.closed = smtpd_closed_cb,
	.tls_ready = smtpd_tls_ready_cb,
};

/* ---- engine operations ---- */

/* Does the authenticated user own this sender address: itself, or an
 * alias whose targets include it (RFC 6409 6.1 lets the MSA enforce it). */
static bool smtpd_sender_owned(const struct smtpd_session *ss, const struct smtp_addr *from)
{
	if (from->is_null)
		return false;
	char addr[SMTP_PATH_MAX + 8];
	if (smtp_addr_format(from, addr, sizeof addr) < 0)
		return false;
	if (strcasecmp(addr, ss->eng.auth_user) == 0)
		return true;
	const struct conf_alias *a = conf_find_alias(ss->base.srv->conf, addr);
	for (size_t i = 0; a && i < a->ntargets; i++)
		if (strcasecmp(a->targets[i], ss->eng.auth_user) == 0)
			return true;
	return false;
}

static enum smtp_reply_id smtpd_op_mail(void *ctx, const struct smtp_addr *from, const struct smtp_mail_params *p)
{
	struct smtpd_session *ss = ctx;
	(void)p;
	/* CONTRACT.md "Free space": no new message while the disk is low. */
	if (server_storage_low(ss->base.srv))
		return SMTP_R_STORAGE_LOW;
	if (ss->eng.authenticated && !smtpd_sender_owned(ss, from))
		return SMTP_R_SENDER_NOT_OWNED;
	return SMTP_R_MAIL_OK;
}

static void smtpd_auth_done_cb(void *arg, enum auth_result r)
{
	struct smtpd_session *ss = arg;
	ss->authing = false;
	if (ss->dead) {
		smtpd_free(ss);
		return;
	}
	if (r == AUTH_OK) {
		char user[LOG_VALUE_MAX];
		log_msg("%s auth user=%s client=[%s]", ss->base.sid, log_value(user, sizeof user, ss->eng.auth_user),
		        ss->base.slot.addr);
	}
	smtp_server_auth_done(&ss->eng, r == AUTH_OK, r == AUTH_THROTTLED ? SMTP_R_AUTH_THROTTLED : SMTP_R_AUTH_FAILED);
	smtpd_resume(ss);
}

static void smtpd_op_auth_check(void *ctx, const char *user, const char *pass)
{
	struct smtpd_session *ss = ctx;
	ss->authing = true;
	auth_check(ss->base.srv, &ss->base.slot, user, pass, smtpd_auth_done_cb, ss);
}

/* RFC 6409 8: what a submission server may add to a message lacking it. */
static void smtpd_op_missing_headers(void *ctx, unsigned have, struct buf *out)
{
	struct smtpd_session *ss = ctx;
	time_t now = time(NULL);
	if (!(have & SMTP_HDR_DATE)) {
		char date[64];
		mail_header_date(now, date, sizeof date);
		buf_printf(out, "Date: %s\n", date);
	}
	if (!(have & SMTP_HDR_MESSAGE_ID))
		buf_printf(out, "Message-ID: <%s.%08x@%s>\n", ss->qid, arc4random(), ss->base.srv->conf->hostname);
	if (!(have & SMTP_HDR_FROM) && ss->sender[0])
		buf_printf(out, "From: <%s>\n", ss->sender);
}

static enum smtp_reply_id smtpd_op_rcpt(void *ctx, const struct smtp_addr *to)
{
	struct smtpd_session *ss = ctx;
	size_t before = ss->rcpts.n;
	enum smtp_reply_id r = recipient_resolve(ss->base.srv->conf, &ss->base.srv->srs, time(NULL), to,
	                                         ss->eng.authenticated, &ss->rcpts);
	if (r != SMTP_R_RCPT_OK)
		return r;
	char orcpt[SMTP_PATH_MAX + 8];
	if (smtp_addr_format(to, orcpt, sizeof orcpt) < 0)
		orcpt[0] = '\0';
	/* Keep orcpts aligned with rcpts: one original per final address. */
	for (size_t i = before; i < ss->rcpts.n; i++) {
		char **na = realloc(ss->orcpts.addrs, (ss->orcpts.n + 1) * sizeof *na);
		if (na == NULL)
			return SMTP_R_LOCAL_ERROR;
		ss->orcpts.addrs = na;
		ss->orcpts.addrs[ss->orcpts.n++] = strdup(orcpt);
	}
	return SMTP_R_RCPT_OK;
}

static const char *smtpd_with(const struct smtpd_session *ss)
{
	/* RFC 3848 protocol names; RFC 6531 3.7.3 for UTF8SMTP. */
	bool tls = io_conn_is_tls(ss->conn), auth = ss->eng.authenticated;
	if (ss->eng.mail.smtputf8)
		return tls ? (auth ? "UTF8SMTPSA" : "UTF8SMTPS") : (auth ? "UTF8SMTPA" : "UTF8SMTP");
	if (!ss->eng.esmtp)
		return "SMTP";
	return tls ? (auth ? "ESMTPSA" : "ESMTPS") : (auth ? "ESMTPA" : "ESMTP");
}

/*
 * What a message gets besides storage: mail from outside (the smtp role,
 * not authenticated) is judged by SPF, DKIM and DMARC and loses any
 * Authentication-Results field that claims to be ours; a user's mail is
 * DKIM-signed when its From: domain has a key. 0, or -1 out of memory.
 */
static int smtpd_txn_auth_begin(struct smtpd_session *ss)
{
	struct server *srv = ss->base.srv;
	const struct conf *c = srv->conf;
	bool user = ss->eng.authenticated;
	if (ss->base.svc->role == ROLE_SMTP && !user && c->inbound_auth) {
		struct msgauth_request rq = {
			.ip = ss->base.slot.addr,
			.helo = ss->eng.helo[0] ? ss->eng.helo : NULL,
			.mail_from = ss->sender,
			.authserv_id = c->hostname,
			.enforce = c->dmarc_enforce,
			.now = (int64_t)ss->arrival,
		};
		if ((ss->ma = msgauth_start(srv->loop, srv->dns, &rq)) == NULL)
			return -1;
		ar_strip_init(&ss->strip, c->hostname);
		ss->stripping = true;
	}
	if (user && signer_count(srv->signer) && (ss->sign = msgsign_new(srv->signer, (int64_t)ss->arrival, NULL)) == NULL)
		return -1;
	return 0;
}

static enum smtp_reply_id smtpd_op_data_begin(void *ctx)
{
	struct smtpd_session *ss = ctx;
	struct queue_env env;
	memset(&env, 0, sizeof env);
	queue_new_id(env.id);
	env.arrival = ss->arrival = time(NULL);
	if (smtp_addr_format(&ss->eng.from, ss->sender, sizeof ss->sender) < 0)
		ss->sender[0] = '\0';
	env.sender = ss->sender;
	env.helo = ss->eng.helo;
	env.client = ss->base.slot.addr;
	env.auth_user = ss->eng.authenticated ? ss->eng.auth_user : NULL;
	env.smtputf8 = ss->eng.mail.smtputf8;
	env.eightbit = ss->eng.mail.body == SMTP_BODY_8BITMIME || ss->eng.mail.body == SMTP_BODY_BINARYMIME;
	struct queue_rcpt *rv = calloc(ss->rcpts.n, sizeof *rv);
	if (rv == NULL)
		return SMTP_R_LOCAL_ERROR;
	for (size_t i = 0; i < ss->rcpts.n; i++) {
		rv[i].addr = ss->rcpts.addrs[i];
		rv[i].orcpt = ss->orcpts.addrs[i] ? ss->orcpts.addrs[i] : ss->rcpts.addrs[i];
	}
	env.rcpts = rv;
	env.nrcpts = ss->rcpts.n;
	/* No I/O here: the queue file is made by the intake's first job. */
	ss->in = intake_open(ss->base.srv->queue, ss->base.srv->commit_pool, &env, smtpd_intake_resume_cb, ss);
	free(rv);
	if (ss->in == NULL) {
		log_msg("%s error=\"out of memory\"", ss->base.sid);
		return SMTP_R_LOCAL_ERROR;
	}
	memcpy(ss->qid, env.id, sizeof ss->qid);
	/* Our trace field goes on top of the content (RFC 5321 4.4). */
	struct buf rh;
	buf_init(&rh, 4096);
	struct mail_received r = {
		.helo = ss->eng.helo,
		.rdns = ss->rdns[0] ? ss->rdns : NULL,
		.addr = ss->base.slot.addr,
		.by = ss->base.srv->conf->hostname,
		.with = smtpd_with(ss),
		.id = ss->qid,
		.for_rcpt = ss->orcpts.n == 1 ? ss->orcpts.addrs[0] : NULL,
		.when = ss->arrival,
	};
	char tlsinfo[128];
	if (io_conn_is_tls(ss->conn)) {
		snprintf(tlsinfo, sizeof tlsinfo, "%s with cipher %s", io_conn_tls_version(ss->conn),
		         io_conn_tls_cipher(ss->conn));
		r.tls = tlsinfo;
	}
	int rc = mail_header_received(&rh, &r) < 0 ? -1 : intake_write(ss->in, rh.data, rh.len);
	buf_free(&rh);
	if (rc < 0 || smtpd_txn_auth_begin(ss) < 0) {
		intake_abort(ss->in);
		ss->in = NULL;
		smtpd_txn_auth_free(ss);
		return SMTP_R_LOCAL_ERROR;
	}
	return SMTP_R_OK;
}

static int smtpd_op_data_write(void *ctx, const char *p, size_t n)
{
	struct smtpd_session *ss = ctx;
	if (ss->in == NULL)
		return -1;
	if (ss->ma)
		msgauth_feed(ss->ma, p, n); /* as it came: signatures are judged on what the signer sent */
	if (ss->sign)
		msgsign_feed(ss->sign, p, n);
	if (ss->stripping) {
		buf_reset(&ss->scratch);
		if (ar_strip_feed(&ss->strip, p, n, &ss->scratch) < 0) {
			ss->write_failed = true;
			return -1;
		}
		p = ss->scratch.data;
		n = ss->scratch.len;
	}
	if (n && intake_write(ss->in, p, n) < 0) {
		if (!ss->write_failed)
			log_msg("%s error=\"queue write failed: %s\"", ss->base.sid, strerror(errno));
		ss->write_failed = true;
		return -1;
	}
	return 0;
}

static void smtpd_commit_done(void *arg, int rc, int err)
{
	struct smtpd_session *ss = arg;
	ss->committing = false;
	smtpd_txn_auth_free(ss);
	ss->commit_rc = rc;
	ss->commit_errno = err;
	if (ss->commit_rc == 0) {
		char from[LOG_VALUE_MAX];
		log_msg("%s accepted from=%s size=%llu nrcpt=%u client=[%s] session=%s", ss->qid,
		        log_addr(from, sizeof from, ss->sender), (unsigned long long)ss->size, ss->nrcpt_msg, ss->base.slot.addr,
		        ss->base.sid);
		scheduler_add(ss->base.srv->sched, ss->qid, 0);
	} else {
		log_msg("%s error=\"commit failed: %s\" session=%s", ss->qid, strerror(ss->commit_errno), ss->base.sid);
	}
	if (ss->dead) {
		smtpd_free(ss);
		return;
	}
	enum smtp_reply_id r = SMTP_R_OK;
	if (ss->commit_rc < 0)
		r = (ss->commit_errno == ENOSPC || ss->commit_errno == EDQUOT) ? SMTP_R_STORAGE : SMTP_R_LOCAL_ERROR;
	smtp_server_commit_done(&ss->eng, r, ss->qid);
	smtpd_resume(ss);
}

/* The verdict of the inbound checks: refuse, or store with its
 * Authentication-Results field (and into Junk when DMARC says so). */
static void smtpd_judged_cb(void *arg, const struct msgauth_verdict *v)
{
	struct smtpd_session *ss = arg;
	struct intake *in = ss->judged;
	ss->judged = NULL;
	struct msgauth *ma = ss->ma; /* v lives in it: freed once v is used */
	ss->ma = NULL;
	char dom[LOG_VALUE_MAX];
	log_value(dom, sizeof dom, v->from_domain[0] ? v->from_domain : "-");
	enum smtp_reply_id refuse = v->action == MSGAUTH_REJECT      ? SMTP_R_DMARC_REJECT
	                            : v->action == MSGAUTH_AMBIGUOUS ? SMTP_R_FROM_AMBIGUOUS
	                            : v->action == MSGAUTH_TEMPFAIL  ? SMTP_R_AUTH_TEMPFAIL
	                                                             : SMTP_R_OK;
	log_msg("%s auth %s from_domain=%s action=%s", ss->qid, v->summary, dom,
	        refuse != SMTP_R_OK ? "refuse" : v->action == MSGAUTH_JUNK ? "junk" : "accept");
	if (ss->dead || refuse != SMTP_R_OK) {
		intake_abort(in);
		msgauth_free(ma);
		ss->committing = false;
		if (ss->dead) {
			smtpd_free(ss);
			return;
		}
		smtpd_txn_auth_free(ss);
		smtp_server_commit_done(&ss->eng, refuse, ss->qid);
		smtpd_resume(ss);
		return;
	}
	intake_set_tail(in, v->field, ss->sigs.len ? ss->sigs.data : NULL, v->action == MSGAUTH_JUNK);
	msgauth_free(ma);
	intake_commit(in, smtpd_commit_done, ss);
}

static void smtpd_op_data_commit(void *ctx, const struct smtp_data *d)
{
	struct smtpd_session *ss = ctx;
	(void)d;
	if (ss->stripping) {
		buf_reset(&ss->scratch);
		if (ar_strip_finish(&ss->strip, &ss->scratch) < 0 ||
		    (ss->scratch.len && intake_write(ss->in, ss->scratch.data, ss->scratch.len) < 0))
			ss->write_failed = true; /* the intake's error is sticky: the commit reports it */
	}
	if (ss->sign) {
		char err[128];
		if (msgsign_finish(ss->sign, &ss->sigs, err, sizeof err) < 0) {
			buf_reset(&ss->sigs);
			log_msg("%s dkim=unsigned error=\"%s\"", ss->qid, err);
		} else if (ss->sigs.len) {
			char dom[LOG_VALUE_MAX];
			log_msg("%s dkim=signed d=%s", ss->qid, log_value(dom, sizeof dom, msgsign_domain(ss->sign)));
		}
	}
	ss->size = intake_length(ss->in);
	ss->nrcpt_msg = (unsigned)ss->rcpts.n;
	ss->committing = true;
	struct intake *in = ss->in;
	ss->in = NULL; /* the intake frees itself once it has answered */
	if (ss->ma) {
		ss->judged = in;
		msgauth_finish(ss->ma, smtpd_judged_cb, ss);
		return;
	}
	if (ss->sigs.len)
		intake_set_tail(in, NULL, ss->sigs.data, false);
	intake_commit(in, smtpd_commit_done, ss);
}

static void smtpd_op_data_abort(void *ctx)
{
	struct smtpd_session *ss = ctx;
	intake_abort(ss->in);
	ss->in = NULL;
	ss->write_failed = false;
	smtpd_txn_auth_free(ss);
}

static void smtpd_op_reset(void *ctx)
{
	struct smtpd_session *ss = ctx;
	recipient_list_free(&ss->rcpts);
	recipient_list_free(&ss->orcpts);
}

static void smtpd_op_starttls(void *ctx)
{
	struct smtpd_session *ss = ctx;
	/* The 220 must leave in plaintext before the TLS filter goes on. */
	smtpd_flush(ss);
	if (io_conn_start_tls(ss->conn, ss->base.srv->tls) < 0) {
		/* smtpd_feed_cb closes the session once the engine returns. */
		log_msg("%s error=\"cannot start TLS\"", ss->base.sid);
		smtp_server_close(&ss->eng, SMTP_R_TLS_UNAVAILABLE);
	}
}

static void smtpd_op_refused(void *ctx, const char *cmd, size_t cmdlen, const struct smtp_reply *r)
{
	struct smtpd_session *ss = ctx;
	struct buf b;
	buf_init(&b, LOG_VALUE_MAX);
	log_put_value(&b, cmd, cmdlen, 200);
	log_msg("%s refused client=[%s] reply=\"%d %s %s\" command=%s", ss->base.sid, ss->base.slot.addr, r->code,
	        r->status ? r->status : "", r->text, b.data ? b.data : "\"\"");
	buf_free(&b);
}

static const struct smtp_server_ops smtpd_ops = {
	.mail = smtpd_op_mail,
	.rcpt = smtpd_op_rcpt,
	.data_begin = smtpd_op_data_begin,
	.data_write = smtpd_op_data_write,
	.data_commit = smtpd_op_data_commit,
	.data_abort = smtpd_op_data_abort,
	.reset = smtpd_op_reset,
	.starttls = smtpd_op_starttls,
	.auth_check = smtpd_op_auth_check,
	.missing_headers = smtpd_op_missing_headers,
	.refused = smtpd_op_refused,
};

static void smtpd_ptr_cb(void *arg, enum io_dns_status st, const char *name)
{
	struct smtpd_ptr *p = arg;
	if (p->ss) {
		p->ss->ptr = NULL;
		if (st == IO_DNS_OK)
			snprintf(p->ss->rdns, sizeof p->ss->rdns, "%s", name);
	}
	free(p);
}

/* The greeting, or the refusal of a client that talked first (RFC 5321
 * 4.3.1 makes the client wait for the 220). */
static void smtpd_greet_timer_cb(void *arg)
{
	struct smtpd_session *ss = arg;
	if (ss->greeted || ss->closing || ss->dead)
		return;
	ss->greeted = true;
	if (io_fd_pending(ss->fd) > 0 || io_conn_input_len(ss->conn) > 0) {
		log_msg("%s refused client=[%s] reason=\"input before greeting\"", ss->base.sid, ss->base.slot.addr);
		smtp_server_close(&ss->eng, SMTP_R_EARLY_TALKER);
		smtpd_flush(ss);
		return;
	}
	smtp_server_greet(&ss->eng);
	smtpd_resume(ss);
}

/* The one line a connection refused before any session exists gets. */
static void smtpd_refusal(enum server_admit why, const char *host, char *out, size_t outlen)
{
	enum smtp_reply_id id = why == SERVER_STOPPING  ? SMTP_R_SHUTDOWN
	                        : why == SERVER_NET_FULL ? SMTP_R_TOO_MANY_FROM_NET
	                                                 : SMTP_R_TOO_MANY_SESSIONS;
	smtp_reply_line(id, host, out, outlen);
}

static void smtpd_start(struct service *svc, int fd, const struct sockaddr *sa, const struct server_slot *slot)
{
	struct server *srv = svc->srv;
	struct smtpd_session *ss = service_session_new(svc, sizeof *ss, fd, slot);
	if (ss == NULL)
		return;
	enum conf_role role = svc->role;
	bool implicit_tls = role == ROLE_SUBMISSIONS;
	struct smtp_server_config cfg = {
		.hostname = srv->conf->hostname,
		.max_size = srv->conf->max_message_size,
		.tls_available = srv->tls != NULL,
		.tls_active = implicit_tls,
		.auth_available = srv->conf->nusers > 0 && slot->loopback,
		.auth_required = role != ROLE_SMTP,
		.fix_headers = role != ROLE_SMTP,
	};
	smtp_server_init(&ss->eng, &cfg, &smtpd_ops, ss);
	buf_init(&ss->scratch, 0);
	buf_init(&ss->sigs, 0);
	/* An early talker sent before our greeting: refuse it (RFC 5321 4.3.1
	 * makes the client wait for the greeting). */
	int early = implicit_tls ? 0 : io_fd_pending(fd);
	ss->fd = fd;
	ss->conn = io_conn_new(srv->loop, fd, &smtpd_conn_handlers, ss);
	if (ss->conn == NULL) {
		close(fd);
		ss->dead = true;
		smtpd_free(ss);
		return;
	}
	io_conn_set_timeout(ss->conn, srv->conf->command_timeout, srv->conf->command_timeout);
	log_msg("%s connect from [%s] role=%s", ss->base.sid, ss->base.slot.addr, conf_role_name(role));
	/* The reverse name is for the Received field only: whatever has
	 * arrived by DATA is used, nothing waits for it. */
	if (slot->loopback) {
		snprintf(ss->rdns, sizeof ss->rdns, "localhost");
	} else if (srv->dns && (ss->ptr = calloc(1, sizeof *ss->ptr)) != NULL) {
		ss->ptr->ss = ss;
		io_dns_ptr(srv->dns, sa, smtpd_ptr_cb, ss->ptr);
	}
	if (implicit_tls) {
		ss->greeted = true; /* the greeting follows the handshake */
		if (srv->tls == NULL || io_conn_start_tls(ss->conn, srv->tls) < 0)
			smtpd_end(ss, "tls unavailable");
		return;
	}
	if (early > 0) {
		smtpd_greet_timer_cb(ss);
		return;
	}
	/* Greet on the next loop turn, so that a client sending at once
	 * (before it could have read a 220) is caught doing so. */
	ss->greet_timer = io_timer_new(srv->loop, smtpd_greet_timer_cb, ss);
	if (ss->greet_timer == NULL) {
		smtpd_greet_timer_cb(ss);
		return;
	}
	io_timer_start(ss->greet_timer, SMTPD_GREET_PAUSE_MS);
}

static void smtpd_shutdown(struct service *svc)
{
	struct service_session *it = svc->sessions;
	while (it) {
		struct service_session *next = it->next;
		struct smtpd_session *ss = (struct smtpd_session *)it;
		if (!ss->committing && !ss->authing && !ss->dead && !ss->closing) {
			smtp_server_close(&ss->eng, SMTP_R_SHUTDOWN);
			smtpd_flush(ss);
		}
		it = next;
	}
}

const struct service_kind smtpd_kind_smtp = {
	.name = "smtp", .id_prefix = 'S', .refusal = smtpd_refusal, .start = smtpd_start, .shutdown = smtpd_shutdown,
};
const struct service_kind smtpd_kind_submission = {
	.name = "submission", .id_prefix = 'S', .refusal = smtpd_refusal, .start = smtpd_start,
	.shutdown = smtpd_shutdown,
};
/* Implicit TLS: a refused client expects a handshake, not a line. */
const struct service_kind smtpd_kind_submissions = {
	.name = "submissions", .id_prefix = 'S', .refusal = NULL, .start = smtpd_start, .shutdown = smtpd_shutdown,
};
