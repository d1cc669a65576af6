/*
 * mime_walk — the one reader of MIME structure: header sections and
 * their fields (RFC 5322 2.2, unfolding of 2.2.3), the end of a header
 * at its empty line (RFC 5322 2.1), multipart bodies split at their
 * boundary delimiter lines (RFC 2046 5.1.1), message/rfc822 bodies read
 * as messages (RFC 2046 5.2.1), the defaults of RFC 2045 5.2 and RFC 2046
 * 5.1.5. See mime_internal.h for the events it reports.
 *
 * It follows what Dovecot does with real mail, as IMAP clients have
 * come to expect it: only an empty line ends a header (a line without a
 * colon is a field too); a line that begins with "--" and an open
 * boundary is a delimiter line whatever follows the boundary on it (the
 * longest such boundary wins, an exact match first; nested multiparts
 * are searched innermost first); the line end before a delimiter line
 * belongs to the delimiter, not to the part before it, even when it is
 * the empty line that would have ended the part's header (the header
 * then has none, and the body is empty); a delimiter met
 * inside a part's header ends that header (and the part) there; a
 * delimiter of an outer multipart ends every part inside it; "--b--"
 * closes b, and later "--b" lines are text; once MIME_PARTS_MAX parts
 * exist no delimiter is recognized any more, and a container that would
 * pass MIME_DEPTH_MAX is described as an opaque leaf.
 *
 * Streaming with bounded memory: at the start of a line at most
 * MIME_PEEK_MAX octets are looked at before deciding what the line is;
 * the line end before it is held back meanwhile (a leaf's body is told
 * about it once it is known not to precede a delimiter); a CR at the end
 * of a feed is held until the next octet says whether it starts CR LF.
 * A header field is kept up to MIME_FIELD_MAX octets, and of each header
 * only the Content-* fields that BODYSTRUCTURE needs.
 *
 * Pure: no I/O; all memory is the walker's own.
 */
#include "proto/mime_internal.h"

#include <stdlib.h>
#include <string.h>

enum mime_walk_state {
	MIME_WALK_HDR_SOL,   /* at the start of a header line */
	MIME_WALK_HDR_LINE,  /* inside a header field's line */
	MIME_WALK_BODY_SOL,  /* at the start of a body line, boundaries open */
	MIME_WALK_BODY_LINE, /* inside a body line, boundaries open */
	MIME_WALK_BODY_RAW,  /* a body with no boundary open: the rest is all body */
	MIME_WALK_SKIP_LINE, /* the rest of a delimiter line */
	MIME_WALK_DONE,      /* header only, and the header has ended: count octets */
};

struct mime_walk_frame {
	uint32_t index;
	enum mime_kind kind;
	bool digest;
	bool live; /* its boundary is in force */
	size_t blen;
	char boundary[MIME_BOUNDARY_MAX];
};

struct mime_walk {
	const struct mime_walk_ops *ops;
	void *ctx;
	bool header_only;
	bool started;
	bool failed;
	bool header_done;
	enum mime_walk_state state;
	struct mime_pos pos;   /* the next octet to process */
	unsigned char prev;    /* the octet processed last */
	bool cr_held;          /* a CR, not yet processed, ended the last feed */
	bool eol;              /* the line end before the current line is held back */
	unsigned char eol_len;
	struct mime_pos eol_start;
	unsigned char peek[MIME_PEEK_MAX]; /* the start of the current line, not yet processed */
	size_t plen;
	struct mime_walk_frame frames[MIME_DEPTH_MAX]; /* the open parts, outermost first */
	size_t depth;
	size_t live;           /* frames with live boundaries */
	uint32_t nparts;
	bool close;            /* the delimiter line being skipped is "--b--" */
	bool hdr_blank;        /* the header's empty line was read; it ends the
	                        * header unless a delimiter line follows; the
	                        * content is decided (w->content) */
	struct mime_content content; /* of the header that ends */
	/* the header being read, that of frames[depth - 1] */
	struct buf field;      /* the current field, unfolded */
	bool field_open, field_trunc, field_line1_done;
	size_t field_line1;    /* octets of its first line */
	uint64_t field_off, field_end;
	bool is_mime;
	struct buf kept;       /* values of the Content-* fields kept */
	size_t kept_off[MIME_CF_N], kept_len[MIME_CF_N];
	bool kept_have[MIME_CF_N];
	struct mime_field_store store;
};

