/*
 * delivery — one attempt at one queued message, on a worker thread: every
 * pending local recipient goes into its Maildir, each success is recorded
 * in the queue's state file, and the message leaves the queue once no
 * recipient is pending. Remote recipients wait for the relay.
 */
#ifndef TERN_DELIVERY_H
#define TERN_DELIVERY_H

#include <stdbool.h>
#include <time.h>

#include "conf/conf.h"
#include "queue/queue_store.h"

struct delivery_result {
	bool finished;      /* the message left the queue (or is unreadable) */
	time_t next_try;    /* when to try again, if not finished */
};

/* Blocking. `conf` is read only. */
void delivery_attempt(const struct conf *conf, const char *id, struct delivery_result *res);
/* The wait before attempt number `attempts` (1-based), from queue-retry. */
unsigned delivery_backoff(const struct conf *conf, unsigned attempts);

#endif
