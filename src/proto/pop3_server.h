/*
 * pop3_server — the POP3 server session engine: RFC 1939 (USER, PASS,
 * STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL), RFC 2449 (CAPA,
 * response codes, the 255-octet command line), RFC 2595 (STLS) and RFC
 * 5034 (AUTH PLAIN, with or without an initial response).
 *
 * Pure, like smtp_server: the caller feeds the bytes it read and sends
 * what the engine appended to `out`. The world is reached through the ops
 * table; the slow steps (the password check and the opening of the
 * maildrop, sending a message, applying deletions) are asynchronous: the
 * engine stops consuming input until the matching *_done() call, so
 * pipelined commands (RFC 2449 6.6) are answered in order.
 *
 * Messages are streamed by the caller, not by the engine: after RETR/TOP
 * the engine has put the "+OK" line in `out` and calls ops->retrieve();
 * the caller sends `out`, then the message through pop3_server_stuff()
 * (LF to CR LF, dot-stuffing, the TOP line limit) and
 * pop3_server_stuff_end() (the terminating ".\r\n"), then calls
 * pop3_server_retrieve_done(). The same line rules give the sizes that
 * LIST and STAT announce (pop3_server_measure()).
 */
#ifndef TERN_POP3_SERVER_H
#define TERN_POP3_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/crlf.h"

#define POP3_LINE_MAX 255          /* RFC 2449 4: a command line, CR LF included */
#define POP3_SASL_LINE_MAX 2048    /* an AUTH continuation line, CR LF included */
#define POP3_UID_MAX 70            /* RFC 1939 7: a unique-id is 1 to 70 octets */
#define POP3_USER_MAX 255          /* a login name (a full address) */
#define POP3_PASS_MAX 255
#define POP3_SERVER_MAX_ERRORS 20  /* then -ERR and close, as the SMTP engine */
#define POP3_SERVER_MAX_LOGIN_FAILURES 3 /* per connection; the per-address throttle is the glue's */
/* Replies waiting in `out` above which no command is read and a listing
 * stops growing (pop3_server_produce goes on once `out` was sent): a
 * client that never reads cannot make the engine hold more than this
 * plus one line. */
#define POP3_SERVER_OUT_PAUSE 4096

enum pop3_server_state {
	POP3_S_AUTHORIZATION, /* RFC 1939 4: greeting sent, not logged in */
	POP3_S_SASL,          /* AUTH PLAIN without initial response: waiting for the response line */
	POP3_S_LOGINWAIT,     /* ops->login in progress */
	POP3_S_TLS,           /* +OK to STLS sent: the caller starts TLS */
	POP3_S_TRANSACTION,   /* RFC 1939 5: logged in, maildrop open */
	POP3_S_LISTING,       /* LIST or UIDL without argument: lines still to produce */
	POP3_S_SENDING,       /* RETR/TOP: the caller streams the message */
	POP3_S_UPDATE,        /* RFC 1939 6: QUIT, deletions being applied */
	POP3_S_CLOSED,        /* flush out, then close */
};

/* What the glue learnt from the password check and the maildrop. */
enum pop3_login_result {
	POP3_LOGIN_OK,        /* msgs/nmsgs is the maildrop */
	POP3_LOGIN_BAD,       /* -ERR [AUTH] */
	POP3_LOGIN_THROTTLED, /* too many failures from this address: -ERR [SYS/TEMP] */
	POP3_LOGIN_IN_USE,    /* another session holds the maildrop: -ERR [IN-USE] */
	POP3_LOGIN_TEMP,      /* the maildrop could not be read: -ERR [SYS/TEMP] */
};

/* One message of the maildrop as the engine sees it. */
struct pop3_msg {
	uint64_t size;                 /* octets as sent: CR LF line ends, before dot-stuffing */
	char uid[POP3_UID_MAX + 1];    /* RFC 1939 7: 0x21..0x7E, stable across sessions */
	bool deleted;                  /* DELE in this session; applied only in UPDATE */
};

struct pop3_server_ops {
	/* PASS or AUTH PLAIN gave credentials: check them (and open the
	 * maildrop) asynchronously, then call pop3_server_login_done(). The
	 * strings live only during the call. */
	void (*login)(void *ctx, const char *user, const char *pass);
	/* RETR (top_lines -1) or TOP: prepare to send message `index`
	 * (0-based). 0: the engine answers +OK and waits for
	 * pop3_server_retrieve_done(); -1: it answers -ERR [SYS/TEMP]. */
	int (*retrieve)(void *ctx, size_t index, long top_lines);
	/* QUIT in TRANSACTION: remove the messages marked deleted, then call
	 * pop3_server_update_done(). Called only when some are marked. */
	void (*update)(void *ctx, const struct pop3_msg *msgs, size_t n);
	/* The +OK to STLS is in `out`: send it, start TLS, then call
	 * pop3_server_tls_done(). May be NULL when TLS is unavailable. */
	void (*starttls)(void *ctx);
	/* Every -ERR the engine sends, for the log: the command (secrets
	 * removed) and the reply line without CR LF. May be NULL. */
	void (*refused)(void *ctx, const char *cmd, size_t cmdlen, const char *reply);
};

struct pop3_server_config {
	bool tls_available;   /* offer STLS */
	bool tls_active;      /* the session already runs over TLS (pop3s) */
	bool loopback;        /* the client is on a loopback address */
};

