/*
 * smtp_client — the SMTP client session engine. See smtp_client.h.
 *
 * Implements the client side of RFC 5321 3.1-3.3 and 4.1 (greeting,
 * EHLO with HELO fallback, the transaction, QUIT; 4.1.4 order), RFC 2920
 * (PIPELINING: RSET, MAIL and RCPT anywhere in a group, DATA last; a '.'
 * after a 354 that came although every RCPT failed, 3.1), RFC 3030
 * (CHUNKING: BDAT pipelined with the commands before it, the chunk read by
 * the server even when BDAT is refused), RFC 1870 (SIZE=), RFC 6152
 * (BODY=8BITMIME), RFC 6531 3.2 (no UTF-8 address to a server without
 * SMTPUTF8), RFC 3207 (STARTTLS; 4.2 forget everything after it), RFC 4954
 * with RFC 4616 (AUTH PLAIN, LOGIN as a fallback).
 *
 * The design is OpenSMTPD's "act on reading a reply": every command sent
 * leaves an entry in a queue of awaited replies, and each reply is matched
 * with the oldest entry, so that pipelined and one-at-a-time dialogues run
 * through the same code. This file owns the session (greeting, EHLO/HELO,
 * STARTTLS, AUTH, QUIT, failures, round-trip counting); the transactions
 * are in smtp_client_txn.c. Must not do I/O and knows no clock.
 */
#include "proto/smtp_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "proto/smtp_addr.h"
#include "proto/smtp_client_int.h"

#define SMTP_CLIENT_CMD_MAX 512    /* RFC 5321 4.5.3.1.4: a command line, CR LF included */
#define SMTP_CLIENT_SECRET_MAX 512 /* octets of a user name or password */

enum { SMTP_CA_PLAIN = 1, SMTP_CA_LOGIN };

void smtp_client_init(struct smtp_client *c, const struct smtp_client_config *cfg,
                      const struct smtp_client_ops *ops, void *ctx)
{
	memset(c, 0, sizeof *c);
	c->cfg = *cfg;
	c->ops = ops;
	c->ctx = ctx;
	c->tls = cfg->tls_active;
	buf_init(&c->out, 0);
	buf_init(&c->chunk, 0);
	smtp_reply_parse_init(&c->rp);
	c->state = SMTP_C_GREETING;
	/* The greeting is awaited like a reply, but nothing was sent for it,
	 * so it is not a round trip (c->sent stays false). */
	c->pend = calloc(16, sizeof *c->pend);
	if (c->pend) {
		c->pend_cap = 16;
		c->pend[0].kind = SMTP_CK_GREETING;
		c->pend_len = 1;
	} else {
		c->state = SMTP_C_CLOSED;
		c->failed = true;
		c->error.local = true;
		c->error.code = 451;
		snprintf(c->error.text, sizeof c->error.text, "out of memory");
	}
}

void smtp_client_free(struct smtp_client *c)
{
	buf_free(&c->out);
	buf_free(&c->chunk);
	smtp_reply_parse_free(&c->rp);
	free(c->pend);
	c->pend = NULL;
	c->pend_cap = c->pend_len = c->pend_head = 0;
}

/* ---- small helpers ---- */

bool smtp_client_pipelining(const struct smtp_client *c)
{
	return c->ehlo.pipelining && !c->cfg.no_pipelining;
}

bool smtp_client_chunking(const struct smtp_client *c)
{
	return c->ehlo.chunking && !c->cfg.no_chunking;
}

static bool smtp_client_pending(const struct smtp_client *c)
{
	return c->pend_head < c->pend_len;
}

void smtp_client_trace(struct smtp_client *c, char dir, const char *p, size_t n)
{
	if (c->ops && c->ops->trace)
		c->ops->trace(c->ctx, dir, p, n);
}

void smtp_client_reply_set(struct smtp_client_reply *d, const struct smtp_response *r)
{
	memset(d, 0, sizeof *d);
	d->code = r->code;
	memcpy(d->status, r->status, sizeof d->status);
	smtp_reply_parse_format(r, d->text, sizeof d->text);
}

void smtp_client_reply_local(struct smtp_client_reply *d, int code, const char *status, const char *fmt, ...)
{
	memset(d, 0, sizeof *d);
	d->local = true;
	d->code = code;
	snprintf(d->status, sizeof d->status, "%s", status);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof d->text, fmt, ap);
	va_end(ap);
}

const char *smtp_client_reply_text(const struct smtp_client_reply *r)
{
	return r->text;
}

