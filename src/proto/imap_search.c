/*
 * imap_search — SEARCH criteria (RFC 9051 6.4.4, RFC 3501 6.4.4 with its
 * NEW, OLD and RECENT) parsed into a program and evaluated one message
 * at a time; RETURN options (RFC 4731 3.1), "$" and SAVE (RFC 5182),
 * MODSEQ (RFC 7162 3.1.5), OLDER and YOUNGER (RFC 5032). See
 * imap_search.h.
 *
 * The program is a tree held in one array: every node names its first
 * child, its last child and its next sibling by index, and index 0 (the
 * root) is never a child, so 0 means "none". Parentheses are the only
 * thing that nests in the argument tree, at most IMAP_ARG_DEPTH_MAX
 * deep, and only they are parsed by recursion. OR and NOT are prefix
 * operators whose chains ("NOT NOT NOT ... SEEN", "OR OR OR ...") can be
 * as long as the node limit allows; they wait on an explicit stack for
 * their operands, and evaluation walks the tree with an explicit stack
 * too, so no input can make either recurse more than those 16 levels.
 *
 * Evaluation must not read a file it does not need: the flags, sizes,
 * dates, sequence numbers and UIDs of struct imap_search_msg are free,
 * the Date: header costs a read of the header, a text needle a read of
 * the message. The tree is first evaluated with the expensive keys as
 * "unknown" (three-valued logic: FALSE AND unknown is FALSE); only when
 * the cheap keys leave the answer unknown is the Date: header asked for,
 * and only when that still leaves it unknown the needles. Within a
 * group the cheaper children come first, so that short-circuiting skips
 * what it can. The Date: header and each needle are asked at most once
 * per message.
 *
 * Pure: no I/O, no global state; the ops are the world.
 */
#include "proto/imap_search.h"

#include <stdlib.h>
#include <string.h>

#include "proto/imap_search_int.h"

/* ------------------------------------------------------------ parsing */

struct imap_search_pending {
	uint16_t node;         /* an OR or NOT still short of operands */
	uint8_t need;
};

struct imap_search_parser {
	struct imap_search *s;
	size_t cap;            /* of s->nodes */
	struct buf str;        /* becomes s->strings */
	/* offsets into str until the parse is over (str may move as it grows) */
	size_t text_off[IMAP_SEARCH_NEEDLES], field_off[IMAP_SEARCH_NEEDLES];
	struct imap_search_pending pending[IMAP_SEARCH_NODES];
	size_t npending;
	unsigned depth;
	char *err;
	size_t errlen;
};

#define IMAP_SEARCH_NONE_OFF SIZE_MAX

static unsigned char imap_search_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

/* ASCII case-insensitive equality of p[0..n) and the NUL-terminated w. */
static bool imap_search_ieq(const char *p, size_t n, const char *w)
{
	size_t k = 0;
	for (; k < n && w[k] != '\0'; k++)
		if (imap_search_upper((unsigned char)p[k]) != imap_search_upper((unsigned char)w[k]))
			return false;
	return k == n && w[k] == '\0';
}

static bool imap_search_is_word(const struct imap_arg *a, const char *w)
{
	return a->type == IMAP_ARG_ATOM && imap_search_ieq(a->s, a->len, w);
}

/* Record why the parse failed (the first reason stays) and return st.
 * Only our own constant texts go into err, never the client's bytes. */
static enum imap_search_status imap_search_fail(struct imap_search_parser *ps, enum imap_search_status st,
                                                const char *msg, const char *key)
{
	if (ps->err == NULL || ps->errlen == 0 || ps->err[0] != '\0')
		return st;
	size_t k = 0;
	for (const char *p = msg; *p != '\0' && k + 1 < ps->errlen; p++)
		ps->err[k++] = *p;
	if (key != NULL && k + 1 < ps->errlen)
		ps->err[k++] = ' ';
	for (const char *p = key; p != NULL && *p != '\0' && k + 1 < ps->errlen; p++)
		ps->err[k++] = *p;
	ps->err[k] = '\0';
	return st;
}

