/*
 * dsn — RFC 3464 reports. See dsn.h.
 *
 * Field choices: Reporting-MTA and Remote-MTA are "dns;" names; the
 * Diagnostic-Code is "smtp;" with the remote reply when there was one
 * (RFC 3464 2.3.6), else "x-tern;" with our own reason; Final-Recipient
 * is "rfc822;" (RFC 3464 2.3.2). Recipient text is reduced to printable
 * ASCII so that a hostile address cannot inject header fields.
 */
#include "proto/dsn.h"

#include <stdio.h>
#include <string.h>

#include "proto/mail_header.h"

/* Printable ASCII only, at most cap octets. */
static int dsn_put_safe(struct buf *b, const char *s, size_t cap)
{
	for (size_t n = 0; s && *s && n < cap; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (buf_putc(b, (c >= 0x20 && c < 0x7f) ? (char)c : '?') < 0)
			return -1;
	}
	return 0;
}

int dsn_build(struct buf *out, const struct dsn_info *d)
{
	char date[64], arr[64];
	mail_header_date(d->now, date, sizeof date);
	mail_header_date(d->arrival, arr, sizeof arr);
	const char *boundary_pre = "=_tern_report_";
	int rc = 0;
	rc |= buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", d->reporting_mta);
	rc |= buf_puts(out, "To: <");
	rc |= dsn_put_safe(out, d->to, 300);
	rc |= buf_puts(out, ">\n");
	rc |= buf_printf(out, "Subject: %s\n",
	                 d->delayed ? "Delayed Mail (still being retried)" : "Undelivered Mail Returned to Sender");
	rc |= buf_printf(out, "Date: %s\n", date);
	rc |= buf_printf(out, "Message-ID: <%s.dsn@%s>\n", d->bounce_id, d->reporting_mta);
	rc |= buf_puts(out, "Auto-Submitted: auto-replied\n"); /* RFC 3834: no replies to this */
	rc |= buf_puts(out, "MIME-Version: 1.0\n");
	rc |= buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"%s%s\"\n",
	                 boundary_pre, d->bounce_id);
	rc |= buf_puts(out, "\nThis is a MIME-encapsulated message.\n\n");

	/* 1. the human-readable part */
	rc |= buf_printf(out, "--%s%s\nContent-Type: text/plain; charset=us-ascii\n\n", boundary_pre, d->bounce_id);
	rc |= buf_printf(out, "This is the mail system at host %s.\n\n", d->reporting_mta);
	if (d->delayed)
		rc |= buf_puts(out, "Your message could not be delivered yet. It will be retried;\n"
		                    "you do not need to send it again.\n\n");
	else
		rc |= buf_puts(out, "Your message could not be delivered to one or more recipients.\n"
		                    "It is attached below.\n\n");
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		rc |= buf_puts(out, "<");
		rc |= dsn_put_safe(out, r->addr, 300);
		rc |= buf_puts(out, ">: ");
		if (r->remote_mta) {
			rc |= buf_puts(out, "host ");
			rc |= dsn_put_safe(out, r->remote_mta, 255);
			rc |= buf_puts(out, " said: ");
		}
		rc |= dsn_put_safe(out, r->diagnostic, 600);
		rc |= buf_puts(out, "\n");
	}

	/* 2. message/delivery-status (RFC 3464 2.2, 2.3) */
	rc |= buf_printf(out, "\n--%s%s\nContent-Type: message/delivery-status\n\n", boundary_pre, d->bounce_id);
	rc |= buf_printf(out, "Reporting-MTA: dns; %s\n", d->reporting_mta);
	rc |= buf_printf(out, "X-Tern-Queue-ID: %s\n", d->queue_id);
	rc |= buf_printf(out, "Arrival-Date: %s\n", arr);
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		rc |= buf_puts(out, "\n");
		if (r->orcpt && *r->orcpt) {
			rc |= buf_puts(out, "Original-Recipient: rfc822; ");
			rc |= dsn_put_safe(out, r->orcpt, 300);
			rc |= buf_puts(out, "\n");
		}
		rc |= buf_puts(out, "Final-Recipient: rfc822; ");
		rc |= dsn_put_safe(out, r->addr, 300);
		rc |= buf_printf(out, "\nAction: %s\nStatus: ", d->delayed ? "delayed" : "failed");
		rc |= dsn_put_safe(out, r->status, 16);
		rc |= buf_puts(out, "\n");
		if (r->remote_mta) {
			rc |= buf_puts(out, "Remote-MTA: dns; ");
			rc |= dsn_put_safe(out, r->remote_mta, 255);
			rc |= buf_puts(out, "\n");
		}
		rc |= buf_puts(out, r->remote ? "Diagnostic-Code: smtp; " : "Diagnostic-Code: x-tern; ");
		rc |= dsn_put_safe(out, r->diagnostic, 600);
		rc |= buf_puts(out, "\n");
		rc |= buf_printf(out, "Last-Attempt-Date: %s\n", date);
	}

	/* 3. the original header section (RFC 6522 allows headers only) */
	rc |= buf_printf(out, "\n--%s%s\nContent-Type: text/rfc822-headers\n\n", boundary_pre, d->bounce_id);
	rc |= buf_append(out, d->headers, d->headers_len);
	if (d->headers_len && d->headers[d->headers_len - 1] != '\n')
		rc |= buf_putc(out, '\n');
	rc |= buf_printf(out, "\n--%s%s--\n", boundary_pre, d->bounce_id);
	return rc ? -1 : 0;
}
