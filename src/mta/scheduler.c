/*
 * scheduler — the in-memory schedule of queued messages. See scheduler.h.
 *
 * Entries live in a list in id order (ids sort by arrival). A timer wakes
 * the scheduler at the earliest due entry; at most SCHED_INFLIGHT
 * attempts run at once so that deliveries never starve the commits of
 * incoming mail on the worker pools.
 */
#include "mta/scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "mta/delivery.h"
#include "mta/outbound.h"
#include "mta/server.h"
#include "queue/queue_store.h"

#define SCHED_INFLIGHT 32 /* attempts in flight; local ones queue on the delivery pool */

struct sched_entry {
	char id[QUEUE_ID_MAX];
	time_t next_try;
	bool removed;         /* deleted while in flight: do not reschedule */
	struct delivery_settled *settled; /* outcomes not yet on disk (owned): see delivery.h */
	size_t nsettled;
	struct sched_entry *next;
};

static void sched_entry_free(struct sched_entry *e)
{
	if (e == NULL)
		return;
	if (e->nsettled)
		log_msg("%s warning=\"%zu outcome(s) forgotten without a record\"", e->id, e->nsettled);
	free(e->settled);
	free(e);
}

/* A singly linked FIFO. */
struct sched_list {
	struct sched_entry *head, *tail;
};

struct sched_job {
	struct scheduler *s;
	struct sched_entry *e;
	struct delivery_result res;
};

/*
 * Entries are in exactly one place: `ready` (due, in arrival order),
 * `waiting` (due later), or `running` (at most SCHED_INFLIGHT, each also
 * referred to by its job). So finishing a job and starting the next cost
 * O(1), whatever the queue's size; the waiting list is scanned only when
 * its earliest entry falls due, or for a `tern queue delete`.
 */
struct scheduler {
	struct server *srv;
	struct sched_list ready, waiting, running;
	struct io_timer *timer;
	unsigned inflight;
	bool stopped;
	time_t timer_at;      /* when the timer fires; 0 when idle */
};

static void scheduler_run(struct scheduler *s);
static void scheduler_arm(struct scheduler *s);

