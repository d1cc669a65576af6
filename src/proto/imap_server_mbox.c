/*
 * imap_server_mbox — the commands about folders: SELECT and EXAMINE
 * (RFC 9051 6.3.2-3, with CONDSTORE and QRESYNC parameters, RFC 7162
 * 3.1.8 and 3.2.5), CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * STATUS (with SIZE, RFC 8438, and HIGHESTMODSEQ), CLOSE, UNSELECT (RFC
 * 3691), NAMESPACE (RFC 2342) and the QUOTA commands (RFC 9208). LIST
 * and LSUB are in imap_server_list.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_server_int.h"
#include "proto/imap_utf7.h"

/* ------------------------------------------------------------ helpers */

static const char *imap_store_text(enum imap_store_result r)
{
	switch (r) {
	case IMAP_STORE_NONEXISTENT: return "[NONEXISTENT] Mailbox does not exist";
	case IMAP_STORE_EXISTS: return "[ALREADYEXISTS] Mailbox already exists";
	case IMAP_STORE_BADNAME: return "[CANNOT] Invalid mailbox name";
	case IMAP_STORE_NOPERM: return "[NOPERM] Not allowed";
	case IMAP_STORE_OVERQUOTA: return "[OVERQUOTA] Quota exceeded";
	case IMAP_STORE_TOOBIG: return "[TOOBIG] Message too large";
	case IMAP_STORE_LIMIT: return "[LIMIT] Too many keywords";
	case IMAP_STORE_EXPUNGED: return "[EXPUNGEISSUED] Some messages were expunged";
	default: return "[SERVERBUG] Internal error; see the server log";
	}
}

/* The answer of a command from the store's result. */
void imap_done(struct imap_cmd *c, enum imap_store_result r, const char *ok_text)
{
	if (r == IMAP_STORE_OK) {
		c->done_status = "OK";
		snprintf(c->done_text, sizeof c->done_text, "%s", ok_text);
	} else {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "%s", imap_store_text(r));
	}
}

void imap_close_box(struct imap_server *s)
{
	if (s->box)
		s->ops->close(s->ctx, s->box);
	s->box = NULL;
	memset(&s->info, 0, sizeof s->info);
	s->exists_sent = 0;
	s->modseq_sent = 0;
	s->box_name[0] = '\0';
	s->nown = 0;
	imap_seqset_free(&s->saved);
	if (s->state == IMAP_S_SELECTED)
		s->state = IMAP_S_AUTH;
}

/* ---------------------------------------------------- SELECT, EXAMINE */

static bool imap_parse_qresync(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *l)
{
	uint32_t v;
	if (l->type != IMAP_ARG_LIST || l->nlist < 2 || l->nlist > 4 || !imap_arg_number(&l->list[0], &v) || v == 0 ||
	    l->list[1].type != IMAP_ARG_ATOM || l->list[1].len > 19) {
		imap_bad(s, "Invalid QRESYNC parameters");
		return false;
	}
	uint64_t m = 0;
	for (size_t i = 0; i < l->list[1].len; i++) {
		char ch = l->list[1].s[i];
		if (ch < '0' || ch > '9') {
			imap_bad(s, "Invalid QRESYNC modseq");
			return false;
		}
		m = m * 10 + (uint64_t)(ch - '0');
	}
	if (l->nlist >= 3) {
		if (l->list[2].type != IMAP_ARG_ATOM || !imap_seqset_parse(l->list[2].s, l->list[2].len, &c->q_known) ||
		    c->q_known.saved) {
			imap_bad(s, "Invalid QRESYNC known UIDs");
			return false;
		}
		imap_seqset_resolve(&c->q_known, UINT32_MAX);
	}
	/* The fourth (sequence-match data) only saves work: not needed. */
	c->qresync = true;
	c->q_uidvalidity = v;
	c->q_modseq = m;
	return true;
}

