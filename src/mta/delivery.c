/*
 * delivery — the blocking parts of a delivery attempt. See delivery.h.
 *
 * Order (docs/queue.md): the Maildir file is durable (maildir_deliver
 * flushed it and new/) before the "done" record is appended, and its name
 * is derived from the queue id, so a crash between the two cannot make a
 * second copy. A message whose recipients are all done or failed is
 * removed; removing it is the final record.
 *
 * What a failure does at each step (the rule of delivery.h):
 *   the queue file cannot be read     nothing is decided: retry later
 *   a Maildir write fails             that recipient is deferred
 *   a "defer" record fails            the retry time is kept in memory;
 *                                     the file keeps the older count
 *   a "done"/"failed" record, or the  the outcome goes to `settled` and
 *   flush of the log, fails           the next attempt writes it first
 *   the removal fails, file still     the outcomes are recorded (or
 *   there                             settled) and the removal retried
 *   the removal's flush fails, file   logged; nothing more can be done
 *   gone                              (nothing is sent twice meanwhile)
 * Every failure is logged once, with its reason, where it happens.
 */
#include "mta/delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "mta/bounce.h"
#include "mta/maildir.h"
#include "mta/recipient.h"
#include "queue/queue_commit.h"

#define DELIVERY_REPORT_MAX 64 /* failures one report carries; the rest wait a minute */

unsigned delivery_backoff(const struct conf *conf, unsigned attempts)
{
	uint64_t wait = conf->queue_retry_min ? conf->queue_retry_min : 1;
	for (unsigned i = 1; i < attempts && wait < conf->queue_retry_max; i++)
		wait *= 2;
	if (wait > conf->queue_retry_max)
		wait = conf->queue_retry_max;
	return (unsigned)wait;
}

void delivery_result_free(struct delivery_result *res)
{
	if (res->env) {
		queue_env_free(res->env);
		free(res->env);
	}
	free(res->remote);
	free(res->failures);
	res->failures = NULL;
	res->env = NULL;
	res->remote = NULL;
	res->nremote = 0;
}

/* Failures collected during one attempt, bounced together at its end. */
struct delivery_failures {
	struct dsn_rcpt r[DELIVERY_REPORT_MAX];
	char text[DELIVERY_REPORT_MAX][512];
	char status[DELIVERY_REPORT_MAX][16];
	char mx[DELIVERY_REPORT_MAX][256];
	size_t idx[DELIVERY_REPORT_MAX];
	size_t n;
};

/* One attempt, on one worker thread. */
struct delivery_run {
	const struct conf *conf;
	const struct signer *signer;
	struct queue *q;
	struct queue_env *env;
	struct delivery_result *res;
	struct delivery_failures *f;
	time_t now;
	bool appended;      /* records were appended without a flush */
	size_t *unsynced;   /* done/failed records appended without a flush (owned) */
	size_t nunsynced;
	bool logged_mark;   /* the first failed record was logged */
};

/* Retry no sooner than this (a failure of our own, not the peer's). */
static time_t delivery_retry_at(const struct delivery_run *run)
{
	return run->now + delivery_backoff(run->conf, 1);
}

static void delivery_want_retry(struct delivery_run *run, time_t at)
{
	if (at <= run->now)
		at = run->now + 1;
	if (run->res->next_try == 0 || at < run->res->next_try)
		run->res->next_try = at;
}

static void delivery_settle_later(struct delivery_run *run, size_t idx, enum queue_rcpt_state st)
{
	struct delivery_result *res = run->res;
	for (size_t i = 0; i < res->nsettled; i++)
		if (res->settled[i].idx == idx) {
			res->settled[i].state = st;
			return;
		}
	struct delivery_settled *n = realloc(res->settled, (res->nsettled + 1) * sizeof *n);
	if (n == NULL) {
		log_msg("%s error=\"out of memory: an outcome may be repeated after a retry\"", run->env->id);
		return;
	}
	res->settled = n;
	res->settled[res->nsettled++] = (struct delivery_settled){.idx = idx, .state = st};
}

/*
 * Append a state record. A done/failed outcome counts in memory at once
 * (it decides what is left to do); when its record cannot be written it
 * is carried to the next attempt instead. `sync`: flush now.
 */
