/*
 * test_smtp_reply_parse — the client's reply reader (RFC 5321 4.2, 4.2.1,
 * 4.5.3.1.5; RFC 3463 / RFC 2034 status codes) and the EHLO keyword parser.
 * Every well-formed case is also fed one octet at a time and split in two
 * at every position: the result must not depend on how the bytes arrive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/smtp_reply_parse.h"

struct got {
	int code;
	char status[SMTP_REPLY_STATUS_MAX];
	char raw[4096];
	char text[4096];
	unsigned nlines;
	size_t consumed;
};

/* Feed `in` cut at the given positions; expects exactly one reply. */
static enum smtp_reply_parse_result test_parse_cut(const char *in, size_t n, size_t cut1, size_t cut2,
                                                   struct got *g)
{
	struct smtp_reply_parser p;
	smtp_reply_parse_init(&p);
	size_t cuts[3] = {cut1, cut2, n};
	size_t pos = 0;
	enum smtp_reply_parse_result res = SMTP_REPLY_PARSE_MORE;
	memset(g, 0, sizeof *g);
	for (int k = 0; k < 3 && res == SMTP_REPLY_PARSE_MORE; k++) {
		if (cuts[k] < pos)
			continue;
		size_t used = 0;
		res = smtp_reply_parse_feed(&p, in + pos, cuts[k] - pos, &used);
		pos += used;
		if (res == SMTP_REPLY_PARSE_MORE)
			assert_int_equal(pos, cuts[k]);
	}
	g->consumed = pos;
	if (res == SMTP_REPLY_PARSE_DONE) {
		g->code = p.reply.code;
		snprintf(g->status, sizeof g->status, "%s", p.reply.status);
		snprintf(g->raw, sizeof g->raw, "%s", p.reply.raw.data ? p.reply.raw.data : "");
		snprintf(g->text, sizeof g->text, "%s", p.reply.text.data ? p.reply.text.data : "");
		g->nlines = p.reply.nlines;
	}
	smtp_reply_parse_free(&p);
	return res;
}

/* Whole, and at every split: the same reply each time. */
static void test_parse_all_ways(const char *in, enum smtp_reply_parse_result want, struct got *g)
{
	size_t n = strlen(in);
	assert_int_equal(test_parse_cut(in, n, n, n, g), want);
	struct got ref = *g;
	for (size_t i = 0; i <= n; i++) {
		struct got h;
		assert_int_equal(test_parse_cut(in, n, i, i, &h), want);
		assert_int_equal(h.code, ref.code);
		assert_string_equal(h.status, ref.status);
		assert_string_equal(h.raw, ref.raw);
		assert_string_equal(h.text, ref.text);
		assert_int_equal(h.consumed, ref.consumed);
		for (size_t j = i; j <= n && j < i + 4; j++) {
			assert_int_equal(test_parse_cut(in, n, i, j, &h), want);
			assert_string_equal(h.raw, ref.raw);
		}
	}
	/* one octet at a time */
	struct smtp_reply_parser p;
	smtp_reply_parse_init(&p);
	enum smtp_reply_parse_result res = SMTP_REPLY_PARSE_MORE;
	size_t pos = 0;
	while (pos < n && res == SMTP_REPLY_PARSE_MORE) {
		size_t used = 0;
		res = smtp_reply_parse_feed(&p, in + pos, 1, &used);
		pos += used;
	}
	assert_int_equal(res, want);
	if (want == SMTP_REPLY_PARSE_DONE)
		assert_string_equal(p.reply.raw.data, ref.raw);
	smtp_reply_parse_free(&p);
}

