/*
 * smtp_client_tst — the harness shared by the SMTP client engine's unit
 * tests (test_smtp_client.c: dialogues and round trips;
 * test_smtp_client_session.c: failures, TLS, AUTH, checks, encoding): an
 * engine with a trace recorder, and assertions on the exact bytes it sends.
 */
#ifndef TERN_TEST_SMTP_CLIENT_TST_H
#define TERN_TEST_SMTP_CLIENT_TST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/smtp_client.h"

#define EHLO_FULL                                                                                                \
	"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"       \
	"250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define EHLO_PIPE "250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define EHLO_NONE "250 mx.test\r\n"

struct tst {
	struct smtp_client c;
	struct buf trace;
	unsigned dones;
};

static inline void tst_trace_cb(void *ctx, char dir, const char *line, size_t len)
{
	struct tst *s = ctx;
	buf_printf(&s->trace, "%c: %.*s\n", dir, (int)len, line);
}

static inline void tst_done_cb(void *ctx, struct smtp_client_txn *t)
{
	struct tst *s = ctx;
	assert_true(t->done);
	s->dones++;
}

static const struct smtp_client_ops tst_ops = {.trace = tst_trace_cb, .txn_done = tst_done_cb};

static inline void tst_init(struct tst *s, const struct smtp_client_config *cfg)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->trace, 0);
	struct smtp_client_config def = {.helo = "client.test"};
	smtp_client_init(&s->c, cfg ? cfg : &def, &tst_ops, s);
}

static inline void tst_free(struct tst *s)
{
	smtp_client_free(&s->c);
	buf_free(&s->trace);
}

/* What the engine wants sent must be exactly `want`; then it is sent. */
static inline void tst_out_n(struct tst *s, const char *want, size_t n)
{
	const char *got = s->c.out.data ? s->c.out.data : "";
	if (s->c.out.len != n || memcmp(got, want, n) != 0) {
		print_error("client sent:\n%s\nexpected:\n%.*s\n", got, (int)n, want);
		fail();
	}
	buf_reset(&s->c.out);
}

static inline void tst_out(struct tst *s, const char *want)
{
	tst_out_n(s, want, strlen(want));
}

static inline void tst_feed(struct tst *s, const char *in)
{
	size_t n = strlen(in);
	assert_int_equal(smtp_client_feed(&s->c, in, n), n);
}

/* Feed one octet at a time: nothing may be sent before the last octet. */
static inline void tst_feed_bytewise(struct tst *s, const char *in)
{
	size_t n = strlen(in);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(smtp_client_feed(&s->c, in + i, 1), 1);
		if (i + 1 < n)
			assert_int_equal(s->c.out.len, 0);
	}
}

/* Greeting and EHLO with the given reply. */
static inline void tst_hello(struct tst *s, const char *ehlo_reply)
{
	assert_int_equal(s->c.out.len, 0); /* nothing before the greeting */
	tst_feed(s, "220 mx.test ESMTP\r\n");
	tst_out(s, "EHLO client.test\r\n");
	tst_feed(s, ehlo_reply);
	assert_true(smtp_client_is_ready(&s->c));
}

static inline void tst_txn(struct smtp_client_txn *t, struct smtp_client_rcpt *r, const char **addrs, size_t n)
{
	memset(t, 0, sizeof *t);
	memset(r, 0, n * sizeof *r);
	for (size_t i = 0; i < n; i++)
		r[i].addr = addrs[i];
	t->from = "a@x.test";
	t->rcpts = r;
	t->nrcpts = n;
	t->last = true;
}

__attribute__((unused)) static const char tst_msg[] = "Subject: hi\n\nbody\n.dot\n";
__attribute__((unused)) static const char tst_msg_crlf[] = "Subject: hi\r\n\r\nbody\r\n.dot\r\n";
__attribute__((unused)) static const char tst_msg_stuffed[] = "Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\n";

#endif