bool imap_parse_select(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop < 1 || c->args.ntop > 2) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (!imap_get_mailbox(s, &c->args.top[0], c->name, sizeof c->name))
		return false;
	c->readonly = strcmp(c->def->name, "EXAMINE") == 0;
	if (c->args.ntop == 2) {
		const struct imap_arg *p = &c->args.top[1];
		if (p->type != IMAP_ARG_LIST) {
			imap_bad(s, "Invalid select parameters");
			return false;
		}
		for (size_t i = 0; i < p->nlist; i++) {
			if (imap_arg_is_atom(&p->list[i], "CONDSTORE")) {
				c->want_modseq = true;
			} else if (imap_arg_is_atom(&p->list[i], "QRESYNC") && i + 1 < p->nlist) {
				if (!s->qresync) {
					imap_bad(s, "QRESYNC is not enabled");
					return false;
				}
				if (!imap_parse_qresync(s, c, &p->list[++i]))
					return false;
			} else {
				imap_bad(s, "Unknown select parameter");
				return false;
			}
		}
	}
	return true;
}

/* RFC 7162 3.2.5.2: VANISHED (EARLIER) for the UIDs the client knows
 * (or all below UIDNEXT) that are not in the folder; then the flags of
 * what changed since its modseq. */
static void imap_qresync_report(struct imap_server *s, struct imap_cmd *c)
{
	struct imap_seqset gone;
	imap_seqset_init(&gone);
	struct imap_seqset all;
	imap_seqset_init(&all);
	const struct imap_seqset *known = &c->q_known;
	if (known->n == 0) {
		if (s->info.uidnext > 1)
			imap_seqset_add(&all, 1, s->info.uidnext - 1);
		known = &all;
	}
	for (size_t i = 0; i < known->n; i++) {
		uint32_t lo = known->r[i].lo, hi = known->r[i].hi;
		uint32_t qlo, qhi, next = lo;
		if (s->exists_sent > 0 && s->ops->uid_range(s->ctx, s->box, lo, hi, &qlo, &qhi)) {
			for (uint32_t q = qlo; q <= qhi; q++) {
				struct imap_msg m;
				s->ops->msg(s->ctx, s->box, q, &m);
				if (m.uid > next)
					imap_seqset_add(&gone, next, m.uid - 1);
				next = m.uid + 1;
				if (m.uid == UINT32_MAX)
					break;
			}
		}
		if (next <= hi && next != 0)
			imap_seqset_add(&gone, next, hi);
	}
	if (gone.n) {
		buf_puts(&s->out, "* VANISHED (EARLIER) ");
		imap_seqset_format(&gone, &s->out);
		buf_puts(&s->out, "\r\n");
	}
	imap_seqset_free(&gone);
	imap_seqset_free(&all);
	for (uint32_t q = 1; q <= s->exists_sent; q++) {
		struct imap_msg m;
		s->ops->msg(s->ctx, s->box, q, &m);
		if (m.modseq > c->q_modseq) {
			buf_printf(&s->out, "* %u FETCH (UID %u FLAGS ", q, m.uid);
			imap_put_flags(s, &s->out, m.flags, m.keywords);
			buf_printf(&s->out, " MODSEQ (%llu))\r\n", (unsigned long long)m.modseq);
		}
	}
}

