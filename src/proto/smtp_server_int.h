/*
 * smtp_server_int — what the files of the SMTP server engine share with
 * each other and nobody else (smtp_server.c, smtp_server_auth.c).
 */
#ifndef TERN_SMTP_SERVER_INT_H
#define TERN_SMTP_SERVER_INT_H

#include "proto/smtp_server.h"

/* A refusal: counted, logged through ops->refused, 421 after too many. */
void smtp_server_refuse(struct smtp_server *s, enum smtp_reply_id id, const char *prefix, const char *cmd,
                        size_t cmdlen);
/* AUTH (smtp_server_auth.c). */
void smtp_server_auth(struct smtp_server *s, const struct smtp_cmd *c);
void smtp_server_auth_response(struct smtp_server *s, const char *line, size_t len);
void smtp_server_auth_fail(struct smtp_server *s, enum smtp_reply_id id);
void smtp_server_wipe(void *p, size_t n);

#endif
