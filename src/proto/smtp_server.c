/*
 * smtp_server — the SMTP server session engine. See smtp_server.h.
 *
 * Implements RFC 5321 sections 3 and 4 (commands, order, replies), RFC
 * 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 3030
 * (CHUNKING), RFC 6531 (SMTPUTF8) and RFC 3207 4.2 (reset after TLS).
 *
 * Line rules: only CR LF ends a command line (a bare CR or LF inside one
 * makes it a 500, never two commands); a line longer than SMTP_LINE_MAX is
 * answered 500 5.5.2 once its CR LF arrives, and the session goes on.
 * Must not do I/O: everything outside goes through s->ops.
 */
#include "proto/smtp_server.h"

#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "proto/smtp_server_int.h"

static void smtp_server_reset_txn(struct smtp_server *s);

void smtp_server_init(struct smtp_server *s, const struct smtp_server_config *cfg,
                      const struct smtp_server_ops *ops, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	s->ops = ops;
	s->ctx = ctx;
	s->state = SMTP_S_INIT;
	buf_init(&s->out, 0);
	buf_init(&s->line, SMTP_AUTH_LINE_MAX + 2);
	buf_init(&s->body, 4 * SMTP_SERVER_BODY_FLUSH);
}

void smtp_server_free(struct smtp_server *s)
{
	if (s->storing && s->ops->data_abort)
		s->ops->data_abort(s->ctx);
	s->storing = false;
	buf_free(&s->out);
	buf_free(&s->line);
	buf_free(&s->body);
}

bool smtp_server_is_closed(const struct smtp_server *s)
{
	return s->state == SMTP_S_CLOSED;
}

void smtp_server_reply(struct smtp_server *s, enum smtp_reply_id id, const char *prefix)
{
	const struct smtp_reply *r = smtp_reply_get(id);
	if (r->status)
		buf_printf(&s->out, "%d %s %s%s\r\n", r->code, r->status, prefix ? prefix : "", r->text);
	else
		buf_printf(&s->out, "%d %s%s\r\n", r->code, prefix ? prefix : "", r->text);
}

/* A refusal: count it, tell the log, and close after too many. */
void smtp_server_refuse(struct smtp_server *s, enum smtp_reply_id id, const char *prefix, const char *cmd,
                        size_t cmdlen)
{
	const struct smtp_reply *r = smtp_reply_get(id);
	smtp_server_reply(s, id, prefix);
	if (s->ops->refused)
		s->ops->refused(s->ctx, cmd, cmdlen, r);
	/* Temporary refusals (4xx) are the server's condition, not the client's error. */
	if (r->code >= 500 && ++s->errors >= SMTP_SERVER_MAX_ERRORS && s->state != SMTP_S_CLOSED) {
		smtp_server_reply(s, SMTP_R_TOO_MANY_ERRORS, NULL);
		s->state = SMTP_S_CLOSED;
	}
}

void smtp_server_greet(struct smtp_server *s)
{
	buf_printf(&s->out, "220 %s ESMTP tern\r\n", s->cfg.hostname);
}

static void smtp_server_reset_txn(struct smtp_server *s)
{
	if (s->storing && s->ops->data_abort)
		s->ops->data_abort(s->ctx);
	s->storing = false;
	if (s->ops->reset)
		s->ops->reset(s->ctx);
	memset(&s->from, 0, sizeof s->from);
	memset(&s->mail, 0, sizeof s->mail);
	s->nrcpts = 0;
	s->bdat_used = s->bdat_last = false;
	s->bdat_refusal = SMTP_R_OK;
	s->bdat_left = 0;
	s->store_failed = s->oversize = false;
	buf_reset(&s->body);
	if (s->state != SMTP_S_INIT && s->state != SMTP_S_CLOSED)
		s->state = SMTP_S_READY;
}

