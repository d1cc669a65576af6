/*
 * delivery — the blocking parts of a delivery attempt. See delivery.h.
 *
 * Order (docs/queue.md): the Maildir file is durable (maildir_deliver
 * flushed it and new/) before the "done" record is appended, and its name
 * is derived from the queue id, so a crash between the two cannot make a
 * second copy. A message whose recipients are all done or failed is
 * removed; removing it is the final record.
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

/* Deliver to one local mailbox; 0 or -1 with errno. */
static time_t delivery_started;

void delivery_set_start(time_t t)
{
	delivery_started = t;
}

static int delivery_local(const struct conf *conf, const struct queue_env *env, size_t idx, const char *rcpt,
                          char *path, size_t pathlen)
{
	const char *at = strrchr(rcpt, '@');
	if (at == NULL) {
		errno = EINVAL;
		return -1;
	}
	char local[256];
	snprintf(local, sizeof local, "%.*s", (int)(at - rcpt), rcpt);
	struct buf prefix;
	buf_init(&prefix, 4096);
	/* CONTRACT.md: Return-Path, then Delivered-To, then the content (which
	 * starts with our Received field). */
	buf_printf(&prefix, "Return-Path: <%s>\nDelivered-To: %s\n", env->sender, rcpt);
	int fd = queue_open_content(conf->data_dir, env);
	int rc = -1;
	if (fd >= 0) {
		/* Keyed by arrival, queue id and recipient: see maildir.h. */
		char key[96];
		snprintf(key, sizeof key, "%lld.Q%s_%zu", (long long)env->arrival, env->id, idx);
		/* A message from before this process started, or tried before,
		 * may have landed already and been moved to cur/ by a reader. */
		bool thorough = env->rcpts[idx].attempts > 0 || env->arrival <= delivery_started;
		rc = maildir_deliver_keyed(conf->data_dir, at + 1, local, key, thorough, prefix.data, prefix.len, fd,
		                           env->content_len, path, pathlen);
		int e = errno;
		close(fd);
		errno = e;
	}
	buf_free(&prefix);
	return rc;
}

/* Failures collected during one attempt, bounced together at its end. */
struct delivery_failures {
	struct dsn_rcpt r[64];
	char text[64][512];
	char status[64][16];
	char mx[64][256];
	size_t idx[64];
	size_t n;
};

/* A permanent failure: collected, and recorded only once its report is
 * queued (delivery_conclude), so that a crash cannot lose the bounce. */