struct pop3_server {
	enum pop3_server_state state;
	const struct pop3_server_ops *ops;
	void *ctx;
	struct pop3_server_config cfg;
	struct buf out;              /* replies waiting to be sent (owned) */
	struct buf line;             /* partial command line (owned) */
	bool line_overflow;          /* discarding a too long line up to its CR LF */
	bool line_cr;                /* the last octet read was CR */
	unsigned errors;
	unsigned login_failures;
	bool have_user;              /* USER accepted, PASS expected */
	char user[POP3_USER_MAX + 1];
	/* the maildrop, from pop3_server_login_done(): owned by the caller,
	 * which keeps it alive until pop3_server_free() */
	struct pop3_msg *msgs;
	size_t nmsgs;
	unsigned ndeleted;           /* messages marked deleted */
	size_t list_next;            /* POP3_S_LISTING: the next message to list */
	bool list_uid;               /* ...for UIDL (else LIST) */
};

void pop3_server_init(struct pop3_server *s, const struct pop3_server_config *cfg,
                      const struct pop3_server_ops *ops, void *ctx);
void pop3_server_free(struct pop3_server *s);
/* Put the greeting in out (RFC 1939 4). */
void pop3_server_greet(struct pop3_server *s);
/* Feed bytes read from the client; returns how many were consumed. Fewer
 * than n when the engine waits (login, TLS, sending, update) or closed:
 * keep the rest and feed it again after the wait ends. */
size_t pop3_server_feed(struct pop3_server *s, const char *in, size_t n);
/* In POP3_S_LISTING: append the next lines of the listing (until `out`
 * holds POP3_SERVER_OUT_PAUSE octets or the listing ends). True when it
 * appended something; after the terminating "." the engine reads
 * commands again. */
bool pop3_server_produce(struct pop3_server *s);
/* The login ended. With POP3_LOGIN_OK, msgs (caller-owned, n entries)
 * is the maildrop for the whole session. */
void pop3_server_login_done(struct pop3_server *s, enum pop3_login_result r, struct pop3_msg *msgs, size_t n);
/* The message was sent, terminator included (ok), or could not be (the
 * session must close: a multi-line reply cannot be taken back). */
void pop3_server_retrieve_done(struct pop3_server *s, bool ok);
/* The deletions were applied (ok) or some failed. Then the session closes. */
void pop3_server_update_done(struct pop3_server *s, bool ok);
/* TLS is up: forget everything learnt before (RFC 2595 4). */
void pop3_server_tls_done(struct pop3_server *s);
/* Shutdown or idle timeout: a last -ERR line, then close (no UPDATE). */
void pop3_server_abort(struct pop3_server *s, const char *text);
/* True when the session must be closed once out is sent. */
bool pop3_server_is_closed(const struct pop3_server *s);
/* Between commands, not waiting for the caller nor in a multi-line
 * answer: a limit may close the session here. */
bool pop3_server_is_idle(const struct pop3_server *s);
/* RETR/TOP: the caller is sending a message. */
bool pop3_server_is_sending(const struct pop3_server *s);
/* The +OK to STLS was sent: the caller starts TLS. */
bool pop3_server_wants_tls(const struct pop3_server *s);
/* Count and size of the messages not marked deleted. */
void pop3_server_maildrop(const struct pop3_server *s, size_t *count, uint64_t *octets);

/*
 * Sending a message stored with LF line ends (RFC 1939 3): every LF not
 * already preceded by CR becomes CR LF, a line starting with '.' gets one
 * more '.', and a last line without LF is ended. Incremental: the state
 * carries over between pieces read from a file, split anywhere.
 *
 * TOP (RFC 1939 7): top_lines >= 0 sends the header, the blank line, then
 * that many body lines; `done` becomes true at that point and the rest of
 * the input is not consumed. A message without a blank line is all
 * header.
 */
struct pop3_stuff {
	long top_lines;   /* body lines still to send; -1: the whole message */
	bool in_body;     /* past the blank line that ends the header */
	bool midline;     /* some octet of the current line was sent */
	bool line_text;   /* the current line holds an octet other than a trailing CR */
	bool cr;          /* the last octet was CR */
	bool done;        /* the TOP limit was reached */
};

void pop3_server_stuff_init(struct pop3_stuff *st, long top_lines);
/* Convert n octets of lf_text into out. Returns the octets consumed (n,
 * or fewer once st->done), or -1 when out is full (out unchanged past the
 * last whole piece; st then no longer matches: abandon the transfer). */
long pop3_server_stuff(struct pop3_stuff *st, const char *lf_text, size_t n, struct buf *out);
/* End the last line if needed and append the terminating ".\r\n". 0/-1. */
int pop3_server_stuff_end(struct pop3_stuff *st, struct buf *out);

/* The size as sent (CR LF counted, stuffing not) of a message read in
 * pieces: init, feed every piece, then end. */
struct pop3_measure {
	uint64_t size;
	struct crlf_state crlf;
	bool midline;     /* the last line has no LF yet */
};
void pop3_server_measure_init(struct pop3_measure *m);
void pop3_server_measure(struct pop3_measure *m, const char *lf_text, size_t n);
uint64_t pop3_server_measure_end(struct pop3_measure *m);

#endif
