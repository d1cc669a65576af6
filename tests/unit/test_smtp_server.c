/*
 * test_smtp_server — the SMTP server engine byte for byte: dialogues in,
 * exact replies out, with stub operations that record what the engine
 * asked of the world.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/smtp_server.h"

struct stub {
	struct buf stored;      /* content handed to data_write */
	int begins, commits, aborts, resets;
	bool refuse_rcpt;
	bool fail_write;
	struct smtp_server *eng;
	bool auto_commit;       /* answer the commit at once */
};

static enum smtp_reply_id stub_rcpt(void *ctx, const struct smtp_addr *to)
{
	struct stub *st = ctx;
	if (st->refuse_rcpt || strcmp(to->local, "nobody") == 0)
		return SMTP_R_USER_UNKNOWN;
	return SMTP_R_RCPT_OK;
}

static enum smtp_reply_id stub_begin(void *ctx)
{
	struct stub *st = ctx;
	st->begins++;
	buf_reset(&st->stored);
	return SMTP_R_OK;
}

static int stub_write(void *ctx, const char *p, size_t n)
{
	struct stub *st = ctx;
	if (st->fail_write)
		return -1;
	return buf_append(&st->stored, p, n);
}

static void stub_commit(void *ctx, const struct smtp_data *d)
{
	(void)d;
	struct stub *st = ctx;
	st->commits++;
	if (st->auto_commit)
		smtp_server_commit_done(st->eng, SMTP_R_OK, "QID1");
}

static void stub_abort(void *ctx)
{
	((struct stub *)ctx)->aborts++;
}

static void stub_reset(void *ctx)
{
	((struct stub *)ctx)->resets++;
}

static char stub_last_user[256], stub_last_pass[256];

static void stub_auth_check(void *ctx, const char *user, const char *pass)
{
	(void)ctx;
	snprintf(stub_last_user, sizeof stub_last_user, "%s", user);
	snprintf(stub_last_pass, sizeof stub_last_pass, "%s", pass);
}

static void stub_missing(void *ctx, unsigned have, struct buf *out)
{
	(void)ctx;
	if (!(have & SMTP_HDR_DATE))
		buf_puts(out, "Date: D\n");
	if (!(have & SMTP_HDR_MESSAGE_ID))
		buf_puts(out, "Message-ID: <M>\n");
}

static const struct smtp_server_ops stub_ops = {
	.auth_check = stub_auth_check,
	.missing_headers = stub_missing,
	.rcpt = stub_rcpt,
	.data_begin = stub_begin,
	.data_write = stub_write,
	.data_commit = stub_commit,
	.data_abort = stub_abort,
	.reset = stub_reset,
};

struct fixture {
	struct smtp_server eng;
	struct stub st;
};

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof f);
	buf_init(&f.st.stored, 0);
	struct smtp_server_config cfg = {.hostname = "mx.test", .max_size = 1000};
	smtp_server_init(&f.eng, &cfg, &stub_ops, &f.st);
	f.st.eng = &f.eng;
	f.st.auto_commit = true;
	smtp_server_greet(&f.eng);
	buf_reset(&f.eng.out);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	smtp_server_free(&f->eng);
	buf_free(&f->st.stored);
	return 0;
}

/* Feed everything and return the replies produced (and clear them). */
static const char *talk(struct fixture *f, const char *in)
{
	static char out[8192];
	size_t n = strlen(in);
	size_t k = smtp_server_feed(&f->eng, in, n);
	assert_int_equal(k, n);
	snprintf(out, sizeof out, "%s", f->eng.out.data ? f->eng.out.data : "");
	buf_reset(&f->eng.out);
	return out;
}

static void test_greeting(void **state)
{
	(void)state;
	struct smtp_server eng;
	struct smtp_server_config cfg = {.hostname = "mx.test", .max_size = 10};
	smtp_server_init(&eng, &cfg, &stub_ops, NULL);
	smtp_server_greet(&eng);
	assert_string_equal(eng.out.data, "220 mx.test ESMTP tern\r\n");
	smtp_server_free(&eng);
}

