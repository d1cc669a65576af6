/*
 * delivery — the blocking halves of one attempt at one queued message, on
 * a worker thread. delivery_attempt() puts every pending local recipient
 * into its Maildir and records it; remote recipients are handed back for
 * the relay (mta/outbound.c), whose results delivery_record() writes
 * down. A recipient that failed for good, or whose message outlived
 * queue-lifetime, is bounced (mta/bounce.c). The message leaves the queue
 * once no recipient is pending.
 *
 * Failure rule (docs/queue.md): no failed read, flush or state write ever
 * removes, forgets or repeats a delivery. A message that cannot be read is
 * retried later, not dropped; an outcome whose record could not be
 * written is carried in memory (`settled`) to the next attempt, which
 * treats the recipient as finished and writes the record again first.
 */
#ifndef TERN_DELIVERY_H
#define TERN_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "mta/relay.h"
#include "queue/queue_store.h"

/* A recipient known to be done or failed (bounced) whose state record is
 * not known to be on disk. */
struct delivery_settled {
	size_t idx;
	enum queue_rcpt_state state; /* QUEUE_RCPT_DONE or QUEUE_RCPT_FAILED */
};

struct delivery_result {
	bool finished;      /* the message left the queue (or was already gone) */
	time_t next_try;    /* when to try again, if not finished (never 0) */
	/* remote recipients waiting for the relay (env is owned, NULL if none) */
	struct queue_env *env;
	size_t *remote;     /* indices into env->rcpts (owned) */
	size_t nremote;
	void *failures;     /* local failures waiting to be bounced with the remote ones (owned) */
	char bounce_id[QUEUE_ID_MAX]; /* a report was queued: schedule it ("" if none) */
	/* outcomes not yet recorded: hand them to the next attempt (owned) */
	struct delivery_settled *settled;
	size_t nsettled;
};

/* Blocking. `conf` is read only. `prior` (nprior entries, may be NULL):
 * what the previous attempt settled without recording it. */
struct signer;
/* signer: the dkim-keys that sign a bounce (NULL: unsigned). */
void delivery_attempt(const struct conf *conf, const struct signer *signer, struct queue *q, const char *id, const struct delivery_settled *prior,
                      size_t nprior, struct delivery_result *res);
/* Record the relay's results for res->remote (blocking), then finish as
 * delivery_attempt does. Frees res->env and res->remote. */
void delivery_record(const struct conf *conf, const struct signer *signer, struct queue *q, struct delivery_result *res, const struct relay_rcpt *rr,
                     size_t n);
/* Frees what res owns but `settled`, which the scheduler takes. */
void delivery_result_free(struct delivery_result *res);
/* The wait before attempt number `attempts` (1-based), from queue-retry. */
unsigned delivery_backoff(const struct conf *conf, unsigned attempts);

#endif
