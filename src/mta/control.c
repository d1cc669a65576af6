/*
 * control — the control socket of a running server. See control.h.
 *
 * Access: the socket file is 0600, and every peer's uid is checked with
 * SO_PEERCRED as well (root or the server's own uid), so that the window
 * between bind and chmod, or a data-dir with looser modes, opens nothing.
 *
 * A delete must not race a delivery: the scheduler forgets the id at once
 * (so it is never tried again), then, if an attempt is running, the
 * client waits until it has finished; only then are the queue files
 * removed, on the worker pool (an unlink and a directory flush), and the
 * reply sent. A client that hangs up meanwhile is freed once the removal
 * is done, because the job still refers to it.
 */
#include "mta/control.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "io/io.h"
#include "io/unix.h"
#include "mta/scheduler.h"
#include "mta/server.h"
#include "queue/queue_store.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_IDLE_S      60
#define CONTROL_POLL_MS     50 /* how often a delete looks whether the attempt ended */

struct control_client {
	struct server *srv;
	struct io_conn *conn;
	uid_t uid;
	char id[QUEUE_ID_MAX];      /* the delete in progress */
	struct io_timer *wait;      /* polls the end of an attempt in flight */
	bool busy;                  /* a delete is in progress: input paused */
	bool dead;                  /* the connection is gone */
	bool closing;               /* close once the output has drained */
	int rc, err;                /* the removal's result */
	struct buf in;              /* input not yet parsed; max CONTROL_LINE_MAX + 1 */
	struct control_client *next, *prev;
};

struct control {
	struct io_unix_listener *listener;
	struct control_client *clients;
	unsigned nclients;
};

static void control_process(struct control_client *cc);

static void control_free(struct control_client *cc)
{
	struct control *ctl = cc->srv->control;
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		ctl->clients = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	ctl->nclients--;
	io_timer_free(cc->wait);
	io_conn_free(cc->conn);
	buf_free(&cc->in);
	free(cc);
}

static void control_end(struct control_client *cc)
{
	cc->dead = true;
	if (cc->busy) {
		io_conn_pause_read(cc->conn, true);
		return;
	}
	control_free(cc);
}

