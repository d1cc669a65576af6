/*
 * test_pop3_server — the POP3 engine byte for byte: dialogues in, exact
 * replies out, with stub operations that record what the engine asked of
 * the world; then the transfer helpers (dot-stuffing, TOP, sizes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pop3_server.h"

struct stub {
	int logins, retrieves, updates, starttls, refused;
	char user[300], pass[300];
	size_t r_index;
	long r_top;
	int retrieve_rc;
};

static void stub_login(void *ctx, const char *user, const char *pass)
{
	struct stub *st = ctx;
	st->logins++;
	snprintf(st->user, sizeof st->user, "%s", user);
	snprintf(st->pass, sizeof st->pass, "%s", pass);
}

static int stub_retrieve(void *ctx, size_t index, long top)
{
	struct stub *st = ctx;
	st->retrieves++;
	st->r_index = index;
	st->r_top = top;
	return st->retrieve_rc;
}

static void stub_update(void *ctx, const struct pop3_msg *msgs, size_t n)
{
	(void)msgs;
	(void)n;
	((struct stub *)ctx)->updates++;
}

static void stub_starttls(void *ctx)
{
	((struct stub *)ctx)->starttls++;
}

static void stub_refused(void *ctx, const char *cmd, size_t cmdlen, const char *reply)
{
	(void)cmd;
	(void)cmdlen;
	assert_memory_equal(reply, "-ERR ", 5);
	((struct stub *)ctx)->refused++;
}

static const struct pop3_server_ops stub_ops = {
	.login = stub_login,
	.retrieve = stub_retrieve,
	.update = stub_update,
	.starttls = stub_starttls,
	.refused = stub_refused,
};

struct fixture {
	struct pop3_server eng;
	struct stub st;
	struct pop3_msg msgs[3];
};

static struct fixture fix;

static void fixture_start(struct fixture *f, bool tls_available, bool tls_active, bool loopback)
{
	memset(f, 0, sizeof *f);
	struct pop3_server_config cfg = {.tls_available = tls_available, .tls_active = tls_active, .loopback = loopback};
	pop3_server_init(&f->eng, &cfg, &stub_ops, &f->st);
	pop3_server_greet(&f->eng);
	buf_reset(&f->eng.out);
	f->msgs[0] = (struct pop3_msg){.size = 120, .uid = "1700000000.M1P2_0.host"};
	f->msgs[1] = (struct pop3_msg){.size = 3000, .uid = "1700000001.M1P2_1.host"};
	f->msgs[2] = (struct pop3_msg){.size = 5, .uid = "Xabc"};
}

/* Default: plain TCP from loopback, STLS offered. */
static int setup(void **state)
{
	fixture_start(&fix, true, false, true);
	*state = &fix;
	return 0;
}

/* Off loopback, without TLS yet. */
static int setup_remote(void **state)
{
	fixture_start(&fix, true, false, false);
	*state = &fix;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pop3_server_free(&f->eng);
	return 0;
}

/* Feed everything (all must be consumed) and return the replies. */
static const char *talk(struct fixture *f, const char *in)
{
	static char out[16384];
	size_t n = strlen(in);
	size_t k = pop3_server_feed(&f->eng, in, n);
	assert_int_equal(k, n);
	snprintf(out, sizeof out, "%s", f->eng.out.data ? f->eng.out.data : "");
	buf_reset(&f->eng.out);
	return out;
}

/* Feed what may be only partly consumed; returns the count. */
static size_t feed(struct fixture *f, const char *in)
{
	return pop3_server_feed(&f->eng, in, strlen(in));
}

static const char *replies(struct fixture *f)
{
	static char out[16384];
	snprintf(out, sizeof out, "%s", f->eng.out.data ? f->eng.out.data : "");
	buf_reset(&f->eng.out);
	return out;
}

/* USER/PASS on loopback, then the three-message maildrop. */
static void login(struct fixture *f)
{
	assert_string_equal(talk(f, "USER bob@example.test\r\nPASS secret\r\n"), "+OK send PASS\r\n");
	assert_int_equal(f->eng.state, POP3_S_LOGINWAIT);
	pop3_server_login_done(&f->eng, POP3_LOGIN_OK, f->msgs, 3);
	assert_string_equal(replies(f), "+OK maildrop has 3 messages (3125 octets)\r\n");
}

/* ---- AUTHORIZATION ---- */

