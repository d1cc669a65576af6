/*
 * imapd — IMAP sessions: engine + connection + password check + mail
 * store. See imapd.h. RFC 9051 (the protocol, its autologout timer of
 * section 5.4), RFC 8314 (implicit TLS on imaps), RFC 2177 (IDLE).
 *
 * Threads. The engine (proto/imap_server) parses on the loop; every
 * command that touches the store is executed by a job on the IMAP
 * worker pool (imap_server_exec, whose ops call src/store synchronously),
 * while the session's `busy` flag keeps the loop from touching the
 * engine. A job that answers IMAP_EXEC_MORE (a large FETCH) has written
 * IMAP_SERVER_OUT_PAUSE octets: the rest is asked for by io's produce
 * callback once the client has read them, so a session never holds more
 * than that plus io's buffers. Changes of the selected folder reach an
 * IDLE session through io/watch (inotify on its new/ and cur/), and are
 * reported by a job as well.
 *
 * Ending a session closes its folder view and store on the pool too (a
 * view may write the folder's cache): the session stays allocated,
 * `dead`, until that job is done, as POP3 sessions wait for their jobs.
 *
 * Timeouts: before login, command-timeout of silence ends the session; a
 * logged-in session (in IDLE too) is logged out after 30 minutes
 * (CONTRACT.md, RFC 9051 5.4), and the session lifetime of the other
 * roles does not apply to it (clients keep IMAP sessions for days).
 */
#include "mta/imapd.h"

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
#include "io/watch.h"
#include "mta/auth.h"
#include "mta/mailstore.h"
#include "mta/server.h"
#include "mta/service.h"
#include "proto/imap_server.h"
#include "store/store.h"

#define IMAPD_LOGGED_TIMEOUT (30 * 60) /* RFC 9051 5.4: at least 30 minutes */

#define IMAPD_OUT_KEEP 0 /* output buffer an idle session keeps: none (malloc is cheaper than 10,000 idle buffers) */

struct imapd_session {
	struct service_session base; /* first: svc->sessions lists it */
	struct io_conn *conn;          /* owned */
	struct imap_server eng;        /* owned */
	struct store *store;           /* the user's, once logged in (owned) */
	char *user;                    /* the user's address once logged in (owned) */
	char *login_name;              /* the name given, while the check runs (owned) */
	bool busy;                     /* a job (auth, exec, release) refers to this session */
	bool dead;                     /* the connection is gone */
	bool closing;                  /* close when output drains */
	bool greeted;
	bool more;                     /* exec answered MORE: go on once the output drained */
	bool compress_pending;         /* COMPRESS answered: start once the command is consumed */
	bool notify_pending;           /* a change arrived while a job ran */
	bool want_idle, idle_on;       /* IDLE as asked by the engine / as set up */
	char *idle_dirs[2];            /* the selected folder's new/ and cur/ (owned) */
	struct io_watch_sub *watch[2];
	enum imap_exec_result exec_r;
	enum imap_login_result login_r;
};

static void imapd_submit(struct imapd_session *ps);

/* ------------------------------------------------------------ the end */

static void imapd_unwatch(struct imapd_session *ps)
{
	for (int i = 0; i < 2; i++) {
		io_watch_remove(ps->watch[i]);
		ps->watch[i] = NULL;
	}
	ps->idle_on = false;
}

static void imapd_free(struct imapd_session *ps)
{
	imapd_unwatch(ps);
	for (int i = 0; i < 2; i++)
		free(ps->idle_dirs[i]);
	imap_server_free(&ps->eng);
	io_conn_free(ps->conn);
	service_session_remove(&ps->base);
	free(ps->user);
	free(ps->login_name);
	free(ps);
}

/* On the pool: what ending a session may block on. */
static void imapd_release_work(void *arg)
{
	struct imapd_session *ps = arg;
	imap_server_release(&ps->eng);
	store_close(ps->store);
	ps->store = NULL;
}

static void imapd_release_done(void *arg)
{
	imapd_free(arg);
}

/* Free the session, closing its store on the pool first when it has one. */
static void imapd_finish(struct imapd_session *ps)
{
	if (ps->store || ps->eng.box) {
		ps->busy = true;
		io_workers_submit(ps->base.srv->imap_pool, imapd_release_work, imapd_release_done, ps);
		return;
	}
	imapd_free(ps);
}

