/*
 * smtp_client_txn — the transaction half of the SMTP client engine
 * (smtp_client.h): MAIL, RCPT, DATA or BDAT, the content, and what each
 * reply means for the recipients (RFC 5321 3.3, 4.1.1.2-4.1.1.5; RFC 2920
 * 3.1; RFC 3030 2-4; RFC 1870 6; RFC 6152 3; RFC 6531 3.2).
 *
 * Whether the next command may leave before the awaited replies are in is
 * decided in one place, smtp_client_txn_advance: with PIPELINING,
 * everything up to DATA (or up to the BDAT content) goes at once; without,
 * one command each time the replies are all in. Must not do I/O.
 */
#include <stdio.h>
#include <string.h>

#include "proto/smtp_client.h"
#include "proto/smtp_client_int.h"

static void smtp_client_txn_advance(struct smtp_client *c);

static bool smtp_client_txn_is_2xx(const struct smtp_response *r)
{
	return r->code >= 200 && r->code < 300;
}

void smtp_client_txn_fail(struct smtp_client *c, const struct smtp_client_reply *why)
{
	struct smtp_client_txn *t = c->txn;
	if (t == NULL || t->failed)
		return;
	t->failed = true;
	t->reply = *why;
	for (size_t i = 0; i < t->nrcpts; i++) {
		struct smtp_client_rcpt *r = &t->rcpts[i];
		if (r->state == SMTP_CLIENT_RCPT_PENDING || r->state == SMTP_CLIENT_RCPT_ACCEPTED) {
			r->state = SMTP_CLIENT_RCPT_REFUSED;
			r->reply = *why;
		}
	}
	/* The server may still hold the transaction open (RFC 5321 4.1.1.5). */
	if (t->mail_ok)
		c->need_rset = true;
}

/* Every recipient was refused: the transaction fails as permanently as
 * the mildest refusal allows (a 4xx one may succeed later). */
static void smtp_client_txn_fail_norcpt(struct smtp_client *c)
{
	struct smtp_client_txn *t = c->txn;
	bool temp = false;
	for (size_t i = 0; i < t->nrcpts; i++)
		if (t->rcpts[i].reply.code / 100 == 4)
			temp = true;
	struct smtp_client_reply r;
	smtp_client_reply_local(&r, temp ? 450 : 550, temp ? "4.0.0" : "5.0.0", "no recipient was accepted");
	smtp_client_txn_fail(c, &r);
}

/* The transaction's last reply is in: hand it back. */
void smtp_client_txn_finish(struct smtp_client *c)
{
	struct smtp_client_txn *t = c->txn;
	c->txn = NULL;
	t->done = true;
	t->ok = false;
	for (size_t i = 0; i < t->nrcpts; i++)
		if (t->rcpts[i].state == SMTP_CLIENT_RCPT_DELIVERED)
			t->ok = true;
	if (c->state == SMTP_C_TXN) {
		if (c->quit_sent) {
			c->state = SMTP_C_QUIT;
		} else if (t->last) {
			c->state = SMTP_C_QUIT;
			smtp_client_send_quit(c);
		} else {
			c->state = SMTP_C_READY;
		}
	}
	if (c->ops && c->ops->txn_done)
		c->ops->txn_done(c->ctx, t);
}

/* Move the transaction forward as far as the replies allow: with
 * PIPELINING, everything up to DATA (or the BDAT content) at once;
 * without, one command each time the awaited replies are all in. */
static void smtp_client_txn_advance(struct smtp_client *c)
{
	struct smtp_client_txn *t = c->txn;
	bool pipe = smtp_client_pipelining(c);
	while (t && c->txn == t && c->state == SMTP_C_TXN) {
		if (t->failed) {
			if (t->phase == SMTP_CT_CONTENT)
				t->phase = SMTP_CT_END; /* no more chunks for a failed transaction */
			if (t->npend == 0)
				smtp_client_txn_finish(c);
			return;
		}
		switch (t->phase) {
		case SMTP_CT_SEND:
			if (!pipe && t->npend > 0)
				return;
			if (c->need_rset) {
				c->need_rset = false;
				smtp_client_emit(c, SMTP_CK_RSET, true, 0, NULL, "RSET");
				continue;
			}
			if (!t->mail_sent) {
				char size[32] = "";
				t->mail_sent = true;
				if (c->ehlo.has_size && t->size) /* RFC 1870 6 */
					snprintf(size, sizeof size, " SIZE=%llu", (unsigned long long)t->size);
				smtp_client_emit(c, SMTP_CK_MAIL, true, 0, NULL, "MAIL FROM:<%s>%s%s%s", t->from, size,
				                 t->eightbit && c->ehlo.eightbitmime ? " BODY=8BITMIME" : "",
				                 t->utf8 && c->ehlo.smtputf8 ? " SMTPUTF8" : "");
				continue;
			}
			if (t->next_rcpt < t->nrcpts) {
				size_t i = t->next_rcpt++;
				if (t->rcpts[i].state == SMTP_CLIENT_RCPT_REFUSED) {
					t->nreplied++; /* refused here already: bad syntax */
					continue;
				}
				smtp_client_emit(c, SMTP_CK_RCPT, true, i, NULL, "RCPT TO:<%s>", t->rcpts[i].addr);
				continue;
			}
			if (!pipe && t->naccepted == 0) {
				smtp_client_txn_fail_norcpt(c); /* no DATA without recipients */
				continue;
			}
			if (smtp_client_chunking(c)) {
				t->phase = SMTP_CT_CONTENT;
				smtp_content_init(&t->enc, false);
				return;
			}
			t->phase = SMTP_CT_DATA354;
			smtp_client_emit(c, SMTP_CK_DATA, true, 0, NULL, "DATA");
			return;
		case SMTP_CT_DATA354:
			return;
		case SMTP_CT_CONTENT:
			/* Pipelined BDAT: once every RCPT is refused, send no content. */
			if (t->nreplied == t->nrcpts && t->naccepted == 0 && smtp_client_chunking(c)) {
				smtp_client_txn_fail_norcpt(c);
				continue;
			}
			return;
		case SMTP_CT_END:
		default:
			/* RFC 2920 3.1: QUIT ends the group that carries the content */
			if (pipe && t->last)
				smtp_client_send_quit(c);
			if (t->npend == 0)
				smtp_client_txn_finish(c);
			return;
		}
	}
}

