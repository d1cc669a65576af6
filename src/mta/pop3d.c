/*
 * pop3d — POP3 sessions: engine + connection + password check + Maildir.
 * See pop3d.h. RFC 1939 (the protocol and its autologout timer, section
 * 3), RFC 2595 (STLS), RFC 8314 (implicit TLS on pop3s).
 *
 * Life of a session: accept → limits → greeting (after the handshake on
 * pop3s) → feed input to the engine, write its replies whenever it has
 * consumed all input or waits → on QUIT or an error, close once the
 * output has drained.
 *
 * Asynchronous steps, each with the session's `busy` flag set, because a
 * job's callback still refers to the session: the password check
 * (mta/auth, on the commit pool), the scan of the Maildir at login and
 * the deletions of the UPDATE state (mta/mailbox, on the delivery pool:
 * it is Maildir work). A session whose client vanishes meanwhile stays
 * allocated (`dead`) until the job completes. The deletions run even
 * then: once QUIT was received the UPDATE state has begun (RFC 1939 6);
 * a connection dropped before QUIT deletes nothing.
 *
 * RETR and TOP stream the file: pieces of 64 KiB read on the read pool
 * (io/reader), converted by pop3_server_stuff() and written by io's
 * produce callback, which io calls only while the client reads what was
 * sent (the output high-water mark of io/conn.c). Client input is not
 * read meanwhile (so the idle timer does not run while we send; the
 * write timeout does).
 *
 * The mailbox lock (mailbox_lock) is taken once the password is right
 * and released as soon as the session stops using the maildrop, after
 * the deletions and before the last reply leaves, so that a client that
 * reconnects at once finds it free.
 */
#include "mta/pop3d.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "io/io.h"
#include "io/reader.h"
#include "mta/auth.h"
#include "mta/mailbox.h"
#include "mta/mailstore.h"
#include "mta/server.h"
#include "mta/service.h"
#include "proto/pop3_server.h"


struct pop3d_session {
	struct service_session base; /* first: svc->sessions lists it */
	struct io_conn *conn;          /* owned */
	struct pop3_server eng;        /* owned */
	char user[POP3_USER_MAX + 1];  /* the login name as given, then the user's address */
	bool busy;                     /* a job (auth, scan, expunge) refers to this session */
	bool dead;                     /* the connection is gone */
	bool closing;                  /* close when output drains */
	bool locked;                   /* holds mailbox_lock(mb.dir) */
	bool greeted;                  /* the greeting was sent (pop3s: after the handshake) */
	struct mailbox mb;             /* owned; mb.msgs is the engine's maildrop */
	long expunged;                 /* result of the expunge job */
	int job_errno;
	int scan_rc;
	/* RETR/TOP in progress */
	struct io_reader *reader;      /* the message file, read on the read pool (owned) */
	struct pop3_stuff stuff;
	struct buf chunk;              /* converted output of one read (owned) */
	uint64_t sent;
};

/* The maildrop is no longer used: let the next session have it. */
static void pop3d_release(struct pop3d_session *ps)
{
	if (ps->busy || !ps->locked)
		return;
	mailbox_unlock(&ps->base.srv->mailbox_locks, ps->mb.dir);
	ps->locked = false;
}

static void pop3d_free(struct pop3d_session *ps)
{
	io_reader_free(ps->reader);
	buf_free(&ps->chunk);
	pop3_server_free(&ps->eng);
	pop3d_release(ps);
	mailbox_free(&ps->mb);
	explicit_bzero(ps->user, sizeof ps->user);
	io_conn_free(ps->conn);
	service_session_remove(&ps->base);
	free(ps);
}

/* The connection ended (or must): free now unless a job still runs. */
static void pop3d_end(struct pop3d_session *ps, const char *why)
{
	if (!ps->dead) {
		char w[LOG_VALUE_MAX];
		log_msg("%s disconnect from [%s] reason=%s", ps->base.sid, ps->base.slot.addr, log_value(w, sizeof w, why));
	}
	ps->dead = true;
	io_reader_free(ps->reader);
	ps->reader = NULL;
	if (ps->busy) {
		io_conn_pause_read(ps->conn, true);
		return;
	}
	pop3d_free(ps);
}

