/*
 * imap_server — the IMAP session engine: reading commands, the command
 * table, the states of RFC 9051 3 and the untagged updates that follow
 * commands in the selected state. The commands live in
 * imap_server_state.c (any state, logging in, IDLE), _mbox.c (folders),
 * _fetch.c, _msg.c (STORE, COPY, MOVE, EXPUNGE, SEARCH) and _append.c.
 * See imap_server.h.
 *
 * Input rules (RFC 9051 2.2, 4.3): a line ends with CR LF (a bare LF is
 * taken as one too, as Dovecot does: no other command can hide behind
 * it, since a line is one command either way); literals are announced
 * before they are read, and refused there when too large (RFC 7888 4:
 * a synchronizing literal gets a tagged NO instead of "+", a
 * non-synchronizing one is read and dropped). Commands are answered in
 * order; pipelined commands wait in the caller's buffer while one
 * executes.
 *
 */
#include "proto/imap_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_server_int.h"

void imap_server_init(struct imap_server *s, const struct imap_server_config *cfg, const struct imap_server_ops *ops,
                      void *ctx)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	s->ops = ops;
	s->ctx = ctx;
	s->state = IMAP_S_NOTAUTH;
	buf_init(&s->out, IMAP_SERVER_OUT_MAX);
	imap_reader_init(&s->rd);
	imap_seqset_init(&s->saved);
	imap_seqset_init(&s->vanished);
}

void imap_cmd_free(struct imap_cmd *c)
{
	if (c == NULL)
		return;
	if (c->parsed)
		imap_args_free(&c->args);
	imap_seqset_free(&c->set);
	imap_seqset_free(&c->q_known);
	imap_seqset_free(&c->modified);
	imap_seqset_free(&c->result);
	imap_fetch_free(c);
	imap_store_free(c);
	if (c->search_ready)
		imap_search_free(&c->search);
	free(c->folders);
	for (size_t i = 0; i < c->npatterns; i++)
		free(c->patterns[i]);
	free(c->patterns);
	buf_free(&c->ap_chunk);
	free(c);
}

void imap_server_free(struct imap_server *s)
{
	if (s->cmd && s->cmd->ap)
		imap_append_free(s, s->cmd);
	imap_cmd_free(s->cmd);
	s->cmd = NULL;
	/* The reader may hold a LOGIN line with its password. */
	if (s->rd.cmd.data)
		explicit_bzero(s->rd.cmd.data, s->rd.cmd.cap);
	imap_reader_free(&s->rd);
	buf_free(&s->out);
	imap_seqset_free(&s->saved);
	imap_seqset_free(&s->vanished);
	free(s->own);
	s->own = NULL;
}

void imap_server_release(struct imap_server *s)
{
	if (s->cmd && s->cmd->ap)
		imap_append_free(s, s->cmd);
	if (s->box)
		s->ops->close(s->ctx, s->box);
	s->box = NULL;
}

bool imap_server_is_closed(const struct imap_server *s)
{
	return s->state == IMAP_S_LOGOUT;
}

bool imap_server_is_idle(const struct imap_server *s)
{
	return s->state != IMAP_S_LOGOUT && (s->wait == IMAP_W_NONE || (s->wait == IMAP_W_IDLE && !s->notified)) &&
	       s->rd.cmd.len == 0;
}

bool imap_server_in_idle(const struct imap_server *s)
{
	return s->wait == IMAP_W_IDLE;
}

bool imap_server_logged_in(const struct imap_server *s)
{
	return s->state == IMAP_S_AUTH || s->state == IMAP_S_SELECTED;
}

bool imap_server_wants_tls(const struct imap_server *s)
{
	return s->wait == IMAP_W_TLS;
}

bool imap_server_wants_exec(const struct imap_server *s)
{
	if (s->state == IMAP_S_LOGOUT)
		return false;
	return s->wait == IMAP_W_EXEC || (s->wait == IMAP_W_IDLE && s->notified);
}

/* ------------------------------------------------------------ replies */

static void imap_vout(struct imap_server *s, const char *prefix, const char *status, const char *fmt, va_list ap)
{
	buf_puts(&s->out, prefix);
	if (status) {
		buf_puts(&s->out, status);
		buf_putc(&s->out, ' ');
	}
	buf_vprintf(&s->out, fmt, ap);
	buf_puts(&s->out, "\r\n");
}