static void delivery_mark(struct delivery_run *run, size_t idx, enum queue_rcpt_state st, time_t next_try,
                          unsigned attempts, const char *text, bool sync)
{
	struct queue_rcpt *r = &run->env->rcpts[idx];
	bool final = st != QUEUE_RCPT_PENDING;
	if (final)
		r->state = st;
	if (queue_mark(run->q, run->env->id, idx, st, next_try, attempts, text, sync) < 0) {
		if (!run->logged_mark)
			log_msg("%s error=\"cannot write the state record: %s\" action=%s", run->env->id, strerror(errno),
			        final ? "kept-in-memory" : "retry-time-kept-in-memory");
		run->logged_mark = true;
		if (final)
			delivery_settle_later(run, idx, st);
		return;
	}
	if (!sync) {
		run->appended = true;
		size_t *u = final ? realloc(run->unsynced, (run->nunsynced + 1) * sizeof *u) : NULL;
		if (u) {
			run->unsynced = u;
			run->unsynced[run->nunsynced++] = idx;
		} else if (final) {
			delivery_settle_later(run, idx, st); /* cannot track it: settle it again next time */
		}
	}
}

/* Flush the records appended without sync; if that fails, none of the
 * outcomes among them is known to be on disk. */
static void delivery_flush_marks(struct delivery_run *run)
{
	if (!run->appended)
		return;
	run->appended = false;
	if (queue_sync(run->q, run->env->id) == 0) {
		run->nunsynced = 0;
		return;
	}
	log_msg("%s error=\"cannot flush the state records: %s\" action=kept-in-memory", run->env->id,
	        strerror(errno));
	for (size_t i = 0; i < run->nunsynced; i++) {
		size_t idx = run->unsynced[i];
		delivery_settle_later(run, idx, run->env->rcpts[idx].state);
	}
	run->nunsynced = 0;
}

/* Deliver to one local mailbox; 0 or -1 with errno. */
static int delivery_local(struct delivery_run *run, size_t idx, char *path, size_t pathlen)
{
	const struct queue_env *env = run->env;
	const char *rcpt = env->rcpts[idx].addr;
	const char *at = strrchr(rcpt, '@');
	if (at == NULL) {
		errno = EINVAL;
		return -1;
	}
	char local[256];
	snprintf(local, sizeof local, "%.*s", (int)(at - rcpt), rcpt);
	struct buf prefix;
	buf_init(&prefix, 4096);
	/* CONTRACT.md: Return-Path, then Delivered-To, then the fields known
	 * at acceptance (Authentication-Results), then the content (which
	 * starts with our Received field). */
	buf_printf(&prefix, "Return-Path: <%s>\nDelivered-To: %s\n", env->sender, rcpt);
	if (env->fields)
		buf_append(&prefix, env->fields, strlen(env->fields));
	int fd = queue_open_content(run->q, env);
	int rc = -1;
	if (fd >= 0) {
		/* Keyed by arrival, queue id and recipient: see maildir.h. */
		char key[96];
		snprintf(key, sizeof key, "%lld.Q%s_%zu", (long long)env->arrival, env->id, idx);
		/* A message from before this process started, or tried before,
		 * may have landed already and been moved to cur/ by a reader.
		 * (The queue id tells it to the microsecond; the arrival time
		 * only to the second, which made every message of the first
		 * second after a start scan cur/.) */
		bool thorough = env->rcpts[idx].attempts > 0 || queue_id_before_open(run->q, env->id);
		rc = maildir_deliver_keyed(queue_data_dir(run->q), at + 1, local, env->junk ? ".Junk" : NULL, key, thorough,
		                           prefix.data, prefix.len, fd,
		                           env->content_len, path, pathlen);
		int e = errno;
		close(fd);
		errno = e;
	}
	buf_free(&prefix);
	return rc;
}

/* A permanent failure: collected, and recorded only once its report is
 * queued (delivery_conclude), so that a crash cannot lose the bounce. */
