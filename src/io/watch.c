/*
 * watch — directories watched with inotify(7). See watch.h.
 *
 * The kernel gives one watch descriptor per directory (adding the same
 * directory again returns the same one), so subscriptions are grouped
 * by descriptor in a small hash table, and the kernel watch goes when
 * its last subscriber does. Events are read in batches from the one
 * non-blocking descriptor; every subscription touched is marked, then
 * the marked ones are called, each once, from a list taken before any
 * callback runs (a callback may remove any subscription: removal only
 * unlinks and defers the free to the end of the batch).
 */
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "io/io_internal.h"
#include "io/watch.h"

#define IO_WATCH_BUCKETS 1024
#define IO_WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

struct io_watch_dir {
	int wd;
	struct io_watch_sub *subs;
	struct io_watch_dir *next;    /* the bucket's chain */
};

struct io_watch_sub {
	struct io_watch *w;
	struct io_watch_dir *dir;     /* NULL once removed */
	void (*cb)(void *arg);
	void *arg;
	bool pending;
	struct io_watch_sub *next;    /* the directory's subscribers */
	struct io_watch_sub *fire;    /* the batch being called */
	struct io_watch_sub *dead;    /* removed during a batch: freed after it */
};

struct io_watch {
	int fd;
	struct event *ev;
	bool firing;
	struct io_watch_sub *dead;
	struct io_watch_dir *buckets[IO_WATCH_BUCKETS];
};

static struct io_watch_dir **io_watch_slot(struct io_watch *w, int wd)
{
	struct io_watch_dir **p = &w->buckets[(unsigned)wd % IO_WATCH_BUCKETS];
	while (*p && (*p)->wd != wd)
		p = &(*p)->next;
	return p;
}

/* Mark every subscriber of d, and queue them on *fire. */
static void io_watch_mark(struct io_watch_dir *d, struct io_watch_sub **fire)
{
	for (struct io_watch_sub *s = d->subs; s; s = s->next) {
		if (s->pending)
			continue;
		s->pending = true;
		s->fire = *fire;
		*fire = s;
	}
}

static void io_watch_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct io_watch *w = arg;
	struct io_watch_sub *fire = NULL;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof *e + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				for (size_t b = 0; b < IO_WATCH_BUCKETS; b++)
					for (struct io_watch_dir *d = w->buckets[b]; d; d = d->next)
						io_watch_mark(d, &fire);
				continue;
			}
			struct io_watch_dir *d = *io_watch_slot(w, e->wd);
			if (d)
				io_watch_mark(d, &fire);
		}
	}
	w->firing = true;
	while (fire) {
		struct io_watch_sub *s = fire;
		fire = s->fire;
		s->pending = false;
		if (s->dir)
			s->cb(s->arg);
	}
	w->firing = false;
	while (w->dead) {
		struct io_watch_sub *s = w->dead;
		w->dead = s->dead;
		free(s);
	}
}

struct io_watch *io_watch_new(struct io_loop *l)
{
	struct io_watch *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;
		free(w);
		errno = e;
		return NULL;
	}
	w->ev = event_new(io_loop_base(l), w->fd, EV_READ | EV_PERSIST, io_watch_read_cb, w);
	if (w->ev == NULL || event_add(w->ev, NULL) < 0) {
		if (w->ev)
			event_free(w->ev);
		close(w->fd);
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	return w;
}

void io_watch_free(struct io_watch *w)
{
	if (w == NULL)
		return;
	for (size_t b = 0; b < IO_WATCH_BUCKETS; b++) {
		while (w->buckets[b]) {
			struct io_watch_dir *d = w->buckets[b];
			w->buckets[b] = d->next;
			while (d->subs) {
				struct io_watch_sub *s = d->subs;
				d->subs = s->next;
				free(s);
			}
			free(d);
		}
	}
	event_free(w->ev);
	close(w->fd);
	free(w);
}

struct io_watch_sub *io_watch_add(struct io_watch *w, const char *dir, void (*cb)(void *arg), void *arg)
{
	if (w == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	struct io_watch_sub *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	int wd = inotify_add_watch(w->fd, dir, IO_WATCH_MASK | IN_ONLYDIR);
	if (wd < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	struct io_watch_dir **slot = io_watch_slot(w, wd);
	if (*slot == NULL) {
		struct io_watch_dir *d = calloc(1, sizeof *d);
		if (d == NULL) {
			free(s);
			errno = ENOMEM;
			return NULL; /* the kernel watch stays: harmless, and reused next time */
		}
		d->wd = wd;
		*slot = d;
	}
	s->w = w;
	s->dir = *slot;
	s->cb = cb;
	s->arg = arg;
	s->next = s->dir->subs;
	s->dir->subs = s;
	return s;
}

void io_watch_remove(struct io_watch_sub *s)
{
	if (s == NULL || s->dir == NULL)
		return;
	struct io_watch *w = s->w;
	struct io_watch_dir *d = s->dir;
	struct io_watch_sub **p = &d->subs;
	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	s->dir = NULL;
	if (d->subs == NULL) {
		inotify_rm_watch(w->fd, d->wd);
		struct io_watch_dir **slot = io_watch_slot(w, d->wd);
		*slot = d->next;
		free(d);
	}
	if (w->firing) {
		s->dead = w->dead;
		w->dead = s;
	} else {
		free(s);
	}
}