/* The connection ended (or must): free now unless a job still runs. */
static void imapd_end(struct imapd_session *ps, const char *why)
{
	if (!ps->dead) {
		char w[LOG_VALUE_MAX];
		log_msg("%s disconnect from [%s] reason=%s", ps->base.sid, ps->base.slot.addr, log_value(w, sizeof w, why));
	}
	ps->dead = true;
	imapd_unwatch(ps);
	if (ps->busy) {
		io_conn_pause_read(ps->conn, true);
		return;
	}
	imapd_finish(ps);
}

/* Send what the engine wrote; once it has closed, the connection ends
 * when every reply has left. */
static void imapd_flush(struct imapd_session *ps)
{
	if (ps->eng.out.len) {
		io_conn_write(ps->conn, ps->eng.out.data, ps->eng.out.len);
		buf_reset(&ps->eng.out);
		/* one large answer must not leave an idle session holding its
		 * size (not between the slices of an answer: no churn) */
		if (!ps->more && imap_server_is_idle(&ps->eng))
			buf_trim(&ps->eng.out, IMAPD_OUT_KEEP);
	}
	if (imap_server_is_closed(&ps->eng) && !ps->closing) {
		ps->closing = true;
		imapd_unwatch(ps);
		io_conn_finish(ps->conn, "closed");
	}
}

/* ------------------------------------------------------------ watching */

static void imapd_changed_cb(void *arg)
{
	struct imapd_session *ps = arg;
	if (ps->dead || ps->closing)
		return;
	if (ps->busy) {
		ps->notify_pending = true;
		return;
	}
	imap_server_notify(&ps->eng);
	if (imap_server_wants_exec(&ps->eng))
		imapd_submit(ps);
}

/* Make the watches what the engine asked for (loop thread). */
static void imapd_apply_idle(struct imapd_session *ps)
{
	if (ps->want_idle == ps->idle_on || ps->dead)
		return;
	if (!ps->want_idle) {
		imapd_unwatch(ps);
		return;
	}
	ps->idle_on = true;
	for (int i = 0; i < 2; i++)
		if (ps->idle_dirs[i] && ps->base.srv->watch)
			ps->watch[i] = io_watch_add(ps->base.srv->watch, ps->idle_dirs[i], imapd_changed_cb, ps);
}

/* -------------------------------------------------------------- exec */

static void imapd_exec_work(void *arg)
{
	struct imapd_session *ps = arg;
	ps->exec_r = imap_server_exec(&ps->eng);
}

static void imapd_exec_done(void *arg)
{
	struct imapd_session *ps = arg;
	ps->busy = false;
	if (ps->dead) {
		imapd_finish(ps);
		return;
	}
	imapd_apply_idle(ps);
	if (ps->notify_pending) {
		ps->notify_pending = false;
		imap_server_notify(&ps->eng);
	}
	ps->more = ps->exec_r == IMAP_EXEC_MORE;
	bool had_output = ps->eng.out.len > 0;
	imapd_flush(ps);
	if (ps->closing)
		return;
	if (ps->more && !had_output) {
		imapd_submit(ps); /* a slice of a search: nothing to send yet */
		return;
	}
	if (!ps->more && imap_server_wants_exec(&ps->eng)) {
		imapd_submit(ps);
		return;
	}
	io_conn_kick(ps->conn); /* pipelined commands, or produce for MORE */
}

static void imapd_submit(struct imapd_session *ps)
{
	if (ps->busy || ps->dead || ps->closing)
		return;
	ps->busy = true;
	ps->more = false;
	io_workers_submit(ps->base.srv->imap_pool, imapd_exec_work, imapd_exec_done, ps);
}

/* -------------------------------------------------- connection events */

/* COMPRESS DEFLATE: the OK leaves in the clear, everything after it
 * compressed. Not from inside feed: the command's octets must be
 * consumed from the uncompressed input first. */
static void imapd_start_compress(struct imapd_session *ps)
{
	ps->compress_pending = false;
	imapd_flush(ps);
	bool ok = io_conn_start_compress(ps->conn) == 0;
	if (!ok)
		log_msg("%s error=\"cannot start compression\"", ps->base.sid);
	imap_server_compress_done(&ps->eng, ok);
	imapd_flush(ps);
}

/* io's produce: the rest of a long answer, once the client has read. */
static bool imapd_produce_cb(void *arg)
{
	struct imapd_session *ps = arg;
	if (ps->compress_pending && !ps->dead && !ps->closing)
		imapd_start_compress(ps);
	if (ps->dead || ps->closing || ps->busy || !ps->more)
		return false;
	imapd_submit(ps);
	return false;
}

