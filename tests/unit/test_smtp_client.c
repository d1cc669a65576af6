/*
 * test_smtp_client — the SMTP client engine byte for byte, in whole
 * dialogues: the exact bytes it emits pipelined and one command at a time,
 * replies split across reads at every position and one octet at a time,
 * multi-line replies, partial and total RCPT refusal (with DATA and with
 * BDAT), BDAT against DATA, several transactions on one connection, and
 * the round-trip counts: 2 with PIPELINING and CHUNKING, 3 with PIPELINING
 * only, 5 with CHUNKING only, 6 without extensions, 7 with the HELO
 * fallback. Failures, TLS, AUTH and encoding: test_smtp_client_session.c.
 */
#include "smtp_client_tst.h"

/* PIPELINING + CHUNKING: EHLO; then MAIL, RCPT, BDAT LAST, content and
 * QUIT in one flight. The EHLO reply is cut at `cut1`, the final replies
 * at `cut2`: the outcome must not change. */
static void test_run_pipelined_bdat(size_t cut1, size_t cut2)
{
	struct tst s;
	tst_init(&s, NULL);
	tst_feed(&s, "220 mx.test ESMTP\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	const char *ehlo = EHLO_FULL;
	size_t k = smtp_client_feed(&s.c, ehlo, cut1);
	assert_int_equal(k, cut1);
	assert_int_equal(s.c.out.len, 0);
	tst_feed(&s, ehlo + cut1);
	assert_true(smtp_client_is_ready(&s.c));

	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	t.size = sizeof tst_msg_crlf - 1;
	assert_int_equal(smtp_client_send(&s.c, &t), 0);
	tst_out(&s, "MAIL FROM:<a@x.test> SIZE=27\r\nRCPT TO:<b@y.test>\r\n");
	assert_true(smtp_client_wants_content(&s.c));
	assert_int_equal(smtp_client_content(&s.c, tst_msg, sizeof tst_msg - 1, true), 0);
	tst_out(&s, "BDAT 27 LAST\r\nSubject: hi\r\n\r\nbody\r\n.dot\r\nQUIT\r\n");
	assert_false(smtp_client_wants_content(&s.c));

	const char *fin = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as ABC\r\n221 2.0.0 Bye\r\n";
	k = smtp_client_feed(&s.c, fin, cut2);
	assert_int_equal(k, cut2);
	tst_feed(&s, fin + cut2);
	assert_true(smtp_client_is_closed(&s.c));
	assert_false(s.c.failed);
	assert_true(t.done && t.ok);
	assert_int_equal(s.dones, 1);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_DELIVERED);
	assert_string_equal(r[0].reply.text, "250 2.0.0 Ok: queued as ABC");
	assert_string_equal(t.reply.status, "2.0.0");
	assert_int_equal(s.c.round_trips, 2);
	assert_int_equal(s.c.out.len, 0);
	tst_free(&s);
}

static void test_pipelined_bdat(void **state)
{
	(void)state;
	test_run_pipelined_bdat(0, 0);
	size_t ne = strlen(EHLO_FULL);
	for (size_t i = 0; i <= ne; i++)
		test_run_pipelined_bdat(i, 0);
	size_t nf = strlen("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as ABC\r\n221 2.0.0 Bye\r\n");
	for (size_t i = 0; i <= nf; i++)
		test_run_pipelined_bdat(0, i);
}

/* The trace: every protocol line, one per line, with direction. */
static void test_trace(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, "250-mx.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	smtp_client_content(&s.c, "x\n", 2, true);
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 ok\r\n221 bye\r\n");
	assert_string_equal(s.trace.data, "S: 220 mx.test ESMTP\n"
	                                  "C: EHLO client.test\n"
	                                  "S: 250-mx.test\n"
	                                  "S: 250-PIPELINING\n"
	                                  "S: 250 CHUNKING\n"
	                                  "C: MAIL FROM:<a@x.test>\n"
	                                  "C: RCPT TO:<b@y.test>\n"
	                                  "C: BDAT 3 LAST\n"
	                                  "C: QUIT\n"
	                                  "S: 250 ok\n"
	                                  "S: 250 ok\n"
	                                  "S: 250 ok\n"
	                                  "S: 221 bye\n");
	assert_int_equal(s.c.round_trips, 2);
	tst_free(&s);
}

