/*
 * mime_search — the text keys of SEARCH (RFC 9051 6.4.4: HEADER, FROM,
 * TO, CC, BCC, SUBJECT, BODY, TEXT) over one message in one streaming
 * pass. See mime.h.
 *
 * A client of the walker (mime_walk.c): the message's own header fields
 * are the haystacks of HEADER needles (the unfolded value, RFC 2047
 * words decoded); every header field of every part ("Name: value") and
 * the body of every text/ or message/ leaf are those of TEXT needles;
 * the bodies alone those of BODY needles, as Dovecot searches them.
 * Bodies are decoded from their Content-Transfer-Encoding and charset
 * on the fly (mime_decode.c). Each haystack is a stream of code points,
 * case-folded, with CR LF read as LF so that stored LF and wire CR LF
 * search alike; a needle is matched in it by its own Knuth-Morris-Pratt
 * automaton, so a match may span feeds, soft line breaks and base64
 * quanta, but not two parts or two fields.
 *
 * Memory is the needles and the decoders' small state, whatever the
 * size of the message.
 */
#include "proto/mime.h"

#include <stdlib.h>
#include <string.h>

#include "proto/mime_internal.h"

struct mime_search_needle {
	enum mime_needle_where where;
	char *field;          /* owned */
	size_t flen;
	uint32_t *cp;         /* owned: the folded text */
	size_t ncp;
	size_t *fail;         /* owned: KMP failure function */
	size_t state;         /* code points matched so far */
	bool active;          /* searched in the current haystack */
	bool matched;
};

struct mime_search {
	struct mime_search_needle *nd; /* owned */
	size_t n;
	struct mime_walk *walk;        /* owned */
	bool header_done;              /* the message's header has ended */
	bool ended;
	bool cr;                       /* a CR held: is it CR LF? */
	/* the body being searched */
	bool body_on;
	struct mime_cte_dec cte;
	struct mime_charset_dec cs;
	struct mime_utf8_dec u8;
	struct buf hv;                 /* one decoded header field */
	/* building a needle */
	uint32_t *prep;
	size_t nprep;
};

/* ---- the automaton ---- */

static void mime_search_step(struct mime_search_needle *d, uint32_t c)
{
	if (d->matched || !d->active || d->ncp == 0)
		return;
	size_t st = d->state;
	while (st > 0 && d->cp[st] != c)
		st = d->fail[st - 1];
	if (d->cp[st] == c)
		st++;
	if (st == d->ncp) {
		d->matched = true;
		st = 0;
	}
	d->state = st;
}

static void mime_search_push(struct mime_search *s, uint32_t c)
{
	for (size_t i = 0; i < s->n; i++)
		mime_search_step(&s->nd[i], c);
}

/* A code point of the haystack: CR LF is LF; then folded. */
static int mime_search_cp(void *arg, uint32_t cp)
{
	struct mime_search *s = arg;
	if (s->cr) {
		s->cr = false;
		if (cp == '\n') {
			mime_search_push(s, '\n');
			return 0;
		}
		mime_search_push(s, '\r');
	}
	if (cp == '\r') {
		s->cr = true;
		return 0;
	}
	mime_search_push(s, mime_decode_fold(cp));
	return 0;
}

/* A haystack begins: which needles look at it. */
static void mime_search_begin(struct mime_search *s, bool (*wants)(const struct mime_search_needle *, const void *),
                              const void *arg)
{
	s->cr = false;
	for (size_t i = 0; i < s->n; i++) {
		s->nd[i].active = wants(&s->nd[i], arg);
		s->nd[i].state = 0;
	}
}

static void mime_search_end_haystack(struct mime_search *s)
{
	if (s->cr) {
		s->cr = false;
		mime_search_push(s, '\r');
	}
	for (size_t i = 0; i < s->n; i++)
		s->nd[i].active = false;
}

static int mime_search_text(struct mime_search *s, const char *p, size_t n)
{
	struct mime_utf8_dec u;
	mime_decode_utf8_init(&u);
	mime_decode_utf8(&u, (const unsigned char *)p, n, mime_search_cp, s);
	return mime_decode_utf8_end(&u, mime_search_cp, s);
}

/* ---- the walker's events ---- */

static bool mime_search_wants_header(const struct mime_search_needle *d, const void *arg)
{
	const struct mime_field *f = arg;
	return d->where == MIME_NEEDLE_HEADER && mime_field_ieq(f->name.p, f->name.n, d->field ? d->field : "");
}

static bool mime_search_wants_text(const struct mime_search_needle *d, const void *arg)
{
	(void)arg;
	return d->where == MIME_NEEDLE_TEXT;
}

static bool mime_search_wants_body(const struct mime_search_needle *d, const void *arg)
{
	(void)arg;
	return d->where == MIME_NEEDLE_TEXT || d->where == MIME_NEEDLE_BODY;
}

