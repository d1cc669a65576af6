/*
 * workers — a small thread pool for the blocking work the event loop must
 * never do: fsync, Maildir writes, password hashing. Jobs run in FIFO
 * order on any worker; each job's done() runs later on the loop thread,
 * woken through a pipe. Owns its threads, queues and the pipe.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"
#include "io/io_internal.h"

struct io_job {
	void (*work)(void *);
	void (*done)(void *);
	void *arg;
	struct io_job *next;
};

struct io_workers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct io_job *head, *tail;      /* waiting to run */
	struct io_job *done_head, *done_tail; /* finished, done() owed */
	pthread_t *threads;
	int nthreads;
	bool stopping;
	int pipefd[2];
	struct event *ev;
};

static void *io_workers_main(void *arg)
{
	struct io_workers *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->head == NULL)
			break;
		struct io_job *j = w->head;
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		j->work(j->arg);
		pthread_mutex_lock(&w->mu);
		j->next = NULL;
		bool wake = w->done_head == NULL;
		if (w->done_tail)
			w->done_tail->next = j;
		else
			w->done_head = j;
		w->done_tail = j;
		if (wake) {
			char c = 1;
			ssize_t r = write(w->pipefd[1], &c, 1);
			(void)r;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void io_workers_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct io_workers *w = arg;
	char tmp[64];
	while (read(fd, tmp, sizeof tmp) > 0)
		;
	pthread_mutex_lock(&w->mu);
	struct io_job *j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (j) {
		struct io_job *next = j->next;
		if (j->done)
			j->done(j->arg);
		free(j);
		j = next;
	}
}

struct io_workers *io_workers_new(struct io_loop *l, int nthreads)
{
	struct io_workers *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pipe2(w->pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
		fatal("workers: pipe: %s", "cannot create");
	w->ev = event_new(io_loop_base(l), w->pipefd[0], EV_READ | EV_PERSIST, io_workers_wake_cb, w);
	event_add(w->ev, NULL);
	w->threads = calloc((size_t)nthreads, sizeof *w->threads);
	w->nthreads = nthreads;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&w->threads[i], NULL, io_workers_main, w) != 0)
			fatal("workers: cannot start thread");
	return w;
}

void io_workers_submit(struct io_workers *w, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
	struct io_job *j = malloc(sizeof *j);
	if (j == NULL)
		panic("workers: out of memory");
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Finish every queued job (their done() callbacks run here too), then stop. */
void io_workers_free(struct io_workers *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	io_workers_wake_cb(w->pipefd[0], 0, w);
	event_free(w->ev);
	close(w->pipefd[0]);
	close(w->pipefd[1]);
	free(w->threads);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
