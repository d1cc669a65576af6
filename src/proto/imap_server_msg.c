/*
 * imap_server_msg — the commands that act on messages of the selected
 * folder: STORE (RFC 9051 6.4.6, with UNCHANGEDSINCE of RFC 7162 3.1.3),
 * COPY with COPYUID (6.4.7, RFC 4315), MOVE (RFC 6851), EXPUNGE and UID
 * EXPUNGE (6.4.3, RFC 4315 2.1), SEARCH (6.4.4, with ESEARCH, SEARCHRES
 * and CONDSTORE's MODSEQ). The criteria themselves are proto/imap_search.
 *
 * Long commands run in slices (IMAP_MSG_SLICE messages per exec, fewer
 * when a search reads message text) so that one client's STORE 1:* on a
 * large folder does not hold a worker for seconds while others wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_server_int.h"

#define IMAP_MSG_SLICE 2000
#define IMAP_TEXT_SLICE 100

void imap_store_free(struct imap_cmd *c)
{
	for (size_t i = 0; i < c->nkeywords; i++)
		free(c->keywords[i]);
	free(c->keywords);
	c->keywords = NULL;
	c->nkeywords = 0;
}

/* ----------------------------------------------------------------- flags */

/* flag-keyword (RFC 9051 9): an atom, no "\" and no "]". */
static bool imap_keyword_ok(const char *p, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch))
			return false;
	}
	return true;
}

static bool imap_add_flag(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *a, bool allow_recent)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {
		{"\\Answered", IMAP_FLAG_ANSWERED}, {"\\Flagged", IMAP_FLAG_FLAGGED}, {"\\Deleted", IMAP_FLAG_DELETED},
		{"\\Seen", IMAP_FLAG_SEEN},         {"\\Draft", IMAP_FLAG_DRAFT},
	};
	/* NIL is an atom and so a keyword (RFC 9051 9: flag-keyword = atom),
	 * as Dovecot has it: STORE 1 +FLAGS NIL sets the keyword "NIL". */
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return false;
	if (a->len > 0 && a->s[0] == '\\') {
		for (size_t i = 0; i < sizeof sys / sizeof *sys; i++)
			if (imap_arg_is_atom(a, sys[i].name)) {
				c->flags |= sys[i].bit;
				return true;
			}
		/* \Recent cannot be set (RFC 3501 2.3.2); APPEND may name it. */
		return allow_recent && imap_arg_is_atom(a, "\\Recent");
	}
	if (!imap_keyword_ok(a->s, a->len))
		return false;
	for (size_t i = 0; i < c->nkeywords; i++)
		if (strlen(c->keywords[i]) == a->len && strncasecmp(c->keywords[i], a->s, a->len) == 0)
			return true;
	if (c->nkeywords >= IMAP_KEYWORDS_MAX * 2)
		return false;
	char **k = realloc(c->keywords, (c->nkeywords + 1) * sizeof *k);
	if (k == NULL)
		return false;
	c->keywords = k;
	c->keywords[c->nkeywords] = strndup(a->s, a->len);
	if (c->keywords[c->nkeywords] == NULL)
		return false;
	c->nkeywords++;
	(void)s;
	return true;
}

bool imap_parse_flag_list(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *a, bool allow_recent)
{
	if (a->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < a->nlist; i++)
			if (!imap_add_flag(s, c, &a->list[i], allow_recent))
				return false;
		return true;
	}
	return imap_add_flag(s, c, a, allow_recent);
}

/* ----------------------------------------------------------------- STORE */

