/*
 * spf_check — one SPF check (RFC 7208) run to its end over io_dns: the
 * pure engine of proto/spf.h asks, this module looks it up, and the
 * caller hears once, through its callback, always later than the start
 * (never from inside spf_check_start). Knows nothing of SMTP: the smtp
 * role and `tern auth spf` both use it.
 *
 * Bounded in time: the whole check gets timeout_ms (0: SPF_CHECK_TIMEOUT_MS;
 * RFC 7208 4.6.4 asks for at least 20 seconds), then ends in temperror.
 */
#ifndef TERN_SPF_CHECK_H
#define TERN_SPF_CHECK_H

#include "proto/spf.h"

#define SPF_CHECK_TIMEOUT_MS 20000

struct io_loop;
struct io_dns;
struct spf_check;

/* Valid only during the callback. explanation is NULL unless fail. */
struct spf_check_result {
	enum spf_result result;
	const char *explanation;
	const char *reason;     /* a few words for the log line */
	const char *identity;   /* "mailfrom" or "helo" */
	const char *domain;     /* the domain checked */
	size_t queries;         /* DNS questions asked */
};

typedef void (*spf_check_cb)(void *arg, const struct spf_check_result *r);

/*
 * Start a check. The request's strings are copied. NULL when out of
 * memory (and cb is never called). After cb the check is gone: do not
 * cancel it then. Cancel every check still running before io_dns_free
 * (c-ares answers its pending questions while it is destroyed).
 */
struct spf_check *spf_check_start(struct io_loop *l, struct io_dns *dns, const struct spf_request *req,
                                  unsigned timeout_ms, spf_check_cb cb, void *arg);

/* Abandon a check (its client went away): cb is never called. The
 * memory goes once a DNS answer still awaited has arrived. */
void spf_check_cancel(struct spf_check *c);

#endif