void imap_untagged(struct imap_server *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_vout(s, "* ", NULL, fmt, ap);
	va_end(ap);
}

/* The tagged answer of the current command. NO and BAD are told to the
 * log hook. */
void imap_tagged(struct imap_server *s, const char *status, const char *fmt, ...)
{
	size_t start = s->out.len;
	buf_puts(&s->out, s->tag[0] ? s->tag : "*");
	buf_putc(&s->out, ' ');
	va_list ap;
	va_start(ap, fmt);
	imap_vout(s, "", status, fmt, ap);
	va_end(ap);
	if (strcmp(status, "OK") != 0 && s->ops->refused && s->out.len >= start + 2) {
		char cmd[IMAP_TAG_MAX + 48];
		snprintf(cmd, sizeof cmd, "%s %s%s", s->tag[0] ? s->tag : "*", s->cmd && s->cmd->uid ? "UID " : "",
		         s->cmd && s->cmd->def ? s->cmd->def->name : "");
		char line[512];
		size_t n = s->out.len - start - 2;
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, s->out.data + start, n);
		line[n] = '\0';
		s->ops->refused(s->ctx, cmd, line);
	}
}

/* A tagged BAD (the client's fault): counted; too many end the session. */
void imap_bad(struct imap_server *s, const char *text)
{
	imap_tagged(s, "BAD", "%s", text);
	if (++s->errors >= IMAP_SERVER_MAX_ERRORS) {
		imap_untagged(s, "BYE Too many invalid commands");
		s->state = IMAP_S_LOGOUT;
	}
}

void imap_capabilities(struct imap_server *s, struct buf *out)
{
	buf_puts(out, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE");
	bool secure = s->cfg.tls_active || s->cfg.loopback;
	if (s->state == IMAP_S_NOTAUTH) {
		if (s->cfg.tls_available && !s->cfg.tls_active)
			buf_puts(out, " STARTTLS");
		buf_puts(out, secure ? " AUTH=PLAIN" : " LOGINDISABLED");
		return;
	}
	buf_puts(out, " NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS"
	              " ESEARCH SEARCHRES WITHIN STATUS=SIZE CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT");
	if (s->cfg.appendlimit)
		buf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)s->cfg.appendlimit);
	if (s->cfg.compress_available && !s->compressed)
		buf_puts(out, " COMPRESS=DEFLATE");
}

void imap_server_greet(struct imap_server *s)
{
	buf_puts(&s->out, "* OK [CAPABILITY ");
	imap_capabilities(s, &s->out);
	buf_puts(&s->out, "] tern IMAP ready\r\n");
}

void imap_server_abort(struct imap_server *s, const char *text)
{
	if (s->state == IMAP_S_LOGOUT)
		return;
	/* In the middle of a literal a BYE would be taken as its octets. */
	if (!(s->cmd && s->cmd->stream.active))
		imap_untagged(s, "BYE %s", text ? text : "Server shutting down");
	s->state = IMAP_S_LOGOUT;
}

/* The command is over: forget it and read the next. */
void imap_cmd_end(struct imap_server *s)
{
	imap_cmd_free(s->cmd);
	s->cmd = NULL;
	s->tag[0] = '\0';
	if (s->rd.cmd.data)
		explicit_bzero(s->rd.cmd.data, s->rd.cmd.len);
	imap_reader_next(&s->rd);
	if (s->wait == IMAP_W_EXEC)
		s->wait = IMAP_W_NONE;
}

/* ------------------------------------------------------------ updates */

static void imap_sink_expunged(void *engine, uint32_t seq, uint32_t uid)
{
	struct imap_server *s = engine;
	if (s->exists_sent > 0)
		s->exists_sent--;
	if (s->qresync)
		imap_seqset_add(&s->vanished, uid, uid);
	else
		imap_untagged(s, "%u EXPUNGE", seq);
}

void imap_sink_init(struct imap_server *s, struct imap_sync_sink *sink)
{
	sink->expunged = imap_sink_expunged;
	sink->engine = s;
}

/* QRESYNC sessions hear of expunges as one VANISHED (RFC 7162 3.2.10). */
void imap_sink_flush(struct imap_server *s)
{
	if (s->vanished.n == 0)
		return;
	imap_seqset_normalize(&s->vanished);
	buf_puts(&s->out, "* VANISHED ");
	imap_seqset_format(&s->vanished, &s->out);
	buf_puts(&s->out, "\r\n");
	imap_seqset_free(&s->vanished);
}

