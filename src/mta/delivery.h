/*
 * delivery — the blocking halves of one attempt at one queued message, on
 * a worker thread. delivery_attempt() puts every pending local recipient
 * into its Maildir and records it; remote recipients are handed back for
 * the relay (mta/outbound.c), whose results delivery_record() writes
 * down. A recipient that failed for good, or whose message outlived
 * queue-lifetime, is bounced (mta/bounce.c). The message leaves the queue
 * once no recipient is pending.
 */
#ifndef TERN_DELIVERY_H
#define TERN_DELIVERY_H

#include <stdbool.h>
#include <time.h>

#include "conf/conf.h"
#include "mta/relay.h"
#include "queue/queue_store.h"

struct delivery_result {
	bool finished;      /* the message left the queue (or is unreadable) */
	time_t next_try;    /* when to try again, if not finished */
	/* remote recipients waiting for the relay (env is owned, NULL if none) */
	struct queue_env *env;
	size_t *remote;     /* indices into env->rcpts (owned) */
	size_t nremote;
	void *failures;     /* local failures waiting to be bounced with the remote ones (owned) */
	char bounce_id[QUEUE_ID_MAX]; /* a report was queued: schedule it ("" if none) */
};

/* Blocking. `conf` is read only. */
void delivery_attempt(const struct conf *conf, const char *id, struct delivery_result *res);
/* Record the relay's results for res->remote (blocking), then finish as
 * delivery_attempt does. Frees res->env and res->remote. */
void delivery_record(const struct conf *conf, struct delivery_result *res, const struct relay_rcpt *rr, size_t n);
void delivery_result_free(struct delivery_result *res);
/* When this process started: older messages get the thorough duplicate
 * check of maildir_deliver_keyed. */
void delivery_set_start(time_t t);
/* The wait before attempt number `attempts` (1-based), from queue-retry. */
unsigned delivery_backoff(const struct conf *conf, unsigned attempts);

#endif
