/*
 * mime — the MIME structure of a message as IMAP FETCH serves it: the
 * part tree with offsets and wire sizes, ENVELOPE, BODYSTRUCTURE and
 * BODY (RFC 9051 7.5.2), the body sections of RFC 9051 6.4.5 and the
 * HEADER.FIELDS filters. See mime.h.
 *
 * This file is a client of the walker (mime_walk.c), which alone knows
 * how a message is cut into parts: each part's Content-* fields are
 * rendered into their BODYSTRUCTURE fragments as soon as its header
 * ends (mime_imap.c), each message header's envelope fields are
 * collected as they pass, and the nested strings are put together at
 * the end from the fragments and the sizes, walking the tree with an
 * explicit stack.
 *
 * Memory: the parts array, the fragments (bounded by the number of
 * parts and the size of their fields) and one envelope being collected;
 * nothing grows with the size of the bodies. An address list's IMAP
 * text can be fifteen times the field ("a,a,a": 29 octets for 2), so
 * the envelopes of the messages inside have a budget of their own
 * (MIME_ENV_TOTAL_MAX); past it they are written as all NIL.
 */
#include "proto/mime.h"

#include <stdlib.h>
#include <string.h>

#include "proto/mime_internal.h"

/* An address list of an envelope keeps at most this much IMAP text
 * (every From: field adds to the list, as Dovecot merges them). */
#define MIME_ENV_LIST_MAX (16 * MIME_FIELD_MAX)
/* The envelopes of all message/rfc822 parts together. */
#define MIME_ENV_TOTAL_MAX (256 * MIME_FIELD_MAX)
#define MIME_EMPTY_ENVELOPE "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"

/* What is kept of a part besides struct mime_part. */
struct mime_build {
	size_t head_off, head_len; /* BODYSTRUCTURE head (a multipart: its subtype) */
	size_t ext_off, ext_len;   /* the extension fields */
	size_t env_off, env_len;   /* a message's ENVELOPE */
	enum mime_kind kind;
	uint32_t last_child;
	struct mime_pos hdr, body;
};

struct mime_parser {
	struct mime_walk *walk;
	enum mime_mode mode;
	struct mime_part *parts;   /* owned until handed to the tree */
	struct mime_build *bp;
	size_t n, cap;
	struct buf arena;          /* the fragments */
	uint32_t env_part;         /* the message whose envelope is being collected */
	struct buf env[MIME_ENV_N];
	bool env_have[MIME_ENV_N];
	struct buf addr;           /* one field's addresses */
	size_t env_total;          /* octets of the inner messages' envelopes */
};

static int mime_part_begin_cb(void *ctx, uint32_t index, uint32_t parent, const struct mime_pos *hdr)
{
	struct mime_parser *p = ctx;
	if (index != p->n || p->n >= MIME_PARTS_MAX)
		return -1; /* the walker numbers parts in order and keeps the limit */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		if (cap > MIME_PARTS_MAX)
			cap = MIME_PARTS_MAX;
		struct mime_part *np = realloc(p->parts, cap * sizeof *np);
		if (np == NULL)
			return -1;
		p->parts = np;
		struct mime_build *nb = realloc(p->bp, cap * sizeof *nb);
		if (nb == NULL)
			return -1;
		p->bp = nb;
		p->cap = cap;
	}
	struct mime_part *pt = &p->parts[p->n];
	struct mime_build *b = &p->bp[p->n];
	p->n++;
	memset(pt, 0, sizeof *pt);
	memset(b, 0, sizeof *b);
	pt->parent = parent;
	pt->first_child = pt->next = MIME_NONE;
	pt->hdr_off = pt->body_off = pt->end_off = hdr->off;
	b->hdr = b->body = *hdr;
	b->last_child = MIME_NONE;
	b->kind = MIME_KIND_TEXT;
	if (parent != MIME_NONE) {
		struct mime_build *pb = &p->bp[parent];
		if (pb->last_child == MIME_NONE)
			p->parts[parent].first_child = index;
		else
			p->parts[pb->last_child].next = index;
		pb->last_child = index;
	}
	if (parent == MIME_NONE || p->bp[parent].kind == MIME_KIND_MESSAGE) {
		p->env_part = index;
		for (int i = 0; i < MIME_ENV_N; i++) {
			buf_reset(&p->env[i]);
			p->env_have[i] = false;
		}
	}
	return 0;
}