enum imap_exec_result imap_exec_select(struct imap_server *s, struct imap_cmd *c)
{
	if (s->box) {
		imap_close_box(s);
		/* RFC 9051 7.1, RFC 7162 3.2.11: the old folder's updates end here. */
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	void *box = NULL;
	struct imap_box_info info;
	enum imap_store_result r = s->ops->open(s->ctx, c->name, c->readonly, &box, &info);
	if (r != IMAP_STORE_OK) {
		imap_done(c, r, "");
		return IMAP_EXEC_DONE;
	}
	if (c->want_modseq)
		s->condstore = true;
	s->box = box;
	s->info = info;
	s->exists_sent = info.exists;
	s->modseq_sent = info.highestmodseq;
	s->state = IMAP_S_SELECTED;
	snprintf(s->box_name, sizeof s->box_name, "%s", c->name);
	imap_seqset_free(&s->saved);
	/* RFC 9051 6.3.2 (and RFC 3501's RECENT and UNSEEN for IMAP4rev1) */
	buf_puts(&s->out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < info.nkeywords; i++)
		buf_printf(&s->out, " %s", info.keywords[i]);
	buf_puts(&s->out, ")\r\n* OK [PERMANENTFLAGS (");
	if (!info.readonly) {
		buf_puts(&s->out, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		for (size_t i = 0; i < info.nkeywords; i++)
			buf_printf(&s->out, " %s", info.keywords[i]);
		if (info.nkeywords < IMAP_KEYWORDS_MAX)
			buf_puts(&s->out, " \\*");
	}
	buf_puts(&s->out, ")] Flags permitted\r\n");
	imap_untagged(s, "%u EXISTS", info.exists);
	if (!s->rev2) {
		imap_untagged(s, "%u RECENT", info.recent);
		for (uint32_t q = 1; q <= info.exists; q++) {
			struct imap_msg m;
			s->ops->msg(s->ctx, s->box, q, &m);
			if (!(m.flags & IMAP_FLAG_SEEN)) {
				imap_untagged(s, "OK [UNSEEN %u] First unseen", q);
				break;
			}
		}
	}
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", info.uidvalidity);
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", info.uidnext);
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)info.highestmodseq);
	if (s->rev2) {
		buf_puts(&s->out, "* LIST () \".\" ");
		imap_put_mailbox(s, &s->out, c->name);
		buf_puts(&s->out, "\r\n");
	}
	if (c->qresync && c->q_uidvalidity == info.uidvalidity)
		imap_qresync_report(s, c);
	c->done_status = "OK";
	snprintf(c->done_text, sizeof c->done_text, "[%s] %s completed", info.readonly ? "READ-ONLY" : "READ-WRITE",
	         c->def->name);
	return IMAP_EXEC_DONE;
}

/* Expunges CLOSE makes are not told (RFC 9051 6.4.1). */
static void imap_sink_silent(void *engine, uint32_t seq, uint32_t uid)
{
	(void)engine;
	(void)seq;
	(void)uid;
}

