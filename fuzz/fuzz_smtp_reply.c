/*
 * fuzz_smtp_reply — libFuzzer target for proto/smtp_reply_parse (RFC 5321
 * 4.2) and, through it, the client engine proto/smtp_client: the input is
 * what a hostile server sends.
 *
 * Input: byte 0 picks the engine's options (bit 0 no PIPELINING, bit 1 no
 * CHUNKING, bits 2-3 the STARTTLS mode, bit 4 AUTH credentials, bit 5 a
 * second transaction) and byte 1 a cut; the rest is the server's stream.
 *
 * 1. The parser fed the whole stream and fed it in two pieces must return
 *    the same sequence of replies (each code 200-559 and consistent with
 *    its raw text), and fail or not alike.
 * 2. The engine, driven like a real caller (send when ready, push content
 *    when asked, finish TLS when asked), must only ever write whole CR LF
 *    lines, must end every transaction it started exactly once, with a
 *    final state for every recipient, and must not crash or leak.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_client.h"
#include "proto/smtp_reply_parse.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

/* Parse everything, cutting the input at `cut`; the replies, one per line
 * of `log` as "code|raw". Returns the number of octets accepted. */
static size_t fuzz_smtp_reply_parse_all(const char *in, size_t n, size_t cut, struct buf *log, bool *failed)
{
	struct smtp_reply_parser p;
	smtp_reply_parse_init(&p);
	size_t pos = 0;
	*failed = false;
	size_t ends[2] = {cut, n};
	for (int k = 0; k < 2 && !*failed; k++) {
		while (pos < ends[k]) {
			size_t used = 0;
			enum smtp_reply_parse_result r = smtp_reply_parse_feed(&p, in + pos, ends[k] - pos, &used);
			FUZZ_CHECK(used <= ends[k] - pos);
			pos += used;
			if (r == SMTP_REPLY_PARSE_ERROR) {
				*failed = true;
				break;
			}
			if (r == SMTP_REPLY_PARSE_MORE) {
				FUZZ_CHECK(pos == ends[k]);
				break;
			}
			FUZZ_CHECK(used > 0);
			FUZZ_CHECK(p.reply.code >= 200 && p.reply.code <= 559);
			FUZZ_CHECK(p.reply.nlines >= 1 && p.reply.nlines <= SMTP_REPLY_LINES_MAX);
			FUZZ_CHECK(p.reply.raw.len >= 3 && p.reply.raw.len <= SMTP_REPLY_TEXT_MAX);
			FUZZ_CHECK(p.reply.raw.data[0] - '0' == p.reply.code / 100);
			char line[600];
			smtp_reply_parse_format(&p.reply, line, sizeof line);
			FUZZ_CHECK(strlen(line) < sizeof line);
			FUZZ_CHECK(strchr(line, '\n') == NULL && strchr(line, '\r') == NULL);
			struct smtp_ehlo e;
			smtp_reply_parse_ehlo(&p.reply, &e);
			FUZZ_CHECK(buf_printf(log, "%d|%s\n", p.reply.code, p.reply.raw.data) == 0);
		}
	}
	smtp_reply_parse_free(&p);
	return pos;
}

struct fuzz_ctx {
	unsigned dones;
};

static void fuzz_smtp_reply_done_cb(void *ctx, struct smtp_client_txn *t)
{
	struct fuzz_ctx *f = ctx;
	FUZZ_CHECK(t->done);
	f->dones++;
}

static const struct smtp_client_ops fuzz_smtp_reply_ops = {.txn_done = fuzz_smtp_reply_done_cb};

/* The engine's output is well-formed lines only: every CR is followed by
 * LF and every LF preceded by CR, whatever the server said. */
static void fuzz_smtp_reply_check_out(struct smtp_client *c)
{
	const char *o = c->out.data;
	for (size_t i = 0; i < c->out.len; i++) {
		if (o[i] == '\r')
			FUZZ_CHECK(i + 1 < c->out.len && o[i + 1] == '\n');
		if (o[i] == '\n')
			FUZZ_CHECK(i > 0 && o[i - 1] == '\r');
	}
	FUZZ_CHECK(c->out.len == 0 || (c->out.len >= 2 && o[c->out.len - 1] == '\n'));
	buf_reset(&c->out);
}

