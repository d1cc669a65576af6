/*
 * smtp_server_auth — SMTP AUTH for the server engine (RFC 4954) with the
 * PLAIN (RFC 4616) and LOGIN mechanisms. Part of the pure engine of
 * smtp_server.c: the exchange is decoded here, the password check itself
 * is the caller's (ops->auth_check, asynchronous). Secrets are wiped from
 * every buffer that held them once used.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "proto/sasl_plain.h"
#include "proto/smtp_server_int.h"

enum { SMTP_AUTH_PLAIN = 1, SMTP_AUTH_LOGIN = 2 };

/* Wipe what held a secret (the line buffer, decoded responses). */
void smtp_server_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void smtp_server_auth_fail(struct smtp_server *s, enum smtp_reply_id id)
{
	s->auth_mech = 0;
	s->auth_step = 0;
	s->auth_user[0] = '\0';
	s->state = SMTP_S_READY;
	smtp_server_refuse(s, id, NULL, "AUTH", 4);
}

/* Hand a complete user/password to the checker and wait. */
static void smtp_server_auth_submit(struct smtp_server *s, const char *user, size_t ulen, const char *pass,
                                    size_t plen)
{
	if (ulen == 0 || ulen >= sizeof s->auth_user || plen == 0 || plen > SMTP_AUTH_SECRET_MAX ||
	    memchr(user, '\0', ulen) || memchr(pass, '\0', plen)) {
		smtp_server_auth_fail(s, SMTP_R_AUTH_FAILED);
		return;
	}
	memcpy(s->auth_user, user, ulen);
	s->auth_user[ulen] = '\0';
	char pw[SMTP_AUTH_SECRET_MAX + 1];
	memcpy(pw, pass, plen);
	pw[plen] = '\0';
	s->state = SMTP_S_AUTHWAIT;
	s->ops->auth_check(s->ctx, s->auth_user, pw);
	smtp_server_wipe(pw, sizeof pw);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void smtp_server_auth_plain(struct smtp_server *s, const unsigned char *d, size_t n)
{
	struct sasl_plain sp;
	enum sasl_plain_status st = sasl_plain_split(d, n, sizeof s->auth_user - 1, SMTP_AUTH_SECRET_MAX, &sp);
	if (st == SASL_PLAIN_OK)
		smtp_server_auth_submit(s, sp.user, strlen(sp.user), sp.pass, strlen(sp.pass));
	else {
		/* Fewer than two NULs is not PLAIN at all; anything else is
		 * a refused login. */
		const unsigned char *nul = memchr(d, '\0', n);
		bool two = nul && memchr(nul + 1, '\0', n - (size_t)(nul + 1 - d));
		smtp_server_auth_fail(s, two ? SMTP_R_AUTH_FAILED : SMTP_R_AUTH_BAD_B64);
	}
	smtp_server_wipe(&sp, sizeof sp);
}

/* One client response: the initial response or a continuation line. */
void smtp_server_auth_response(struct smtp_server *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		smtp_server_auth_fail(s, SMTP_R_AUTH_CANCELLED); /* RFC 4954 4 */
		return;
	}
	unsigned char dec[SMTP_AUTH_LINE_MAX];
	long n = 0;
	if (!(len == 1 && line[0] == '=')) /* "=" is the empty response */
		n = base64_decode(line, len, dec, sizeof dec);
	if (n < 0) {
		smtp_server_auth_fail(s, SMTP_R_AUTH_BAD_B64);
		return;
	}
	if (s->auth_mech == SMTP_AUTH_PLAIN) {
		smtp_server_auth_plain(s, dec, (size_t)n);
	} else if (s->auth_step == 0) {
		if (n == 0 || (size_t)n >= sizeof s->auth_user || memchr(dec, '\0', (size_t)n)) {
			smtp_server_auth_fail(s, SMTP_R_AUTH_FAILED);
		} else {
			memcpy(s->auth_user, dec, (size_t)n);
			s->auth_user[n] = '\0';
			s->auth_step = 1;
			s->state = SMTP_S_AUTH;
			buf_puts(&s->out, "334 UGFzc3dvcmQ6\r\n"); /* "Password:" */
		}
	} else {
		char user[sizeof s->auth_user];
		memcpy(user, s->auth_user, sizeof user);
		smtp_server_auth_submit(s, user, strlen(user), (const char *)dec, (size_t)n);
	}
	smtp_server_wipe(dec, sizeof dec);
}

void smtp_server_auth(struct smtp_server *s, const struct smtp_cmd *c)
{
	if (!s->cfg.auth_available || s->ops->auth_check == NULL) {
		bool need_tls = s->cfg.tls_available && !s->cfg.tls_active;
		smtp_server_refuse(s, need_tls ? SMTP_R_NEED_TLS : SMTP_R_NOT_IMPL, NULL, "AUTH", 4);
		return;
	}
	if (s->state == SMTP_S_INIT) {
		smtp_server_refuse(s, SMTP_R_NEED_HELO, NULL, "AUTH", 4);
		return;
	}
	if (s->authenticated) {
		smtp_server_refuse(s, SMTP_R_AUTH_ALREADY, NULL, "AUTH", 4);
		return;
	}
	if (s->state != SMTP_S_READY) { /* RFC 4954 4: not during a transaction */
		smtp_server_refuse(s, SMTP_R_NESTED_MAIL, NULL, "AUTH", 4);
		return;
	}
	const char *a = c->arg;
	size_t alen = c->arglen;
	const char *sp = memchr(a, ' ', alen);
	size_t mlen = sp ? (size_t)(sp - a) : alen;
	if (mlen == 5 && strncasecmp(a, "PLAIN", 5) == 0)
		s->auth_mech = SMTP_AUTH_PLAIN;
	else if (mlen == 5 && strncasecmp(a, "LOGIN", 5) == 0)
		s->auth_mech = SMTP_AUTH_LOGIN;
	else {
		smtp_server_refuse(s, c->has_arg ? SMTP_R_AUTH_MECH : SMTP_R_SYNTAX, NULL, "AUTH", 4);
		return;
	}
	s->auth_step = 0;
	if (sp) { /* an initial response (RFC 4954 4) */
		smtp_server_auth_response(s, sp + 1, alen - mlen - 1);
		return;
	}
	s->state = SMTP_S_AUTH;
	if (s->auth_mech == SMTP_AUTH_PLAIN)
		buf_puts(&s->out, "334 \r\n");
	else
		buf_puts(&s->out, "334 VXNlcm5hbWU6\r\n"); /* "Username:" */
}

void smtp_server_auth_done(struct smtp_server *s, bool ok, enum smtp_reply_id fail_reply)
{
	s->auth_mech = 0;
	s->auth_step = 0;
	s->state = SMTP_S_READY;
	if (ok) {
		s->authenticated = true;
		smtp_server_reply(s, SMTP_R_AUTH_OK, NULL);
		return;
	}
	s->auth_user[0] = '\0';
	smtp_server_refuse(s, fail_reply, NULL, "AUTH", 4);
}

