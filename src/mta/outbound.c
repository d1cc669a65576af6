/*
 * outbound — see outbound.h. Owns the per-attempt bookkeeping: the relay
 * results array and one request per destination domain.
 */
#include "mta/outbound.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "io/io.h"
#include "mta/relay.h"
#include "mta/server.h"

struct outbound_job {
	struct server *srv;
	struct delivery_result *res;
	struct relay_rcpt *rr;      /* one per remote recipient, grouped by domain */
	struct relay_req *reqs;
	size_t nreqs, pending;
	void (*done)(void *arg);
	void *arg;
};

static const char *outbound_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

static void outbound_record_work(void *arg)
{
	struct outbound_job *j = arg;
	size_t n = j->res->nremote;
	delivery_record(j->srv->conf, j->srv->signer, j->srv->queue, j->res, j->rr, n);
}

static void outbound_record_done(void *arg)
{
	struct outbound_job *j = arg;
	void (*done)(void *) = j->done;
	void *darg = j->arg;
	free(j->rr);
	free(j->reqs);
	free(j);
	done(darg);
}

static void outbound_req_done(void *arg, struct relay_req *req)
{
	struct outbound_job *j = arg;
	if (req->tls[0]) {
		char dom[LOG_VALUE_MAX], tls[LOG_VALUE_MAX];
		log_msg("%s relay domain=%s tls=%s", j->res->env->id, log_value(dom, sizeof dom, req->domain),
		        log_value(tls, sizeof tls, req->tls));
	}
	if (--j->pending > 0)
		return;
	io_workers_submit(j->srv->delivery_pool, outbound_record_work, outbound_record_done, j);
}


static int outbound_cmp(const void *a, const void *b)
{
	const struct relay_rcpt *x = a, *y = b;
	int c = strcasecmp(outbound_domain(x->addr), outbound_domain(y->addr));
	return c ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

void outbound_run(struct server *srv, struct delivery_result *res, void (*done)(void *arg), void *arg)
{
	struct outbound_job *j = calloc(1, sizeof *j);
	size_t n = res->nremote;
	if (j)
		j->rr = calloc(n, sizeof *j->rr);
	if (j)
		j->reqs = calloc(n, sizeof *j->reqs);
	if (j == NULL || j->rr == NULL || j->reqs == NULL) {
		if (j) {
			free(j->rr);
			free(j->reqs);
			free(j);
		}
		delivery_result_free(res);
		res->next_try = time(NULL) + delivery_backoff(srv->conf, 1);
		log_msg("%s error=\"out of memory\" status=deferred", res->env ? res->env->id : "-");
		done(arg);
		return;
	}
	j->srv = srv;
	j->res = res;
	j->done = done;
	j->arg = arg;
	for (size_t i = 0; i < n; i++) {
		j->rr[i].idx = res->remote[i];
		j->rr[i].addr = res->env->rcpts[res->remote[i]].addr;
	}
	qsort(j->rr, n, sizeof *j->rr, outbound_cmp);
	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && strcasecmp(outbound_domain(j->rr[k].addr), outbound_domain(j->rr[i].addr)) == 0)
			k++;
		struct relay_req *q = &j->reqs[j->nreqs++];
		q->env = res->env;
		q->domain = outbound_domain(j->rr[i].addr);
		q->rcpts = &j->rr[i];
		q->nrcpts = k - i;
		q->done = outbound_req_done;
		q->arg = j;
		i = k;
	}
	j->pending = j->nreqs;
	/* Requests may complete synchronously: count them all before starting. */
	size_t nreqs = j->nreqs;
	struct relay_req *reqs = j->reqs;
	for (size_t i = 0; i < nreqs; i++)
		relay_send(srv->relay, &reqs[i]);
}
