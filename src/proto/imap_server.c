/*
 * imap_server — the IMAP session engine: reading commands, the command
 * table, the states of RFC 9051 3, the commands of any state and of the
 * not-authenticated state (CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN,
 * AUTHENTICATE PLAIN with SASL-IR, ID, ENABLE, COMPRESS, IDLE) and the
 * untagged updates that follow commands in the selected state. The
 * other commands live in imap_server_mbox.c (folders), _fetch.c, _msg.c
 * (STORE, COPY, MOVE, EXPUNGE, SEARCH) and _append.c. See imap_server.h.
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
 * Logins are refused (LOGINDISABLED, RFC 9051 6.2.3) unless the session
 * runs over TLS or comes from loopback; passwords are wiped once handed
 * to ops->login. After STARTTLS everything learnt before is forgotten
 * (RFC 9051 6.2.1); the caller drops input pipelined behind it.
 */
#include "proto/imap_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "proto/imap_server_int.h"
#include "proto/sasl_plain.h"

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

static void imap_cmd_free(struct imap_cmd *c)
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

/* -------------------------------------------- commands of any state */

bool imap_parse_noargs(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	return c->def->exec != NULL;
}

static bool imap_parse_capability(struct imap_server *s, struct imap_cmd *c)
{
	if (!imap_parse_noargs(s, c) && c->args.ntop != 0)
		return false;
	buf_puts(&s->out, "* CAPABILITY ");
	imap_capabilities(s, &s->out);
	buf_puts(&s->out, "\r\n");
	imap_tagged(s, "OK", "Capability completed");
	return false;
}

static enum imap_exec_result imap_exec_noop(struct imap_server *s, struct imap_cmd *c)
{
	(void)s;
	c->done_status = "OK";
	snprintf(c->done_text, sizeof c->done_text, "%s completed", c->def->name);
	return IMAP_EXEC_DONE;
}

static bool imap_parse_noop(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	if (s->state == IMAP_S_SELECTED)
		return true; /* exec: the updates */
	imap_tagged(s, "OK", "%s completed", c->def->name);
	return false;
}

static bool imap_parse_logout(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	if (s->box)
		return true; /* exec closes the folder */
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK", "Logout completed");
	s->state = IMAP_S_LOGOUT;
	return false;
}

static enum imap_exec_result imap_exec_logout(struct imap_server *s, struct imap_cmd *c)
{
	imap_close_box(s);
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK", "Logout completed");
	s->state = IMAP_S_LOGOUT;
	c->done_status = NULL; /* answered */
	return IMAP_EXEC_DONE;
}

/* ID (RFC 2971): the client's identity is not needed; ours is short. */
static bool imap_parse_id(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 1 || (c->args.top[0].type != IMAP_ARG_NIL && c->args.top[0].type != IMAP_ARG_LIST) ||
	    c->args.top[0].nlist > 60 || c->args.top[0].nlist % 2 != 0) {
		imap_bad(s, "Invalid ID parameters");
		return false;
	}
	imap_untagged(s, "ID (\"name\" \"tern\")");
	imap_tagged(s, "OK", "ID completed");
	return false;
}

/* ENABLE (RFC 5161): IMAP4rev2, CONDSTORE, QRESYNC (which implies
 * CONDSTORE, RFC 7162 3.2.3), UTF8=ACCEPT (RFC 6855 3). */
static bool imap_parse_enable(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop == 0) {
		imap_bad(s, "Missing capabilities");
		return false;
	}
	struct buf en;
	buf_init(&en, 512);
	for (size_t i = 0; i < c->args.ntop; i++) {
		const struct imap_arg *a = &c->args.top[i];
		if (a->type != IMAP_ARG_ATOM) {
			buf_free(&en);
			imap_bad(s, "Invalid capability");
			return false;
		}
		if (imap_arg_is_atom(a, "IMAP4rev2") && !s->rev2) {
			s->rev2 = s->utf8 = true;
			buf_puts(&en, " IMAP4rev2");
		} else if (imap_arg_is_atom(a, "UTF8=ACCEPT") && !(s->utf8 && !s->rev2)) {
			if (!s->utf8)
				buf_puts(&en, " UTF8=ACCEPT");
			s->utf8 = true;
		} else if (imap_arg_is_atom(a, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			buf_puts(&en, " CONDSTORE");
		} else if (imap_arg_is_atom(a, "QRESYNC") && !s->qresync) {
			s->qresync = true;
			if (!s->condstore)
				buf_puts(&en, " CONDSTORE");
			s->condstore = true;
			buf_puts(&en, " QRESYNC");
		}
	}
	imap_untagged(s, "ENABLED%s", en.data ? en.data : "");
	buf_free(&en);
	imap_tagged(s, "OK", "Enabled");
	return false;
}

