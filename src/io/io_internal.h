/*
 * io_internal — what the files of src/io share and nobody above io/ may
 * see: the libevent base behind an io_loop, and the OpenSSL object made
 * from a TLS context. Keeping these here is what lets io.h promise that
 * no libevent or OpenSSL type reaches mta/ or cmd/.
 */
#ifndef TERN_IO_INTERNAL_H
#define TERN_IO_INTERNAL_H

#include "io/io.h"
#include "io/tls.h"

struct event_base;
typedef struct ssl_st SSL;

struct event_base *io_loop_base(struct io_loop *l);
SSL *io_tls_new_ssl(struct io_tls *t);

/* A descriptor was closed: listeners paused on EMFILE may accept again. */
void io_listener_fd_released(void);

#endif
