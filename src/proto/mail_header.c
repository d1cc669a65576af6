/*
 * mail_header — Received, dates. RFC 5321 4.4 gives the trace field's
 * shape: "from" the client's name (with its address and reverse name in a
 * comment), "by" us, "with" the protocol (RFC 3848 names), "id" the queue
 * id, "for" the recipient when there is exactly one (more would disclose
 * Bcc recipients to each other), then "; date".
 */
#include "proto/mail_header.h"

#include <stdio.h>
#include <string.h>

void mail_header_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (strftime(out, outlen, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 && outlen)
		out[0] = '\0';
}

/* Client text, made safe for a header comment. */
static int mail_header_put_safe(struct buf *b, const char *s, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n < cap; s++, n++) {
		unsigned char ch = (unsigned char)*s;
		char c = (ch > 0x20 && ch < 0x7f && ch != '(' && ch != ')' && ch != '\\') ? (char)ch : '_';
		if (buf_putc(b, c) < 0)
			return -1;
	}
	return 0;
}

int mail_header_received(struct buf *b, const struct mail_received *r)
{
	char date[64];
	mail_header_date(r->when, date, sizeof date);
	int rc = buf_puts(b, "Received: from ");
	rc |= mail_header_put_safe(b, r->helo && *r->helo ? r->helo : "unknown", 255);
	rc |= buf_puts(b, " (");
	rc |= mail_header_put_safe(b, r->rdns ? r->rdns : "unknown", 255);
	rc |= buf_printf(b, " [%s])\n\tby %s (tern) with %s", r->addr, r->by, r->with);
	if (r->tls)
		rc |= buf_printf(b, " (%s)", r->tls);
	rc |= buf_printf(b, " id %s", r->id);
	if (r->for_rcpt) {
		rc |= buf_puts(b, "\n\tfor <");
		rc |= mail_header_put_safe(b, r->for_rcpt, 300);
		rc |= buf_putc(b, '>');
	}
	rc |= buf_printf(b, ";\n\t%s\n", date);
	return rc ? -1 : 0;
}
