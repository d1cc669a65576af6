/*
 * test_smtp_client_session — the SMTP client engine when things go wrong
 * or get involved: garbage and unsolicited replies, a refused greeting,
 * 421, a lost connection, STARTTLS (with plaintext injected after the 220),
 * AUTH PLAIN and LOGIN with secrets masked in the trace, the SMTPUTF8 /
 * 8BITMIME / SIZE decisions, content that cannot be sent faithfully,
 * dot-stuffing, and command injection through a caller's string.
 */
#include "smtp_client_tst.h"

/* Garbage from the server: the session stops at once, temporarily. */
static void test_garbage(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	smtp_client_content(&s.c, "x", 1, true);
	buf_reset(&s.c.out);
	const char *in = "250 ok\r\nHTTP/1.0 200 OK\r\n250 ok\r\n";
	size_t used = smtp_client_feed(&s.c, in, strlen(in));
	assert_true(used < strlen(in));
	assert_true(smtp_client_is_closed(&s.c));
	assert_true(s.c.failed);
	assert_true(s.c.error.local);
	assert_int_equal(smtp_client_reply_class(&s.c.error), 4);
	assert_true(t.done && !t.ok);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_int_equal(s.c.out.len, 0); /* no QUIT into a broken stream */
	tst_free(&s);

	/* a garbage greeting */
	tst_init(&s, NULL);
	tst_feed(&s, "SSH-2.0-OpenSSH_9.2\r\n");
	assert_true(smtp_client_is_closed(&s.c) && s.c.failed);
	tst_free(&s);
}

static void test_greeting_refused(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_feed(&s, "554-5.7.1 go away\r\n554 5.7.1 really\r\n");
	assert_true(s.c.failed);
	assert_string_equal(s.c.error.text, "554 5.7.1 go away / really");
	tst_out(&s, "QUIT\r\n"); /* RFC 5321 3.1 */
	tst_feed(&s, "221 bye\r\n");
	assert_true(smtp_client_is_closed(&s.c));
	tst_free(&s);
}

/* 421 in the middle: the server is closing; no QUIT. */
static void test_421(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_NONE);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	buf_reset(&s.c.out);
	tst_feed(&s, "250 ok\r\n");
	buf_reset(&s.c.out);
	tst_feed(&s, "421 4.4.2 timeout\r\n");
	assert_true(smtp_client_is_closed(&s.c) && s.c.failed);
	assert_true(t.done);
	assert_string_equal(r[0].reply.text, "421 4.4.2 timeout");
	assert_int_equal(s.c.out.len, 0);
	tst_free(&s);
}

static void test_abort(void **state)
{
	(void)state;
	struct tst s;
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};

	/* the connection drops mid-transaction: temporary failure */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_NONE);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	smtp_client_abort(&s.c, "eof");
	assert_true(s.c.failed && t.done && !t.ok);
	assert_int_equal(smtp_client_reply_class(&r[0].reply), 4);
	assert_string_equal(r[0].reply.text, "connection lost (eof)");
	tst_free(&s);

	/* after the final 250, a close without 221 is fine */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	smtp_client_content(&s.c, "x", 1, true);
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 queued\r\n");
	smtp_client_abort(&s.c, "eof");
	assert_true(smtp_client_is_closed(&s.c));
	assert_false(s.c.failed);
	assert_true(t.ok);
	tst_free(&s);
}

static void test_starttls(void **state)
{
	(void)state;
	struct smtp_client_config cfg = {.helo = "client.test", .starttls = SMTP_CLIENT_TLS_REQUIRED};
	struct tst s;
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
	tst_out(&s, "STARTTLS\r\n");
	/* plaintext injected after the 220 is not consumed (RFC 3207 5) */
	const char *in = "220 2.0.0 go\r\n250 injected\r\n";
	assert_int_equal(smtp_client_feed(&s.c, in, strlen(in)), strlen("220 2.0.0 go\r\n"));
	assert_true(smtp_client_wants_tls(&s.c));
	assert_int_equal(s.c.out.len, 0);
	smtp_client_tls_done(&s.c);
	assert_true(s.c.tls);
	assert_false(s.c.ehlo.pipelining); /* forgotten (RFC 3207 4.2) */
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "250-mx\r\n250 PIPELINING\r\n");
	assert_true(smtp_client_is_ready(&s.c)); /* no second STARTTLS */
	assert_int_equal(s.c.round_trips, 3);
	tst_free(&s);

	/* required but not offered: fail, QUIT */
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, EHLO_PIPE);
	assert_true(s.c.failed);
	assert_int_equal(smtp_client_reply_class(&s.c.error), 5);
	tst_out(&s, "QUIT\r\n");
	tst_free(&s);

	/* opportunistic: a refused STARTTLS goes on in plaintext */
	cfg.starttls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "250-mx\r\n250 STARTTLS\r\n");
	tst_out(&s, "STARTTLS\r\n");
	tst_feed(&s, "454 4.7.0 TLS not available\r\n");
	assert_true(smtp_client_is_ready(&s.c));
	assert_false(s.c.failed);
	tst_free(&s);

	/* implicit TLS: no STARTTLS even when required */
	cfg.starttls = SMTP_CLIENT_TLS_REQUIRED;
	cfg.tls_active = true;
	tst_init(&s, &cfg);
	tst_hello(&s, "250-mx\r\n250 STARTTLS\r\n");
	tst_free(&s);
}

