/*
 * dkim_canon — the "simple" and "relaxed" canonicalizations of RFC 6376
 * 3.4, for one header field and for a body streamed in pieces.
 *
 * A message may come as stored (lines ending in a bare LF, as in a
 * Maildir) or as sent (CRLF): either way the canonical form is what the
 * CRLF form would give. A CR not followed by LF is an ordinary octet.
 *
 * The body canonicalizer holds no line: it passes canonical octets on to
 * a sink as they come, keeping back only a count of empty lines (which
 * count only if more text follows them, 3.4.3 and 3.4.4), one pending
 * CR and a small output block. Its memory is the struct, whatever the
 * message.
 */
#ifndef TERN_DKIM_CANON_H
#define TERN_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum dkim_canon_alg {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/*
 * Append the canonical form of one header field to out, followed by
 * CRLF. field[0..n) is the field with its continuation lines; a line end
 * at the very end is allowed and ignored. 0, or -1 when out is full.
 */
int dkim_canon_header(enum dkim_canon_alg alg, const char *field, size_t n, struct buf *out);

/* Where canonical body octets go (a hash update, a test buffer). */
typedef void (*dkim_canon_sink)(void *ctx, const char *p, size_t n);

#define DKIM_CANON_BLOCK 1024

struct dkim_canon_body {
	enum dkim_canon_alg alg;
	dkim_canon_sink sink;
	void *ctx;
	uint64_t limit;       /* octets passed to the sink at most (l=) */
	uint64_t total;       /* canonical octets so far, also beyond limit */
	uint64_t empty_lines; /* empty lines held back */
	bool cr;              /* the last octet seen was a CR */
	bool wsp;             /* relaxed: WSP held back in this line */
	bool text;            /* this line has text */
	size_t outn;
	char out[DKIM_CANON_BLOCK];
};

/* limit: UINT64_MAX for the whole body. */
void dkim_canon_body_init(struct dkim_canon_body *b, enum dkim_canon_alg alg, uint64_t limit, dkim_canon_sink sink,
                          void *ctx);
void dkim_canon_body_feed(struct dkim_canon_body *b, const char *p, size_t n);
/* The end of the body: completes a last line without a line end and,
 * for simple, makes an empty body one CRLF (3.4.3). b->total is then
 * the length of the canonical body. */
void dkim_canon_body_finish(struct dkim_canon_body *b);

#endif
