/*
 * conn — a connection over a libevent bufferevent, plain or TLS
 * (implicit, or STARTTLS by stacking an OpenSSL filter on the socket
 * bufferevent). Owns the back-pressure of every protocol (io.h): the
 * owner's feed() runs only while the output waiting for the peer is under
 * IO_CONN_OUT_HIGH, and reading from the socket stops meanwhile, so a
 * peer that sends without reading meets a bound here, whatever protocol
 * it speaks.
 *
 * Pitfalls handled here (see docs/architecture.md): bufferevent_free()
 * drops unsent output, so io_conn_finish() waits until the output has
 * left; a TLS peer's abrupt close is EOF, not an error (dirty shutdown
 * allowed); under a TLS filter the records drain from the socket's own
 * buffer after the filter's write callback ran, so that buffer is watched
 * too; and an owner may free its connection from inside any callback
 * (the `depth` count defers the free until the callback has returned).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io/deflate.h"
#include "io/io_internal.h"

struct io_conn {
	struct event_base *base;
	struct bufferevent *bev;    /* the top of the stack: socket or TLS filter */
	struct bufferevent *raw;    /* the socket bufferevent when a filter is on top */
	struct bufferevent *mid;    /* TLS under COMPRESS: the filter between bev and raw */
	struct event *kick;         /* runs io_conn_kick_cb on the next loop turn */
	const struct io_conn_handlers *h;
	void *arg;
	int fd;
	unsigned depth;             /* callbacks of ours on the stack */
	bool dying;                 /* freed by the owner inside a callback */
	bool running;               /* io_conn_run is on the stack */
	bool again;                 /* io_conn_run asked again while running */
	bool out_paused;            /* output over the high-water mark: not fed, not read */
	bool user_paused;           /* io_conn_pause_read */
	bool read_stopped;          /* a read timeout disabled reading (libevent does) */
	bool reading;               /* what io_conn_update_read last asked libevent for */
	bool finishing;             /* io_conn_finish: closed() once output is gone */
	const char *finish_why;
	bool tls;
	bool tls_handshaking;
	bool compressed;
	bool stream_failed;         /* the peer's compressed stream did not decode */
	bool connecting;
	unsigned read_s, write_s;
};

/* The bufferevent of the TLS filter (under COMPRESS, the middle one). */
static struct bufferevent *io_conn_tls_bev(struct io_conn *c)
{
	return c->mid ? c->mid : c->bev;
}

static void io_conn_destroy(struct io_conn *c)
{
	event_free(c->kick);
	if (c->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(io_conn_tls_bev(c));
		if (ssl)
			SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
	}
	bufferevent_free(c->bev);
	free(c);
	io_listener_fd_released();
}

static void io_conn_enter(struct io_conn *c)
{
	c->depth++;
}

/* Leave a callback; true when the connection is gone. */
static bool io_conn_leave(struct io_conn *c)
{
	if (--c->depth > 0 || !c->dying)
		return c->dying;
	io_conn_destroy(c);
	return true;
}

/* Reading follows from four conditions; this is the only place that
 * turns it on or off. */