static void test_auth(void **state)
{
	(void)state;
	struct smtp_client_config cfg = {.helo = "client.test", .user = "bob@example.test", .password = "secret"};
	struct tst s;
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n");
	/* base64("\0bob@example.test\0secret") */
	tst_out(&s, "AUTH PLAIN AGJvYkBleGFtcGxlLnRlc3QAc2VjcmV0\r\n");
	tst_feed(&s, "235 2.7.0 ok\r\n");
	assert_true(smtp_client_is_ready(&s.c) && s.c.authenticated);
	assert_non_null(strstr(s.trace.data, "C: AUTH PLAIN ****\n"));
	assert_null(strstr(s.trace.data, "AGJvYkBleGFtcGxlLnRlc3QAc2VjcmV0"));
	tst_free(&s);

	/* LOGIN when PLAIN is not offered */
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "250-mx\r\n250 AUTH LOGIN\r\n");
	tst_out(&s, "AUTH LOGIN\r\n");
	tst_feed(&s, "334 VXNlcm5hbWU6\r\n");
	tst_out(&s, "Ym9iQGV4YW1wbGUudGVzdA==\r\n");
	tst_feed(&s, "334 UGFzc3dvcmQ6\r\n");
	tst_out(&s, "c2VjcmV0\r\n");
	tst_feed(&s, "235 ok\r\n");
	assert_true(s.c.authenticated);
	assert_null(strstr(s.trace.data, "c2VjcmV0"));
	assert_null(strstr(s.trace.data, "Ym9iQGV4YW1wbGUudGVzdA=="));
	tst_free(&s);

	/* refused: permanent failure with the server's reply, QUIT */
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	buf_reset(&s.c.out);
	tst_feed(&s, "250-mx\r\n250 AUTH PLAIN\r\n");
	buf_reset(&s.c.out);
	tst_feed(&s, "535 5.7.8 bad credentials\r\n");
	assert_true(s.c.failed);
	assert_string_equal(s.c.error.text, "535 5.7.8 bad credentials");
	tst_out(&s, "QUIT\r\n");
	tst_free(&s);

	/* no AUTH offered */
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	buf_reset(&s.c.out);
	tst_feed(&s, EHLO_PIPE);
	assert_true(s.c.failed);
	tst_out(&s, "QUIT\r\n");
	tst_free(&s);
}

/* SMTPUTF8, 8BITMIME, SIZE: decided before anything is sent. */
static void test_extensions(void **state)
{
	(void)state;
	struct tst s;
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *utf8to[] = {"j\xc3\xb6rg@y.test"};
	const char *to[] = {"b@y.test"};

	/* a UTF-8 address, server without SMTPUTF8: refused here, QUIT only */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_PIPE);
	tst_txn(&t, r, utf8to, 1);
	smtp_client_send(&s.c, &t);
	assert_true(t.done && !t.ok);
	assert_true(t.reply.local);
	assert_string_equal(t.reply.status, "5.6.7");
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_REFUSED);
	tst_out(&s, "QUIT\r\n");
	tst_free(&s);

	/* with SMTPUTF8 and 8-bit content */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, utf8to, 1);
	t.eightbit = true;
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@y.test>\r\n");
	tst_free(&s);

	/* 8-bit content without 8BITMIME */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_NONE);
	tst_txn(&t, r, to, 1);
	t.eightbit = true;
	smtp_client_send(&s.c, &t);
	assert_true(t.done && !t.ok);
	assert_string_equal(t.reply.status, "5.6.3");
	tst_free(&s);

	/* over the announced SIZE */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, to, 1);
	t.size = 2000000;
	smtp_client_send(&s.c, &t);
	assert_true(t.done && !t.ok);
	assert_string_equal(t.reply.status, "5.3.4");
	tst_free(&s);

	/* bad addresses: refused locally; the good one goes */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	struct smtp_client_rcpt r3[3];
	const char *mixed[] = {"b@y.test", "bad address@y.test", "x@y.test>\r\nRSET"};
	tst_txn(&t, r3, mixed, 3);
	t.from = "";
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<>\r\nRCPT TO:<b@y.test>\r\n");
	assert_int_equal(r3[1].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_int_equal(r3[2].state, SMTP_CLIENT_RCPT_REFUSED);
	smtp_client_content(&s.c, "x", 1, true);
	tst_out(&s, "BDAT 3 LAST\r\nx\r\nQUIT\r\n");
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 ok\r\n221 bye\r\n");
	assert_true(t.ok);
	assert_int_equal(r3[0].state, SMTP_CLIENT_RCPT_DELIVERED);
	tst_free(&s);
}