/* The fields SEARCH FROM, TO, CC and BCC look at (RFC 9051 6.4.4), and
 * their relatives: matched also as addresses, without comments and
 * folding ("a (x) @ (y) b.org" is a@b.org), as Dovecot does. */
static bool mime_search_is_address_field(const struct mime_field *f)
{
	static const char *const names[] = {"from", "to", "cc", "bcc", "sender", "reply-to"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (mime_field_ieq(f->name.p, f->name.n, names[i]))
			return true;
	return false;
}

static void mime_search_addresses(struct mime_search *s, const struct mime_field *f)
{
	struct buf a, d;
	buf_init(&a, MIME_FIELD_MAX);
	buf_init(&d, MIME_FIELD_MAX);
	if (mime_addr_text(f->value.p, f->value.n, &a) == 0 && a.len > 0 &&
	    mime_decode_header(a.data, a.len, &d) == 0) {
		mime_search_begin(s, mime_search_wants_header, f);
		mime_search_text(s, d.data ? d.data : "", d.len);
		mime_search_end_haystack(s);
	}
	buf_free(&a);
	buf_free(&d);
}

static int mime_search_field_cb(void *ctx, uint32_t index, const struct mime_field *f)
{
	struct mime_search *s = ctx;
	if (!f->colon)
		return 0;
	buf_reset(&s->hv);
	if (mime_decode_header(f->value.p, f->value.n, &s->hv) < 0)
		return -1;
	const char *v = s->hv.data ? s->hv.data : "";
	if (index == 0) {
		/* HEADER name "" matches when the field exists (RFC 9051 6.4.4) */
		for (size_t i = 0; i < s->n; i++)
			if (s->nd[i].ncp == 0 && mime_search_wants_header(&s->nd[i], f))
				s->nd[i].matched = true;
		mime_search_begin(s, mime_search_wants_header, f);
		mime_search_text(s, v, s->hv.len);
		mime_search_end_haystack(s);
		if (mime_search_is_address_field(f))
			mime_search_addresses(s, f);
	}
	mime_search_begin(s, mime_search_wants_text, NULL);
	mime_search_text(s, f->name.p, f->name.n);
	mime_search_text(s, ": ", 2);
	mime_search_text(s, v, s->hv.len);
	mime_search_end_haystack(s);
	return 0;
}

static int mime_search_utf8_cb(void *arg, const unsigned char *p, size_t n)
{
	struct mime_search *s = arg;
	return mime_decode_utf8(&s->u8, p, n, mime_search_cp, s);
}

static int mime_search_charset_cb(void *arg, const unsigned char *p, size_t n)
{
	struct mime_search *s = arg;
	return mime_decode_charset(&s->cs, p, n, mime_search_utf8_cb, s);
}

static int mime_search_body_begin_cb(void *ctx, uint32_t index, const struct mime_content *c,
                                     const struct mime_pos *body)
{
	struct mime_search *s = ctx;
	(void)body;
	if (index == 0)
		s->header_done = true;
	/* text/ leaves, and message/ leaves (delivery-status, a truncated
	 * message), as Dovecot searches them; not images and the like */
	bool text = c->kind == MIME_KIND_TEXT ||
	            (c->kind == MIME_KIND_OTHER && mime_field_ieq(c->type.p, c->type.n, "message"));
	if (!text)
		return 0;
	s->body_on = true;
	mime_decode_cte_init(&s->cte, mime_decode_cte_of(c->encoding));
	mime_decode_charset_init(&s->cs, c->kind == MIME_KIND_TEXT ? c->charset : (struct mime_str){NULL, 0});
	mime_decode_utf8_init(&s->u8);
	mime_search_begin(s, mime_search_wants_body, NULL);
	return 0;
}

static int mime_search_body_cb(void *ctx, uint32_t index, const char *p, size_t n)
{
	struct mime_search *s = ctx;
	(void)index;
	if (!s->body_on)
		return 0;
	return mime_decode_cte(&s->cte, p, n, mime_search_charset_cb, s);
}

static void mime_search_body_stop(struct mime_search *s)
{
	if (!s->body_on)
		return;
	s->body_on = false;
	mime_decode_charset_free(&s->cs);
	mime_search_end_haystack(s);
}

static int mime_search_part_end_cb(void *ctx, uint32_t index, const struct mime_pos *end)
{
	struct mime_search *s = ctx;
	(void)index;
	(void)end;
	if (!s->body_on)
		return 0;
	int rc = mime_decode_cte_end(&s->cte, mime_search_charset_cb, s);
	if (rc == 0)
		rc = mime_decode_charset_end(&s->cs, mime_search_utf8_cb, s);
	if (rc == 0)
		rc = mime_decode_utf8_end(&s->u8, mime_search_cp, s);
	mime_search_body_stop(s);
	return rc;
}

static const struct mime_walk_ops mime_search_ops = {
	.field = mime_search_field_cb,
	.body_begin = mime_search_body_begin_cb,
	.body = mime_search_body_cb,
	.part_end = mime_search_part_end_cb,
};

/* ---- needles ---- */

static int mime_search_prep_cp(void *arg, uint32_t cp)
{
	struct mime_search *s = arg;
	s->prep[s->nprep++] = cp;
	return 0;
}

/* The needle's text as the haystacks are read: CR LF as LF, folded. */
static int mime_search_needle_init(struct mime_search *s, struct mime_search_needle *d, const struct mime_needle *in)
{
	d->where = in->where;
	if (in->field) {
		d->flen = strlen(in->field);
		d->field = malloc(d->flen + 1);
		if (d->field == NULL)
			return -1;
		memcpy(d->field, in->field, d->flen + 1);
	}
	size_t cap = in->len + 1; /* at most one code point per octet */
	s->prep = calloc(cap, sizeof *s->prep);
	d->cp = calloc(cap, sizeof *d->cp);
	d->fail = calloc(cap, sizeof *d->fail);
	if (s->prep == NULL || d->cp == NULL || d->fail == NULL)
		return -1;
	s->nprep = 0;
	struct mime_utf8_dec u;
	mime_decode_utf8_init(&u);
	mime_decode_utf8(&u, (const unsigned char *)in->text, in->len, mime_search_prep_cp, s);
	mime_decode_utf8_end(&u, mime_search_prep_cp, s);
	for (size_t i = 0; i < s->nprep; i++) {
		if (s->prep[i] == '\r' && i + 1 < s->nprep && s->prep[i + 1] == '\n')
			continue;
		d->cp[d->ncp++] = mime_decode_fold(s->prep[i]);
	}
	free(s->prep);
	s->prep = NULL;
	/* fail[i]: the longest proper prefix of cp[0..i] that ends it */
	for (size_t i = 1, k = 0; i < d->ncp; i++) {
		while (k > 0 && d->cp[i] != d->cp[k])
			k = d->fail[k - 1];
		if (d->cp[i] == d->cp[k])
			k++;
		d->fail[i] = k;
	}
	return 0;
}

static void mime_search_clear(struct mime_search *s)
{
	s->header_done = false;
	s->ended = false;
	s->cr = false;
	mime_search_body_stop(s);
	for (size_t i = 0; i < s->n; i++) {
		struct mime_search_needle *d = &s->nd[i];
		d->state = 0;
		d->active = false;
		/* BODY "" and TEXT "" match any message */
		d->matched = d->ncp == 0 && d->where != MIME_NEEDLE_HEADER;
	}
}

struct mime_search *mime_search_new(const struct mime_needle *needles, size_t n)
{
	struct mime_search *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	buf_init(&s->hv, 0);
	s->nd = calloc(n ? n : 1, sizeof *s->nd);
	s->walk = mime_walk_new(&mime_search_ops, s, false);
	if (s->nd == NULL || s->walk == NULL) {
		mime_search_free(s);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		s->n = i + 1;
		if (mime_search_needle_init(s, &s->nd[i], &needles[i]) < 0) {
			mime_search_free(s);
			return NULL;
		}
	}
	s->n = n;
	mime_search_clear(s);
	return s;
}

void mime_search_free(struct mime_search *s)
{
	if (s == NULL)
		return;
	mime_search_body_stop(s);
	for (size_t i = 0; i < s->n; i++) {
		free(s->nd[i].field);
		free(s->nd[i].cp);
		free(s->nd[i].fail);
	}
	free(s->nd);
	free(s->prep);
	mime_walk_free(s->walk);
	buf_free(&s->hv);
	free(s);
}

bool mime_search_settled(const struct mime_search *s)
{
	if (s->ended)
		return true;
	for (size_t i = 0; i < s->n; i++)
		if (!s->nd[i].matched && !(s->nd[i].where == MIME_NEEDLE_HEADER && s->header_done))
			return false;
	return true;
}

int mime_search_feed(struct mime_search *s, const char *data, size_t n)
{
	if (s->ended || mime_search_settled(s))
		return 0;
	return mime_walk_feed(s->walk, data, n);
}

void mime_search_end(struct mime_search *s)
{
	if (s->ended)
		return;
	/* the walker fails only when a callback does, and none does here
	 * but on ENOMEM of a header value: the outcome is then "no match" */
	(void)mime_walk_finish(s->walk);
	mime_search_body_stop(s);
	s->ended = true;
}

bool mime_search_matched(const struct mime_search *s, size_t i)
{
	return i < s->n && s->nd[i].matched;
}

void mime_search_reset(struct mime_search *s)
{
	mime_walk_reset(s->walk);
	mime_search_clear(s);
}