static void io_conn_update_read(struct io_conn *c)
{
	if (c->dying)
		return;
	bool want = !(c->user_paused || c->out_paused || c->finishing || c->read_stopped);
	if (want == c->reading)
		return; /* enabling again would re-add the event and its timer */
	c->reading = want;
	if (want)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

/* Output still in the layers under the top one (TLS records,
 * compressed octets). */
static size_t io_conn_below_len(struct io_conn *c)
{
	size_t n = 0;
	if (c->mid)
		n += evbuffer_get_length(bufferevent_get_output(c->mid));
	if (c->raw)
		n += evbuffer_get_length(bufferevent_get_output(c->raw));
	return n;
}

size_t io_conn_output_len(struct io_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + io_conn_below_len(c);
}

/*
 * The feed loop (io.h): produce, then feed, while under the high-water
 * mark and making progress. Not re-entered: a request made while it runs
 * (an owner's kick from inside feed) makes it go round once more.
 */
static void io_conn_run(struct io_conn *c)
{
	if (c->running) {
		c->again = true;
		return;
	}
	if (c->finishing || c->h->feed == NULL)
		return;
	c->running = true;
	do {
		c->again = false;
		for (;;) {
			if (io_conn_output_len(c) >= IO_CONN_OUT_HIGH) {
				c->out_paused = true;
				break;
			}
			if (c->h->produce) {
				bool more = c->h->produce(c->arg);
				if (c->dying || c->finishing)
					break;
				if (more)
					continue;
			}
			const char *p;
			size_t n = io_conn_input(c, &p, 0);
			if (n == 0)
				break;
			size_t k = c->h->feed(c->arg, p, n);
			if (c->dying)
				break;
			io_conn_consume(c, k);
			if (k == 0 || c->finishing)
				break; /* the owner waits, or is done */
		}
	} while (c->again && !c->dying && !c->finishing);
	c->running = false;
	io_conn_update_read(c);
}

/* Output moved towards the peer: resume feeding, report drained, or
 * complete a finish. */
static void io_conn_output_moved(struct io_conn *c)
{
	size_t out = io_conn_output_len(c);
	if (c->finishing) {
		if (out == 0)
			c->h->closed(c->arg, c->finish_why);
		return;
	}
	if (c->out_paused && out <= IO_CONN_OUT_LOW) {
		c->out_paused = false;
		io_conn_run(c);
		if (c->dying)
			return;
		out = io_conn_output_len(c);
	}
	if (out == 0 && c->h->drained)
		c->h->drained(c->arg);
}

static void io_conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct io_conn *c = arg;
	io_conn_enter(c);
	if (c->stream_failed && !c->finishing) {
		c->stream_failed = false;
		c->h->closed(c->arg, "compressed stream error");
	} else if (c->finishing) {
		io_conn_output_moved(c);
	} else {
		if (c->out_paused && io_conn_output_len(c) <= IO_CONN_OUT_LOW)
			c->out_paused = false;
		if (c->h->feed)
			io_conn_run(c);
		else if (c->h->readable && io_conn_input_len(c) > 0)
			c->h->readable(c->arg);
		if (!c->dying && io_conn_output_len(c) == 0 && c->h->drained)
			c->h->drained(c->arg);
	}
	io_conn_leave(c);
}

void io_conn_kick(struct io_conn *c)
{
	if (c && !c->dying)
		event_active(c->kick, EV_TIMEOUT, 0);
}

static void io_conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct io_conn *c = arg;
	io_conn_enter(c);
	if (c->h->feed)
		io_conn_run(c);
	else if (c->h->readable)
		c->h->readable(c->arg);
	io_conn_leave(c);
}

static void io_conn_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct io_conn *c = arg;
	if (io_conn_below_len(c) > 0)
		return; /* the TLS records are not all sent yet: io_conn_raw_out_cb follows */
	io_conn_enter(c);
	io_conn_output_moved(c);
	io_conn_leave(c);
}

static void io_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct io_conn *c = arg;
	io_conn_enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		if (c->connecting) {
			c->connecting = false;
			if (c->h->connected)
				c->h->connected(c->arg);
		} else if (c->tls_handshaking) {
			c->tls_handshaking = false;
			if (c->h->tls_ready)
				c->h->tls_ready(c->arg);
		}
		io_conn_leave(c);
		return;
	}
	const char *why = "error";
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_WRITING)) {
		why = "write timeout";
	} else if (what & BEV_EVENT_TIMEOUT) {
		why = "timeout";
		if (c->h->idle && !c->finishing && !c->tls_handshaking && !c->connecting) {
			c->read_stopped = true; /* libevent turned reading off */
			c->reading = false;
			c->h->idle(c->arg);
			io_conn_leave(c);
			return;
		}
	} else if (what & BEV_EVENT_EOF) {
		why = "eof";
	} else if (c->tls_handshaking) {
		why = "tls handshake failed";
	}
	c->h->closed(c->arg, why);
	io_conn_leave(c);
}