static void imap_put_keywords_line(struct imap_server *s)
{
	buf_puts(&s->out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < s->info.nkeywords; i++)
		buf_printf(&s->out, " %s", s->info.keywords[i]);
	buf_puts(&s->out, ")\r\n* OK [PERMANENTFLAGS (");
	if (!s->info.readonly) {
		buf_puts(&s->out, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		for (size_t i = 0; i < s->info.nkeywords; i++)
			buf_printf(&s->out, " %s", s->info.keywords[i]);
		if (s->info.nkeywords < IMAP_KEYWORDS_MAX)
			buf_puts(&s->out, " \\*");
	}
	buf_puts(&s->out, ")] Flags permitted\r\n");
}

/* Was this change the session's own (a STORE already answered it)? */
static bool imap_own_change(const struct imap_server *s, uint32_t uid, uint64_t modseq)
{
	size_t lo = 0, hi = s->nown;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->own[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nown && s->own[lo].uid == uid && s->own[lo].modseq == modseq;
}

/* A CONDSTORE-enabling command (RFC 7162 3.1) turns CONDSTORE on; in
 * the selected state the client learns the folder's HIGHESTMODSEQ then,
 * as SELECT would have told it (RFC 7162 3.1.2.1), before the
 * command's own answer, as Dovecot does. */
void imap_condstore_enable(struct imap_server *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->state == IMAP_S_SELECTED)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->info.highestmodseq);
}

/* One untagged FETCH for a flag change (RFC 7162 3.2.4: with UID and
 * MODSEQ when QRESYNC or CONDSTORE is on). */