/* Send what the engine wrote; once it has closed, the connection ends
 * when every reply has left (io_conn_finish). */
static void pop3d_flush(struct pop3d_session *ps)
{
	if (ps->eng.out.len) {
		io_conn_write(ps->conn, ps->eng.out.data, ps->eng.out.len);
		buf_reset(&ps->eng.out);
	}
	if (pop3_server_is_closed(&ps->eng) && !ps->closing) {
		ps->closing = true;
		pop3d_release(ps);
		io_conn_finish(ps->conn, "closed");
	}
}

/* The message is sent (ok) or cannot be. */
static void pop3d_send_end(struct pop3d_session *ps, bool ok)
{
	io_reader_free(ps->reader);
	ps->reader = NULL;
	buf_reset(&ps->chunk);
	pop3_server_retrieve_done(&ps->eng, ok);
	io_conn_pause_read(ps->conn, false);
	pop3d_flush(ps);
}

/* The next piece of the message being sent, converted and written. True
 * while there is more right now; false while the reader is still reading
 * (pop3d_reader_ready_cb kicks us then) or when the transfer ended. */
static bool pop3d_pump(struct pop3d_session *ps)
{
	const char *p;
	size_t n;
	int r = io_reader_peek(ps->reader, &p, &n);
	if (r == 0)
		return false;
	if (r < 0) {
		log_msg("%s error=\"cannot read message: %s\"", ps->base.sid, strerror(errno));
		pop3d_send_end(ps, false);
		return false;
	}
	buf_reset(&ps->chunk);
	bool end = n == 0;
	if (n > 0) {
		long used = pop3_server_stuff(&ps->stuff, p, n, &ps->chunk);
		if (used < 0) {
			pop3d_send_end(ps, false);
			return false;
		}
		io_reader_consume(ps->reader, (size_t)used);
		end = ps->stuff.done; /* TOP has sent its lines */
	}
	if (end && pop3_server_stuff_end(&ps->stuff, &ps->chunk) < 0) {
		pop3d_send_end(ps, false);
		return false;
	}
	if (ps->chunk.len && io_conn_write(ps->conn, ps->chunk.data, ps->chunk.len) < 0) {
		pop3d_send_end(ps, false);
		return false;
	}
	ps->sent += ps->chunk.len;
	if (end)
		pop3d_send_end(ps, true);
	return true; /* more now, or commands pipelined behind RETR */
}

static void pop3d_reader_ready_cb(void *arg)
{
	struct pop3d_session *ps = arg;
	io_conn_kick(ps->conn);
}

/* io's produce: the long answers, a message or a listing, part by part
 * while the client reads them. */
static bool pop3d_produce_cb(void *arg)
{
	struct pop3d_session *ps = arg;
	if (ps->dead || ps->closing)
		return false;
	if (pop3_server_is_sending(&ps->eng))
		return pop3d_pump(ps);
	if (!pop3_server_produce(&ps->eng))
		return false;
	pop3d_flush(ps);
	return true;
}

/* io's feed: commands to the engine, its replies out. */
static size_t pop3d_feed_cb(void *arg, const char *p, size_t n)
{
	struct pop3d_session *ps = arg;
	if (ps->dead || ps->closing)
		return 0;
	/* The session lifetime (server.h), between commands: no UPDATE. */
	if (pop3_server_is_idle(&ps->eng) && time(NULL) - ps->base.started > (time_t)server_session_lifetime(ps->base.srv)) {
		log_msg("%s limit=lifetime client=[%s]", ps->base.sid, ps->base.slot.addr);
		pop3_server_abort(&ps->eng, "[SYS/TEMP] session lasted too long");
		pop3d_flush(ps);
		return 0;
	}
	size_t k = pop3_server_feed(&ps->eng, p, n);
	pop3d_flush(ps);
	return k;
}

/* An asynchronous step ended: send its reply, take the waiting input. */
static void pop3d_resume(struct pop3d_session *ps)
{
	pop3d_flush(ps);
	io_conn_kick(ps->conn);
}

/* RFC 1939 3: the autologout timer; no UPDATE. One line, then close once
 * it has left (the write timeout still applies). */