/* Content that cannot be sent faithfully: nothing truncated goes out. */
static void test_bad_content(void **state)
{
	(void)state;
	char line[1100];
	memset(line, 'a', sizeof line);
	struct tst s;
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};

	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	buf_reset(&s.c.out);
	assert_int_equal(smtp_client_content(&s.c, line, 999, true), -1);
	assert_true(smtp_client_is_closed(&s.c) && s.c.failed);
	assert_int_equal(s.c.out.len, 0);
	assert_true(t.done && !t.ok);
	assert_string_equal(t.reply.status, "5.6.0");
	tst_free(&s);

	/* 998 is fine */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	buf_reset(&s.c.out);
	assert_int_equal(smtp_client_content(&s.c, line, 998, true), 0);
	assert_int_equal(s.c.out.len, strlen("BDAT 1000 LAST\r\n") + 1000 + strlen("QUIT\r\n"));
	tst_free(&s);

	/* a bare CR */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_PIPE);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	tst_feed(&s, "250 ok\r\n250 ok\r\n354 go\r\n");
	buf_reset(&s.c.out);
	assert_int_equal(smtp_client_content(&s.c, "a\rb\n", 4, true), -1);
	assert_true(smtp_client_is_closed(&s.c));
	tst_free(&s);
}

/* Dot-stuffing and line endings of the DATA encoding (RFC 5321 4.5.2). */
static void test_dot_stuffing(void **state)
{
	(void)state;
	static const struct {
		const char *in, *wire;
	} cases[] = {
		{"", ".\r\n"},
		{".", "..\r\n.\r\n"},
		{".\n", "..\r\n.\r\n"},
		{"a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r\n.\r\n", "a\r\n..\r\n.\r\n"},
		{"..x\r\n\n", "...x\r\n\r\n.\r\n"},
		{"x.\n .\n", "x.\r\n .\r\n.\r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tst s;
		struct smtp_client_txn t;
		struct smtp_client_rcpt r[1];
		const char *to[] = {"b@y.test"};
		tst_init(&s, NULL);
		tst_hello(&s, EHLO_NONE);
		tst_txn(&t, r, to, 1);
		smtp_client_send(&s.c, &t);
		tst_feed(&s, "250 ok\r\n");
		tst_feed(&s, "250 ok\r\n");
		tst_feed(&s, "354 go\r\n");
		buf_reset(&s.c.out);
		/* one octet at a time: the same bytes */
		size_t n = strlen(cases[i].in);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(smtp_client_content(&s.c, cases[i].in + k, 1, false), 0);
		assert_int_equal(smtp_client_content(&s.c, "", 0, true), 0);
		tst_out(&s, cases[i].wire);
		tst_free(&s);
	}
}

/* A caller's string cannot smuggle a second command. */
static void test_injection(void **state)
{
	(void)state;
	struct smtp_client_config cfg = {.helo = "client.test\r\nRSET"};
	struct tst s;
	tst_init(&s, &cfg);
	tst_feed(&s, "220 mx\r\n");
	assert_true(smtp_client_is_closed(&s.c) && s.c.failed);
	assert_int_equal(s.c.out.len, 0);
	tst_free(&s);
}

/* A reply nobody asked for. */
static void test_unsolicited(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_NONE);
	tst_feed(&s, "250 surprise\r\n");
	assert_true(smtp_client_is_closed(&s.c) && s.c.failed);
	tst_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_greeting_refused),
		cmocka_unit_test(test_421),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_bad_content),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_unsolicited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