static void test_greeting(void **state)
{
	(void)state;
	struct pop3_server eng;
	struct stub st = {0};
	struct pop3_server_config cfg = {0};
	pop3_server_init(&eng, &cfg, &stub_ops, &st);
	pop3_server_greet(&eng);
	assert_string_equal(eng.out.data, "+OK tern POP3 ready\r\n");
	assert_int_equal(eng.state, POP3_S_AUTHORIZATION);
	pop3_server_free(&eng);
}

static void test_capa_remote_plain(void **state)
{
	struct fixture *f = *state;
	/* RFC 2595 2.2: no login offered in clear; only STLS. */
	assert_string_equal(talk(f, "CAPA\r\n"), "+OK capability list follows\r\n"
	                                         "STLS\r\n"
	                                         "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	                                         "IMPLEMENTATION tern\r\n.\r\n");
}

static void test_capa_loopback(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "capa\r\n"), "+OK capability list follows\r\n"
	                                         "STLS\r\nUSER\r\nSASL PLAIN\r\n"
	                                         "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	                                         "IMPLEMENTATION tern\r\n.\r\n");
}

static void test_capa_transaction(void **state)
{
	struct fixture *f = *state;
	login(f);
	assert_string_equal(talk(f, "CAPA\r\n"), "+OK capability list follows\r\n"
	                                         "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	                                         "IMPLEMENTATION tern\r\n.\r\n");
	assert_string_equal(talk(f, "CAPA x\r\n"), "-ERR syntax: CAPA takes no argument\r\n");
}

static void test_login_refused_without_tls(void **state)
{
	struct fixture *f = *state;
	const char *no = "-ERR [AUTH] login refused without TLS: use STLS first\r\n";
	assert_string_equal(talk(f, "USER bob@example.test\r\n"), no);
	assert_string_equal(talk(f, "PASS secret\r\n"), no);
	assert_string_equal(talk(f, "AUTH PLAIN AGJvYgBwdw==\r\n"), no);
	assert_int_equal(f->st.logins, 0);
	assert_int_equal(f->st.refused, 3);
}

static void test_user_pass(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "USER bob@example.test\r\n"), "+OK send PASS\r\n");
	/* RFC 1939 7: spaces belong to the password. */
	assert_string_equal(talk(f, "PASS  two words \r\n"), "");
	assert_int_equal(f->st.logins, 1);
	assert_string_equal(f->st.user, "bob@example.test");
	assert_string_equal(f->st.pass, " two words ");
	/* The password does not linger in the engine's line buffer. */
	assert_null(memmem(f->eng.line.data, f->eng.line.cap, "two words", 9));
	/* While the check runs, nothing more is consumed. */
	assert_int_equal(feed(f, "STAT\r\n"), 0);
	pop3_server_login_done(&f->eng, POP3_LOGIN_OK, f->msgs, 3);
	assert_int_equal(f->eng.state, POP3_S_TRANSACTION);
	assert_string_equal(talk(f, "STAT\r\n"), "+OK maildrop has 3 messages (3125 octets)\r\n+OK 3 3125\r\n");
}

static void test_pass_without_user(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "PASS secret\r\n"), "-ERR USER first\r\n");
	assert_string_equal(talk(f, "USER\r\n"), "-ERR syntax: USER name\r\n");
	assert_int_equal(f->st.logins, 0);
}