/* No extensions at all: one command per round trip, DATA with
 * dot-stuffing. EHLO, MAIL, RCPT, DATA, the content, QUIT: 6. Every
 * reply arrives one octet at a time. */
static void test_no_extensions(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_feed_bytewise(&s, "220 mx.test\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed_bytewise(&s, EHLO_NONE);
	assert_true(smtp_client_is_ready(&s.c));
	assert_true(s.c.esmtp);

	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	t.size = 27; /* no SIZE= without the extension */
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\n");
	assert_false(smtp_client_wants_content(&s.c));
	assert_int_equal(smtp_client_timeout(&s.c), SMTP_CLIENT_TIMEOUT_MAIL);
	tst_feed_bytewise(&s, "250 ok\r\n");
	tst_out(&s, "RCPT TO:<b@y.test>\r\n");
	assert_int_equal(smtp_client_timeout(&s.c), SMTP_CLIENT_TIMEOUT_RCPT);
	tst_feed_bytewise(&s, "250-ok\r\n250 really\r\n");
	tst_out(&s, "DATA\r\n");
	assert_int_equal(smtp_client_timeout(&s.c), SMTP_CLIENT_TIMEOUT_DATA);
	assert_false(smtp_client_wants_content(&s.c));
	tst_feed_bytewise(&s, "354 go ahead\r\n");
	assert_true(smtp_client_wants_content(&s.c));
	assert_int_equal(smtp_client_timeout(&s.c), SMTP_CLIENT_TIMEOUT_BLOCK);
	/* streamed in pieces, one cut between CR and LF */
	assert_int_equal(smtp_client_content(&s.c, "Subject: hi\r", 12, false), 0);
	assert_int_equal(smtp_client_content(&s.c, "\n\nbody\n", 7, false), 0);
	assert_int_equal(smtp_client_content(&s.c, ".dot", 4, true), 0);
	tst_out(&s, tst_msg_stuffed);
	assert_int_equal(smtp_client_timeout(&s.c), SMTP_CLIENT_TIMEOUT_DOT);
	tst_feed_bytewise(&s, "250 queued\r\n");
	assert_true(t.done && t.ok);
	tst_out(&s, "QUIT\r\n");
	tst_feed_bytewise(&s, "221 bye\r\n");
	assert_true(smtp_client_is_closed(&s.c));
	assert_false(s.c.failed);
	assert_int_equal(s.c.round_trips, 6);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_DELIVERED);
	tst_free(&s);
}