struct mime_walk *mime_walk_new(const struct mime_walk_ops *ops, void *ctx, bool header_only)
{
	struct mime_walk *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->ops = ops;
	w->ctx = ctx;
	w->header_only = header_only;
	buf_init(&w->field, MIME_FIELD_MAX);
	buf_init(&w->kept, 0);
	buf_init(&w->store.text, 0);
	mime_walk_reset(w);
	return w;
}

void mime_walk_reset(struct mime_walk *w)
{
	w->started = false;
	w->failed = false;
	w->header_done = false;
	w->state = MIME_WALK_HDR_SOL;
	memset(&w->pos, 0, sizeof w->pos);
	w->prev = 0;
	w->cr_held = false;
	w->eol = false;
	w->plen = 0;
	w->depth = 0;
	w->live = 0;
	w->nparts = 0;
	w->close = false;
	w->hdr_blank = false;
	w->field_open = false;
	buf_reset(&w->field);
	buf_reset(&w->kept);
}

void mime_walk_free(struct mime_walk *w)
{
	if (w == NULL)
		return;
	buf_free(&w->field);
	buf_free(&w->kept);
	mime_field_store_free(&w->store);
	free(w);
}

bool mime_walk_header_done(const struct mime_walk *w)
{
	return w->header_done;
}

struct mime_pos mime_walk_pos(const struct mime_walk *w)
{
	return w->pos;
}

static bool mime_walk_is_sol(enum mime_walk_state s)
{
	return s == MIME_WALK_HDR_SOL || s == MIME_WALK_BODY_SOL;
}

/* A callback's answer: -1 stops everything. */
static void mime_walk_check(struct mime_walk *w, int rc)
{
	if (rc < 0)
		w->failed = true;
}

/* Count n processed octets into the position. */
static void mime_walk_advance(struct mime_walk *w, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	const unsigned char *q = p, *end = p + n;
	uint64_t lf = 0, bare = 0;
	while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		lf++;
		if ((q == p ? w->prev : q[-1]) != '\r')
			bare++;
		q++;
	}
	w->pos.off += n;
	w->pos.wire += n + bare;
	w->pos.lines += lf;
	w->prev = p[n - 1];
}

static struct mime_walk_frame *mime_walk_top(struct mime_walk *w)
{
	return &w->frames[w->depth - 1];
}

/* Body octets of the current part: told to the client when it is a leaf. */
static void mime_walk_emit(struct mime_walk *w, const void *p, size_t n)
{
	const struct mime_walk_frame *f = mime_walk_top(w);
	if (n == 0 || w->ops->body == NULL || (f->kind != MIME_KIND_TEXT && f->kind != MIME_KIND_OTHER))
		return;
	mime_walk_check(w, w->ops->body(w->ctx, f->index, p, n));
}

static void mime_walk_emit_eol(struct mime_walk *w)
{
	if (!w->eol)
		return;
	w->eol = false;
	mime_walk_emit(w, w->eol_len == 2 ? "\r\n" : "\n", w->eol_len);
}

/* A new part's header begins at `at`. The caller has checked the limits. */
static void mime_walk_part_begin(struct mime_walk *w, const struct mime_pos *at)
{
	uint32_t parent = MIME_NONE;
	bool in_multipart = false;
	if (w->depth > 0) {
		parent = mime_walk_top(w)->index;
		in_multipart = mime_walk_top(w)->kind == MIME_KIND_MULTIPART;
	}
	struct mime_walk_frame *f = &w->frames[w->depth++];
	memset(f, 0, sizeof *f);
	f->index = w->nparts++;
	f->kind = MIME_KIND_TEXT;
	w->state = MIME_WALK_HDR_SOL;
	w->eol = false;
	w->hdr_blank = false;
	w->field_open = false;
	/* RFC 2045 4: the body parts of a multipart are MIME entities
	 * without a MIME-Version of their own. */
	w->is_mime = in_multipart;
	buf_reset(&w->kept);
	memset(w->kept_have, 0, sizeof w->kept_have);
	if (w->ops->part_begin)
		mime_walk_check(w, w->ops->part_begin(w->ctx, f->index, parent, at));
}

static void mime_walk_pop(struct mime_walk *w, const struct mime_pos *end)
{
	struct mime_walk_frame *f = &w->frames[--w->depth];
	if (f->live) {
		f->live = false;
		w->live--;
	}
	if (w->ops->part_end)
		mime_walk_check(w, w->ops->part_end(w->ctx, f->index, end));
}