static void test_login_failures(void **state)
{
	struct fixture *f = *state;
	talk(f, "USER a@b\r\nPASS x\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_BAD, NULL, 0);
	assert_string_equal(replies(f), "-ERR [AUTH] invalid user name or password\r\n");
	/* A new USER is needed after a failure. */
	assert_string_equal(talk(f, "PASS x\r\n"), "-ERR USER first\r\n");
	talk(f, "USER a@b\r\nPASS x\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_THROTTLED, NULL, 0);
	assert_string_equal(replies(f),
	                    "-ERR [SYS/TEMP] too many failed logins from your address, try again later\r\n");
	assert_false(pop3_server_is_closed(&f->eng));
	talk(f, "USER a@b\r\nPASS x\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_BAD, NULL, 0);
	assert_string_equal(replies(f), "-ERR [AUTH] invalid user name or password\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
	assert_int_equal(feed(f, "USER a@b\r\n"), 0);
}

static void test_login_in_use_and_temp(void **state)
{
	struct fixture *f = *state;
	talk(f, "USER a@b\r\nPASS x\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_IN_USE, NULL, 0);
	assert_string_equal(replies(f), "-ERR [IN-USE] mailbox locked\r\n");
	assert_int_equal(f->eng.state, POP3_S_AUTHORIZATION);
	talk(f, "USER a@b\r\nPASS x\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_TEMP, NULL, 0);
	assert_string_equal(replies(f), "-ERR [SYS/TEMP] cannot open the mailbox, try again later\r\n");
	/* Neither counts as a password failure. */
	talk(f, "USER a@b\r\nPASS x\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_IN_USE, NULL, 0);
	replies(f);
	assert_false(pop3_server_is_closed(&f->eng));
	/* A late or repeated answer is ignored. */
	pop3_server_login_done(&f->eng, POP3_LOGIN_OK, f->msgs, 3);
	assert_string_equal(replies(f), "");
	assert_int_equal(f->eng.state, POP3_S_AUTHORIZATION);
}

static void test_transaction_commands_before_login(void **state)
{
	struct fixture *f = *state;
	const char *no = "-ERR command not valid in this state\r\n";
	assert_string_equal(talk(f, "STAT\r\n"), no);
	assert_string_equal(talk(f, "LIST\r\n"), no);
	assert_string_equal(talk(f, "RETR 1\r\n"), no);
	assert_string_equal(talk(f, "DELE 1\r\n"), no);
	assert_string_equal(talk(f, "NOOP\r\n"), no);
	assert_string_equal(talk(f, "RSET\r\n"), no);
	assert_string_equal(talk(f, "TOP 1 1\r\n"), no);
	assert_string_equal(talk(f, "UIDL\r\n"), no);
	assert_string_equal(talk(f, "XTND x\r\n"), "-ERR unknown command\r\n");
	assert_string_equal(talk(f, "\r\n"), "-ERR unknown command\r\n");
}

static void test_quit_authorization(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "QUIT\r\n"), "+OK bye\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
	assert_int_equal(feed(f, "NOOP\r\n"), 0);
}

/* ---- AUTH PLAIN (RFC 5034, RFC 4616) ---- */

static void test_auth_plain_initial(void **state)
{
	struct fixture *f = *state;
	/* "\0bob@example.test\0pw" */
	assert_string_equal(talk(f, "AUTH PLAIN AGJvYkBleGFtcGxlLnRlc3QAcHc=\r\n"), "");
	assert_int_equal(f->st.logins, 1);
	assert_string_equal(f->st.user, "bob@example.test");
	assert_string_equal(f->st.pass, "pw");
	pop3_server_login_done(&f->eng, POP3_LOGIN_OK, f->msgs, 0);
	assert_string_equal(replies(f), "+OK maildrop has 0 messages (0 octets)\r\n");
	assert_string_equal(talk(f, "AUTH PLAIN\r\n"), "-ERR command not valid in this state\r\n");
}

static void test_auth_plain_continuation(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "auth plain\r\n"), "+ \r\n");
	assert_int_equal(f->eng.state, POP3_S_SASL);
	/* "bob@example.test\0bob@example.test\0pw": authzid = authcid */
	assert_string_equal(talk(f, "Ym9iQGV4YW1wbGUudGVzdABib2JAZXhhbXBsZS50ZXN0AHB3\r\n"), "");
	assert_int_equal(f->st.logins, 1);
	assert_string_equal(f->st.pass, "pw");
	assert_null(memmem(f->eng.line.data, f->eng.line.cap, "AHB3", 4));
}

static void test_auth_cancel_and_errors(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "AUTH PLAIN\r\n*\r\n"), "+ \r\n-ERR authentication cancelled\r\n");
	assert_int_equal(f->eng.state, POP3_S_AUTHORIZATION);
	assert_string_equal(talk(f, "AUTH PLAIN\r\nnot base64!\r\n"), "+ \r\n-ERR invalid base64\r\n");
	assert_string_equal(talk(f, "AUTH PLAIN =\r\n"), "-ERR [AUTH] malformed PLAIN response\r\n");
	/* "bob" only, no NUL */
	assert_string_equal(talk(f, "AUTH PLAIN Ym9i\r\n"), "-ERR [AUTH] malformed PLAIN response\r\n");
	/* "eve\0bob\0pw": acting as another user */
	assert_string_equal(talk(f, "AUTH PLAIN ZXZlAGJvYgBwdw==\r\n"),
	                    "-ERR [AUTH] authorization identity not allowed\r\n");
	/* "\0bob\0p\0w": a NUL in the password */
	assert_string_equal(talk(f, "AUTH PLAIN AGJvYgBwAHc=\r\n"), "-ERR [AUTH] malformed PLAIN response\r\n");
	assert_string_equal(talk(f, "AUTH LOGIN\r\n"), "-ERR unsupported mechanism\r\n");
	assert_string_equal(talk(f, "AUTH\r\n"), "+OK\r\nPLAIN\r\n.\r\n");
	assert_int_equal(f->st.logins, 0);
}

static void test_auth_long_continuation(void **state)
{
	struct fixture *f = *state;
	/* A response longer than a command line is fine (up to 2048). */
	char line[1200];
	unsigned char raw[600];
	memset(raw, 'p', sizeof raw);
	raw[0] = 0;
	memcpy(raw + 1, "bob", 3);
	raw[4] = 0;
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < 255 + 5 - 2; i += 3) { /* 258 octets: password of 253 */
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
		line[o++] = b64[v >> 18 & 63];
		line[o++] = b64[v >> 12 & 63];
		line[o++] = b64[v >> 6 & 63];
		line[o++] = b64[v & 63];
	}
	memcpy(line + o, "\r\n", 3);
	assert_true(o + 2 > POP3_LINE_MAX);
	talk(f, "AUTH PLAIN\r\n");
	assert_string_equal(talk(f, line), "");
	assert_int_equal(f->st.logins, 1);
	assert_int_equal(strlen(f->st.pass), 253);
}

/* ---- STLS (RFC 2595) ---- */

static void test_stls(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(talk(f, "USER bob@example.test\r\n"), "+OK send PASS\r\n");
	/* Plaintext pipelined after STLS is not consumed by the engine
	 * (the io layer throws it away when TLS starts). */
	assert_int_equal(feed(f, "STLS\r\nPASS secret\r\n"), 6);
	assert_string_equal(replies(f), "+OK begin TLS negotiation\r\n");
	assert_int_equal(f->st.starttls, 1);
	assert_int_equal(f->eng.state, POP3_S_TLS);
	pop3_server_tls_done(&f->eng);
	assert_int_equal(f->eng.state, POP3_S_AUTHORIZATION);
	/* Everything learnt before TLS is forgotten; no new greeting. */
	assert_string_equal(replies(f), "");
	assert_string_equal(talk(f, "PASS secret\r\n"), "-ERR USER first\r\n");
	assert_string_equal(talk(f, "STLS\r\n"), "-ERR TLS already active\r\n");
	assert_string_equal(talk(f, "CAPA\r\n"), "+OK capability list follows\r\n"
	                                         "USER\r\nSASL PLAIN\r\n"
	                                         "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	                                         "IMPLEMENTATION tern\r\n.\r\n");
}

static void test_stls_remote_then_login(void **state)
{
	struct fixture *f = *state;
	talk(f, "STLS\r\n");
	pop3_server_tls_done(&f->eng);
	assert_string_equal(talk(f, "USER bob@example.test\r\n"), "+OK send PASS\r\n");
	talk(f, "PASS pw\r\n");
	assert_int_equal(f->st.logins, 1);
}

static void test_stls_unavailable(void **state)
{
	(void)state;
	struct fixture *f = &fix;
	pop3_server_free(&f->eng);
	fixture_start(f, false, false, true);
	assert_string_equal(talk(f, "STLS\r\n"), "-ERR STLS not available\r\n");
	assert_string_equal(talk(f, "STLS now\r\n"), "-ERR syntax: STLS takes no argument\r\n");
	login(f);
	assert_string_equal(talk(f, "STLS\r\n"), "-ERR command not valid in this state\r\n");
}

/* ---- TRANSACTION ---- */

static void test_stat_list_uidl(void **state)
{
	struct fixture *f = *state;
	login(f);
	assert_string_equal(talk(f, "STAT\r\n"), "+OK 3 3125\r\n");
	assert_string_equal(talk(f, "LIST\r\n"), "+OK 3 messages (3125 octets)\r\n1 120\r\n2 3000\r\n3 5\r\n.\r\n");
	assert_string_equal(talk(f, "LIST 2\r\n"), "+OK 2 3000\r\n");
	assert_string_equal(talk(f, "UIDL\r\n"), "+OK unique-id listing follows\r\n"
	                                         "1 1700000000.M1P2_0.host\r\n2 1700000001.M1P2_1.host\r\n3 Xabc\r\n.\r\n");
	assert_string_equal(talk(f, "uidl 3\r\n"), "+OK 3 Xabc\r\n");
	assert_string_equal(talk(f, "LIST 0\r\n"), "-ERR no such message\r\n");
	assert_string_equal(talk(f, "LIST 4\r\n"), "-ERR no such message\r\n");
	assert_string_equal(talk(f, "LIST x\r\n"), "-ERR invalid message number\r\n");
	assert_string_equal(talk(f, "LIST -1\r\n"), "-ERR invalid message number\r\n");
	assert_string_equal(talk(f, "LIST 1 2\r\n"), "-ERR invalid message number\r\n");
	assert_string_equal(talk(f, "LIST 99999999999999999999\r\n"), "-ERR invalid message number\r\n");
	assert_string_equal(talk(f, "STAT 1\r\n"), "-ERR syntax: STAT takes no argument\r\n");
	assert_string_equal(talk(f, "NOOP\r\n"), "+OK\r\n");
	assert_string_equal(talk(f, "USER x\r\n"), "-ERR command not valid in this state\r\n");
}

static void test_dele_rset(void **state)
{
	struct fixture *f = *state;
	login(f);
	assert_string_equal(talk(f, "DELE 2\r\n"), "+OK message 2 deleted\r\n");
	assert_string_equal(talk(f, "DELE 2\r\n"), "-ERR message 2 already deleted\r\n");
	assert_string_equal(talk(f, "STAT\r\n"), "+OK 2 125\r\n");
	assert_string_equal(talk(f, "LIST\r\n"), "+OK 2 messages (125 octets)\r\n1 120\r\n3 5\r\n.\r\n");
	assert_string_equal(talk(f, "UIDL 2\r\n"), "-ERR no such message\r\n");
	assert_string_equal(talk(f, "RETR 2\r\n"), "-ERR no such message\r\n");
	assert_string_equal(talk(f, "TOP 2 0\r\n"), "-ERR no such message\r\n");
	assert_string_equal(talk(f, "DELE\r\n"), "-ERR syntax: DELE msg\r\n");
	assert_int_equal(f->st.retrieves, 0);
	assert_string_equal(talk(f, "RSET\r\n"), "+OK maildrop has 3 messages (3125 octets)\r\n");
	assert_false(f->msgs[1].deleted);
	assert_string_equal(talk(f, "DELE 1\r\n"), "+OK message 1 deleted\r\n");
	assert_true(f->msgs[0].deleted);
}

static void test_retr_top(void **state)
{
	struct fixture *f = *state;
	login(f);
	/* The pipelined NOOP waits until the message has been sent. */
	assert_int_equal(feed(f, "RETR 2\r\nNOOP\r\n"), 8);
	assert_string_equal(replies(f), "+OK 3000 octets\r\n");
	assert_int_equal(f->eng.state, POP3_S_SENDING);
	assert_int_equal(f->st.r_index, 1);
	assert_int_equal(f->st.r_top, -1);
	assert_int_equal(feed(f, "NOOP\r\n"), 0);
	pop3_server_retrieve_done(&f->eng, true);
	assert_string_equal(talk(f, "NOOP\r\n"), "+OK\r\n");
	assert_string_equal(talk(f, "TOP 1 0\r\n"), "+OK top of message follows\r\n");
	assert_int_equal(f->st.r_index, 0);
	assert_int_equal(f->st.r_top, 0);
	pop3_server_retrieve_done(&f->eng, true);
	assert_string_equal(talk(f, "TOP 3 25\r\n"), "+OK top of message follows\r\n");
	assert_int_equal(f->st.r_top, 25);
	pop3_server_retrieve_done(&f->eng, true);
	assert_string_equal(talk(f, "TOP 1\r\n"), "-ERR syntax: TOP msg n\r\n");
	assert_string_equal(talk(f, "TOP 1 x\r\n"), "-ERR syntax: TOP msg n\r\n");
	assert_string_equal(talk(f, "TOP\r\n"), "-ERR syntax: TOP msg n\r\n");
	assert_string_equal(talk(f, "RETR\r\n"), "-ERR syntax: RETR msg\r\n");
	/* A file that cannot be opened. */
	f->st.retrieve_rc = -1;
	assert_string_equal(talk(f, "RETR 1\r\n"), "-ERR [SYS/TEMP] cannot read the message\r\n");
	assert_int_equal(f->eng.state, POP3_S_TRANSACTION);
	/* A transfer that broke off closes the session (no UPDATE). */
	f->st.retrieve_rc = 0;
	talk(f, "DELE 3\r\nRETR 1\r\n");
	pop3_server_retrieve_done(&f->eng, false);
	assert_true(pop3_server_is_closed(&f->eng));
	assert_int_equal(f->st.updates, 0);
}

static void test_quit_update(void **state)
{
	struct fixture *f = *state;
	login(f);
	assert_string_equal(talk(f, "QUIT\r\n"), "+OK bye, 3 messages left\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
	assert_int_equal(f->st.updates, 0);

	pop3_server_free(&f->eng);
	fixture_start(f, true, false, true);
	login(f);
	assert_int_equal(feed(f, "DELE 1\r\nDELE 3\r\nQUIT\r\nNOOP\r\n"), 22);
	assert_int_equal(f->eng.state, POP3_S_UPDATE);
	assert_int_equal(f->st.updates, 1);
	assert_string_equal(replies(f), "+OK message 1 deleted\r\n+OK message 3 deleted\r\n");
	pop3_server_update_done(&f->eng, true);
	assert_string_equal(replies(f), "+OK bye, 1 message left\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
}

static void test_quit_update_failed(void **state)
{
	struct fixture *f = *state;
	login(f);
	talk(f, "DELE 1\r\nQUIT\r\n");
	pop3_server_update_done(&f->eng, false);
	assert_string_equal(replies(f), "-ERR [SYS/TEMP] some deleted messages not removed\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
}

static void test_abort(void **state)
{
	struct fixture *f = *state;
	login(f);
	pop3_server_abort(&f->eng, "autologout: idle for too long");
	assert_string_equal(replies(f), "-ERR autologout: idle for too long\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
	/* While a message is being sent, nothing may be inserted. */
	pop3_server_free(&f->eng);
	fixture_start(f, true, false, true);
	login(f);
	talk(f, "RETR 1\r\n");
	pop3_server_abort(&f->eng, "shutting down");
	assert_string_equal(replies(f), "");
	assert_true(pop3_server_is_closed(&f->eng));
}

/* ---- line rules ---- */

static void test_line_limits(void **state)
{
	struct fixture *f = *state;
	char line[600];
	/* 255 octets with CR LF: accepted (RFC 2449 4) */
	memset(line, 'a', sizeof line);
	memcpy(line, "USER ", 5);
	memcpy(line + 253, "\r\n", 3);
	assert_string_equal(talk(f, line), "+OK send PASS\r\n");
	/* 256: too long */
	memcpy(line + 253, "a\r\n", 4);
	assert_string_equal(talk(f, line), "-ERR line too long\r\n");
	/* far beyond the buffer: one answer, then the session goes on */
	char big[5000];
	memset(big, 'b', sizeof big);
	memcpy(big + sizeof big - 3, "\r\n", 3);
	assert_string_equal(talk(f, big), "-ERR line too long\r\n");
	assert_string_equal(talk(f, "QUIT\r\n"), "+OK bye\r\n");
}

static void test_bare_cr_lf_nul(void **state)
{
	struct fixture *f = *state;
	login(f);
	const char *bad = "-ERR invalid line: only CR LF ends a line\r\n";
	/* A bare LF does not end a command: "STAT\nDELE 1" is one bad line. */
	assert_string_equal(talk(f, "STAT\nDELE 1\r\n"), bad);
	assert_false(f->msgs[0].deleted);
	assert_string_equal(talk(f, "NO\rOP\r\n"), bad);
	assert_int_equal(pop3_server_feed(&f->eng, "NOOP\0x\r\n", 8), 8);
	assert_string_equal(replies(f), bad);
	/* LF alone, then CR LF: the bare LF belongs to the line */
	assert_string_equal(talk(f, "\n\r\n"), bad);
	assert_string_equal(talk(f, "NOOP\r\n"), "+OK\r\n");
}

static void test_split_input(void **state)
{
	struct fixture *f = *state;
	login(f);
	const char *in = "STAT\r\nLIST 1\r\nDELE 2\r\nNOOP\r\n";
	for (const char *p = in; *p; p++)
		assert_int_equal(pop3_server_feed(&f->eng, p, 1), 1);
	assert_string_equal(replies(f), "+OK 3 3125\r\n+OK 1 120\r\n+OK message 2 deleted\r\n+OK\r\n");
	/* CR at the end of one read, LF at the start of the next */
	assert_int_equal(feed(f, "NOOP\r"), 5);
	assert_string_equal(talk(f, "\n"), "+OK\r\n");
}

static void test_too_many_errors(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < POP3_SERVER_MAX_ERRORS - 1; i++)
		assert_string_equal(talk(f, "BOGUS\r\n"), "-ERR unknown command\r\n");
	assert_false(pop3_server_is_closed(&f->eng));
	assert_string_equal(talk(f, "BOGUS\r\n"), "-ERR unknown command\r\n");
	assert_true(pop3_server_is_closed(&f->eng));
	assert_int_equal(f->st.refused, POP3_SERVER_MAX_ERRORS);
}

/* ---- transfer helpers ---- */

/* Stuff `in` in pieces of `step` octets, then end; returns the output. */
static const char *stuff(const char *in, size_t n, size_t step, long top, size_t *consumed)
{
	static struct buf out;
	buf_free(&out);
	buf_init(&out, 0);
	struct pop3_stuff st;
	pop3_server_stuff_init(&st, top);
	size_t used = 0;
	while (used < n && !st.done) {
		size_t k = n - used < step ? n - used : step;
		long r = pop3_server_stuff(&st, in + used, k, &out);
		assert_true(r >= 0);
		used += (size_t)r;
		if ((size_t)r < k)
			assert_true(st.done);
	}
	assert_int_equal(pop3_server_stuff_end(&st, &out), 0);
	if (consumed)
		*consumed = used;
	return out.data;
}

static void test_stuff_basic(void **state)
{
	(void)state;
	const char *msg = "Subject: x\n\n.\n..two\nend.\n.";
	const char *want = "Subject: x\r\n\r\n..\r\n...two\r\nend.\r\n..\r\n.\r\n";
	for (size_t step = 1; step <= strlen(msg); step++)
		assert_string_equal(stuff(msg, strlen(msg), step, -1, NULL), want);
	/* Already CR LF: not doubled. A bare CR stays as it is. */
	assert_string_equal(stuff("a\r\nb\rc\n", 7, 1, -1, NULL), "a\r\nb\rc\r\n.\r\n");
	assert_string_equal(stuff("a\r", 2, 1, -1, NULL), "a\r\n.\r\n");
	assert_string_equal(stuff("", 0, 1, -1, NULL), ".\r\n");
	assert_string_equal(stuff(".\n", 2, 1, -1, NULL), "..\r\n.\r\n");
}

static void test_stuff_top(void **state)
{
	(void)state;
	const char *msg = "A: 1\nB: 2\n\nbody1\n.body2\nbody3\n";
	size_t used;
	for (size_t step = 1; step <= strlen(msg); step++) {
		assert_string_equal(stuff(msg, strlen(msg), step, 0, &used), "A: 1\r\nB: 2\r\n\r\n.\r\n");
		assert_int_equal(used, 11);
		assert_string_equal(stuff(msg, strlen(msg), step, 2, NULL), "A: 1\r\nB: 2\r\n\r\nbody1\r\n..body2\r\n.\r\n");
		assert_string_equal(stuff(msg, strlen(msg), step, 99, NULL),
		                    "A: 1\r\nB: 2\r\n\r\nbody1\r\n..body2\r\nbody3\r\n.\r\n");
	}
	/* CR LF header end; a header-only message is all header */
	assert_string_equal(stuff("A: 1\r\n\r\nb\r\n", 11, 3, 0, NULL), "A: 1\r\n\r\n.\r\n");
	assert_string_equal(stuff("A: 1\nB: 2", 9, 4, 0, NULL), "A: 1\r\nB: 2\r\n.\r\n");
	/* a line holding only CR CR is not the blank line */
	assert_string_equal(stuff("A\n\r\r\nb\n\nc\n", 10, 1, 0, NULL), "A\r\n\r\r\nb\r\n\r\n.\r\n");
}

static void test_stuff_full_buffer(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 4);
	struct pop3_stuff st;
	pop3_server_stuff_init(&st, -1);
	assert_int_equal(pop3_server_stuff(&st, "hello\n", 6, &out), -1);
	buf_free(&out);
}

static uint64_t measure(const char *in, size_t n, size_t step)
{
	struct pop3_measure m;
	pop3_server_measure_init(&m);
	for (size_t used = 0; used < n; used += step)
		pop3_server_measure(&m, in + used, n - used < step ? n - used : step);
	return pop3_server_measure_end(&m);
}

static void test_measure(void **state)
{
	(void)state;
	/* The size is what RETR sends before the stuffing and the ".\r\n". */
	static const char *const cases[] = {"", "a\n", "a", "a\r\nb\n", "a\r", "x\n\n.\n..y\r\rz", "\n\n\n"};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = cases[i];
		size_t n = strlen(c);
		struct buf out;
		buf_init(&out, 0);
		struct pop3_stuff st;
		pop3_server_stuff_init(&st, -1);
		/* without dots at line starts the stuffing adds nothing */
		char plain[64];
		for (size_t k = 0; k <= n; k++)
			plain[k] = c[k] == '.' ? 'd' : c[k];
		pop3_server_stuff(&st, plain, n, &out);
		pop3_server_stuff_end(&st, &out);
		for (size_t step = 1; step <= (n ? n : 1); step++)
			assert_int_equal(measure(c, n, step), out.len - 3);
		buf_free(&out);
	}
	assert_int_equal(measure("ab\ncd\n", 6, 2), 8);
}

static void test_maildrop(void **state)
{
	struct fixture *f = *state;
	login(f);
	size_t count;
	uint64_t octets;
	talk(f, "DELE 3\r\n");
	pop3_server_maildrop(&f->eng, &count, &octets);
	assert_int_equal(count, 2);
	assert_int_equal(octets, 3120);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TR(name) cmocka_unit_test_setup_teardown(name, setup_remote, teardown)

/* A listing of a big maildrop is produced as it is read: at most
 * POP3_SERVER_OUT_PAUSE octets (and a line) at a time, whole and in
 * order, and commands pipelined behind it wait until it ended. */
static void test_listing_is_produced_in_parts(void **state)
{
	struct fixture *f = *state;
	enum { N = 5000 };
	struct pop3_msg *many = calloc(N, sizeof *many);
	assert_non_null(many);
	for (size_t i = 0; i < N; i++) {
		many[i].size = 100 + i;
		snprintf(many[i].uid, sizeof many[i].uid, "uid%zu", i);
	}
	many[7].deleted = true;
	talk(f, "USER bob@example.test\r\nPASS secret\r\n");
	pop3_server_login_done(&f->eng, POP3_LOGIN_OK, many, N);
	buf_reset(&f->eng.out);
	const char *in = "UIDL\r\nNOOP\r\n";
	size_t k = pop3_server_feed(&f->eng, in, strlen(in));
	assert_int_equal(k, 6); /* NOOP waits for the listing */
	assert_int_equal(f->eng.state, POP3_S_LISTING);
	struct buf all;
	buf_init(&all, 0);
	size_t rounds = 0;
	do {
		assert_true(f->eng.out.len < POP3_SERVER_OUT_PAUSE + 64);
		buf_append(&all, f->eng.out.data, f->eng.out.len);
		buf_reset(&f->eng.out);
		rounds++;
	} while (pop3_server_produce(&f->eng));
	assert_true(rounds > 10);
	assert_int_equal(f->eng.state, POP3_S_TRANSACTION);
	assert_memory_equal(all.data, "+OK unique-id listing follows\r\n1 uid0\r\n", 35);
	assert_null(strstr(all.data, "\r\n8 uid7\r\n"));
	assert_non_null(strstr(all.data, "\r\n5000 uid4999\r\n.\r\n"));
	assert_int_equal(strlen(all.data), all.len);
	assert_int_equal(pop3_server_feed(&f->eng, in + 6, strlen(in) - 6), strlen(in) - 6);
	assert_string_equal(replies(f), "+OK\r\n");
	buf_free(&all);
	pop3_server_free(&f->eng);
	free(many);
	memset(&f->eng, 0, sizeof f->eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_listing_is_produced_in_parts),
		cmocka_unit_test(test_greeting),
		TR(test_capa_remote_plain),
		T(test_capa_loopback),
		T(test_capa_transaction),
		TR(test_login_refused_without_tls),
		T(test_user_pass),
		T(test_pass_without_user),
		T(test_login_failures),
		T(test_login_in_use_and_temp),
		T(test_transaction_commands_before_login),
		T(test_quit_authorization),
		T(test_auth_plain_initial),
		T(test_auth_plain_continuation),
		T(test_auth_cancel_and_errors),
		T(test_auth_long_continuation),
		T(test_stls),
		TR(test_stls_remote_then_login),
		T(test_stls_unavailable),
		T(test_stat_list_uidl),
		T(test_dele_rset),
		T(test_retr_top),
		T(test_quit_update),
		T(test_quit_update_failed),
		T(test_abort),
		T(test_line_limits),
		T(test_bare_cr_lf_nul),
		T(test_split_input),
		T(test_too_many_errors),
		cmocka_unit_test(test_stuff_basic),
		cmocka_unit_test(test_stuff_top),
		cmocka_unit_test(test_stuff_full_buffer),
		cmocka_unit_test(test_measure),
		T(test_maildrop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