static void control_reply(struct control_client *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void control_reply(struct control_client *cc, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	io_conn_write(cc->conn, line, (size_t)n);
}

/* ---- delete ---- */

static void control_remove_work(void *arg)
{
	struct control_client *cc = arg;
	cc->rc = queue_remove(cc->srv->queue, cc->id);
	cc->err = errno;
}

static void control_remove_done(void *arg)
{
	struct control_client *cc = arg;
	cc->busy = false;
	if (cc->rc == 0)
		log_msg("%s removed by `tern queue delete` uid=%u", cc->id, (unsigned)cc->uid);
	if (cc->dead) {
		control_free(cc);
		return;
	}
	if (cc->rc == 0)
		control_reply(cc, "ok\n");
	else if (cc->err == ENOENT)
		control_reply(cc, "error no such message\n");
	else
		control_reply(cc, "error %s\n", strerror(cc->err));
	io_conn_pause_read(cc->conn, false);
	control_process(cc);
}

static void control_wait_cb(void *arg)
{
	struct control_client *cc = arg;
	if (scheduler_is_delivering(cc->srv->sched, cc->id)) {
		io_timer_start(cc->wait, CONTROL_POLL_MS);
		return;
	}
	io_workers_submit(cc->srv->commit_pool, control_remove_work, control_remove_done, cc);
}

static void control_delete(struct control_client *cc, const char *id)
{
	if (!queue_id_is_valid(id)) {
		control_reply(cc, "error invalid queue id\n");
		return;
	}
	memcpy(cc->id, id, strlen(id) + 1); /* valid: shorter than QUEUE_ID_MAX */
	scheduler_remove(cc->srv->sched, cc->id);
	cc->busy = true;
	io_conn_pause_read(cc->conn, true);
	if (cc->wait == NULL)
		cc->wait = io_timer_new(cc->srv->loop, control_wait_cb, cc);
	/* Through the timer even when nothing runs: one path, and the reply
	 * never comes from inside the read callback's own loop. */
	io_timer_start(cc->wait, 0);
}

/* ---- the protocol ---- */

static void control_list_one(void *arg, const char *id)
{
	control_reply(arg, "delivering %s\n", id);
}

static void control_command(struct control_client *cc, const char *line)
{
	if (strcmp(line, "flush") == 0) {
		log_msg("queue flush requested uid=%u", (unsigned)cc->uid);
		scheduler_flush(cc->srv->sched);
		control_reply(cc, "ok\n");
	} else if (strcmp(line, "list") == 0) {
		scheduler_each_delivering(cc->srv->sched, control_list_one, cc);
		control_reply(cc, "ok\n");
	} else if (strncmp(line, "delete ", 7) == 0) {
		control_delete(cc, line + 7);
	} else {
		control_reply(cc, "error unknown command\n");
	}
}

/* Input is copied into cc->in (a command line is tiny) so that a line
 * split across the connection's buffer chunks is still seen whole. */
static void control_process(struct control_client *cc)
{
	while (!cc->busy && !cc->closing && !cc->dead) {
		const char *p = NULL;
		size_t room = CONTROL_LINE_MAX + 1 - cc->in.len; /* 0 would mean "all" */
		size_t n = room ? io_conn_input(cc->conn, &p, room) : 0;
		if (n && buf_append(&cc->in, p, n) == 0)
			io_conn_consume(cc->conn, n);
		const char *s = cc->in.data;
		const char *nl = cc->in.len ? memchr(s, '\n', cc->in.len) : NULL;
		if (nl == NULL) {
			if (cc->in.len > CONTROL_LINE_MAX) {
				control_reply(cc, "error line too long\n");
				cc->closing = true;
				io_conn_pause_read(cc->conn, true);
			}
			return;
		}
		char line[CONTROL_LINE_MAX + 1];
		size_t len = (size_t)(nl - s);
		bool nul = memchr(s, '\0', len) != NULL;
		memcpy(line, s, len);
		line[len] = '\0';
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		buf_consume(&cc->in, len + 1);
		if (nul)
			control_reply(cc, "error invalid command\n");
		else
			control_command(cc, line);
	}
}

static void control_readable_cb(void *arg)
{
	control_process(arg);
}

static void control_drained_cb(void *arg)
{
	struct control_client *cc = arg;
	if (cc->closing)
		control_end(cc);
}

static void control_closed_cb(void *arg, const char *why)
{
	(void)why;
	control_end(arg);
}

static const struct io_conn_handlers control_handlers = {
	.readable = control_readable_cb,
	.drained = control_drained_cb,
	.closed = control_closed_cb,
};

static void control_accept(void *arg, int fd)
{
	struct server *srv = arg;
	struct control *ctl = srv->control;
	uid_t uid;
	if (io_unix_peer_uid(fd, &uid) < 0 || (uid != 0 && uid != geteuid())) {
		static const char no[] = "error permission denied\n";
		ssize_t w = write(fd, no, sizeof no - 1);
		(void)w;
		close(fd);
		return;
	}
	if (ctl->nclients >= CONTROL_MAX_CLIENTS) {
		static const char busy[] = "error too many clients\n";
		ssize_t w = write(fd, busy, sizeof busy - 1);
		(void)w;
		close(fd);
		return;
	}
	struct control_client *cc = calloc(1, sizeof *cc);
	if (cc == NULL) {
		close(fd);
		return;
	}
	cc->srv = srv;
	cc->uid = uid;
	buf_init(&cc->in, CONTROL_LINE_MAX + 1);
	cc->conn = io_conn_new(srv->loop, fd, &control_handlers, cc);
	if (cc->conn == NULL) {
		close(fd);
		free(cc);
		return;
	}
	io_conn_set_timeout(cc->conn, CONTROL_IDLE_S, CONTROL_IDLE_S);
	cc->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = cc;
	ctl->clients = cc;
	ctl->nclients++;
}

int control_start(struct server *srv)
{
	char path[PATH_MAX], err[PATH_MAX + 128];
	int n = snprintf(path, sizeof path, "%s/%s", srv->conf->data_dir, CONTROL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof path) {
		log_msg("%s: data-dir path too long for the control socket", srv->conf->data_dir);
		return -1;
	}
	struct control *ctl = calloc(1, sizeof *ctl);
	if (ctl == NULL) {
		log_msg("control: out of memory");
		return -1;
	}
	srv->control = ctl;
	ctl->listener = io_unix_listen(srv->loop, path, 0600, control_accept, srv, err, sizeof err);
	if (ctl->listener == NULL) {
		log_msg("%s", err);
		return -1;
	}
	return 0;
}

void control_stop(struct server *srv)
{
	if (srv->control == NULL)
		return;
	io_unix_listener_free(srv->control->listener);
	srv->control->listener = NULL;
}
