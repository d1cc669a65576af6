/*
 * smtp_reply_parse — the client's reader of server replies (RFC 5321 4.2,
 * 4.2.1 multi-line replies, 4.5.3.1.5 reply line length), with the
 * enhanced status codes of RFC 3463 / RFC 2034, and the parser of the EHLO
 * keywords a client acts on (RFC 5321 4.1.1.1, RFC 2920 PIPELINING, RFC
 * 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3030 CHUNKING, RFC
 * 3207 STARTTLS, RFC 4954 AUTH, RFC 2034 ENHANCEDSTATUSCODES).
 *
 * Pure and incremental: bytes in (in pieces of any size), complete replies
 * out. Every line meets a length cap where it enters, every reply a cap on
 * its lines, so a hostile server cannot make the client hold more than
 * SMTP_REPLY_TEXT_MAX octets. Must not do I/O.
 */
#ifndef TERN_SMTP_REPLY_PARSE_H
#define TERN_SMTP_REPLY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SMTP_REPLY_LINE_MAX 512       /* RFC 5321 4.5.3.1.5: reply line, CR LF included */
#define SMTP_REPLY_LINE_LENIENT 2048  /* what we accept: real servers exceed 512 (long EHLO AUTH lists) */
#define SMTP_REPLY_LINES_MAX 128      /* lines in one multi-line reply */
#define SMTP_REPLY_TEXT_MAX 16384     /* octets kept of one reply (raw and text each) */
#define SMTP_REPLY_STATUS_MAX 16      /* "5.7.255" plus the NUL, with room */

/* One complete reply. */
struct smtp_response {
	int code;                           /* 200 to 599 */
	char status[SMTP_REPLY_STATUS_MAX]; /* enhanced status code of the first line ("5.1.1"), or "" */
	unsigned nlines;
	struct buf raw;  /* the lines as received, CR LF removed, joined with '\n' (owned) */
	struct buf text; /* the lines' texts after code and status, joined with '\n' (owned) */
};

enum smtp_reply_parse_result {
	SMTP_REPLY_PARSE_MORE = 0, /* every octet consumed, no reply complete yet */
	SMTP_REPLY_PARSE_DONE,     /* a reply is complete in p->reply */
	SMTP_REPLY_PARSE_ERROR,    /* garbage: p->error says what; the stream cannot be trusted any more */
};

struct smtp_reply_parser {
	struct smtp_response reply; /* the reply being assembled, or the last complete one */
	struct buf line;            /* the partial line (owned) */
	bool done;                  /* reply holds a complete reply: reset it before the next line */
	bool failed;                /* an error was returned: every later feed fails too */
	const char *error;          /* static text when failed */
};

void smtp_reply_parse_init(struct smtp_reply_parser *p);
void smtp_reply_parse_free(struct smtp_reply_parser *p);

/*
 * Feed n octets. Stops right after the first complete reply, so that the
 * caller can act on it (after a 220 to STARTTLS, whatever follows is
 * plaintext that must never be read: RFC 3207 5); *consumed says how far
 * it got. Lines end with CR LF; a bare LF is accepted as a line end, as
 * most clients do (the reply is data for us, not a command). A line that
 * does not start with a code of RFC 5321 4.2 (first digit 2-5, second
 * 0-5), whose code differs from the previous line of the same reply, or
 * that holds a NUL or passes SMTP_REPLY_LINE_LENIENT, is garbage.
 */
enum smtp_reply_parse_result smtp_reply_parse_feed(struct smtp_reply_parser *p, const char *in, size_t n,
                                                   size_t *consumed);

/* True when a reply has started but is not complete (a partial line or
 * "250-" lines so far): an EOF now cuts a reply in half. */
bool smtp_reply_parse_is_partial(const struct smtp_reply_parser *p);

/* The reply on one line for messages and logs: "550 5.1.1 text / more
 * text", control octets escaped, at most outlen - 1 octets. */
void smtp_reply_parse_format(const struct smtp_response *r, char *out, size_t outlen);

/* AUTH mechanisms a client can use (RFC 4954). */
enum {
	SMTP_AUTH_PLAIN = 1 << 0, /* RFC 4616 */
	SMTP_AUTH_LOGIN = 1 << 1, /* draft-murchison-sasl-login */
	SMTP_AUTH_CRAM_MD5 = 1 << 2,
	SMTP_AUTH_XOAUTH2 = 1 << 3,
	SMTP_AUTH_OTHER = 1 << 4,
};

/* The service extensions of a 250 reply to EHLO. */
struct smtp_ehlo {
	bool pipelining;          /* RFC 2920 */
	bool has_size;            /* RFC 1870: SIZE announced */
	uint64_t size;            /* its limit; 0: no fixed limit announced */
	bool eightbitmime;        /* RFC 6152 */
	bool smtputf8;            /* RFC 6531 */
	bool chunking;            /* RFC 3030 */
	bool binarymime;          /* RFC 3030 */
	bool starttls;            /* RFC 3207 */
	bool enhancedstatuscodes; /* RFC 2034 */
	bool dsn;                 /* RFC 3461 */
	unsigned auth;            /* SMTP_AUTH_* offered */
};

/* Keywords are case-insensitive; the first line (the server's name) is
 * skipped; unknown keywords are ignored. The pre-RFC "AUTH=PLAIN LOGIN"
 * form is understood too. */
void smtp_reply_parse_ehlo(const struct smtp_response *r, struct smtp_ehlo *e);

#endif