static int mime_field_cb(void *ctx, uint32_t index, const struct mime_field *f)
{
	struct mime_parser *p = ctx;
	if (index != p->env_part || !f->colon)
		return 0;
	enum mime_env_field e = mime_imap_env_which(f->name.p, f->name.n);
	if (e == MIME_ENV_N)
		return 0;
	if (!mime_imap_env_is_addr(e)) {
		/* the last of each, as Dovecot */
		buf_reset(&p->env[e]);
		p->env_have[e] = true;
		return buf_append(&p->env[e], f->value.p, f->value.n);
	}
	size_t count = 0;
	buf_reset(&p->addr);
	if (mime_addr_list(f->value.p, f->value.n, &p->addr, &count) < 0)
		return -1;
	if (p->env[e].len + p->addr.len > MIME_ENV_LIST_MAX)
		return 0;
	return buf_append(&p->env[e], p->addr.data ? p->addr.data : "", p->addr.len);
}

/* Append a fragment to the arena; its place in *off, *len. */
static int mime_fragment(struct mime_parser *p, size_t *off, size_t *len, int rc, size_t start)
{
	*off = start;
	*len = p->arena.len - start;
	return rc;
}

static int mime_body_begin_cb(void *ctx, uint32_t index, const struct mime_content *c, const struct mime_pos *body)
{
	struct mime_parser *p = ctx;
	struct mime_part *pt = &p->parts[index];
	struct mime_build *b = &p->bp[index];
	pt->body_off = pt->end_off = body->off;
	pt->hdr_vsize = body->wire - b->hdr.wire;
	pt->multipart = c->kind == MIME_KIND_MULTIPART;
	pt->message = c->kind == MIME_KIND_MESSAGE;
	b->kind = c->kind;
	b->body = *body;
	if (index == p->env_part) {
		struct mime_str v[MIME_ENV_N];
		for (int i = 0; i < MIME_ENV_N; i++) {
			if (mime_imap_env_is_addr((enum mime_env_field)i))
				v[i] = (struct mime_str){p->env[i].data, p->env[i].len};
			else if (p->env_have[i])
				v[i] = (struct mime_str){p->env[i].data ? p->env[i].data : "", p->env[i].len};
			else
				v[i] = (struct mime_str){NULL, 0};
		}
		size_t start = p->arena.len;
		if (mime_fragment(p, &b->env_off, &b->env_len, mime_imap_envelope(&p->arena, v), start) < 0)
			return -1;
		if (index > 0 && (p->env_total += b->env_len) > MIME_ENV_TOTAL_MAX) {
			p->arena.len = start;
			p->arena.data[start] = '\0';
			if (mime_fragment(p, &b->env_off, &b->env_len, buf_puts(&p->arena, MIME_EMPTY_ENVELOPE), start) < 0)
				return -1;
		}
		p->env_part = MIME_NONE;
	}
	if (p->mode == MIME_HEADER_ONLY)
		return 0;
	size_t start = p->arena.len;
	if (mime_fragment(p, &b->head_off, &b->head_len, mime_imap_body_head(&p->arena, c), start) < 0)
		return -1;
	start = p->arena.len;
	return mime_fragment(p, &b->ext_off, &b->ext_len, mime_imap_body_ext(&p->arena, c), start);
}

static int mime_part_end_cb(void *ctx, uint32_t index, const struct mime_pos *end)
{
	struct mime_parser *p = ctx;
	struct mime_part *pt = &p->parts[index];
	const struct mime_build *b = &p->bp[index];
	pt->end_off = end->off;
	pt->body_vsize = end->wire - b->body.wire;
	pt->body_lines = end->lines - b->body.lines;
	return 0;
}

static const struct mime_walk_ops mime_parser_ops = {
	.part_begin = mime_part_begin_cb,
	.field = mime_field_cb,
	.body_begin = mime_body_begin_cb,
	.part_end = mime_part_end_cb,
};