bool imap_parse_store(struct imap_server *s, struct imap_cmd *c)
{
	const struct imap_arg *a = c->args.top;
	size_t n = c->args.ntop, i = 1;
	if (n < 3) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (a[1].type == IMAP_ARG_LIST) {
		/* store-modifiers: (UNCHANGEDSINCE n) */
		const struct imap_arg *m = &a[1];
		if (m->nlist != 2 || !imap_arg_is_atom(&m->list[0], "UNCHANGEDSINCE") || m->list[1].type != IMAP_ARG_ATOM ||
		    m->list[1].len > 19 || m->list[1].len == 0) {
			imap_bad(s, "Invalid store modifiers");
			return false;
		}
		uint64_t v = 0;
		for (size_t k = 0; k < m->list[1].len; k++) {
			if (m->list[1].s[k] < '0' || m->list[1].s[k] > '9') {
				imap_bad(s, "Invalid UNCHANGEDSINCE");
				return false;
			}
			v = v * 10 + (uint64_t)(m->list[1].s[k] - '0');
		}
		/* 0 is a real condition: only messages never changed (none). */
		c->unchangedsince = v;
		c->want_modseq = true;
		imap_condstore_enable(s); /* RFC 7162 3.1: a CONDSTORE-enabling command */
		i = 2;
	}
	if (n < i + 2 || a[i].type != IMAP_ARG_ATOM) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	const char *item = a[i].s;
	size_t len = a[i].len;
	c->mode = IMAP_STORE_SET;
	if (len && (item[0] == '+' || item[0] == '-')) {
		c->mode = item[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		item++;
		len--;
	}
	if (len == 12 && strncasecmp(item, "FLAGS.SILENT", 12) == 0)
		c->silent = true;
	else if (!(len == 5 && strncasecmp(item, "FLAGS", 5) == 0)) {
		imap_bad(s, "Invalid store item");
		return false;
	}
	/* the flags: a list, or flags separated by spaces (RFC 9051 9) */
	for (size_t k = i + 1; k < n; k++) {
		if ((a[k].type == IMAP_ARG_LIST && n != i + 2) || !imap_parse_flag_list(s, c, &a[k], false)) {
			imap_bad(s, "Invalid flags");
			return false;
		}
	}
	if (s->info.readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return false;
	}
	return imap_resolve_set(s, c, &a[0]);
}

enum imap_exec_result imap_exec_store(struct imap_server *s, struct imap_cmd *c)
{
	if (c->next == 0 && c->range == 0) {
		/* The keywords' indexes, made as needed (not for removal). */
		for (size_t i = 0; i < c->nkeywords; i++) {
			int k = s->ops->keyword(s->ctx, s->box, c->keywords[i], c->mode != IMAP_STORE_REMOVE);
			if (k == -2) {
				c->done_status = "NO";
				snprintf(c->done_text, sizeof c->done_text, "[LIMIT] Too many keywords in this mailbox");
				return IMAP_EXEC_DONE;
			}
			if (k >= 0 && k < IMAP_KEYWORDS_MAX)
				c->kwbits |= (imap_keywords)1 << k;
		}
		if (c->nkeywords)
			imap_report_updates(s, false); /* a new keyword: FLAGS first */
		c->next = 1;
	}
	unsigned done = 0;
	while (c->range < c->set.n) {
		const struct imap_range *r = &c->set.r[c->range];
		if (c->next < r->lo)
			c->next = r->lo;
		if (c->next > r->hi) {
			c->range++;
			continue;
		}
		if (done++ >= IMAP_MSG_SLICE || s->out.len >= IMAP_SERVER_OUT_PAUSE)
			return IMAP_EXEC_MORE;
		uint32_t seq = (uint32_t)c->next++;
		struct imap_msg m;
		enum imap_store_result res = IMAP_STORE_MODIFIED; /* UNCHANGEDSINCE 0 fails for every message */
		if (!(c->want_modseq && c->unchangedsince == 0))
			res = s->ops->store(s->ctx, s->box, seq, c->mode, c->flags & IMAP_FLAGS_SYSTEM, c->kwbits,
			                    c->unchangedsince, &m);
		if (res == IMAP_STORE_MODIFIED) {
			struct imap_msg cur;
			s->ops->msg(s->ctx, s->box, seq, &cur);
			uint32_t id = c->uid ? cur.uid : seq;
			imap_seqset_add(&c->modified, id, id);
			continue;
		}
		if (res == IMAP_STORE_EXPUNGED) {
			c->expunged_seen++;
			continue;
		}
		if (res != IMAP_STORE_OK) {
			c->done_status = "NO";
			snprintf(c->done_text, sizeof c->done_text, "[SERVERBUG] Flags could not be changed");
			s->ops->flush(s->ctx, s->box);
			return IMAP_EXEC_DONE;
		}
		imap_note_own_change(s, m.uid, m.modseq);
		if (!c->silent) {
			buf_printf(&s->out, "* %u FETCH (", seq);
			if (c->uid)
				buf_printf(&s->out, "UID %u ", m.uid);
			buf_puts(&s->out, "FLAGS ");
			imap_put_flags(s, &s->out, m.flags, m.keywords);
			if (s->condstore)
				buf_printf(&s->out, " MODSEQ (%llu)", (unsigned long long)m.modseq);
			buf_puts(&s->out, ")\r\n");
		} else if (c->want_modseq) {
			/* RFC 7162 3.1.3: the new modseq is told even when silent. */
			buf_printf(&s->out, "* %u FETCH (", seq);
			if (c->uid)
				buf_printf(&s->out, "UID %u ", m.uid);
			buf_printf(&s->out, "MODSEQ (%llu))\r\n", (unsigned long long)m.modseq);
		}
	}
	if (s->ops->flush(s->ctx, s->box) != IMAP_STORE_OK) {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "[SERVERBUG] Flags could not be saved");
		return IMAP_EXEC_DONE;
	}
	c->done_status = "OK";
	if (c->modified.n) {
		struct buf b;
		buf_init(&b, sizeof c->done_text - 64);
		imap_seqset_normalize(&c->modified);
		imap_seqset_format(&c->modified, &b);
		snprintf(c->done_text, sizeof c->done_text, "[MODIFIED %s] Conditional STORE failed",
		         b.data ? b.data : "");
		buf_free(&b);
	} else if (c->expunged_seen) {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "[EXPUNGEISSUED] Some messages were expunged");
	} else {
		snprintf(c->done_text, sizeof c->done_text, "Store completed");
	}
	return IMAP_EXEC_DONE;
}

