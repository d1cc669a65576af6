/*
 * smtp_data — the message-content decoder of DATA and BDAT. See
 * smtp_data.h.
 *
 * Implements RFC 5321 4.1.1.4 (the end of data is CR LF . CR LF, and the
 * start of the content counts as the start of a line), 4.5.2 (a leading
 * dot is removed), 2.3.8 (only CR LF ends a line), 4.5.3.1.6 (text line
 * length) and RFC 3030 2-3 (BDAT content has no dot rules). It also
 * watches the header section of RFC 5322 2.2 / 3.6 for Received:,
 * Message-ID:, Date: and From:.
 *
 * The automaton, by state (the octets a state holds back are not yet
 * written to the output):
 *   SOL     start of a line.  DATA: '.' -> DOT.  CR -> CR.  else -> MID.
 *   MID     inside a line.    CR -> CR; every other octet (LF and NUL
 *           too) is content, copied a run at a time.
 *   CR      holds a CR.       LF: end of line, write LF -> SOL.  else:
 *           the CR was bare, write it -> MID (octet not consumed).
 *   DOT     holds a '.'.      CR -> DOT_CR.  else: the dot was stuffing,
 *           drop it -> MID (octet not consumed).
 *   DOT_CR  holds ". CR".     LF: end of data -> DONE.  else: drop the
 *           dot, write the bare CR -> MID (octet not consumed).
 *   DONE    CR LF . CR LF consumed; nothing more is consumed.
 * So a bare CR, a bare LF or a NUL never ends a line or the data: each
 * sets a flag and is passed through (the session refuses such a
 * message), which defeats every "SMTP smuggling" variant of 2023.
 *
 * Every transition either consumes octets and writes their output in one
 * append, or writes nothing: when the output is full the decoder stops at
 * an octet boundary with a consistent state and can resume later.
 *
 * Pure: no I/O, no global state; the only memory touched is `out`.
 */
#include "proto/smtp_data.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

enum smtp_data_state {
	SMTP_DATA_S_SOL = 0,
	SMTP_DATA_S_MID,
	SMTP_DATA_S_CR,
	SMTP_DATA_S_DOT,
	SMTP_DATA_S_DOT_CR,
	SMTP_DATA_S_DONE,
};

/* RFC 5321 4.5.3.1.6: 1000 octets including CR LF, so 998 of text. */
#define SMTP_DATA_TEXT_MAX (SMTP_TEXT_LINE_MAX - 2)

void smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->state = SMTP_DATA_S_SOL;
	d->in_headers = true;
}

/* Append decoded octets and count them. -1 (nothing written) when out
 * refuses them. */
static int smtp_data_put(struct smtp_data *d, struct buf *out, const void *p, size_t n)
{
	if (buf_append(out, p, n) < 0)
		return -1;
	d->size = d->size > UINT64_MAX - n ? UINT64_MAX : d->size + n;
	return 0;
}

static void smtp_data_count(struct smtp_data *d, size_t n)
{
	d->linelen = d->linelen > SIZE_MAX - n ? SIZE_MAX : d->linelen + n;
	if (d->linelen > SMTP_DATA_TEXT_MAX)
		d->flags |= SMTP_DATA_LONG_LINE;
}

/*
 * Keep the first decoded octets of a header-section line, with every run
 * of WSP stored as one octet: the longest name we look for plus one WSP
 * and the colon then always fit in head[], however many blanks an
 * obsolete-syntax sender put before the colon (RFC 5322 4.5.3 obs-optional
 * allows them).
 */
static void smtp_data_head_add(struct smtp_data *d, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n && d->headlen < sizeof(d->head); i++) {
		bool wsp = s[i] == ' ' || s[i] == '\t';
		if (wsp && d->headlen > 0 && (d->head[d->headlen - 1] == ' ' || d->head[d->headlen - 1] == '\t'))
			continue;
		d->head[d->headlen++] = (char)s[i];
	}
}

/* field-name [WSP] ":" with the name matched without regard to case
 * (RFC 5322 1.2.2). "From " without a colon is an mbox separator, not a
 * field. */
static bool smtp_data_head_is(const struct smtp_data *d, const char *name)
{
	size_t nl = strlen(name), k = nl;

	if (d->headlen <= nl || strncasecmp(d->head, name, nl) != 0)
		return false;
	if (d->head[k] == ' ' || d->head[k] == '\t')
		k++;
	return k < d->headlen && d->head[k] == ':';
}

/* A CR LF ended the current line. The first empty line ends the header
 * section (RFC 5322 2.1). */
static void smtp_data_line_end(struct smtp_data *d)
{
	if (d->in_headers) {
		if (d->linelen == 0) {
			d->in_headers = false;
		} else if (smtp_data_head_is(d, "Received")) {
			if (d->received < UINT_MAX)
				d->received++;
		} else if (smtp_data_head_is(d, "Message-ID")) {
			d->headers |= SMTP_HDR_MESSAGE_ID;
		} else if (smtp_data_head_is(d, "Date")) {
			d->headers |= SMTP_HDR_DATE;
		} else if (smtp_data_head_is(d, "From")) {
			d->headers |= SMTP_HDR_FROM;
		}
	}
	d->linelen = 0;
	d->headlen = 0;
}

