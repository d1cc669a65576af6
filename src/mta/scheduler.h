/*
 * scheduler — which queued message is tried when. Every accepted or
 * recovered message is tried at once; failures wait per `queue-retry`
 * (MIN, doubling, at most MAX); the schedule is rebuilt from the queue's
 * state files on start, so it survives restarts. Runs on the loop; the
 * deliveries themselves run on the delivery pool (mta/delivery.c).
 */
#ifndef TERN_SCHEDULER_H
#define TERN_SCHEDULER_H

#include <stdbool.h>
#include <time.h>

struct server;
struct scheduler;

struct scheduler *scheduler_new(struct server *srv);
void scheduler_free(struct scheduler *s);
/* A message to try as soon as possible (next_try 0) or at next_try. */
void scheduler_add(struct scheduler *s, const char *id, time_t next_try);
/* Try every waiting message now. */
void scheduler_flush(struct scheduler *s);
/*
 * Forget id so that it is never tried again (`tern queue delete`): a
 * waiting or due entry is dropped at once; an attempt in flight finishes
 * (it cannot be stopped halfway through a mailbox write) but is not
 * rescheduled. Removing the queue files is the caller's job, once
 * scheduler_is_delivering(id) is false. False when id was not scheduled.
 */
bool scheduler_remove(struct scheduler *s, const char *id);
/* Is an attempt at id running right now? */
bool scheduler_is_delivering(const struct scheduler *s, const char *id);
/* Call cb for every id with an attempt in flight. */
void scheduler_each_delivering(const struct scheduler *s, void (*cb)(void *arg, const char *id), void *arg);
/* Deliveries still running (shutdown waits for them). */
unsigned scheduler_busy(const struct scheduler *s);
/* Stop starting deliveries (shutdown). */
void scheduler_stop(struct scheduler *s);

#endif