/* ------------------------------------------------------------ COPY, MOVE */

bool imap_parse_copy(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 2) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	c->move = strcmp(c->def->name, "MOVE") == 0;
	if (!imap_get_mailbox(s, &c->args.top[1], c->name, sizeof c->name))
		return false;
	if (c->move && s->info.readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return false;
	}
	return imap_resolve_set(s, c, &c->args.top[0]);
}

enum imap_exec_result imap_exec_copy(struct imap_server *s, struct imap_cmd *c)
{
	const char *what = c->move ? "Move" : "Copy";
	c->done_status = "OK";
	if (c->set.n == 0) {
		snprintf(c->done_text, sizeof c->done_text, "No messages");
		return IMAP_EXEC_DONE;
	}
	uint32_t uidv = 0;
	struct imap_seqset src, dst;
	imap_seqset_init(&src);
	imap_seqset_init(&dst);
	enum imap_store_result r = s->ops->copy(s->ctx, s->box, &c->set, c->name, &uidv, &src, &dst);
	if (r != IMAP_STORE_OK) {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "%s",
		         r == IMAP_STORE_NONEXISTENT ? "[TRYCREATE] Mailbox does not exist"
		         : r == IMAP_STORE_OVERQUOTA ? "[OVERQUOTA] Quota exceeded"
		                                     : "[SERVERBUG] The messages could not be copied");
		imap_seqset_free(&src);
		imap_seqset_free(&dst);
		return IMAP_EXEC_DONE;
	}
	struct buf code;
	buf_init(&code, 0);
	if (src.n && dst.n) {
		buf_printf(&code, "[COPYUID %u ", uidv);
		imap_seqset_format(&src, &code);
		buf_putc(&code, ' ');
		imap_seqset_format(&dst, &code);
		buf_puts(&code, "] ");
	}
	if (!c->move) {
		if (code.len + 32 < sizeof c->done_text)
			snprintf(c->done_text, sizeof c->done_text, "%sCopy completed", code.data ? code.data : "");
		else {
			/* A COPYUID too long for the tagged line goes before it. */
			imap_untagged(s, "OK %sCopied", code.data);
			snprintf(c->done_text, sizeof c->done_text, "Copy completed");
		}
	} else {
		/* RFC 6851 4.3: COPYUID in an untagged OK, then the expunges. */
		if (code.len)
			imap_untagged(s, "OK %sMoved", code.data);
		for (size_t i = 0; i < c->set.n; i++)
			for (uint32_t q = c->set.r[i].lo; q <= c->set.r[i].hi && q != 0; q++) {
				struct imap_msg m;
				if (s->ops->store(s->ctx, s->box, q, IMAP_STORE_ADD, IMAP_FLAG_DELETED, 0, 0, &m) ==
				    IMAP_STORE_OK)
					imap_note_own_change(s, m.uid, m.modseq);
			}
		struct imap_sync_sink sink;
		imap_sink_init(s, &sink);
		r = s->ops->expunge(s->ctx, s->box, &src, &sink);
		imap_sink_flush(s);
		if (r == IMAP_STORE_OK)
			r = s->ops->flush(s->ctx, s->box);
		if (r != IMAP_STORE_OK) {
			c->done_status = "NO";
			snprintf(c->done_text, sizeof c->done_text, "[SERVERBUG] Copied, but the originals remain");
		} else {
			snprintf(c->done_text, sizeof c->done_text, "%s completed", what);
		}
	}
	buf_free(&code);
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
	return IMAP_EXEC_DONE;
}

/* -------------------------------------------------------------- EXPUNGE */

