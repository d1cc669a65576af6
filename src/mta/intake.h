/*
 * intake — the loop-side half of receiving a message into the queue: the
 * content a session hands over is buffered and written by jobs on a
 * worker pool, one at a time and in order, so that the event loop never
 * creates, writes or flushes a queue file itself (docs/architecture.md,
 * "Threads"). A message of up to INTAKE_BLOCK octets costs one job: open,
 * write, fsync, rename and the shared flush of msg/ together, at commit.
 *
 * A failure of the disk is sticky: every later write and the commit fail
 * with the first errno, so the session answers 452 (ENOSPC, EDQUOT) or
 * 451 at the end of data, never 250.
 *
 * Memory: at most INTAKE_BLOCK octets waiting plus one block being
 * written; the session stops feeding its engine while intake_busy() is
 * true and resumes when resume() is called.
 */
#ifndef TERN_INTAKE_H
#define TERN_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"
#include "queue/queue_store.h"

#define INTAKE_BLOCK (64 * 1024) /* octets handed to a worker at a time */

struct intake;

/* Begin a message. env is copied. resume(arg) is called on the loop when
 * intake_busy() was true and no longer is. No I/O happens here. */
struct intake *intake_open(struct queue *q, struct io_workers *pool, const struct queue_env *env,
                           void (*resume)(void *arg), void *arg);
/* Content (LF line ends). 0, or -1 with errno once writing has failed. */
int intake_write(struct intake *in, const void *p, size_t n);
/* True while a full block waits behind the one being written: stop
 * feeding until resume(). */
bool intake_busy(struct intake *in);
uint64_t intake_length(const struct intake *in);
/* What is known only once the content has passed, for the queue file's
 * tail (struct queue_env: fields, out_fields, junk); copied; before
 * intake_commit. 0, or -1 with ENOMEM (the commit then fails). */
int intake_set_tail(struct intake *in, const char *fields, const char *out_fields, bool junk);
/* Make the message durable (queue_commit_durable on the pool), then
 * done(arg, rc, err) on the loop: rc 0 accepted, -1 with err. The intake
 * is freed by then; resume() is not called again. */
void intake_commit(struct intake *in, void (*done)(void *arg, int rc, int err), void *arg);
/* Give up the message; its temporary file is removed on the pool. No
 * callback follows. NULL is fine. */
void intake_abort(struct intake *in);

#endif