static enum imap_search_status imap_search_node_new(struct imap_search_parser *ps, enum imap_search_type type,
                                                    uint8_t cost, uint16_t parent, uint16_t *out)
{
	struct imap_search *s = ps->s;
	if (s->nnodes >= IMAP_SEARCH_NODES)
		return imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Too many search keys", NULL);
	if (s->nnodes == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		if (cap > IMAP_SEARCH_NODES)
			cap = IMAP_SEARCH_NODES;
		struct imap_search_node *v = realloc(s->nodes, cap * sizeof *v);
		if (v == NULL)
			return imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Out of memory", NULL);
		s->nodes = v;
		ps->cap = cap;
	}
	uint16_t idx = (uint16_t)s->nnodes++;
	struct imap_search_node *nd = &s->nodes[idx];
	memset(nd, 0, sizeof *nd);
	nd->type = (uint8_t)type;
	nd->cost = cost;
	if (idx > 0) {
		struct imap_search_node *p = &s->nodes[parent];
		if (p->last != 0)
			s->nodes[p->last].next = idx;
		else
			p->child = idx;
		p->last = idx;
	}
	*out = idx;
	return IMAP_SEARCH_OK;
}

/* The argument after a key's name, or a BAD naming the key. */
static const struct imap_arg *imap_search_next(struct imap_search_parser *ps, const struct imap_arg *args, size_t n,
                                               size_t *i, const char *key)
{
	if (*i >= n) {
		imap_search_fail(ps, IMAP_SEARCH_BAD, "Missing argument to", key);
		return NULL;
	}
	return &args[(*i)++];
}

/* Is p[0..n) well-formed UTF-8 (RFC 3629 4)? The second octet's range
 * excludes overlong forms, surrogates and code points over U+10FFFF. */
static bool imap_search_utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t len;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else {
			return false;
		}
		if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}

/*
 * A search string: an astring (atom, quoted string or literal; "NIL"
 * is an atom here). Octets >= 0x80 must be UTF-8 whatever the CHARSET,
 * as Dovecot has it: US-ASCII and UTF-8 are the only charsets taken,
 * and UTF-8 is what a client means when it sends 8-bit text without
 * one; anything else is a BAD, not a guess.
 */
static enum imap_search_status imap_search_string(struct imap_search_parser *ps, const struct imap_arg *a,
                                                  const char *key, const char **p, size_t *len)
{
	if (a->type == IMAP_ARG_LIST)
		return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid string argument to", key);
	if (a->len > IMAP_SEARCH_TEXT_MAX)
		return imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Search string too long for", key);
	if (memchr(a->s, '\0', a->len) != NULL || !imap_search_utf8_ok((const unsigned char *)a->s, a->len))
		return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid search string (NUL or not UTF-8) for", key);
	*p = a->s;
	*len = a->len;
	return IMAP_SEARCH_OK;
}

/* Keep p[0..n) (NUL-terminated) in the program's strings. */
static enum imap_search_status imap_search_keep(struct imap_search_parser *ps, const char *p, size_t n, size_t *off)
{
	*off = ps->str.len;
	if (buf_append(&ps->str, p, n) < 0 || buf_putc(&ps->str, '\0') < 0)
		return imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Out of memory", NULL);
	return IMAP_SEARCH_OK;
}

/* The needle slot for (where, field, text): an identical one is shared. */
static enum imap_search_status imap_search_needle(struct imap_search_parser *ps, enum mime_needle_where where,
                                                  const char *field, size_t flen, const char *text, size_t tlen,
                                                  size_t *idx)
{
	struct imap_search *s = ps->s;
	for (size_t j = 0; j < s->nneedles; j++) {
		if (s->needles[j].where != where || s->needles[j].len != tlen ||
		    memcmp(ps->str.data + ps->text_off[j], text, tlen) != 0)
			continue;
		if (field != NULL && (ps->field_off[j] == IMAP_SEARCH_NONE_OFF ||
		                      !imap_search_ieq(field, flen, ps->str.data + ps->field_off[j])))
			continue;
		*idx = j;
		return IMAP_SEARCH_OK;
	}
	if (s->nneedles >= IMAP_SEARCH_NEEDLES)
		return imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Too many search strings", NULL);
	size_t j = s->nneedles;
	enum imap_search_status st;
	ps->field_off[j] = IMAP_SEARCH_NONE_OFF;
	if (field != NULL && (st = imap_search_keep(ps, field, flen, &ps->field_off[j])) != IMAP_SEARCH_OK)
		return st;
	if ((st = imap_search_keep(ps, text, tlen, &ps->text_off[j])) != IMAP_SEARCH_OK)
		return st;
	s->needles[j].where = where;
	s->needles[j].len = tlen;
	s->nneedles++;
	*idx = j;
	return IMAP_SEARCH_OK;
}

