/*
 * outbound — the loop-side half of an attempt with remote recipients:
 * group them by domain (one transaction per domain, RFC 5321 3.3), hand
 * each group to the relay, and once all have answered, record the
 * results on the delivery pool (delivery_record). Then done() runs.
 */
#ifndef TERN_OUTBOUND_H
#define TERN_OUTBOUND_H

#include "mta/delivery.h"

struct server;

/* res->env and res->remote are set (delivery_attempt). On done(arg),
 * res is complete as after delivery_attempt for a local-only message. */
void outbound_run(struct server *srv, struct delivery_result *res, void (*done)(void *arg), void *arg);

#endif