static void delivery_fail(struct delivery_run *run, size_t idx, const char *status, const char *mx, const char *text,
                          bool remote)
{
	struct delivery_failures *f = run->f;
	const struct queue_env *env = run->env;
	if (f->n >= DELIVERY_REPORT_MAX) {
		/* Too many for one report: the rest waits for the next attempt. */
		delivery_mark(run, idx, QUEUE_RCPT_PENDING, run->now + 60, env->rcpts[idx].attempts, text, false);
		delivery_want_retry(run, run->now + 60);
		return;
	}
	snprintf(f->text[f->n], sizeof f->text[0], "%s", text);
	snprintf(f->status[f->n], sizeof f->status[0], "%s", status);
	snprintf(f->mx[f->n], sizeof f->mx[0], "%s", mx ? mx : "");
	f->idx[f->n] = idx;
	f->r[f->n] = (struct dsn_rcpt){
		.addr = env->rcpts[idx].addr,
		.orcpt = env->rcpts[idx].orcpt,
		.status = f->status[f->n],
		.remote_mta = f->mx[f->n][0] ? f->mx[f->n] : NULL,
		.diagnostic = f->text[f->n],
		.remote = remote,
	};
	f->n++;
}

/* A temporary failure: retry later, or give up once queue-lifetime is over. */
static void delivery_defer(struct delivery_run *run, size_t idx, const char *text, const char *mx)
{
	const struct queue_rcpt *r = &run->env->rcpts[idx];
	if (run->now - run->env->arrival >= (time_t)run->conf->queue_lifetime) {
		char why[600];
		snprintf(why, sizeof why, "%s (gave up after %u attempts: queue-lifetime exceeded)", text, r->attempts + 1);
		delivery_fail(run, idx, "4.4.7", mx, why, false);
		return;
	}
	unsigned att = r->attempts + 1;
	time_t next = run->now + delivery_backoff(run->conf, att);
	delivery_mark(run, idx, QUEUE_RCPT_PENDING, next, att, text, false);
	char to[LOG_VALUE_MAX], why[LOG_VALUE_MAX];
	log_msg("%s to=%s status=deferred reason=%s retry_in=%lds", run->env->id, log_addr(to, sizeof to, r->addr),
	        log_value(why, sizeof why, text), (long)(next - run->now));
	delivery_want_retry(run, next);
}

static bool delivery_pending(const struct queue_env *env)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == QUEUE_RCPT_PENDING)
			return true;
	return false;
}

/*
 * Nothing is pending: remove the message. `flushed` removal (msg/ synced)
 * unless every outcome is idempotent and unrecorded anyway (`lazy`). When
 * the file cannot be removed, the outcomes in `done[]` (recipients
 * finished in this attempt without a record) are recorded so that the
 * retry of the removal repeats nothing.
 */
static void delivery_remove(struct delivery_run *run, bool lazy, const size_t *done, size_t ndone)
{
	const char *id = run->env->id;
	int rc = lazy ? queue_remove_lazy(run->q, id) : queue_commit_remove(run->q, id);
	if (rc == 0) {
		log_msg("%s removed", id);
		run->res->finished = true;
		return;
	}
	int e = errno;
	if (e == ENOENT || !queue_exists(run->q, id)) {
		/* Gone (a `tern queue delete`, or only the flush failed). */
		if (e != ENOENT)
			log_msg("%s removed error=\"the removal may not be durable: %s\"", id, strerror(e));
		run->res->finished = true;
		return;
	}
	log_msg("%s error=\"cannot remove the finished message: %s\" action=retry", id, strerror(e));
	delivery_flush_marks(run); /* the records of this attempt now matter */
	for (size_t k = 0; k < ndone; k++)
		delivery_mark(run, done[k], run->env->rcpts[done[k]].state, 0, run->env->rcpts[done[k]].attempts + 1,
		              NULL, true);
	delivery_want_retry(run, delivery_retry_at(run));
}

/* After the attempt: bounce, record, flush the records, remove when complete. */
static void delivery_conclude(struct delivery_run *run)
{
	struct delivery_failures *f = run->f;
	struct queue_env *env = run->env;
	if (f->n) {
		int b = bounce_queue(run->conf, run->signer, run->q, env, f->r, f->n, run->res->bounce_id);
		if (b != 0)
			run->res->bounce_id[0] = '\0';
		for (size_t k = 0; k < f->n; k++) {
			size_t i = f->idx[k];
			if (b >= 0) {
				delivery_mark(run, i, QUEUE_RCPT_FAILED, 0, env->rcpts[i].attempts + 1, f->text[k], false);
			} else {
				/* The report could not be queued: keep the recipient and
				 * try again, rather than fail it silently. */
				time_t next = delivery_retry_at(run);
				delivery_mark(run, i, QUEUE_RCPT_PENDING, next, env->rcpts[i].attempts, f->text[k], false);
				delivery_want_retry(run, next);
			}
		}
	}
	if (!delivery_pending(env)) {
		/* The removal is the final record: nothing to flush first. */
		delivery_remove(run, false, NULL, 0);
		return;
	}
	/* Flush this attempt's records before anything else relies on them. */
	delivery_flush_marks(run);
	if (run->res->next_try == 0)
		delivery_want_retry(run, delivery_retry_at(run));
}