static void pop3d_idle_cb(void *arg)
{
	struct pop3d_session *ps = arg;
	if (ps->busy) {
		io_conn_pause_read(ps->conn, false); /* waiting on us is not idle */
		return;
	}
	if (!ps->greeted || ps->closing || ps->dead || !pop3_server_is_idle(&ps->eng)) {
		pop3d_end(ps, "timeout");
		return;
	}
	log_msg("%s autologout client=[%s]", ps->base.sid, ps->base.slot.addr);
	pop3_server_abort(&ps->eng, "autologout: idle for too long");
	pop3d_flush(ps);
}

static void pop3d_closed_cb(void *arg, const char *why)
{
	pop3d_end(arg, why);
}

static void pop3d_tls_ready_cb(void *arg)
{
	struct pop3d_session *ps = arg;
	log_msg("%s tls version=%s cipher=%s", ps->base.sid, io_conn_tls_version(ps->conn), io_conn_tls_cipher(ps->conn));
	if (pop3_server_wants_tls(&ps->eng))
		pop3_server_tls_done(&ps->eng);
	else if (!ps->greeted)
		pop3_server_greet(&ps->eng); /* implicit TLS: greet once the handshake is done */
	ps->greeted = true;
	pop3d_resume(ps);
}

static const struct io_conn_handlers pop3d_conn_handlers = {
	.feed = pop3d_feed_cb,
	.produce = pop3d_produce_cb,
	.idle = pop3d_idle_cb,
	.closed = pop3d_closed_cb,
	.tls_ready = pop3d_tls_ready_cb,
};

/* ---- login: password, lock, scan ---- */

static void pop3d_user_log(const char *user, struct buf *b)
{
	buf_init(b, LOG_VALUE_MAX);
	log_put_value(b, user, strlen(user), 256);
}

static void pop3d_scan_work(void *arg)
{
	struct pop3d_session *ps = arg;
	ps->scan_rc = mailbox_scan(&ps->mb);
	ps->job_errno = errno;
}

static void pop3d_scan_done(void *arg)
{
	struct pop3d_session *ps = arg;
	ps->busy = false;
	if (ps->dead) {
		pop3d_free(ps);
		return;
	}
	struct buf u;
	pop3d_user_log(ps->user, &u);
	if (ps->scan_rc < 0) {
		char dir[LOG_VALUE_MAX];
		log_msg("%s error=\"cannot read mailbox: %s\" mailbox=%s user=%s", ps->base.sid, strerror(ps->job_errno),
		        log_value(dir, sizeof dir, ps->mb.dir), u.data ? u.data : "\"\"");
		pop3d_release(ps);
		mailbox_free(&ps->mb);
		pop3_server_login_done(&ps->eng, POP3_LOGIN_TEMP, NULL, 0);
	} else {
		log_msg("%s login user=%s client=[%s] tls=%s messages=%zu new=%u", ps->base.sid, u.data ? u.data : "",
		        ps->base.slot.addr, io_conn_is_tls(ps->conn) ? "yes" : "no", ps->mb.n, ps->mb.moved);
		pop3_server_login_done(&ps->eng, POP3_LOGIN_OK, ps->mb.msgs, ps->mb.n);
	}
	buf_free(&u);
	pop3d_resume(ps);
}

/* The password was right: lock the user's maildrop and scan it. */
static enum pop3_login_result pop3d_open_mailbox(struct pop3d_session *ps)
{
	const struct conf_user *cu = conf_find_user(ps->base.srv->conf, ps->user);
	char dir[PATH_MAX];
	if (cu == NULL || mailstore_box_of(ps->base.srv->conf->data_dir, cu->address, dir, sizeof dir) < 0) {
		/* Removed by a reload meanwhile, or not a safe directory name. */
		log_msg("%s error=\"no usable mailbox for this user\"", ps->base.sid);
		return POP3_LOGIN_TEMP;
	}
	if (!mailbox_lock(&ps->base.srv->mailbox_locks, dir)) {
		char box[LOG_VALUE_MAX];
		log_msg("%s refused client=[%s] reply=\"-ERR [IN-USE]\" mailbox=%s", ps->base.sid, ps->base.slot.addr,
		        log_value(box, sizeof box, dir));
		return POP3_LOGIN_IN_USE;
	}
	ps->locked = true;
	snprintf(ps->user, sizeof ps->user, "%s", cu->address);
	mailbox_free(&ps->mb);
	ps->mb.dir = strdup(dir);
	if (ps->mb.dir == NULL) {
		mailbox_unlock(&ps->base.srv->mailbox_locks, dir);
		ps->locked = false;
		return POP3_LOGIN_TEMP;
	}
	ps->busy = true;
	io_workers_submit(ps->base.srv->delivery_pool, pop3d_scan_work, pop3d_scan_done, ps);
	return POP3_LOGIN_OK;
}