struct mime_parser *mime_parser_new(enum mime_mode mode)
{
	struct mime_parser *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->mode = mode;
	p->env_part = MIME_NONE;
	buf_init(&p->arena, 0);
	buf_init(&p->addr, 0);
	for (int i = 0; i < MIME_ENV_N; i++)
		buf_init(&p->env[i], MIME_FIELD_MAX + MIME_ENV_LIST_MAX);
	p->walk = mime_walk_new(&mime_parser_ops, p, mode == MIME_HEADER_ONLY);
	if (p->walk == NULL) {
		mime_parser_free(p);
		return NULL;
	}
	return p;
}

void mime_parser_free(struct mime_parser *p)
{
	if (p == NULL)
		return;
	mime_walk_free(p->walk);
	free(p->parts);
	free(p->bp);
	buf_free(&p->arena);
	buf_free(&p->addr);
	for (int i = 0; i < MIME_ENV_N; i++)
		buf_free(&p->env[i]);
	free(p);
}

int mime_parser_feed(struct mime_parser *p, const char *data, size_t n)
{
	return mime_walk_feed(p->walk, data, n);
}

bool mime_parser_done(const struct mime_parser *p)
{
	return p->mode == MIME_HEADER_ONLY && mime_walk_header_done(p->walk);
}

/* An empty multipart still needs a body (RFC 9051 "body-type-mpart" has
 * 1*body): a 0-octet text/plain, as Dovecot writes. */
#define MIME_EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

static int mime_put_frag(struct buf *out, const struct buf *arena, size_t off, size_t len)
{
	return buf_append(out, arena->data + off, len);
}

/* Open part i: write what comes before its children. Returns the first
 * child to visit (MIME_NONE: none, the part can be closed). */
static int mime_open(const struct mime_parser *p, uint32_t i, bool ext, struct buf *out, uint32_t *child)
{
	const struct mime_part *pt = &p->parts[i];
	const struct mime_build *b = &p->bp[i];
	int rc = buf_putc(out, '(');
	*child = MIME_NONE;
	if (b->kind == MIME_KIND_MULTIPART) {
		if (pt->first_child == MIME_NONE) {
			rc |= buf_puts(out, MIME_EMPTY_BODY);
			rc |= buf_puts(out, ext ? " NIL NIL NIL NIL)" : ")");
		}
		*child = pt->first_child;
		return rc < 0 ? -1 : 0;
	}
	rc |= mime_put_frag(out, &p->arena, b->head_off, b->head_len);
	rc |= buf_printf(out, " %llu", (unsigned long long)pt->body_vsize);
	if (b->kind == MIME_KIND_MESSAGE) {
		rc |= buf_putc(out, ' ');
		if (pt->first_child == MIME_NONE) {
			rc |= buf_puts(out, MIME_EMPTY_ENVELOPE " " MIME_EMPTY_BODY);
			rc |= buf_puts(out, ext ? " NIL NIL NIL NIL)" : ")");
		} else {
			const struct mime_build *cb = &p->bp[pt->first_child];
			rc |= mime_put_frag(out, &p->arena, cb->env_off, cb->env_len);
		}
		rc |= buf_putc(out, ' ');
		*child = pt->first_child;
		return rc < 0 ? -1 : 0;
	}
	if (b->kind == MIME_KIND_TEXT)
		rc |= buf_printf(out, " %llu", (unsigned long long)pt->body_lines);
	if (ext)
		rc |= mime_put_frag(out, &p->arena, b->ext_off, b->ext_len);
	rc |= buf_putc(out, ')');
	return rc < 0 ? -1 : 0;
}

/* Close part i after its children. */
static int mime_close(const struct mime_parser *p, uint32_t i, bool ext, struct buf *out)
{
	const struct mime_part *pt = &p->parts[i];
	const struct mime_build *b = &p->bp[i];
	int rc = 0;
	if (b->kind == MIME_KIND_MULTIPART) {
		rc |= buf_putc(out, ' ');
		rc |= mime_put_frag(out, &p->arena, b->head_off, b->head_len);
	} else if (b->kind == MIME_KIND_MESSAGE) {
		rc |= buf_printf(out, " %llu", (unsigned long long)pt->body_lines);
	} else {
		return 0; /* a leaf was closed when opened */
	}
	if (ext)
		rc |= mime_put_frag(out, &p->arena, b->ext_off, b->ext_len);
	rc |= buf_putc(out, ')');
	return rc < 0 ? -1 : 0;
}