static bool imap_parse_starttls(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	if (!s->cfg.tls_available || s->cfg.tls_active || s->ops->starttls == NULL) {
		imap_bad(s, s->cfg.tls_active ? "TLS is already active" : "TLS is not available");
		return false;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	s->wait = IMAP_W_TLS;
	s->ops->starttls(s->ctx);
	return false;
}

void imap_server_tls_done(struct imap_server *s)
{
	if (s->wait != IMAP_W_TLS)
		return;
	/* RFC 9051 6.2.1: discard what was learnt before TLS. */
	s->wait = IMAP_W_NONE;
	s->cfg.tls_active = true;
	s->errors = 0;
	imap_reader_reset(&s->rd);
}

static bool imap_parse_compress(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 1 || !imap_arg_is_atom(&c->args.top[0], "DEFLATE")) {
		imap_bad(s, c->args.ntop == 1 ? "Unknown compression mechanism" : "Missing mechanism");
		return false;
	}
	if (s->compressed) {
		imap_tagged(s, "NO", "[COMPRESSIONACTIVE] Compression is already active");
		return false;
	}
	if (!s->cfg.compress_available || s->ops->compress == NULL) {
		imap_tagged(s, "NO", "[CANNOT] Compression is not available");
		return false;
	}
	imap_tagged(s, "OK", "DEFLATE active");
	s->wait = IMAP_W_COMPRESS;
	s->ops->compress(s->ctx);
	return false;
}

void imap_server_compress_done(struct imap_server *s, bool ok)
{
	if (s->wait != IMAP_W_COMPRESS)
		return;
	s->wait = IMAP_W_NONE;
	if (ok)
		s->compressed = true;
	else
		s->state = IMAP_S_LOGOUT; /* the client now speaks deflate: nothing else can follow */
}

/* ---------------------------------------------------------- logging in */

static void imap_login(struct imap_server *s, const char *user, const char *pass)
{
	snprintf(s->user, sizeof s->user, "%s", user);
	s->wait = IMAP_W_LOGIN;
	s->ops->login(s->ctx, user, pass);
}

/* LOGIN and AUTHENTICATE need TLS or loopback (RFC 9051 6.2.3, 11.1). */
static bool imap_login_allowed(struct imap_server *s)
{
	if (s->cfg.tls_active || s->cfg.loopback)
		return true;
	imap_tagged(s, "NO", "[PRIVACYREQUIRED] Login is allowed only over TLS");
	return false;
}

static bool imap_parse_login(struct imap_server *s, struct imap_cmd *c)
{
	char user[IMAP_USER_MAX + 1], pass[IMAP_PASS_MAX + 1];
	if (c->args.ntop != 2 || !imap_arg_astring(&c->args.top[0], user, sizeof user) ||
	    !imap_arg_astring(&c->args.top[1], pass, sizeof pass) || user[0] == '\0') {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (imap_login_allowed(s))
		imap_login(s, user, pass);
	explicit_bzero(pass, sizeof pass);
	return false;
}

/* An AUTHENTICATE PLAIN response (the initial one or the line after "+"). */
static void imap_sasl_response(struct imap_server *s, const char *line, size_t n)
{
	s->wait = IMAP_W_NONE;
	if (n == 1 && line[0] == '*') {
		imap_bad(s, "Authentication cancelled"); /* RFC 9051 6.2.2 */
		return;
	}
	unsigned char msg[IMAP_USER_MAX + IMAP_PASS_MAX + 8];
	long len = 0;
	if (!(n == 1 && line[0] == '=')) /* RFC 4959 3: "=" is the empty initial response */
		len = base64_decode(line, n, msg, sizeof msg);
	if (len < 0) {
		imap_bad(s, "Invalid base64 data");
		return;
	}
	struct sasl_plain sp;
	enum sasl_plain_status st = sasl_plain_split(msg, (size_t)len, IMAP_USER_MAX, IMAP_PASS_MAX, &sp);
	explicit_bzero(msg, sizeof msg);
	if (st != SASL_PLAIN_OK)
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] %s",
		            st == SASL_PLAIN_AUTHZID ? "Authorization identity not allowed" : "Invalid PLAIN response");
	else
		imap_login(s, sp.user, sp.pass);
	explicit_bzero(&sp, sizeof sp);
}