void smtp_client_txn_begin(struct smtp_client *c, struct smtp_client_txn *t)
{
	t->done = t->ok = false;
	memset(&t->reply, 0, sizeof t->reply);
	t->phase = SMTP_CT_SEND;
	t->failed = t->mail_sent = t->mail_ok = t->content_sent = t->utf8 = false;
	t->next_rcpt = t->nreplied = t->naccepted = 0;
	t->npend = 0;
	c->txn = t;
	c->state = SMTP_C_TXN;
	struct smtp_client_reply why;
	bool utf8 = false, any = false;
	for (size_t i = 0; i < t->nrcpts; i++) {
		struct smtp_client_rcpt *r = &t->rcpts[i];
		bool u;
		memset(&r->reply, 0, sizeof r->reply);
		r->state = SMTP_CLIENT_RCPT_PENDING;
		if (i >= SMTP_CLIENT_MAX_RCPTS) {
			r->state = SMTP_CLIENT_RCPT_REFUSED;
			smtp_client_reply_local(&r->reply, 452, "4.5.3", "too many recipients in one transaction");
		} else if (r->addr == NULL || smtp_client_addr_check(r->addr, false, &u) < 0) {
			r->state = SMTP_CLIENT_RCPT_REFUSED;
			smtp_client_reply_local(&r->reply, 501, "5.1.3", "bad recipient address syntax");
		} else {
			utf8 |= u;
			any = true;
		}
	}
	bool u = false;
	if (t->from == NULL || smtp_client_addr_check(t->from, true, &u) < 0) {
		smtp_client_reply_local(&why, 501, "5.1.7", "bad sender address syntax");
		smtp_client_txn_fail(c, &why);
	} else if (!any) {
		smtp_client_reply_local(&why, 501, "5.1.3", "no valid recipient address");
		smtp_client_txn_fail(c, &why);
	} else if ((utf8 || u) && !c->ehlo.smtputf8) {
		smtp_client_reply_local(&why, 553, "5.6.7",
		                        "an address is not ASCII and the server does not offer SMTPUTF8 (RFC 6531)");
		smtp_client_txn_fail(c, &why);
	} else if (t->eightbit && !c->ehlo.eightbitmime && !c->ehlo.smtputf8) {
		/* RFC 6152 3: 8-bit content needs 8BITMIME; tern does not
		 * convert to 7-bit MIME, and sending it broken is worse. */
		smtp_client_reply_local(&why, 554, "5.6.3",
		                        "the message has 8-bit content and the server does not offer 8BITMIME");
		smtp_client_txn_fail(c, &why);
	} else if (c->ehlo.has_size && c->ehlo.size && t->size > c->ehlo.size) {
		/* RFC 1870 6.1: do not send what the server announced it refuses */
		smtp_client_reply_local(&why, 552, "5.3.4", "message size %llu exceeds the server's limit of %llu",
		                        (unsigned long long)t->size, (unsigned long long)c->ehlo.size);
		smtp_client_txn_fail(c, &why);
	}
	t->utf8 = utf8 || u || t->utf8_headers;
	smtp_client_txn_advance(c);
}

/* The wire form of the content failed a check: nothing truncated may be
 * delivered, so the data is not ended; the session closes. */
static int smtp_client_txn_content_error(struct smtp_client *c)
{
	char msg[200];
	struct smtp_client_reply r;
	smtp_content_strerror(&c->txn->enc, msg, sizeof msg);
	smtp_client_reply_local(&r, 554, "5.6.0", "the message cannot be sent as it is: %s", msg);
	smtp_client_fatal(c, &r, false);
	return -1;
}

