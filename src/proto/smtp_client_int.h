/*
 * smtp_client_int — what the two halves of the SMTP client engine share
 * (smtp_client.c: the session, smtp_client_txn.c: transactions). Private
 * to them: nothing else includes this file.
 */
#ifndef TERN_SMTP_CLIENT_INT_H
#define TERN_SMTP_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/smtp_client.h"

/* What an awaited reply answers. */
enum smtp_client_kind {
	SMTP_CK_GREETING,
	SMTP_CK_EHLO,
	SMTP_CK_HELO,
	SMTP_CK_STARTTLS,
	SMTP_CK_AUTH,
	SMTP_CK_RSET,
	SMTP_CK_MAIL,
	SMTP_CK_RCPT,
	SMTP_CK_DATA,
	SMTP_CK_DOT,
	SMTP_CK_BDAT,
	SMTP_CK_BDAT_LAST,
	SMTP_CK_QUIT,
};

struct smtp_client_pend {
	unsigned char kind;
	bool in_txn; /* counted in the transaction's npend */
	size_t idx;  /* RCPT: the recipient's index */
};

/* Phases of a transaction (t->phase). */
enum { SMTP_CT_SEND = 0, SMTP_CT_DATA354, SMTP_CT_CONTENT, SMTP_CT_END };

/* smtp_client.c */
bool smtp_client_pipelining(const struct smtp_client *c);
bool smtp_client_chunking(const struct smtp_client *c);
void smtp_client_trace(struct smtp_client *c, char dir, const char *p, size_t n);
void smtp_client_reply_set(struct smtp_client_reply *d, const struct smtp_response *r);
void smtp_client_reply_local(struct smtp_client_reply *d, int code, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Send one command line and await its reply; the trace shows `shown`
 * instead of the line when it is not NULL (secrets). */
void smtp_client_emit(struct smtp_client *c, int kind, bool in_txn, size_t idx, const char *shown,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void smtp_client_send_quit(struct smtp_client *c);
void smtp_client_oom(struct smtp_client *c);
/* The session cannot go on: fail it and its transaction, then QUIT
 * politely (quit) or just close (the stream cannot be trusted). */
void smtp_client_fatal(struct smtp_client *c, const struct smtp_client_reply *why, bool quit);

/* smtp_client_txn.c */
void smtp_client_txn_begin(struct smtp_client *c, struct smtp_client_txn *t);
int smtp_client_txn_push(struct smtp_client *c, const char *p, size_t n, bool end);
void smtp_client_txn_reply(struct smtp_client *c, const struct smtp_client_pend *p, const struct smtp_response *r);
void smtp_client_txn_fail(struct smtp_client *c, const struct smtp_client_reply *why);
void smtp_client_txn_finish(struct smtp_client *c);

#endif
