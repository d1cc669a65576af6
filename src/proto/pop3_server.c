/*
 * pop3_server — the POP3 server session engine. See pop3_server.h.
 *
 * Implements RFC 1939 sections 3 to 7 (states, commands, replies,
 * byte-stuffing), RFC 2449 (CAPA, the [IN-USE]/[SYS/TEMP] response codes
 * of section 8 and RFC 3206's [AUTH], the 255-octet line of section 4),
 * RFC 2595 4 (STLS, and forgetting everything after it) and RFC 5034
 * (AUTH with the PLAIN mechanism of RFC 4616, "*" cancels).
 *
 * Line rules as in the SMTP engine: only CR LF ends a line; a CR, LF or
 * NUL inside one makes it "-ERR invalid line", never two commands (so a
 * bare LF cannot smuggle a command past a proxy that splits on LF); a
 * line over the limit is answered "-ERR line too long" once its CR LF
 * arrives, and the session goes on.
 *
 * Logins (USER/PASS, AUTH) are refused unless the session runs over TLS
 * or comes from loopback (RFC 2595 2.2: no clear-text passwords on the
 * wire). Passwords are wiped from the engine's memory once handed to
 * ops->login.
 *
 * Must not do I/O: everything outside goes through s->ops.
 */
#include "proto/pop3_server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "proto/sasl_plain.h"

/* The states in which a verb may be used, and whether it carries a
 * password (so that it needs TLS or loopback, RFC 2595 2.2). */
#define POP3_V_AUTHZ 1u
#define POP3_V_TRANS 2u
#define POP3_V_SECRET 4u

struct pop3_server_verb {
	const char *name;
	unsigned flags;
	void (*run)(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg);
};

void pop3_server_init(struct pop3_server *s, const struct pop3_server_config *cfg,
                      const struct pop3_server_ops *ops, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	s->ops = ops;
	s->ctx = ctx;
	s->state = POP3_S_AUTHORIZATION;
	buf_init(&s->out, 0);
	buf_init(&s->line, POP3_SASL_LINE_MAX);
}

/* The line buffer may hold a password (PASS, an AUTH response). */
static void pop3_server_wipe_line(struct pop3_server *s)
{
	if (s->line.data)
		explicit_bzero(s->line.data, s->line.cap);
	buf_reset(&s->line);
}

void pop3_server_free(struct pop3_server *s)
{
	pop3_server_wipe_line(s);
	explicit_bzero(s->user, sizeof s->user);
	buf_free(&s->out);
	buf_free(&s->line);
	s->msgs = NULL;
	s->nmsgs = 0;
}

bool pop3_server_is_closed(const struct pop3_server *s)
{
	return s->state == POP3_S_CLOSED;
}

bool pop3_server_is_idle(const struct pop3_server *s)
{
	return s->state == POP3_S_AUTHORIZATION || s->state == POP3_S_TRANSACTION;
}

bool pop3_server_is_sending(const struct pop3_server *s)
{
	return s->state == POP3_S_SENDING;
}

bool pop3_server_wants_tls(const struct pop3_server *s)
{
	return s->state == POP3_S_TLS;
}

void pop3_server_greet(struct pop3_server *s)
{
	/* RFC 1939 4. No APOP timestamp: APOP needs the password in clear
	 * on the server, and the users file holds only crypt(3) hashes. */
	buf_puts(&s->out, "+OK tern POP3 ready\r\n");
}

void pop3_server_maildrop(const struct pop3_server *s, size_t *count, uint64_t *octets)
{
	size_t c = 0;
	uint64_t o = 0;
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted) {
			c++;
			o += s->msgs[i].size;
		}
	*count = c;
	*octets = o;
}

/* A -ERR that is the client's fault: logged, counted, and the session
 * closes after too many (the last -ERR is still sent). */
