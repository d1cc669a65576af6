/*
 * smtpc — one step of an SMTP client connection: the part of driving
 * proto/smtp_client over an io_conn that `tern send` and the relay share
 * (one owner; cmd/send.c and mta/relay.c differ only in their policies:
 * where content comes from, which TLS context, what a finished
 * transaction leads to).
 *
 * A step feeds the engine what arrived (up to a request for TLS or the
 * end of the session), starts the transaction once the session is ready,
 * asks the owner for content while the engine wants it, writes what the
 * engine produced, and sets the connection's read timeout to the one the
 * engine waits under (RFC 5321 4.5.3.2). What the owner must do next is
 * the return value.
 */
#ifndef TERN_SMTPC_H
#define TERN_SMTPC_H

#include <stdbool.h>

#include "io/io.h"
#include "proto/smtp_client.h"

struct smtpc_step {
	struct smtp_client_txn *txn;   /* sent once the session is ready; NULL: none now */
	bool *txn_started;             /* set when it was sent */
	void (*content)(void *arg);    /* the engine wants content: hand it smtp_client_content() */
	void *arg;
	unsigned write_timeout;        /* seconds a write may make no progress */
	bool keep_timeouts;            /* an idle cached connection keeps its own */
};

enum smtpc_next {
	SMTPC_WAIT,     /* wait for the next event */
	SMTPC_TLS,      /* the 220 to STARTTLS came (and was flushed): start TLS now */
	SMTPC_CLOSED,   /* the session is over (QUIT answered, or it failed) */
};

enum smtpc_next smtpc_step(struct io_conn *io, struct smtp_client *cli, const struct smtpc_step *st);
/* Write what the engine produced. */
void smtpc_flush(struct io_conn *io, struct smtp_client *cli);

#endif
