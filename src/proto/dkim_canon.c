/*
 * dkim_canon — RFC 6376 3.4 canonicalization. See dkim_canon.h.
 *
 * Owns no memory: the header functions append to the caller's buf, the
 * body canonicalizer lives in the caller's struct and writes to its sink.
 */
#include "proto/dkim_canon.h"

#include <string.h>

static bool dkim_canon_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char dkim_canon_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The field without a final line end (CRLF or LF). */
static size_t dkim_canon_trim_eol(const char *f, size_t n)
{
	if (n > 0 && f[n - 1] == '\n') {
		n--;
		if (n > 0 && f[n - 1] == '\r')
			n--;
	}
	return n;
}

/* 3.4.1 "simple": the field unchanged, except that a bare LF stands for
 * the CRLF the message had on the wire. */
static int dkim_canon_header_simple(const char *f, size_t n, struct buf *out)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (f[i] != '\n' || (i > 0 && f[i - 1] == '\r'))
			continue;
		if (buf_append(out, f + run, i - run) < 0 || buf_append(out, "\r\n", 2) < 0)
			return -1;
		run = i + 1;
	}
	if (buf_append(out, f + run, n - run) < 0)
		return -1;
	return buf_append(out, "\r\n", 2);
}

/*
 * 3.4.2 "relaxed": name in lower case; continuation lines unfolded; each
 * run of WSP one SP; no WSP at the end of the value, nor around the
 * colon.
 */
static int dkim_canon_header_relaxed(const char *f, size_t n, struct buf *out)
{
	const char *colon = memchr(f, ':', n);
	size_t name_end = colon ? (size_t)(colon - f) : n;
	size_t k = name_end;
	while (k > 0 && dkim_canon_is_wsp(f[k - 1]))
		k--;
	for (size_t i = 0; i < k; i++)
		if (buf_putc(out, dkim_canon_lower(f[i])) < 0)
			return -1;
	if (colon == NULL)
		return buf_append(out, "\r\n", 2);
	if (buf_putc(out, ':') < 0)
		return -1;
	bool started = false, space = false;
	for (size_t i = name_end + 1; i < n; i++) {
		char c = f[i];
		/* unfolding removes the line breaks, CRLF or a bare LF */
		if (c == '\n' || (c == '\r' && i + 1 < n && f[i + 1] == '\n'))
			continue;
		if (dkim_canon_is_wsp(c)) {
			space = true;
			continue;
		}
		if (space && started && buf_putc(out, ' ') < 0)
			return -1;
		space = false;
		started = true;
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

int dkim_canon_header(enum dkim_canon_alg alg, const char *field, size_t n, struct buf *out)
{
	size_t len = out->len;
	n = dkim_canon_trim_eol(field, n);
	int rc = alg == DKIM_CANON_RELAXED ? dkim_canon_header_relaxed(field, n, out)
	                                   : dkim_canon_header_simple(field, n, out);
	if (rc < 0) {
		out->len = len; /* all or nothing */
		if (out->data)
			out->data[len] = '\0';
	}
	return rc;
}

/* ---- the body, 3.4.3 and 3.4.4 ---- */

void dkim_canon_body_init(struct dkim_canon_body *b, enum dkim_canon_alg alg, uint64_t limit, dkim_canon_sink sink,
                          void *ctx)
{
	memset(b, 0, sizeof *b);
	b->alg = alg;
	b->limit = limit;
	b->sink = sink;
	b->ctx = ctx;
}

static void dkim_canon_flush(struct dkim_canon_body *b)
{
	if (b->outn > 0)
		b->sink(b->ctx, b->out, b->outn);
	b->outn = 0;
}

/* Count n canonical octets and pass on those within the limit. */
static void dkim_canon_emit(struct dkim_canon_body *b, const char *p, size_t n)
{
	uint64_t before = b->total;
	b->total = n > UINT64_MAX - before ? UINT64_MAX : before + n;
	if (before >= b->limit)
		return;
	if (n > b->limit - before)
		n = (size_t)(b->limit - before);
	while (n > 0) {
		if (b->outn == sizeof b->out)
			dkim_canon_flush(b);
		size_t k = sizeof b->out - b->outn;
		if (k > n)
			k = n;
		memcpy(b->out + b->outn, p, k);
		b->outn += k;
		p += k;
		n -= k;
	}
}

static const char dkim_canon_crlfs[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

/* Text follows: the empty lines held back were inside the body after all. */
static void dkim_canon_line_text(struct dkim_canon_body *b)
{
	while (b->empty_lines > 0) {
		uint64_t k = (sizeof dkim_canon_crlfs - 1) / 2;
		if (k > b->empty_lines)
			k = b->empty_lines;
		dkim_canon_emit(b, dkim_canon_crlfs, (size_t)k * 2);
		b->empty_lines -= k;
	}
	b->text = true;
}

static void dkim_canon_text(struct dkim_canon_body *b, const char *p, size_t n)
{
	if (!b->text)
		dkim_canon_line_text(b);
	if (b->wsp) {
		dkim_canon_emit(b, " ", 1);
		b->wsp = false;
	}
	dkim_canon_emit(b, p, n);
}

static void dkim_canon_line_end(struct dkim_canon_body *b)
{
	if (b->text)
		dkim_canon_emit(b, "\r\n", 2);
	else if (b->empty_lines < UINT64_MAX)
		b->empty_lines++;
	b->text = false;
	b->wsp = false;
}

/* Is c an octet the canonicalization passes through unchanged? */
static bool dkim_canon_plain(const struct dkim_canon_body *b, char c)
{
	if (c == '\r' || c == '\n')
		return false;
	return b->alg != DKIM_CANON_RELAXED || !dkim_canon_is_wsp(c);
}

void dkim_canon_body_feed(struct dkim_canon_body *b, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		char c = p[i];
		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				dkim_canon_line_end(b);
				i++;
				continue;
			}
			dkim_canon_text(b, "\r", 1); /* a bare CR is text */
		}
		if (c == '\r') {
			b->cr = true;
			i++;
		} else if (c == '\n') {
			dkim_canon_line_end(b);
			i++;
		} else if (!dkim_canon_plain(b, c)) {
			b->wsp = true; /* relaxed: WSP counts only if text follows */
			i++;
		} else {
			size_t j = i + 1;
			while (j < n && dkim_canon_plain(b, p[j]))
				j++;
			dkim_canon_text(b, p + i, j - i);
			i = j;
		}
	}
}

void dkim_canon_body_finish(struct dkim_canon_body *b)
{
	if (b->cr) {
		b->cr = false;
		dkim_canon_text(b, "\r", 1);
	}
	if (b->text) /* a last line without its line end gets one */
		dkim_canon_line_end(b);
	if (b->alg == DKIM_CANON_SIMPLE && b->total == 0)
		dkim_canon_emit(b, "\r\n", 2); /* 3.4.3: an empty body is one CRLF */
	b->empty_lines = 0;
	dkim_canon_flush(b);
}