int smtp_client_reply_class(const struct smtp_client_reply *r)
{
	return r->code / 100;
}

static bool smtp_client_is_2xx(const struct smtp_response *r)
{
	return r->code >= 200 && r->code < 300;
}

int smtp_client_addr_check(const char *addr, bool sender, bool *utf8)
{
	char path[SMTP_PATH_MAX + 3];
	size_t n = strlen(addr);
	*utf8 = false;
	if (n + 2 >= sizeof path)
		return -1;
	path[0] = '<';
	memcpy(path + 1, addr, n);
	path[n + 1] = '>';
	path[n + 2] = '\0';
	struct smtp_addr a;
	size_t used = 0;
	if (smtp_addr_parse(path, n + 2, sender, true, !sender, &a, &used) != SMTP_ADDR_OK || used != n + 2)
		return -1;
	*utf8 = a.utf8;
	return 0;
}

/* ---- sending ---- */

/* Remember that a reply to `kind` is awaited. */
static int smtp_client_await(struct smtp_client *c, int kind, bool in_txn, size_t idx)
{
	if (c->pend_head == c->pend_len)
		c->pend_head = c->pend_len = 0;
	if (c->pend_len == c->pend_cap) {
		if (c->pend_cap > SIZE_MAX / 2 / sizeof *c->pend)
			return -1;
		size_t ncap = c->pend_cap ? c->pend_cap * 2 : 16;
		struct smtp_client_pend *p = realloc(c->pend, ncap * sizeof *p);
		if (p == NULL)
			return -1;
		c->pend = p;
		c->pend_cap = ncap;
	}
	c->pend[c->pend_len].kind = (unsigned char)kind;
	c->pend[c->pend_len].in_txn = in_txn;
	c->pend[c->pend_len].idx = idx;
	c->pend_len++;
	if (in_txn && c->txn)
		c->txn->npend++;
	return 0;
}

void smtp_client_oom(struct smtp_client *c)
{
	struct smtp_client_reply r;
	smtp_client_reply_local(&r, 451, "4.3.0", "out of memory");
	smtp_client_fatal(c, &r, false);
}

void smtp_client_emit(struct smtp_client *c, int kind, bool in_txn, size_t idx, const char *shown,
                      const char *fmt, ...)
{
	size_t start = c->out.len;
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	size_t len = c->out.len - start;
	if (r == 0 && (memchr(c->out.data + start, '\r', len) || memchr(c->out.data + start, '\n', len))) {
		/* a caller's string (the EHLO name) must not make two commands */
		struct smtp_client_reply why;
		c->out.len = start;
		c->out.data[start] = '\0';
		smtp_client_reply_local(&why, 554, "5.5.2", "a command would contain CR or LF");
		smtp_client_fatal(c, &why, false);
		return;
	}
	if (r < 0 || buf_puts(&c->out, "\r\n") < 0 || smtp_client_await(c, kind, in_txn, idx) < 0) {
		c->out.len = start; /* nothing half-written leaves */
		if (c->out.data)
			c->out.data[start] = '\0';
		smtp_client_oom(c);
		return;
	}
	if (shown)
		smtp_client_trace(c, 'C', shown, strlen(shown));
	else
		smtp_client_trace(c, 'C', c->out.data + start, len);
	c->sent = true;
}

void smtp_client_send_quit(struct smtp_client *c)
{
	if (c->quit_sent)
		return;
	c->quit_sent = true;
	smtp_client_emit(c, SMTP_CK_QUIT, false, 0, NULL, "QUIT");
}

/* Every public entry ends here: if the engine sent something and now can
 * only wait for the server, that wait is one round trip. */
static void smtp_client_settle(struct smtp_client *c)
{
	if (c->sent && smtp_client_pending(c) && !smtp_client_wants_content(c) && c->state != SMTP_C_CLOSED) {
		c->round_trips++;
		c->sent = false;
	}
}

/* ---- transactions: the checks of the state, the work in smtp_client_txn.c ---- */

int smtp_client_send(struct smtp_client *c, struct smtp_client_txn *t)
{
	if (c->state != SMTP_C_READY || t == NULL || c->txn != NULL)
		return -1;
	smtp_client_txn_begin(c, t);
	smtp_client_settle(c);
	return 0;
}

int smtp_client_content(struct smtp_client *c, const char *p, size_t n, bool end)
{
	if (!smtp_client_wants_content(c))
		return -1;
	int r = smtp_client_txn_push(c, p, n, end);
	smtp_client_settle(c);
	return r;
}