/* ---- header fields ---- */

static void mime_walk_field_start(struct mime_walk *w)
{
	buf_reset(&w->field);
	w->field_open = true;
	w->field_trunc = false;
	w->field_line1_done = false;
	w->field_line1 = 0;
	w->field_off = w->pos.off;
	w->field_end = w->pos.off;
}

static void mime_walk_field_add(struct mime_walk *w, const void *p, size_t n)
{
	size_t room = MIME_FIELD_MAX - w->field.len;
	if (n > room) {
		n = room;
		w->field_trunc = true;
	}
	if (n > 0 && buf_append(&w->field, p, n) < 0)
		w->failed = true;
}

/* A line of the current field ended (its line end processed). */
static void mime_walk_field_line_end(struct mime_walk *w)
{
	if (!w->field_line1_done) {
		w->field_line1 = w->field.len;
		w->field_line1_done = true;
	}
	w->field_end = w->pos.off;
}

/* Keep a Content-* value, the first of each (Dovecot keeps the first).
 * A header is MIME with a MIME-Version (RFC 2045 4) or, since much mail
 * omits that, with a Content-Type. */
static void mime_walk_keep(struct mime_walk *w, const struct mime_field *f)
{
	enum mime_cf cf = mime_field_which(f->name.p, f->name.n);
	if (cf == MIME_CF_TYPE || mime_field_ieq(f->name.p, f->name.n, "MIME-Version"))
		w->is_mime = true;
	if (cf == MIME_CF_N || w->kept_have[cf])
		return;
	w->kept_have[cf] = true;
	w->kept_off[cf] = w->kept.len;
	w->kept_len[cf] = f->value.n;
	if (f->value.n > 0 && buf_append(&w->kept, f->value.p, f->value.n) < 0)
		w->failed = true;
}

/* The current field is complete: split it and report it. */
static void mime_walk_field_flush(struct mime_walk *w)
{
	if (!w->field_open)
		return;
	w->field_open = false;
	if (w->state == MIME_WALK_HDR_LINE)
		w->field_end = w->pos.off; /* the last line had no line end */
	if (!w->field_line1_done)
		w->field_line1 = w->field.len;
	const char *s = w->field.data ? w->field.data : "";
	size_t n = w->field.len;
	struct mime_field f = {.off = w->field_off, .end = w->field_end, .truncated = w->field_trunc};
	const char *colon = memchr(s, ':', w->field_line1);
	if (colon) {
		size_t nl = (size_t)(colon - s), v = nl + 1;
		while (nl > 0 && mime_field_is_wsp((unsigned char)s[nl - 1]))
			nl--;
		while (v < n && mime_field_is_wsp((unsigned char)s[v]))
			v++;
		f.name = (struct mime_str){s, nl};
		f.value = (struct mime_str){s + v, n - v};
		f.colon = true;
		mime_walk_keep(w, &f);
	} else {
		f.name = (struct mime_str){s, w->field_line1};
		f.value = (struct mime_str){s + w->field_line1, n - w->field_line1};
	}
	if (w->ops->field && !w->failed)
		mime_walk_check(w, w->ops->field(w->ctx, mime_walk_top(w)->index, &f));
}

/*
 * The current part's header ended; its body begins at `body` (cut: the
 * header was cut short by a delimiter line or the end of the message).
 * Decides what the part is and what comes next.
 */
/* What the current part's header makes it, into w->content (valid
 * until the next call: it points into w->store and w->kept). -1 on ENOMEM. */
static int mime_walk_content_of(struct mime_walk *w)
{
	size_t level = w->depth - 1;
	const struct mime_walk_frame *up = level > 0 ? &w->frames[level - 1] : NULL;
	struct mime_str raw[MIME_CF_N];
	for (int i = 0; i < MIME_CF_N; i++)
		raw[i] = w->kept_have[i] ? (struct mime_str){w->kept.data + w->kept_off[i], w->kept_len[i]}
		                         : (struct mime_str){NULL, 0};
	struct mime_content *c = &w->content;
	if (mime_field_content(&w->store, raw, w->is_mime, up && up->kind == MIME_KIND_MULTIPART && up->digest, c) <
	    0) {
		w->failed = true;
		return -1;
	}
	bool too_deep = level + 1 >= MIME_DEPTH_MAX;
	if ((c->kind == MIME_KIND_MULTIPART && too_deep) ||
	    (c->kind == MIME_KIND_MESSAGE && (too_deep || w->nparts >= MIME_PARTS_MAX))) {
		c->kind = MIME_KIND_OTHER;
		c->truncated = true;
		c->digest = false;
	}
	return 0;
}