static void io_conn_setup(struct io_conn *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_setcb(bev, io_conn_read_cb, io_conn_write_cb, io_conn_event_cb, c);
	/* Bound the input a client can make us hold (principle 3). */
	bufferevent_setwatermark(bev, EV_READ, 0, IO_CONN_IN_MAX);
	/* Write events fire when the output falls to IO_CONN_OUT_LOW, so that
	 * a paused session resumes before the kernel's buffer runs dry. */
	bufferevent_setwatermark(bev, EV_WRITE, IO_CONN_OUT_LOW, 0);
	io_conn_set_timeout(c, c->read_s, c->write_s);
	bufferevent_enable(bev, EV_WRITE);
	c->reading = false; /* a new bufferevent does not read yet */
	io_conn_update_read(c);
}

static void io_conn_raw_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg);

static struct io_conn *io_conn_alloc(struct io_loop *l, const struct io_conn_handlers *h, void *arg)
{
	struct io_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->base = io_loop_base(l);
	c->h = h;
	c->arg = arg;
	c->fd = -1;
	c->kick = event_new(c->base, -1, 0, io_conn_kick_cb, c);
	if (c->kick == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

struct io_conn *io_conn_new(struct io_loop *l, int fd, const struct io_conn_handlers *h, void *arg)
{
	struct io_conn *c = io_conn_alloc(l, h, arg);
	if (c == NULL)
		return NULL;
	c->fd = fd;
	evutil_make_socket_nonblocking(fd);
	struct bufferevent *bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		event_free(c->kick);
		free(c);
		return NULL;
	}
	io_conn_setup(c, bev);
	return c;
}

void io_conn_free(struct io_conn *c)
{
	if (c == NULL || c->dying)
		return;
	if (c->raw)
		evbuffer_remove_cb(bufferevent_get_output(c->raw), io_conn_raw_out_cb, c);
	if (c->depth > 0) {
		/* Inside one of our callbacks: go once it has returned. */
		c->dying = true;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		event_del(c->kick);
		return;
	}
	io_conn_destroy(c);
}

size_t io_conn_input(struct io_conn *c, const char **p, size_t max)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	if (max && n > max)
		n = max;
	/* The first chunk only, so that no copy is made for large input. */
	struct evbuffer_iovec v;
	if (n == 0 || evbuffer_peek(in, -1, NULL, &v, 1) < 1) {
		*p = NULL;
		return 0;
	}
	if (v.iov_len < n)
		n = v.iov_len;
	*p = v.iov_base;
	return n;
}

size_t io_conn_input_len(struct io_conn *c)
{
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}

void io_conn_consume(struct io_conn *c, size_t n)
{
	evbuffer_drain(bufferevent_get_input(c->bev), n);
}

int io_conn_write(struct io_conn *c, const void *p, size_t n)
{
	if (c->dying)
		return -1;
	return bufferevent_write(c->bev, p, n);
}

void io_conn_finish(struct io_conn *c, const char *why)
{
	if (c == NULL || c->dying || c->finishing)
		return;
	c->finishing = true;
	c->finish_why = why;
	io_conn_update_read(c);
	io_conn_kick(c);
}

void io_conn_set_timeout(struct io_conn *c, unsigned read_s, unsigned write_s)
{
	c->read_s = read_s;
	c->write_s = write_s;
	struct timeval r = {.tv_sec = read_s}, w = {.tv_sec = write_s};
	bufferevent_set_timeouts(c->bev, read_s ? &r : NULL, write_s ? &w : NULL);
}

void io_conn_pause_read(struct io_conn *c, bool paused)
{
	c->user_paused = paused;
	if (!paused)
		c->read_stopped = false;
	io_conn_update_read(c);
}

struct io_conn *io_conn_connect(struct io_loop *l, const struct sockaddr *sa, socklen_t salen, unsigned timeout_s,
                                const struct io_conn_handlers *h, void *arg)
{
	struct io_conn *c = io_conn_alloc(l, h, arg);
	if (c == NULL)
		return NULL;
	c->read_s = c->write_s = timeout_s;
	struct bufferevent *bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		event_free(c->kick);
		free(c);
		return NULL;
	}
	io_conn_setup(c, bev);
	c->connecting = true;
	if (bufferevent_socket_connect(bev, sa, (int)salen) < 0) {
		bufferevent_free(bev);
		event_free(c->kick);
		free(c);
		return NULL;
	}
	c->fd = bufferevent_getfd(bev);
	return c;
}

