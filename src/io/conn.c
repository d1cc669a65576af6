/*
 * conn — a client connection over a libevent bufferevent, plain or TLS
 * (implicit, or STARTTLS by stacking an OpenSSL filter on the socket
 * bufferevent). Hands its owner the named events of io.h.
 *
 * Pitfalls handled here (see docs/architecture.md): bufferevent_free()
 * drops unsent output, so closing waits for the drained event; a TLS
 * peer's abrupt close is EOF, not an error (dirty shutdown allowed).
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

#include "io/io.h"
#include "io/tls.h"

struct io_conn {
	struct event_base *base;
	struct bufferevent *bev;    /* the top of the stack: socket or TLS filter */
	struct bufferevent *raw;    /* the socket bufferevent when a filter is on top */
	const struct io_conn_handlers *h;
	void *arg;
	int fd;
	bool tls;
	bool tls_handshaking;
	bool connecting;
	unsigned read_s, write_s;
};

static void io_conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct io_conn *c = arg;
	c->h->readable(c->arg);
}

static void io_conn_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct io_conn *c = arg;
	if (c->raw && evbuffer_get_length(bufferevent_get_output(c->raw)) > 0)
		return; /* the TLS records are not all sent yet */
	if (c->h->drained)
		c->h->drained(c->arg);
}

static void io_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct io_conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->connecting) {
			c->connecting = false;
			if (c->h->connected)
				c->h->connected(c->arg);
			return;
		}
		if (c->tls_handshaking) {
			c->tls_handshaking = false;
			if (c->h->tls_ready)
				c->h->tls_ready(c->arg);
		}
		return;
	}
	const char *why = "error";
	if (what & BEV_EVENT_TIMEOUT)
		why = "timeout";
	else if (what & BEV_EVENT_EOF)
		why = "eof";
	else if (c->tls_handshaking)
		why = "tls handshake failed";
	c->h->closed(c->arg, why);
}

static void io_conn_setup(struct io_conn *c, struct bufferevent *bev)
{
	c->bev = bev;
	bufferevent_setcb(bev, io_conn_read_cb, io_conn_write_cb, io_conn_event_cb, c);
	/* Bound the input a client can make us hold (principle 3). */
	bufferevent_setwatermark(bev, EV_READ, 0, 256 * 1024);
	io_conn_set_timeout(c, c->read_s, c->write_s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void io_conn_raw_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg);

struct io_conn *io_conn_new(struct io_loop *l, int fd, const struct io_conn_handlers *h, void *arg)
{
	struct io_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->base = io_loop_base(l);
	c->h = h;
	c->arg = arg;
	c->fd = fd;
	evutil_make_socket_nonblocking(fd);
	struct bufferevent *bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		free(c);
		return NULL;
	}
	io_conn_setup(c, bev);
	return c;
}

void io_conn_free(struct io_conn *c)
{
	if (c == NULL)
		return;
	if (c->raw)
		evbuffer_remove_cb(bufferevent_get_output(c->raw), io_conn_raw_out_cb, c);
	if (c->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		if (ssl)
			SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
	}
	bufferevent_free(c->bev);
	free(c);
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
	return bufferevent_write(c->bev, p, n);
}

size_t io_conn_output_len(struct io_conn *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (c->raw)
		n += evbuffer_get_length(bufferevent_get_output(c->raw));
	return n;
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
	if (paused)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

struct io_conn *io_conn_connect(struct io_loop *l, const struct sockaddr *sa, socklen_t salen, unsigned timeout_s,
                                const struct io_conn_handlers *h, void *arg)
{
	struct io_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->base = io_loop_base(l);
	c->h = h;
	c->arg = arg;
	c->fd = -1;
	c->read_s = c->write_s = timeout_s;
	struct bufferevent *bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		free(c);
		return NULL;
	}
	io_conn_setup(c, bev);
	c->connecting = true;
	if (bufferevent_socket_connect(bev, sa, (int)salen) < 0) {
		bufferevent_free(bev);
		free(c);
		return NULL;
	}
	c->fd = bufferevent_getfd(bev);
	return c;
}

/* Under a TLS filter the records drain from the socket's own buffer,
 * after the filter's write callback has run: report `drained` from here
 * when both are empty, or a close waiting for it would never happen. */
static void io_conn_raw_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct io_conn *c = arg;
	if (info->n_deleted > 0 && evbuffer_get_length(b) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 && c->h->drained)
		c->h->drained(c->arg);
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

bool io_conn_is_tls(struct io_conn *c)
{
	return c->tls;
}

const char *io_conn_tls_version(struct io_conn *c)
{
	SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	return ssl ? SSL_get_version(ssl) : "none";
}

const char *io_conn_tls_cipher(struct io_conn *c)
{
	SSL *ssl = c->tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	return ssl ? SSL_get_cipher_name(ssl) : "none";
}

int io_fd_pending(int fd)
{
	int n = 0;
	if (ioctl(fd, FIONREAD, &n) < 0)
		return 0;
	return n;
}
