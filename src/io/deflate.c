/*
 * deflate — COMPRESS=DEFLATE's streams over zlib. See deflate.h.
 */
#include "io/deflate.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#define IO_DEFLATE_CHUNK 16384
/* Level 6, zlib's default and Dovecot's: IMAP text compresses well long
 * before the costly levels. A smaller memLevel than zlib's 8 halves the
 * deflate state per session for a few per cent of ratio. */
#define IO_DEFLATE_LEVEL 6
#define IO_DEFLATE_MEMLEVEL 7

struct io_deflate {
	z_stream in, out;
	bool in_ok, out_ok;
	bool broken;
	void (*failed)(void *arg);
	void *arg;
};

struct io_deflate *io_deflate_new(void (*failed)(void *arg), void *arg)
{
	struct io_deflate *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->failed = failed;
	d->arg = arg;
	/* negative window bits: raw DEFLATE, as RFC 4978 section 3 says */
	d->in_ok = inflateInit2(&d->in, -15) == Z_OK;
	d->out_ok = deflateInit2(&d->out, IO_DEFLATE_LEVEL, Z_DEFLATED, -15, IO_DEFLATE_MEMLEVEL,
	                         Z_DEFAULT_STRATEGY) == Z_OK;
	if (!d->in_ok || !d->out_ok) {
		io_deflate_free(d);
		return NULL;
	}
	return d;
}

void io_deflate_free(void *arg)
{
	struct io_deflate *d = arg;
	if (d == NULL)
		return;
	if (d->in_ok)
		inflateEnd(&d->in);
	if (d->out_ok)
		deflateEnd(&d->out);
	free(d);
}

enum bufferevent_filter_result io_deflate_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                                             enum bufferevent_flush_mode mode, void *arg)
{
	(void)mode;
	struct io_deflate *d = arg;
	bool produced = false;
	if (d->broken) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return BEV_ERROR;
	}
	for (;;) {
		if (limit >= 0 && evbuffer_get_length(dst) >= (size_t)limit)
			return BEV_OK; /* libevent comes back when the owner has consumed */
		struct evbuffer_iovec in;
		if (evbuffer_peek(src, -1, NULL, &in, 1) < 1 || in.iov_len == 0)
			return produced ? BEV_OK : BEV_NEED_MORE;
		struct evbuffer_iovec out;
		if (evbuffer_reserve_space(dst, IO_DEFLATE_CHUNK, &out, 1) < 1)
			return BEV_ERROR;
		d->in.next_in = in.iov_base;
		d->in.avail_in = (uInt)(in.iov_len > UINT32_MAX ? UINT32_MAX : in.iov_len);
		d->in.next_out = out.iov_base;
		d->in.avail_out = (uInt)(out.iov_len > IO_DEFLATE_CHUNK ? IO_DEFLATE_CHUNK : out.iov_len);
		size_t room = d->in.avail_out, given = d->in.avail_in;
		int rc = inflate(&d->in, Z_SYNC_FLUSH);
		size_t made = room - d->in.avail_out, used = given - d->in.avail_in;
		out.iov_len = made;
		evbuffer_commit_space(dst, &out, 1);
		evbuffer_drain(src, used);
		if (made)
			produced = true;
		/* A stream that ends, or does not decode, ends the session: the
		 * client cannot go back to plaintext (RFC 4978 section 4). */
		if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR)) {
			d->broken = true;
			evbuffer_drain(src, evbuffer_get_length(src));
			d->failed(d->arg);
			return BEV_ERROR;
		}
		if (made == 0 && used == 0)
			return produced ? BEV_OK : BEV_NEED_MORE;
	}
}

/* Run the deflater over what it holds with flush, into dst. */
static int io_deflate_run(struct io_deflate *d, struct evbuffer *dst, int flush)
{
	do {
		struct evbuffer_iovec out;
		if (evbuffer_reserve_space(dst, IO_DEFLATE_CHUNK, &out, 1) < 1)
			return -1;
		d->out.next_out = out.iov_base;
		d->out.avail_out = (uInt)(out.iov_len > IO_DEFLATE_CHUNK ? IO_DEFLATE_CHUNK : out.iov_len);
		size_t room = d->out.avail_out;
		int rc = deflate(&d->out, flush);
		out.iov_len = room - d->out.avail_out;
		evbuffer_commit_space(dst, &out, 1);
		if (rc == Z_STREAM_ERROR)
			return -1;
	} while (d->out.avail_out == 0 || d->out.avail_in > 0);
	return 0;
}

enum bufferevent_filter_result io_deflate_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                                              enum bufferevent_flush_mode mode, void *arg)
{
	(void)limit; /* the socket's output has no high-water mark */
	(void)mode;
	struct io_deflate *d = arg;
	if (evbuffer_get_length(src) == 0)
		return BEV_OK;
	struct evbuffer_iovec in;
	while (evbuffer_peek(src, -1, NULL, &in, 1) >= 1 && in.iov_len > 0) {
		size_t n = in.iov_len > IO_DEFLATE_CHUNK * 4 ? IO_DEFLATE_CHUNK * 4 : in.iov_len;
		d->out.next_in = in.iov_base;
		d->out.avail_in = (uInt)n;
		if (io_deflate_run(d, dst, Z_NO_FLUSH) < 0)
			return BEV_ERROR;
		evbuffer_drain(src, n);
	}
	d->out.next_in = NULL;
	d->out.avail_in = 0;
	return io_deflate_run(d, dst, Z_SYNC_FLUSH) < 0 ? BEV_ERROR : BEV_OK;
}