static void pop3_server_refuse(struct pop3_server *s, const char *cmd, size_t cmdlen, const char *text)
{
	buf_printf(&s->out, "-ERR %s\r\n", text);
	if (s->ops->refused) {
		char line[256];
		snprintf(line, sizeof line, "-ERR %s", text);
		s->ops->refused(s->ctx, cmd, cmdlen, line);
	}
	if (++s->errors >= POP3_SERVER_MAX_ERRORS)
		s->state = POP3_S_CLOSED;
}

static void pop3_server_drop_user(struct pop3_server *s)
{
	s->have_user = false;
	explicit_bzero(s->user, sizeof s->user);
}

/* "+OK maildrop has N messages (S octets)": after login and RSET. */
static void pop3_server_ok_maildrop(struct pop3_server *s)
{
	size_t count;
	uint64_t octets;
	pop3_server_maildrop(s, &count, &octets);
	buf_printf(&s->out, "+OK maildrop has %zu message%s (%llu octets)\r\n", count, count == 1 ? "" : "s",
	           (unsigned long long)octets);
}

/* ---- arguments ---- */

/* A decimal number of at most 18 digits (no sign, no blanks). 0/-1. */
static int pop3_server_number(const char *p, size_t n, uint64_t *out)
{
	if (n == 0 || n > 18)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* A message-number argument (RFC 1939 5): it may not name a message
 * marked deleted. Answers the -ERR itself; 0 with *idx (0-based) or -1. */
static int pop3_server_msgno(struct pop3_server *s, const char *verb, const char *arg, size_t arglen, size_t *idx)
{
	uint64_t v;
	if (pop3_server_number(arg, arglen, &v) < 0) {
		pop3_server_refuse(s, verb, strlen(verb), "invalid message number");
		return -1;
	}
	if (v == 0 || v > s->nmsgs || s->msgs[v - 1].deleted) {
		pop3_server_refuse(s, verb, strlen(verb), "no such message");
		return -1;
	}
	*idx = (size_t)(v - 1);
	return 0;
}

/* ---- AUTHORIZATION ---- */

static void pop3_server_login(struct pop3_server *s, const char *user, const char *pass)
{
	s->state = POP3_S_LOGINWAIT;
	s->ops->login(s->ctx, user, pass);
}

static void pop3_server_user(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	if (!has_arg || arglen == 0 || arglen > POP3_USER_MAX) {
		pop3_server_refuse(s, "USER", 4, "syntax: USER name");
		return;
	}
	/* Always +OK: the answer must not tell which names exist. */
	memcpy(s->user, arg, arglen);
	s->user[arglen] = '\0';
	s->have_user = true;
	buf_puts(&s->out, "+OK send PASS\r\n");
}

static void pop3_server_pass(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	if (!s->have_user) {
		pop3_server_refuse(s, "PASS", 4, "USER first");
		return;
	}
	/* RFC 1939 7: the whole rest of the line is the password, spaces
	 * included. */
	if (!has_arg || arglen > POP3_PASS_MAX) {
		pop3_server_drop_user(s);
		pop3_server_refuse(s, "PASS", 4, "syntax: PASS password");
		return;
	}
	char pass[POP3_PASS_MAX + 1];
	memcpy(pass, arg, arglen);
	pass[arglen] = '\0';
	char user[POP3_USER_MAX + 1];
	memcpy(user, s->user, sizeof user);
	pop3_server_drop_user(s);
	pop3_server_login(s, user, pass);
	explicit_bzero(pass, sizeof pass);
	explicit_bzero(user, sizeof user);
}

/* An RFC 4616 PLAIN response: [authzid] NUL authcid NUL passwd. */
static void pop3_server_plain(struct pop3_server *s, const char *b64, size_t n)
{
	unsigned char msg[POP3_SASL_LINE_MAX];
	long len = 0;
	if (!(n == 1 && b64[0] == '=')) /* RFC 5034 4: "=" is an empty initial response */
		len = base64_decode(b64, n, msg, sizeof msg - 1); /* strict, as RFC 5034 4 asks */
	if (len < 0) {
		s->state = POP3_S_AUTHORIZATION;
		pop3_server_refuse(s, "AUTH PLAIN", 10, "invalid base64");
		return;
	}
	struct sasl_plain sp;
	enum sasl_plain_status st = sasl_plain_split(msg, (size_t)len, POP3_USER_MAX, POP3_PASS_MAX, &sp);
	s->state = POP3_S_AUTHORIZATION;
	if (st == SASL_PLAIN_MALFORMED)
		pop3_server_refuse(s, "AUTH PLAIN", 10, "[AUTH] malformed PLAIN response");
	else if (st == SASL_PLAIN_AUTHZID)
		pop3_server_refuse(s, "AUTH PLAIN", 10, "[AUTH] authorization identity not allowed");
	else
		pop3_server_login(s, sp.user, sp.pass);
	explicit_bzero(&sp, sizeof sp);
	explicit_bzero(msg, sizeof msg);
}

static void pop3_server_auth(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	pop3_server_drop_user(s);
	if (!has_arg) {
		/* Not in RFC 5034, but clients of RFC 1734's day send a bare
		 * AUTH to list the mechanisms; the answer is harmless. */
		buf_puts(&s->out, "+OK\r\nPLAIN\r\n.\r\n");
		return;
	}
	const char *sp = memchr(arg, ' ', arglen);
	size_t mlen = sp ? (size_t)(sp - arg) : arglen;
	if (mlen != 5 || strncasecmp(arg, "PLAIN", 5) != 0) {
		pop3_server_refuse(s, "AUTH", 4, "unsupported mechanism");
		return;
	}
	if (sp == NULL) {
		/* RFC 5034 4: an empty challenge is "+ " */
		buf_puts(&s->out, "+ \r\n");
		s->state = POP3_S_SASL;
		return;
	}
	pop3_server_plain(s, sp + 1, arglen - mlen - 1);
}

/* The response line of an AUTH PLAIN without initial response. */
static void pop3_server_sasl_line(struct pop3_server *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 4: the client cancels; the server must answer -ERR. */
		s->state = POP3_S_AUTHORIZATION;
		pop3_server_refuse(s, "AUTH PLAIN", 10, "authentication cancelled");
		return;
	}
	pop3_server_plain(s, line, len);
}

