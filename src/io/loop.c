/*
 * loop — the libevent event base, signals and timers behind io.h.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "io/io_internal.h"

struct io_loop {
	struct event_base *base;
	struct event *signals[8];
	size_t nsignals;
};

struct io_timer {
	struct event *ev;
	void (*cb)(void *arg);
	void *arg;
};

struct io_loop *io_loop_new(void)
{
	struct io_loop *l = calloc(1, sizeof *l);
	if (l == NULL)
		return NULL;
	l->base = event_base_new();
	if (l->base == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void io_loop_free(struct io_loop *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nsignals; i++)
		event_free(l->signals[i]);
	event_base_free(l->base);
	free(l);
}

int io_loop_run(struct io_loop *l)
{
	return event_base_dispatch(l->base);
}

void io_loop_exit(struct io_loop *l)
{
	event_base_loopbreak(l->base);
}

struct event_base *io_loop_base(struct io_loop *l)
{
	return l->base;
}

struct io_signal_arg {
	void (*cb)(void *);
	void *arg;
};

static void io_loop_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct io_signal_arg *a = arg;
	a->cb(a->arg);
}

int io_loop_signal(struct io_loop *l, int signo, void (*cb)(void *arg), void *arg)
{
	if (l->nsignals >= sizeof l->signals / sizeof l->signals[0])
		return -1;
	/* The small closure lives as long as the process: signals are set once. */
	struct io_signal_arg *a = malloc(sizeof *a);
	if (a == NULL)
		return -1;
	a->cb = cb;
	a->arg = arg;
	struct event *ev = evsignal_new(l->base, signo, io_loop_signal_cb, a);
	if (ev == NULL || evsignal_add(ev, NULL) < 0) {
		free(a);
		return -1;
	}
	l->signals[l->nsignals++] = ev;
	return 0;
}

static void io_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct io_timer *t = arg;
	t->cb(t->arg);
}

struct io_timer *io_timer_new(struct io_loop *l, void (*cb)(void *arg), void *arg)
{
	struct io_timer *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	t->ev = evtimer_new(l->base, io_timer_cb, t);
	if (t->ev == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void io_timer_start(struct io_timer *t, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(t->ev, &tv);
}

void io_timer_stop(struct io_timer *t)
{
	evtimer_del(t->ev);
}

void io_timer_free(struct io_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}