/* EHLO refused with 5xx: HELO (RFC 5321 3.2), no extensions; 7 trips. */
static void test_helo_fallback(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_feed(&s, "220 old.test\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "502 5.5.1 what?\r\n");
	tst_out(&s, "HELO client.test\r\n");
	tst_feed(&s, "250 old.test\r\n");
	assert_true(smtp_client_is_ready(&s.c));
	assert_false(s.c.esmtp);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\n");
	tst_feed(&s, "250 ok\r\n");
	tst_out(&s, "RCPT TO:<b@y.test>\r\n");
	tst_feed(&s, "250 ok\r\n");
	tst_out(&s, "DATA\r\n");
	tst_feed(&s, "354 go\r\n");
	smtp_client_content(&s.c, tst_msg, sizeof tst_msg - 1, true);
	tst_out(&s, tst_msg_stuffed);
	tst_feed(&s, "250 ok\r\n");
	tst_out(&s, "QUIT\r\n");
	tst_feed(&s, "221 bye\r\n");
	assert_int_equal(s.c.round_trips, 7);
	assert_true(t.ok);
	tst_free(&s);

	/* a 4xx to EHLO is not an old server: the session fails */
	tst_init(&s, NULL);
	tst_feed(&s, "220 mx\r\n");
	tst_out(&s, "EHLO client.test\r\n");
	tst_feed(&s, "421 4.3.2 busy\r\n");
	assert_true(smtp_client_is_closed(&s.c));
	assert_true(s.c.failed);
	assert_string_equal(s.c.error.text, "421 4.3.2 busy");
	tst_free(&s);
}

/* PIPELINING without CHUNKING: MAIL, RCPT, DATA in one flight, then the
 * content and, for the last transaction, QUIT with the final dot: 3. */
static void test_pipelined_data(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_PIPE);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[2];
	const char *to[] = {"b@y.test", "c@y.test"};
	tst_txn(&t, r, to, 2);
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n");
	assert_false(smtp_client_wants_content(&s.c));
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	assert_true(smtp_client_wants_content(&s.c));
	smtp_client_content(&s.c, "..\n.\nx", 6, true);
	tst_out(&s, "...\r\n..\r\nx\r\n.\r\nQUIT\r\n");
	tst_feed(&s, "250 queued\r\n221 bye\r\n");
	assert_true(smtp_client_is_closed(&s.c));
	assert_int_equal(s.c.round_trips, 3);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_DELIVERED);
	assert_int_equal(r[1].state, SMTP_CLIENT_RCPT_DELIVERED);
	tst_free(&s);
}

/* The caller turned PIPELINING off: BDAT still saves the 354; 5 trips. */
static void test_no_pipelining_bdat(void **state)
{
	(void)state;
	struct smtp_client_config cfg = {.helo = "client.test", .no_pipelining = true};
	struct tst s;
	tst_init(&s, &cfg);
	tst_hello(&s, EHLO_FULL);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\n");
	assert_false(smtp_client_wants_content(&s.c));
	tst_feed(&s, "250 ok\r\n");
	tst_out(&s, "RCPT TO:<b@y.test>\r\n");
	tst_feed(&s, "250 ok\r\n");
	assert_true(smtp_client_wants_content(&s.c));
	/* two pieces: two chunks, each waiting for its reply */
	smtp_client_content(&s.c, "a\n", 2, false);
	tst_out(&s, "BDAT 3\r\na\r\n");
	assert_false(smtp_client_wants_content(&s.c));
	tst_feed(&s, "250 3 octets\r\n");
	assert_true(smtp_client_wants_content(&s.c));
	smtp_client_content(&s.c, ".b", 2, true);
	tst_out(&s, "BDAT 4 LAST\r\n.b\r\n");
	tst_feed(&s, "250 queued\r\n");
	tst_out(&s, "QUIT\r\n");
	tst_feed(&s, "221 bye\r\n");
	assert_int_equal(s.c.round_trips, 6);
	assert_true(t.ok);
	tst_free(&s);

	/* with one piece: EHLO, MAIL, RCPT, BDAT LAST, QUIT */
	tst_init(&s, &cfg);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	tst_feed(&s, "250 ok\r\n");
	tst_feed(&s, "250 ok\r\n");
	smtp_client_content(&s.c, tst_msg, sizeof tst_msg - 1, true);
	tst_feed(&s, "250 queued\r\n");
	tst_feed(&s, "221 bye\r\n");
	assert_int_equal(s.c.round_trips, 5);
	tst_free(&s);
}