static bool smtp_data_has_8bit(const unsigned char *s, size_t n)
{
	size_t k = 0;

	for (; k + 8 <= n; k += 8) {
		uint64_t w;
		memcpy(&w, s + k, sizeof(w));
		if (w & UINT64_C(0x8080808080808080))
			return true;
	}
	for (; k < n; k++)
		if (s[k] & 0x80)
			return true;
	return false;
}

/* A held CR turned out not to be followed by LF (RFC 5321 2.3.8: a bare
 * CR). It is content: written, counted and flagged. */
static int smtp_data_bare_cr(struct smtp_data *d, struct buf *out)
{
	if (smtp_data_put(d, out, "\r", 1) < 0)
		return -1;
	d->flags |= SMTP_DATA_BARE_CR;
	smtp_data_count(d, 1);
	if (d->in_headers)
		smtp_data_head_add(d, (const unsigned char *)"\r", 1);
	d->state = SMTP_DATA_S_MID;
	return 0;
}

/* Copy a run of line content (anything but CR). Returns the octets
 * consumed: fewer than n when out is nearly full, 0 when it is full. */
static size_t smtp_data_run(struct smtp_data *d, const unsigned char *s, size_t n, struct buf *out)
{
	size_t avail = out->len < out->max ? out->max - out->len : 0;

	if (n > avail)
		n = avail;
	if (n == 0 || smtp_data_put(d, out, s, n) < 0)
		return 0;
	if (!(d->flags & SMTP_DATA_BARE_LF) && memchr(s, '\n', n))
		d->flags |= SMTP_DATA_BARE_LF;
	if (!(d->flags & SMTP_DATA_NUL) && memchr(s, '\0', n))
		d->flags |= SMTP_DATA_NUL;
	if (!(d->flags & SMTP_DATA_8BIT) && smtp_data_has_8bit(s, n))
		d->flags |= SMTP_DATA_8BIT;
	if (d->in_headers && d->headlen < sizeof(d->head))
		smtp_data_head_add(d, s, n);
	smtp_data_count(d, n);
	return n;
}

size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t n, struct buf *out, bool *done)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;

	if (done)
		*done = false;
	while (i < n) {
		switch (d->state) {
		case SMTP_DATA_S_SOL:
			if (d->mode == SMTP_DATA_DOT && p[i] == '.') {
				/* RFC 5321 4.5.3.1.6: the dot doubled for transparency
				 * does not count toward the line length. */
				d->state = SMTP_DATA_S_DOT;
				i++;
			} else if (p[i] == '\r') {
				d->state = SMTP_DATA_S_CR;
				i++;
			} else {
				d->state = SMTP_DATA_S_MID;
			}
			break;
		case SMTP_DATA_S_DOT:
			if (p[i] == '\r') {
				d->state = SMTP_DATA_S_DOT_CR;
				i++;
			} else {
				/* RFC 5321 4.5.2: the first dot of the line is dropped. */
				d->state = SMTP_DATA_S_MID;
			}
			break;
		case SMTP_DATA_S_DOT_CR:
			if (p[i] == '\n') {
				/* CR LF . CR LF (RFC 5321 4.1.1.4); the rest is not ours. */
				d->state = SMTP_DATA_S_DONE;
				if (done)
					*done = true;
				return i + 1;
			}
			if (smtp_data_bare_cr(d, out) < 0)
				return i;
			break;
		case SMTP_DATA_S_CR:
			if (p[i] == '\n') {
				if (smtp_data_put(d, out, "\n", 1) < 0)
					return i;
				smtp_data_line_end(d);
				d->state = SMTP_DATA_S_SOL;
				i++;
			} else if (smtp_data_bare_cr(d, out) < 0) {
				return i;
			}
			break;
		case SMTP_DATA_S_MID: {
			const unsigned char *cr = memchr(p + i, '\r', n - i);
			size_t want = cr ? (size_t)(cr - (p + i)) : n - i;
			if (want > 0) {
				size_t got = smtp_data_run(d, p + i, want, out);
				i += got;
				if (got < want)
					return i;
			}
			if (cr) {
				d->state = SMTP_DATA_S_CR;
				i++;
			}
			break;
		}
		default: /* SMTP_DATA_S_DONE */
			if (done)
				*done = true;
			return i;
		}
	}
	if (done && d->state == SMTP_DATA_S_DONE)
		*done = true;
	return i;
}

void smtp_data_finish(struct smtp_data *d, struct buf *out)
{
	switch (d->state) {
	case SMTP_DATA_S_CR:
	case SMTP_DATA_S_DOT_CR:
		/* RFC 3030 3: a chunk may end between CR and LF, but after
		 * LAST no LF can follow: the CR was bare. */
		if (smtp_data_bare_cr(d, out) < 0)
			return;
		break;
	case SMTP_DATA_S_DOT:
		/* DATA mode only: a lone stuffed dot. The dot is not counted
		 * toward the length, but the line held it: it is not empty. */
		d->state = SMTP_DATA_S_MID;
		if (d->linelen == 0)
			d->linelen = 1;
		break;
	default:
		break;
	}
	/* Complete an unterminated last line, so that the stored message
	 * always ends with a line ending. */
	if (d->state == SMTP_DATA_S_MID && d->linelen > 0) {
		if (smtp_data_put(d, out, "\n", 1) < 0)
			return;
		smtp_data_line_end(d);
		d->state = SMTP_DATA_S_SOL;
	}
}
