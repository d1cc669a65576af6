/*
 * reader — see reader.h. Owns its two buffers, the descriptor and the
 * source's argument. At most one read is in flight; it fills `next`
 * while the owner consumes `cur`.
 */
#include "io/reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct io_reader {
	struct io_workers *pool;
	struct io_reader_source src;
	void (*ready)(void *arg);
	void *arg;
	int fd;                 /* -1 until the first read opened it */
	uint64_t left;          /* octets still to read from the file */
	char *cur, *next;       /* IO_READER_CHUNK each (owned) */
	size_t cur_len, cur_pos;
	size_t next_len;
	bool next_ready;        /* next holds a finished read */
	bool inflight;          /* a read job refers to us */
	bool waiting;           /* peek answered 0: ready() is owed */
	bool dying;             /* freed by the owner while a read runs */
	int err;                /* the first failure (sticky) */
	/* the job's result */
	size_t job_n;
	int job_err;
	bool job_eof;
};

static void io_reader_destroy(struct io_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->src.free_arg)
		r->src.free_arg(r->src.arg);
	free(r->cur);
	free(r->next);
	free(r);
}

/* Worker: open on first use, then fill `next`. Touches only the job's
 * fields and `next`, which nobody else uses while inflight is set. */
static void io_reader_work(void *arg)
{
	struct io_reader *r = arg;
	r->job_n = 0;
	r->job_err = 0;
	r->job_eof = false;
	if (r->fd < 0) {
		r->fd = r->src.open(r->src.arg);
		if (r->fd < 0) {
			r->job_err = errno ? errno : EIO;
			return;
		}
	}
	size_t want = r->left < IO_READER_CHUNK ? (size_t)r->left : IO_READER_CHUNK;
	while (r->job_n < want) {
		ssize_t k = read(r->fd, r->next + r->job_n, want - r->job_n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r->job_err = errno;
			return;
		}
		if (k == 0) {
			if (r->src.len == IO_READER_TO_EOF)
				r->job_eof = true;
			else
				r->job_err = EIO; /* shorter than it was said to be */
			return;
		}
		r->job_n += (size_t)k;
	}
}

static void io_reader_start(struct io_reader *r);

static void io_reader_done(void *arg)
{
	struct io_reader *r = arg;
	r->inflight = false;
	if (r->dying) {
		io_reader_destroy(r);
		return;
	}
	if (r->job_err) {
		r->err = r->job_err;
	} else {
		r->next_len = r->job_n;
		r->next_ready = r->job_n > 0;
		r->left = r->job_eof ? 0 : r->left - r->job_n;
	}
	if (r->waiting) {
		r->waiting = false;
		r->ready(r->arg);
	}
}

static void io_reader_start(struct io_reader *r)
{
	if (r->inflight || r->next_ready || r->left == 0 || r->err)
		return;
	r->inflight = true;
	io_workers_submit(r->pool, io_reader_work, io_reader_done, r);
}

struct io_reader *io_reader_new(struct io_workers *pool, const struct io_reader_source *src,
                                void (*ready)(void *arg), void *arg)
{
	struct io_reader *r = calloc(1, sizeof *r);
	if (r)
		r->cur = malloc(IO_READER_CHUNK);
	if (r && r->cur)
		r->next = malloc(IO_READER_CHUNK);
	if (r == NULL || r->next == NULL) {
		if (r)
			free(r->cur);
		free(r);
		if (src->free_arg)
			src->free_arg(src->arg);
		errno = ENOMEM;
		return NULL;
	}
	r->pool = pool;
	r->src = *src;
	r->ready = ready;
	r->arg = arg;
	r->fd = -1;
	r->left = src->len;
	io_reader_start(r);
	return r;
}

int io_reader_peek(struct io_reader *r, const char **p, size_t *n)
{
	if (r->cur_pos == r->cur_len && r->next_ready) {
		/* The read-ahead becomes current; its buffer is free again. */
		char *t = r->cur;
		r->cur = r->next;
		r->next = t;
		r->cur_len = r->next_len;
		r->cur_pos = 0;
		r->next_ready = false;
		io_reader_start(r);
	}
	if (r->cur_pos < r->cur_len) {
		*p = r->cur + r->cur_pos;
		*n = r->cur_len - r->cur_pos;
		return 1;
	}
	if (r->err) {
		errno = r->err;
		return -1;
	}
	if (r->left == 0 && !r->inflight) {
		*p = NULL;
		*n = 0;
		return 1;
	}
	r->waiting = true;
	return 0;
}

void io_reader_consume(struct io_reader *r, size_t n)
{
	size_t have = r->cur_len - r->cur_pos;
	r->cur_pos += n < have ? n : have;
}

void io_reader_free(struct io_reader *r)
{
	if (r == NULL)
		return;
	if (r->inflight) {
		r->dying = true;
		return;
	}
	io_reader_destroy(r);
}