/* The outcomes the previous attempt could not record: they count, and
 * their records are written before anything else happens. */
static void delivery_apply_prior(struct delivery_run *run, const struct delivery_settled *prior, size_t nprior)
{
	for (size_t i = 0; i < nprior; i++) {
		if (prior[i].idx >= run->env->nrcpts)
			continue;
		struct queue_rcpt *r = &run->env->rcpts[prior[i].idx];
		delivery_mark(run, prior[i].idx, prior[i].state, 0, r->attempts + 1, r->last_error, true);
	}
}

static void delivery_run_free(struct delivery_run *run)
{
	free(run->unsynced);
	free(run->f);
	run->unsynced = NULL;
	run->f = NULL;
}

void delivery_attempt(const struct conf *conf, const struct signer *signer, struct queue *q, const char *id, const struct delivery_settled *prior,
                      size_t nprior, struct delivery_result *res)
{
	memset(res, 0, sizeof *res);
	struct delivery_run run = {.conf = conf, .signer = signer, .q = q, .res = res, .now = time(NULL)};
	struct queue_env *env = calloc(1, sizeof *env);
	if (env == NULL || queue_load(q, id, env) < 0) {
		int e = env ? errno : ENOMEM;
		free(env);
		if (e == ENOENT) {
			res->finished = true; /* gone: delivered meanwhile, or deleted */
			return;
		}
		/* EMFILE, ENOMEM, EIO, a torn file: nothing is decided now. */
		res->next_try = run.now + delivery_backoff(conf, 1);
		log_msg("%s error=\"cannot read queue file: %s\" status=deferred retry_in=%lds", id, strerror(e),
		        (long)(res->next_try - run.now));
		/* What the last attempt settled still stands. */
		if (nprior && (res->settled = malloc(nprior * sizeof *prior)) != NULL) {
			memcpy(res->settled, prior, nprior * sizeof *prior);
			res->nsettled = nprior;
		}
		return;
	}
	run.env = env;
	run.f = calloc(1, sizeof *run.f);
	size_t *sent = calloc(env->nrcpts ? env->nrcpts : 1, sizeof *sent);
	if (run.f == NULL || sent == NULL) {
		res->next_try = run.now + delivery_backoff(conf, 1);
		log_msg("%s error=\"out of memory\" status=deferred", id);
		free(sent);
		delivery_run_free(&run);
		queue_env_free(env);
		free(env);
		return;
	}
	delivery_apply_prior(&run, prior, nprior);
	size_t nsent = 0;
	bool changed = nprior > 0; /* records were made, or outcomes are pending a record */
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		if (!recipient_is_local(conf, r->addr)) {
			size_t *nr = realloc(res->remote, (res->nremote + 1) * sizeof *nr);
			if (nr == NULL) {
				delivery_want_retry(&run, delivery_retry_at(&run));
				continue;
			}
			res->remote = nr;
			res->remote[res->nremote++] = i;
			continue;
		}
		char path[4096];
		if (delivery_local(&run, i, path, sizeof path) == 0) {
			sent[nsent++] = i;
			r->state = QUEUE_RCPT_DONE;
			char to[LOG_VALUE_MAX], box[LOG_VALUE_MAX];
			log_msg("%s to=%s status=sent mailbox=%s delay=%lds", id, log_addr(to, sizeof to, r->addr),
			        log_value(box, sizeof box, path), (long)(run.now - env->arrival));
			continue;
		}
		char err[256];
		snprintf(err, sizeof err, "mailbox write failed: %s", strerror(errno));
		changed = true;
		delivery_defer(&run, i, err, NULL);
	}
	if (nsent && !changed && !res->nremote && run.f->n == 0 && !delivery_pending(env)) {
		/* Every recipient delivered in one go: the removal of the message
		 * is the only record needed (a crash before it redelivers under
		 * the same Maildir names, which maildir_deliver_keyed skips), so
		 * no state log is written, which saves creating and flushing it
		 * for every message. */
		delivery_remove(&run, true, sent, nsent);
	} else {
		for (size_t k = 0; k < nsent; k++)
			delivery_mark(&run, sent[k], QUEUE_RCPT_DONE, 0, env->rcpts[sent[k]].attempts + 1, NULL, false);
		if (res->nremote) {
			/* The relay goes on from the loop; bounces wait for its results. */
			delivery_flush_marks(&run);
			res->env = env;
			res->failures = run.f;
			run.f = NULL;
			env = NULL;
		} else {
			delivery_conclude(&run);
		}
	}
	free(sent);
	delivery_run_free(&run);
	if (env) {
		queue_env_free(env);
		free(env);
	}
}

