/*
 * imap_search_match — a parsed SEARCH program bound to a folder and
 * matched against one message at a time, the cheap keys first: the
 * Date: header and the text needles are asked for only when the keys
 * that cost nothing have not decided. See imap_search.h.
 */
#include "proto/imap_search_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ binding */

void imap_search_bind(struct imap_search *s, uint32_t max_seq, uint32_t max_uid, const struct imap_seqset *saved,
                      int64_t now, const struct imap_search_ops *ops, void *ctx)
{
	s->ops = ops;
	s->ctx = ctx;
	s->saved = saved;
	s->now = now;
	for (size_t i = 0; i < s->nnodes; i++) {
		struct imap_search_node *nd = &s->nodes[i];
		if (nd->type == IMAP_SEARCH_N_SEQ || nd->type == IMAP_SEARCH_N_UID) {
			/* Resolving only merges ranges: the copy fits the array
			 * sized at parse time, and binding never allocates. */
			struct imap_seqset *b = &nd->u.seq.bound;
			memcpy(b->r, nd->u.seq.given.r, nd->u.seq.given.n * sizeof *b->r);
			b->n = nd->u.seq.given.n;
			imap_seqset_resolve(b, nd->type == IMAP_SEARCH_N_UID ? max_uid : max_seq);
		} else if (nd->type == IMAP_SEARCH_N_KEYWORD) {
			int k = ops != NULL && ops->keyword_index != NULL
			                ? ops->keyword_index(ctx, s->strings + nd->u.kw.name)
			                : -1;
			nd->u.kw.index = k >= 0 && k < IMAP_KEYWORDS_MAX ? k : -1;
		}
	}
}

/* --------------------------------------------------------- evaluation */

enum { IMAP_SEARCH_FALSE, IMAP_SEARCH_TRUE, IMAP_SEARCH_UNKNOWN };

/* Evaluation levels: which expensive keys may be asked. */
enum { IMAP_SEARCH_ASK_NONE, IMAP_SEARCH_ASK_DATE, IMAP_SEARCH_ASK_ALL };

#if IMAP_SEARCH_NEEDLES > 64
#error "the needle memo below holds 64 needles"
#endif

struct imap_search_eval {
	const struct imap_search *s;
	const struct imap_search_msg *m;
	int level;
	bool date_asked, has_date;
	imap_day sent_day;
	uint64_t needle_asked, needle_hit; /* bit i: needle i */
};

static int imap_search_day_cmp(imap_day day, uint8_t op, imap_day key)
{
	switch (op) {
	case IMAP_SEARCH_BEFORE:
		return day < key;
	case IMAP_SEARCH_ON:
		return day == key;
	default:
		return day >= key;
	}
}

/* now - n, held within int64. */
static int64_t imap_search_ago(int64_t now, uint64_t n)
{
	return now < INT64_MIN + (int64_t)n ? INT64_MIN : now - (int64_t)n;
}

static int imap_search_leaf_value(struct imap_search_eval *ev, const struct imap_search_node *nd)
{
	const struct imap_search *s = ev->s;
	const struct imap_search_msg *m = ev->m;

	switch ((enum imap_search_type)nd->type) {
	case IMAP_SEARCH_N_ALL:
		return IMAP_SEARCH_TRUE;
	case IMAP_SEARCH_N_FLAGS:
		return (m->flags & nd->u.flags.set) == nd->u.flags.set && (m->flags & nd->u.flags.clear) == 0;
	case IMAP_SEARCH_N_KEYWORD: {
		bool has = nd->u.kw.index >= 0 && ((m->keywords >> nd->u.kw.index) & 1u) != 0;
		return nd->op ? !has : has;
	}
	case IMAP_SEARCH_N_DATE:
		/* RFC 9051 6.4.4: the day "disregarding time and timezone",
		 * the day INTERNALDATE shows in its own zone. */
		return imap_search_day_cmp(imap_day_of(m->internaldate, m->internal_tz), nd->op, nd->u.day);
	case IMAP_SEARCH_N_SENT:
		if (ev->level < IMAP_SEARCH_ASK_DATE)
			return IMAP_SEARCH_UNKNOWN;
		if (!ev->date_asked) {
			int64_t t;
			int tz;
			ev->date_asked = true;
			ev->has_date = s->ops != NULL && s->ops->sent_date != NULL && s->ops->sent_date(s->ctx, m, &t, &tz);
			if (ev->has_date)
				ev->sent_day = imap_day_of(t, tz);
		}
		return ev->has_date && imap_search_day_cmp(ev->sent_day, nd->op, nd->u.day);
	case IMAP_SEARCH_N_LARGER:
		return m->size > nd->u.num;
	case IMAP_SEARCH_N_SMALLER:
		return m->size < nd->u.num;
	case IMAP_SEARCH_N_MODSEQ:
		return m->modseq >= nd->u.num;
	case IMAP_SEARCH_N_OLDER:
		/* RFC 5032 3: older than the interval, or within it. */
		return m->internaldate < imap_search_ago(s->now, nd->u.num);
	case IMAP_SEARCH_N_YOUNGER:
		return m->internaldate >= imap_search_ago(s->now, nd->u.num);
	case IMAP_SEARCH_N_SEQ:
		return imap_seqset_has(&nd->u.seq.bound, m->seq);
	case IMAP_SEARCH_N_UID:
		return imap_seqset_has(&nd->u.seq.bound, m->uid);
	case IMAP_SEARCH_N_SAVED:
		/* RFC 5182 2.1: "$" is the saved set, whose UIDs it holds. */
		return s->saved != NULL && imap_seqset_has(s->saved, m->uid);
	case IMAP_SEARCH_N_NEEDLE: {
		if (ev->level < IMAP_SEARCH_ASK_ALL)
			return IMAP_SEARCH_UNKNOWN;
		uint64_t bit = (uint64_t)1 << nd->u.needle;
		if ((ev->needle_asked & bit) == 0) {
			ev->needle_asked |= bit;
			if (s->ops != NULL && s->ops->needle != NULL && s->ops->needle(s->ctx, m, nd->u.needle))
				ev->needle_hit |= bit;
		}
		return (ev->needle_hit & bit) != 0;
	}
	case IMAP_SEARCH_N_AND:
	case IMAP_SEARCH_N_OR:
	case IMAP_SEARCH_N_NOT:
		break;
	}
	return IMAP_SEARCH_FALSE;
}

