/*
 * bounce — see bounce.h. The report carries the original header section
 * only (RFC 6522 text/rfc822-headers), read from the queue file and
 * capped, so that a bounce never grows beyond a few tens of kilobytes.
 */
#include "mta/bounce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "proto/mail_header.h"
#include "mta/signer.h"
#include "queue/queue_commit.h"

#define BOUNCE_HEADERS_MAX (64 * 1024)

/* The original header section, up to the first empty line. */
static void bounce_read_headers(struct queue *q, const struct queue_env *env, struct buf *out)
{
	int fd = queue_open_content(q, env);
	if (fd < 0)
		return;
	char tmp[8192];
	uint64_t left = env->content_len;
	while (left > 0 && out->len < BOUNCE_HEADERS_MAX) {
		size_t want = left < sizeof tmp ? (size_t)left : sizeof tmp;
		ssize_t n = read(fd, tmp, want);
		if (n <= 0)
			break;
		left -= (uint64_t)n;
		if (buf_append(out, tmp, (size_t)n) < 0)
			break;
		const char *end = memmem(out->data, out->len, "\n\n", 2);
		if (end) {
			out->len = (size_t)(end - out->data) + 1;
			out->data[out->len] = '\0';
			break;
		}
	}
	close(fd);
	if (out->len > BOUNCE_HEADERS_MAX)
		out->len = BOUNCE_HEADERS_MAX;
}

/* Our reports are signed like our users' mail: a receiver that checks
 * DMARC on MAILER-DAEMON@HOSTNAME finds an aligned signature. Unsigned
 * (logged) rather than not sent when signing fails. */
static int bounce_sign(const struct conf *conf, const struct signer *signer, const char *id, const struct buf *msg,
                       time_t now, struct buf *sigs)
{
	if (signer_count(signer) == 0)
		return 0;
	struct msgsign *m = msgsign_new(signer, (int64_t)now, conf_report_domain(conf));
	if (m == NULL)
		return -1;
	msgsign_feed(m, msg->data, msg->len);
	char err[128];
	if (msgsign_finish(m, sigs, err, sizeof err) < 0) {
		buf_reset(sigs);
		log_msg("%s dkim=unsigned error=\"%s\"", id, err);
	} else if (sigs->len) {
		log_msg("%s dkim=signed d=%s", id, msgsign_domain(m));
	}
	msgsign_free(m);
	return 0;
}

int bounce_queue(const struct conf *conf, const struct signer *signer, struct queue *q, const struct queue_env *env, const struct dsn_rcpt *rcpts,
                 size_t n, char id_out[QUEUE_ID_MAX])
{
	/* Never bounce a bounce (RFC 5321 6.1, RFC 3464 2): a report that
	 * cannot be delivered goes to the postmaster once; one for the
	 * postmaster that fails is dropped. */
	char pm[320];
	const char *to = env->sender;
	if (to == NULL || to[0] == '\0') {
		bool to_postmaster = false;
		for (size_t i = 0; i < n; i++)
			if (strncasecmp(rcpts[i].addr, "postmaster@", 11) == 0)
				to_postmaster = true;
		if (to_postmaster || conf->ndomains == 0) {
			for (size_t i = 0; i < n; i++) {
				char t[LOG_VALUE_MAX], why[LOG_VALUE_MAX];
				log_msg("%s to=%s status=bounced reason=%s dsn=none note=\"null sender, dropped\"", env->id,
				        log_addr(t, sizeof t, rcpts[i].addr), log_value(why, sizeof why, rcpts[i].diagnostic));
			}
			return 1;
		}
		snprintf(pm, sizeof pm, "postmaster@%s", conf->domains[0]);
		to = pm;
	}
	struct queue_env b;
	memset(&b, 0, sizeof b);
	queue_new_id(b.id);
	b.arrival = time(NULL);
	b.sender = (char *)"";
	b.helo = conf->hostname;
	b.client = (char *)"local";
	struct queue_rcpt r = {.addr = (char *)to, .orcpt = (char *)to};
	b.rcpts = &r;
	b.nrcpts = 1;
	struct buf hdr, msg;
	buf_init(&hdr, BOUNCE_HEADERS_MAX + 8192);
	buf_init(&msg, 0);
	bounce_read_headers(q, env, &hdr);
	struct dsn_info d = {
		.reporting_mta = conf->hostname,
		.queue_id = env->id,
		.bounce_id = b.id,
		.to = to,
		.arrival = env->arrival,
		.now = b.arrival,
		.rcpts = rcpts,
		.nrcpts = n,
		.headers = hdr.data ? hdr.data : "",
		.headers_len = hdr.len,
	};
	struct mail_received rcv = {
		.helo = "localhost", .addr = "127.0.0.1", .by = conf->hostname, .with = "local", .id = b.id,
		.when = b.arrival,
	};
	int rc = -1;
	struct queue_writer *w = NULL;
	struct buf sigs;
	buf_init(&sigs, 0);
	if (mail_header_received(&msg, &rcv) == 0 && dsn_build(&msg, &d) == 0 &&
	    bounce_sign(conf, signer, b.id, &msg, b.arrival, &sigs) == 0 && (w = queue_writer_open(q, &b)) != NULL &&
	    queue_writer_write(w, msg.data, msg.len) == 0 &&
	    (sigs.len == 0 || queue_writer_tail(w, NULL, sigs.data, false) == 0)) {
		rc = queue_commit_durable(q, w);
		w = NULL;
	}
	buf_free(&sigs);
	if (w)
		queue_writer_abort(w);
	if (rc == 0) {
		memcpy(id_out, b.id, QUEUE_ID_MAX);
		for (size_t i = 0; i < n; i++) {
			char t[LOG_VALUE_MAX], why[LOG_VALUE_MAX];
			log_msg("%s to=%s status=bounced reason=%s dsn=%s", env->id, log_addr(t, sizeof t, rcpts[i].addr),
			        log_value(why, sizeof why, rcpts[i].diagnostic), b.id);
		}
	} else {
		log_msg("%s error=\"cannot queue the bounce: %s\"", env->id, strerror(errno));
	}
	buf_free(&hdr);
	buf_free(&msg);
	return rc;
}