static size_t imapd_feed_cb(void *arg, const char *p, size_t n)
{
	struct imapd_session *ps = arg;
	if (ps->dead || ps->closing || ps->busy || ps->more)
		return 0;
	/* The session lifetime (server.h) counts only before login. */
	if (!imap_server_logged_in(&ps->eng) && imap_server_is_idle(&ps->eng) &&
	    time(NULL) - ps->base.started > (time_t)server_session_lifetime(ps->base.srv)) {
		log_msg("%s limit=lifetime client=[%s]", ps->base.sid, ps->base.slot.addr);
		imap_server_abort(&ps->eng, "Session lasted too long");
		imapd_flush(ps);
		return 0;
	}
	size_t k = imap_server_feed(&ps->eng, p, n);
	imapd_flush(ps);
	if (!ps->closing && imap_server_wants_exec(&ps->eng))
		imapd_submit(ps);
	return k;
}

static void imapd_resume(struct imapd_session *ps)
{
	imapd_flush(ps);
	if (!ps->closing && imap_server_wants_exec(&ps->eng))
		imapd_submit(ps);
	else
		io_conn_kick(ps->conn);
}

static void imapd_idle_cb(void *arg)
{
	struct imapd_session *ps = arg;
	if (ps->busy || ps->more) {
		io_conn_pause_read(ps->conn, false); /* waiting on us is not idle */
		return;
	}
	if (!ps->greeted || ps->closing || ps->dead) {
		imapd_end(ps, "timeout");
		return;
	}
	log_msg("%s autologout client=[%s]", ps->base.sid, ps->base.slot.addr);
	imap_server_abort(&ps->eng, "Autologout; idle for too long");
	imapd_flush(ps);
}

static void imapd_closed_cb(void *arg, const char *why)
{
	imapd_end(arg, why);
}

static void imapd_tls_ready_cb(void *arg)
{
	struct imapd_session *ps = arg;
	log_msg("%s tls version=%s cipher=%s", ps->base.sid, io_conn_tls_version(ps->conn), io_conn_tls_cipher(ps->conn));
	if (imap_server_wants_tls(&ps->eng))
		imap_server_tls_done(&ps->eng);
	else if (!ps->greeted)
		imap_server_greet(&ps->eng); /* implicit TLS: greet once the handshake is done */
	ps->greeted = true;
	imapd_resume(ps);
}

static const struct io_conn_handlers imapd_conn_handlers = {
	.feed = imapd_feed_cb,
	.produce = imapd_produce_cb,
	.idle = imapd_idle_cb,
	.closed = imapd_closed_cb,
	.tls_ready = imapd_tls_ready_cb,
};

/* ---------------------------------------------------------- logging in */

static void imapd_open_work(void *arg)
{
	struct imapd_session *ps = arg;
	const struct conf_user *cu = conf_find_user(ps->base.srv->conf, ps->login_name);
	char dir[PATH_MAX];
	ps->login_r = IMAP_LOGIN_TEMP;
	if (cu == NULL || mailstore_box_of(ps->base.srv->conf->data_dir, cu->address, dir, sizeof dir) < 0)
		return; /* removed by a reload meanwhile, or not a safe directory name */
	ps->user = strdup(cu->address);
	ps->store = ps->user ? store_open(dir, 0) : NULL;
	if (ps->store)
		ps->login_r = IMAP_LOGIN_OK;
}

static void imapd_open_done(void *arg)
{
	struct imapd_session *ps = arg;
	ps->busy = false;
	if (ps->dead) {
		imapd_finish(ps);
		return;
	}
	struct buf u;
	buf_init(&u, LOG_VALUE_MAX);
	log_put_value(&u, ps->login_name, strlen(ps->login_name), 256);
	if (ps->login_r == IMAP_LOGIN_OK) {
		log_msg("%s login user=%s client=[%s] tls=%s", ps->base.sid, u.data ? u.data : "", ps->base.slot.addr,
		        io_conn_is_tls(ps->conn) ? "yes" : "no");
		io_conn_set_timeout(ps->conn, IMAPD_LOGGED_TIMEOUT, ps->base.srv->conf->command_timeout);
	} else {
		log_msg("%s error=\"cannot open the mail store\" user=%s", ps->base.sid, u.data ? u.data : "");
		free(ps->user);
		ps->user = NULL;
	}
	buf_free(&u);
	imap_server_login_done(&ps->eng, ps->login_r, ps->user);
	free(ps->login_name);
	ps->login_name = NULL;
	imapd_resume(ps);
}

