/*
 * imap_parse — the IMAP command reader and argument parser. See
 * imap_parse.h. Pure: no I/O, no global state.
 *
 * Limits at every step: a command, its literals included, fits in
 * IMAP_COMMAND_MAX octets or is read to its end and dropped; a literal
 * is announced before it is read, so the caller can refuse one of 2 GB
 * before the client sends it; arguments nest at most IMAP_ARG_DEPTH_MAX
 * deep and number at most IMAP_ARGS_MAX.
 */
#include "proto/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------- reader */

#define IMAP_READ_KEEP 0 /* an idle session keeps no command buffer */

void imap_reader_init(struct imap_reader *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->cmd, IMAP_COMMAND_MAX);
}

void imap_reader_free(struct imap_reader *r)
{
	buf_free(&r->cmd);
}

void imap_reader_reset(struct imap_reader *r)
{
	buf_reset(&r->cmd);
	r->overflow = false;
	r->tail_len = 0;
	r->lit_left = 0;
	r->lit_discard = false;
	r->lit_size = 0;
}

void imap_reader_next(struct imap_reader *r)
{
	imap_reader_reset(r);
	/* a 64 KiB command must not leave its buffer to an idle session */
	buf_trim(&r->cmd, IMAP_READ_KEEP);
}

/*
 * Does the line p[0..n) (line end removed) end in a literal marker:
 * "{N}", "{N+}", "~{N}" or "~{N+}"? Then *size, *sync, *binary and *at
 * (where the marker begins) are set. N may have up to 20 digits; a
 * larger one is treated as the largest size (it will be refused).
 */
static bool imap_reader_marker(const char *p, size_t n, uint64_t *size, bool *sync, bool *binary, size_t *at)
{
	if (n < 3 || p[n - 1] != '}')
		return false;
	size_t e = n - 1;
	*sync = true;
	if (p[e - 1] == '+') {
		*sync = false;
		e--;
	}
	size_t d = e;
	while (d > 0 && p[d - 1] >= '0' && p[d - 1] <= '9')
		d--;
	if (d == e || d == 0 || p[d - 1] != '{' || e - d > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = d; i < e; i++) {
		unsigned dig = (unsigned)(p[i] - '0');
		v = v > (UINT64_MAX - dig) / 10 ? UINT64_MAX : v * 10 + dig;
	}
	*size = v;
	*binary = d >= 2 && p[d - 2] == '~';
	*at = d - 1 - (*binary ? 1 : 0);
	return true;
}

/* While an over-long command is being discarded, only the tail of the
 * current line is kept: enough to see whether it ends in a literal
 * marker, whose octets must then be skipped too. */
static void imap_reader_keep_tail(struct imap_reader *r, const char *p, size_t n)
{
	if (n >= IMAP_READ_TAIL) {
		memcpy(r->tail, p + n - IMAP_READ_TAIL, IMAP_READ_TAIL);
		r->tail_len = IMAP_READ_TAIL;
		return;
	}
	size_t keep = r->tail_len + n > IMAP_READ_TAIL ? IMAP_READ_TAIL - n : r->tail_len;
	memmove(r->tail, r->tail + r->tail_len - keep, keep);
	if (n)
		memcpy(r->tail + keep, p, n);
	r->tail_len = keep + n;
}

/* The line just ended (it is in cmd, or its tail in tail): its length
 * without CR LF. */
