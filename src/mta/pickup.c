/*
 * pickup — from the drop area into the queue. See pickup.h.
 *
 * Order for each drop file (the durability argument): the queue copy is
 * written and made durable (queue_commit_durable: file, rename, msg/
 * flushed) before the drop file is unlinked; the unlinks of one pass share
 * one flush of drop/. A crash between the two leaves both, and the next
 * pass queues the message again: a duplicate, never a loss. Only then is
 * the message handed to the scheduler, on the loop.
 *
 * One pass runs at a time, takes at most QUEUE_DROP_BATCH files (oldest
 * first), and is followed at once by another when the batch was full, so
 * that a flood of injected mail neither waits a second per batch nor
 * holds a worker for long.
 */
#include "mta/pickup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "mta/recipient.h"
#include "mta/scheduler.h"
#include "mta/server.h"
#include "proto/mail_header.h"
#include "proto/smtp_addr.h"
#include "mta/signer.h"
#include "queue/queue_commit.h"
#include "queue/queue_drop.h"
#include "queue/queue_store.h"

#define PICKUP_CHUNK 65536

struct pickup_job {
	struct server *srv;
	const struct conf *conf;   /* as of the pass's start (reloads keep old ones) */
	const struct signer *signer; /* likewise */
	char ids[QUEUE_DROP_BATCH][QUEUE_ID_MAX]; /* queued this pass */
	size_t nids;
	bool more;                 /* the batch was full: go again at once */
};

struct pickup {
	struct io_timer *timer;
	bool running;              /* a pass is on the commit pool */
};

/* "<addr>" through the RFC 5321 path parser: the drop file's text is
 * only trusted after this. */
static bool pickup_parse(const char *addr, bool is_sender, struct smtp_addr *a)
{
	char path[QUEUE_DROP_ADDR_MAX + 3];
	int n = snprintf(path, sizeof path, "<%s>", addr);
	if (n < 0 || (size_t)n >= sizeof path)
		return false;
	size_t used = 0;
	return smtp_addr_parse(path, (size_t)n, is_sender, true, !is_sender, a, &used) == SMTP_ADDR_OK &&
	       used == (size_t)n;
}


/* uid (uid_t)-1: the file could not be examined. */
static void pickup_quarantine(const char *data_dir, const char *name, uid_t uid, const char *why)
{
	char moved[QUEUE_ID_MAX + 8], who[32] = "", nm[LOG_VALUE_MAX], reason[LOG_VALUE_MAX];
	if (uid != (uid_t)-1)
		snprintf(who, sizeof who, " uid=%u", (unsigned)uid);
	log_value(nm, sizeof nm, name);
	log_value(reason, sizeof reason, why);
	if (queue_drop_quarantine(data_dir, name, moved, sizeof moved) == 0)
		log_msg("drop-file=%s%s status=refused reason=%s action=moved-to-queue/corrupt/%s", nm, who, reason, moved);
	else
		log_msg("drop-file=%s%s status=refused reason=%s error=\"cannot move it: %s\"", nm, who, reason,
		        strerror(errno));
}

/* Does the content have 8-bit octets, and in its header section? */
static int pickup_scan(const struct queue_drop *d, bool *eightbit, bool *header8)
{
	char *chunk = malloc(PICKUP_CHUNK);
	if (chunk == NULL)
		return -1;
	*eightbit = *header8 = false;
	bool in_headers = true, bol = true;
	for (uint64_t off = 0; off < d->content_len && !(*header8);) {
		size_t want = d->content_len - off < PICKUP_CHUNK ? (size_t)(d->content_len - off) : PICKUP_CHUNK;
		ssize_t r = fsutil_pread_all(d->fd, chunk, want, d->content_off + (off_t)off);
		if (r < 0 || (size_t)r != want) {
			free(chunk);
			errno = r < 0 ? errno : EINVAL; /* shrunk under us */
			return -1;
		}
		for (size_t i = 0; i < want; i++) {
			unsigned char c = (unsigned char)chunk[i];
			if (c >= 0x80) {
				*eightbit = true;
				if (in_headers)
					*header8 = true;
			}
			if (c == '\n' && bol)
				in_headers = false; /* the empty line */
			bol = c == '\n';
		}
		off += want;
	}
	free(chunk);
	return 0;
}