static void sched_list_push(struct sched_list *l, struct sched_entry *e)
{
	e->next = NULL;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static struct sched_entry *sched_list_pop(struct sched_list *l)
{
	struct sched_entry *e = l->head;
	if (e) {
		l->head = e->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return e;
}

/* Unlink the entry `want`, or else the first with this id; NULL when the
 * list has none. O(n). */
static struct sched_entry *sched_list_take(struct sched_list *l, const struct sched_entry *want, const char *id)
{
	struct sched_entry *prev = NULL;
	for (struct sched_entry *e = l->head; e; prev = e, e = e->next) {
		if (want ? e != want : strcmp(e->id, id) != 0)
			continue;
		if (prev)
			prev->next = e->next;
		else
			l->head = e->next;
		if (l->tail == e)
			l->tail = prev;
		e->next = NULL;
		return e;
	}
	return NULL;
}

static void sched_list_free(struct sched_list *l)
{
	struct sched_entry *e;
	while ((e = sched_list_pop(l)) != NULL)
		sched_entry_free(e);
}

static void scheduler_timer_cb(void *arg)
{
	struct scheduler *s = arg;
	s->timer_at = 0;
	/* Move what fell due to the ready list, keep the rest waiting. */
	time_t now = time(NULL);
	struct sched_list still = {0};
	struct sched_entry *e;
	while ((e = sched_list_pop(&s->waiting)) != NULL)
		sched_list_push(e->next_try <= now ? &s->ready : &still, e);
	s->waiting = still;
	/* Entries added while the timer was armed for an earlier instant
	 * relied on this firing: the timer must go on for them. */
	scheduler_arm(s);
	scheduler_run(s);
}

struct scheduler *scheduler_new(struct server *srv)
{
	struct scheduler *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->srv = srv;
	s->timer = io_timer_new(srv->loop, scheduler_timer_cb, s);
	return s;
}

void scheduler_free(struct scheduler *s)
{
	if (s == NULL)
		return;
	sched_list_free(&s->ready);
	sched_list_free(&s->waiting);
	/* Entries in flight belong to their jobs, which free them. */
	io_timer_free(s->timer);
	free(s);
}

/* Arm the timer for the earliest waiting entry. An entry due already
 * (next_try in the past, or 0) makes the timer fire at once: "0" is a
 * time like any other here, never "no timer". */
static void scheduler_arm(struct scheduler *s)
{
	const struct sched_entry *first = s->waiting.head;
	if (first == NULL || s->stopped)
		return;
	time_t earliest = first->next_try;
	for (const struct sched_entry *e = first->next; e; e = e->next)
		if (e->next_try < earliest)
			earliest = e->next_try;
	if (s->timer_at && s->timer_at <= earliest)
		return;
	time_t now = time(NULL);
	s->timer_at = earliest > now ? earliest : now;
	io_timer_start(s->timer, earliest > now ? (uint64_t)(earliest - now) * 1000 : 0);
}

void scheduler_add(struct scheduler *s, const char *id, time_t next_try)
{
	struct sched_entry *e = calloc(1, sizeof *e);
	if (e == NULL) {
		log_msg("%s scheduler: out of memory, delivery waits for a restart", id);
		return;
	}
	strncpy(e->id, id, sizeof e->id - 1);
	e->next_try = next_try;
	if (next_try > time(NULL)) {
		sched_list_push(&s->waiting, e);
		scheduler_arm(s);
	} else {
		sched_list_push(&s->ready, e);
		scheduler_run(s);
	}
}

static void scheduler_work(void *arg)
{
	struct sched_job *j = arg;
	delivery_attempt(j->s->srv->conf, j->s->srv->signer, j->s->srv->queue, j->e->id, j->e->settled, j->e->nsettled, &j->res);
}

/* The attempt is over: reschedule or forget the entry. */
static void scheduler_finish(void *arg)
{
	struct sched_job *j = arg;
	struct scheduler *s = j->s;
	struct sched_entry *e = j->e;
	if (j->res.bounce_id[0])
		scheduler_add(s, j->res.bounce_id, 0);
	s->inflight--;
	sched_list_take(&s->running, e, NULL);
	/* The attempt's view of what is settled replaces the entry's. */
	free(e->settled);
	e->settled = j->res.settled;
	e->nsettled = j->res.nsettled;
	j->res.settled = NULL;
	j->res.nsettled = 0;
	if (j->res.finished || e->removed) {
		if (j->res.finished)
			e->nsettled = 0; /* recorded by the removal */
		sched_entry_free(e);
	} else {
		/* Never at once again: an attempt that failed on our side
		 * (no memory, an unreadable file) must not spin. */
		time_t now = time(NULL);
		e->next_try = j->res.next_try > now ? j->res.next_try : now + 1;
		sched_list_push(&s->waiting, e);
		scheduler_arm(s);
	}
	free(j);
	scheduler_run(s);
}

static void scheduler_done(void *arg)
{
	struct sched_job *j = arg;
	if (j->res.env && !j->e->removed) {
		/* remote recipients: the relay runs on the loop, then records */
		outbound_run(j->s->srv, &j->res, scheduler_finish, j);
		return;
	}
	delivery_result_free(&j->res);
	scheduler_finish(j);
}

static void scheduler_run(struct scheduler *s)
{
	while (!s->stopped && s->inflight < SCHED_INFLIGHT && s->ready.head) {
		struct sched_job *j = calloc(1, sizeof *j);
		if (j == NULL)
			return;
		j->s = s;
		j->e = sched_list_pop(&s->ready);
		s->inflight++;
		sched_list_push(&s->running, j->e);
		io_workers_submit(s->srv->delivery_pool, scheduler_work, scheduler_done, j);
	}
}

void scheduler_flush(struct scheduler *s)
{
	struct sched_entry *e;
	while ((e = sched_list_pop(&s->waiting)) != NULL)
		sched_list_push(&s->ready, e);
	scheduler_run(s);
}

bool scheduler_remove(struct scheduler *s, const char *id)
{
	struct sched_entry *e = sched_list_take(&s->ready, NULL, id);
	if (e == NULL)
		e = sched_list_take(&s->waiting, NULL, id);
	if (e) {
		e->nsettled = 0; /* deleted: nothing more will be recorded */
		sched_entry_free(e); /* the timer may fire for it: it then finds nothing */
		return true;
	}
	for (e = s->running.head; e; e = e->next) {
		if (strcmp(e->id, id) == 0) {
			e->removed = true;
			return true;
		}
	}
	return false;
}

bool scheduler_is_delivering(const struct scheduler *s, const char *id)
{
	for (const struct sched_entry *e = s->running.head; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return true;
	return false;
}

void scheduler_each_delivering(const struct scheduler *s, void (*cb)(void *arg, const char *id), void *arg)
{
	for (const struct sched_entry *e = s->running.head; e; e = e->next)
		cb(arg, e->id);
}

unsigned scheduler_busy(const struct scheduler *s)
{
	return s->inflight;
}

void scheduler_stop(struct scheduler *s)
{
	s->stopped = true;
	io_timer_stop(s->timer);
}