static void pop3d_auth_done(void *arg, enum auth_result r)
{
	struct pop3d_session *ps = arg;
	ps->busy = false;
	if (ps->dead) {
		pop3d_free(ps);
		return;
	}
	enum pop3_login_result lr = r == AUTH_THROTTLED ? POP3_LOGIN_THROTTLED : POP3_LOGIN_BAD;
	if (r == AUTH_OK) {
		lr = pop3d_open_mailbox(ps);
		if (lr == POP3_LOGIN_OK)
			return; /* pop3d_scan_done answers */
	}
	pop3_server_login_done(&ps->eng, lr, NULL, 0);
	pop3d_resume(ps);
}

static void pop3d_op_login(void *ctx, const char *user, const char *pass)
{
	struct pop3d_session *ps = ctx;
	snprintf(ps->user, sizeof ps->user, "%s", user);
	ps->busy = true;
	auth_check(ps->base.srv, &ps->base.slot, user, pass, pop3d_auth_done, ps);
}

/* ---- the other engine operations ---- */

static int pop3d_op_retrieve(void *ctx, size_t index, long top_lines)
{
	struct pop3d_session *ps = ctx;
	struct io_reader_source src = {.open = mailbox_open_path, .free_arg = free,
	                               .arg = mailbox_msg_path(&ps->mb, index), .len = IO_READER_TO_EOF};
	if (src.arg == NULL ||
	    (ps->reader = io_reader_new(ps->base.srv->read_pool, &src, pop3d_reader_ready_cb, ps)) == NULL) {
		log_msg("%s error=\"cannot read message: %s\"", ps->base.sid, strerror(errno));
		return -1;
	}
	pop3_server_stuff_init(&ps->stuff, top_lines);
	ps->sent = 0;
	/* The client is reading, not idle: no read timeout while the
	 * message goes out (the write timeout still applies). io's produce
	 * sends it. */
	io_conn_pause_read(ps->conn, true);
	return 0;
}

static void pop3d_expunge_work(void *arg)
{
	struct pop3d_session *ps = arg;
	ps->expunged = mailbox_expunge(&ps->mb);
	ps->job_errno = errno;
}

static void pop3d_expunge_done(void *arg)
{
	struct pop3d_session *ps = arg;
	ps->busy = false;
	if (ps->expunged < 0)
		log_msg("%s error=\"deleting messages: %s\"", ps->base.sid, strerror(ps->job_errno));
	else
		log_msg("%s update deleted=%ld", ps->base.sid, ps->expunged);
	pop3d_release(ps);
	if (ps->dead) {
		pop3d_free(ps);
		return;
	}
	pop3_server_update_done(&ps->eng, ps->expunged >= 0);
	pop3d_resume(ps);
}

static void pop3d_op_update(void *ctx, const struct pop3_msg *msgs, size_t n)
{
	struct pop3d_session *ps = ctx;
	(void)msgs; /* the same array as ps->mb.msgs */
	(void)n;
	ps->busy = true;
	io_workers_submit(ps->base.srv->delivery_pool, pop3d_expunge_work, pop3d_expunge_done, ps);
}

static void pop3d_op_starttls(void *ctx)
{
	struct pop3d_session *ps = ctx;
	/* The +OK must leave in plaintext before the TLS filter goes on;
	 * the filter drops plaintext the client pipelined after STLS. */
	if (ps->eng.out.len) {
		io_conn_write(ps->conn, ps->eng.out.data, ps->eng.out.len);
		buf_reset(&ps->eng.out);
	}
	if (ps->base.srv->tls == NULL || io_conn_start_tls(ps->conn, ps->base.srv->tls) < 0) {
		log_msg("%s error=\"cannot start TLS\"", ps->base.sid);
		pop3_server_abort(&ps->eng, NULL);
	}
}