static void mime_walk_header_end(struct mime_walk *w, const struct mime_pos *body, bool cut)
{
	struct mime_walk_frame *f = mime_walk_top(w);
	size_t level = w->depth - 1;
	/* the empty line has had the content decided already */
	if (!w->hdr_blank && mime_walk_content_of(w) < 0)
		return;
	w->hdr_blank = false;
	const struct mime_content c = w->content;
	f->kind = c.kind;
	f->digest = c.digest;
	if (level == 0)
		w->header_done = true;
	if (w->ops->body_begin)
		mime_walk_check(w, w->ops->body_begin(w->ctx, f->index, &c, body));
	w->eol = false;
	if (w->header_only && level == 0) {
		w->state = MIME_WALK_DONE;
		return;
	}
	if (c.kind == MIME_KIND_MULTIPART && !cut && c.boundary.n > 0) {
		f->live = true;
		f->blen = c.boundary.n < MIME_BOUNDARY_MAX ? c.boundary.n : MIME_BOUNDARY_MAX;
		memcpy(f->boundary, c.boundary.p, f->blen);
		w->live++;
	}
	if (c.kind == MIME_KIND_MESSAGE) {
		mime_walk_part_begin(w, body);
		return;
	}
	w->state = MIME_WALK_BODY_SOL;
}

/* ---- delimiter lines ---- */

/* Boundaries count only while more parts may be described. */
static bool mime_walk_live(const struct mime_walk *w)
{
	return w->live > 0 && w->nparts < MIME_PARTS_MAX;
}

/* Is enough of the line's start in the peek to say what the line is? */
static bool mime_walk_sol_ready(const struct mime_walk *w, bool eof)
{
	const unsigned char *p = w->peek;
	size_t k = w->plen;
	if (eof || k == MIME_PEEK_MAX)
		return true;
	if (k == 0)
		return false;
	if (w->state == MIME_WALK_HDR_SOL && p[0] == '\r' && k < 2)
		return false;
	if (p[0] == '-' && mime_walk_live(w)) {
		if (k < 2)
			return false;
		if (p[1] == '-' && p[k - 1] != '\n')
			return false;
	}
	return true;
}

/*
 * Is the line in the peek a delimiter line (RFC 2046 5.1.1)? The frame
 * whose boundary it is, or -1; *close when it is "--boundary--".
 */
static int mime_walk_delimiter(const struct mime_walk *w, bool eof, bool *close)
{
	if (!mime_walk_live(w) || w->plen < 2 || w->peek[0] != '-' || w->peek[1] != '-')
		return -1;
	const unsigned char *c = w->peek + 2;
	size_t clen = w->plen - 2;
	bool whole = eof;
	const unsigned char *lf = memchr(c, '\n', clen);
	if (lf) {
		clen = (size_t)(lf - c);
		whole = true;
		if (clen > 0 && c[clen - 1] == '\r')
			clen--;
	}
	bool dashes = clen > 2 && c[clen - 1] == '-' && c[clen - 2] == '-';
	/* After a part's empty line the boundary of the multipart that
	 * part is about to be comes first: its own first delimiter does
	 * not cut its header (index depth stands for it). */
	const struct mime_content *pc = &w->content;
	bool pending = w->hdr_blank && pc->kind == MIME_KIND_MULTIPART && pc->boundary.n > 0;
	int best = -1;
	size_t best_len = 0;
	for (size_t i = w->depth + 1; i-- > 0;) {
		const char *b;
		size_t bl;
		if (i == w->depth) {
			if (!pending)
				continue;
			b = pc->boundary.p;
			bl = pc->boundary.n < MIME_BOUNDARY_MAX ? pc->boundary.n : MIME_BOUNDARY_MAX;
		} else {
			if (!w->frames[i].live)
				continue;
			b = w->frames[i].boundary;
			bl = w->frames[i].blen;
		}
		if (bl > clen || memcmp(b, c, bl) != 0)
			continue;
		if (best < 0 || best_len < bl) {
			best = (int)i;
			best_len = bl;
			/* "b--" may be b closing or a boundary "b--" going on:
			 * an exact match cannot be bettered. */
			if (whole && (bl == clen || (dashes && bl + 2 == clen)))
				break;
		}
	}
	if (best == (int)w->depth)
		return -1;
	if (best >= 0)
		*close = clen >= best_len + 2 && c[best_len] == '-' && c[best_len + 1] == '-';
	return best;
}