/* A remote recipient's 250: the exchanger and its reply are the peer's
 * text, quoted so that they cannot forge fields. */
static void delivery_log_sent(const struct queue_env *env, const struct relay_rcpt *rr, time_t now)
{
	char to[LOG_VALUE_MAX], mx[LOG_VALUE_MAX], reply[LOG_VALUE_MAX];
	log_msg("%s to=%s status=sent relay=%s reply=%s delay=%lds", env->id,
	        log_addr(to, sizeof to, env->rcpts[rr->idx].addr), log_value(mx, sizeof mx, rr->mx),
	        log_value(reply, sizeof reply, rr->text), (long)(now - env->arrival));
}

void delivery_record(const struct conf *conf, const struct signer *signer, struct queue *q, struct delivery_result *res, const struct relay_rcpt *rr,
                     size_t n)
{
	struct delivery_run run = {.conf = conf, .signer = signer, .q = q, .res = res, .env = res->env, .now = time(NULL)};
	struct queue_env *env = res->env;
	run.f = res->failures ? res->failures : calloc(1, sizeof *run.f);
	res->failures = NULL;
	if (run.f == NULL) {
		/* The relay's answers cannot be recorded: the 250s among them
		 * must not be forgotten. */
		for (size_t k = 0; k < n; k++)
			if (rr[k].delivered)
				delivery_settle_later(&run, rr[k].idx, QUEUE_RCPT_DONE);
		delivery_want_retry(&run, delivery_retry_at(&run));
		delivery_result_free(res);
		return;
	}
	/* Every remote recipient delivered and nothing else waiting: the
	 * removal (flushed) is the only record needed. */
	bool all = run.f->n == 0;
	for (size_t k = 0; all && k < n; k++)
		all = rr[k].delivered;
	size_t pending = 0;
	for (size_t i = 0; all && i < env->nrcpts; i++)
		pending += env->rcpts[i].state == QUEUE_RCPT_PENDING;
	if (all && pending == n) {
		size_t *done = calloc(n ? n : 1, sizeof *done);
		for (size_t k = 0; k < n; k++) {
			delivery_log_sent(env, &rr[k], run.now);
			env->rcpts[rr[k].idx].state = QUEUE_RCPT_DONE;
			if (done)
				done[k] = rr[k].idx;
		}
		if (done == NULL)
			for (size_t k = 0; k < n; k++)
				delivery_settle_later(&run, rr[k].idx, QUEUE_RCPT_DONE);
		delivery_remove(&run, false, done, done ? n : 0);
		free(done);
		delivery_run_free(&run);
		delivery_result_free(res);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		size_t i = rr[k].idx;
		const struct queue_rcpt *r = &env->rcpts[i];
		if (rr[k].delivered) {
			delivery_mark(&run, i, QUEUE_RCPT_DONE, 0, r->attempts + 1, NULL, false);
			delivery_log_sent(env, &rr[k], run.now);
		} else if (rr[k].permanent) {
			delivery_fail(&run, i, rr[k].status, rr[k].mx, rr[k].text, rr[k].mx[0] != '\0');
		} else {
			delivery_defer(&run, i, rr[k].text, rr[k].mx);
		}
	}
	delivery_conclude(&run);
	delivery_run_free(&run);
	delivery_result_free(res);
}
