/*
 * smtp_server — the SMTP server session engine (RFC 5321, with RFC 2920
 * PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 2034
 * ENHANCEDSTATUSCODES, RFC 6531 SMTPUTF8, RFC 3030 CHUNKING).
 *
 * Pure: the caller feeds the bytes it read and sends what the engine put
 * in `out`. Work that needs the world (deciding a recipient, storing the
 * content, committing the message) goes through the ops table; the one
 * slow step, the commit, is asynchronous: the engine stops consuming input
 * until smtp_server_commit_done() is called. The caller flushes `out`
 * whenever smtp_server_feed() has consumed all input or stopped: that is
 * all PIPELINING needs (the replies to a pipelined group leave together).
 */
#ifndef TERN_SMTP_SERVER_H
#define TERN_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/smtp_addr.h"
#include "proto/smtp_cmd.h"
#include "proto/smtp_data.h"
#include "proto/smtp_reply.h"

#define SMTP_SERVER_MAX_RCPTS 1000  /* RFC 5321 4.5.3.1.8 asks for at least 100 */
#define SMTP_SERVER_MAX_ERRORS 20   /* then 421 and close, as Postfix's hard error limit */
#define SMTP_SERVER_BODY_FLUSH 65536 /* decoded content handed to data_write in blocks this big */
#define SMTP_AUTH_LINE_MAX 12288     /* RFC 4954 4: AUTH command and response lines */
#define SMTP_AUTH_SECRET_MAX 1024    /* longest password passed to the checker */
/* Replies waiting in `out` above which no further command is read: a
 * client pipelining without reading cannot make the engine hold more
 * than this plus one reply (the caller sends `out` between feeds). */
#define SMTP_SERVER_OUT_PAUSE 4096

enum smtp_server_state {
	SMTP_S_INIT,    /* greeting sent, no HELO/EHLO yet */
	SMTP_S_READY,   /* HELO/EHLO done, no transaction */
	SMTP_S_MAIL,    /* MAIL accepted */
	SMTP_S_RCPT,    /* at least one RCPT accepted */
	SMTP_S_DATA,    /* reading DATA content */
	SMTP_S_BDAT,    /* reading a BDAT chunk */
	SMTP_S_WAIT,    /* content complete, commit in progress */
	SMTP_S_TLS,     /* 220 to STARTTLS sent; the caller starts TLS */
	SMTP_S_AUTH,    /* waiting for an AUTH continuation line */
	SMTP_S_AUTHWAIT,/* password check in progress */
	SMTP_S_CLOSED,  /* QUIT or fatal: flush out, then close */
};

struct smtp_server;

struct smtp_server_ops {
	/* MAIL passed the syntax checks: accept (SMTP_R_MAIL_OK) or refuse. */
	enum smtp_reply_id (*mail)(void *ctx, const struct smtp_addr *from, const struct smtp_mail_params *p);
	/* RCPT passed the syntax checks: accept (SMTP_R_RCPT_OK) or refuse. */
	enum smtp_reply_id (*rcpt)(void *ctx, const struct smtp_addr *to);
	/* Content begins: prepare storage. SMTP_R_OK or a refusal. */
	enum smtp_reply_id (*data_begin)(void *ctx);
	/* Decoded content (LF line endings). 0, or -1: storage failed (the
	 * engine keeps reading, then answers 452 4.3.1 and calls data_abort). */
	int (*data_write)(void *ctx, const char *p, size_t n);
	/* Content complete and acceptable: make it durable, then call
	 * smtp_server_commit_done() (later, from the event loop). */
	void (*data_commit)(void *ctx, const struct smtp_data *d);
	/* Content refused or the transaction reset while storing. */
	void (*data_abort)(void *ctx);
	/* The transaction ended (RSET, HELO, after the final reply). */
	void (*reset)(void *ctx);
	/* The 220 to STARTTLS is in `out`: flush it, then start TLS, then
	 * call smtp_server_tls_done(). May be NULL when TLS is unavailable. */
	void (*starttls)(void *ctx);
	/* AUTH: a complete mechanism exchange; check asynchronously, then call
	 * smtp_server_auth_done(). May be NULL when AUTH is unavailable. */
	void (*auth_check)(void *ctx, const char *user, const char *pass);
	/* Submission: append the header fields the message lacks (`have` is
	 * SMTP_HDR_* seen) to out, each ending in LF. May be NULL. */
	void (*missing_headers)(void *ctx, unsigned have, struct buf *out);
	/* Every 4xx/5xx reply the engine sends, for the log. May be NULL. */
	void (*refused)(void *ctx, const char *cmd, size_t cmdlen, const struct smtp_reply *r);
};