/* RFC 9051 9: number64, at most 2^63 - 1 (also mod-sequence-valzer). */
static bool imap_search_number64(const struct imap_arg *a, uint64_t *out)
{
	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 19)
		return false;
	uint64_t v = 0;
	for (size_t k = 0; k < a->len; k++) {
		if (a->s[k] < '0' || a->s[k] > '9')
			return false;
		v = v * 10 + (uint64_t)(a->s[k] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = v;
	return true;
}

/* RFC 5322 3.6.8: field-name = 1*ftext, printable ASCII but ":". */
static bool imap_search_field_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)p[k] < 33 || (unsigned char)p[k] > 126 || p[k] == ':')
			return false;
	return true;
}

enum imap_search_kind {
	IMAP_SEARCH_K_SIMPLE,  /* no argument: ALL and the flags */
	IMAP_SEARCH_K_KEYWORD,
	IMAP_SEARCH_K_DATE,
	IMAP_SEARCH_K_SIZE,
	IMAP_SEARCH_K_TEXT,
	IMAP_SEARCH_K_HEADER,
	IMAP_SEARCH_K_UID,
	IMAP_SEARCH_K_MODSEQ,
	IMAP_SEARCH_K_AGE,
};

struct imap_search_key {
	const char *name;
	uint8_t kind;          /* enum imap_search_kind */
	uint8_t type;          /* the node made */
	uint8_t op;
	unsigned set, clear;   /* flags */
	enum mime_needle_where where;
	const char *field;
};

#define IMAP_SEARCH_FLAG(name_, set_, clear_)                                                           \
	{                                                                                               \
		.name = name_, .kind = IMAP_SEARCH_K_SIMPLE, .type = IMAP_SEARCH_N_FLAGS, .set = set_, \
		.clear = clear_                                                                         \
	}
#define IMAP_SEARCH_HDR(name_, field_)                                                                  \
	{                                                                                               \
		.name = name_, .kind = IMAP_SEARCH_K_TEXT, .type = IMAP_SEARCH_N_NEEDLE,                 \
		.where = MIME_NEEDLE_HEADER, .field = field_                                            \
	}