static void imapd_auth_done(void *arg, enum auth_result r)
{
	struct imapd_session *ps = arg;
	ps->busy = false;
	if (ps->dead) {
		imapd_finish(ps);
		return;
	}
	if (r == AUTH_OK) {
		ps->busy = true;
		io_workers_submit(ps->base.srv->imap_pool, imapd_open_work, imapd_open_done, ps);
		return;
	}
	free(ps->login_name);
	ps->login_name = NULL;
	imap_server_login_done(&ps->eng, r == AUTH_THROTTLED ? IMAP_LOGIN_THROTTLED : IMAP_LOGIN_BAD, NULL);
	imapd_resume(ps);
}

static void imapd_op_login(void *ctx, const char *user, const char *pass)
{
	struct imapd_session *ps = ctx;
	free(ps->login_name);
	ps->login_name = strdup(user);
	if (ps->login_name == NULL) {
		imap_server_login_done(&ps->eng, IMAP_LOGIN_TEMP, NULL);
		return;
	}
	ps->busy = true;
	auth_check(ps->base.srv, &ps->base.slot, user, pass, imapd_auth_done, ps);
}

static void imapd_op_starttls(void *ctx)
{
	struct imapd_session *ps = ctx;
	/* The OK must leave in plaintext before the TLS filter goes on;
	 * the filter drops plaintext the client pipelined after STARTTLS. */
	if (ps->eng.out.len) {
		io_conn_write(ps->conn, ps->eng.out.data, ps->eng.out.len);
		buf_reset(&ps->eng.out);
	}
	if (ps->base.srv->tls == NULL || io_conn_start_tls(ps->conn, ps->base.srv->tls) < 0) {
		log_msg("%s error=\"cannot start TLS\"", ps->base.sid);
		imap_server_abort(&ps->eng, NULL);
	}
}

static void imapd_op_compress(void *ctx)
{
	struct imapd_session *ps = ctx;
	ps->compress_pending = true;
	io_conn_kick(ps->conn);
}

/* From exec (a worker): only what the loop will apply. */
static void imapd_op_idle(void *ctx, bool on)
{
	struct imapd_session *ps = ctx;
	ps->want_idle = on;
	if (on && ps->eng.box) {
		char nd[PATH_MAX], cd[PATH_MAX];
		store_view_dirs(ps->eng.box, nd, cd, sizeof nd);
		for (int i = 0; i < 2; i++)
			free(ps->idle_dirs[i]);
		ps->idle_dirs[0] = strdup(nd);
		ps->idle_dirs[1] = strdup(cd);
	}
	if (!on)
		imapd_unwatch(ps); /* DONE is read on the loop: this runs there */
}

static void imapd_op_refused(void *ctx, const char *cmd, const char *reply)
{
	struct imapd_session *ps = ctx;
	char c[LOG_VALUE_MAX], r[LOG_VALUE_MAX];
	log_msg("%s refused client=[%s] reply=%s command=%s", ps->base.sid, ps->base.slot.addr, log_value(r, sizeof r, reply),
	        log_value(c, sizeof c, cmd));
}

/* ------------------------------------------------ the store, forwarded */

#define PS ((struct imapd_session *)ctx)