/* The BODYSTRUCTURE (ext) or BODY of the whole message, one part at a
 * time from an explicit stack (depth is bounded by MIME_DEPTH_MAX). */
static int mime_body_text(const struct mime_parser *p, bool ext, char **res)
{
	struct mime_visit {
		uint32_t part, next;
	} st[MIME_DEPTH_MAX + 1];
	size_t sp = 0;
	struct buf out;
	buf_init(&out, 0);
	uint32_t child;
	int rc = mime_open(p, 0, ext, &out, &child);
	if (p->bp[0].kind == MIME_KIND_MULTIPART || p->bp[0].kind == MIME_KIND_MESSAGE)
		st[sp++] = (struct mime_visit){0, child};
	while (sp > 0 && rc == 0) {
		uint32_t c = st[sp - 1].next;
		if (c == MIME_NONE) {
			rc = mime_close(p, st[sp - 1].part, ext, &out);
			sp--;
			continue;
		}
		/* a message part has one child; a multipart's come in a list */
		st[sp - 1].next = p->bp[st[sp - 1].part].kind == MIME_KIND_MULTIPART ? p->parts[c].next : MIME_NONE;
		rc = mime_open(p, c, ext, &out, &child);
		enum mime_kind k = p->bp[c].kind;
		if (rc == 0 && (k == MIME_KIND_MULTIPART || k == MIME_KIND_MESSAGE)) {
			if (sp > MIME_DEPTH_MAX) {
				rc = -1; /* cannot happen: the walker bounds the depth */
				break;
			}
			st[sp++] = (struct mime_visit){c, child};
		}
	}
	if (rc == 0 && out.data == NULL)
		rc = buf_puts(&out, "");
	if (rc < 0) {
		buf_free(&out);
		return -1;
	}
	*res = out.data;
	return 0;
}

static char *mime_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

int mime_parser_finish(struct mime_parser *p, struct mime_tree *t)
{
	memset(t, 0, sizeof *t);
	int rc = mime_walk_finish(p->walk);
	if (rc == 0 && p->n == 0)
		rc = -1; /* cannot happen: the walker always reports the message */
	if (rc == 0) {
		const struct mime_build *b = &p->bp[0];
		t->vsize = mime_walk_pos(p->walk).wire;
		t->envelope = mime_strndup(p->arena.data + b->env_off, b->env_len);
		if (t->envelope == NULL)
			rc = -1;
	}
	if (rc == 0 && p->mode == MIME_FULL)
		rc = mime_body_text(p, true, &t->bodystructure) < 0 || mime_body_text(p, false, &t->body) < 0 ? -1 : 0;
	if (rc == 0) {
		t->parts = p->parts;
		t->n = p->n;
		p->parts = NULL;
	} else {
		mime_tree_free(t);
	}
	mime_parser_free(p);
	return rc;
}

void mime_tree_free(struct mime_tree *t)
{
	if (t == NULL)
		return;
	free(t->parts);
	free(t->envelope);
	free(t->bodystructure);
	free(t->body);
	memset(t, 0, sizeof *t);
}

/* ---- sections (RFC 9051 6.4.5) ---- */

static void mime_range_of(struct mime_range *r, uint64_t off, uint64_t end, uint64_t vsize)
{
	r->off = off;
	r->len = end - off;
	r->vsize = vsize;
}