/* ---- session failure ---- */

/* The session cannot go on: fail it and its transaction, then QUIT
 * politely (quit) or just close (the stream cannot be trusted). */
void smtp_client_fatal(struct smtp_client *c, const struct smtp_client_reply *why, bool quit)
{
	if (!c->failed) {
		c->failed = true;
		c->error = *why;
	}
	c->pend_head = c->pend_len = 0;
	if (c->txn) {
		smtp_client_txn_fail(c, why);
		c->txn->npend = 0;
	}
	if (quit && !c->quit_sent && c->state != SMTP_C_CLOSED) {
		c->state = SMTP_C_QUIT;
		smtp_client_send_quit(c);
	} else {
		c->state = SMTP_C_CLOSED;
	}
	if (c->txn)
		smtp_client_txn_finish(c);
}

/* ---- the handshake: greeting, EHLO, STARTTLS, AUTH ---- */

static void smtp_client_hello(struct smtp_client *c, bool ehlo)
{
	c->state = SMTP_C_HELLO;
	smtp_client_emit(c, ehlo ? SMTP_CK_EHLO : SMTP_CK_HELO, false, 0, NULL, "%s %s", ehlo ? "EHLO" : "HELO",
	                 c->cfg.helo);
}

/* Send "PREFIXbase64" with the trace showing `shown`; secrets are wiped
 * from the scratch buffers. */
static void smtp_client_emit_secret(struct smtp_client *c, const char *prefix, const unsigned char *secret,
                                    size_t n, const char *shown)
{
	char b64[(2 * SMTP_CLIENT_SECRET_MAX + 2 + 2) / 3 * 4 + 1];
	if (n > 2 * SMTP_CLIENT_SECRET_MAX + 2) {
		smtp_client_oom(c);
		return;
	}
	base64_encode(secret, n, b64);
	smtp_client_emit(c, SMTP_CK_AUTH, false, 0, shown, "%s%s", prefix, b64);
	explicit_bzero(b64, sizeof b64);
}

/* RFC 4616 2: message = [authzid] NUL authcid NUL passwd */
static void smtp_client_auth_plain(struct smtp_client *c, const char *prefix, const char *shown)
{
	unsigned char m[2 * SMTP_CLIENT_SECRET_MAX + 2];
	size_t ul = strlen(c->cfg.user), pl = strlen(c->cfg.password);
	m[0] = '\0';
	memcpy(m + 1, c->cfg.user, ul);
	m[1 + ul] = '\0';
	memcpy(m + 2 + ul, c->cfg.password, pl);
	smtp_client_emit_secret(c, prefix, m, ul + pl + 2, shown);
	explicit_bzero(m, sizeof m);
}

static void smtp_client_auth_start(struct smtp_client *c)
{
	struct smtp_client_reply why;
	const char *pass = c->cfg.password ? c->cfg.password : "";
	if (strlen(c->cfg.user) > SMTP_CLIENT_SECRET_MAX || strlen(pass) > SMTP_CLIENT_SECRET_MAX) {
		smtp_client_reply_local(&why, 554, "5.7.8", "user name or password too long");
		smtp_client_fatal(c, &why, true);
		return;
	}
	c->cfg.password = pass;
	c->state = SMTP_C_AUTH;
	c->auth_step = 0;
	if (c->ehlo.auth & SMTP_AUTH_PLAIN) {
		c->auth_mech = SMTP_CA_PLAIN;
		/* RFC 4954 4: an initial response that would make the line
		 * too long waits for the server's empty challenge instead. */
		size_t b64 = (strlen(c->cfg.user) + strlen(pass) + 2 + 2) / 3 * 4;
		if (b64 + sizeof "AUTH PLAIN \r\n" - 1 <= SMTP_CLIENT_CMD_MAX) {
			c->auth_step = 1;
			smtp_client_auth_plain(c, "AUTH PLAIN ", "AUTH PLAIN ****");
		} else {
			smtp_client_emit(c, SMTP_CK_AUTH, false, 0, NULL, "AUTH PLAIN");
		}
	} else if (c->ehlo.auth & SMTP_AUTH_LOGIN) {
		c->auth_mech = SMTP_CA_LOGIN;
		smtp_client_emit(c, SMTP_CK_AUTH, false, 0, NULL, "AUTH LOGIN");
	} else {
		smtp_client_reply_local(&why, 554, "5.7.4",
		                        c->ehlo.auth ? "the server offers neither AUTH PLAIN nor AUTH LOGIN"
		                                     : "the server does not offer AUTH");
		smtp_client_fatal(c, &why, true);
	}
}