enum imap_exec_result imap_exec_close(struct imap_server *s, struct imap_cmd *c)
{
	enum imap_store_result r = IMAP_STORE_OK;
	if (!s->info.readonly) {
		struct imap_sync_sink sink = {.expunged = imap_sink_silent, .engine = s};
		r = s->ops->expunge(s->ctx, s->box, NULL, &sink);
		if (r == IMAP_STORE_OK)
			r = s->ops->flush(s->ctx, s->box);
	}
	imap_close_box(s);
	imap_done(c, r, "Close completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_unselect(struct imap_server *s, struct imap_cmd *c)
{
	imap_close_box(s);
	imap_done(c, IMAP_STORE_OK, "Unselect completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_namespace(struct imap_server *s, struct imap_cmd *c)
{
	imap_untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL");
	imap_done(c, IMAP_STORE_OK, "Namespace completed");
	return IMAP_EXEC_DONE;
}

/* ------------------------------------- CREATE, DELETE, RENAME, (UN)SUBSCRIBE */

/* A name argument; CREATE may end it with the separator (RFC 9051
 * 6.3.4: a declaration that children will follow). */
static bool imap_name_arg(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *a, char *out,
                          size_t outlen, bool strip_sep)
{
	struct imap_arg copy = *a;
	if (strip_sep && copy.type != IMAP_ARG_LIST && copy.type != IMAP_ARG_NIL && copy.len > 1 &&
	    copy.s[copy.len - 1] == '.')
		copy.len--;
	(void)c;
	return imap_get_mailbox(s, &copy, out, outlen);
}

bool imap_parse_onename(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 1) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	return imap_name_arg(s, c, &c->args.top[0], c->name, sizeof c->name, strcmp(c->def->name, "CREATE") == 0);
}

bool imap_parse_rename(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 2) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	return imap_name_arg(s, c, &c->args.top[0], c->name, sizeof c->name, false) &&
	       imap_name_arg(s, c, &c->args.top[1], c->name2, sizeof c->name2, false);
}

enum imap_exec_result imap_exec_create(struct imap_server *s, struct imap_cmd *c)
{
	enum imap_store_result r = strcmp(c->name, "INBOX") == 0 ? IMAP_STORE_EXISTS : s->ops->create(s->ctx, c->name);
	imap_done(c, r, "Create completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_delete(struct imap_server *s, struct imap_cmd *c)
{
	if (strcmp(c->name, "INBOX") == 0) {
		imap_done(c, IMAP_STORE_NOPERM, "");
		return IMAP_EXEC_DONE;
	}
	if (s->box && strcmp(c->name, s->box_name) == 0)
		imap_close_box(s); /* it is going away under us */
	imap_done(c, s->ops->remove(s->ctx, c->name), "Delete completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_rename(struct imap_server *s, struct imap_cmd *c)
{
	enum imap_store_result r;
	if (strcmp(c->name2, "INBOX") == 0)
		r = IMAP_STORE_EXISTS;
	else if (strcmp(c->name, c->name2) == 0)
		r = IMAP_STORE_EXISTS;
	else
		r = s->ops->rename(s->ctx, c->name, c->name2);
	imap_done(c, r, "Rename completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_subscribe(struct imap_server *s, struct imap_cmd *c)
{
	imap_done(c, s->ops->subscribe(s->ctx, c->name, true), "Subscribe completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_unsubscribe(struct imap_server *s, struct imap_cmd *c)
{
	imap_done(c, s->ops->subscribe(s->ctx, c->name, false), "Unsubscribe completed");
	return IMAP_EXEC_DONE;
}

/* -------------------------------------------------------------- STATUS */

static const struct {
	const char *name;
	unsigned bit;
} imap_status_items[] = {
	{"MESSAGES", IMAP_STATUS_MESSAGES}, {"RECENT", IMAP_STATUS_RECENT},
	{"UIDNEXT", IMAP_STATUS_UIDNEXT},   {"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY},
	{"UNSEEN", IMAP_STATUS_UNSEEN},     {"DELETED", IMAP_STATUS_DELETED},
	{"SIZE", IMAP_STATUS_SIZE},         {"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
};

/* A list of status items into bits; false when one is unknown. */
bool imap_status_list(const struct imap_arg *l, unsigned *items)
{
	if (l->type != IMAP_ARG_LIST || l->nlist == 0)
		return false;
	*items = 0;
	for (size_t i = 0; i < l->nlist; i++) {
		size_t k = 0;
		while (k < sizeof imap_status_items / sizeof *imap_status_items &&
		       !imap_arg_is_atom(&l->list[i], imap_status_items[k].name))
			k++;
		if (k == sizeof imap_status_items / sizeof *imap_status_items)
			return false;
		*items |= imap_status_items[k].bit;
	}
	return true;
}

bool imap_parse_status(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 2) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (!imap_get_mailbox(s, &c->args.top[0], c->name, sizeof c->name))
		return false;
	if (!imap_status_list(&c->args.top[1], &c->items)) {
		imap_bad(s, "Invalid status items");
		return false;
	}
	if (c->items & IMAP_STATUS_HIGHESTMODSEQ)
		imap_condstore_enable(s); /* RFC 7162 3.1: a CONDSTORE-enabling command */
	return true;
}

void imap_put_status(struct imap_server *s, const char *name, unsigned items, const struct imap_status *st)
{
	buf_puts(&s->out, "* STATUS ");
	imap_put_mailbox(s, &s->out, name);
	buf_puts(&s->out, " (");
	const char *sp = "";
	if (items & IMAP_STATUS_MESSAGES)
		buf_printf(&s->out, "%sMESSAGES %u", sp, st->messages), sp = " ";
	if (items & IMAP_STATUS_RECENT)
		buf_printf(&s->out, "%sRECENT %u", sp, st->recent), sp = " ";
	if (items & IMAP_STATUS_UIDNEXT)
		buf_printf(&s->out, "%sUIDNEXT %u", sp, st->uidnext), sp = " ";
	if (items & IMAP_STATUS_UIDVALIDITY)
		buf_printf(&s->out, "%sUIDVALIDITY %u", sp, st->uidvalidity), sp = " ";
	if (items & IMAP_STATUS_UNSEEN)
		buf_printf(&s->out, "%sUNSEEN %u", sp, st->unseen), sp = " ";
	if (items & IMAP_STATUS_DELETED)
		buf_printf(&s->out, "%sDELETED %u", sp, st->deleted), sp = " ";
	if (items & IMAP_STATUS_SIZE)
		buf_printf(&s->out, "%sSIZE %llu", sp, (unsigned long long)st->size), sp = " ";
	if (items & IMAP_STATUS_HIGHESTMODSEQ)
		buf_printf(&s->out, "%sHIGHESTMODSEQ %llu", sp, (unsigned long long)st->highestmodseq), sp = " ";
	buf_puts(&s->out, ")\r\n");
}

enum imap_exec_result imap_exec_status(struct imap_server *s, struct imap_cmd *c)
{
	struct imap_status st;
	memset(&st, 0, sizeof st);
	enum imap_store_result r = s->ops->status(s->ctx, c->name, c->items, &st);
	if (r == IMAP_STORE_OK)
		imap_put_status(s, c->name, c->items, &st);
	imap_done(c, r, "Status completed");
	return IMAP_EXEC_DONE;
}

/* ---------------------------------------------------------------- QUOTA */

bool imap_parse_quota(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 1) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (strcmp(c->def->name, "GETQUOTAROOT") == 0)
		return imap_get_mailbox(s, &c->args.top[0], c->name, sizeof c->name);
	char root[64];
	if (!imap_arg_astring(&c->args.top[0], root, sizeof root)) {
		imap_bad(s, "Invalid quota root");
		return false;
	}
	if (root[0] != '\0') {
		imap_tagged(s, "NO", "[NONEXISTENT] No such quota root");
		return false;
	}
	return true;
}

/* RFC 9208 5.1: STORAGE in units of 1024 octets. */
static bool imap_put_quota(struct imap_server *s, enum imap_store_result *r)
{
	uint64_t used = 0, limit = 0, msgs = 0;
	*r = s->ops->quota(s->ctx, &used, &limit, &msgs);
	if (*r != IMAP_STORE_OK || limit == 0)
		return false;
	imap_untagged(s, "QUOTA \"\" (STORAGE %llu %llu)", (unsigned long long)((used + 1023) / 1024),
	              (unsigned long long)(limit / 1024));
	return true;
}

enum imap_exec_result imap_exec_getquota(struct imap_server *s, struct imap_cmd *c)
{
	enum imap_store_result r;
	if (!imap_put_quota(s, &r) && r == IMAP_STORE_OK)
		r = IMAP_STORE_NONEXISTENT; /* no quota configured: no root */
	imap_done(c, r, "Getquota completed");
	return IMAP_EXEC_DONE;
}

enum imap_exec_result imap_exec_getquotaroot(struct imap_server *s, struct imap_cmd *c)
{
	uint64_t used = 0, limit = 0, msgs = 0;
	enum imap_store_result r = s->ops->quota(s->ctx, &used, &limit, &msgs);
	if (r == IMAP_STORE_OK) {
		buf_puts(&s->out, "* QUOTAROOT ");
		imap_put_mailbox(s, &s->out, c->name);
		buf_puts(&s->out, limit ? " \"\"\r\n" : "\r\n");
		if (limit)
			imap_put_quota(s, &r);
	}
	imap_done(c, r, "Getquotaroot completed");
	return IMAP_EXEC_DONE;
}
