/*
 * smtp_client — the SMTP client session engine for one connection, which
 * may carry several transactions (RFC 5321 3 and 4), with RFC 2920
 * PIPELINING, RFC 3030 CHUNKING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531
 * SMTPUTF8, RFC 3207 STARTTLS and RFC 4954 AUTH (PLAIN, LOGIN). Used by
 * `tern send` and by the relay.
 *
 * Pure, like smtp_server: the caller feeds the bytes it read
 * (smtp_client_feed) and sends whatever the engine put in `out` after every
 * call into the engine; the engine never blocks and knows no clock. What
 * the caller must do next is read from the engine's state:
 *
 *   smtp_client_wants_tls()     the 220 to STARTTLS arrived: discard any
 *                               unread input, run the TLS handshake, then
 *                               call smtp_client_tls_done();
 *   smtp_client_is_ready()      idle between transactions: call
 *                               smtp_client_send() or smtp_client_quit();
 *   smtp_client_wants_content() push the message with smtp_client_content()
 *                               (all at once, or in pieces as output drains);
 *   smtp_client_is_closed()     finished (c->failed says how): close once
 *                               `out` is sent.
 * Connection trouble (EOF, timeout, error) is reported with
 * smtp_client_abort(). How long to wait for the server is the caller's
 * job: smtp_client_timeout() gives the RFC 5321 4.5.3.2 value for the
 * current wait.
 *
 * Round trips: each time the engine has sent something and can send
 * nothing more until a reply arrives, c->round_trips grows by one. The wait
 * for the greeting is not counted. One message to one recipient takes 2
 * against a server with PIPELINING and CHUNKING (EHLO; then MAIL, RCPT,
 * BDAT LAST with the content, QUIT), 3 with PIPELINING only (the DATA group
 * waits for 354), 6 without extensions (EHLO, MAIL, RCPT, DATA, the
 * content, QUIT).
 */
#ifndef TERN_SMTP_CLIENT_H
#define TERN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/smtp_content.h"
#include "proto/smtp_reply_parse.h"

/* RFC 5321 4.5.3.2: how long a client waits, in seconds. */
#define SMTP_CLIENT_TIMEOUT_GREETING 300 /* 4.5.3.2.1 initial 220 */
#define SMTP_CLIENT_TIMEOUT_MAIL 300     /* 4.5.3.2.2 (also EHLO, STARTTLS, AUTH, RSET, QUIT) */
#define SMTP_CLIENT_TIMEOUT_RCPT 300     /* 4.5.3.2.3 */
#define SMTP_CLIENT_TIMEOUT_DATA 120     /* 4.5.3.2.4 DATA initiation */
#define SMTP_CLIENT_TIMEOUT_BLOCK 180    /* 4.5.3.2.5 each data block sent */
#define SMTP_CLIENT_TIMEOUT_DOT 600      /* 4.5.3.2.6 DATA termination (and BDAT LAST) */

#define SMTP_CLIENT_MAX_RCPTS 10000      /* recipients in one transaction */
#define SMTP_CLIENT_TEXT_MAX 512         /* a reply kept for a recipient, one line */

enum smtp_client_tls_mode {
	SMTP_CLIENT_TLS_NONE = 0,      /* never STARTTLS */
	SMTP_CLIENT_TLS_OPPORTUNISTIC, /* STARTTLS when offered; plaintext if refused (the relay) */
	SMTP_CLIENT_TLS_REQUIRED,      /* STARTTLS or fail (tern send --starttls) */
};

struct smtp_client_config {
	const char *helo;                  /* our name for EHLO/HELO (borrowed) */
	enum smtp_client_tls_mode starttls;
	bool tls_active;                   /* the connection is TLS already (RFC 8314 implicit TLS) */
	const char *user, *password;       /* AUTH when user is set (borrowed) */
	bool no_pipelining;                /* one command per round trip even when PIPELINING is offered */
	bool no_chunking;                  /* DATA even when CHUNKING is offered */
};

/* A server's reply, or the engine's own verdict when no reply applies. */
struct smtp_client_reply {
	int code;        /* 2xx-5xx; for local verdicts 4xx = temporary, 5xx = permanent */
	char status[SMTP_REPLY_STATUS_MAX]; /* enhanced status code, or "" */
	char text[SMTP_CLIENT_TEXT_MAX];    /* server: the whole reply on one line ("550 5.1.1 ...");
	                                       local: an explanation without code */
	bool local;      /* made by the engine, not received */
};

enum smtp_client_rcpt_state {
	SMTP_CLIENT_RCPT_PENDING = 0, /* no answer yet */
	SMTP_CLIENT_RCPT_ACCEPTED,    /* RCPT accepted, the content not yet */
	SMTP_CLIENT_RCPT_DELIVERED,   /* the server took the message for it (final 2xx) */
	SMTP_CLIENT_RCPT_REFUSED,     /* refused or failed: reply says why and whether for good */
};

struct smtp_client_rcpt {
	const char *addr;                   /* "local@domain" without brackets (borrowed) */
	enum smtp_client_rcpt_state state;  /* written by the engine */
	struct smtp_client_reply reply;     /* the RCPT reply, then the final one */
};

/* One transaction. The caller owns it and everything it points to until
 * it is done (t->done, reported through ops->txn_done). */