void pop3_server_login_done(struct pop3_server *s, enum pop3_login_result r, struct pop3_msg *msgs, size_t n)
{
	if (s->state != POP3_S_LOGINWAIT)
		return;
	s->state = POP3_S_AUTHORIZATION;
	switch (r) {
	case POP3_LOGIN_OK:
		s->msgs = msgs;
		s->nmsgs = n;
		s->ndeleted = 0;
		s->state = POP3_S_TRANSACTION;
		pop3_server_ok_maildrop(s);
		return;
	case POP3_LOGIN_IN_USE:
		/* RFC 2449 8.1.1: another session holds the maildrop. */
		buf_puts(&s->out, "-ERR [IN-USE] mailbox locked\r\n");
		return;
	case POP3_LOGIN_TEMP:
		buf_puts(&s->out, "-ERR [SYS/TEMP] cannot open the mailbox, try again later\r\n");
		return;
	case POP3_LOGIN_THROTTLED:
		/* Temporary, not [AUTH]: the right password will work later. */
		buf_puts(&s->out, "-ERR [SYS/TEMP] too many failed logins from your address, try again later\r\n");
		break;
	case POP3_LOGIN_BAD:
	default:
		buf_puts(&s->out, "-ERR [AUTH] invalid user name or password\r\n");
		break;
	}
	/* RFC 1939 7: after a failed PASS the server may close. */
	if (++s->login_failures >= POP3_SERVER_MAX_LOGIN_FAILURES)
		s->state = POP3_S_CLOSED;
}