static void imap_put_flag_fetch(struct imap_server *s, uint32_t seq, const struct imap_msg *m, bool uid)
{
	buf_printf(&s->out, "* %u FETCH (", seq);
	if (uid || s->qresync)
		buf_printf(&s->out, "UID %u ", m->uid);
	buf_puts(&s->out, "FLAGS ");
	imap_put_flags(s, &s->out, m->flags, m->keywords);
	if (s->condstore)
		buf_printf(&s->out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	buf_puts(&s->out, ")\r\n");
}

bool imap_report_updates(struct imap_server *s, bool expunges)
{
	if (s->box == NULL)
		return true;
	struct imap_sync_sink sink;
	imap_sink_init(s, &sink);
	struct imap_box_info info;
	size_t nkw = s->info.nkeywords;
	uint32_t recent = s->info.recent;
	enum imap_store_result r = s->ops->sync(s->ctx, s->box, expunges, &sink, &info);
	imap_sink_flush(s);
	if (r != IMAP_STORE_OK)
		return false;
	uint32_t known = s->exists_sent; /* after the expunges */
	s->info = info;
	if (info.nkeywords != nkw)
		imap_put_keywords_line(s);
	if (info.exists != s->exists_sent) {
		imap_untagged(s, "%u EXISTS", info.exists);
		s->exists_sent = info.exists;
	}
	if (!s->rev2 && info.recent != recent)
		imap_untagged(s, "%u RECENT", info.recent);
	if (info.highestmodseq > s->modseq_sent) {
		uint32_t upto = known < info.exists ? known : info.exists;
		for (uint32_t seq = 1; seq <= upto;) {
			struct imap_msg m;
			uint32_t found = seq;
			if (s->ops->next_changed) {
				if (!s->ops->next_changed(s->ctx, s->box, seq, upto, s->modseq_sent, &found, &m))
					break;
			} else {
				s->ops->msg(s->ctx, s->box, seq, &m);
			}
			if (m.modseq > s->modseq_sent && !imap_own_change(s, m.uid, m.modseq))
				imap_put_flag_fetch(s, found, &m, false);
			seq = found + 1;
		}
		s->modseq_sent = info.highestmodseq;
	}
	s->nown = 0;
	s->notified = false;
	return true;
}

/* Remember a change this session made and answered itself. */
void imap_note_own_change(struct imap_server *s, uint32_t uid, uint64_t modseq)
{
	if (s->nown == s->own_cap) {
		size_t cap = s->own_cap ? s->own_cap * 2 : 16;
		if (cap > IMAP_OWN_MAX)
			return; /* reported twice then: harmless */
		void *p = realloc(s->own, cap * sizeof *s->own);
		if (p == NULL)
			return;
		s->own = p;
		s->own_cap = cap;
	}
	s->own[s->nown].uid = uid;
	s->own[s->nown].modseq = modseq;
	s->nown++;
}

/* ----------------------------------------------------- sequence sets */

/* Resolve the set in argument a against the selected folder: c->set
 * holds sequence numbers, normalized. UID sets keep only the UIDs that
 * exist; "*" is the last message (RFC 9051 6.4.8: for UIDs, the largest
 * UID in use, so "UID FETCH 99:*" still names the last message). */
bool imap_resolve_set(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *a)
{
	struct imap_seqset in;
	if (a->type != IMAP_ARG_ATOM || !imap_seqset_parse(a->s, a->len, &in)) {
		imap_bad(s, "Invalid sequence set");
		return false;
	}
	imap_seqset_free(&c->set);
	if (in.saved) {
		/* "$": the saved result, as UIDs (RFC 5182 2.1). */
		imap_seqset_free(&in);
		for (size_t i = 0; i < s->saved.n; i++) {
			uint32_t lo, hi;
			if (s->ops->uid_range(s->ctx, s->box, s->saved.r[i].lo, s->saved.r[i].hi, &lo, &hi))
				for (uint32_t q = lo; q <= hi; q++) {
					struct imap_msg m;
					s->ops->msg(s->ctx, s->box, q, &m);
					if (imap_seqset_has(&s->saved, m.uid))
						imap_seqset_add(&c->set, q, q);
				}
		}
		imap_seqset_normalize(&c->set);
		return true;
	}
	uint32_t n = s->exists_sent;
	if (c->uid) {
		uint32_t maxuid = 0;
		if (n > 0) {
			struct imap_msg m;
			s->ops->msg(s->ctx, s->box, n, &m);
			maxuid = m.uid;
		}
		imap_seqset_resolve(&in, maxuid ? maxuid : 1);
		for (size_t i = 0; i < in.n; i++) {
			uint32_t lo, hi;
			if (n > 0 && s->ops->uid_range(s->ctx, s->box, in.r[i].lo, in.r[i].hi, &lo, &hi)) {
				if (hi > n)
					hi = n;
				if (lo <= hi)
					imap_seqset_add(&c->set, lo, hi);
			}
		}
		imap_seqset_free(&in);
		imap_seqset_normalize(&c->set);
		return true;
	}
	if (n == 0) {
		/* RFC 9051 6.4.5: a set naming messages that do not exist is
		 * an error; in an empty folder every number is one. */
		imap_seqset_free(&in);
		imap_bad(s, "No messages");
		return false;
	}
	imap_seqset_resolve(&in, n);
	for (size_t i = 0; i < in.n; i++) {
		if (in.r[i].hi > n) {
			imap_seqset_free(&in);
			imap_bad(s, "Invalid messageset");
			return false;
		}
	}
	c->set = in;
	return true;
}

/* ------------------------------------------------------ command table */

static bool imap_parse_check(struct imap_server *s, struct imap_cmd *c)
{
	return imap_parse_noargs(s, c);
}

const struct imap_cmd_def imap_cmd_table[] = {
	{"CAPABILITY", IMAP_IN_ANY, IMAP_CMD_NOSYNC, imap_parse_capability, NULL},
	{"NOOP", IMAP_IN_ANY, IMAP_CMD_EXPUNGES, imap_parse_noop, imap_exec_noop},
	{"LOGOUT", IMAP_IN_ANY, IMAP_CMD_NOSYNC, imap_parse_logout, imap_exec_logout},
	{"ID", IMAP_IN_ANY, IMAP_CMD_NOSYNC, imap_parse_id, NULL},
	{"STARTTLS", IMAP_IN_NOTAUTH, IMAP_CMD_NOSYNC, imap_parse_starttls, NULL},
	{"LOGIN", IMAP_IN_NOTAUTH, IMAP_CMD_NOSYNC, imap_parse_login, NULL},
	{"AUTHENTICATE", IMAP_IN_NOTAUTH, IMAP_CMD_NOSYNC, imap_parse_authenticate, NULL},
	{"ENABLE", IMAP_IN_LOGGED, IMAP_CMD_NOSYNC, imap_parse_enable, NULL},
	{"COMPRESS", IMAP_IN_LOGGED, IMAP_CMD_NOSYNC, imap_parse_compress, NULL},
	{"SELECT", IMAP_IN_LOGGED, IMAP_CMD_NOSYNC, imap_parse_select, imap_exec_select},
	{"EXAMINE", IMAP_IN_LOGGED, IMAP_CMD_NOSYNC, imap_parse_select, imap_exec_select},
	{"NAMESPACE", IMAP_IN_LOGGED, 0, imap_parse_noargs, imap_exec_namespace},
	{"CREATE", IMAP_IN_LOGGED, 0, imap_parse_onename, imap_exec_create},
	{"DELETE", IMAP_IN_LOGGED, 0, imap_parse_onename, imap_exec_delete},
	{"RENAME", IMAP_IN_LOGGED, 0, imap_parse_rename, imap_exec_rename},
	{"SUBSCRIBE", IMAP_IN_LOGGED, 0, imap_parse_onename, imap_exec_subscribe},
	{"UNSUBSCRIBE", IMAP_IN_LOGGED, 0, imap_parse_onename, imap_exec_unsubscribe},
	{"LIST", IMAP_IN_LOGGED, 0, imap_parse_list, imap_exec_list},
	{"LSUB", IMAP_IN_LOGGED, 0, imap_parse_list, imap_exec_list},
	{"STATUS", IMAP_IN_LOGGED, 0, imap_parse_status, imap_exec_status},
	{"APPEND", IMAP_IN_LOGGED, 0, NULL, imap_exec_append},
	{"IDLE", IMAP_IN_LOGGED, IMAP_CMD_NOSYNC, imap_parse_idle, imap_exec_idle},
	{"GETQUOTA", IMAP_IN_LOGGED, 0, imap_parse_quota, imap_exec_getquota},
	{"GETQUOTAROOT", IMAP_IN_LOGGED, 0, imap_parse_quota, imap_exec_getquotaroot},
	{"CHECK", IMAP_IN_SELECTED, IMAP_CMD_EXPUNGES, imap_parse_check, imap_exec_noop},
	{"CLOSE", IMAP_IN_SELECTED, IMAP_CMD_NOSYNC, imap_parse_noargs, imap_exec_close},
	{"UNSELECT", IMAP_IN_SELECTED, IMAP_CMD_NOSYNC, imap_parse_noargs, imap_exec_unselect},
	{"EXPUNGE", IMAP_IN_SELECTED, IMAP_CMD_UID | IMAP_CMD_EXPUNGES, imap_parse_expunge, imap_exec_expunge},
	{"SEARCH", IMAP_IN_SELECTED, IMAP_CMD_UID, imap_parse_search, imap_exec_search},
	{"FETCH", IMAP_IN_SELECTED, IMAP_CMD_UID, imap_parse_fetch, imap_exec_fetch},
	{"STORE", IMAP_IN_SELECTED, IMAP_CMD_UID, imap_parse_store, imap_exec_store},
	{"COPY", IMAP_IN_SELECTED, IMAP_CMD_UID | IMAP_CMD_EXPUNGES, imap_parse_copy, imap_exec_copy},
	{"MOVE", IMAP_IN_SELECTED, IMAP_CMD_UID | IMAP_CMD_EXPUNGES, imap_parse_copy, imap_exec_copy},
	{NULL, 0, 0, NULL, NULL},
};

static const struct imap_cmd_def *imap_cmd_find(const char *verb)
{
	for (const struct imap_cmd_def *d = imap_cmd_table; d->name; d++)
		if (strcmp(d->name, verb) == 0)
			return d;
	return NULL;
}

/* Take the tag of a command whose text is incomplete (a literal refused
 * while it was being read), so that the answer can carry it. */
static void imap_take_tag(struct imap_server *s, const char *p, size_t n)
{
	size_t k = 0;
	while (k < n && k < IMAP_TAG_MAX && p[k] > 0x20 && p[k] < 0x7f && strchr("(){%*\"\\]+", p[k]) == NULL)
		k++;
	if (k == 0 || k >= n || p[k] != ' ')
		k = 0;
	memcpy(s->tag, p, k);
	s->tag[k] = '\0';
}

/* A complete command line. */
static void imap_command(struct imap_server *s)
{
	struct imap_cmd *c = calloc(1, sizeof *c);
	if (c == NULL) {
		imap_untagged(s, "BYE Out of memory");
		s->state = IMAP_S_LOGOUT;
		return;
	}
	s->cmd = c;
	imap_seqset_init(&c->set);
	imap_seqset_init(&c->q_known);
	imap_seqset_init(&c->modified);
	imap_seqset_init(&c->result);
	buf_init(&c->ap_chunk, IMAP_APPEND_CHUNK);
	enum imap_parse_status st = imap_args_parse(s->rd.cmd.data, s->rd.cmd.len, &c->args);
	c->parsed = true;
	if (st == IMAP_PARSE_NO_TAG) {
		imap_untagged(s, "BAD Missing or invalid tag");
		if (++s->errors >= IMAP_SERVER_MAX_ERRORS) {
			imap_untagged(s, "BYE Too many invalid commands");
			s->state = IMAP_S_LOGOUT;
		}
		imap_cmd_end(s);
		return;
	}
	snprintf(s->tag, sizeof s->tag, "%s", c->args.tag);
	if (st != IMAP_PARSE_OK) {
		imap_bad(s, st == IMAP_PARSE_TOO_DEEP ? "Command too complex" : "Syntax error");
		imap_cmd_end(s);
		return;
	}
	const char *verb = c->args.verb;
	char uverb[32];
	if (strcmp(verb, "UID") == 0) {
		if (c->args.ntop < 1 || c->args.top[0].type != IMAP_ARG_ATOM || c->args.top[0].len >= sizeof uverb) {
			imap_bad(s, "Missing UID command");
			imap_cmd_end(s);
			return;
		}
		for (size_t i = 0; i < c->args.top[0].len; i++) {
			char ch = c->args.top[0].s[i];
			uverb[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		}
		uverb[c->args.top[0].len] = '\0';
		verb = uverb;
		c->uid = true;
		c->args.top++;
		c->args.ntop--;
	}
	c->def = imap_cmd_find(verb);
	if (c->def == NULL || (c->uid && !(c->def->flags & IMAP_CMD_UID))) {
		c->def = NULL;
		imap_bad(s, "Unknown command");
		imap_cmd_end(s);
		return;
	}
	if (!(c->def->states & (1u << s->state))) {
		if (s->state == IMAP_S_NOTAUTH)
			imap_bad(s, "Log in first");
		else if (c->def->states == IMAP_IN_NOTAUTH)
			imap_bad(s, "Already logged in");
		else
			imap_bad(s, "No mailbox selected");
		imap_cmd_end(s);
		return;
	}
	if (c->def->parse && c->def->parse(s, c)) {
		s->wait = IMAP_W_EXEC;
		return; /* the command stays until exec is done */
	}
	if (s->wait == IMAP_W_LOGIN)
		return; /* the command's tag is still needed */
	if (s->wait == IMAP_W_SASL) {
		/* The tag is kept; the next line is the client's response. */
		imap_reader_next(&s->rd);
		return;
	}
	imap_cmd_end(s);
}

enum imap_exec_result imap_server_exec(struct imap_server *s)
{
	if (s->wait == IMAP_W_IDLE) {
		/* A change while idling (RFC 2177 3). */
		if (!imap_report_updates(s, true)) {
			imap_untagged(s, "BYE The mailbox cannot be read");
			s->state = IMAP_S_LOGOUT;
		}
		s->notified = false;
		return IMAP_EXEC_DONE;
	}
	struct imap_cmd *c = s->cmd;
	if (s->wait != IMAP_W_EXEC || c == NULL || c->def == NULL || c->def->exec == NULL)
		return IMAP_EXEC_DONE;
	if (c->done_status == NULL && !c->started)
		c->done_status = "OK";
	c->started = true;
	enum imap_exec_result r = c->def->exec(s, c);
	if (r == IMAP_EXEC_MORE && s->state != IMAP_S_LOGOUT)
		return IMAP_EXEC_MORE;
	if (s->wait != IMAP_W_EXEC) {
		/* APPEND reading its message, IDLE: the command goes on */
		if (s->wait == IMAP_W_IDLE && s->box && s->ops->rest)
			s->ops->rest(s->ctx, s->box);
		return IMAP_EXEC_DONE;
	}
	if (c->done_status) {
		if (s->state == IMAP_S_SELECTED && !(c->def->flags & IMAP_CMD_NOSYNC))
			imap_report_updates(s, (c->def->flags & IMAP_CMD_EXPUNGES) || c->uid);
		if (strcmp(c->done_status, "BAD") == 0)
			imap_bad(s, c->done_text);
		else
			imap_tagged(s, c->done_status, "%s", c->done_text);
	}
	if (s->box && s->ops->rest)
		s->ops->rest(s->ctx, s->box);
	imap_cmd_end(s);
	return IMAP_EXEC_DONE;
}

/* A literal announced at the end of a line. */
static void imap_literal(struct imap_server *s)
{
	struct imap_reader *r = &s->rd;
	if (s->wait == IMAP_W_IDLE || s->wait == IMAP_W_SASL) {
		/* Not part of DONE nor of a base64 line: refuse it whole. */
		imap_take_tag(s, r->cmd.data, r->lit_at);
		if (r->lit_sync)
			imap_reader_reset(r);
		else
			imap_reader_literal_discard(r);
		return;
	}
	if (imap_append_literal(s))
		return;
	if (r->cmd.len + r->lit_size > IMAP_COMMAND_MAX || r->lit_size > IMAP_COMMAND_MAX) {
		/* RFC 7888 4: refuse a synchronizing literal by not sending
		 * "+"; a non-synchronizing one arrives anyway and is read to
		 * the end of its command, then answered. */
		imap_take_tag(s, r->cmd.data, r->cmd.len);
		if (r->lit_sync) {
			imap_reader_reset(r);
			imap_tagged(s, "NO", "[TOOBIG] Literal too large");
			s->tag[0] = '\0';
		} else {
			imap_reader_literal_discard(r);
		}
		return;
	}
	if (r->lit_sync)
		buf_puts(&s->out, "+ OK\r\n");
	imap_reader_literal_accept(r);
}

/* A command dropped for its length, read to its end. */
static void imap_too_long(struct imap_server *s)
{
	if (s->cmd && s->cmd->ap_refused) {
		imap_append_end(s);
		return;
	}
	if (!s->tag[0])
		imap_take_tag(s, s->rd.head, s->rd.head_len);
	s->rd.head_len = 0;
	if (s->tag[0])
		imap_tagged(s, "NO", "[TOOBIG] Command too long");
	else
		imap_untagged(s, "BAD Command line too long");
	s->tag[0] = '\0';
	if (++s->errors >= IMAP_SERVER_MAX_ERRORS) {
		imap_untagged(s, "BYE Too many invalid commands");
		s->state = IMAP_S_LOGOUT;
	}
	imap_reader_next(&s->rd);
}

static bool imap_can_read(const struct imap_server *s)
{
	if (s->state == IMAP_S_LOGOUT || s->out.len >= IMAP_SERVER_OUT_PAUSE)
		return false;
	switch (s->wait) {
	case IMAP_W_NONE:
	case IMAP_W_SASL:
	case IMAP_W_APPEND:
		return true;
	case IMAP_W_IDLE:
		return !s->notified; /* first the updates, then DONE */
	default:
		return false;
	}
}

size_t imap_server_feed(struct imap_server *s, const char *in, size_t n)
{
	size_t used = 0;
	while (used < n && imap_can_read(s)) {
		if (s->wait == IMAP_W_APPEND) {
			used += imap_append_feed(s, in + used, n - used);
			continue;
		}
		size_t k = 0;
		enum imap_read_result r = imap_reader_feed(&s->rd, in + used, n - used, &k);
		used += k;
		switch (r) {
		case IMAP_READ_MORE:
			break;
		case IMAP_READ_LITERAL:
			imap_literal(s);
			break;
		case IMAP_READ_TOO_LONG:
			imap_too_long(s);
			break;
		case IMAP_READ_COMMAND:
			if (s->wait == IMAP_W_SASL) {
				imap_sasl_response(s, s->rd.cmd.data, s->rd.cmd.len);
				if (s->wait != IMAP_W_LOGIN)
					imap_cmd_end(s);
				else if (s->rd.cmd.data)
					explicit_bzero(s->rd.cmd.data, s->rd.cmd.len);
			} else if (s->wait == IMAP_W_IDLE) {
				imap_idle_line(s, s->rd.cmd.data, s->rd.cmd.len);
			} else if (s->cmd && s->cmd->ap) {
				imap_append_end(s);
			} else {
				imap_command(s);
			}
			break;
		}
	}
	return used;
}

/* Is name safe as a Maildir++ folder: see imap_server.h. */
bool imap_server_name_ok(const char *name, size_t n)
{
	if (n == 0 || n > IMAP_NAME_MAX || name[0] == '~' || name[0] == '.' || name[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\')
			return false;
		if (ch == '.' && i + 1 < n && name[i + 1] == '.')
			return false; /* an empty component */
	}
	return true;
}