/* Write the queue copy: envelope, our Received field, the content. */
static int pickup_write(const struct conf *conf, const struct signer *signer, struct queue *q,
                        const struct queue_drop *d, struct queue_env *env, const char *for_rcpt)
{
	struct queue_writer *w = queue_writer_open(q, env);
	if (w == NULL)
		return -1;
	/* A user's mail is signed at acceptance, as on submission. */
	struct msgsign *sign = signer_count(signer) ? msgsign_new(signer, (int64_t)env->arrival, NULL) : NULL;
	char date[64];
	mail_header_date(env->arrival, date, sizeof date);
	struct buf rh;
	buf_init(&rh, 4096);
	/* RFC 5321 4.4 shape with what a local submission has: no client
	 * host, the submitting uid in a comment (as Postfix and Exim do). */
	int rc = buf_printf(&rh, "Received: from local (uid %u)\n\tby %s (tern) with local id %s", (unsigned)d->uid,
	                    conf->hostname, env->id);
	if (for_rcpt)
		rc |= buf_printf(&rh, "\n\tfor <%s>", for_rcpt);
	rc |= buf_printf(&rh, ";\n\t%s\n", date);
	if (rc != 0) {
		errno = ENOMEM;
		rc = -1;
	} else {
		rc = queue_writer_write(w, rh.data, rh.len);
	}
	buf_free(&rh);
	char *chunk = rc == 0 ? malloc(PICKUP_CHUNK) : NULL;
	if (rc == 0 && chunk == NULL)
		rc = -1;
	for (uint64_t off = 0; rc == 0 && off < d->content_len;) {
		size_t want = d->content_len - off < PICKUP_CHUNK ? (size_t)(d->content_len - off) : PICKUP_CHUNK;
		ssize_t r = fsutil_pread_all(d->fd, chunk, want, d->content_off + (off_t)off);
		if (r < 0 || (size_t)r != want) {
			errno = r < 0 ? errno : EINVAL;
			rc = -1;
		} else {
			if (sign)
				msgsign_feed(sign, chunk, want);
			rc = queue_writer_write(w, chunk, want);
			off += want;
		}
	}
	free(chunk);
	if (rc == 0 && sign) {
		struct buf sigs;
		char err[128];
		buf_init(&sigs, 0);
		if (msgsign_finish(sign, &sigs, err, sizeof err) < 0)
			log_msg("%s dkim=unsigned error=\"%s\"", env->id, err);
		else if (sigs.len && (rc = queue_writer_tail(w, NULL, sigs.data, false)) == 0)
			log_msg("%s dkim=signed d=%s", env->id, msgsign_domain(sign)); /* a domain name: no quoting needed */
		buf_free(&sigs);
	}
	msgsign_free(sign);
	if (rc < 0) {
		queue_writer_abort(w);
		return -1;
	}
	return queue_commit_durable(q, w); /* frees w */
}

/* Resolve the drop file's recipients; the orcpts stay aligned with the
 * final addresses (as in smtpd). Invalid ones are logged and skipped. */
static int pickup_resolve(const struct conf *conf, const char *name, const struct queue_drop *d,
                          struct recipient_list *rcpts, struct recipient_list *orcpts, bool *utf8)
{
	for (size_t i = 0; i < d->nrcpts; i++) {
		struct smtp_addr a;
		const char *why = NULL;
		size_t before = rcpts->n;
		if (!pickup_parse(d->rcpts[i], false, &a)) {
			why = "invalid address";
		} else {
			enum smtp_reply_id r = recipient_resolve(conf, NULL, 0, &a, true, rcpts);
			if (r != SMTP_R_RCPT_OK)
				why = smtp_reply_get(r)->text;
		}
		if (why) {
			char to[LOG_VALUE_MAX], reason[LOG_VALUE_MAX];
			log_msg("drop-file=%s uid=%u to=%s status=skipped reason=%s", name, (unsigned)d->uid,
			        log_addr(to, sizeof to, d->rcpts[i]), log_value(reason, sizeof reason, why));
			continue;
		}
		*utf8 = *utf8 || a.utf8;
		for (size_t k = before; k < rcpts->n; k++) {
			char **na = realloc(orcpts->addrs, (orcpts->n + 1) * sizeof *na);
			if (na == NULL)
				return -1;
			orcpts->addrs = na;
			if ((orcpts->addrs[orcpts->n] = strdup(d->rcpts[i])) == NULL)
				return -1;
			orcpts->n++;
		}
	}
	return 0;
}

/* One drop file. 1 when it was queued (id in out), 0 when it was dealt
 * with otherwise, -1 when it stays for the next pass. */