int mime_tree_section(const struct mime_tree *t, const uint32_t *path, size_t depth, enum mime_section_what what,
                      struct mime_range *out)
{
	if (t->n == 0)
		return -1;
	/*
	 * cur is a message whose own part numbers are read next (at_msg),
	 * or a part. A non-multipart entity has one part 1, itself: the
	 * body of a non-multipart message (RFC 9051 6.4.5), and, as Dovecot
	 * answers, "1.1" for a leaf part "1" (once: selfed). The parts of a
	 * message/rfc822 part are those of its message.
	 */
	uint32_t cur = 0;
	bool at_msg = true, selfed = false;
	for (size_t k = 0; k < depth; k++) {
		if (path[k] == 0)
			return -1;
		if (!at_msg && !t->parts[cur].multipart && t->parts[cur].message) {
			if (t->parts[cur].first_child == MIME_NONE)
				return -1;
			cur = t->parts[cur].first_child;
			at_msg = true;
			selfed = false;
		}
		at_msg = false;
		const struct mime_part *pt = &t->parts[cur];
		if (pt->multipart) {
			uint32_t c = pt->first_child;
			for (uint32_t i = 1; i < path[k] && c != MIME_NONE; i++)
				c = t->parts[c].next;
			if (c == MIME_NONE)
				return -1;
			cur = c;
			selfed = false;
		} else if (path[k] != 1 || selfed) {
			return -1;
		} else {
			selfed = true;
		}
	}
	const struct mime_part *pt = &t->parts[cur];
	if (depth == 0) {
		switch (what) {
		case MIME_SEC_ALL:
			mime_range_of(out, 0, pt->end_off, t->vsize);
			return 0;
		case MIME_SEC_HEADER:
			mime_range_of(out, pt->hdr_off, pt->body_off, pt->hdr_vsize);
			return 0;
		case MIME_SEC_TEXT:
			mime_range_of(out, pt->body_off, pt->end_off, pt->body_vsize);
			return 0;
		default:
			return -1; /* MIME needs a part number */
		}
	}
	if (what == MIME_SEC_ALL) {
		mime_range_of(out, pt->body_off, pt->end_off, pt->body_vsize);
		return 0;
	}
	if (what == MIME_SEC_MIME) {
		mime_range_of(out, pt->hdr_off, pt->body_off, pt->hdr_vsize);
		return 0;
	}
	/* HEADER and TEXT of a part: of the message it holds */
	if (!pt->message || pt->first_child == MIME_NONE)
		return -1;
	const struct mime_part *m = &t->parts[pt->first_child];
	if (what == MIME_SEC_HEADER)
		mime_range_of(out, m->hdr_off, m->body_off, m->hdr_vsize);
	else
		mime_range_of(out, m->body_off, m->end_off, m->body_vsize);
	return 0;
}

/* ---- HEADER.FIELDS (RFC 9051 6.4.5) ---- */

struct mime_filter {
	const char *hdr;
	size_t n;
	const char *const *names;
	size_t k;
	bool not;
	struct buf *out;
};

static int mime_filter_field_cb(void *ctx, uint32_t index, const struct mime_field *f)
{
	struct mime_filter *fl = ctx;
	(void)index;
	bool listed = false;
	for (size_t j = 0; j < fl->k && !listed; j++)
		listed = mime_field_ieq(f->name.p, f->name.n, fl->names[j]);
	if (listed == fl->not)
		return 0;
	/* the field as it is, each line ending in CR LF */
	const char *s = fl->hdr;
	size_t start = (size_t)f->off, end = (size_t)f->end;
	for (size_t i = start; i < end; i++) {
		if (s[i] != '\n' || (i > 0 && s[i - 1] == '\r'))
			continue;
		if (buf_append(fl->out, s + start, i - start) < 0 || buf_puts(fl->out, "\r\n") < 0)
			return -1;
		start = i + 1;
	}
	if (buf_append(fl->out, s + start, end - start) < 0)
		return -1;
	/* the last line of the header may lack its line end, or have only
	 * its CR */
	if (end > (size_t)f->off && s[end - 1] != '\n' && buf_puts(fl->out, s[end - 1] == '\r' ? "\n" : "\r\n") < 0)
		return -1;
	return 0;
}

int mime_header_filter(const char *hdr, size_t n, const char *const *names, size_t k, bool not, struct buf *out)
{
	static const struct mime_walk_ops ops = {.field = mime_filter_field_cb};
	struct mime_filter fl = {hdr, n, names, k, not, out};
	struct mime_walk *w = mime_walk_new(&ops, &fl, true);
	if (w == NULL)
		return -1;
	int rc = mime_walk_feed(w, hdr, n);
	/* RFC 9051 6.4.5: the empty line is included "except in the case of
	 * a message which has no body and no blank line" */
	bool blank = mime_walk_header_done(w);
	if (rc == 0)
		rc = mime_walk_finish(w);
	mime_walk_free(w);
	if (rc == 0 && blank)
		rc = buf_puts(out, "\r\n");
	return rc;
}
