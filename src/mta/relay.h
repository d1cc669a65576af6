/*
 * relay — the outbound SMTP side: one queued message to the remote
 * recipients of one domain. Finds the exchangers (MX records in preference
 * order, implicit MX, null MX; or the configured relay-host), tries their
 * addresses in turn, speaks SMTP through proto/smtp_client with
 * opportunistic STARTTLS, and keeps connections open for reuse by the next
 * message to the same exchanger. Runs on the event loop.
 */
#ifndef TERN_RELAY_H
#define TERN_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/queue_store.h"

struct server;
struct relay;

struct relay_rcpt {
	size_t idx;              /* the recipient's index in the queue file */
	const char *addr;        /* borrowed from the envelope */
	/* results */
	bool delivered;
	bool permanent;          /* refused for good (5xx, null MX, NXDOMAIN...) */
	char status[16];         /* enhanced status code */
	char text[512];          /* the remote reply or our reason, one line */
	char mx[256];            /* the exchanger that answered, "" if none */
};

struct relay_req {
	const struct queue_env *env; /* borrowed: the content is read from the queue file */
	const char *domain;
	struct relay_rcpt *rcpts;
	size_t nrcpts;
	void (*done)(void *arg, struct relay_req *req);
	void *arg;
	char tls[96];            /* "TLSv1.3 cipher" when the delivery was encrypted */
};

struct relay *relay_new(struct server *srv);
void relay_free(struct relay *r);
/* Deliver; req->done(req->arg, req) follows, later, from the loop. */
void relay_send(struct relay *r, struct relay_req *req);
/* Close idle connections (shutdown). */
void relay_close_idle(struct relay *r);

#endif