/* Every key but OR, NOT, sequence sets and parentheses. */
static const struct imap_search_key imap_search_table[] = {
        {.name = "ALL", .kind = IMAP_SEARCH_K_SIMPLE, .type = IMAP_SEARCH_N_ALL},
        IMAP_SEARCH_FLAG("ANSWERED", IMAP_FLAG_ANSWERED, 0),
        IMAP_SEARCH_HDR("BCC", "Bcc"),
        {.name = "BEFORE", .kind = IMAP_SEARCH_K_DATE, .type = IMAP_SEARCH_N_DATE, .op = IMAP_SEARCH_BEFORE},
        {.name = "BODY", .kind = IMAP_SEARCH_K_TEXT, .type = IMAP_SEARCH_N_NEEDLE, .where = MIME_NEEDLE_BODY},
        IMAP_SEARCH_HDR("CC", "Cc"),
        IMAP_SEARCH_FLAG("DELETED", IMAP_FLAG_DELETED, 0),
        IMAP_SEARCH_FLAG("DRAFT", IMAP_FLAG_DRAFT, 0),
        IMAP_SEARCH_FLAG("FLAGGED", IMAP_FLAG_FLAGGED, 0),
        IMAP_SEARCH_HDR("FROM", "From"),
        {.name = "HEADER", .kind = IMAP_SEARCH_K_HEADER, .type = IMAP_SEARCH_N_NEEDLE},
        {.name = "KEYWORD", .kind = IMAP_SEARCH_K_KEYWORD, .type = IMAP_SEARCH_N_KEYWORD},
        {.name = "LARGER", .kind = IMAP_SEARCH_K_SIZE, .type = IMAP_SEARCH_N_LARGER},
        {.name = "MODSEQ", .kind = IMAP_SEARCH_K_MODSEQ, .type = IMAP_SEARCH_N_MODSEQ},
        /* RFC 3501 6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT. */
        IMAP_SEARCH_FLAG("NEW", IMAP_FLAG_RECENT, IMAP_FLAG_SEEN),
        IMAP_SEARCH_FLAG("OLD", 0, IMAP_FLAG_RECENT),
        {.name = "OLDER", .kind = IMAP_SEARCH_K_AGE, .type = IMAP_SEARCH_N_OLDER},
        {.name = "ON", .kind = IMAP_SEARCH_K_DATE, .type = IMAP_SEARCH_N_DATE, .op = IMAP_SEARCH_ON},
        IMAP_SEARCH_FLAG("RECENT", IMAP_FLAG_RECENT, 0),
        IMAP_SEARCH_FLAG("SEEN", IMAP_FLAG_SEEN, 0),
        {.name = "SENTBEFORE", .kind = IMAP_SEARCH_K_DATE, .type = IMAP_SEARCH_N_SENT, .op = IMAP_SEARCH_BEFORE},
        {.name = "SENTON", .kind = IMAP_SEARCH_K_DATE, .type = IMAP_SEARCH_N_SENT, .op = IMAP_SEARCH_ON},
        {.name = "SENTSINCE", .kind = IMAP_SEARCH_K_DATE, .type = IMAP_SEARCH_N_SENT, .op = IMAP_SEARCH_SINCE},
        {.name = "SINCE", .kind = IMAP_SEARCH_K_DATE, .type = IMAP_SEARCH_N_DATE, .op = IMAP_SEARCH_SINCE},
        {.name = "SMALLER", .kind = IMAP_SEARCH_K_SIZE, .type = IMAP_SEARCH_N_SMALLER},
        IMAP_SEARCH_HDR("SUBJECT", "Subject"),
        {.name = "TEXT", .kind = IMAP_SEARCH_K_TEXT, .type = IMAP_SEARCH_N_NEEDLE, .where = MIME_NEEDLE_TEXT},
        IMAP_SEARCH_HDR("TO", "To"),
        {.name = "UID", .kind = IMAP_SEARCH_K_UID, .type = IMAP_SEARCH_N_UID},
        IMAP_SEARCH_FLAG("UNANSWERED", 0, IMAP_FLAG_ANSWERED),
        IMAP_SEARCH_FLAG("UNDELETED", 0, IMAP_FLAG_DELETED),
        IMAP_SEARCH_FLAG("UNDRAFT", 0, IMAP_FLAG_DRAFT),
        IMAP_SEARCH_FLAG("UNFLAGGED", 0, IMAP_FLAG_FLAGGED),
        {.name = "UNKEYWORD", .kind = IMAP_SEARCH_K_KEYWORD, .type = IMAP_SEARCH_N_KEYWORD, .op = 1},
        IMAP_SEARCH_FLAG("UNSEEN", 0, IMAP_FLAG_SEEN),
        {.name = "YOUNGER", .kind = IMAP_SEARCH_K_AGE, .type = IMAP_SEARCH_N_YOUNGER},
};

/* A sequence set (or "$") as a key or after UID. */
static enum imap_search_status imap_search_set(struct imap_search_parser *ps, const struct imap_arg *a, bool uid,
                                               uint16_t parent)
{
	struct imap_seqset set;
	if (a->type != IMAP_ARG_ATOM || !imap_seqset_parse(a->s, a->len, &set))
		return uid ? imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid sequence set after", "UID")
		           : imap_search_fail(ps, IMAP_SEARCH_BAD, "Unknown search key", NULL);
	uint16_t idx;
	enum imap_search_status st;
	if (set.saved) {
		ps->s->uses_saved = true;
		return imap_search_node_new(ps, IMAP_SEARCH_N_SAVED, IMAP_SEARCH_COST_FREE, parent, &idx);
	}
	struct imap_range *r = malloc(set.n * sizeof *r); /* n <= IMAP_SEQSET_MAX: no overflow */
	if (r == NULL || (st = imap_search_node_new(ps, uid ? IMAP_SEARCH_N_UID : IMAP_SEARCH_N_SEQ,
	                                            IMAP_SEARCH_COST_FREE, parent, &idx)) != IMAP_SEARCH_OK) {
		free(r);
		imap_seqset_free(&set);
		return r == NULL ? imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Out of memory", NULL) : st;
	}
	struct imap_search_node *nd = &ps->s->nodes[idx];
	nd->u.seq.given = set;
	imap_seqset_init(&nd->u.seq.bound);
	nd->u.seq.bound.r = r;
	nd->u.seq.bound.cap = set.n;
	return IMAP_SEARCH_OK;
}

