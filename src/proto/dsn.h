/*
 * dsn — delivery status notifications (RFC 3464) as tern sends them: a
 * multipart/report (RFC 6522) with a human-readable part, the
 * message/delivery-status part, and the original message's header
 * section (text/rfc822-headers). Pure: the caller gives every fact and
 * reads the message back, with LF line endings, ready for the queue.
 */
#ifndef TERN_DSN_H
#define TERN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/buf.h"

struct dsn_rcpt {
	const char *addr;        /* final recipient */
	const char *orcpt;       /* as the sender gave it, or NULL */
	const char *status;      /* "5.1.1" */
	const char *remote_mta;  /* host name of the exchanger that answered, or NULL */
	const char *diagnostic;  /* the remote reply ("550 5.1.1 ... ") or a local reason */
	bool remote;             /* diagnostic is an SMTP reply (Diagnostic-Code: smtp;) */
};

struct dsn_info {
	const char *reporting_mta;   /* our hostname */
	const char *queue_id;        /* the original message's id */
	const char *bounce_id;       /* the id the report gets (Message-ID, boundary) */
	const char *to;              /* the original envelope sender: the report's recipient */
	time_t arrival;              /* when the original arrived */
	time_t now;
	bool delayed;                /* a delay warning (Action: delayed) instead of failure */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
	const char *headers;         /* the original header section, LF endings */
	size_t headers_len;
};

/* Append the whole report message to out. 0 / -1 (out full). */
int dsn_build(struct buf *out, const struct dsn_info *d);

#endif