int smtp_client_txn_push(struct smtp_client *c, const char *p, size_t n, bool end)
{
	struct smtp_client_txn *t = c->txn;
	if (!smtp_client_chunking(c)) {
		/* DATA: encoded straight into out; the 354 already came. */
		if (smtp_content_feed(&t->enc, p, n, &c->out) < 0 || (end && smtp_content_finish(&t->enc, &c->out) < 0))
			return smtp_client_txn_content_error(c);
		t->content_sent = true;
		c->sent = true;
		if (end) {
			char note[64];
			int k = snprintf(note, sizeof note, "[%llu octets of content]", (unsigned long long)t->enc.size);
			smtp_client_trace(c, 'C', note, (size_t)k);
			t->phase = SMTP_CT_END;
			smtp_client_emit(c, SMTP_CK_DOT, true, 0, NULL, ".");
		}
	} else {
		/* BDAT: the chunk is encoded first, since its size leads it. */
		buf_reset(&c->chunk);
		if (smtp_content_feed(&t->enc, p, n, &c->chunk) < 0 ||
		    (end && smtp_content_finish(&t->enc, &c->chunk) < 0))
			return smtp_client_txn_content_error(c);
		if (c->chunk.len > 0 || end) {
			smtp_client_emit(c, end ? SMTP_CK_BDAT_LAST : SMTP_CK_BDAT, true, 0, NULL, "BDAT %zu%s",
			                 c->chunk.len, end ? " LAST" : "");
			if (c->state == SMTP_C_TXN && buf_append(&c->out, c->chunk.data ? c->chunk.data : "", c->chunk.len) < 0)
				smtp_client_oom(c);
			t->content_sent = true;
		}
		if (end && c->txn == t)
			t->phase = SMTP_CT_END;
	}
	smtp_client_txn_advance(c);
	return 0;
}


/* The reply answers a transaction command. */
void smtp_client_txn_reply(struct smtp_client *c, const struct smtp_client_pend *p,
                                  const struct smtp_response *r)
{
	struct smtp_client_txn *t = c->txn;
	struct smtp_client_reply rep;
	smtp_client_reply_set(&rep, r);
	bool ok = smtp_client_txn_is_2xx(r);
	switch (p->kind) {
	case SMTP_CK_RSET:
		if (!ok) {
			smtp_client_fatal(c, &rep, true);
			return;
		}
		break;
	case SMTP_CK_MAIL:
		if (ok)
			t->mail_ok = true;
		else
			smtp_client_txn_fail(c, &rep);
		break;
	case SMTP_CK_RCPT: {
		struct smtp_client_rcpt *rc = &t->rcpts[p->idx];
		t->nreplied++;
		if (t->failed || rc->state != SMTP_CLIENT_RCPT_PENDING)
			break;
		rc->reply = rep;
		if (ok) {
			rc->state = SMTP_CLIENT_RCPT_ACCEPTED;
			t->naccepted++;
		} else {
			rc->state = SMTP_CLIENT_RCPT_REFUSED;
		}
		break;
	}
	case SMTP_CK_DATA:
		if (r->code == 354) {
			if (t->failed || t->naccepted == 0) {
				/* RFC 2920 3.1: a 354 although no RCPT succeeded; end the
				 * data at once, with nothing in it. */
				if (!t->failed)
					smtp_client_txn_fail_norcpt(c);
				t->phase = SMTP_CT_END;
				smtp_client_emit(c, SMTP_CK_DOT, true, 0, NULL, ".");
				break;
			}
			t->phase = SMTP_CT_CONTENT;
			smtp_content_init(&t->enc, true);
			break;
		}
		t->phase = SMTP_CT_END;
		if (t->failed)
			break;
		if (t->naccepted == 0) {
			/* the expected 554/503 of a pipelined DATA: each recipient
			 * keeps its own refusal; the server's words are kept too */
			smtp_client_txn_fail_norcpt(c);
			t->reply = rep;
		} else {
			smtp_client_txn_fail(c, &rep);
		}
		break;
	case SMTP_CK_BDAT:
		if (!ok)
			smtp_client_txn_fail(c, &rep);
		break;
	case SMTP_CK_DOT:
	case SMTP_CK_BDAT_LAST:
		if (t->failed)
			break;
		if (!ok && t->naccepted == 0) {
			smtp_client_txn_fail_norcpt(c); /* a pipelined BDAT refused: no recipients */
			t->reply = rep;
			break;
		}
		if (!ok) {
			smtp_client_txn_fail(c, &rep);
			break;
		}
		t->reply = rep;
		for (size_t i = 0; i < t->nrcpts; i++) {
			if (t->rcpts[i].state == SMTP_CLIENT_RCPT_ACCEPTED) {
				t->rcpts[i].state = SMTP_CLIENT_RCPT_DELIVERED;
				t->rcpts[i].reply = rep;
			}
		}
		break;
	default:
		break;
	}
	smtp_client_txn_advance(c);
}