static size_t imap_reader_line_len(const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

enum imap_read_result imap_reader_feed(struct imap_reader *r, const char *in, size_t n, size_t *used)
{
	size_t i = 0;
	while (i < n) {
		if (r->lit_left > 0) {
			size_t take = n - i < r->lit_left ? n - i : (size_t)r->lit_left;
			if (!r->lit_discard && !r->overflow && buf_append(&r->cmd, in + i, take) < 0) {
				/* Cannot happen (the caller checked the size): drop the command. */
				r->overflow = true;
				buf_reset(&r->cmd);
			}
			r->lit_left -= take;
			i += take;
			continue;
		}
		const char *lf = memchr(in + i, '\n', n - i);
		size_t chunk = lf ? (size_t)(lf - (in + i)) + 1 : n - i;
		if (!r->overflow && buf_append(&r->cmd, in + i, chunk) < 0) {
			r->overflow = true;
			/* keep the first octets (the tag) for the answer */
			size_t h = r->cmd.len < sizeof r->head ? r->cmd.len : sizeof r->head;
			if (h)
				memcpy(r->head, r->cmd.data, h);
			size_t more = sizeof r->head - h < chunk ? sizeof r->head - h : chunk;
			memcpy(r->head + h, in + i, more);
			r->head_len = h + more;
			r->tail_len = 0;
			imap_reader_keep_tail(r, r->cmd.data, r->cmd.len);
			buf_reset(&r->cmd);
		}
		if (r->overflow)
			imap_reader_keep_tail(r, in + i, chunk);
		i += chunk;
		if (lf == NULL)
			continue;
		*used = i;
		uint64_t size;
		bool sync, binary;
		size_t at;
		if (r->overflow) {
			size_t len = imap_reader_line_len(r->tail, r->tail_len);
			r->tail_len = 0;
			if (imap_reader_marker(r->tail, len, &size, &sync, &binary, &at) && !sync) {
				/* A non-synchronizing literal follows, that the client
				 * sends anyway: it is part of what is dropped. */
				r->lit_left = size;
				r->lit_discard = true;
				continue;
			}
			/* The end of the command, or a synchronizing literal
			 * the client will wait in vain to send. */
			imap_reader_reset(r);
			return IMAP_READ_TOO_LONG;
		}
		size_t len = imap_reader_line_len(r->cmd.data, r->cmd.len);
		if (imap_reader_marker(r->cmd.data, len, &size, &sync, &binary, &at)) {
			r->lit_size = size;
			r->lit_sync = sync;
			r->lit_binary = binary;
			r->lit_at = at;
			return IMAP_READ_LITERAL;
		}
		r->cmd.len = len; /* the command without its last line end */
		r->cmd.data[len] = '\0';
		return IMAP_READ_COMMAND;
	}
	*used = i;
	return IMAP_READ_MORE;
}

void imap_reader_literal_accept(struct imap_reader *r)
{
	r->lit_left = r->lit_size;
	r->lit_discard = false;
}

void imap_reader_literal_discard(struct imap_reader *r)
{
	r->lit_left = r->lit_size;
	r->lit_discard = true;
	r->overflow = true; /* the rest of the command is dropped too */
	r->tail_len = 0;
	buf_reset(&r->cmd);
}

void imap_reader_literal_skip(struct imap_reader *r)
{
	r->lit_left = 0;
	r->lit_discard = false;
}

/* ---------------------------------------------------------- arguments */

/*
 * The parse is recursive over parentheses (at most IMAP_ARG_DEPTH_MAX
 * deep). Each list's elements are gathered on a scratch stack and then
 * copied, as one contiguous block, to the end of a->v, so that list[i]
 * indexes them; nested lists are thus placed before their parent's
 * block (post-order). Both arrays grow as needed (most commands have a
 * handful of arguments), so references are kept as indexes while
 * parsing: a list's elements and a quoted string's octets (in
 * a->strings) become pointers once the parse is over.
 */
struct imap_parser {
	const char *p, *end;
	struct imap_args *a;
	struct imap_arg *stack;  /* scratch (owned) */
	size_t sp, stack_cap;
	size_t v_cap;
	unsigned depth;
};

#define IMAP_ARGS_FIRST 16

/* Room for one more in an array of imap_arg of capacity *cap. */
static bool imap_args_room(struct imap_arg **v, size_t used, size_t *cap)
{
	if (used < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : IMAP_ARGS_FIRST;
	if (ncap > IMAP_ARGS_MAX)
		ncap = IMAP_ARGS_MAX;
	if (ncap <= used)
		return false;
	struct imap_arg *n = realloc(*v, ncap * sizeof *n);
	if (n == NULL)
		return false;
	*v = n;
	*cap = ncap;
	return true;
}

static bool imap_is_atom_char(unsigned char c)
{
	/* RFC 9051 9: ATOM-CHAR is any CHAR except atom-specials; "%" and
	 * "*" (list-wildcards) and "]" (resp-specials) are let in here, as
	 * LIST patterns and sequence sets need them. */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

static enum imap_parse_status imap_parse_list(struct imap_parser *ps, bool top, size_t *first, size_t *count);

/* One argument at ps->p into ps->stack[slot] (the stack may move). */
static enum imap_parse_status imap_parse_one(struct imap_parser *ps, size_t slot)
{
	const char *p = ps->p;
	struct imap_arg v = {0};
	if (*p == '(') {
		if (++ps->depth > IMAP_ARG_DEPTH_MAX)
			return IMAP_PARSE_TOO_DEEP;
		ps->p++;
		size_t first = 0;
		v.type = IMAP_ARG_LIST;
		enum imap_parse_status st = imap_parse_list(ps, false, &first, &v.nlist);
		ps->depth--;
		v.list = (struct imap_arg *)(uintptr_t)first; /* an index until the end */
		ps->stack[slot] = v;
		return st;
	}
	if (*p == '"') {
		/* Quoted: \" and \\ only (RFC 9051 9, quoted-specials). */
		p++;
		size_t start = ps->a->strings.len;
		while (p < ps->end && *p != '"') {
			char c = *p;
			if (c == '\\') {
				if (p + 1 >= ps->end || (p[1] != '"' && p[1] != '\\'))
					return IMAP_PARSE_BAD;
				c = p[1];
				p++;
			} else if (c == '\r' || c == '\n' || c == '\0') {
				return IMAP_PARSE_BAD;
			}
			if (buf_putc(&ps->a->strings, c) < 0)
				return IMAP_PARSE_TOO_DEEP;
			p++;
		}
		if (p >= ps->end || buf_putc(&ps->a->strings, '\0') < 0)
			return IMAP_PARSE_BAD;
		v.type = IMAP_ARG_STRING;
		v.s = (const char *)(uintptr_t)start; /* an offset until the end */
		v.len = ps->a->strings.len - 1 - start;
		ps->p = p + 1;
		ps->stack[slot] = v;
		return IMAP_PARSE_OK;
	}
	if (*p == '{' || (*p == '~' && p + 1 < ps->end && p[1] == '{')) {
		bool binary = *p == '~';
		p += binary ? 2 : 1;
		uint64_t size = 0;
		const char *d = p;
		while (p < ps->end && *p >= '0' && *p <= '9' && p - d < 20)
			size = size * 10 + (uint64_t)(*p++ - '0');
		if (p == d)
			return IMAP_PARSE_BAD;
		if (p < ps->end && *p == '+')
			p++;
		if (p >= ps->end || *p != '}')
			return IMAP_PARSE_BAD;
		p++;
		if (p < ps->end && *p == '\r')
			p++;
		if (p >= ps->end || *p != '\n')
			return IMAP_PARSE_BAD;
		p++;
		if ((uint64_t)(ps->end - p) < size)
			return IMAP_PARSE_BAD;
		v.type = IMAP_ARG_LITERAL;
		v.binary = binary;
		v.s = p;
		v.len = (size_t)size;
		ps->p = p + size;
		ps->stack[slot] = v;
		return IMAP_PARSE_OK;
	}
	/* An atom; a "[" ... "]" part inside it may hold anything but a line
	 * end (fetch sections: BODY[HEADER.FIELDS (FROM TO)]<0.100>). A "["
	 * with no "]" after it on the line is an ordinary ATOM-CHAR (RFC
	 * 9051 9: only "]" is a resp-special), as in a mailbox name "a[b". */
	const char *s = p;
	while (p < ps->end) {
		if (*p == '[') {
			const char *close = memchr(p, ']', (size_t)(ps->end - p));
			if (close != NULL && !memchr(p, '\n', (size_t)(close - p)) && !memchr(p, '\r', (size_t)(close - p))) {
				p = close + 1;
				continue;
			}
		}
		if (!imap_is_atom_char((unsigned char)*p))
			break;
		p++;
	}
	if (p == s)
		return IMAP_PARSE_BAD;
	v.s = s;
	v.len = (size_t)(p - s);
	v.type = v.len == 3 && strncasecmp(s, "NIL", 3) == 0 ? IMAP_ARG_NIL : IMAP_ARG_ATOM;
	ps->p = p;
	ps->stack[slot] = v;
	return IMAP_PARSE_OK;
}

/* Arguments separated by one space, up to ")" (a list) or the end (the
 * top level); their block in a->v goes to *first (an index), *count. */
static enum imap_parse_status imap_parse_list(struct imap_parser *ps, bool top, size_t *first, size_t *count)
{
	size_t base = ps->sp;
	for (;;) {
		if (ps->p >= ps->end) {
			if (!top)
				return IMAP_PARSE_BAD;
			break;
		}
		if (*ps->p == ')') {
			if (top)
				return IMAP_PARSE_BAD;
			ps->p++;
			break;
		}
		if (ps->sp > base) {
			if (*ps->p != ' ')
				return IMAP_PARSE_BAD;
			ps->p++;
			if (ps->p >= ps->end || *ps->p == ')' || *ps->p == ' ')
				return IMAP_PARSE_BAD; /* a trailing or doubled space */
		}
		if (!imap_args_room(&ps->stack, ps->sp, &ps->stack_cap))
			return IMAP_PARSE_TOO_DEEP;
		/* The slot is taken before parsing into it: a nested list
		 * gathers its elements above it. */
		enum imap_parse_status st = imap_parse_one(ps, ps->sp++);
		if (st != IMAP_PARSE_OK)
			return st;
	}
	size_t k = ps->sp - base;
	struct imap_args *a = ps->a;
	if (a->n + k > IMAP_ARGS_MAX)
		return IMAP_PARSE_TOO_DEEP;
	while (a->n + k > ps->v_cap)
		if (!imap_args_room(&a->v, ps->v_cap, &ps->v_cap))
			return IMAP_PARSE_TOO_DEEP;
	*first = a->n;
	if (k)
		memcpy(&a->v[a->n], &ps->stack[base], k * sizeof *a->v);
	a->n += k;
	*count = k;
	ps->sp = base;
	return IMAP_PARSE_OK;
}

enum imap_parse_status imap_args_parse(const char *cmd, size_t len, struct imap_args *a)
{
	memset(a, 0, sizeof *a);
	buf_init(&a->strings, IMAP_COMMAND_MAX + IMAP_ARGS_MAX);
	struct imap_parser ps = {.a = a};
	enum imap_parse_status st;
	const char *p = cmd, *end = cmd + len;
	/* tag: astring-chars but "+" (RFC 9051 9) */
	const char *t = p;
	while (p < end && imap_is_atom_char((unsigned char)*p) && *p != '+' && *p != ']' && *p != '%' && *p != '*')
		p++;
	st = IMAP_PARSE_NO_TAG;
	if (p == t || (size_t)(p - t) > IMAP_TAG_MAX || p >= end || *p != ' ')
		goto out;
	memcpy(a->tag, t, (size_t)(p - t));
	a->tag[p - t] = '\0';
	p++;
	st = IMAP_PARSE_BAD;
	const char *vb = p;
	while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
		p++;
	if (p == vb || (size_t)(p - vb) >= sizeof a->verb || (p < end && *p != ' '))
		goto out;
	for (size_t i = 0; vb + i < p; i++)
		a->verb[i] = (char)(vb[i] >= 'a' && vb[i] <= 'z' ? vb[i] - 32 : vb[i]);
	if (p < end) {
		p++; /* the space */
		if (p >= end)
			goto out;
	}
	ps.p = p;
	ps.end = end;
	size_t top = 0;
	st = imap_parse_list(&ps, true, &top, &a->ntop);
	if (st != IMAP_PARSE_OK)
		goto out;
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].type == IMAP_ARG_STRING)
			a->v[i].s = a->strings.data + (uintptr_t)a->v[i].s;
		else if (a->v[i].type == IMAP_ARG_LIST)
			a->v[i].list = a->v + (uintptr_t)a->v[i].list;
	}
	a->top = a->v ? a->v + top : NULL;
out:
	free(ps.stack);
	return st;
}