static void pop3_server_stls(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	(void)arg;
	(void)arglen;
	if (has_arg) {
		pop3_server_refuse(s, "STLS", 4, "syntax: STLS takes no argument");
		return;
	}
	if (s->cfg.tls_active) {
		pop3_server_refuse(s, "STLS", 4, "TLS already active");
		return;
	}
	if (!s->cfg.tls_available || s->ops->starttls == NULL) {
		pop3_server_refuse(s, "STLS", 4, "STLS not available");
		return;
	}
	buf_puts(&s->out, "+OK begin TLS negotiation\r\n");
	s->state = POP3_S_TLS;
	s->ops->starttls(s->ctx);
}

void pop3_server_tls_done(struct pop3_server *s)
{
	if (s->state != POP3_S_TLS)
		return;
	/* RFC 2595 4: discard whatever was learnt before; no new greeting. */
	s->cfg.tls_active = true;
	pop3_server_drop_user(s);
	pop3_server_wipe_line(s);
	s->line_overflow = s->line_cr = false;
	s->state = POP3_S_AUTHORIZATION;
}

/* ---- both states ---- */

static void pop3_server_capa(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	(void)arg;
	(void)arglen;
	if (has_arg) {
		pop3_server_refuse(s, "CAPA", 4, "syntax: CAPA takes no argument");
		return;
	}
	/* RFC 2449 5: the list may depend on the state; login
	 * capabilities are shown only when a login would be accepted. */
	buf_puts(&s->out, "+OK capability list follows\r\n");
	if (s->state == POP3_S_AUTHORIZATION) {
		if (s->cfg.tls_available && !s->cfg.tls_active)
			buf_puts(&s->out, "STLS\r\n");
		if (s->cfg.tls_active || s->cfg.loopback)
			buf_puts(&s->out, "USER\r\nSASL PLAIN\r\n");
	}
	buf_puts(&s->out, "TOP\r\n"
	                  "UIDL\r\n"
	                  "RESP-CODES\r\n"
	                  "AUTH-RESP-CODE\r\n"
	                  "PIPELINING\r\n"
	                  "IMPLEMENTATION tern\r\n"
	                  ".\r\n");
}

static void pop3_server_quit(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	(void)arg;
	(void)arglen;
	if (has_arg) {
		pop3_server_refuse(s, "QUIT", 4, "syntax: QUIT takes no argument");
		return;
	}
	if (s->state == POP3_S_TRANSACTION && s->ndeleted > 0 && s->ops->update) {
		/* RFC 1939 6: the UPDATE state, entered only from QUIT. */
		s->state = POP3_S_UPDATE;
		s->ops->update(s->ctx, s->msgs, s->nmsgs);
		return;
	}
	if (s->state == POP3_S_TRANSACTION) {
		size_t count;
		uint64_t octets;
		pop3_server_maildrop(s, &count, &octets);
		buf_printf(&s->out, "+OK bye, %zu message%s left\r\n", count, count == 1 ? "" : "s");
	} else {
		buf_puts(&s->out, "+OK bye\r\n");
	}
	s->state = POP3_S_CLOSED;
}

void pop3_server_update_done(struct pop3_server *s, bool ok)
{
	if (s->state != POP3_S_UPDATE)
		return;
	size_t count;
	uint64_t octets;
	pop3_server_maildrop(s, &count, &octets);
	if (ok)
		buf_printf(&s->out, "+OK bye, %zu message%s left\r\n", count, count == 1 ? "" : "s");
	else
		buf_puts(&s->out, "-ERR [SYS/TEMP] some deleted messages not removed\r\n");
	s->state = POP3_S_CLOSED;
}

/* ---- TRANSACTION ---- */

static void pop3_server_stat(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	(void)arg;
	(void)arglen;
	if (has_arg) {
		pop3_server_refuse(s, "STAT", 4, "syntax: STAT takes no argument");
		return;
	}
	size_t count;
	uint64_t octets;
	pop3_server_maildrop(s, &count, &octets);
	/* RFC 1939 5: exactly "+OK nn mm", which clients parse. */
	buf_printf(&s->out, "+OK %zu %llu\r\n", count, (unsigned long long)octets);
}

