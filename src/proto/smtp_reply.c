/*
 * smtp_reply — the reply table. Codes per RFC 5321 4.2/4.3, enhanced
 * status codes per RFC 3463 and the RFC 5248 registry. Texts never
 * contain client input: the session adds an address prefix when useful.
 */
#include "proto/smtp_reply.h"

#include <stdio.h>
#include <string.h>

#include "proto/smtp_reply_parse.h"

#include <stddef.h>

static const struct smtp_reply smtp_reply_table[SMTP_R__COUNT] = {
	[SMTP_R_OK] = {250, "2.0.0", "Ok"},
	[SMTP_R_MAIL_OK] = {250, "2.1.0", "Sender ok"},
	[SMTP_R_RCPT_OK] = {250, "2.1.5", "Recipient ok"},
	[SMTP_R_DATA_GO] = {354, NULL, "End data with <CR><LF>.<CR><LF>"},
	[SMTP_R_BYE] = {221, "2.0.0", "Bye"},
	[SMTP_R_VRFY] = {252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"},
	[SMTP_R_HELP] = {214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP"},
	[SMTP_R_TLS_GO] = {220, "2.0.0", "Ready to start TLS"},
	[SMTP_R_UNKNOWN_CMD] = {500, "5.5.2", "Error: command not recognized"},
	[SMTP_R_LINE_TOO_LONG] = {500, "5.5.2", "Error: line too long"},
	[SMTP_R_BAD_LINE] = {500, "5.5.2", "Error: bare CR, LF or NUL in command line"},
	[SMTP_R_SYNTAX] = {501, "5.5.4", "Syntax error in parameters or arguments"},
	[SMTP_R_HELO_SYNTAX] = {501, "5.5.4", "Syntax: EHLO hostname"},
	[SMTP_R_SENDER_SYNTAX] = {501, "5.1.7", "Bad sender address syntax"},
	[SMTP_R_RCPT_SYNTAX] = {501, "5.1.3", "Bad recipient address syntax"},
	[SMTP_R_ADDR_TOO_LONG] = {501, "5.1.3", "Address too long"},
	[SMTP_R_PARAM_UNKNOWN] = {555, "5.5.4", "Unsupported parameter"},
	[SMTP_R_NEEDS_SMTPUTF8] = {553, "5.6.7", "Non-ASCII address requires SMTPUTF8"},
	[SMTP_R_NOT_IMPL] = {502, "5.5.1", "Command not implemented"},
	[SMTP_R_NEED_HELO] = {503, "5.5.1", "Error: send HELO/EHLO first"},
	[SMTP_R_NEED_MAIL] = {503, "5.5.1", "Error: need MAIL command"},
	[SMTP_R_NESTED_MAIL] = {503, "5.5.1", "Error: nested MAIL command"},
	[SMTP_R_NEED_RCPT] = {503, "5.5.1", "Error: need RCPT command"},
	[SMTP_R_NO_VALID_RCPT] = {554, "5.5.1", "Error: no valid recipients"},
	[SMTP_R_BDAT_MIXED] = {503, "5.5.1", "Error: DATA and BDAT cannot be mixed in one transaction"},
	[SMTP_R_TOO_MANY_RCPTS] = {452, "4.5.3", "Error: too many recipients"},
	[SMTP_R_SIZE_EXCEEDED] = {552, "5.3.4", "Error: message size exceeds fixed limit"},
	[SMTP_R_USER_UNKNOWN] = {550, "5.1.1", "Recipient address rejected: User unknown"},
	[SMTP_R_RELAY_DENIED] = {554, "5.7.1", "Relay access denied"},
	[SMTP_R_ROUTING_CHARS] = {550, "5.7.1", "Recipient address rejected: routing characters or quoting in local part"},
	[SMTP_R_BAD_CONTENT] = {550, "5.6.0", "Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)"},
	[SMTP_R_LONG_CONTENT_LINE] = {550, "5.6.0", "Message refused: line longer than 998 octets (RFC 5321 4.5.3.1.6)"},
	[SMTP_R_LOOP] = {554, "5.4.6", "Message refused: too many Received headers, mail loop suspected"},
	[SMTP_R_STORAGE] = {452, "4.3.1", "Insufficient system storage, try again later"},
	[SMTP_R_LOCAL_ERROR] = {451, "4.3.0", "Local error in processing, try again later"},
	[SMTP_R_EARLY_TALKER] = {554, "5.5.0", "Error: SMTP protocol synchronization (input before greeting)"},
	[SMTP_R_TIMEOUT] = {421, "4.4.2", "Error: timeout exceeded"},
	[SMTP_R_TOO_MANY_ERRORS] = {421, "4.7.0", "Error: too many errors"},
	[SMTP_R_SHUTDOWN] = {421, "4.3.2", "Service shutting down"},
	[SMTP_R_TOO_MANY_SESSIONS] = {421, "4.3.2", "Too many sessions, try again later"},
	[SMTP_R_TOO_MANY_FROM_NET] = {421, "4.7.0", "Too many connections from your network, try again later"},
	[SMTP_R_STORAGE_LOW] = {452, "4.3.1", "Insufficient system storage, try again later"},
	[SMTP_R_SESSION_TOO_LONG] = {421, "4.4.2", "Session lasted too long, closing"},
	[SMTP_R_DATA_TOO_SLOW] = {421, "4.4.2", "Data arriving too slowly, closing"},
	[SMTP_R_NEED_AUTH] = {530, "5.7.0", "Authentication required"},
	[SMTP_R_NEED_TLS] = {530, "5.7.0", "Must issue a STARTTLS command first"},
	[SMTP_R_AUTH_OK] = {235, "2.7.0", "Authentication successful"},
	[SMTP_R_AUTH_FAILED] = {535, "5.7.8", "Authentication credentials invalid"},
	[SMTP_R_AUTH_CANCELLED] = {501, "5.7.0", "Authentication cancelled"},
	[SMTP_R_AUTH_BAD_B64] = {501, "5.5.2", "Invalid base64 data"},
	[SMTP_R_AUTH_ALREADY] = {503, "5.5.1", "Already authenticated"},
	[SMTP_R_AUTH_MECH] = {504, "5.5.4", "Unrecognized authentication mechanism"},
	[SMTP_R_AUTH_THROTTLED] = {454, "4.7.0", "Too many failed authentications, try again later"},
	[SMTP_R_SENDER_NOT_OWNED] = {553, "5.7.1", "Sender address not owned by authenticated user"},
	[SMTP_R_TLS_ALREADY] = {503, "5.5.1", "TLS already active"},
	[SMTP_R_TLS_UNAVAILABLE] = {454, "4.7.0", "TLS not available"},
	[SMTP_R_DMARC_REJECT] = {550, "5.7.1", "Message refused: it fails the DMARC policy (p=reject) of its From: domain"},
	[SMTP_R_FROM_AMBIGUOUS] = {550, "5.7.1", "Message refused: several From: fields or domains (RFC 7489 6.6.1)"},
	[SMTP_R_AUTH_TEMPFAIL] = {451, "4.7.1", "DMARC could not be evaluated for a temporary DNS failure, try again later"},
	[SMTP_R_SRS_INVALID] = {550, "5.1.1", "Recipient address rejected: invalid or expired SRS address"},
};

const struct smtp_reply *smtp_reply_get(enum smtp_reply_id id)
{
	if ((unsigned)id >= SMTP_R__COUNT || smtp_reply_table[id].code == 0)
		id = SMTP_R_LOCAL_ERROR;
	return &smtp_reply_table[id];
}

void smtp_reply_line(enum smtp_reply_id id, const char *host, char *out, size_t outlen)
{
	const struct smtp_reply *r = smtp_reply_get(id);
	if (outlen < 4) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	/* The line with its CR LF, and a NUL after it, must fit. */
	size_t room = outlen - 1 < SMTP_REPLY_LINE_MAX ? outlen - 1 : SMTP_REPLY_LINE_MAX;
	int n = snprintf(out, room - 1, "%d %s %s %s", r->code, r->status ? r->status : "", host, r->text);
	size_t len = n < 0 ? 0 : (size_t)n < room - 2 ? (size_t)n : room - 2;
	memcpy(out + len, "\r\n", 3);
}