bool imap_parse_expunge(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != (c->uid ? 1u : 0u)) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (c->uid) {
		const struct imap_arg *a = &c->args.top[0];
		if (a->type != IMAP_ARG_ATOM || !imap_seqset_parse(a->s, a->len, &c->q_known) || c->q_known.saved) {
			imap_bad(s, "Invalid UID set");
			return false;
		}
		uint32_t maxuid = 1;
		if (s->exists_sent) {
			struct imap_msg m;
			s->ops->msg(s->ctx, s->box, s->exists_sent, &m);
			maxuid = m.uid;
		}
		imap_seqset_resolve(&c->q_known, maxuid);
	}
	if (s->info.readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return false;
	}
	return true;
}

enum imap_exec_result imap_exec_expunge(struct imap_server *s, struct imap_cmd *c)
{
	struct imap_sync_sink sink;
	imap_sink_init(s, &sink);
	enum imap_store_result r = s->ops->expunge(s->ctx, s->box, c->uid ? &c->q_known : NULL, &sink);
	imap_sink_flush(s);
	if (r == IMAP_STORE_OK)
		r = s->ops->flush(s->ctx, s->box);
	c->done_status = r == IMAP_STORE_OK ? "OK" : "NO";
	snprintf(c->done_text, sizeof c->done_text, "%s",
	         r == IMAP_STORE_OK ? "Expunge completed" : "[SERVERBUG] Messages could not be expunged");
	return IMAP_EXEC_DONE;
}

/* --------------------------------------------------------------- SEARCH */

static int imap_search_keyword(void *ctx, const char *name)
{
	struct imap_server *s = ctx;
	return s->ops->keyword(s->ctx, s->box, name, false);
}

static bool imap_search_sent(void *ctx, const struct imap_search_msg *m, int64_t *t, int *tz)
{
	struct imap_server *s = ctx;
	return s->ops->sent_date(s->ctx, s->box, m->seq, t, tz);
}

/* Every needle of the search is looked for in one pass over the message,
 * the first time one is asked about. */
static bool imap_search_needle(void *ctx, const struct imap_search_msg *m, size_t i)
{
	struct imap_server *s = ctx;
	struct imap_cmd *c = s->cmd;
	if (c->needle_seq != m->seq) {
		memset(c->needle_hits, 0, sizeof c->needle_hits);
		if (s->ops->search_text(s->ctx, s->box, m->seq, c->search.needles, c->search.nneedles, c->needle_hits) !=
		    IMAP_STORE_OK)
			c->expunged_seen++;
		c->needle_seq = m->seq;
	}
	return i < IMAP_SEARCH_NEEDLES && c->needle_hits[i];
}

static const struct imap_search_ops imap_search_world = {
	.keyword_index = imap_search_keyword,
	.sent_date = imap_search_sent,
	.needle = imap_search_needle,
};