static enum imap_store_result imapd_op_list(void *ctx, struct imap_folder **out, size_t *n)
{
	return store_list(PS->store, out, n);
}
static enum imap_store_result imapd_op_create(void *ctx, const char *name)
{
	return store_create(PS->store, name);
}
static enum imap_store_result imapd_op_remove(void *ctx, const char *name)
{
	return store_delete(PS->store, name);
}
static enum imap_store_result imapd_op_rename(void *ctx, const char *from, const char *to)
{
	return store_rename(PS->store, from, to);
}
static enum imap_store_result imapd_op_subscribe(void *ctx, const char *name, bool on)
{
	return store_subscribe(PS->store, name, on);
}
static enum imap_store_result imapd_op_status(void *ctx, const char *name, unsigned items, struct imap_status *st)
{
	return store_status(PS->store, name, items, st);
}
static enum imap_store_result imapd_op_quota(void *ctx, uint64_t *used, uint64_t *limit, uint64_t *messages)
{
	return store_quota(PS->store, used, limit, messages);
}
static enum imap_store_result imapd_op_open(void *ctx, const char *name, bool readonly, void **box,
                                            struct imap_box_info *info)
{
	struct store_view *v = NULL;
	enum imap_store_result r = store_view_open(PS->store, name, readonly, &v, info);
	*box = v;
	return r;
}
static void imapd_op_close(void *ctx, void *box)
{
	(void)ctx;
	store_view_close(box);
}
static enum imap_store_result imapd_op_sync(void *ctx, void *box, bool expunges, const struct imap_sync_sink *sink,
                                            struct imap_box_info *info)
{
	(void)ctx;
	return store_view_sync(box, expunges, sink, info);
}
static void imapd_op_msg(void *ctx, void *box, uint32_t seq, struct imap_msg *m)
{
	(void)ctx;
	store_view_msg(box, seq, m);
}
static bool imapd_op_uid_range(void *ctx, void *box, uint32_t lo, uint32_t hi, uint32_t *slo, uint32_t *shi)
{
	(void)ctx;
	return store_view_uid_range(box, lo, hi, slo, shi);
}
static int imapd_op_keyword(void *ctx, void *box, const char *name, bool create)
{
	(void)ctx;
	return store_view_keyword(box, name, create);
}
static enum imap_store_result imapd_op_store(void *ctx, void *box, uint32_t seq, enum imap_store_mode mode,
                                             unsigned flags, imap_keywords kw, uint64_t unchangedsince,
                                             struct imap_msg *m)
{
	(void)ctx;
	return store_view_store(box, seq, mode, flags, kw, unchangedsince, m);
}
static enum imap_store_result imapd_op_flush(void *ctx, void *box)
{
	(void)ctx;
	return store_view_flush(box);
}
static enum imap_store_result imapd_op_expunge(void *ctx, void *box, const struct imap_seqset *uids,
                                               const struct imap_sync_sink *sink)
{
	(void)ctx;
	return store_view_expunge(box, uids, sink);
}
static enum imap_store_result imapd_op_copy(void *ctx, void *box, const struct imap_seqset *seqs, const char *dest,
                                            uint32_t *uidv, struct imap_seqset *src, struct imap_seqset *dst)
{
	(void)ctx;
	return store_view_copy(box, seqs, dest, uidv, src, dst);
}
static enum imap_store_result imapd_op_envelope(void *ctx, void *box, uint32_t seq, struct buf *out)
{
	(void)ctx;
	return store_view_envelope(box, seq, out);
}
static enum imap_store_result imapd_op_structure(void *ctx, void *box, uint32_t seq, bool ext, struct buf *out)
{
	(void)ctx;
	return store_view_structure(box, seq, ext, out);
}
static enum imap_store_result imapd_op_section(void *ctx, void *box, uint32_t seq, const uint32_t *path, size_t depth,
                                               enum mime_section_what what, struct mime_range *r)
{
	(void)ctx;
	return store_view_section(box, seq, path, depth, what, r);
}
static long imapd_op_read(void *ctx, void *box, uint32_t seq, uint64_t off, char *p, size_t len)
{
	(void)ctx;
	return store_view_read(box, seq, off, p, len);
}
static int64_t imapd_op_now(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}
static bool imapd_op_sent_date(void *ctx, void *box, uint32_t seq, int64_t *t, int *tz)
{
	(void)ctx;
	return store_view_sent_date(box, seq, t, tz);
}
static enum imap_store_result imapd_op_search_text(void *ctx, void *box, uint32_t seq,
                                                   const struct mime_needle *needles, size_t n, bool *matched)
{
	(void)ctx;
	return store_view_search_text(box, seq, needles, n, matched);
}
static enum imap_store_result imapd_op_append_begin(void *ctx, const char *name, uint64_t size,
                                                    struct imap_append **ap)
{
	return store_append_begin(PS->store, name, size, ap);
}
static enum imap_store_result imapd_op_append_data(void *ctx, struct imap_append *ap, const char *p, size_t n)
{
	(void)ctx;
	return store_append_data(ap, p, n);
}
static enum imap_store_result imapd_op_append_commit(void *ctx, struct imap_append *ap, unsigned flags,
                                                     const char *const *kw, size_t nkw, int64_t date, int tz,
                                                     uint32_t *uidv, uint32_t *uid)
{
	(void)ctx;
	return store_append_commit(ap, flags, kw, nkw, date, tz, uidv, uid);
}
static void imapd_op_append_abort(void *ctx, struct imap_append *ap)
{
	(void)ctx;
	store_append_abort(ap);
}

#undef PS

static bool imapd_op_next_changed(void *ctx, void *box, uint32_t seq, uint32_t upto, uint64_t since,
                                  uint32_t *found, struct imap_msg *m)
{
	(void)ctx;
	return store_view_next_changed(box, seq, upto, since, found, m);
}