/* Some recipients refused: the message goes to the others. */
static void test_partial_refusal(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[3];
	const char *to[] = {"b@y.test", "nobody@y.test", "d@y.test"};
	tst_txn(&t, r, to, 3);
	smtp_client_send(&s.c, &t);
	smtp_client_content(&s.c, "x\n", 2, true);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<nobody@y.test>\r\nRCPT TO:<d@y.test>\r\n"
	            "BDAT 3 LAST\r\nx\r\nQUIT\r\n");
	tst_feed(&s, "250 ok\r\n250 ok\r\n550 5.1.1 <nobody@y.test>: unknown\r\n452 4.2.2 full\r\n250 queued\r\n"
	             "221 bye\r\n");
	assert_true(t.ok);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_DELIVERED);
	assert_int_equal(r[1].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_string_equal(r[1].reply.text, "550 5.1.1 <nobody@y.test>: unknown");
	assert_int_equal(smtp_client_reply_class(&r[1].reply), 5);
	assert_int_equal(r[2].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_int_equal(smtp_client_reply_class(&r[2].reply), 4);
	assert_false(r[1].reply.local);
	tst_free(&s);
}

/* Every RCPT refused with pipelined DATA: the server answers DATA with
 * 554; no content is sent. Then QUIT (the last transaction). */
static void test_all_refused_data(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_PIPE);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_feed(&s, "250 ok\r\n550 5.7.1 relay denied\r\n554 5.5.1 Error: no valid recipients\r\n");
	assert_true(t.done);
	assert_false(t.ok);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_string_equal(r[0].reply.text, "550 5.7.1 relay denied");
	assert_string_equal(t.reply.text, "554 5.5.1 Error: no valid recipients");
	tst_out(&s, "QUIT\r\n");
	tst_feed(&s, "221 bye\r\n");
	assert_true(smtp_client_is_closed(&s.c));
	assert_false(s.c.failed); /* the session was fine; the transaction failed */
	tst_free(&s);

	/* a server that says 354 anyway gets an empty message ended at once
	 * (RFC 2920 3.1) */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_PIPE);
	tst_txn(&t, r, to, 1);
	t.last = false;
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_feed(&s, "250 ok\r\n550 no\r\n354 go\r\n");
	tst_out(&s, ".\r\n");
	assert_false(smtp_client_wants_content(&s.c));
	tst_feed(&s, "554 no valid recipients\r\n");
	assert_true(t.done && !t.ok);
	assert_true(smtp_client_is_ready(&s.c));
	/* the next transaction starts with RSET, in the same flight */
	struct smtp_client_txn t2;
	struct smtp_client_rcpt r2[1];
	tst_txn(&t2, r2, to, 1);
	smtp_client_send(&s.c, &t2);
	tst_out(&s, "RSET\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	smtp_client_content(&s.c, "x", 1, true);
	tst_out(&s, "x\r\n.\r\nQUIT\r\n");
	tst_feed(&s, "250 ok\r\n221 bye\r\n");
	assert_true(t2.ok);
	tst_free(&s);
}

/* Every RCPT refused with pipelined BDAT: the chunk went out with the
 * commands, the server refuses BDAT. */
static void test_all_refused_bdat(void **state)
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
	smtp_client_content(&s.c, "x\n", 2, true);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 3 LAST\r\nx\r\nQUIT\r\n");
	tst_feed(&s, "250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n221 bye\r\n");
	assert_true(t.done && !t.ok);
	assert_int_equal(r[0].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_string_equal(r[0].reply.text, "550 5.1.1 unknown");
	assert_string_equal(t.reply.text, "554 5.5.1 no valid recipients");
	assert_true(smtp_client_is_closed(&s.c));
	assert_int_equal(s.c.round_trips, 2);
	tst_free(&s);

	/* the refusals arrive before the content is pushed: none is sent */
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	tst_txn(&t, r, to, 1);
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n");
	tst_feed(&s, "250 ok\r\n550 5.1.1 unknown\r\n");
	assert_false(smtp_client_wants_content(&s.c));
	assert_int_equal(smtp_client_content(&s.c, "x", 1, true), -1);
	assert_true(t.done && !t.ok);
	tst_out(&s, "QUIT\r\n");
	tst_free(&s);
}

/* Without PIPELINING, a refused recipient set ends the transaction
 * without DATA; the next one starts with RSET. */