static void delivery_fail(const struct conf *conf, const struct queue_env *env, size_t idx, const char *status,
                          const char *mx, const char *text, bool remote, struct delivery_failures *f)
{
	if (f->n >= sizeof f->r / sizeof f->r[0]) {
		/* Too many for one report: the rest waits for the next attempt. */
		queue_mark(conf->data_dir, env->id, idx, QUEUE_RCPT_PENDING, time(NULL) + 60, env->rcpts[idx].attempts,
		           text, false);
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
static void delivery_defer(const struct conf *conf, const struct queue_env *env, size_t idx, const char *text,
                           const char *mx, time_t now, struct delivery_result *res, struct delivery_failures *f)
{
	const struct queue_rcpt *r = &env->rcpts[idx];
	if (now - env->arrival >= (time_t)conf->queue_lifetime) {
		char why[600];
		snprintf(why, sizeof why, "%s (gave up after %u attempts: queue-lifetime exceeded)", text, r->attempts + 1);
		delivery_fail(conf, env, idx, "4.4.7", mx, why, false, f);
		return;
	}
	unsigned att = r->attempts + 1;
	time_t next = now + delivery_backoff(conf, att);
	queue_mark(conf->data_dir, env->id, idx, QUEUE_RCPT_PENDING, next, att, text, false);
	char to[LOG_VALUE_MAX], why[LOG_VALUE_MAX];
	log_msg("%s to=%s status=deferred reason=%s retry_in=%lds", env->id, log_addr(to, sizeof to, r->addr),
	        log_value(why, sizeof why, text), (long)(next - now));
	if (res->next_try == 0 || next < res->next_try)
		res->next_try = next;
}

/* After the attempt: bounce, flush the records, remove when complete. */
/* After the attempt: bounce, record, flush the records, remove when complete. */
static void delivery_conclude(const struct conf *conf, struct queue_env *env, struct delivery_result *res,
                              struct delivery_failures *f, bool marked)
{
	if (f->n) {
		int b = bounce_queue(conf, env, f->r, f->n, res->bounce_id);
		if (b != 0)
			res->bounce_id[0] = '\0';
		for (size_t k = 0; k < f->n; k++) {
			size_t i = f->idx[k];
			if (b >= 0) {
				queue_mark(conf->data_dir, env->id, i, QUEUE_RCPT_FAILED, 0, env->rcpts[i].attempts + 1,
				           f->text[k], false);
			} else {
				/* The report could not be queued: keep the recipient and
				 * try again, rather than fail it silently. */
				time_t next = time(NULL) + delivery_backoff(conf, 1);
				queue_mark(conf->data_dir, env->id, i, QUEUE_RCPT_PENDING, next, env->rcpts[i].attempts, f->text[k],
				           false);
				if (res->next_try == 0 || next < res->next_try)
					res->next_try = next;
			}
		}
		marked = true;
	}
	/* Reload the state: records of this attempt decide what is left. */
	bool pending = false;
	struct queue_env now;
	if (queue_load(conf->data_dir, env->id, &now) == 0) {
		for (size_t i = 0; i < now.nrcpts; i++)
			if (now.rcpts[i].state == QUEUE_RCPT_PENDING)
				pending = true;
		queue_env_free(&now);
	}
	if (!pending) {
		if (queue_commit_remove(conf->data_dir, env->id) == 0)
			log_msg("%s removed", env->id);
		res->finished = true;
	} else if (marked) {
		/* Flush this attempt's records before anything else relies on them. */
		queue_sync(conf->data_dir, env->id);
	}
}

void delivery_attempt(const struct conf *conf, const char *id, struct delivery_result *res)
{
	memset(res, 0, sizeof *res);
	struct queue_env *env = calloc(1, sizeof *env);
	if (env == NULL || queue_load(conf->data_dir, id, env) < 0) {
		if (env && errno != ENOENT)
			log_msg("%s error=\"cannot read queue file: %s\"", id, strerror(errno));
		free(env);
		res->finished = true;
		return;
	}
	time_t now = time(NULL);
	struct delivery_failures *f = calloc(1, sizeof *f);
	size_t *sent = calloc(env->nrcpts ? env->nrcpts : 1, sizeof *sent);
	size_t nsent = 0;
	bool marked = false;
	for (size_t i = 0; f && sent && i < env->nrcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		if (!recipient_is_local(conf, r->addr)) {
			size_t *nr = realloc(res->remote, (res->nremote + 1) * sizeof *nr);
			if (nr == NULL)
				continue;
			res->remote = nr;
			res->remote[res->nremote++] = i;
			continue;
		}
		char path[4096];
		if (delivery_local(conf, env, i, r->addr, path, sizeof path) == 0) {
			sent[nsent++] = i;
			char to[LOG_VALUE_MAX], box[LOG_VALUE_MAX];
			log_msg("%s to=%s status=sent mailbox=%s delay=%lds", id, log_addr(to, sizeof to, r->addr),
			        log_value(box, sizeof box, path), (long)(now - env->arrival));
			continue;
		}
		char err[256];
		snprintf(err, sizeof err, "mailbox write failed: %s", strerror(errno));
		marked = true;
		delivery_defer(conf, env, i, err, NULL, now, res, f);
	}
	/* When nothing stays pending the removal of the message is the only
	 * record needed (a crash before it redelivers under the same Maildir
	 * names, which maildir_deliver_keyed skips): no state log is written,
	 * which saves creating and flushing it for every message. */
	if (nsent && (marked || res->nremote || (f && f->n))) {
		for (size_t k = 0; k < nsent; k++)
			queue_mark(conf->data_dir, id, sent[k], QUEUE_RCPT_DONE, 0, env->rcpts[sent[k]].attempts + 1, NULL,
			           false);
		marked = true;
	}
	if (sent && f && !marked && !res->nremote) {
		free(sent);
		free(f);
		if (queue_remove_lazy(conf->data_dir, id) == 0)
			log_msg("%s removed", id);
		res->finished = true;
		queue_env_free(env);
		free(env);
		return;
	}
	free(sent);
	if (res->nremote) {
		/* The relay goes on from the loop; bounces wait for its results. */
		if (marked)
			queue_sync(conf->data_dir, id);
		res->env = env;
		res->failures = f;
		return;
	}
	if (f)
		delivery_conclude(conf, env, res, f, marked);
	free(f);
	queue_env_free(env);
	free(env);
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

void delivery_record(const struct conf *conf, struct delivery_result *res, const struct relay_rcpt *rr, size_t n)
{
	struct queue_env *env = res->env;
	/* Every remote recipient delivered and nothing else waiting: the
	 * removal (flushed) is the only record needed. */
	bool all = res->failures == NULL || ((struct delivery_failures *)res->failures)->n == 0;
	for (size_t k = 0; all && k < n; k++)
		all = rr[k].delivered;
	size_t pending = 0;
	for (size_t i = 0; all && i < env->nrcpts; i++)
		pending += env->rcpts[i].state == QUEUE_RCPT_PENDING;
	if (all && pending == n) {
		time_t now = time(NULL);
		for (size_t k = 0; k < n; k++)
			delivery_log_sent(env, &rr[k], now);
		if (queue_commit_remove(conf->data_dir, env->id) == 0)
			log_msg("%s removed", env->id);
		res->finished = true;
		delivery_result_free(res);
		return;
	}
	struct delivery_failures *f = res->failures ? res->failures : calloc(1, sizeof *f);
	res->failures = NULL;
	time_t now = time(NULL);
	for (size_t k = 0; f && k < n; k++) {
		size_t i = rr[k].idx;
		const struct queue_rcpt *r = &env->rcpts[i];
		if (rr[k].delivered) {
			queue_mark(conf->data_dir, env->id, i, QUEUE_RCPT_DONE, 0, r->attempts + 1, NULL, false);
			delivery_log_sent(env, &rr[k], now);
		} else if (rr[k].permanent) {
			delivery_fail(conf, env, i, rr[k].status, rr[k].mx, rr[k].text, rr[k].mx[0] != '\0', f);
		} else {
			delivery_defer(conf, env, i, rr[k].text, rr[k].mx, now, res, f);
		}
	}
	if (f)
		delivery_conclude(conf, env, res, f, true);
	free(f);
	delivery_result_free(res);
}
