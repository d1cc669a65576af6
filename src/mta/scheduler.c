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
#include "mta/server.h"
#include "queue/queue_store.h"

#define SCHED_INFLIGHT 4

struct sched_entry {
	char id[QUEUE_ID_MAX];
	time_t next_try;
	struct sched_entry *next;
};

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
 * `waiting` (due later), or in flight (owned by their job). So finishing
 * a job and starting the next cost O(1), whatever the queue's size; the
 * waiting list is scanned only when its earliest entry falls due.
 */
struct scheduler {
	struct server *srv;
	struct sched_list ready, waiting;
	struct io_timer *timer;
	unsigned inflight;
	bool stopped;
	time_t timer_at;      /* when the timer fires; 0 when idle */
};

static void scheduler_run(struct scheduler *s);

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

static void sched_list_free(struct sched_list *l)
{
	struct sched_entry *e;
	while ((e = sched_list_pop(l)) != NULL)
		free(e);
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
	io_timer_free(s->timer);
	free(s);
}

/* Arm the timer for the earliest waiting entry. */
static void scheduler_arm(struct scheduler *s)
{
	time_t earliest = 0;
	for (struct sched_entry *e = s->waiting.head; e; e = e->next)
		if (earliest == 0 || e->next_try < earliest)
			earliest = e->next_try;
	if (earliest == 0 || s->stopped || (s->timer_at && s->timer_at <= earliest))
		return;
	time_t now = time(NULL);
	s->timer_at = earliest;
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
	delivery_attempt(j->s->srv->conf, j->e->id, &j->res);
}

static void scheduler_done(void *arg)
{
	struct sched_job *j = arg;
	struct scheduler *s = j->s;
	struct sched_entry *e = j->e;
	s->inflight--;
	if (j->res.finished) {
		free(e);
	} else {
		e->next_try = j->res.next_try;
		sched_list_push(&s->waiting, e);
		scheduler_arm(s);
	}
	free(j);
	scheduler_run(s);
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

unsigned scheduler_busy(const struct scheduler *s)
{
	return s->inflight;
}

void scheduler_stop(struct scheduler *s)
{
	s->stopped = true;
	io_timer_stop(s->timer);
}