/* LIST and UIDL share their shape: one message, or a listing. */
static void pop3_server_listing(struct pop3_server *s, const char *verb, const char *arg, size_t arglen,
                                bool has_arg, bool uid)
{
	if (has_arg) {
		size_t i;
		if (pop3_server_msgno(s, verb, arg, arglen, &i) < 0)
			return;
		if (uid)
			buf_printf(&s->out, "+OK %zu %s\r\n", i + 1, s->msgs[i].uid);
		else
			buf_printf(&s->out, "+OK %zu %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
		return;
	}
	if (uid) {
		buf_puts(&s->out, "+OK unique-id listing follows\r\n");
	} else {
		size_t count;
		uint64_t octets;
		pop3_server_maildrop(s, &count, &octets);
		buf_printf(&s->out, "+OK %zu message%s (%llu octets)\r\n", count, count == 1 ? "" : "s",
		           (unsigned long long)octets);
	}
	/* The lines come from pop3_server_produce, as the client reads them:
	 * a maildrop of 100000 messages is a listing of megabytes. */
	s->state = POP3_S_LISTING;
	s->list_next = 0;
	s->list_uid = uid;
	pop3_server_produce(s);
}

bool pop3_server_produce(struct pop3_server *s)
{
	if (s->state != POP3_S_LISTING)
		return false;
	size_t before = s->out.len;
	while (s->out.len < POP3_SERVER_OUT_PAUSE && s->list_next < s->nmsgs) {
		size_t i = s->list_next++;
		if (s->msgs[i].deleted)
			continue;
		if (s->list_uid)
			buf_printf(&s->out, "%zu %s\r\n", i + 1, s->msgs[i].uid);
		else
			buf_printf(&s->out, "%zu %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
	}
	if (s->list_next >= s->nmsgs) {
		buf_puts(&s->out, ".\r\n");
		s->state = POP3_S_TRANSACTION;
	}
	return s->out.len > before;
}

static void pop3_server_list(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	pop3_server_listing(s, "LIST", arg, arglen, has_arg, false);
}

static void pop3_server_uidl(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	pop3_server_listing(s, "UIDL", arg, arglen, has_arg, true);
}

static void pop3_server_send(struct pop3_server *s, const char *verb, size_t i, long top)
{
	if (s->ops->retrieve == NULL || s->ops->retrieve(s->ctx, i, top) < 0) {
		/* Not counted as the client's error. */
		buf_puts(&s->out, "-ERR [SYS/TEMP] cannot read the message\r\n");
		if (s->ops->refused)
			s->ops->refused(s->ctx, verb, strlen(verb), "-ERR [SYS/TEMP] cannot read the message");
		return;
	}
	if (top < 0)
		buf_printf(&s->out, "+OK %llu octets\r\n", (unsigned long long)s->msgs[i].size);
	else
		buf_puts(&s->out, "+OK top of message follows\r\n");
	s->state = POP3_S_SENDING;
}

static void pop3_server_retr(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	size_t i;
	if (!has_arg) {
		pop3_server_refuse(s, "RETR", 4, "syntax: RETR msg");
		return;
	}
	if (pop3_server_msgno(s, "RETR", arg, arglen, &i) < 0)
		return;
	pop3_server_send(s, "RETR", i, -1);
}

static void pop3_server_top(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	const char *sp = has_arg ? memchr(arg, ' ', arglen) : NULL;
	uint64_t lines;
	if (sp == NULL || pop3_server_number(sp + 1, arglen - (size_t)(sp + 1 - arg), &lines) < 0) {
		pop3_server_refuse(s, "TOP", 3, "syntax: TOP msg n");
		return;
	}
	size_t i;
	if (pop3_server_msgno(s, "TOP", arg, (size_t)(sp - arg), &i) < 0)
		return;
	/* 18 digits fit in a long; more lines than the body has is the
	 * whole message (RFC 1939 7). */
	pop3_server_send(s, "TOP", i, (long)lines);
}

void pop3_server_retrieve_done(struct pop3_server *s, bool ok)
{
	if (s->state != POP3_S_SENDING)
		return;
	s->state = ok ? POP3_S_TRANSACTION : POP3_S_CLOSED;
}

static void pop3_server_dele(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	if (!has_arg) {
		pop3_server_refuse(s, "DELE", 4, "syntax: DELE msg");
		return;
	}
	uint64_t v;
	if (pop3_server_number(arg, arglen, &v) == 0 && v >= 1 && v <= s->nmsgs && s->msgs[v - 1].deleted) {
		char text[64];
		snprintf(text, sizeof text, "message %llu already deleted", (unsigned long long)v);
		pop3_server_refuse(s, "DELE", 4, text);
		return;
	}
	size_t i;
	if (pop3_server_msgno(s, "DELE", arg, arglen, &i) < 0)
		return;
	s->msgs[i].deleted = true;
	s->ndeleted++;
	buf_printf(&s->out, "+OK message %zu deleted\r\n", i + 1);
}

static void pop3_server_noop(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	(void)arg;
	(void)arglen;
	if (has_arg) {
		pop3_server_refuse(s, "NOOP", 4, "syntax: NOOP takes no argument");
		return;
	}
	buf_puts(&s->out, "+OK\r\n");
}

static void pop3_server_rset(struct pop3_server *s, const char *arg, size_t arglen, bool has_arg)
{
	(void)arg;
	(void)arglen;
	if (has_arg) {
		pop3_server_refuse(s, "RSET", 4, "syntax: RSET takes no argument");
		return;
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = false;
	s->ndeleted = 0;
	pop3_server_ok_maildrop(s);
}

static const struct pop3_server_verb pop3_server_verbs[] = {
	{"USER", POP3_V_AUTHZ | POP3_V_SECRET, pop3_server_user},
	{"PASS", POP3_V_AUTHZ | POP3_V_SECRET, pop3_server_pass},
	{"AUTH", POP3_V_AUTHZ | POP3_V_SECRET, pop3_server_auth},
	{"STLS", POP3_V_AUTHZ, pop3_server_stls},
	{"CAPA", POP3_V_AUTHZ | POP3_V_TRANS, pop3_server_capa},
	{"QUIT", POP3_V_AUTHZ | POP3_V_TRANS, pop3_server_quit},
	{"STAT", POP3_V_TRANS, pop3_server_stat},
	{"LIST", POP3_V_TRANS, pop3_server_list},
	{"RETR", POP3_V_TRANS, pop3_server_retr},
	{"DELE", POP3_V_TRANS, pop3_server_dele},
	{"NOOP", POP3_V_TRANS, pop3_server_noop},
	{"RSET", POP3_V_TRANS, pop3_server_rset},
	{"TOP", POP3_V_TRANS, pop3_server_top},
	{"UIDL", POP3_V_TRANS, pop3_server_uidl},
};

/* One complete command line, CR LF removed. */
static void pop3_server_command(struct pop3_server *s, const char *line, size_t len)
{
	/* Secrets stay out of the log: only verbs are quoted, since a
	 * confused client may send a password or an AUTH response as a
	 * command. */
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	const struct pop3_server_verb *v = NULL;
	for (size_t i = 0; i < sizeof pop3_server_verbs / sizeof pop3_server_verbs[0]; i++)
		if (strlen(pop3_server_verbs[i].name) == vlen && strncasecmp(line, pop3_server_verbs[i].name, vlen) == 0)
			v = &pop3_server_verbs[i];
	if (v == NULL) {
		pop3_server_refuse(s, line, vlen, "unknown command");
		return;
	}
	unsigned need = s->state == POP3_S_TRANSACTION ? POP3_V_TRANS : POP3_V_AUTHZ;
	if (!(v->flags & need)) {
		pop3_server_refuse(s, v->name, strlen(v->name), "command not valid in this state");
		return;
	}
	if ((v->flags & POP3_V_SECRET) && !s->cfg.tls_active && !s->cfg.loopback) {
		/* RFC 2595 2.2: passwords never cross the network in clear. */
		pop3_server_drop_user(s);
		pop3_server_refuse(s, v->name, strlen(v->name), "[AUTH] login refused without TLS: use STLS first");
		return;
	}
	bool has_arg = vlen < len;
	const char *arg = has_arg ? line + vlen + 1 : line + len;
	v->run(s, arg, has_arg ? len - vlen - 1 : 0, has_arg);
}

/* A whole line arrived (CR LF included in s->line). */
static void pop3_server_line_done(struct pop3_server *s)
{
	size_t max = s->state == POP3_S_SASL ? POP3_SASL_LINE_MAX : POP3_LINE_MAX;
	const char *line = s->line.data;
	size_t len = s->line.len - 2;
	if (s->line_overflow || s->line.len > max) {
		if (s->state == POP3_S_SASL)
			s->state = POP3_S_AUTHORIZATION; /* the exchange is abandoned */
		pop3_server_refuse(s, "(long line)", 11, "line too long");
	} else if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len)) {
		if (s->state == POP3_S_SASL)
			s->state = POP3_S_AUTHORIZATION;
		pop3_server_refuse(s, "(invalid line)", 14, "invalid line: only CR LF ends a line");
	} else if (s->state == POP3_S_SASL) {
		pop3_server_sasl_line(s, line, len);
	} else {
		pop3_server_command(s, line, len);
	}
	s->line_overflow = false;
	pop3_server_wipe_line(s);
}

/* Collect one line: returns the octets consumed (up to and including the
 * LF of its CR LF, or all of in when the line goes on). */
static size_t pop3_server_feed_line(struct pop3_server *s, const char *in, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *lf = memchr(in + i, '\n', n - i);
		size_t chunk = lf ? (size_t)(lf - (in + i)) + 1 : n - i;
		bool crlf = lf && (lf > in + i ? lf[-1] == '\r' : s->line_cr);
		if (!s->line_overflow && buf_append(&s->line, in + i, chunk) < 0) {
			s->line_overflow = true;
			pop3_server_wipe_line(s);
		}
		s->line_cr = in[i + chunk - 1] == '\r';
		i += chunk;
		if (!crlf)
			continue;
		s->line_cr = false;
		if (s->line_overflow && s->line.len < 2)
			buf_puts(&s->line, "\r\n"); /* keep len - 2 defined */
		pop3_server_line_done(s);
		return i;
	}
	return i;
}

size_t pop3_server_feed(struct pop3_server *s, const char *in, size_t n)
{
	size_t used = 0;
	while (used < n) {
		switch (s->state) {
		case POP3_S_AUTHORIZATION:
		case POP3_S_SASL:
		case POP3_S_TRANSACTION:
			break;
		default:
			return used; /* waiting, listing, or closed */
		}
		if (s->out.len >= POP3_SERVER_OUT_PAUSE)
			return used; /* the replies so far must leave first */
		size_t k = pop3_server_feed_line(s, in + used, n - used);
		used += k;
		if (k == 0)
			break;
	}
	return used;
}

void pop3_server_abort(struct pop3_server *s, const char *text)
{
	/* In the middle of a message or a listing a line would corrupt it:
	 * just close. */
	if (s->state != POP3_S_SENDING && s->state != POP3_S_LISTING && s->state != POP3_S_CLOSED && text)
		buf_printf(&s->out, "-ERR %s\r\n", text);
	s->state = POP3_S_CLOSED;
}