struct smtp_server_config {
	const char *hostname;
	uint64_t max_size;
	bool tls_available;   /* offer STARTTLS */
	bool tls_active;      /* the session already runs over TLS */
	bool auth_available;  /* offer AUTH (TLS or loopback) */
	bool auth_required;   /* submission roles: MAIL needs AUTH */
	bool fix_headers;     /* submission: add missing Date, Message-ID, From */
};

struct smtp_server {
	enum smtp_server_state state;
	const struct smtp_server_ops *ops;
	void *ctx;
	struct smtp_server_config cfg;
	struct buf out;          /* replies waiting to be sent (owned) */
	struct buf line;         /* partial command line (owned) */
	bool line_overflow;      /* discarding a too long line up to its CR LF */
	bool line_cr;            /* the last octet read in command mode was CR */
	bool esmtp;              /* EHLO (not HELO) */
	char helo[256];          /* the client's HELO/EHLO argument */
	unsigned errors;
	const char *cmd_line;    /* the command being handled, for the log */
	size_t cmd_len;
	/* transaction */
	struct smtp_addr from;
	struct smtp_mail_params mail;
	unsigned nrcpts;
	bool bdat_used, bdat_last;
	enum smtp_reply_id bdat_refusal;      /* SMTP_R_OK, or the answer owed once the chunk is read */
	enum smtp_server_state bdat_prev_state;
	uint64_t bdat_left;
	bool storing;            /* data_begin succeeded, data_abort owed on failure */
	bool store_failed;       /* data_write failed */
	bool oversize;
	bool headers_fixed;      /* submission fix-ups done (or given up) */
	struct smtp_data dec;
	struct buf body;         /* decoded content not yet handed out (owned) */
	/* AUTH */
	bool authenticated;
	char auth_user[256];
	int auth_mech;           /* private */
	int auth_step;
};

void smtp_server_init(struct smtp_server *s, const struct smtp_server_config *cfg,
                      const struct smtp_server_ops *ops, void *ctx);
void smtp_server_free(struct smtp_server *s);
/* Put the 220 greeting in out. */
void smtp_server_greet(struct smtp_server *s);
/* Feed bytes read from the client; returns how many were consumed. Fewer
 * than n when the engine waits (commit, TLS, AUTH check) or closed: keep
 * the rest and feed it again after the wait ends. */
size_t smtp_server_feed(struct smtp_server *s, const char *in, size_t n);
/* The commit ended: reply SMTP_R_OK with the queue id, or a refusal. */
void smtp_server_commit_done(struct smtp_server *s, enum smtp_reply_id r, const char *queue_id);
/* TLS is up: forget everything learnt before (RFC 3207 4.2). AUTH may be
 * offered now (auth_available). */
void smtp_server_tls_done(struct smtp_server *s, bool auth_available);
/* True while the 220 to STARTTLS waits for the caller's handshake. */
bool smtp_server_wants_tls(const struct smtp_server *s);
/* Between commands, not waiting for the caller: a shutdown or a limit
 * may close the session here without cutting anything short. */
bool smtp_server_is_idle(const struct smtp_server *s);
/* Reading message content (DATA, or a BDAT chunk). */
bool smtp_server_in_content(const struct smtp_server *s);
/* End the session with this reply (a timeout, a limit, a shutdown): it
 * is appended to out and the engine closes. */
void smtp_server_close(struct smtp_server *s, enum smtp_reply_id id);
/* The password check ended. */
void smtp_server_auth_done(struct smtp_server *s, bool ok, enum smtp_reply_id fail_reply);
/* Append a reply from the table (with an optional prefix like "<a@b>: "). */
void smtp_server_reply(struct smtp_server *s, enum smtp_reply_id id, const char *prefix);
/* True when the session must be closed once out is sent. */
bool smtp_server_is_closed(const struct smtp_server *s);

#endif
