/*
 * imap_server_state — the commands of any state and of the
 * not-authenticated state (CAPABILITY, NOOP, LOGOUT, ID, ENABLE,
 * STARTTLS, COMPRESS, LOGIN, AUTHENTICATE PLAIN with SASL-IR) and IDLE:
 * the commands that change what the session is rather than touch a
 * folder. The reader, the command table and the updates are in
 * imap_server.c.
 *
 * Logins are refused (LOGINDISABLED, RFC 9051 6.2.3) unless the session
 * runs over TLS or comes from loopback; passwords are wiped once handed
 * to ops->login. After STARTTLS everything learnt before is forgotten
 * (RFC 9051 6.2.1); the caller drops input pipelined behind it.
 */
#include "proto/imap_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "proto/imap_server_int.h"
#include "proto/sasl_plain.h"

/* -------------------------------------------- commands of any state */

bool imap_parse_noargs(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	return c->def->exec != NULL;
}

bool imap_parse_capability(struct imap_server *s, struct imap_cmd *c)
{
	if (!imap_parse_noargs(s, c) && c->args.ntop != 0)
		return false;
	buf_puts(&s->out, "* CAPABILITY ");
	imap_capabilities(s, &s->out);
	buf_puts(&s->out, "\r\n");
	imap_tagged(s, "OK", "Capability completed");
	return false;
}

enum imap_exec_result imap_exec_noop(struct imap_server *s, struct imap_cmd *c)
{
	(void)s;
	c->done_status = "OK";
	snprintf(c->done_text, sizeof c->done_text, "%s completed", c->def->name);
	return IMAP_EXEC_DONE;
}

bool imap_parse_noop(struct imap_server *s, struct imap_cmd *c)
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

bool imap_parse_logout(struct imap_server *s, struct imap_cmd *c)
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

enum imap_exec_result imap_exec_logout(struct imap_server *s, struct imap_cmd *c)
{
	imap_close_box(s);
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK", "Logout completed");
	s->state = IMAP_S_LOGOUT;
	c->done_status = NULL; /* answered */
	return IMAP_EXEC_DONE;
}

/* ID (RFC 2971): the client's identity is not needed; ours is short. */
bool imap_parse_id(struct imap_server *s, struct imap_cmd *c)
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
bool imap_parse_enable(struct imap_server *s, struct imap_cmd *c)
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

bool imap_parse_starttls(struct imap_server *s, struct imap_cmd *c)
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

bool imap_parse_compress(struct imap_server *s, struct imap_cmd *c)
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

bool imap_parse_login(struct imap_server *s, struct imap_cmd *c)
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
void imap_sasl_response(struct imap_server *s, const char *line, size_t n)
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

bool imap_parse_authenticate(struct imap_server *s, struct imap_cmd *c)
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

bool imap_parse_idle(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop != 0) {
		imap_bad(s, "Unexpected arguments");
		return false;
	}
	return true; /* exec: report what is pending, then "+ idling" */
}

enum imap_exec_result imap_exec_idle(struct imap_server *s, struct imap_cmd *c)
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
void imap_idle_line(struct imap_server *s, const char *line, size_t n)
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