static void smtp_server_ehlo(struct smtp_server *s, const struct smtp_cmd *c, bool esmtp)
{
	if (!c->has_arg || smtp_cmd_check_helo(c->arg, c->arglen) < 0) {
		smtp_server_refuse(s, SMTP_R_HELO_SYNTAX, NULL, "EHLO", 4);
		return;
	}
	/* RFC 5321 4.1.4: EHLO/HELO also resets any transaction. */
	if (s->state != SMTP_S_INIT)
		smtp_server_reset_txn(s);
	size_t n = c->arglen < sizeof s->helo - 1 ? c->arglen : sizeof s->helo - 1;
	memcpy(s->helo, c->arg, n);
	s->helo[n] = '\0';
	s->esmtp = esmtp;
	s->state = SMTP_S_READY;
	if (!esmtp) {
		buf_printf(&s->out, "250 %s\r\n", s->cfg.hostname);
		return;
	}
	buf_printf(&s->out, "250-%s\r\n", s->cfg.hostname);
	buf_puts(&s->out, "250-PIPELINING\r\n");
	buf_printf(&s->out, "250-SIZE %llu\r\n", (unsigned long long)s->cfg.max_size);
	if (s->cfg.tls_available && !s->cfg.tls_active)
		buf_puts(&s->out, "250-STARTTLS\r\n");
	if (s->cfg.auth_available && !s->authenticated)
		buf_puts(&s->out, "250-AUTH PLAIN LOGIN\r\n");
	buf_puts(&s->out, "250-8BITMIME\r\n"
	                  "250-ENHANCEDSTATUSCODES\r\n"
	                  "250-SMTPUTF8\r\n"
	                  "250 CHUNKING\r\n");
}

static enum smtp_reply_id smtp_server_param_reply(enum smtp_param_status st, bool is_mail)
{
	switch (st) {
	case SMTP_PARAM_OK:
		return SMTP_R_OK;
	case SMTP_PARAM_ADDR_SYNTAX:
		return is_mail ? SMTP_R_SENDER_SYNTAX : SMTP_R_RCPT_SYNTAX;
	case SMTP_PARAM_ADDR_TOO_LONG:
		return SMTP_R_ADDR_TOO_LONG;
	case SMTP_PARAM_NEEDS_UTF8:
		return SMTP_R_NEEDS_SMTPUTF8;
	case SMTP_PARAM_UNKNOWN:
		return SMTP_R_PARAM_UNKNOWN;
	case SMTP_PARAM_SYNTAX:
	case SMTP_PARAM_BAD_VALUE:
	default:
		return SMTP_R_SYNTAX;
	}
}

static void smtp_server_mail(struct smtp_server *s, const struct smtp_cmd *c)
{
	if (s->cfg.auth_required && !s->authenticated) {
		smtp_server_refuse(s, SMTP_R_NEED_AUTH, NULL, s->cmd_line, s->cmd_len);
		return;
	}
	struct smtp_addr from;
	struct smtp_mail_params p;
	enum smtp_param_status st = smtp_cmd_parse_mail(c->arg, c->arglen, &from, &p);
	if (st != SMTP_PARAM_OK) {
		smtp_server_refuse(s, smtp_server_param_reply(st, true), NULL, s->cmd_line, s->cmd_len);
		return;
	}
	/* RFC 1870 6.1: refuse a declared size over the limit at once. */
	if (p.has_size && p.size > s->cfg.max_size) {
		smtp_server_refuse(s, SMTP_R_SIZE_EXCEEDED, NULL, s->cmd_line, s->cmd_len);
		return;
	}
	enum smtp_reply_id r = s->ops->mail ? s->ops->mail(s->ctx, &from, &p) : SMTP_R_MAIL_OK;
	if (r != SMTP_R_MAIL_OK) {
		smtp_server_refuse(s, r, NULL, s->cmd_line, s->cmd_len);
		return;
	}
	s->from = from;
	s->mail = p;
	s->state = SMTP_S_MAIL;
	smtp_server_reply(s, SMTP_R_MAIL_OK, NULL);
}

