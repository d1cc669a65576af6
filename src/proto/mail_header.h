/*
 * mail_header — the trace and submission header fields tern writes:
 * Received (RFC 5321 4.4), Return-Path and Delivered-To, the RFC 5322
 * date. Pure: all inputs are arguments, output goes to a buf.
 */
#ifndef TERN_MAIL_HEADER_H
#define TERN_MAIL_HEADER_H

#include <stdbool.h>
#include <time.h>

#include "base/buf.h"

/* "Sat, 28 Nov 2026 14:00:00 +0000" (RFC 5322 3.3), in UTC. */
void mail_header_date(time_t t, char *out, size_t outlen);

struct mail_received {
	const char *helo;      /* client's HELO/EHLO argument (escaped on output) */
	const char *rdns;      /* reverse name or NULL */
	const char *addr;      /* client IP text */
	const char *by;        /* our hostname */
	const char *with;      /* SMTP, ESMTP, ESMTPS, ESMTPSA, UTF8SMTP... (RFC 3848, 6531) */
	const char *tls;       /* "TLS1.3 cipher" or NULL */
	const char *id;        /* queue id */
	const char *for_rcpt;  /* the one recipient, or NULL when several */
	time_t when;
};

/* Append a folded Received: field ending in LF. Client-supplied text is
 * reduced to printable ASCII without parentheses so that it cannot
 * forge other fields. 0 / -1. */
int mail_header_received(struct buf *b, const struct mail_received *r);

#endif