static bool imap_search_is_group(const struct imap_search_node *nd)
{
	return nd->type == IMAP_SEARCH_N_AND || nd->type == IMAP_SEARCH_N_OR || nd->type == IMAP_SEARCH_N_NOT;
}

/*
 * The tree's value in three-valued logic, walked with an explicit stack
 * of the groups entered (at most one per node). A group is left as soon
 * as a child decides it: FALSE for AND, TRUE for OR; an unknown child
 * makes the group unknown unless a later one decides it. Every group has
 * at least one child (the parser makes none empty).
 */
static int imap_search_walk(struct imap_search_eval *ev)
{
	const struct imap_search_node *nodes = ev->s->nodes;
	struct {
		uint16_t node, child;
		uint8_t acc;
	} st[IMAP_SEARCH_NODES];
	size_t sp = 0;
	uint16_t cur = 0;

	for (;;) {
		while (imap_search_is_group(&nodes[cur])) {
			st[sp].node = cur;
			st[sp].child = nodes[cur].child;
			st[sp].acc = nodes[cur].type == IMAP_SEARCH_N_OR ? IMAP_SEARCH_FALSE : IMAP_SEARCH_TRUE;
			sp++;
			cur = nodes[cur].child;
		}
		int v = imap_search_leaf_value(ev, &nodes[cur]);
		for (;;) {
			if (sp == 0)
				return v;
			uint8_t type = nodes[st[sp - 1].node].type;
			if (type == IMAP_SEARCH_N_NOT) {
				if (v != IMAP_SEARCH_UNKNOWN)
					v = !v;
				sp--;
				continue;
			}
			int decides = type == IMAP_SEARCH_N_AND ? IMAP_SEARCH_FALSE : IMAP_SEARCH_TRUE;
			if (v == decides) {
				sp--;
				continue;
			}
			if (v == IMAP_SEARCH_UNKNOWN)
				st[sp - 1].acc = IMAP_SEARCH_UNKNOWN;
			uint16_t next = nodes[st[sp - 1].child].next;
			if (next == 0) {
				v = st[sp - 1].acc;
				sp--;
				continue;
			}
			st[sp - 1].child = next;
			cur = next;
			break;
		}
	}
}

bool imap_search_match(const struct imap_search *s, const struct imap_search_msg *m)
{
	if (s->nnodes == 0)
		return false;
	struct imap_search_eval ev = {.s = s, .m = m};
	uint8_t cost = s->nodes[0].cost;
	int v;

	if (cost == IMAP_SEARCH_COST_FREE) {
		ev.level = IMAP_SEARCH_ASK_ALL; /* nothing to ask: one walk decides */
		return imap_search_walk(&ev) == IMAP_SEARCH_TRUE;
	}
	ev.level = IMAP_SEARCH_ASK_NONE;
	if ((v = imap_search_walk(&ev)) != IMAP_SEARCH_UNKNOWN)
		return v == IMAP_SEARCH_TRUE;
	if (s->needs_date && cost == IMAP_SEARCH_COST_TEXT) {
		ev.level = IMAP_SEARCH_ASK_DATE;
		if ((v = imap_search_walk(&ev)) != IMAP_SEARCH_UNKNOWN)
			return v == IMAP_SEARCH_TRUE;
	}
	ev.level = IMAP_SEARCH_ASK_ALL;
	return imap_search_walk(&ev) == IMAP_SEARCH_TRUE;
}
