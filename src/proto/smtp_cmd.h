/*
 * smtp_cmd — split one SMTP command line (CR LF already removed) into a
 * verb and its argument, and parse the arguments of MAIL and RCPT with
 * their ESMTP parameters (RFC 5321 4.1.1, RFC 1870 SIZE, RFC 6152
 * 8BITMIME, RFC 3030 BODY=BINARYMIME, RFC 6531 SMTPUTF8). Pure.
 */
#ifndef TERN_SMTP_CMD_H
#define TERN_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/smtp_addr.h"

#define SMTP_LINE_MAX 512 /* RFC 5321 4.5.3.1.4: command line, CR LF included */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;  /* points into the line: what follows the verb and one SP; "" when none */
	size_t arglen;
	bool has_arg;     /* a SP followed the verb */
};

/* Verbs are case-insensitive (RFC 5321 2.4). Returns 0, or -1 when the
 * line holds a NUL, CR or LF, or a non-ASCII octet in the verb. An unknown
 * verb is not an error: verb is SMTP_VERB_UNKNOWN. */
int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd);

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };

struct smtp_mail_params {
	bool has_size;
	uint64_t size;        /* SIZE=, saturating at UINT64_MAX */
	enum smtp_body body;
	bool smtputf8;
};

enum smtp_param_status {
	SMTP_PARAM_OK = 0,
	SMTP_PARAM_SYNTAX,        /* "FROM:" / "TO:" missing or garbage after the path: 501 5.5.4 */
	SMTP_PARAM_ADDR_SYNTAX,   /* bad path: 501 5.1.7 (MAIL) / 501 5.1.3 (RCPT) */
	SMTP_PARAM_ADDR_TOO_LONG, /* 501 5.1.3 */
	SMTP_PARAM_NEEDS_UTF8,    /* 553 5.6.7 */
	SMTP_PARAM_UNKNOWN,       /* unrecognised parameter: 555 5.5.4 */
	SMTP_PARAM_BAD_VALUE,     /* recognised parameter, bad value or repeated: 501 5.5.4 */
};

/* arg is what follows "MAIL " ("FROM:<a@b> SIZE=10 BODY=8BITMIME").
 * "FROM:" is case-insensitive; one space after the colon is tolerated
 * (many clients send it). */
enum smtp_param_status smtp_cmd_parse_mail(const char *arg, size_t len, struct smtp_addr *from,
                                           struct smtp_mail_params *p);
/* arg is what follows "RCPT " ("TO:<a@b>"). RCPT takes no parameters
 * here (no DSN offered): any is SMTP_PARAM_UNKNOWN. `utf8_ok` is the
 * transaction's SMTPUTF8. "<postmaster>" is accepted (domain ""). */
enum smtp_param_status smtp_cmd_parse_rcpt(const char *arg, size_t len, bool utf8_ok, struct smtp_addr *to);

/* "BDAT <size> [LAST]": 0 with *size and *last, or -1 on syntax error. */
int smtp_cmd_parse_bdat(const char *arg, size_t len, uint64_t *size, bool *last);

/* The HELO/EHLO argument: a domain or an address literal, no blanks; 0/-1. */
int smtp_cmd_check_helo(const char *arg, size_t len);

#endif