/* "<addr>: " for refusals, only when the address is plain printable text. */
static void smtp_server_addr_prefix(const struct smtp_addr *a, char *out, size_t outlen)
{
	char tmp[SMTP_PATH_MAX + 8];
	out[0] = '\0';
	if (smtp_addr_format(a, tmp, sizeof tmp) < 0)
		return;
	for (const char *p = tmp; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return;
	snprintf(out, outlen, "<%s>: ", tmp);
}

static void smtp_server_rcpt(struct smtp_server *s, const struct smtp_cmd *c)
{
	if (s->bdat_used) {
		smtp_server_refuse(s, SMTP_R_BDAT_MIXED, NULL, s->cmd_line, s->cmd_len);
		return;
	}
	if (s->nrcpts >= SMTP_SERVER_MAX_RCPTS) {
		/* RFC 5321 4.5.3.1.10: 452, and the client sends the rest later. */
		smtp_server_reply(s, SMTP_R_TOO_MANY_RCPTS, NULL);
		return;
	}
	struct smtp_addr to;
	enum smtp_param_status st = smtp_cmd_parse_rcpt(c->arg, c->arglen, s->mail.smtputf8, &to);
	if (st != SMTP_PARAM_OK) {
		smtp_server_refuse(s, smtp_server_param_reply(st, false), NULL, s->cmd_line, s->cmd_len);
		return;
	}
	enum smtp_reply_id r = s->ops->rcpt ? s->ops->rcpt(s->ctx, &to) : SMTP_R_RCPT_OK;
	if (r != SMTP_R_RCPT_OK) {
		char prefix[SMTP_PATH_MAX + 16];
		smtp_server_addr_prefix(&to, prefix, sizeof prefix);
		smtp_server_refuse(s, r, prefix, s->cmd_line, s->cmd_len);
		return;
	}
	s->nrcpts++;
	s->state = SMTP_S_RCPT;
	smtp_server_reply(s, SMTP_R_RCPT_OK, NULL);
}

/* Before content: DATA and the first BDAT share the checks. */
static enum smtp_reply_id smtp_server_can_send_content(const struct smtp_server *s)
{
	if (s->state == SMTP_S_INIT)
		return SMTP_R_NEED_HELO;
	if (s->state == SMTP_S_READY)
		return SMTP_R_NEED_MAIL;
	if (s->state == SMTP_S_MAIL)
		return SMTP_R_NO_VALID_RCPT;
	return SMTP_R_OK;
}

static enum smtp_reply_id smtp_server_begin_content(struct smtp_server *s, enum smtp_data_mode mode)
{
	enum smtp_reply_id r = s->ops->data_begin ? s->ops->data_begin(s->ctx) : SMTP_R_OK;
	if (r != SMTP_R_OK)
		return r;
	s->storing = true;
	s->store_failed = s->oversize = s->headers_fixed = false;
	smtp_data_init(&s->dec, mode);
	buf_reset(&s->body);
	return SMTP_R_OK;
}

static void smtp_server_data(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c;
	if (s->bdat_used) {
		smtp_server_refuse(s, SMTP_R_BDAT_MIXED, NULL, "DATA", 4);
		return;
	}
	enum smtp_reply_id r = smtp_server_begin_content(s, SMTP_DATA_DOT);
	if (r != SMTP_R_OK) {
		smtp_server_refuse(s, r, NULL, "DATA", 4);
		return;
	}
	s->state = SMTP_S_DATA;
	smtp_server_reply(s, SMTP_R_DATA_GO, NULL);
}

static void smtp_server_bdat_complete(struct smtp_server *s);

static void smtp_server_bdat(struct smtp_server *s, const struct smtp_cmd *c)
{
	uint64_t size;
	bool last;
	if (smtp_cmd_parse_bdat(c->arg, c->arglen, &size, &last) < 0) {
		/* The chunk length is unknown, so the stream cannot be resynchronised. */
		smtp_server_reply(s, SMTP_R_SYNTAX, NULL);
		smtp_server_reply(s, SMTP_R_TOO_MANY_ERRORS, NULL);
		s->state = SMTP_S_CLOSED;
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	/* RFC 3030 3: the chunk is read even when the command is refused;
	 * the refusal is sent once it has been consumed. */
	s->bdat_refusal = smtp_server_can_send_content(s);
	if (s->bdat_refusal == SMTP_R_OK && !s->bdat_used) {
		s->bdat_refusal = smtp_server_begin_content(s, SMTP_DATA_RAW);
		if (s->bdat_refusal == SMTP_R_OK)
			s->bdat_used = true;
	}
	s->bdat_prev_state = s->state;
	s->state = SMTP_S_BDAT;
	if (size == 0)
		smtp_server_bdat_complete(s);
}

static void smtp_server_starttls(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c;
	if (s->cfg.tls_active) {
		smtp_server_refuse(s, SMTP_R_TLS_ALREADY, NULL, "STARTTLS", 8);
		return;
	}
	if (!s->cfg.tls_available || s->ops->starttls == NULL) {
		smtp_server_refuse(s, SMTP_R_NOT_IMPL, NULL, "STARTTLS", 8);
		return;
	}
	if (s->state == SMTP_S_INIT) {
		smtp_server_refuse(s, SMTP_R_NEED_HELO, NULL, "STARTTLS", 8);
		return;
	}
	smtp_server_reply(s, SMTP_R_TLS_GO, NULL);
	smtp_server_reset_txn(s);
	s->state = SMTP_S_TLS;
	s->ops->starttls(s->ctx);
}

bool smtp_server_wants_tls(const struct smtp_server *s)
{
	return s->state == SMTP_S_TLS;
}

bool smtp_server_is_idle(const struct smtp_server *s)
{
	switch (s->state) {
	case SMTP_S_INIT:
	case SMTP_S_READY:
	case SMTP_S_MAIL:
	case SMTP_S_RCPT:
		return true;
	default:
		return false;
	}
}

bool smtp_server_in_content(const struct smtp_server *s)
{
	return s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT;
}

void smtp_server_close(struct smtp_server *s, enum smtp_reply_id id)
{
	if (s->state == SMTP_S_CLOSED)
		return;
	smtp_server_reply(s, id, NULL);
	s->state = SMTP_S_CLOSED;
}

void smtp_server_tls_done(struct smtp_server *s, bool auth_available)
{
	/* RFC 3207 4.2: discard all knowledge obtained from the client. */
	s->cfg.auth_available = auth_available;
	s->cfg.tls_active = true;
	s->esmtp = false;
	s->helo[0] = '\0';
	s->authenticated = false;
	s->auth_user[0] = '\0';
	buf_reset(&s->line);
	s->line_overflow = s->line_cr = false;
	s->state = SMTP_S_INIT;
}

static void smtp_server_helo(struct smtp_server *s, const struct smtp_cmd *c)
{
	smtp_server_ehlo(s, c, false);
}

static void smtp_server_ehlo_cmd(struct smtp_server *s, const struct smtp_cmd *c)
{
	smtp_server_ehlo(s, c, true);
}

static void smtp_server_rset(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c;
	smtp_server_reset_txn(s);
	smtp_server_reply(s, SMTP_R_OK, NULL);
}

static void smtp_server_noop(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c; /* RFC 5321 4.1.1.9: a parameter may be given and is ignored */
	smtp_server_reply(s, SMTP_R_OK, NULL);
}

static void smtp_server_quit(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c;
	smtp_server_reply(s, SMTP_R_BYE, NULL);
	smtp_server_reset_txn(s);
	s->state = SMTP_S_CLOSED;
}

static void smtp_server_vrfy(struct smtp_server *s, const struct smtp_cmd *c)
{
	/* RFC 5321 3.5.3: 252, so that VRFY cannot probe for users. */
	if (!c->has_arg)
		smtp_server_refuse(s, SMTP_R_SYNTAX, NULL, s->cmd_line, s->cmd_len);
	else
		smtp_server_reply(s, SMTP_R_VRFY, NULL);
}

static void smtp_server_expn(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c; /* RFC 5321 3.5.3 lets a server refuse it: no list can be probed */
	smtp_server_refuse(s, SMTP_R_NOT_IMPL, NULL, s->cmd_line, s->cmd_len);
}

static void smtp_server_help(struct smtp_server *s, const struct smtp_cmd *c)
{
	(void)c;
	smtp_server_reply(s, SMTP_R_HELP, NULL);
}

/*
 * The command table, in the manner of the POP3 engine and OpenSMTPD's:
 * for each verb the states it is allowed in and the answer in the others
 * (RFC 5321 4.1.4's order of commands), whether it takes no argument, and
 * what runs it. Checks that depend on more than the state (AUTH needs TLS
 * or loopback, STARTTLS only once, BDAT reads its chunk even when
 * refused) stay in the verb's function, which is then allowed everywhere.
 */
#define SMTP_V_INIT  (1u << SMTP_S_INIT)
#define SMTP_V_READY (1u << SMTP_S_READY)
#define SMTP_V_MAIL  (1u << SMTP_S_MAIL)
#define SMTP_V_RCPT  (1u << SMTP_S_RCPT)
#define SMTP_V_ANY   (SMTP_V_INIT | SMTP_V_READY | SMTP_V_MAIL | SMTP_V_RCPT)
#define SMTP_V_NOARG (1u << 16) /* with an argument: 501 5.5.4 */

struct smtp_server_verb {
	enum smtp_verb verb;
	const char *name;          /* for the log when the command is refused */
	unsigned flags;            /* SMTP_V_* states it is allowed in, and SMTP_V_NOARG */
	enum smtp_reply_id refused[SMTP_S_RCPT + 1]; /* in INIT, READY, MAIL, RCPT when not allowed */
	void (*run)(struct smtp_server *s, const struct smtp_cmd *c);
};

static const struct smtp_server_verb smtp_server_verbs[] = {
	{SMTP_VERB_EHLO, "EHLO", SMTP_V_ANY, {0}, smtp_server_ehlo_cmd},
	{SMTP_VERB_HELO, "HELO", SMTP_V_ANY, {0}, smtp_server_helo},
	{SMTP_VERB_MAIL, "MAIL", SMTP_V_READY,
	 {SMTP_R_NEED_HELO, 0, SMTP_R_NESTED_MAIL, SMTP_R_NESTED_MAIL}, smtp_server_mail},
	{SMTP_VERB_RCPT, "RCPT", SMTP_V_MAIL | SMTP_V_RCPT, {SMTP_R_NEED_HELO, SMTP_R_NEED_MAIL, 0, 0}, smtp_server_rcpt},
	{SMTP_VERB_DATA, "DATA", SMTP_V_RCPT | SMTP_V_NOARG,
	 {SMTP_R_NEED_HELO, SMTP_R_NEED_MAIL, SMTP_R_NO_VALID_RCPT, 0}, smtp_server_data},
	{SMTP_VERB_BDAT, "BDAT", SMTP_V_ANY, {0}, smtp_server_bdat},
	{SMTP_VERB_RSET, "RSET", SMTP_V_ANY | SMTP_V_NOARG, {0}, smtp_server_rset},
	{SMTP_VERB_NOOP, "NOOP", SMTP_V_ANY, {0}, smtp_server_noop},
	{SMTP_VERB_QUIT, "QUIT", SMTP_V_ANY, {0}, smtp_server_quit},
	{SMTP_VERB_VRFY, "VRFY", SMTP_V_ANY, {0}, smtp_server_vrfy},
	{SMTP_VERB_EXPN, "EXPN", SMTP_V_ANY, {0}, smtp_server_expn},
	{SMTP_VERB_HELP, "HELP", SMTP_V_ANY, {0}, smtp_server_help},
	{SMTP_VERB_STARTTLS, "STARTTLS", SMTP_V_ANY | SMTP_V_NOARG, {0}, smtp_server_starttls},
	{SMTP_VERB_AUTH, "AUTH", SMTP_V_ANY, {0}, smtp_server_auth},
};

static void smtp_server_command(struct smtp_server *s, const char *line, size_t len)
{
	struct smtp_cmd c;
	s->cmd_line = line;
	s->cmd_len = len;
	if (smtp_cmd_parse(line, len, &c) < 0) {
		smtp_server_refuse(s, SMTP_R_BAD_LINE, NULL, line, len);
		return;
	}
	const struct smtp_server_verb *v = NULL;
	for (size_t i = 0; i < sizeof smtp_server_verbs / sizeof smtp_server_verbs[0]; i++)
		if (smtp_server_verbs[i].verb == c.verb)
			v = &smtp_server_verbs[i];
	if (v == NULL) {
		smtp_server_refuse(s, SMTP_R_UNKNOWN_CMD, NULL, line, len);
		return;
	}
	/* Only the four command states reach here (feed() routes the rest). */
	if (s->state > SMTP_S_RCPT) {
		smtp_server_refuse(s, SMTP_R_LOCAL_ERROR, NULL, line, len);
		return;
	}
	if ((v->flags & SMTP_V_NOARG) && c.has_arg) {
		smtp_server_refuse(s, SMTP_R_SYNTAX, NULL, v->name, strlen(v->name));
		return;
	}
	if (!(v->flags & (1u << s->state))) {
		smtp_server_refuse(s, v->refused[s->state], NULL, line, len);
		return;
	}
	v->run(s, &c);
}

/*
 * Submission (RFC 6409 8.2, 8.3, 8.6): add Date, Message-ID or From when
 * the message lacks them. The header section is held in `body` until it
 * ends, then the missing fields go at its end. A header section larger
 * than the buffer is passed on unchanged.
 */
static void smtp_server_fix_headers(struct smtp_server *s, bool at_end)
{
	if (!s->cfg.fix_headers || s->headers_fixed || s->ops->missing_headers == NULL)
		return;
	size_t pos;
	if (s->body.len > 0 && s->body.data[0] == '\n') {
		pos = 0;
	} else {
		const char *sep = s->body.len ? memmem(s->body.data, s->body.len, "\n\n", 2) : NULL;
		if (sep)
			pos = (size_t)(sep - s->body.data) + 1;
		else if (at_end)
			pos = s->body.len;
		else
			return; /* the header section has not ended yet */
	}
	s->headers_fixed = true;
	struct buf extra;
	buf_init(&extra, 4096);
	s->ops->missing_headers(s->ctx, s->dec.headers, &extra);
	if (extra.len) {
		struct buf nb;
		buf_init(&nb, s->body.max + extra.len);
		if (buf_append(&nb, s->body.data, pos) == 0 && buf_append(&nb, extra.data, extra.len) == 0 &&
		    buf_append(&nb, s->body.data + pos, s->body.len - pos) == 0) {
			size_t max = s->body.max;
			buf_free(&s->body);
			s->body = nb;
			s->body.max = max > nb.len ? max : nb.len;
		} else {
			buf_free(&nb);
		}
	}
	buf_free(&extra);
}

/* Hand decoded content to storage in blocks. */
static void smtp_server_flush_body(struct smtp_server *s, bool all)
{
	if (s->cfg.fix_headers && !s->headers_fixed) {
		bool full = s->body.len + 1024 >= s->body.max;
		if (s->dec.in_headers && !full)
			return; /* keep holding the header section */
		if (!s->dec.in_headers)
			smtp_server_fix_headers(s, false);
		s->headers_fixed = true; /* done, or too large to fix: pass it on */
	}
	if (s->body.len == 0 || (!all && s->body.len < SMTP_SERVER_BODY_FLUSH))
		return;
	if (s->dec.size > s->cfg.max_size)
		s->oversize = true;
	if (!s->oversize && !s->store_failed && s->ops->data_write &&
	    s->ops->data_write(s->ctx, s->body.data, s->body.len) < 0)
		s->store_failed = true;
	buf_reset(&s->body);
}

/* The content is complete: judge it, then commit or refuse. */
static void smtp_server_end_content(struct smtp_server *s)
{
	smtp_server_fix_headers(s, true);
	smtp_server_flush_body(s, true);
	if (s->dec.size > s->cfg.max_size)
		s->oversize = true;
	enum smtp_reply_id r = SMTP_R_OK;
	if (s->dec.flags & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR | SMTP_DATA_NUL))
		r = SMTP_R_BAD_CONTENT;
	else if (s->dec.flags & SMTP_DATA_LONG_LINE)
		r = SMTP_R_LONG_CONTENT_LINE;
	else if (s->oversize)
		r = SMTP_R_SIZE_EXCEEDED;
	else if (s->dec.received > 50)
		r = SMTP_R_LOOP; /* RFC 5321 6.3: a hop count over 50 is a loop */
	else if (s->store_failed)
		r = SMTP_R_STORAGE;
	if (r != SMTP_R_OK) {
		const char *cmd = s->bdat_used ? "BDAT" : "DATA";
		s->state = SMTP_S_RCPT;
		smtp_server_reset_txn(s); /* calls data_abort */
		smtp_server_refuse(s, r, NULL, cmd, 4);
		return;
	}
	s->state = SMTP_S_WAIT;
	s->ops->data_commit(s->ctx, &s->dec);
}

void smtp_server_commit_done(struct smtp_server *s, enum smtp_reply_id r, const char *queue_id)
{
	s->storing = false; /* the commit consumed or aborted the storage */
	s->state = SMTP_S_RCPT;
	if (r == SMTP_R_OK) {
		buf_printf(&s->out, "250 2.0.0 Ok: queued as %s\r\n", queue_id);
		smtp_server_reset_txn(s);
	} else {
		smtp_server_reset_txn(s);
		smtp_server_refuse(s, r, NULL, s->bdat_used ? "BDAT" : "DATA", 4);
	}
}

/* DATA content: returns the octets consumed. */
static size_t smtp_server_feed_data(struct smtp_server *s, const char *in, size_t n)
{
	size_t used = 0;
	while (used < n) {
		bool done = false;
		size_t k = smtp_data_feed(&s->dec, in + used, n - used, &s->body, &done);
		used += k;
		smtp_server_flush_body(s, false);
		if (done) {
			smtp_server_end_content(s);
			break;
		}
		if (k == 0) /* the body buffer is full: hand it out whole */
			smtp_server_flush_body(s, true);
	}
	return used;
}

/* The last octet of a BDAT chunk was read: answer it. */
static void smtp_server_bdat_complete(struct smtp_server *s)
{
	if (s->bdat_refusal != SMTP_R_OK) {
		s->state = s->bdat_prev_state;
		smtp_server_refuse(s, s->bdat_refusal, NULL, "BDAT", 4);
		return;
	}
	if (s->bdat_last) {
		smtp_data_finish(&s->dec, &s->body);
		smtp_server_end_content(s);
	} else {
		s->state = SMTP_S_RCPT;
		buf_printf(&s->out, "250 2.0.0 %llu octets received\r\n", (unsigned long long)s->dec.size);
	}
}

/* A BDAT chunk: returns the octets consumed. */
static size_t smtp_server_feed_bdat(struct smtp_server *s, const char *in, size_t n)
{
	size_t take = n;
	if ((uint64_t)take > s->bdat_left)
		take = (size_t)s->bdat_left;
	size_t used = 0;
	if (s->bdat_refusal != SMTP_R_OK) {
		used = take;
	} else {
		while (used < take) {
			bool done = false;
			size_t k = smtp_data_feed(&s->dec, in + used, take - used, &s->body, &done);
			used += k;
			smtp_server_flush_body(s, k == 0);
		}
	}
	s->bdat_left -= used;
	if (s->bdat_left == 0)
		smtp_server_bdat_complete(s);
	return used;
}

/*
 * Command lines: find CR LF. A LF not preceded by CR is part of the line
 * (and makes it a bad line); so is a lone CR.
 */
static size_t smtp_server_feed_line(struct smtp_server *s, const char *in, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *lf = memchr(in + i, '\n', n - i);
		size_t chunk = lf ? (size_t)(lf - (in + i)) + 1 : n - i;
		bool crlf = lf && (lf > in + i ? lf[-1] == '\r' : s->line_cr);
		if (!s->line_overflow && buf_append(&s->line, in + i, chunk) < 0) {
			s->line_overflow = true;
			buf_reset(&s->line);
		}
		s->line_cr = in[i + chunk - 1] == '\r';
		i += chunk;
		if (!crlf)
			continue;
		s->line_cr = false;
		bool auth = s->state == SMTP_S_AUTH ||
		            (s->line.len >= 5 && strncasecmp(s->line.data, "AUTH ", 5) == 0);
		/* RFC 5321 4.5.3.1.4: 512 octets including CR LF; RFC 4954 4
		 * allows AUTH lines up to 12288. */
		if (s->line_overflow || (!auth && s->line.len > SMTP_LINE_MAX)) {
			if (s->state == SMTP_S_AUTH)
				smtp_server_auth_fail(s, SMTP_R_LINE_TOO_LONG);
			else
				smtp_server_refuse(s, SMTP_R_LINE_TOO_LONG, NULL, "(long line)", 11);
		} else if (s->state == SMTP_S_AUTH) {
			smtp_server_auth_response(s, s->line.data, s->line.len - 2);
		} else {
			smtp_server_command(s, s->line.data, s->line.len - 2);
		}
		if (auth)
			smtp_server_wipe(s->line.data, s->line.len);
		s->line_overflow = false;
		buf_reset(&s->line);
		return i;
	}
	return i;
}

size_t smtp_server_feed(struct smtp_server *s, const char *in, size_t n)
{
	size_t used = 0;
	while (used < n) {
		size_t k;
		switch (s->state) {
		case SMTP_S_DATA:
			k = smtp_server_feed_data(s, in + used, n - used);
			break;
		case SMTP_S_BDAT:
			k = smtp_server_feed_bdat(s, in + used, n - used);
			break;
		case SMTP_S_WAIT:
		case SMTP_S_TLS:
		case SMTP_S_AUTHWAIT:
		case SMTP_S_CLOSED:
			return used;
		default:
			if (s->out.len >= SMTP_SERVER_OUT_PAUSE)
				return used; /* the replies so far must leave first */
			k = smtp_server_feed_line(s, in + used, n - used);
			break;
		}
		used += k;
		if (k == 0)
			break;
	}
	return used;
}
