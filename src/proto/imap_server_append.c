/*
 * imap_server_append — APPEND (RFC 9051 6.3.12, with APPENDUID of RFC
 * 4315 and APPENDLIMIT of RFC 7889).
 *
 * The message arrives as a literal that may be as large as
 * max-message-size, so it never enters the command buffer: when the
 * reader announces the literal, the command's start is parsed (folder,
 * flags, date), the size checked, and the store asked for a place
 * (append_begin) before the client is told to send (a synchronizing
 * literal gets "+" only then, RFC 7888 4: a refusal comes instead of
 * it). The octets then go to the store in IMAP_APPEND_CHUNK pieces, each
 * written by an exec while input waits; at the command's end the message
 * is committed and answered with its UID. A refused non-synchronizing
 * literal is read and dropped, and answered once its command ends.
 * MULTIAPPEND (RFC 3502) is not offered: a second message in one
 * command is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_date.h"
#include "proto/imap_server_int.h"

void imap_append_free(struct imap_server *s, struct imap_cmd *c)
{
	if (c->ap)
		s->ops->append_abort(s->ctx, c->ap);
	c->ap = NULL;
}

/* Refuse the message whose literal was just announced: at once for a
 * synchronizing literal (the client waits for "+"), after its octets for
 * a non-synchronizing one. */
static void imap_append_refuse(struct imap_server *s, struct imap_cmd *c, const char *status, const char *text)
{
	struct imap_reader *r = &s->rd;
	if (r->lit_sync) {
		imap_reader_reset(r);
		s->cmd = c;
		if (strcmp(status, "BAD") == 0)
			imap_bad(s, text);
		else
			imap_tagged(s, status, "%s", text);
		imap_append_free(s, c);
		s->wait = IMAP_W_NONE;
		imap_cmd_end(s);
		return;
	}
	c->ap_refused = true;
	c->done_status = status;
	snprintf(c->done_text, sizeof c->done_text, "%s", text);
	s->cmd = c;
	imap_reader_literal_discard(r);
	s->wait = IMAP_W_NONE;
}

bool imap_append_literal(struct imap_server *s)
{
	struct imap_reader *r = &s->rd;
	if (s->state != IMAP_S_AUTH && s->state != IMAP_S_SELECTED)
		return false;
	if (s->cmd && s->cmd->ap) {
		/* A second message: MULTIAPPEND is not offered. */
		struct imap_cmd *c = s->cmd;
		imap_append_free(s, c);
		c->ap_failed = IMAP_STORE_OK;
		imap_append_refuse(s, c, "BAD", "MULTIAPPEND is not supported");
		return true;
	}
	if (s->cmd)
		return false;
	/* The command so far, without the marker and the space before it. */
	size_t n = r->lit_at;
	if (n > 0 && r->cmd.data[n - 1] == ' ')
		n--;
	struct imap_cmd *c = calloc(1, sizeof *c);
	if (c == NULL)
		return false;
	buf_init(&c->ap_chunk, IMAP_APPEND_CHUNK);
	if (imap_args_parse(r->cmd.data, n, &c->args) != IMAP_PARSE_OK || strcmp(c->args.verb, "APPEND") != 0 ||
	    c->args.ntop == 0) {
		/* Not APPEND's message (or its folder name as a literal). */
		imap_args_free(&c->args);
		buf_free(&c->ap_chunk);
		free(c);
		return false;
	}
	snprintf(s->tag, sizeof s->tag, "%s", c->args.tag);
	c->def = NULL;
	for (const struct imap_cmd_def *d = imap_cmd_table; d->name; d++)
		if (strcmp(d->name, "APPEND") == 0)
			c->def = d;
	c->parsed = true;
	const struct imap_arg *a = c->args.top;
	size_t k = c->args.ntop;
	int rc = imap_mailbox_convert(s, &a[0], c->name, sizeof c->name);
	if (rc < 0) {
		imap_append_refuse(s, c, rc == -1 ? "BAD" : "NO", rc == -1 ? "Invalid mailbox name"
		                                                          : "[CANNOT] Invalid mailbox name");
		return true;
	}
	size_t i = 1;
	if (i < k && a[i].type == IMAP_ARG_LIST) {
		if (!imap_parse_flag_list(s, c, &a[i], true)) {
			imap_append_refuse(s, c, "BAD", "Invalid flags");
			return true;
		}
		i++;
	}
	if (i < k && (a[i].type == IMAP_ARG_STRING || a[i].type == IMAP_ARG_ATOM)) {
		if (!imap_datetime_parse(a[i].s, a[i].len, &c->ap_date, &c->ap_tz)) {
			imap_append_refuse(s, c, "BAD", "Invalid date-time");
			return true;
		}
		i++;
	}
	if (i != k) {
		imap_append_refuse(s, c, "BAD", "Invalid arguments");
		return true;
	}
	if (r->lit_size == 0) {
		imap_append_refuse(s, c, "NO", "Cannot save an empty message");
		return true;
	}
	if (s->cfg.appendlimit && r->lit_size > s->cfg.appendlimit) {
		imap_append_refuse(s, c, "NO", "[TOOBIG] Message larger than APPENDLIMIT");
		return true;
	}
	c->ap_left = r->lit_size;
	c->ap_sync = r->lit_sync;
	c->ap_cmdlen = r->cmd.len;
	c->ap_step = IMAP_AP_BEGIN;
	s->cmd = c;
	s->wait = IMAP_W_EXEC;
	return true;
}