void imap_args_free(struct imap_args *a)
{
	free(a->v);
	buf_free(&a->strings);
	memset(a, 0, sizeof *a);
}

bool imap_arg_is_atom(const struct imap_arg *a, const char *word)
{
	size_t n = strlen(word);
	return a->type == IMAP_ARG_ATOM && a->len == n && strncasecmp(a->s, word, n) == 0;
}

bool imap_arg_astring(const struct imap_arg *a, char *out, size_t outlen)
{
	/* The atom NIL is an astring like any other (RFC 9051 9: astring =
	 * 1*ASTRING-CHAR / string): LIST "" NIL names "NIL". */
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL && a->type != IMAP_ARG_STRING &&
	    a->type != IMAP_ARG_LITERAL)
		return false;
	if (a->len >= outlen || memchr(a->s, '\0', a->len))
		return false;
	memcpy(out, a->s, a->len);
	out[a->len] = '\0';
	return true;
}

bool imap_arg_number(const struct imap_arg *a, uint32_t *out)
{
	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < a->len; i++) {
		if (a->s[i] < '0' || a->s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(a->s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* ------------------------------------------------------ sequence sets */

/* A seq-number: nz-number or "*". */
static bool imap_seq_number(const char **pp, const char *end, uint32_t *out)
{
	const char *p = *pp;
	if (p < end && *p == '*') {
		*out = 0;
		*pp = p + 1;
		return true;
	}
	uint64_t v = 0;
	const char *d = p;
	while (p < end && *p >= '0' && *p <= '9' && p - d < 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == d || *d == '0' || v > UINT32_MAX || (p < end && *p >= '0' && *p <= '9'))
		return false;
	*out = (uint32_t)v;
	*pp = p;
	return true;
}

void imap_seqset_init(struct imap_seqset *set)
{
	memset(set, 0, sizeof *set);
	set->sorted = true;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	imap_seqset_init(set);
}

static int imap_seqset_push(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct imap_range *r = cap > SIZE_MAX / sizeof *r ? NULL : realloc(set->r, cap * sizeof *r);
		if (r == NULL)
			return -1;
		set->r = r;
		set->cap = cap;
	}
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
	return 0;
}

int imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->n > 0) {
		struct imap_range *last = &set->r[set->n - 1];
		if (lo >= last->lo && (lo <= last->hi || lo - last->hi == 1)) {
			if (hi > last->hi)
				last->hi = hi;
			return 0;
		}
		if (lo <= last->hi)
			set->sorted = false;
	}
	return imap_seqset_push(set, lo, hi);
}