static int pickup_one(const struct conf *conf, const struct signer *signer, struct queue *q, const char *name,
                      char out[QUEUE_ID_MAX])
{
	const char *dd = conf->data_dir;
	struct queue_drop d;
	if (queue_drop_open(dd, name, conf->max_message_size, &d) < 0) {
		int e = errno;
		if (e == ENOENT)
			return 0;
		if (e == ENOMEM || e == EMFILE || e == ENFILE || e == EIO || e == EINTR) {
			log_msg("drop-file=%s status=deferred error=\"%s\"", name, strerror(e));
			return -1;
		}
		pickup_quarantine(dd, name, (uid_t)-1,
		                  e == EFBIG    ? "larger than max-message-size"
		                  : e == EINVAL ? "not a valid drop file"
		                                : strerror(e));
		return 0;
	}
	struct smtp_addr from;
	struct recipient_list rcpts = {0}, orcpts = {0};
	struct queue_rcpt *rv = NULL;
	bool utf8 = false, eightbit = false, header8 = false;
	int rc = 0;
	if (!pickup_parse(d.sender, true, &from)) {
		pickup_quarantine(dd, name, d.uid, "invalid sender address");
		goto out;
	}
	utf8 = from.utf8;
	if (pickup_resolve(conf, name, &d, &rcpts, &orcpts, &utf8) < 0) {
		rc = -1;
		goto out;
	}
	if (rcpts.n == 0) {
		pickup_quarantine(dd, name, d.uid, "no valid recipient");
		goto out;
	}
	if (pickup_scan(&d, &eightbit, &header8) < 0 || (rv = calloc(rcpts.n, sizeof *rv)) == NULL) {
		log_msg("drop-file=%s status=deferred error=\"%s\"", name, strerror(errno));
		rc = -1;
		goto out;
	}
	struct queue_env env;
	memset(&env, 0, sizeof env);
	queue_new_id(env.id);
	env.arrival = time(NULL);
	env.sender = d.sender;
	env.client = "local";
	env.smtputf8 = utf8 || header8; /* RFC 6531 3.4, RFC 6532 3 */
	env.eightbit = eightbit;
	for (size_t i = 0; i < rcpts.n; i++) {
		rv[i].addr = rcpts.addrs[i];
		rv[i].orcpt = orcpts.addrs[i];
	}
	env.rcpts = rv;
	env.nrcpts = rcpts.n;
	if (pickup_write(conf, signer, q, &d, &env, d.nrcpts == 1 ? d.rcpts[0] : NULL) < 0) {
		log_msg("drop-file=%s status=deferred error=\"cannot queue it: %s\"", name, strerror(errno));
		rc = -1;
		goto out;
	}
	if (queue_drop_unlink(dd, name, &d) < 0 && errno != ENOENT)
		log_msg("%s drop-file=%s error=\"cannot remove it: %s\"", env.id, name, strerror(errno));
	char sender[LOG_VALUE_MAX];
	log_msg("%s accepted from=%s size=%llu nrcpt=%zu client=local uid=%u drop-file=%s", env.id,
	        log_addr(sender, sizeof sender, d.sender), (unsigned long long)d.content_len, rcpts.n, (unsigned)d.uid, name);
	memcpy(out, env.id, QUEUE_ID_MAX);
	rc = 1;
out:
	free(rv);
	recipient_list_free(&rcpts);
	recipient_list_free(&orcpts);
	queue_drop_close(&d);
	return rc;
}

static void pickup_work(void *arg)
{
	struct pickup_job *j = arg;
	char **names = NULL;
	size_t n = 0;
	if (queue_drop_list(j->conf->data_dir, QUEUE_DROP_BATCH, &names, &n) < 0) {
		log_msg("drop area: cannot list it: %s", strerror(errno));
		return;
	}
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		int r = pickup_one(j->conf, j->signer, j->srv->queue, names[i], j->ids[j->nids]);
		if (r == 1)
			j->nids++;
		else if (r < 0)
			failed++;
	}
	/* The unlinks of this pass, flushed together (see the top). */
	if (j->nids && queue_drop_sync(j->conf->data_dir) < 0)
		log_msg("drop area: cannot flush it: %s", strerror(errno));
	/* Again at once only if the full batch made progress. */
	j->more = n == QUEUE_DROP_BATCH && failed < n;
	queue_ids_free(names, n);
}

static void pickup_done(void *arg)
{
	struct pickup_job *j = arg;
	for (size_t i = 0; i < j->nids; i++)
		scheduler_add(j->srv->sched, j->ids[i], 0);
	struct server *srv = j->srv;
	srv->pickup->running = false;
	if (!srv->stopping)
		io_timer_start(srv->pickup->timer, j->more ? 0 : PICKUP_INTERVAL_MS);
	free(j);
}

static void pickup_tick(void *arg)
{
	struct server *srv = arg;
	if (srv->stopping || srv->pickup->running)
		return;
	struct pickup_job *j = calloc(1, sizeof *j);
	if (j == NULL) {
		io_timer_start(srv->pickup->timer, PICKUP_INTERVAL_MS);
		return;
	}
	j->srv = srv;
	j->conf = srv->conf;
	j->signer = srv->signer;
	srv->pickup->running = true;
	io_workers_submit(srv->commit_pool, pickup_work, pickup_done, j);
}

int pickup_start(struct server *srv)
{
	if (queue_drop_setup(srv->conf->data_dir) < 0) {
		/* Not fatal: the server's own user and root can still inject. */
		log_msg("%s: cannot open the drop area to local users: %s", srv->conf->data_dir, strerror(errno));
	}
	srv->pickup = calloc(1, sizeof *srv->pickup);
	if (srv->pickup)
		srv->pickup->timer = io_timer_new(srv->loop, pickup_tick, srv);
	if (srv->pickup == NULL || srv->pickup->timer == NULL) {
		log_msg("pickup: cannot create its timer");
		return -1;
	}
	io_timer_start(srv->pickup->timer, 0);
	return 0;
}