static bool imap_parse_authenticate(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop < 1 || c->args.ntop > 2 || c->args.top[0].type != IMAP_ARG_ATOM ||
	    (c->args.ntop == 2 && c->args.top[1].type != IMAP_ARG_ATOM)) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	if (!imap_arg_is_atom(&c->args.top[0], "PLAIN")) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return false;
	}
	if (!imap_login_allowed(s))
		return false;
	if (c->args.ntop == 2) {
		imap_sasl_response(s, c->args.top[1].s, c->args.top[1].len);
		return false;
	}
	buf_puts(&s->out, "+ \r\n");
	s->wait = IMAP_W_SASL;
	return false;
}

void imap_server_login_done(struct imap_server *s, enum imap_login_result r, const char *user)
{
	if (s->wait != IMAP_W_LOGIN)
		return;
	s->wait = IMAP_W_NONE;
	switch (r) {
	case IMAP_LOGIN_OK:
		snprintf(s->user, sizeof s->user, "%s", user ? user : s->user);
		s->state = IMAP_S_AUTH;
		buf_printf(&s->out, "%s OK [CAPABILITY ", s->tag);
		imap_capabilities(s, &s->out);
		buf_puts(&s->out, "] Logged in\r\n");
		break;
	case IMAP_LOGIN_THROTTLED:
		imap_tagged(s, "NO", "[UNAVAILABLE] Too many failed logins, try again later");
		break;
	case IMAP_LOGIN_TEMP:
		imap_tagged(s, "NO", "[UNAVAILABLE] The mailbox cannot be opened now, try again later");
		break;
	case IMAP_LOGIN_LIMIT:
		imap_tagged(s, "NO", "[LIMIT] Too many sessions for this user");
		break;
	default:
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		if (++s->login_failures >= IMAP_SERVER_MAX_LOGIN_FAILURES) {
			imap_untagged(s, "BYE Too many failed logins");
			s->state = IMAP_S_LOGOUT;
		}
		break;
	}
	if (r != IMAP_LOGIN_OK)
		s->user[0] = '\0';
	imap_cmd_end(s);
}

/* ---------------------------------------------------------------- IDLE */

static bool imap_parse_idle(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	return true; /* exec: report what is pending, then "+ idling" */
}

static enum imap_exec_result imap_exec_idle(struct imap_server *s, struct imap_cmd *c)
{
	if (s->state == IMAP_S_SELECTED)
		imap_report_updates(s, true);
	buf_puts(&s->out, "+ idling\r\n");
	c->done_status = NULL;
	s->wait = IMAP_W_IDLE;
	imap_reader_next(&s->rd); /* DONE is read next */
	/* Idling lasts up to 30 minutes, in thousands of sessions: only the
	 * tag (s->tag) is kept for the answer, not the command's 4 KiB. */
	imap_cmd_free(s->cmd);
	s->cmd = NULL;
	if (s->ops->idle)
		s->ops->idle(s->ctx, true);
	return IMAP_EXEC_DONE;
}

/* A line while idling: DONE ends it (RFC 2177 3). */
static void imap_idle_line(struct imap_server *s, const char *line, size_t n)
{
	if (s->ops->idle)
		s->ops->idle(s->ctx, false);
	s->wait = IMAP_W_NONE;
	if (n == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_tagged(s, "OK", "Idle completed");
	else
		imap_bad(s, "Expected DONE");
	imap_cmd_end(s);
}

void imap_server_notify(struct imap_server *s)
{
	if (s->box)
		s->notified = true;
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