bool imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set)
{
	imap_seqset_init(set);
	if (len == 1 && s[0] == '$') {
		set->saved = true;
		return true;
	}
	set->sorted = false;
	const char *p = s, *end = s + len;
	for (;;) {
		uint32_t lo, hi;
		if (!imap_seq_number(&p, end, &lo))
			goto bad;
		hi = lo;
		if (p < end && *p == ':') {
			p++;
			if (!imap_seq_number(&p, end, &hi))
				goto bad;
		}
		if (set->n >= IMAP_SEQSET_MAX || imap_seqset_push(set, lo, hi) < 0)
			goto bad;
		if (p == end)
			return true;
		if (*p != ',')
			goto bad;
		p++;
	}
bad:
	imap_seqset_free(set);
	return false;
}

static int imap_range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void imap_seqset_normalize(struct imap_seqset *set)
{
	if (set->sorted || set->n == 0) {
		set->sorted = true;
		return;
	}
	qsort(set->r, set->n, sizeof *set->r, imap_range_cmp);
	size_t k = 0;
	for (size_t i = 1; i < set->n; i++) {
		struct imap_range *last = &set->r[k];
		if (set->r[i].lo <= last->hi || set->r[i].lo - last->hi == 1) {
			if (set->r[i].hi > last->hi)
				last->hi = set->r[i].hi;
		} else {
			set->r[++k] = set->r[i];
		}
	}
	set->n = k + 1;
	set->sorted = true;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	for (size_t i = 0; i < set->n; i++) {
		struct imap_range *r = &set->r[i];
		if (r->lo == 0)
			r->lo = max;
		if (r->hi == 0)
			r->hi = max;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
	}
	set->sorted = false;
	imap_seqset_normalize(set);
}

bool imap_seqset_has(const struct imap_seqset *set, uint32_t v)
{
	if (!set->sorted) {
		for (size_t i = 0; i < set->n; i++)
			if (v >= set->r[i].lo && v <= set->r[i].hi)
				return true;
		return false;
	}
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

int imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct imap_range *r = &set->r[i];
		int rc = r->lo == r->hi ? buf_printf(out, "%s%u", i ? "," : "", r->lo)
		                        : buf_printf(out, "%s%u:%u", i ? "," : "", r->lo, r->hi);
		if (rc < 0)
			return -1;
	}
	return 0;
}