/* A delimiter line of frames[fi] begins: every part inside that
 * multipart ends at `end`, before the line end that precedes the line. */
static void mime_walk_delimiter_hit(struct mime_walk *w, int fi, bool close, const struct mime_pos *end)
{
	w->eol = false;
	while (w->depth - 1 > (size_t)fi && !w->failed)
		mime_walk_pop(w, end);
	w->close = close;
	w->state = MIME_WALK_SKIP_LINE;
}

/* Decide what the line in the peek is. Returns the peek octets used up. */
static size_t mime_walk_sol(struct mime_walk *w, bool eof)
{
	bool close = false;
	int fi = mime_walk_delimiter(w, eof, &close);
	struct mime_pos end = w->eol ? w->eol_start : w->pos;

	if (w->state == MIME_WALK_HDR_SOL) {
		if (fi >= 0) {
			mime_walk_field_flush(w);
			/* the header is cut here; a message/rfc822 part's
			 * message (a child always exists) is cut too */
			while (w->state == MIME_WALK_HDR_SOL && !w->failed)
				mime_walk_header_end(w, &end, true);
			mime_walk_delimiter_hit(w, fi, close, &end);
			return 0;
		}
		if (w->plen == 0)
			return 0;
		if (w->hdr_blank) {
			/* no delimiter: the empty line did end the header; this
			 * line is looked at again as the body's first */
			struct mime_pos body = w->pos;
			mime_walk_header_end(w, &body, false);
			return 0;
		}
		if (w->peek[0] == '\n' || (w->plen >= 2 && w->peek[0] == '\r' && w->peek[1] == '\n')) {
			size_t k = w->peek[0] == '\n' ? 1 : 2;
			mime_walk_field_flush(w);
			struct mime_pos start = w->pos;
			mime_walk_advance(w, w->peek, k);
			if (mime_walk_live(w)) {
				/* RFC 2046 5.1.1: the line end before a delimiter
				 * line is the delimiter's, even this one's (then
				 * the header has no empty line and the body is
				 * empty, as Dovecot reads it) */
				if (mime_walk_content_of(w) < 0)
					return k;
				w->eol = true;
				w->eol_start = start;
				w->eol_len = (unsigned char)k;
				w->hdr_blank = true;
				return k;
			}
			struct mime_pos body = w->pos;
			mime_walk_header_end(w, &body, false);
			return k;
		}
		if (!(mime_field_is_wsp(w->peek[0]) && w->field_open)) {
			mime_walk_field_flush(w);
			mime_walk_field_start(w);
		}
		w->state = MIME_WALK_HDR_LINE;
		return 0;
	}
	if (fi >= 0) {
		mime_walk_delimiter_hit(w, fi, close, &end);
		return 0;
	}
	if (w->plen == 0)
		return 0;
	mime_walk_emit_eol(w);
	w->state = mime_walk_live(w) ? MIME_WALK_BODY_LINE : MIME_WALK_BODY_RAW;
	return 0;
}

/* ---- the states that consume octets ---- */

/* A line end was processed; the current line ends. */
static void mime_walk_line_end(struct mime_walk *w, const struct mime_pos *start, unsigned char len)
{
	w->eol = true;
	w->eol_start = *start;
	w->eol_len = len;
	if (w->state == MIME_WALK_HDR_LINE) {
		mime_walk_field_line_end(w);
		w->state = MIME_WALK_HDR_SOL;
	} else {
		w->state = MIME_WALK_BODY_SOL;
	}
}

/* Content of a header or body line. */
static void mime_walk_content(struct mime_walk *w, const void *p, size_t n)
{
	if (w->state == MIME_WALK_HDR_LINE)
		mime_walk_field_add(w, p, n);
	else
		mime_walk_emit(w, p, n);
	mime_walk_advance(w, p, n);
}