static void test_single_line(void **state)
{
	(void)state;
	struct got g;
	test_parse_all_ways("250 2.1.0 Sender ok\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_int_equal(g.code, 250);
	assert_string_equal(g.status, "2.1.0");
	assert_string_equal(g.text, "Sender ok");
	assert_string_equal(g.raw, "250 2.1.0 Sender ok");
	assert_int_equal(g.nlines, 1);

	test_parse_all_ways("354 End data with <CR><LF>.<CR><LF>\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_int_equal(g.code, 354);
	assert_string_equal(g.status, "");
	assert_string_equal(g.text, "End data with <CR><LF>.<CR><LF>");

	/* RFC 5321 4.2: the text is optional */
	test_parse_all_ways("250\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_int_equal(g.code, 250);
	assert_string_equal(g.text, "");

	/* a status of the wrong class is text, not a status */
	test_parse_all_ways("550 2.1.0 odd\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_string_equal(g.status, "");
	assert_string_equal(g.text, "2.1.0 odd");
	test_parse_all_ways("250 1.2.3.4 Hello\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_string_equal(g.status, "");
	test_parse_all_ways("421 4.4.2\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_string_equal(g.status, "4.4.2");
	assert_string_equal(g.text, "");
	test_parse_all_ways("550 5.7.1234 no\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_string_equal(g.status, "");

	/* bare LF ends a reply line too */
	test_parse_all_ways("220 mx ESMTP\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_string_equal(g.raw, "220 mx ESMTP");
}

static void test_multi_line(void **state)
{
	(void)state;
	struct got g;
	const char *ehlo = "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1048576\r\n250 CHUNKING\r\n";
	test_parse_all_ways(ehlo, SMTP_REPLY_PARSE_DONE, &g);
	assert_int_equal(g.code, 250);
	assert_int_equal(g.nlines, 4);
	assert_string_equal(g.text, "mx.test\nPIPELINING\nSIZE 1048576\nCHUNKING");
	assert_int_equal(g.consumed, strlen(ehlo));

	/* RFC 2034: the status code repeated on each line is stripped */
	test_parse_all_ways("550-5.1.1 first\r\n550-5.1.1 second\r\n550 5.1.1 third\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_string_equal(g.status, "5.1.1");
	assert_string_equal(g.text, "first\nsecond\nthird");

	/* "250-" with nothing after it */
	test_parse_all_ways("250-\r\n250 ok\r\n", SMTP_REPLY_PARSE_DONE, &g);
	assert_int_equal(g.nlines, 2);
	assert_string_equal(g.text, "\nok");
}

static void test_stops_after_reply(void **state)
{
	(void)state;
	/* after a 220 to STARTTLS the rest must not be parsed (RFC 3207 5) */
	const char *in = "220 2.0.0 Ready to start TLS\r\n250 injected\r\n";
	struct smtp_reply_parser p;
	smtp_reply_parse_init(&p);
	size_t used = 0;
	assert_int_equal(smtp_reply_parse_feed(&p, in, strlen(in), &used), SMTP_REPLY_PARSE_DONE);
	assert_int_equal(used, strlen("220 2.0.0 Ready to start TLS\r\n"));
	assert_int_equal(p.reply.code, 220);
	/* the next feed starts a fresh reply */
	size_t used2 = 0;
	assert_int_equal(smtp_reply_parse_feed(&p, in + used, strlen(in) - used, &used2), SMTP_REPLY_PARSE_DONE);
	assert_int_equal(p.reply.code, 250);
	assert_string_equal(p.reply.text.data, "injected");
	assert_false(smtp_reply_parse_is_partial(&p));
	assert_int_equal(smtp_reply_parse_feed(&p, "25", 2, &used2), SMTP_REPLY_PARSE_MORE);
	assert_true(smtp_reply_parse_is_partial(&p));
	smtp_reply_parse_free(&p);
}

static void test_garbage(void **state)
{
	(void)state;
	struct got g;
	const char *bad[] = {
		"hello\r\n",                        /* no code */
		"25\r\n",                           /* too short */
		"150 one-digit class\r\n",          /* RFC 5321 4.2: 2-5 */
		"260 second digit\r\n",             /* 0-5 */
		"250x\r\n",                         /* neither SP nor "-" */
		"250-a\r\n251 b\r\n",               /* the code changed */
		"250 a\rb\r\n",                     /* bare CR inside */
		"+OK pop3\r\n",
		"HTTP/1.1 400 Bad Request\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct smtp_reply_parser p;
		smtp_reply_parse_init(&p);
		size_t used = 0;
		assert_int_equal(smtp_reply_parse_feed(&p, bad[i], strlen(bad[i]), &used), SMTP_REPLY_PARSE_ERROR);
		assert_non_null(p.error);
		/* it stays failed */
		assert_int_equal(smtp_reply_parse_feed(&p, "250 ok\r\n", 8, &used), SMTP_REPLY_PARSE_ERROR);
		smtp_reply_parse_free(&p);
		test_parse_all_ways(bad[i], SMTP_REPLY_PARSE_ERROR, &g);
	}
	/* NUL */
	struct smtp_reply_parser p;
	smtp_reply_parse_init(&p);
	size_t used = 0;
	assert_int_equal(smtp_reply_parse_feed(&p, "250 a\0b\r\n", 9, &used), SMTP_REPLY_PARSE_ERROR);
	smtp_reply_parse_free(&p);
}

static void test_limits(void **state)
{
	(void)state;
	char line[SMTP_REPLY_LINE_LENIENT + 16];
	struct smtp_reply_parser p;
	size_t used = 0;

	/* a 1000-octet line (over 512) is accepted: lenient */
	memset(line, 'x', sizeof line);
	memcpy(line, "250 ", 4);
	memcpy(line + 998, "\r\n", 2);
	smtp_reply_parse_init(&p);
	assert_int_equal(smtp_reply_parse_feed(&p, line, 1000, &used), SMTP_REPLY_PARSE_DONE);
	smtp_reply_parse_free(&p);

	/* one over the lenient cap is refused before its end arrives */
	smtp_reply_parse_init(&p);
	memset(line, 'x', sizeof line);
	memcpy(line, "250 ", 4);
	assert_int_equal(smtp_reply_parse_feed(&p, line, SMTP_REPLY_LINE_LENIENT + 1, &used), SMTP_REPLY_PARSE_ERROR);
	smtp_reply_parse_free(&p);

	/* too many lines */
	smtp_reply_parse_init(&p);
	enum smtp_reply_parse_result r = SMTP_REPLY_PARSE_MORE;
	for (int i = 0; i < SMTP_REPLY_LINES_MAX + 2 && r == SMTP_REPLY_PARSE_MORE; i++)
		r = smtp_reply_parse_feed(&p, "250-x\r\n", 7, &used);
	assert_int_equal(r, SMTP_REPLY_PARSE_ERROR);
	smtp_reply_parse_free(&p);
}

static void test_format(void **state)
{
	(void)state;
	struct smtp_reply_parser p;
	size_t used = 0;
	char out[64];
	const char *in = "550-5.1.1 <x@y>: no\r\n550 5.1.1 such user\x1b[0m\r\n";
	smtp_reply_parse_init(&p);
	assert_int_equal(smtp_reply_parse_feed(&p, in, strlen(in), &used), SMTP_REPLY_PARSE_DONE);
	smtp_reply_parse_format(&p.reply, out, sizeof out);
	assert_string_equal(out, "550 5.1.1 <x@y>: no / such user\\x1b[0m");
	smtp_reply_parse_format(&p.reply, out, 12);
	assert_string_equal(out, "550 5.1.1 <");
	smtp_reply_parse_free(&p);
}

static void test_parse_ehlo_text(const char *in, struct smtp_ehlo *e)
{
	struct smtp_reply_parser p;
	size_t used = 0;
	smtp_reply_parse_init(&p);
	assert_int_equal(smtp_reply_parse_feed(&p, in, strlen(in), &used), SMTP_REPLY_PARSE_DONE);
	smtp_reply_parse_ehlo(&p.reply, e);
	smtp_reply_parse_free(&p);
}

static void test_ehlo(void **state)
{
	(void)state;
	struct smtp_ehlo e;
	test_parse_ehlo_text("250-mx.test Hello\r\n250-PIPELINING\r\n250-SIZE 36700160\r\n250-STARTTLS\r\n"
	                     "250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
	                     "250-SMTPUTF8\r\n250-DSN\r\n250 CHUNKING\r\n",
	                     &e);
	assert_true(e.pipelining && e.has_size && e.starttls && e.eightbitmime && e.enhancedstatuscodes &&
	            e.smtputf8 && e.chunking && e.dsn);
	assert_int_equal(e.size, 36700160);
	assert_int_equal(e.auth, SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN);
	assert_false(e.binarymime);

	/* case, the old AUTH= form, SIZE without a value, unknown keywords */
	test_parse_ehlo_text("250-mx\r\n250-pipelining\r\n250-AUTH=LOGIN CRAM-MD5\r\n250-SIZE\r\n250-X-FOO bar\r\n"
	                     "250 8bitmime\r\n",
	                     &e);
	assert_true(e.pipelining && e.eightbitmime && e.has_size);
	assert_int_equal(e.size, 0);
	assert_int_equal(e.auth, SMTP_AUTH_LOGIN | SMTP_AUTH_CRAM_MD5);
	assert_false(e.chunking || e.starttls || e.smtputf8);

	/* the first line is the server's name, even when it looks like a keyword */
	test_parse_ehlo_text("250-PIPELINING\r\n250 SIZE 99999999999999999999999\r\n", &e);
	assert_false(e.pipelining);
	assert_int_equal(e.size, UINT64_MAX);

	/* a one-line 250: no extensions */
	test_parse_ehlo_text("250 mx.test\r\n", &e);
	assert_false(e.pipelining || e.has_size || e.auth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line), cmocka_unit_test(test_multi_line),
		cmocka_unit_test(test_stops_after_reply), cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_limits), cmocka_unit_test(test_format),
		cmocka_unit_test(test_ehlo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
