/*
 * smtp_content — encodes outgoing message content. See smtp_content.h.
 *
 * Owns RFC 5321 2.3.8 (lines end in CR LF on the wire), 4.5.2 (a line that
 * starts with "." gets one more "." in DATA), 4.5.3.1.6 and RFC 5322 2.1.1
 * (998 octets a line), and the header/body split of RFC 5322 2.1 (the
 * first empty line). Must not do I/O.
 */
#include "proto/smtp_content.h"

#include <stdio.h>
#include <string.h>

void smtp_content_init(struct smtp_content *e, bool dot)
{
	memset(e, 0, sizeof *e);
	e->dot = dot;
	e->at_bol = true;
	e->in_headers = true;
	e->lines = 1;
}

static int smtp_content_fail(struct smtp_content *e, enum smtp_content_error err)
{
	e->error = err;
	return -1;
}

/* Append p[0..n) to out (when there is one) and count it. */
static int smtp_content_put(struct smtp_content *e, const char *p, size_t n, struct buf *out)
{
	if (n == 0)
		return 0;
	if (out && buf_append(out, p, n) < 0)
		return smtp_content_fail(e, SMTP_CONTENT_NOMEM);
	e->size += n;
	return 0;
}

static int smtp_content_end_line(struct smtp_content *e, struct buf *out)
{
	if (smtp_content_put(e, "\r\n", 2, out) < 0)
		return -1;
	if (e->in_headers && e->linelen == 0)
		e->in_headers = false; /* RFC 5322 2.1: the empty line ends the header section */
	e->linelen = 0;
	e->at_bol = true;
	e->lines++;
	return 0;
}

int smtp_content_feed(struct smtp_content *e, const char *in, size_t n, struct buf *out)
{
	if (e->error)
		return -1;
	size_t span = 0; /* start of the octets not yet copied */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (e->pending_cr) {
			e->pending_cr = false;
			if (c != '\n')
				return smtp_content_fail(e, SMTP_CONTENT_BARE_CR);
			if (smtp_content_end_line(e, out) < 0)
				return -1;
			span = i + 1;
			continue;
		}
		if (c == '\r' || c == '\n') {
			if (smtp_content_put(e, in + span, i - span, out) < 0)
				return -1;
			span = i + 1;
			if (c == '\r') {
				e->pending_cr = true; /* its LF may be in the next piece */
				continue;
			}
			if (smtp_content_end_line(e, out) < 0)
				return -1;
			continue;
		}
		if (c == '\0')
			return smtp_content_fail(e, SMTP_CONTENT_NUL);
		if (e->at_bol) {
			e->at_bol = false;
			/* span == i here: nothing of this line was copied yet */
			if (e->dot && c == '.' && smtp_content_put(e, ".", 1, out) < 0)
				return -1;
		}
		if (c >= 0x80) {
			e->eightbit = true;
			if (e->in_headers)
				e->header_8bit = true;
		}
		if (++e->linelen > SMTP_CONTENT_LINE_MAX)
			return smtp_content_fail(e, SMTP_CONTENT_LONG_LINE);
	}
	return smtp_content_put(e, in + span, n - span, out);
}

int smtp_content_finish(struct smtp_content *e, struct buf *out)
{
	if (e->error)
		return -1;
	if (e->pending_cr)
		return smtp_content_fail(e, SMTP_CONTENT_BARE_CR);
	if (!e->at_bol)
		return smtp_content_end_line(e, out);
	return 0;
}

void smtp_content_strerror(const struct smtp_content *e, char *out, size_t outlen)
{
	unsigned long long line = (unsigned long long)e->lines;
	switch (e->error) {
	case SMTP_CONTENT_OK:
		snprintf(out, outlen, "no error");
		break;
	case SMTP_CONTENT_LONG_LINE:
		snprintf(out, outlen, "line %llu is longer than %d octets (RFC 5322 2.1.1)", line,
		         SMTP_CONTENT_LINE_MAX);
		break;
	case SMTP_CONTENT_BARE_CR:
		snprintf(out, outlen, "line %llu holds a CR that is not followed by LF", line);
		break;
	case SMTP_CONTENT_NUL:
		snprintf(out, outlen, "line %llu holds a NUL octet", line);
		break;
	case SMTP_CONTENT_NOMEM:
	default:
		snprintf(out, outlen, "out of memory");
		break;
	}
}