static void test_ehlo_lists_extensions(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "EHLO client.test\r\n"), "250-mx.test\r\n"
	                                                     "250-PIPELINING\r\n"
	                                                     "250-SIZE 1000\r\n"
	                                                     "250-8BITMIME\r\n"
	                                                     "250-ENHANCEDSTATUSCODES\r\n"
	                                                     "250-SMTPUTF8\r\n"
	                                                     "250 CHUNKING\r\n");
	assert_string_equal(f->eng.helo, "client.test");
}

static void test_whole_transaction(void **state)
{
	struct fixture *f = *state;
	talk(f, "HELO c\r\n");
	assert_string_equal(talk(f, "MAIL FROM:<a@b.test>\r\n"), "250 2.1.0 Sender ok\r\n");
	assert_string_equal(talk(f, "RCPT TO:<x@y.test>\r\n"), "250 2.1.5 Recipient ok\r\n");
	assert_string_equal(talk(f, "DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_string_equal(talk(f, "Subject: s\r\n\r\n..dot\r\nend\r\n.\r\n"), "250 2.0.0 Ok: queued as QID1\r\n");
	assert_string_equal(f->st.stored.data, "Subject: s\n\n.dot\nend\n");
	assert_int_equal(f->st.commits, 1);
	assert_string_equal(talk(f, "QUIT\r\n"), "221 2.0.0 Bye\r\n");
	assert_true(smtp_server_is_closed(&f->eng));
}

static void test_pipelined_group_answered_in_order(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\n");
	assert_string_equal(talk(f, "MAIL FROM:<>\r\nRCPT TO:<nobody@y>\r\nRCPT TO:<ok@y>\r\nDATA\r\n"),
	                    "250 2.1.0 Sender ok\r\n"
	                    "550 5.1.1 <nobody@y>: Recipient address rejected: User unknown\r\n"
	                    "250 2.1.5 Recipient ok\r\n"
	                    "354 End data with <CR><LF>.<CR><LF>\r\n");
}

static void test_order_errors(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
	talk(f, "EHLO c\r\n");
	assert_string_equal(talk(f, "RCPT TO:<a@b>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(talk(f, "DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	talk(f, "MAIL FROM:<a@b>\r\n");
	assert_string_equal(talk(f, "MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
	assert_string_equal(talk(f, "DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
	assert_string_equal(talk(f, "RSET\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(talk(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(talk(f, "VRFY bob\r\n"),
	                    "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
	assert_string_equal(talk(f, "FOO\r\n"), "500 5.5.2 Error: command not recognized\r\n");
}

static void test_long_line_and_bare_lf_in_command(void **state)
{
	struct fixture *f = *state;
	char line[700];
	memset(line, 'A', sizeof line);
	memcpy(line, "NOOP ", 5);
	memcpy(line + sizeof line - 3, "\r\n", 3);
	assert_string_equal(talk(f, line), "500 5.5.2 Error: line too long\r\n");
	/* exactly 512 octets with CR LF is fine */
	char ok[513];
	memset(ok, 'x', sizeof ok);
	memcpy(ok, "NOOP ", 5);
	memcpy(ok + 510, "\r\n", 3);
	assert_string_equal(talk(f, ok), "250 2.0.0 Ok\r\n");
	assert_string_equal(talk(f, "NOOP\nNOOP\r\n"), "500 5.5.2 Error: bare CR, LF or NUL in command line\r\n");
	assert_string_equal(talk(f, "NOOP\rNOOP\r\n"), "500 5.5.2 Error: bare CR, LF or NUL in command line\r\n");
}

static void test_crlf_split_across_reads(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "NOOP\r"), "");
	assert_string_equal(talk(f, "\nNOOP\r\n"), "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
}

static void test_bare_lf_in_data_refused(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	/* "\n.\n" must neither end the data nor pass */
	assert_string_equal(talk(f, "x\n.\nMAIL FROM:<e@f>\r\n"), "");
	assert_string_equal(talk(f, ".\r\n"), "550 5.6.0 Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)\r\n");
	assert_int_equal(f->st.commits, 0);
	assert_int_equal(f->st.aborts, 1);
	assert_string_equal(talk(f, "MAIL FROM:<a@b>\r\n"), "250 2.1.0 Sender ok\r\n");
}

static void test_size_limit(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\n");
	assert_string_equal(talk(f, "MAIL FROM:<a@b> SIZE=1001\r\n"),
	                    "552 5.3.4 Error: message size exceeds fixed limit\r\n");
	talk(f, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	char big[1200];
	memset(big, 'a', sizeof big);
	for (size_t i = 80; i < sizeof big; i += 80)
		big[i - 2] = '\r', big[i - 1] = '\n';
	memcpy(big + sizeof big - 6, "\r\n.\r\n", 6);
	assert_string_equal(talk(f, big), "552 5.3.4 Error: message size exceeds fixed limit\r\n");
	assert_int_equal(f->st.commits, 0);
}

static void test_bdat(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
	assert_string_equal(talk(f, "BDAT 5\r\nhello"), "250 2.0.0 5 octets received\r\n");
	assert_string_equal(talk(f, "DATA\r\n"), "503 5.5.1 Error: DATA and BDAT cannot be mixed in one transaction\r\n");
	assert_string_equal(talk(f, "BDAT 8 LAST\r\n world\r\n"), "250 2.0.0 Ok: queued as QID1\r\n");
	assert_string_equal(f->st.stored.data, "hello world\n");
	/* BDAT without a transaction: the chunk is eaten, then refused */
	assert_string_equal(talk(f, "BDAT 4\r\nNOOPNOOP\r\n"), "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
	talk(f, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
	assert_string_equal(talk(f, "BDAT 0 LAST\r\n"), "250 2.0.0 Ok: queued as QID1\r\n");
}

static void test_commit_waits(void **state)
{
	struct fixture *f = *state;
	f->st.auto_commit = false;
	talk(f, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	const char *rest = "x\r\n.\r\nNOOP\r\n";
	size_t k = smtp_server_feed(&f->eng, rest, strlen(rest));
	assert_int_equal(k, 6); /* stops after the end of data */
	assert_int_equal(f->eng.out.len, 0);
	smtp_server_commit_done(&f->eng, SMTP_R_STORAGE, NULL);
	assert_string_equal(f->eng.out.data, "452 4.3.1 Insufficient system storage, try again later\r\n");
	buf_reset(&f->eng.out);
	assert_string_equal(talk(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

static void test_loop_detected(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	char msg[4096] = "";
	for (int i = 0; i < 51; i++)
		strcat(msg, "Received: x\r\n");
	strcat(msg, "\r\nbody\r\n.\r\n");
	assert_string_equal(talk(f, msg), "554 5.4.6 Message refused: too many Received headers, mail loop suspected\r\n");
}

static void test_too_many_errors_closes(void **state)
{
	struct fixture *f = *state;
	const char *r = "";
	for (int i = 0; i < SMTP_SERVER_MAX_ERRORS; i++)
		r = talk(f, "BAD\r\n");
	assert_string_equal(r, "500 5.5.2 Error: command not recognized\r\n421 4.7.0 Error: too many errors\r\n");
	assert_true(smtp_server_is_closed(&f->eng));
}

static void test_auth_plain_and_login(void **state)
{
	struct fixture *f = *state;
	f->eng.cfg.auth_available = true;
	assert_string_equal(talk(f, "EHLO c\r\n"), "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
	                                           "250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n"
	                                           "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
	/* "\0bob@x\0secret" with an initial response */
	const char *in = "AUTH PLAIN AGJvYkB4AHNlY3JldA==\r\nNOOP\r\n";
	/* the engine stops reading while the password is checked */
	assert_int_equal(smtp_server_feed(&f->eng, in, strlen(in)), strlen(in) - 6);
	assert_int_equal(f->eng.state, SMTP_S_AUTHWAIT);
	assert_string_equal(stub_last_user, "bob@x");
	assert_string_equal(stub_last_pass, "secret");
	smtp_server_auth_done(&f->eng, false, SMTP_R_AUTH_FAILED);
	assert_string_equal(talk(f, "NOOP\r\n"), "535 5.7.8 Authentication credentials invalid\r\n250 2.0.0 Ok\r\n");
	/* LOGIN, step by step */
	assert_string_equal(talk(f, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
	assert_string_equal(talk(f, "Ym9iQHg=\r\n"), "334 UGFzc3dvcmQ6\r\n");
	assert_string_equal(talk(f, "c2VjcmV0\r\n"), "");
	assert_string_equal(stub_last_user, "bob@x");
	smtp_server_auth_done(&f->eng, true, SMTP_R_OK);
	assert_string_equal(talk(f, "AUTH PLAIN\r\n"), "235 2.7.0 Authentication successful\r\n503 5.5.1 Already authenticated\r\n");
}

static void test_auth_refusals(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\n");
	assert_string_equal(talk(f, "AUTH PLAIN\r\n"), "502 5.5.1 Command not implemented\r\n");
	f->eng.cfg.auth_available = true;
	assert_string_equal(talk(f, "AUTH CRAM-MD5\r\n"), "504 5.5.4 Unrecognized authentication mechanism\r\n");
	assert_string_equal(talk(f, "AUTH PLAIN\r\n"), "334 \r\n");
	assert_string_equal(talk(f, "*\r\n"), "501 5.7.0 Authentication cancelled\r\n");
	assert_string_equal(talk(f, "AUTH PLAIN !!!!\r\n"), "501 5.5.2 Invalid base64 data\r\n");
	/* three NULs: a malformed triple ("a\0b\0c\0d") */
	assert_string_equal(talk(f, "AUTH PLAIN YQBiAGMAZA==\r\n"), "535 5.7.8 Authentication credentials invalid\r\n");
	/* authzid different from authcid */
	assert_string_equal(talk(f, "AUTH PLAIN ZXZlAGJvYgBwdw==\r\n"), "535 5.7.8 Authentication credentials invalid\r\n");
	talk(f, "MAIL FROM:<a@b>\r\n");
	assert_string_equal(talk(f, "AUTH PLAIN\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
}

static void test_auth_required_for_mail(void **state)
{
	struct fixture *f = *state;
	f->eng.cfg.auth_required = true;
	talk(f, "EHLO c\r\n");
	assert_string_equal(talk(f, "MAIL FROM:<a@b>\r\n"), "530 5.7.0 Authentication required\r\n");
}

static void test_submission_adds_missing_headers(void **state)
{
	struct fixture *f = *state;
	f->eng.cfg.fix_headers = true;
	talk(f, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	assert_string_equal(talk(f, "Subject: s\r\nDate: x\r\n\r\nbody\r\n.\r\n"), "250 2.0.0 Ok: queued as QID1\r\n");
	assert_string_equal(f->st.stored.data, "Subject: s\nDate: x\nMessage-ID: <M>\n\nbody\n");
	/* a message with no header section at all */
	talk(f, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	talk(f, "\r\nbody\r\n.\r\n");
	assert_string_equal(f->st.stored.data, "Date: D\nMessage-ID: <M>\n\nbody\n");
}

/* A client pipelining without reading: the engine stops taking commands
 * once SMTP_SERVER_OUT_PAUSE octets of replies wait, and goes on where it
 * stopped once they were sent. */
static void test_stops_reading_while_replies_wait(void **state)
{
	struct fixture *f = *state;
	talk(f, "EHLO c\r\n");
	char in[64 * 1024];
	size_t n = 0;
	while (n + 6 <= sizeof in) {
		memcpy(in + n, "NOOP\r\n", 6);
		n += 6;
	}
	size_t k = smtp_server_feed(&f->eng, in, n);
	assert_true(k < n);
	assert_int_equal(k % 6, 0);
	assert_true(f->eng.out.len >= SMTP_SERVER_OUT_PAUSE);
	assert_true(f->eng.out.len < SMTP_SERVER_OUT_PAUSE + 64);
	assert_int_equal(smtp_server_feed(&f->eng, in + k, n - k), 0);
	size_t replies = f->eng.out.len / strlen("250 2.0.0 Ok\r\n");
	buf_reset(&f->eng.out);
	size_t k2 = smtp_server_feed(&f->eng, in + k, n - k);
	assert_true(k2 > 0);
	assert_int_equal(replies, k / 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test_setup_teardown(test_ehlo_lists_extensions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_group_answered_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_and_bare_lf_in_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_split_across_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bare_lf_in_data_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bdat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_errors_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_plain_and_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_required_for_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submission_adds_missing_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stops_reading_while_replies_wait, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