bool imap_parse_search(struct imap_server *s, struct imap_cmd *c)
{
	char err[128] = "";
	enum imap_search_status st = imap_search_parse(c->args.top, c->args.ntop, s->utf8, &c->search, err, sizeof err);
	c->search_ready = st == IMAP_SEARCH_OK;
	if (st == IMAP_SEARCH_BADCHARSET) {
		imap_tagged(s, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
		return false;
	}
	if (st != IMAP_SEARCH_OK) {
		imap_bad(s, err[0] ? err : "Invalid search criteria");
		return false;
	}
	if (c->search.uses_modseq)
		imap_condstore_enable(s); /* RFC 7162 3.1: a CONDSTORE-enabling command */
	return true;
}

static void imap_search_answer(struct imap_server *s, struct imap_cmd *c)
{
	const struct imap_search *p = &c->search;
	unsigned ret = p->ret;
	bool esearch = p->esearch || s->rev2;
	if (s->rev2 && !p->esearch)
		ret = IMAP_SEARCH_RET_ALL;
	/* RFC 5182 2.4: SAVE with MIN or MAX alone saves just those. */
	if (ret & IMAP_SEARCH_RET_SAVE) {
		struct imap_seqset saved;
		imap_seqset_init(&saved);
		bool only_ends = (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) &&
		                 !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT));
		for (size_t i = 0; i < c->result.n; i++)
			for (uint32_t v = c->result.r[i].lo; v <= c->result.r[i].hi && v != 0; v++) {
				if (only_ends && !((ret & IMAP_SEARCH_RET_MIN) && v == c->result_min) &&
				    !((ret & IMAP_SEARCH_RET_MAX) && v == c->result_max))
					continue;
				uint32_t uid = v;
				if (!c->uid) {
					struct imap_msg m;
					s->ops->msg(s->ctx, s->box, v, &m);
					uid = m.uid;
				}
				imap_seqset_add(&saved, uid, uid);
				if (v == UINT32_MAX)
					break;
			}
		imap_seqset_normalize(&saved);
		imap_seqset_free(&s->saved);
		s->saved = saved;
		ret &= ~(unsigned)IMAP_SEARCH_RET_SAVE;
		if (ret == 0 && p->esearch)
			return; /* RETURN (SAVE): no answer but the tagged OK */
	}
	if (!esearch) {
		buf_puts(&s->out, "* SEARCH");
		for (size_t i = 0; i < c->result.n; i++)
			for (uint32_t v = c->result.r[i].lo; v <= c->result.r[i].hi && v != 0; v++) {
				buf_printf(&s->out, " %u", v);
				if (v == UINT32_MAX)
					break;
			}
		if (p->uses_modseq && c->result.n)
			buf_printf(&s->out, " (MODSEQ %llu)", (unsigned long long)c->result_modseq);
		buf_puts(&s->out, "\r\n");
		return;
	}
	buf_puts(&s->out, "* ESEARCH (TAG ");
	imap_put_string(&s->out, s->tag, strlen(s->tag));
	buf_putc(&s->out, ')');
	if (c->uid)
		buf_puts(&s->out, " UID");
	if ((ret & IMAP_SEARCH_RET_MIN) && c->result_count)
		buf_printf(&s->out, " MIN %u", c->result_min);
	if ((ret & IMAP_SEARCH_RET_MAX) && c->result_count)
		buf_printf(&s->out, " MAX %u", c->result_max);
	if (ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(&s->out, " COUNT %u", c->result_count);
	if ((ret & IMAP_SEARCH_RET_ALL) && c->result.n) {
		buf_puts(&s->out, " ALL ");
		imap_seqset_format(&c->result, &s->out);
	}
	if (p->uses_modseq && c->result_count) {
		/* RFC 7162 3.1.5: with MIN and/or MAX alone, the highest
		 * mod-sequence of the messages returned; with ALL or COUNT,
		 * of every message found. */
		uint64_t ms = c->result_modseq;
		if (!(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) &&
		    (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX))) {
			ms = 0;
			if (ret & IMAP_SEARCH_RET_MIN)
				ms = c->result_min_modseq;
			if ((ret & IMAP_SEARCH_RET_MAX) && c->result_max_modseq > ms)
				ms = c->result_max_modseq;
		}
		buf_printf(&s->out, " MODSEQ %llu", (unsigned long long)ms);
	}
	buf_puts(&s->out, "\r\n");
}

enum imap_exec_result imap_exec_search(struct imap_server *s, struct imap_cmd *c)
{
	uint32_t n = s->exists_sent;
	if (c->next == 0) {
		uint32_t maxuid = 0;
		if (n) {
			struct imap_msg m;
			s->ops->msg(s->ctx, s->box, n, &m);
			maxuid = m.uid;
		}
		int64_t now = s->ops->now ? s->ops->now(s->ctx) : 0;
		imap_search_bind(&c->search, n, maxuid, &s->saved, now, &imap_search_world, s);
		c->next = 1;
		c->needle_seq = 0;
	}
	unsigned slice = c->search.nneedles || c->search.needs_date ? IMAP_TEXT_SLICE : IMAP_MSG_SLICE * 5;
	for (unsigned done = 0; c->next <= n; done++) {
		if (done >= slice)
			return IMAP_EXEC_MORE;
		uint32_t seq = (uint32_t)c->next++;
		struct imap_msg m;
		s->ops->msg(s->ctx, s->box, seq, &m);
		struct imap_search_msg sm = {
			.seq = seq,
			.uid = m.uid,
			.flags = m.flags,
			.keywords = m.keywords,
			.internaldate = m.internaldate,
			.internal_tz = m.tz,
			.size = m.size,
			.modseq = m.modseq,
		};
		if (!imap_search_match(&c->search, &sm))
			continue;
		uint32_t v = c->uid ? m.uid : seq;
		imap_seqset_add(&c->result, v, v);
		if (c->result_count == 0 || v < c->result_min) {
			c->result_min = v;
			c->result_min_modseq = m.modseq;
		}
		if (v > c->result_max) {
			c->result_max = v;
			c->result_max_modseq = m.modseq;
		}
		c->result_count++;
		if (m.modseq > c->result_modseq)
			c->result_modseq = m.modseq;
	}
	imap_seqset_normalize(&c->result);
	imap_search_answer(s, c);
	c->done_status = "OK";
	snprintf(c->done_text, sizeof c->done_text, "Search completed");
	return IMAP_EXEC_DONE;
}
