/*
 * io_internal — what the files of src/io share and nobody above io/ may
 * see: the libevent base behind an io_loop, and the OpenSSL object made
 * from a TLS context. Keeping these here is what lets io.h promise that
 * no libevent or OpenSSL type reaches mta/ or cmd/.
 */
#ifndef TERN_IO_INTERNAL_H
#define TERN_IO_INTERNAL_H

#include <stdbool.h>

#include "io/io.h"
#include "io/tls.h"

struct event_base;
typedef struct ssl_st SSL;

struct event_base *io_loop_base(struct io_loop *l);
SSL *io_tls_new_ssl(struct io_tls *t);

/* A descriptor was closed: listeners paused on EMFILE may accept again. */
void io_listener_fd_released(void);

/* What keeps an evconnlistener from spinning when accept(2) fails for
 * want of descriptors (listener.c): it is paused, and resumed when a
 * descriptor of ours is released or after a short wait. Embedded in
 * every listener of io/ as its FIRST member: libevent hands the error
 * callback the listener's own argument, which is then also the guard. */
struct evconnlistener;
struct event;
struct io_accept_guard {
	struct evconnlistener *ev;
	struct event *retry;
	bool paused;
	struct io_accept_guard *next; /* the paused list */
};
int io_accept_guard_init(struct io_accept_guard *g, struct event_base *base, struct evconnlistener *ev);
void io_accept_guard_fini(struct io_accept_guard *g);

#endif