static void imapd_op_rest(void *ctx, void *box)
{
	(void)ctx;
	store_view_rest(box);
}

static const struct imap_server_ops imapd_ops = {
	.login = imapd_op_login,
	.starttls = imapd_op_starttls,
	.compress = imapd_op_compress,
	.idle = imapd_op_idle,
	.refused = imapd_op_refused,
	.list = imapd_op_list,
	.create = imapd_op_create,
	.remove = imapd_op_remove,
	.rename = imapd_op_rename,
	.subscribe = imapd_op_subscribe,
	.status = imapd_op_status,
	.quota = imapd_op_quota,
	.open = imapd_op_open,
	.close = imapd_op_close,
	.next_changed = imapd_op_next_changed,
	.rest = imapd_op_rest,
	.sync = imapd_op_sync,
	.msg = imapd_op_msg,
	.uid_range = imapd_op_uid_range,
	.keyword = imapd_op_keyword,
	.store = imapd_op_store,
	.flush = imapd_op_flush,
	.expunge = imapd_op_expunge,
	.copy = imapd_op_copy,
	.envelope = imapd_op_envelope,
	.structure = imapd_op_structure,
	.section = imapd_op_section,
	.read = imapd_op_read,
	.now = imapd_op_now,
	.sent_date = imapd_op_sent_date,
	.search_text = imapd_op_search_text,
	.append_begin = imapd_op_append_begin,
	.append_data = imapd_op_append_data,
	.append_commit = imapd_op_append_commit,
	.append_abort = imapd_op_append_abort,
};

/* ----------------------------------------------------------- accepting */

/* The line a connection refused before any session exists gets (not on
 * imaps, whose client expects a TLS handshake). */
static void imapd_refusal(enum server_admit why, const char *host, char *out, size_t outlen)
{
	(void)host;
	snprintf(out, outlen, "* BYE [UNAVAILABLE] %s\r\n",
	         why == SERVER_STOPPING ? "Server shutting down" : "Too many connections, try again later");
}

static void imapd_start(struct service *svc, int fd, const struct sockaddr *sa, const struct server_slot *slot)
{
	(void)sa;
	struct server *srv = svc->srv;
	struct imapd_session *ps = service_session_new(svc, sizeof *ps, fd, slot);
	if (ps == NULL)
		return;
	bool implicit_tls = svc->role == ROLE_IMAPS;
	struct imap_server_config cfg = {
		.tls_available = srv->tls != NULL && !implicit_tls,
		.tls_active = implicit_tls,
		.loopback = slot->loopback,
		.compress_available = true,
		.appendlimit = srv->conf->max_message_size,
	};
	imap_server_init(&ps->eng, &cfg, &imapd_ops, ps);
	ps->conn = io_conn_new(srv->loop, fd, &imapd_conn_handlers, ps);
	if (ps->conn == NULL) {
		close(fd);
		ps->dead = true;
		imapd_free(ps);
		return;
	}
	io_conn_set_timeout(ps->conn, srv->conf->command_timeout, srv->conf->command_timeout);
	log_msg("%s connect from [%s] role=%s", ps->base.sid, ps->base.slot.addr, conf_role_name(svc->role));
	if (implicit_tls) {
		if (srv->tls == NULL || io_conn_start_tls(ps->conn, srv->tls) < 0)
			imapd_end(ps, "tls unavailable");
		return;
	}
	imap_server_greet(&ps->eng);
	ps->greeted = true;
	imapd_resume(ps);
}

static void imapd_shutdown(struct service *svc)
{
	struct service_session *it = svc->sessions;
	while (it) {
		struct service_session *next = it->next;
		struct imapd_session *ps = (struct imapd_session *)it;
		if (!ps->busy && !ps->dead && !ps->closing) {
			if (!ps->greeted || ps->more) {
				imapd_end(ps, "shutdown");
			} else {
				imap_server_abort(&ps->eng, "Server shutting down");
				imapd_flush(ps);
			}
		}
		it = next;
	}
}

const struct service_kind imapd_kind_imap = {
	.name = "imap", .id_prefix = 'I', .refusal = imapd_refusal, .start = imapd_start, .shutdown = imapd_shutdown,
};
const struct service_kind imapd_kind_imaps = {
	.name = "imaps", .id_prefix = 'I', .refusal = NULL, .start = imapd_start, .shutdown = imapd_shutdown,
};