/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer,
 * entry-name a quoted "/flags/" flag and entry-type priv, shared or all.
 * Every modification of a message's flags raises its MODSEQ, so the
 * message's own value answers for any entry: the entry is checked and
 * then needs nothing more (as Dovecot does, which keeps no value per
 * flag either). */
static enum imap_search_status imap_search_modseq(struct imap_search_parser *ps, const struct imap_arg *args,
                                                  size_t n, size_t *i, uint64_t *v)
{
	const struct imap_arg *a = imap_search_next(ps, args, n, i, "MODSEQ");
	if (a == NULL)
		return IMAP_SEARCH_BAD;
	if (!imap_search_number64(a, v)) {
		static const char prefix[] = "/flags/";
		size_t pl = sizeof prefix - 1;
		if (a->type == IMAP_ARG_LIST || a->len <= pl || a->len > IMAP_SEARCH_TEXT_MAX ||
		    !imap_search_ieq(a->s, pl, prefix) || !imap_search_field_ok(a->s + pl, a->len - pl))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid entry name or number after", "MODSEQ");
		const struct imap_arg *t = imap_search_next(ps, args, n, i, "MODSEQ");
		if (t == NULL)
			return IMAP_SEARCH_BAD;
		if (!imap_search_is_word(t, "priv") && !imap_search_is_word(t, "shared") && !imap_search_is_word(t, "all"))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid entry type (priv, shared or all) after",
			                        "MODSEQ");
		a = imap_search_next(ps, args, n, i, "MODSEQ");
		if (a == NULL)
			return IMAP_SEARCH_BAD;
		if (!imap_search_number64(a, v))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid number after", "MODSEQ");
	}
	ps->s->uses_modseq = true;
	return IMAP_SEARCH_OK;
}