static void fuzz_smtp_reply_engine(unsigned opts, const char *in, size_t n, size_t cut)
{
	struct smtp_client_config cfg = {
		.helo = "fuzz.test",
		.no_pipelining = opts & 1,
		.no_chunking = (opts & 2) != 0,
		.starttls = (enum smtp_client_tls_mode)((opts >> 2) % 3),
		.user = (opts & 16) ? "user@fuzz.test" : NULL,
		.password = "pw",
	};
	struct fuzz_ctx f = {0};
	struct smtp_client c;
	struct smtp_client_txn t[2];
	struct smtp_client_rcpt r[2][3];
	const char *to[3] = {"a@fuzz.test", "b@fuzz.test", "c@fuzz.test"};
	unsigned started = 0, ntxn = (opts & 32) ? 2 : 1;
	smtp_client_init(&c, &cfg, &fuzz_smtp_reply_ops, &f);
	memset(t, 0, sizeof t);
	memset(r, 0, sizeof r);
	size_t pos = 0;
	size_t ends[2] = {cut, n};
	for (int k = 0; k < 2; k++) {
		while (!smtp_client_is_closed(&c)) {
			if (smtp_client_wants_tls(&c))
				smtp_client_tls_done(&c);
			if (smtp_client_is_ready(&c)) {
				if (started < ntxn) {
					struct smtp_client_txn *x = &t[started];
					for (int i = 0; i < 3; i++)
						r[started][i].addr = to[i];
					x->from = "s@fuzz.test";
					x->rcpts = r[started];
					x->nrcpts = 3;
					x->size = 12;
					x->last = started + 1 == ntxn;
					FUZZ_CHECK(smtp_client_send(&c, x) == 0);
					started++;
				} else {
					smtp_client_quit(&c);
				}
			}
			if (smtp_client_wants_content(&c))
				FUZZ_CHECK(smtp_client_content(&c, "Subject: x\n\n.body\n", 18, true) == 0);
			fuzz_smtp_reply_check_out(&c);
			if (pos >= ends[k] || smtp_client_wants_tls(&c))
				break;
			size_t used = smtp_client_feed(&c, in + pos, ends[k] - pos);
			FUZZ_CHECK(used <= ends[k] - pos);
			pos += used;
			if (used == 0 && !smtp_client_wants_tls(&c))
				break;
		}
	}
	smtp_client_abort(&c, "eof");
	FUZZ_CHECK(smtp_client_is_closed(&c));
	FUZZ_CHECK(f.dones == started);
	for (unsigned i = 0; i < started; i++) {
		FUZZ_CHECK(t[i].done);
		for (int j = 0; j < 3; j++)
			FUZZ_CHECK(r[i][j].state == SMTP_CLIENT_RCPT_DELIVERED || r[i][j].state == SMTP_CLIENT_RCPT_REFUSED);
		FUZZ_CHECK(t[i].ok == (r[i][0].state == SMTP_CLIENT_RCPT_DELIVERED ||
		                       r[i][1].state == SMTP_CLIENT_RCPT_DELIVERED ||
		                       r[i][2].state == SMTP_CLIENT_RCPT_DELIVERED));
	}
	smtp_client_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned opts = data[0];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	size_t cut = n ? (size_t)data[1] % (n + 1) : 0;

	struct buf a, b;
	bool fa, fb;
	buf_init(&a, 0);
	buf_init(&b, 0);
	size_t pa = fuzz_smtp_reply_parse_all(in, n, n, &a, &fa);
	size_t pb = fuzz_smtp_reply_parse_all(in, n, cut, &b, &fb);
	FUZZ_CHECK(fa == fb);
	FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	if (!fa)
		FUZZ_CHECK(pa == n && pb == n);
	buf_free(&a);
	buf_free(&b);

	fuzz_smtp_reply_engine(opts, in, n, cut);
	return 0;
}
