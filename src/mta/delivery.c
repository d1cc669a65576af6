/*
 * delivery — a delivery attempt for one message. See delivery.h.
 *
 * Order (docs/queue.md): the Maildir file is durable (maildir_deliver
 * flushed it and new/) before the "done" record is appended; the record
 * is flushed before the queue file is removed. A crash between the
 * Maildir rename and the record is the one window that can duplicate.
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
#include "mta/maildir.h"
#include "mta/recipient.h"

unsigned delivery_backoff(const struct conf *conf, unsigned attempts)
{
	uint64_t wait = conf->queue_retry_min ? conf->queue_retry_min : 1;
	for (unsigned i = 1; i < attempts && wait < conf->queue_retry_max; i++)
		wait *= 2;
	if (wait > conf->queue_retry_max)
		wait = conf->queue_retry_max;
	return (unsigned)wait;
}

/* Deliver to one local mailbox; 0 or -1 with errno. */
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
		rc = maildir_deliver_keyed(conf->data_dir, at + 1, local, key, prefix.data, prefix.len, fd,
		                           env->content_len, path, pathlen);
		int e = errno;
		close(fd);
		errno = e;
	}
	buf_free(&prefix);
	return rc;
}

void delivery_attempt(const struct conf *conf, const char *id, struct delivery_result *res)
{
	struct queue_env env;
	res->finished = false;
	res->next_try = 0;
	if (queue_load(conf->data_dir, id, &env) < 0) {
		if (errno != ENOENT)
			log_msg("%s error=\"cannot read queue file: %s\"", id, strerror(errno));
		res->finished = true;
		return;
	}
	time_t now = time(NULL);
	bool pending = false;
	size_t last_mark = (size_t)-1;
	for (size_t i = 0; i < env.nrcpts; i++) {
		struct queue_rcpt *r = &env.rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		if (!recipient_is_local(conf, r->addr)) {
			/* The outbound relay is not part of this build yet: keep it queued. */
			unsigned att = r->attempts + 1;
			time_t next = now + delivery_backoff(conf, att);
			queue_mark(conf->data_dir, id, i, QUEUE_RCPT_PENDING, next, att,
			           "remote delivery not available", false);
			log_msg("%s to=<%s> status=deferred reason=\"remote delivery not available\"", id, r->addr);
			pending = true;
			if (res->next_try == 0 || next < res->next_try)
				res->next_try = next;
			continue;
		}
		char path[4096];
		if (delivery_local(conf, &env, i, r->addr, path, sizeof path) == 0) {
			queue_mark(conf->data_dir, id, i, QUEUE_RCPT_DONE, 0, r->attempts + 1, NULL, false);
			last_mark = i;
			log_msg("%s to=<%s> status=sent mailbox=%s delay=%lds", id, r->addr, path, (long)(now - env.arrival));
			continue;
		}
		int e = errno;
		unsigned att = r->attempts + 1;
		time_t next = now + delivery_backoff(conf, att);
		char err[256];
		snprintf(err, sizeof err, "mailbox write failed: %s", strerror(e));
		queue_mark(conf->data_dir, id, i, QUEUE_RCPT_PENDING, next, att, err, false);
		log_msg("%s to=<%s> status=deferred reason=\"%s\" retry_in=%lds", id, r->addr, err, (long)(next - now));
		pending = true;
		if (res->next_try == 0 || next < res->next_try)
			res->next_try = next;
	}
	if (!pending) {
		/* Every recipient is done: removing the file is the record. */
		if (queue_remove(conf->data_dir, id) == 0)
			log_msg("%s removed", id);
		res->finished = true;
	} else if (last_mark != (size_t)-1) {
		/* Flush the done records before anything else happens to them. */
		queue_mark(conf->data_dir, id, last_mark, QUEUE_RCPT_DONE, 0, 1, NULL, true);
	}
	queue_env_free(&env);
}