/* One key that is not OR, NOT or a group, at args[*i], with its arguments. */
static enum imap_search_status imap_search_leaf(struct imap_search_parser *ps, const struct imap_arg *args,
                                                size_t n, size_t *i, uint16_t parent)
{
	const struct imap_arg *a = &args[(*i)++];
	const struct imap_search_key *k = NULL;
	if (a->type == IMAP_ARG_ATOM)
		for (size_t j = 0; j < sizeof imap_search_table / sizeof imap_search_table[0] && k == NULL; j++)
			if (imap_search_ieq(a->s, a->len, imap_search_table[j].name))
				k = &imap_search_table[j];
	if (k == NULL)
		return imap_search_set(ps, a, false, parent);

	enum imap_search_status st;
	const struct imap_arg *v = NULL;
	if (k->kind != IMAP_SEARCH_K_SIMPLE && k->kind != IMAP_SEARCH_K_MODSEQ &&
	    (v = imap_search_next(ps, args, n, i, k->name)) == NULL)
		return IMAP_SEARCH_BAD;
	uint8_t cost = k->type == IMAP_SEARCH_N_SENT     ? IMAP_SEARCH_COST_DATE
	               : k->type == IMAP_SEARCH_N_NEEDLE ? IMAP_SEARCH_COST_TEXT
	                                                 : IMAP_SEARCH_COST_FREE;
	union {
		struct {
			unsigned set, clear;
		} flags;
		uint64_t num;
		imap_day day;
		size_t off;
	} val = {.num = 0};
	const char *p, *f;
	size_t len, flen;
	uint32_t n32;

	switch (k->kind) {
	case IMAP_SEARCH_K_SIMPLE:
		val.flags.set = k->set;
		val.flags.clear = k->clear;
		break;
	case IMAP_SEARCH_K_KEYWORD:
		if ((st = imap_search_string(ps, v, k->name, &p, &len)) != IMAP_SEARCH_OK)
			return st;
		if (len == 0)
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Empty keyword after", k->name);
		if ((st = imap_search_keep(ps, p, len, &val.off)) != IMAP_SEARCH_OK)
			return st;
		break;
	case IMAP_SEARCH_K_DATE:
		if (v->type == IMAP_ARG_LIST || v->type == IMAP_ARG_NIL || !imap_date_parse(v->s, v->len, &val.day))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid date (d-Mon-yyyy) after", k->name);
		break;
	case IMAP_SEARCH_K_SIZE:
		if (!imap_search_number64(v, &val.num))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid number after", k->name);
		break;
	case IMAP_SEARCH_K_AGE:
		/* RFC 5032 3: the interval is an nz-number of seconds. */
		if (!imap_arg_number(v, &n32) || n32 == 0)
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid interval after", k->name);
		val.num = n32;
		break;
	case IMAP_SEARCH_K_HEADER:
		if ((st = imap_search_string(ps, v, k->name, &f, &flen)) != IMAP_SEARCH_OK)
			return st;
		if (!imap_search_field_ok(f, flen))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Invalid header field name after", k->name);
		if ((v = imap_search_next(ps, args, n, i, k->name)) == NULL)
			return IMAP_SEARCH_BAD;
		if ((st = imap_search_string(ps, v, k->name, &p, &len)) != IMAP_SEARCH_OK ||
		    (st = imap_search_needle(ps, MIME_NEEDLE_HEADER, f, flen, p, len, &val.off)) != IMAP_SEARCH_OK)
			return st;
		break;
	case IMAP_SEARCH_K_TEXT:
		if ((st = imap_search_string(ps, v, k->name, &p, &len)) != IMAP_SEARCH_OK ||
		    (st = imap_search_needle(ps, k->where, k->field, k->field ? strlen(k->field) : 0, p, len,
		                             &val.off)) != IMAP_SEARCH_OK)
			return st;
		break;
	case IMAP_SEARCH_K_UID:
		return imap_search_set(ps, v, true, parent);
	case IMAP_SEARCH_K_MODSEQ:
		if ((st = imap_search_modseq(ps, args, n, i, &val.num)) != IMAP_SEARCH_OK)
			return st;
		break;
	}

	uint16_t idx;
	if ((st = imap_search_node_new(ps, (enum imap_search_type)k->type, cost, parent, &idx)) != IMAP_SEARCH_OK)
		return st;
	struct imap_search_node *nd = &ps->s->nodes[idx];
	nd->op = k->op;
	switch (k->type) {
	case IMAP_SEARCH_N_FLAGS:
		nd->u.flags.set = val.flags.set;
		nd->u.flags.clear = val.flags.clear;
		break;
	case IMAP_SEARCH_N_KEYWORD:
		nd->u.kw.name = val.off;
		nd->u.kw.index = -1;
		break;
	case IMAP_SEARCH_N_DATE:
	case IMAP_SEARCH_N_SENT:
		nd->u.day = val.day;
		ps->s->needs_date = ps->s->needs_date || k->type == IMAP_SEARCH_N_SENT;
		break;
	case IMAP_SEARCH_N_NEEDLE:
		nd->u.needle = val.off;
		break;
	default:
		nd->u.num = val.num;
		break;
	}
	return IMAP_SEARCH_OK;
}

/*
 * The keys args[0..n) as children of `group`, which they AND. OR and
 * NOT are pushed on ps->pending with the number of operands they still
 * need; each complete key (a leaf or a group) satisfies the operator on
 * top, and an operator so completed is itself a complete key for the one
 * below it.
 */