size_t imap_append_feed(struct imap_server *s, const char *in, size_t n)
{
	struct imap_cmd *c = s->cmd;
	size_t room = IMAP_APPEND_CHUNK - c->ap_chunk.len;
	size_t take = n < c->ap_left ? n : (size_t)c->ap_left;
	if (take > room)
		take = room;
	if (c->ap_failed == IMAP_STORE_OK)
		buf_append(&c->ap_chunk, in, take);
	c->ap_left -= take;
	if (c->ap_chunk.len == IMAP_APPEND_CHUNK || c->ap_left == 0) {
		c->ap_step = IMAP_AP_DATA;
		s->wait = IMAP_W_EXEC;
	}
	return take;
}

void imap_append_end(struct imap_server *s)
{
	struct imap_cmd *c = s->cmd;
	if (c->ap_refused) {
		if (strcmp(c->done_status, "BAD") == 0)
			imap_bad(s, c->done_text);
		else
			imap_tagged(s, c->done_status, "%s", c->done_text);
		imap_append_free(s, c);
		s->wait = IMAP_W_NONE;
		imap_cmd_end(s);
		return;
	}
	/* The reader holds the command up to and with the marker's line
	 * end; anything more is a second message or garbage. */
	if (s->rd.cmd.len != c->ap_cmdlen) {
		imap_append_free(s, c);
		imap_bad(s, "Unexpected data after the message");
		s->wait = IMAP_W_NONE;
		imap_cmd_end(s);
		return;
	}
	c->ap_step = IMAP_AP_COMMIT;
	s->wait = IMAP_W_EXEC;
}

enum imap_exec_result imap_exec_append(struct imap_server *s, struct imap_cmd *c)
{
	enum imap_store_result r;
	switch (c->ap_step) {
	case IMAP_AP_BEGIN:
		r = s->ops->append_begin(s->ctx, c->name, c->ap_left, &c->ap);
		if (r != IMAP_STORE_OK) {
			c->ap = NULL;
			const char *text = r == IMAP_STORE_NONEXISTENT ? "[TRYCREATE] Mailbox does not exist"
			                   : r == IMAP_STORE_OVERQUOTA ? "[OVERQUOTA] Quota exceeded"
			                   : r == IMAP_STORE_TOOBIG    ? "[TOOBIG] Message too large"
			                   : r == IMAP_STORE_BADNAME   ? "[CANNOT] Invalid mailbox name"
			                                               : "[SERVERBUG] The message cannot be saved now";
			s->wait = IMAP_W_NONE;
			imap_append_refuse(s, c, "NO", text);
			return IMAP_EXEC_DONE;
		}
		if (c->ap_sync)
			buf_puts(&s->out, "+ Ready for literal data\r\n");
		imap_reader_literal_skip(&s->rd);
		s->wait = IMAP_W_APPEND;
		return IMAP_EXEC_DONE;
	case IMAP_AP_DATA:
		if (c->ap_failed == IMAP_STORE_OK && c->ap_chunk.len) {
			r = s->ops->append_data(s->ctx, c->ap, c->ap_chunk.data, c->ap_chunk.len);
			if (r != IMAP_STORE_OK)
				c->ap_failed = r; /* the rest is read and dropped */
		}
		buf_reset(&c->ap_chunk);
		s->wait = c->ap_left > 0 ? IMAP_W_APPEND : IMAP_W_NONE;
		return IMAP_EXEC_DONE;
	case IMAP_AP_COMMIT:
		break;
	}
	if (c->ap_failed != IMAP_STORE_OK) {
		imap_append_free(s, c);
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "%s",
		         c->ap_failed == IMAP_STORE_OVERQUOTA ? "[OVERQUOTA] Quota exceeded"
		                                              : "[SERVERBUG] The message could not be saved");
		return IMAP_EXEC_DONE;
	}
	uint32_t uidv = 0, uid = 0;
	r = s->ops->append_commit(s->ctx, c->ap, c->flags & IMAP_FLAGS_SYSTEM, (const char *const *)c->keywords,
	                          c->nkeywords, c->ap_date, c->ap_tz, &uidv, &uid);
	c->ap = NULL; /* the store's, committed or not */
	if (r != IMAP_STORE_OK) {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "%s",
		         r == IMAP_STORE_OVERQUOTA ? "[OVERQUOTA] Quota exceeded"
		         : r == IMAP_STORE_LIMIT   ? "[LIMIT] Too many keywords in this mailbox"
		                                   : "[SERVERBUG] The message could not be saved");
		return IMAP_EXEC_DONE;
	}
	c->done_status = "OK";
	snprintf(c->done_text, sizeof c->done_text, "[APPENDUID %u %u] Append completed", uidv, uid);
	return IMAP_EXEC_DONE;
}