/* Under a TLS filter the records drain from the socket's own buffer,
 * after the filter's write callback has run. This is an evbuffer
 * callback, called from deep inside libevent's write path: nothing of
 * the owner's runs here, the next loop turn looks (io_conn_kick_cb). */
static void io_conn_raw_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct io_conn *c = arg;
	if (info->n_deleted == 0 || c->dying)
		return;
	(void)b;
	size_t out = io_conn_output_len(c);
	if (out == 0 || (c->out_paused && out <= IO_CONN_OUT_LOW))
		io_conn_kick(c);
}

/* Stack an OpenSSL filter on the socket; input still buffered in
 * plaintext is dropped (RFC 3207 5, CVE-2011-0411). */
static int io_conn_stack_tls(struct io_conn *c, SSL *ssl, enum bufferevent_ssl_state st)
{
	evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
	struct bufferevent *f = bufferevent_openssl_filter_new(c->base, c->bev, ssl, st, BEV_OPT_CLOSE_ON_FREE);
	if (f == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	c->raw = c->bev;
	c->tls = true;
	c->tls_handshaking = true;
	io_conn_setup(c, f);
	evbuffer_add_cb(bufferevent_get_output(c->raw), io_conn_raw_out_cb, c);
	return 0;
}

int io_conn_start_tls_client(struct io_conn *c, struct io_tls *client_ctx, const char *servername)
{
	SSL *ssl = io_tls_new_ssl(client_ctx);
	if (ssl == NULL)
		return -1;
	if (servername && *servername)
		SSL_set_tlsext_host_name(ssl, servername);
	return io_conn_stack_tls(c, ssl, BUFFEREVENT_SSL_CONNECTING);
}

int io_conn_start_tls(struct io_conn *c, struct io_tls *tls)
{
	SSL *ssl = io_tls_new_ssl(tls);
	if (ssl == NULL)
		return -1;
	return io_conn_stack_tls(c, ssl, BUFFEREVENT_SSL_ACCEPTING);
}

static void io_conn_stream_failed(void *arg)
{
	struct io_conn *c = arg;
	c->stream_failed = true;
	io_conn_kick(c);
}

int io_conn_start_compress(struct io_conn *c)
{
	if (c->compressed)
		return -1;
	struct io_deflate *d = io_deflate_new(io_conn_stream_failed, c);
	if (d == NULL)
		return -1;
	struct bufferevent *under = c->bev;
	struct bufferevent *f = bufferevent_filter_new(under, io_deflate_in, io_deflate_out,
	                                               BEV_OPT_CLOSE_ON_FREE, io_deflate_free, d);
	if (f == NULL) {
		io_deflate_free(d);
		return -1;
	}
	c->compressed = true;
	if (c->raw) {
		c->mid = under;
	} else {
		c->raw = under;
		evbuffer_add_cb(bufferevent_get_output(c->raw), io_conn_raw_out_cb, c);
	}
	/* What the client sent after the command is already compressed and
	 * waits in the layer below: the filter takes it from there. */
	io_conn_setup(c, f);
	bufferevent_trigger(under, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

bool io_conn_is_tls(struct io_conn *c)
{
	return c->tls;
}

const char *io_conn_tls_version(struct io_conn *c)
{
	SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(io_conn_tls_bev(c)) : NULL;
	return ssl ? SSL_get_version(ssl) : "none";
}

const char *io_conn_tls_cipher(struct io_conn *c)
{
	SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(io_conn_tls_bev(c)) : NULL;
	return ssl ? SSL_get_cipher_name(ssl) : "none";
}

int io_fd_pending(int fd)
{
	int n = 0;
	if (ioctl(fd, FIONREAD, &n) < 0)
		return 0;
	return n;
}