static enum imap_search_status imap_search_keys(struct imap_search_parser *ps, const struct imap_arg *args,
                                                size_t n, uint16_t group)
{
	size_t base = ps->npending, i = 0;
	enum imap_search_status st;

	while (i < n) {
		const struct imap_arg *a = &args[i];
		uint16_t parent = ps->npending > base ? ps->pending[ps->npending - 1].node : group, idx;
		if (a->type == IMAP_ARG_LIST) {
			if (a->nlist == 0)
				return imap_search_fail(ps, IMAP_SEARCH_BAD, "Empty parenthesized search key", NULL);
			if (ps->depth >= IMAP_ARG_DEPTH_MAX)
				return imap_search_fail(ps, IMAP_SEARCH_TOO_BIG, "Search keys nested too deep", NULL);
			if ((st = imap_search_node_new(ps, IMAP_SEARCH_N_AND, IMAP_SEARCH_COST_FREE, parent, &idx)) !=
			    IMAP_SEARCH_OK)
				return st;
			ps->depth++;
			st = imap_search_keys(ps, a->list, a->nlist, idx);
			ps->depth--;
			if (st != IMAP_SEARCH_OK)
				return st;
			i++;
		} else if (imap_search_is_word(a, "OR") || imap_search_is_word(a, "NOT")) {
			bool is_or = imap_search_is_word(a, "OR");
			if ((st = imap_search_node_new(ps, is_or ? IMAP_SEARCH_N_OR : IMAP_SEARCH_N_NOT, IMAP_SEARCH_COST_FREE,
			                               parent, &idx)) != IMAP_SEARCH_OK)
				return st;
			/* Every pending operator is a node, so the stack cannot
			 * outgrow IMAP_SEARCH_NODES. */
			ps->pending[ps->npending].node = idx;
			ps->pending[ps->npending].need = is_or ? 2 : 1;
			ps->npending++;
			i++;
			continue;
		} else if ((st = imap_search_leaf(ps, args, n, &i, parent)) != IMAP_SEARCH_OK) {
			return st;
		}
		while (ps->npending > base && --ps->pending[ps->npending - 1].need == 0)
			ps->npending--;
	}
	if (ps->npending > base)
		return imap_search_fail(ps, IMAP_SEARCH_BAD, "Missing search key after OR or NOT", NULL);
	return IMAP_SEARCH_OK;
}

/* Children are made after their parents, so walking the array backwards
 * sees every child's cost before its parent's. Each group's children are
 * then put in order of cost, keeping their order otherwise. */
static void imap_search_order(struct imap_search *s)
{
	for (size_t i = s->nnodes; i-- > 0;) {
		struct imap_search_node *nd = &s->nodes[i];
		if (nd->type != IMAP_SEARCH_N_AND && nd->type != IMAP_SEARCH_N_OR && nd->type != IMAP_SEARCH_N_NOT)
			continue;
		uint16_t head[IMAP_SEARCH_COSTS] = {0}, tail[IMAP_SEARCH_COSTS] = {0};
		uint8_t cost = IMAP_SEARCH_COST_FREE;
		for (uint16_t c = nd->child, next; c != 0; c = next) {
			struct imap_search_node *ch = &s->nodes[c];
			next = ch->next;
			ch->next = 0;
			if (ch->cost > cost)
				cost = ch->cost;
			if (tail[ch->cost] != 0)
				s->nodes[tail[ch->cost]].next = c;
			else
				head[ch->cost] = c;
			tail[ch->cost] = c;
		}
		nd->cost = cost;
		nd->child = nd->last = 0;
		for (int k = 0; k < IMAP_SEARCH_COSTS; k++) {
			if (head[k] == 0)
				continue;
			if (nd->last != 0)
				s->nodes[nd->last].next = head[k];
			else
				nd->child = head[k];
			nd->last = tail[k];
		}
	}
}

