/*
 * smtp_reply — the one table of tern's SMTP server replies: each reason
 * maps to a reply code (RFC 5321 4.2), an enhanced status code (RFC 3463,
 * RFC 5248) and its text. Every refusal names its reason here, so the
 * wording and codes stay consistent and are reviewed in one place.
 */
#ifndef TERN_SMTP_REPLY_H
#define TERN_SMTP_REPLY_H

#include <stddef.h>

enum smtp_reply_id {
	SMTP_R_OK = 0,            /* 250 2.0.0 Ok */
	SMTP_R_MAIL_OK,           /* 250 2.1.0 */
	SMTP_R_RCPT_OK,           /* 250 2.1.5 */
	SMTP_R_DATA_GO,           /* 354 */
	SMTP_R_BYE,               /* 221 2.0.0 */
	SMTP_R_VRFY,              /* 252 2.5.0 */
	SMTP_R_HELP,              /* 214 2.0.0 */
	SMTP_R_TLS_GO,            /* 220 2.0.0 Ready to start TLS */
	SMTP_R_UNKNOWN_CMD,       /* 500 5.5.2 */
	SMTP_R_LINE_TOO_LONG,     /* 500 5.5.2 */
	SMTP_R_BAD_LINE,          /* 500 5.5.2: NUL, bare CR or LF in a command */
	SMTP_R_SYNTAX,            /* 501 5.5.4 */
	SMTP_R_HELO_SYNTAX,       /* 501 5.5.4 */
	SMTP_R_SENDER_SYNTAX,     /* 501 5.1.7 */
	SMTP_R_RCPT_SYNTAX,       /* 501 5.1.3 */
	SMTP_R_ADDR_TOO_LONG,     /* 501 5.1.3 */
	SMTP_R_PARAM_UNKNOWN,     /* 555 5.5.4 */
	SMTP_R_NEEDS_SMTPUTF8,    /* 553 5.6.7 */
	SMTP_R_NOT_IMPL,          /* 502 5.5.1 */
	SMTP_R_NEED_HELO,         /* 503 5.5.1 */
	SMTP_R_NEED_MAIL,         /* 503 5.5.1 */
	SMTP_R_NESTED_MAIL,       /* 503 5.5.1 */
	SMTP_R_NEED_RCPT,         /* 503 5.5.1 (no MAIL) */
	SMTP_R_NO_VALID_RCPT,     /* 554 5.5.1 */
	SMTP_R_BDAT_MIXED,        /* 503 5.5.1: DATA after BDAT */
	SMTP_R_TOO_MANY_RCPTS,    /* 452 4.5.3 */
	SMTP_R_SIZE_EXCEEDED,     /* 552 5.3.4 */
	SMTP_R_USER_UNKNOWN,      /* 550 5.1.1 */
	SMTP_R_RELAY_DENIED,      /* 554 5.7.1 */
	SMTP_R_ROUTING_CHARS,     /* 550 5.7.1: %, !, quoted or odd local parts */
	SMTP_R_BAD_CONTENT,       /* 550 5.6.0: bare CR/LF, NUL */
	SMTP_R_LONG_CONTENT_LINE, /* 550 5.6.0 */
	SMTP_R_LOOP,              /* 554 5.4.6 */
	SMTP_R_STORAGE,           /* 452 4.3.1 */
	SMTP_R_LOCAL_ERROR,       /* 451 4.3.0 */
	SMTP_R_EARLY_TALKER,      /* 554 5.5.0 */
	SMTP_R_TIMEOUT,           /* 421 4.4.2 */
	SMTP_R_TOO_MANY_ERRORS,   /* 421 4.7.0 */
	SMTP_R_SHUTDOWN,          /* 421 4.3.2 */
	SMTP_R_TOO_MANY_SESSIONS, /* 421 4.3.2: the server's session cap */
	SMTP_R_TOO_MANY_FROM_NET, /* 421 4.7.0: this client's network has too many */
	SMTP_R_STORAGE_LOW,       /* 452 4.3.1 at MAIL: under the free-space floor */
	SMTP_R_SESSION_TOO_LONG,  /* 421 4.4.2 */
	SMTP_R_DATA_TOO_SLOW,     /* 421 4.4.2 */
	SMTP_R_NEED_AUTH,         /* 530 5.7.0 */
	SMTP_R_NEED_TLS,          /* 530 5.7.0 */
	SMTP_R_AUTH_OK,           /* 235 2.7.0 */
	SMTP_R_AUTH_FAILED,       /* 535 5.7.8 */
	SMTP_R_AUTH_CANCELLED,    /* 501 5.7.0 */
	SMTP_R_AUTH_BAD_B64,      /* 501 5.5.2 */
	SMTP_R_AUTH_ALREADY,      /* 503 5.5.1 */
	SMTP_R_AUTH_MECH,         /* 504 5.5.4 */
	SMTP_R_AUTH_THROTTLED,    /* 454 4.7.0 */
	SMTP_R_SENDER_NOT_OWNED,  /* 553 5.7.1 */
	SMTP_R_TLS_ALREADY,       /* 503 5.5.1 */
	SMTP_R_TLS_UNAVAILABLE,   /* 454 4.7.0 */
	SMTP_R_DMARC_REJECT,      /* 550 5.7.1: the From: domain's DMARC policy is reject */
	SMTP_R_FROM_AMBIGUOUS,    /* 550 5.7.1: several From: fields or domains (RFC 7489 6.6.1) */
	SMTP_R_AUTH_TEMPFAIL,     /* 451 4.7.1: DMARC undecided for a DNS failure */
	SMTP_R_SRS_INVALID,       /* 550 5.1.1: a forged or expired SRS address */
	SMTP_R__COUNT
};

struct smtp_reply {
	int code;
	const char *status;  /* enhanced status code, NULL for none */
	const char *text;
};

const struct smtp_reply *smtp_reply_get(enum smtp_reply_id id);
/* "CODE STATUS HOST TEXT" CR LF into out, cut to fit SMTP_REPLY_LINE_MAX
 * (RFC 5321 4.5.3.1.5) whatever the host name: the line a refusal before
 * any session gets. */
void smtp_reply_line(enum smtp_reply_id id, const char *host, char *out, size_t outlen);

#endif