static void smtp_client_auth_reply(struct smtp_client *c, const struct smtp_response *r)
{
	struct smtp_client_reply why;
	if (smtp_client_is_2xx(r)) {
		c->authenticated = true;
		c->state = SMTP_C_READY;
		return;
	}
	if (r->code == 334) {
		if (c->auth_mech == SMTP_CA_PLAIN && c->auth_step == 0) {
			c->auth_step = 1;
			smtp_client_auth_plain(c, "", "****");
			return;
		}
		if (c->auth_mech == SMTP_CA_LOGIN && c->auth_step < 2) {
			const char *s = c->auth_step == 0 ? c->cfg.user : c->cfg.password;
			c->auth_step++;
			smtp_client_emit_secret(c, "", (const unsigned char *)s, strlen(s), "****");
			return;
		}
		smtp_client_reply_local(&why, 454, "4.7.0", "unexpected AUTH challenge: %s",
		                        r->text.data ? r->text.data : "");
		smtp_client_fatal(c, &why, false); /* mid-exchange: the stream is out of step */
		return;
	}
	smtp_client_reply_set(&why, r);
	smtp_client_fatal(c, &why, true);
}

/* EHLO or HELO was accepted: STARTTLS, AUTH, or ready. */
static void smtp_client_after_hello(struct smtp_client *c)
{
	struct smtp_client_reply why;
	if (!c->tls && c->cfg.starttls != SMTP_CLIENT_TLS_NONE && !c->starttls_refused) {
		if (c->ehlo.starttls) {
			c->state = SMTP_C_STARTTLS;
			smtp_client_emit(c, SMTP_CK_STARTTLS, false, 0, NULL, "STARTTLS");
			return;
		}
		if (c->cfg.starttls == SMTP_CLIENT_TLS_REQUIRED) {
			smtp_client_reply_local(&why, 554, "5.7.10", "the server does not offer STARTTLS");
			smtp_client_fatal(c, &why, true);
			return;
		}
	}
	if (c->cfg.user && !c->authenticated) {
		smtp_client_auth_start(c);
		return;
	}
	c->state = SMTP_C_READY;
}

/* ---- replies ---- */

static void smtp_client_on_reply(struct smtp_client *c, const struct smtp_response *r)
{
	const char *raw = r->raw.data ? r->raw.data : "";
	for (;;) {
		const char *nl = strchr(raw, '\n');
		smtp_client_trace(c, 'S', raw, nl ? (size_t)(nl - raw) : strlen(raw));
		if (nl == NULL)
			break;
		raw = nl + 1;
	}
	struct smtp_client_reply rep;
	smtp_client_reply_set(&rep, r);
	if (!smtp_client_pending(c)) {
		/* Nothing was asked: a 421 (RFC 5321 3.8) or a confused server. */
		if (r->code != 421)
			smtp_client_reply_local(&rep, 451, "4.5.0", "unexpected reply from the server: %s",
			                        r->raw.data ? r->raw.data : "");
		smtp_client_fatal(c, &rep, false);
		return;
	}
	struct smtp_client_pend p = c->pend[c->pend_head++];
	if (p.in_txn && c->txn && c->txn->npend > 0)
		c->txn->npend--;
	if (r->code == 421 && p.kind != SMTP_CK_QUIT) {
		smtp_client_fatal(c, &rep, false); /* the server is closing the channel */
		return;
	}
	switch (p.kind) {
	case SMTP_CK_GREETING:
		if (r->code == 220)
			smtp_client_hello(c, true);
		else
			smtp_client_fatal(c, &rep, true); /* RFC 5321 3.1: 554 greeting, then QUIT */
		break;
	case SMTP_CK_EHLO:
		if (smtp_client_is_2xx(r)) {
			c->esmtp = true;
			smtp_reply_parse_ehlo(r, &c->ehlo);
			smtp_client_after_hello(c);
		} else if (r->code >= 500) {
			smtp_client_hello(c, false); /* RFC 5321 3.2: an old server */
		} else {
			smtp_client_fatal(c, &rep, true);
		}
		break;
	case SMTP_CK_HELO:
		if (smtp_client_is_2xx(r)) {
			c->esmtp = false;
			memset(&c->ehlo, 0, sizeof c->ehlo);
			smtp_client_after_hello(c);
		} else {
			smtp_client_fatal(c, &rep, true);
		}
		break;
	case SMTP_CK_STARTTLS:
		if (r->code == 220) {
			c->state = SMTP_C_TLS;
		} else if (c->cfg.starttls == SMTP_CLIENT_TLS_REQUIRED) {
			smtp_client_fatal(c, &rep, true);
		} else {
			c->starttls_refused = true;
			smtp_client_after_hello(c);
		}
		break;
	case SMTP_CK_AUTH:
		smtp_client_auth_reply(c, r);
		break;
	case SMTP_CK_QUIT:
		c->pend_head = c->pend_len = 0;
		c->state = SMTP_C_CLOSED;
		break;
	default:
		if (c->txn && p.in_txn)
			smtp_client_txn_reply(c, &p, r);
		break;
	}
}

