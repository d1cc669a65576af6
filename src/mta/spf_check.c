/*
 * spf_check — the engine of proto/spf.c driven over io/dns.c. See
 * spf_check.h.
 *
 * Owns: the engine (c->spf), a timer, and itself. One DNS question at a
 * time is in flight: the engine asks one, and asks the next only once it
 * has the answer (a policy's questions mostly depend on the answers
 * before them, and a check asks at most SPF_QUERY_MAX).
 *
 * Lifetime: io_dns calls back later, or at once (out of memory, a name
 * it cannot encode). spf_check_step therefore loops instead of
 * recursing, and a check whose question is still out when it ends (the
 * timeout, a cancel) is marked dead and freed by the DNS callback, never
 * under it.
 */
#include "mta/spf_check.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/dns.h"
#include "io/io.h"

struct spf_check {
	struct spf *spf;        /* owned */
	struct io_dns *dns;     /* not owned */
	struct io_timer *timer; /* owned: the deadline, and the deferred callback */
	spf_check_cb cb;
	void *arg;
	bool asking;            /* a DNS question is out */
	bool stepping, again;   /* spf_check_step is running; an answer came meanwhile */
	bool started;           /* the first step ran; the timer is the deadline now */
	bool oom;               /* an answer could not be kept */
	unsigned deadline_ms;
	bool dead;              /* cancelled or reported: free when the question returns */
};

static void spf_check_free(struct spf_check *c)
{
	spf_free(c->spf);
	io_timer_free(c->timer);
	free(c);
}

/* Report and go: now, or when the question still out comes back. */
static void spf_check_report(struct spf_check *c, enum spf_result r, const char *reason)
{
	struct spf_check_result res = {
	        .result = r,
	        .explanation = r == SPF_RESULT_FAIL ? spf_explanation(c->spf) : NULL,
	        .reason = reason ? reason : spf_reason(c->spf),
	        .identity = spf_identity(c->spf),
	        .domain = spf_domain(c->spf),
	        .queries = spf_queries(c->spf),
	};
	io_timer_stop(c->timer);
	c->dead = true;
	c->cb(c->arg, &res);
	if (!c->asking)
		spf_check_free(c);
}

static enum spf_rcode spf_check_rcode(enum io_dns_status st)
{
	switch (st) {
	case IO_DNS_OK: return SPF_DNS_OK;
	case IO_DNS_NODATA: return SPF_DNS_NODATA;
	case IO_DNS_NXDOMAIN: return SPF_DNS_NXDOMAIN;
	case IO_DNS_TEMPFAIL: return SPF_DNS_TEMPFAIL;
	}
	return SPF_DNS_TEMPFAIL;
}

static enum io_dns_type spf_check_qtype(enum spf_qtype t)
{
	switch (t) {
	case SPF_Q_TXT: return IO_DNS_TXT;
	case SPF_Q_A: return IO_DNS_A;
	case SPF_Q_AAAA: return IO_DNS_AAAA;
	case SPF_Q_MX: return IO_DNS_MX;
	case SPF_Q_PTR: return IO_DNS_PTR;
	}
	return IO_DNS_TXT;
}

static void spf_check_step(struct spf_check *c);

static void spf_check_dns_cb(void *arg, enum io_dns_status st, const struct io_dns_rr *rr, size_t n)
{
	struct spf_check *c = arg;
	c->asking = false;
	if (c->dead) {
		spf_check_free(c);
		return;
	}
	struct spf_rr tmp[IO_DNS_MAX_RRS];
	if (n > IO_DNS_MAX_RRS)
		n = IO_DNS_MAX_RRS;
	for (size_t i = 0; i < n; i++) {
		tmp[i].data = rr[i].data;
		tmp[i].len = rr[i].len;
	}
	if (spf_answer(c->spf, spf_check_rcode(st), tmp, n) < 0)
		c->oom = true;
	if (c->stepping) {
		c->again = true; /* answered at once: the running step goes on */
		return;
	}
	spf_check_step(c);
}

static void spf_check_step(struct spf_check *c)
{
	c->stepping = true;
	do {
		c->again = false;
		if (c->oom) {
			c->stepping = false;
			spf_check_report(c, SPF_RESULT_TEMPERROR, "out of memory");
			return;
		}
		if (spf_run(c->spf) == SPF_STEP_DONE) {
			c->stepping = false;
			spf_check_report(c, spf_result(c->spf), NULL);
			return;
		}
		enum spf_qtype t;
		const char *name = spf_want(c->spf, &t);
		c->asking = true;
		io_dns_lookup(c->dns, name, spf_check_qtype(t), spf_check_dns_cb, c);
	} while (c->again);
	c->stepping = false;
}

static void spf_check_timer_cb(void *arg)
{
	struct spf_check *c = arg;
	if (!c->started) {
		/* The deferred first step: callers never hear from inside
		 * spf_check_start. From now on the timer is the deadline. */
		c->started = true;
		io_timer_start(c->timer, c->deadline_ms);
		spf_check_step(c);
		return;
	}
	char why[64];
	snprintf(why, sizeof why, "DNS answers took over %u ms", c->deadline_ms);
	spf_check_report(c, SPF_RESULT_TEMPERROR, why);
}

struct spf_check *spf_check_start(struct io_loop *l, struct io_dns *dns, const struct spf_request *req,
                                  unsigned timeout_ms, spf_check_cb cb, void *arg)
{
	struct spf_check *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->spf = spf_new(req);
	c->timer = io_timer_new(l, spf_check_timer_cb, c);
	if (c->spf == NULL || c->timer == NULL) {
		spf_free(c->spf);
		io_timer_free(c->timer);
		free(c);
		return NULL;
	}
	c->dns = dns;
	c->cb = cb;
	c->arg = arg;
	c->deadline_ms = timeout_ms ? timeout_ms : SPF_CHECK_TIMEOUT_MS;
	io_timer_start(c->timer, 0);
	return c;
}

void spf_check_cancel(struct spf_check *c)
{
	if (c == NULL || c->dead)
		return;
	io_timer_stop(c->timer);
	c->dead = true;
	if (!c->asking)
		spf_check_free(c);
}