struct smtp_client_txn {
	const char *from;              /* envelope sender; "" for the null path <> */
	struct smtp_client_rcpt *rcpts;
	size_t nrcpts;
	uint64_t size;                 /* content size in CR LF form, for SIZE= (0: unknown) */
	bool eightbit;                 /* the content has octets >= 0x80 (BODY=8BITMIME) */
	bool utf8_headers;             /* UTF-8 in the header section: SMTPUTF8 when offered */
	bool last;                     /* no transaction follows: QUIT may travel with the content */
	void *user;                    /* the caller's */
	/* results */
	bool done;
	bool ok;                       /* delivered to at least one recipient */
	struct smtp_client_reply reply; /* the final reply, or why the transaction failed */
	/* private to the engine */
	int phase;
	bool failed, mail_sent, mail_ok, content_sent, utf8;
	size_t next_rcpt, nreplied, naccepted;
	unsigned npend;
	struct smtp_content enc;
};

struct smtp_client_ops {
	/* One protocol line: dir 'C' (sent) or 'S' (received), without CR LF;
	 * AUTH secrets are already masked. May be NULL. */
	void (*trace)(void *ctx, char dir, const char *line, size_t len);
	/* A transaction is complete (t->done). Record the outcome; do not call
	 * into the engine from here. May be NULL. */
	void (*txn_done)(void *ctx, struct smtp_client_txn *t);
};

enum smtp_client_state {
	SMTP_C_GREETING, /* waiting for the 220 greeting */
	SMTP_C_HELLO,    /* EHLO or HELO sent */
	SMTP_C_STARTTLS, /* STARTTLS sent */
	SMTP_C_TLS,      /* the caller runs the TLS handshake */
	SMTP_C_AUTH,     /* an AUTH exchange */
	SMTP_C_READY,    /* idle between transactions */
	SMTP_C_TXN,      /* a transaction is under way */
	SMTP_C_QUIT,     /* QUIT sent */
	SMTP_C_CLOSED,   /* finished: close the connection once out is sent */
};

struct smtp_client_pend; /* private: a command whose reply is awaited */

struct smtp_client {
	enum smtp_client_state state;
	struct smtp_client_config cfg;
	const struct smtp_client_ops *ops;
	void *ctx;
	struct buf out;               /* bytes to send (owned) */
	struct smtp_ehlo ehlo;        /* what the server offers (after EHLO) */
	bool esmtp;                   /* EHLO accepted (not HELO) */
	bool tls;                     /* the session runs over TLS */
	bool authenticated;
	unsigned round_trips;
	bool failed;                  /* the session ended in failure: error says why */
	struct smtp_client_reply error;
	/* private */
	struct smtp_reply_parser rp;
	struct smtp_client_txn *txn;
	struct smtp_client_pend *pend; /* awaited replies, in order (owned) */
	size_t pend_head, pend_len, pend_cap;
	bool sent;                    /* something was sent since the last wait */
	bool need_rset;               /* a failed transaction may still be open on the server */
	bool starttls_refused;
	bool quit_sent;
	int auth_mech, auth_step;
	struct buf chunk;             /* BDAT: one encoded chunk (owned) */
};

void smtp_client_init(struct smtp_client *c, const struct smtp_client_config *cfg,
                      const struct smtp_client_ops *ops, void *ctx);
void smtp_client_free(struct smtp_client *c);

/* Feed bytes read from the server; returns how many were used. Fewer than
 * n when the engine stopped: TLS is to start (the rest is plaintext sent
 * before the handshake and must be discarded, RFC 3207 5) or the session
 * is closed. */
size_t smtp_client_feed(struct smtp_client *c, const char *in, size_t n);

/* The TLS handshake after STARTTLS succeeded: everything learnt before is
 * forgotten and EHLO is sent again (RFC 3207 4.2). */
void smtp_client_tls_done(struct smtp_client *c);

/* Start a transaction (only when ready). The checks that need no server
 * come first: addresses, SMTPUTF8 needed but not offered (RFC 6531 3.2),
 * 8-bit content without 8BITMIME, a SIZE over the announced limit; such a
 * transaction fails at once and nothing is sent. 0, or -1 when the engine
 * is not ready. */
int smtp_client_send(struct smtp_client *c, struct smtp_client_txn *t);

/* Push content (only while smtp_client_wants_content()): the message with
 * LF or CR LF line endings, in pieces; end marks the last one. Returns 0,
 * or -1 when the content cannot be sent faithfully (a line over 998
 * octets, a bare CR, a NUL): the transaction fails and the session is
 * closed without ending the data, so that nothing truncated is delivered.
 * With BDAT each piece becomes one chunk: push large pieces. */
int smtp_client_content(struct smtp_client *c, const char *p, size_t n, bool end);

/* End the session politely (only when ready). */
void smtp_client_quit(struct smtp_client *c);

/* The connection broke (EOF, timeout, error: why). After QUIT this is
 * the normal end; otherwise the session and its transaction fail with a
 * temporary local error. */
void smtp_client_abort(struct smtp_client *c, const char *why);

bool smtp_client_wants_tls(const struct smtp_client *c);
bool smtp_client_is_ready(const struct smtp_client *c);
bool smtp_client_wants_content(const struct smtp_client *c);
bool smtp_client_is_closed(const struct smtp_client *c);
/* Seconds to wait for the server now (RFC 5321 4.5.3.2); 0: not waiting. */
unsigned smtp_client_timeout(const struct smtp_client *c);

/* Check an address for MAIL (sender: "" is the null path) or RCPT: 0, or
 * -1 when it is not a valid RFC 5321 Mailbox; *utf8 tells whether it
 * needs SMTPUTF8. */
int smtp_client_addr_check(const char *addr, bool sender, bool *utf8);

/* "550 5.1.1 text" or the local explanation, for messages. */
const char *smtp_client_reply_text(const struct smtp_client_reply *r);
/* 2, 4 or 5: the class of a reply. */
int smtp_client_reply_class(const struct smtp_client_reply *r);

#endif