size_t smtp_client_feed(struct smtp_client *c, const char *in, size_t n)
{
	size_t used = 0;
	while (used < n && c->state != SMTP_C_TLS && c->state != SMTP_C_CLOSED) {
		size_t k = 0;
		enum smtp_reply_parse_result res = smtp_reply_parse_feed(&c->rp, in + used, n - used, &k);
		used += k;
		if (res == SMTP_REPLY_PARSE_ERROR) {
			struct smtp_client_reply why;
			smtp_client_reply_local(&why, 451, "4.5.0", "the server sent garbage: %s", c->rp.error);
			smtp_client_fatal(c, &why, false);
			break;
		}
		if (res == SMTP_REPLY_PARSE_MORE)
			break;
		smtp_client_on_reply(c, &c->rp.reply);
	}
	smtp_client_settle(c);
	return used;
}

void smtp_client_tls_done(struct smtp_client *c)
{
	if (c->state != SMTP_C_TLS)
		return;
	/* RFC 3207 4.2: discard all knowledge obtained from the server */
	c->tls = true;
	c->esmtp = false;
	memset(&c->ehlo, 0, sizeof c->ehlo);
	smtp_reply_parse_free(&c->rp);
	smtp_reply_parse_init(&c->rp);
	smtp_client_hello(c, true);
	smtp_client_settle(c);
}

void smtp_client_quit(struct smtp_client *c)
{
	if (c->state != SMTP_C_READY)
		return;
	c->state = SMTP_C_QUIT;
	smtp_client_send_quit(c);
	smtp_client_settle(c);
}

void smtp_client_abort(struct smtp_client *c, const char *why)
{
	if (c->state == SMTP_C_CLOSED)
		return;
	if (c->state == SMTP_C_QUIT) {
		/* after QUIT a close is the expected end, 221 or not */
		c->pend_head = c->pend_len = 0;
		c->state = SMTP_C_CLOSED;
		return;
	}
	struct smtp_client_reply r;
	smtp_client_reply_local(&r, 421, "4.4.2", "connection lost (%s)", why);
	smtp_client_fatal(c, &r, false);
}

bool smtp_client_wants_tls(const struct smtp_client *c)
{
	return c->state == SMTP_C_TLS;
}

bool smtp_client_is_ready(const struct smtp_client *c)
{
	return c->state == SMTP_C_READY;
}

bool smtp_client_wants_content(const struct smtp_client *c)
{
	const struct smtp_client_txn *t = c->txn;
	return c->state == SMTP_C_TXN && t && !t->failed && t->phase == SMTP_CT_CONTENT &&
	       (smtp_client_pipelining(c) || t->npend == 0);
}

bool smtp_client_is_closed(const struct smtp_client *c)
{
	return c->state == SMTP_C_CLOSED;
}

unsigned smtp_client_timeout(const struct smtp_client *c)
{
	if (c->state == SMTP_C_CLOSED)
		return 0;
	if (smtp_client_wants_content(c))
		return SMTP_CLIENT_TIMEOUT_BLOCK;
	if (!smtp_client_pending(c))
		return 0;
	switch (c->pend[c->pend_head].kind) {
	case SMTP_CK_GREETING:
		return SMTP_CLIENT_TIMEOUT_GREETING;
	case SMTP_CK_RCPT:
		return SMTP_CLIENT_TIMEOUT_RCPT;
	case SMTP_CK_DATA:
		return SMTP_CLIENT_TIMEOUT_DATA;
	case SMTP_CK_BDAT:
		return SMTP_CLIENT_TIMEOUT_BLOCK;
	case SMTP_CK_DOT:
	case SMTP_CK_BDAT_LAST:
		return SMTP_CLIENT_TIMEOUT_DOT;
	default:
		return SMTP_CLIENT_TIMEOUT_MAIL;
	}
}
