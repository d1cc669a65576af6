/*
 * intake — see intake.h. Owns the envelope copy, the pending buffer, the
 * queue writer (used only by its jobs) and itself: after abort or commit
 * it lives on until its last job is done, without any reference to the
 * session that made it.
 *
 * Jobs, at most one in flight, in order: a write job opens the queue file
 * if needed and appends one block; the last job (commit or abort) also
 * writes what is left and finishes. The buffers swap between the loop
 * (`pending`, filled by intake_write) and the job (`block`).
 */
#include "mta/intake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "queue/queue_commit.h"

enum intake_end { INTAKE_OPEN, INTAKE_COMMIT, INTAKE_ABORT };

struct intake {
	struct queue *q;
	struct io_workers *pool;
	struct queue_env env;         /* owned copy; used by the first job */
	struct queue_writer *w;       /* jobs only: NULL until opened */
	struct buf pending;           /* loop side: content not yet handed out */
	struct buf block;             /* the job's block */
	uint64_t length;
	bool inflight;
	bool was_busy;                /* intake_busy() was seen true: resume() owed */
	char *fields, *out_fields;    /* the tail, set before the commit (owned) */
	bool junk;
	enum intake_end end;          /* what the session asked for last */
	bool end_submitted;
	int err;                      /* first failure (sticky, loop side) */
	int job_err;
	int job_rc;
	void (*resume)(void *arg);
	void *arg;
	void (*done)(void *arg, int rc, int err);
	void *done_arg;
};

static void intake_free(struct intake *in)
{
	queue_env_free(&in->env);
	free(in->fields);
	free(in->out_fields);
	buf_free(&in->pending);
	buf_free(&in->block);
	free(in);
}

/* Worker: open if needed, append the block, and end when asked. */
static void intake_work(void *arg)
{
	struct intake *in = arg;
	in->job_err = 0;
	in->job_rc = 0;
	bool last = in->end_submitted;
	if (last && in->end == INTAKE_ABORT) {
		queue_writer_abort(in->w); /* NULL when nothing was ever written */
		in->w = NULL;
		return;
	}
	if (in->w == NULL && (in->w = queue_writer_open(in->q, &in->env)) == NULL)
		goto fail;
	if (in->block.len && queue_writer_write(in->w, in->block.data, in->block.len) < 0)
		goto fail;
	if (last && (in->fields || in->out_fields || in->junk) &&
	    queue_writer_tail(in->w, in->fields, in->out_fields, in->junk) < 0)
		goto fail;
	if (last) {
		int rc = queue_commit_durable(in->q, in->w);
		in->w = NULL; /* freed by the commit, on success or failure */
		if (rc < 0)
			goto fail;
	}
	return;
fail:
	in->job_rc = -1;
	in->job_err = errno ? errno : EIO;
	if (last && in->w) {
		queue_writer_abort(in->w);
		in->w = NULL;
	}
}

static void intake_done(void *arg);

static void intake_submit(struct intake *in, bool last)
{
	/* The pending content becomes the job's block. */
	struct buf t = in->block;
	in->block = in->pending;
	in->pending = t;
	buf_reset(&in->pending);
	in->end_submitted = last;
	in->inflight = true;
	io_workers_submit(in->pool, intake_work, intake_done, in);
}

/* The loop's next step: more to write, the end, or nothing. Reads in->w
 * only while no job runs (the pool's lock orders it after the job). */
static void intake_next(struct intake *in)
{
	if (in->inflight || in->end_submitted)
		return;
	switch (in->end) {
	case INTAKE_OPEN:
		if (in->err == 0 && in->pending.len >= INTAKE_BLOCK)
			intake_submit(in, false);
		return;
	case INTAKE_COMMIT:
		if (in->err) {
			/* Writing failed before: remove what was written and
			 * report the failure, from the pool like any end (the
			 * session must not be called back from inside its call). */
			in->end = INTAKE_ABORT;
			buf_reset(&in->pending);
		}
		intake_submit(in, true);
		return;
	case INTAKE_ABORT:
		if (in->w == NULL && in->done == NULL) {
			intake_free(in); /* nothing on disk, nobody to tell */
			return;
		}
		buf_reset(&in->pending);
		intake_submit(in, true);
		return;
	}
}

static void intake_done(void *arg)
{
	struct intake *in = arg;
	in->inflight = false;
	if (in->job_rc < 0 && in->err == 0)
		in->err = in->job_err;
	if (in->end_submitted) {
		if (in->done)
			in->done(in->done_arg, in->err ? -1 : 0, in->err);
		intake_free(in);
		return;
	}
	intake_next(in);
	if (in->was_busy && !(in->inflight && in->pending.len >= INTAKE_BLOCK)) {
		in->was_busy = false;
		if (in->resume)
			in->resume(in->arg);
	}
}

struct intake *intake_open(struct queue *q, struct io_workers *pool, const struct queue_env *env,
                           void (*resume)(void *arg), void *arg)
{
	struct intake *in = calloc(1, sizeof *in);
	if (in == NULL)
		return NULL;
	if (queue_env_dup(&in->env, env) < 0) {
		free(in);
		errno = ENOMEM;
		return NULL;
	}
	in->q = q;
	in->pool = pool;
	in->resume = resume;
	in->arg = arg;
	/* A block and a line of slack: a write never makes pending grow past
	 * two blocks, because the session stops at intake_busy(). */
	buf_init(&in->pending, 0);
	buf_init(&in->block, 0);
	return in;
}

int intake_write(struct intake *in, const void *p, size_t n)
{
	if (in->err) {
		errno = in->err;
		return -1;
	}
	if (buf_append(&in->pending, p, n) < 0) {
		in->err = ENOMEM;
		errno = ENOMEM;
		return -1;
	}
	in->length += n;
	intake_next(in);
	return 0;
}

bool intake_busy(struct intake *in)
{
	bool busy = in->inflight && in->pending.len >= INTAKE_BLOCK;
	if (busy)
		in->was_busy = true;
	return busy;
}

uint64_t intake_length(const struct intake *in)
{
	return in->length;
}

int intake_set_tail(struct intake *in, const char *fields, const char *out_fields, bool junk)
{
	free(in->fields);
	free(in->out_fields);
	in->fields = fields ? strdup(fields) : NULL;
	in->out_fields = out_fields ? strdup(out_fields) : NULL;
	in->junk = junk;
	if ((fields && in->fields == NULL) || (out_fields && in->out_fields == NULL)) {
		in->err = ENOMEM;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void intake_commit(struct intake *in, void (*done)(void *arg, int rc, int err), void *arg)
{
	in->done = done;
	in->done_arg = arg;
	in->end = INTAKE_COMMIT;
	in->resume = NULL;
	intake_next(in);
}

void intake_abort(struct intake *in)
{
	if (in == NULL)
		return;
	in->end = INTAKE_ABORT;
	in->resume = NULL;
	in->done = NULL;
	intake_next(in);
}