static void test_all_refused_serial(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_NONE);
	struct smtp_client_txn t, t2;
	struct smtp_client_rcpt r[1], r2[1];
	const char *to[] = {"b@y.test"};
	tst_txn(&t, r, to, 1);
	t.last = false;
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\n");
	tst_feed(&s, "250 ok\r\n");
	tst_out(&s, "RCPT TO:<b@y.test>\r\n");
	tst_feed(&s, "550 no\r\n");
	assert_true(t.done && !t.ok);
	assert_int_equal(s.c.out.len, 0);
	assert_true(smtp_client_is_ready(&s.c));
	tst_txn(&t2, r2, to, 1);
	smtp_client_send(&s.c, &t2);
	tst_out(&s, "RSET\r\n");
	tst_feed(&s, "250 ok\r\n");
	tst_out(&s, "MAIL FROM:<a@x.test>\r\n");
	tst_feed(&s, "451 4.3.0 try later\r\n");
	assert_true(t2.done && !t2.ok);
	assert_int_equal(r2[0].state, SMTP_CLIENT_RCPT_REFUSED);
	assert_string_equal(r2[0].reply.text, "451 4.3.0 try later");
	tst_out(&s, "QUIT\r\n");
	assert_int_equal(s.dones, 2);
	tst_free(&s);
}

/* A MAIL refusal fails every recipient with that reply. */
static void test_mail_refused(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_PIPE);
	struct smtp_client_txn t;
	struct smtp_client_rcpt r[2];
	const char *to[] = {"b@y.test", "c@y.test"};
	tst_txn(&t, r, to, 2);
	smtp_client_send(&s.c, &t);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n");
	tst_feed(&s, "553 5.7.1 not yours\r\n503 need MAIL\r\n");
	assert_false(t.done);
	tst_feed(&s, "503 need MAIL\r\n503 need MAIL\r\n");
	assert_true(t.done && !t.ok);
	assert_string_equal(r[0].reply.text, "553 5.7.1 not yours");
	assert_string_equal(r[1].reply.text, "553 5.7.1 not yours");
	tst_out(&s, "QUIT\r\n");
	tst_free(&s);
}

/* Several transactions on one connection, then QUIT by the caller. */
static void test_two_messages(void **state)
{
	(void)state;
	struct tst s;
	tst_init(&s, NULL);
	tst_hello(&s, EHLO_FULL);
	struct smtp_client_txn t1, t2;
	struct smtp_client_rcpt r1[1], r2[1];
	const char *to1[] = {"b@y.test"}, *to2[] = {"c@y.test"};
	tst_txn(&t1, r1, to1, 1);
	tst_txn(&t2, r2, to2, 1);
	t1.last = t2.last = false;
	smtp_client_send(&s.c, &t1);
	smtp_client_content(&s.c, "1", 1, true);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 3 LAST\r\n1\r\n");
	assert_int_equal(smtp_client_send(&s.c, &t2), -1); /* not ready yet */
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 queued 1\r\n");
	assert_true(t1.ok && smtp_client_is_ready(&s.c));
	smtp_client_send(&s.c, &t2);
	smtp_client_content(&s.c, "2", 1, true);
	tst_out(&s, "MAIL FROM:<a@x.test>\r\nRCPT TO:<c@y.test>\r\nBDAT 3 LAST\r\n2\r\n");
	tst_feed(&s, "250 ok\r\n250 ok\r\n250 queued 2\r\n");
	assert_true(t2.ok);
	smtp_client_quit(&s.c);
	tst_out(&s, "QUIT\r\n");
	tst_feed(&s, "221 bye\r\n");
	assert_true(smtp_client_is_closed(&s.c));
	assert_int_equal(s.c.round_trips, 4);
	assert_int_equal(s.dones, 2);
	tst_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_bdat),
		cmocka_unit_test(test_trace),
		cmocka_unit_test(test_no_extensions),
		cmocka_unit_test(test_helo_fallback),
		cmocka_unit_test(test_pipelined_data),
		cmocka_unit_test(test_no_pipelining_bdat),
		cmocka_unit_test(test_partial_refusal),
		cmocka_unit_test(test_all_refused_data),
		cmocka_unit_test(test_all_refused_bdat),
		cmocka_unit_test(test_all_refused_serial),
		cmocka_unit_test(test_mail_refused),
		cmocka_unit_test(test_two_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