/* RFC 4731 3.1 (and RFC 9051 6.4.4.1): RETURN (MIN MAX ALL COUNT SAVE). */
static enum imap_search_status imap_search_return(struct imap_search_parser *ps, const struct imap_arg *a)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	        {"MIN", IMAP_SEARCH_RET_MIN},     {"MAX", IMAP_SEARCH_RET_MAX},   {"ALL", IMAP_SEARCH_RET_ALL},
	        {"COUNT", IMAP_SEARCH_RET_COUNT}, {"SAVE", IMAP_SEARCH_RET_SAVE},
	};
	if (a->type != IMAP_ARG_LIST)
		return imap_search_fail(ps, IMAP_SEARCH_BAD, "RETURN needs a list of options", NULL);
	for (size_t k = 0; k < a->nlist; k++) {
		unsigned bit = 0;
		for (size_t j = 0; j < sizeof opts / sizeof opts[0] && bit == 0; j++)
			if (imap_search_is_word(&a->list[k], opts[j].name))
				bit = opts[j].bit;
		if (bit == 0)
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "Unknown RETURN option", NULL);
		ps->s->ret |= bit;
	}
	/* "RETURN ()" is RETURN (ALL) (RFC 4731 3.1). */
	if (a->nlist == 0)
		ps->s->ret = IMAP_SEARCH_RET_ALL;
	ps->s->esearch = true;
	return IMAP_SEARCH_OK;
}

static enum imap_search_status imap_search_program(struct imap_search_parser *ps, const struct imap_arg *args,
                                                   size_t n)
{
	enum imap_search_status st;
	size_t i = 0;
	uint16_t root;

	if (i < n && imap_search_is_word(&args[i], "RETURN")) {
		if (i + 1 >= n)
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "RETURN needs a list of options", NULL);
		if ((st = imap_search_return(ps, &args[i + 1])) != IMAP_SEARCH_OK)
			return st;
		i += 2;
	}
	if (i < n && imap_search_is_word(&args[i], "CHARSET")) {
		const struct imap_arg *c = i + 1 < n ? &args[i + 1] : NULL;
		if (c == NULL || (c->type != IMAP_ARG_ATOM && c->type != IMAP_ARG_STRING && c->type != IMAP_ARG_LITERAL))
			return imap_search_fail(ps, IMAP_SEARCH_BAD, "CHARSET needs a charset name", NULL);
		if (!imap_search_ieq(c->s, c->len, "US-ASCII") && !imap_search_ieq(c->s, c->len, "UTF-8"))
			return imap_search_fail(ps, IMAP_SEARCH_BADCHARSET, "Unsupported charset", NULL);
		i += 2;
	}
	if (i >= n)
		return imap_search_fail(ps, IMAP_SEARCH_BAD, "Missing search criteria", NULL);
	if ((st = imap_search_node_new(ps, IMAP_SEARCH_N_AND, IMAP_SEARCH_COST_FREE, 0, &root)) != IMAP_SEARCH_OK)
		return st;
	return imap_search_keys(ps, args + i, n - i, root);
}

/*
 * `utf8` changes nothing here: under IMAP4rev1 a string with 8-bit
 * octets and no CHARSET is taken as UTF-8 (Dovecot's choice too, and
 * what such clients mean), and under IMAP4rev2 strings are UTF-8
 * always; in both, octets that are not UTF-8 are a BAD.
 */
enum imap_search_status imap_search_parse(const struct imap_arg *args, size_t n, bool utf8, struct imap_search *s,
                                          char *err, size_t errlen)
{
	(void)utf8;
	memset(s, 0, sizeof *s);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	struct imap_search_parser ps = {.s = s, .err = err, .errlen = errlen};
	buf_init(&ps.str, 0);

	enum imap_search_status st = imap_search_program(&ps, args, n);
	if (st != IMAP_SEARCH_OK) {
		buf_free(&ps.str);
		imap_search_free(s);
		return st;
	}
	imap_search_order(s);
	s->strings = ps.str.data; /* ownership passes to the program */
	for (size_t j = 0; j < s->nneedles; j++) {
		s->needles[j].text = s->strings + ps.text_off[j];
		s->needles[j].field = ps.field_off[j] == IMAP_SEARCH_NONE_OFF ? NULL : s->strings + ps.field_off[j];
	}
	return IMAP_SEARCH_OK;
}

void imap_search_free(struct imap_search *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nnodes; i++) {
		struct imap_search_node *nd = &s->nodes[i];
		if (nd->type == IMAP_SEARCH_N_SEQ || nd->type == IMAP_SEARCH_N_UID) {
			imap_seqset_free(&nd->u.seq.given);
			imap_seqset_free(&nd->u.seq.bound);
		}
	}
	free(s->nodes);
	free(s->strings);
	memset(s, 0, sizeof *s);
}