/* HDR_LINE and BODY_LINE: up to and including the line's LF. */
static size_t mime_walk_line(struct mime_walk *w, const unsigned char *p, size_t n)
{
	if (w->cr_held) {
		w->cr_held = false;
		if (p[0] == '\n') {
			struct mime_pos start = w->pos;
			mime_walk_advance(w, (const unsigned char *)"\r\n", 2);
			mime_walk_line_end(w, &start, 2);
			return 1;
		}
		mime_walk_content(w, "\r", 1);
	}
	const unsigned char *lf = memchr(p, '\n', n);
	if (lf == NULL) {
		size_t k = n;
		if (p[n - 1] == '\r') {
			k--;
			w->cr_held = true;
		}
		mime_walk_content(w, p, k);
		return n;
	}
	size_t k = (size_t)(lf - p);
	size_t c = k > 0 && p[k - 1] == '\r' ? k - 1 : k;
	mime_walk_content(w, p, c);
	struct mime_pos start = w->pos;
	mime_walk_advance(w, p + c, k + 1 - c);
	mime_walk_line_end(w, &start, (unsigned char)(k + 1 - c));
	return k + 1;
}

/* SKIP_LINE: the rest of a delimiter line; then a part or an epilogue. */
static size_t mime_walk_skip(struct mime_walk *w, const unsigned char *p, size_t n)
{
	const unsigned char *lf = memchr(p, '\n', n);
	size_t k = lf ? (size_t)(lf - p) + 1 : n;
	mime_walk_advance(w, p, k);
	if (lf == NULL)
		return k;
	struct mime_walk_frame *f = mime_walk_top(w);
	if (w->close) {
		/* RFC 2046 5.1.1: after the close delimiter, the epilogue */
		f->live = false;
		w->live--;
		w->eol = false;
		w->state = MIME_WALK_BODY_SOL;
	} else {
		mime_walk_part_begin(w, &w->pos);
	}
	return k;
}

static size_t mime_walk_run(struct mime_walk *w, const unsigned char *p, size_t n)
{
	switch (w->state) {
	case MIME_WALK_HDR_LINE:
	case MIME_WALK_BODY_LINE:
		return mime_walk_line(w, p, n);
	case MIME_WALK_BODY_RAW:
		mime_walk_emit(w, p, n);
		mime_walk_advance(w, p, n);
		return n;
	case MIME_WALK_SKIP_LINE:
		return mime_walk_skip(w, p, n);
	default: /* MIME_WALK_DONE; the SOL states never get here */
		mime_walk_advance(w, p, n);
		return n;
	}
}

static void mime_walk_input(struct mime_walk *w, const unsigned char *p, size_t n, bool eof)
{
	if (!w->started) {
		w->started = true;
		mime_walk_part_begin(w, &w->pos);
	}
	while (!w->failed) {
		if (mime_walk_is_sol(w->state)) {
			while (n > 0 && !mime_walk_sol_ready(w, false)) {
				w->peek[w->plen++] = *p++;
				n--;
			}
			if (!mime_walk_sol_ready(w, eof) || (eof && w->plen == 0))
				return;
			size_t used = mime_walk_sol(w, eof);
			while (used < w->plen && !w->failed && !mime_walk_is_sol(w->state))
				used += mime_walk_run(w, w->peek + used, w->plen - used);
			memmove(w->peek, w->peek + used, w->plen - used);
			w->plen -= used;
			continue;
		}
		if (n == 0)
			return;
		size_t k = mime_walk_run(w, p, n);
		p += k;
		n -= k;
	}
}

int mime_walk_feed(struct mime_walk *w, const char *data, size_t n)
{
	if (!w->failed)
		mime_walk_input(w, (const unsigned char *)data, n, false);
	return w->failed ? -1 : 0;
}

int mime_walk_finish(struct mime_walk *w)
{
	if (w->failed)
		return -1;
	mime_walk_input(w, NULL, 0, true);
	if (w->cr_held) {
		w->cr_held = false;
		mime_walk_content(w, "\r", 1);
	}
	if (w->state == MIME_WALK_HDR_SOL && w->hdr_blank) {
		struct mime_pos body = w->pos;
		mime_walk_header_end(w, &body, false);
	}
	if (w->state == MIME_WALK_HDR_LINE || w->state == MIME_WALK_HDR_SOL) {
		mime_walk_field_flush(w);
		struct mime_pos end = w->pos;
		while ((w->state == MIME_WALK_HDR_LINE || w->state == MIME_WALK_HDR_SOL) && !w->failed)
			mime_walk_header_end(w, &end, true);
	}
	if (w->state == MIME_WALK_BODY_SOL)
		mime_walk_emit_eol(w);
	while (w->depth > 0 && !w->failed)
		mime_walk_pop(w, &w->pos);
	w->state = MIME_WALK_DONE;
	return w->failed ? -1 : 0;
}