static void pop3d_op_refused(void *ctx, const char *cmd, size_t cmdlen, const char *reply)
{
	struct pop3d_session *ps = ctx;
	struct buf b;
	char r[LOG_VALUE_MAX];
	buf_init(&b, LOG_VALUE_MAX);
	log_put_value(&b, cmd, cmdlen, 200);
	log_msg("%s refused client=[%s] reply=%s command=%s", ps->base.sid, ps->base.slot.addr, log_value(r, sizeof r, reply),
	        b.data ? b.data : "\"\"");
	buf_free(&b);
}

static const struct pop3_server_ops pop3d_ops = {
	.login = pop3d_op_login,
	.retrieve = pop3d_op_retrieve,
	.update = pop3d_op_update,
	.starttls = pop3d_op_starttls,
	.refused = pop3d_op_refused,
};

/* ---- accepting ---- */

/* The one line a connection refused before any session exists gets
 * (not on pop3s, whose client expects a TLS handshake: no refusal()). */
static void pop3d_refusal(enum server_admit why, const char *host, char *out, size_t outlen)
{
	(void)host;
	snprintf(out, outlen, "-ERR [SYS/TEMP] %s\r\n",
	         why == SERVER_STOPPING ? "server shutting down" : "too many connections, try again later");
}

static void pop3d_start(struct service *svc, int fd, const struct sockaddr *sa, const struct server_slot *slot)
{
	(void)sa;
	struct server *srv = svc->srv;
	struct pop3d_session *ps = service_session_new(svc, sizeof *ps, fd, slot);
	if (ps == NULL)
		return;
	buf_init(&ps->chunk, 0);
	bool implicit_tls = svc->role == ROLE_POP3S;
	struct pop3_server_config cfg = {
		.tls_available = srv->tls != NULL && !implicit_tls,
		.tls_active = implicit_tls,
		.loopback = slot->loopback,
	};
	pop3_server_init(&ps->eng, &cfg, &pop3d_ops, ps);
	ps->conn = io_conn_new(srv->loop, fd, &pop3d_conn_handlers, ps);
	if (ps->conn == NULL) {
		close(fd);
		ps->dead = true;
		pop3d_free(ps);
		return;
	}
	io_conn_set_timeout(ps->conn, srv->conf->command_timeout, srv->conf->command_timeout);
	log_msg("%s connect from [%s] role=%s", ps->base.sid, ps->base.slot.addr, conf_role_name(svc->role));
	if (implicit_tls) {
		if (srv->tls == NULL || io_conn_start_tls(ps->conn, srv->tls) < 0)
			pop3d_end(ps, "tls unavailable");
		return;
	}
	pop3_server_greet(&ps->eng);
	ps->greeted = true;
	pop3d_resume(ps);
}

static void pop3d_shutdown(struct service *svc)
{
	struct service_session *it = svc->sessions;
	while (it) {
		struct service_session *next = it->next;
		struct pop3d_session *ps = (struct pop3d_session *)it;
		if (!ps->busy && !ps->dead && !ps->closing) {
			if (pop3_server_is_sending(&ps->eng) || !ps->greeted) {
				/* A message cut short (the client sees the
				 * connection drop and deletes nothing), or a
				 * TLS handshake not yet done. */
				pop3d_end(ps, "shutdown");
			} else {
				pop3_server_abort(&ps->eng, "[SYS/TEMP] server shutting down");
				pop3d_flush(ps);
			}
		}
		it = next;
	}
}

const struct service_kind pop3d_kind_pop3 = {
	.name = "pop3", .id_prefix = 'P', .refusal = pop3d_refusal, .start = pop3d_start, .shutdown = pop3d_shutdown,
};
const struct service_kind pop3d_kind_pop3s = {
	.name = "pop3s", .id_prefix = 'P', .refusal = NULL, .start = pop3d_start, .shutdown = pop3d_shutdown,
};
