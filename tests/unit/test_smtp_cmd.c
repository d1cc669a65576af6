/*
 * test_smtp_cmd — command-line splitting and the MAIL, RCPT, BDAT and
 * HELO/EHLO argument parsers of proto/smtp_cmd (RFC 5321 4.1.1, RFC 1870,
 * RFC 6152, RFC 3030, RFC 6531).
 *
 * Inputs are copied into heap blocks of exactly their length so that
 * AddressSanitizer catches reads past the end (lines are not
 * NUL-terminated in the session).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/smtp_cmd.h"

static char *test_copy(const char *s, size_t n)
{
	char *c = malloc(n ? n : 1);
	assert_non_null(c);
	memcpy(c, s, n);
	return c;
}

static void test_verbs(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int rc;
		enum smtp_verb verb;
		bool has_arg;
		const char *arg;
	} t[] = {
		{ "HELO x", 0, SMTP_VERB_HELO, true, "x" },
		{ "ehlo client.example", 0, SMTP_VERB_EHLO, true, "client.example" },
		{ "MAIL FROM:<x>", 0, SMTP_VERB_MAIL, true, "FROM:<x>" },
		{ "mAiL FROM:<x> SIZE=1", 0, SMTP_VERB_MAIL, true, "FROM:<x> SIZE=1" },
		{ "RCPT TO:<a@b>", 0, SMTP_VERB_RCPT, true, "TO:<a@b>" },
		{ "DATA", 0, SMTP_VERB_DATA, false, "" },
		{ "data", 0, SMTP_VERB_DATA, false, "" },
		{ "DATA ", 0, SMTP_VERB_DATA, true, "" },
		{ "DATA  x", 0, SMTP_VERB_DATA, true, " x" },
		{ "BDAT 10 LAST", 0, SMTP_VERB_BDAT, true, "10 LAST" },
		{ "RSET", 0, SMTP_VERB_RSET, false, "" },
		{ "NOOP hello", 0, SMTP_VERB_NOOP, true, "hello" },
		{ "QUIT", 0, SMTP_VERB_QUIT, false, "" },
		{ "VRFY a", 0, SMTP_VERB_VRFY, true, "a" },
		{ "EXPN a", 0, SMTP_VERB_EXPN, true, "a" },
		{ "HELP", 0, SMTP_VERB_HELP, false, "" },
		{ "StartTLS", 0, SMTP_VERB_STARTTLS, false, "" },
		{ "AUTH PLAIN AGFAAGI=", 0, SMTP_VERB_AUTH, true, "PLAIN AGFAAGI=" },
		{ "", 0, SMTP_VERB_UNKNOWN, false, "" },
		{ " DATA", 0, SMTP_VERB_UNKNOWN, true, "DATA" },
		{ "DATAX", 0, SMTP_VERB_UNKNOWN, false, "" },
		{ "DAT", 0, SMTP_VERB_UNKNOWN, false, "" },
		{ "MAIL\tFROM:<x>", 0, SMTP_VERB_UNKNOWN, false, "" },
		{ "GET / HTTP/1.0", 0, SMTP_VERB_UNKNOWN, true, "/ HTTP/1.0" },
		{ "STARTTLSX", 0, SMTP_VERB_UNKNOWN, false, "" },
		{ "D\xc3\x84TA", -1, SMTP_VERB_UNKNOWN, false, "" },
		{ "NOOP \xc3\xa4", 0, SMTP_VERB_NOOP, true, "\xc3\xa4" },
		{ "DATA\r", -1, SMTP_VERB_UNKNOWN, false, "" },
		{ "DATA\n", -1, SMTP_VERB_UNKNOWN, false, "" },
		{ "RSET\r\nDATA", -1, SMTP_VERB_UNKNOWN, false, "" },
		{ "MAIL FROM:<a@b>\rRCPT TO:<c@d>", -1, SMTP_VERB_UNKNOWN, false, "" },
		{ "NOOP \n", -1, SMTP_VERB_UNKNOWN, false, "" },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		size_t n = strlen(t[k].line);
		char *line = test_copy(t[k].line, n);
		struct smtp_cmd c;
		int rc = smtp_cmd_parse(line, n, &c);
		if (rc != t[k].rc)
			fail_msg("case %zu: rc %d want %d", k, rc, t[k].rc);
		if (rc == 0) {
			if (c.verb != t[k].verb || c.has_arg != t[k].has_arg)
				fail_msg("case %zu: verb %d has_arg %d", k, c.verb, c.has_arg);
			assert_int_equal(c.arglen, strlen(t[k].arg));
			assert_memory_equal(c.arg, t[k].arg, c.arglen);
			if (c.has_arg)
				assert_ptr_equal(c.arg, line + n - c.arglen);
		}
		free(line);
	}

	/* NUL anywhere: -1 */
	struct smtp_cmd c;
	char *line = test_copy("NOOP a\0b", 8);
	assert_int_equal(smtp_cmd_parse(line, 8, &c), -1);
	free(line);
	line = test_copy("\0", 1);
	assert_int_equal(smtp_cmd_parse(line, 1, &c), -1);
	free(line);
	assert_int_equal(smtp_cmd_parse(NULL, 0, &c), 0);
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
}

struct mail_case {
	const char *arg;
	enum smtp_param_status want;
	const char *addr; /* formatted, for OK */
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
};

static void test_mail(void **state)
{
	(void)state;
	static const struct mail_case t[] = {
		{ "FROM:<a@b>", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, false },
		{ "from:<a@b>", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, false },
		{ "FROM: <a@b>", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, false },
		{ "FROM:<>", SMTP_PARAM_OK, "", false, 0, SMTP_BODY_NONE, false },
		{ "FROM:<@r1,@r2:a@b>", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, false },
		{ "FROM:<a@b> SIZE=1000", SMTP_PARAM_OK, "a@b", true, 1000, SMTP_BODY_NONE, false },
		{ "FROM:<a@b> size=0", SMTP_PARAM_OK, "a@b", true, 0, SMTP_BODY_NONE, false },
		{ "FROM:<a@b> SIZE=18446744073709551615", SMTP_PARAM_OK, "a@b", true, UINT64_MAX, SMTP_BODY_NONE, false },
		{ "FROM:<a@b> SIZE=18446744073709551616", SMTP_PARAM_OK, "a@b", true, UINT64_MAX, SMTP_BODY_NONE, false },
		{ "FROM:<a@b> SIZE=99999999999999999999999999999", SMTP_PARAM_OK, "a@b", true, UINT64_MAX, SMTP_BODY_NONE,
		  false },
		{ "FROM:<a@b> BODY=7BIT", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_7BIT, false },
		{ "FROM:<a@b> BODY=8bitmime", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_8BITMIME, false },
		{ "FROM:<a@b> body=BinaryMIME", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_BINARYMIME, false },
		{ "FROM:<a@b> SMTPUTF8", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, true },
		{ "FROM:<a@b> smtputf8", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, true },
		{ "FROM:<a@b> SIZE=5 BODY=8BITMIME SMTPUTF8", SMTP_PARAM_OK, "a@b", true, 5, SMTP_BODY_8BITMIME, true },
		{ "FROM:<a@b>  SIZE=5  ", SMTP_PARAM_OK, "a@b", true, 5, SMTP_BODY_NONE, false },
		{ "FROM:<a@b> ", SMTP_PARAM_OK, "a@b", false, 0, SMTP_BODY_NONE, false },
		/* SMTPUTF8 comes after the path but unlocks it (RFC 6531 3.4) */
		{ "FROM:<j\xc3\xb6@b> SMTPUTF8", SMTP_PARAM_OK, "j\xc3\xb6@b", false, 0, SMTP_BODY_NONE, true },
		{ "FROM:<a@\xc3\xa4.de> BODY=8BITMIME SMTPUTF8", SMTP_PARAM_OK, "a@\xc3\xa4.de", false, 0,
		  SMTP_BODY_8BITMIME, true },
		{ "FROM:<j\xc3\xb6@b>", SMTP_PARAM_NEEDS_UTF8, NULL, false, 0, 0, false },
		{ "FROM:<j\xc3\xb6@b> BODY=8BITMIME", SMTP_PARAM_NEEDS_UTF8, NULL, false, 0, 0, false },
		{ "FROM:<j\xff@b> SMTPUTF8", SMTP_PARAM_ADDR_SYNTAX, NULL, false, 0, 0, false },
		/* errors */
		{ "", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM <a@b>", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "TO:<a@b>", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ " FROM:<a@b>", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:", SMTP_PARAM_ADDR_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:a@b", SMTP_PARAM_ADDR_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:  <a@b>", SMTP_PARAM_ADDR_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b.>", SMTP_PARAM_ADDR_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<postmaster>", SMTP_PARAM_ADDR_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b>x", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b>>", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b>\tSIZE=1", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b> =1", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b> -X=1", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b> S_ZE=1", SMTP_PARAM_SYNTAX, NULL, false, 0, 0, false },
		{ "FROM:<a@b> AUTH=<>", SMTP_PARAM_UNKNOWN, NULL, false, 0, 0, false },
		{ "FROM:<a@b> RET=FULL", SMTP_PARAM_UNKNOWN, NULL, false, 0, 0, false },
		{ "FROM:<a@b> X-FOO", SMTP_PARAM_UNKNOWN, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZES=1", SMTP_PARAM_UNKNOWN, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE=", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE=-1", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE=1k", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE=+1", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE=1 SIZE=1", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> BODY", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> BODY=", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> BODY=8BIT", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> BODY=7BIT BODY=7BIT", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SMTPUTF8=yes", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SMTPUTF8=", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SMTPUTF8 SMTPUTF8", SMTP_PARAM_BAD_VALUE, NULL, false, 0, 0, false },
		{ "FROM:<a@b> SIZE=1 X=1 SIZE=x", SMTP_PARAM_UNKNOWN, NULL, false, 0, 0, false },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		size_t n = strlen(t[k].arg);
		char *arg = test_copy(t[k].arg, n);
		struct smtp_addr a;
		struct smtp_mail_params p;
		char out[300];
		enum smtp_param_status st = smtp_cmd_parse_mail(arg, n, &a, &p);
		free(arg);
		if (st != t[k].want)
			fail_msg("case %zu \"%s\": status %d want %d", k, t[k].arg, st, t[k].want);
		if (st != SMTP_PARAM_OK)
			continue;
		assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
		assert_string_equal(out, t[k].addr);
		assert_int_equal(p.has_size, t[k].has_size);
		assert_true(p.size == t[k].size);
		assert_int_equal(p.body, t[k].body);
		assert_int_equal(p.smtputf8, t[k].smtputf8);
	}

	/* the address limits surface as ADDR_TOO_LONG */
	char buf[120];
	memcpy(buf, "FROM:<", 6);
	memset(buf + 6, 'a', 65);
	memcpy(buf + 71, "@b>", 3);
	struct smtp_addr a;
	struct smtp_mail_params p;
	assert_int_equal(smtp_cmd_parse_mail(buf, 74, &a, &p), SMTP_PARAM_ADDR_TOO_LONG);
	assert_int_equal(smtp_cmd_parse_mail(buf, 73, &a, &p), SMTP_PARAM_ADDR_SYNTAX);
}

static void test_rcpt(void **state)
{
	(void)state;
	static const struct {
		const char *arg;
		bool utf8_ok;
		enum smtp_param_status want;
		const char *addr;
	} t[] = {
		{ "TO:<a@b>", false, SMTP_PARAM_OK, "a@b" },
		{ "to:<a@b>", false, SMTP_PARAM_OK, "a@b" },
		{ "To: <a@b>", false, SMTP_PARAM_OK, "a@b" },
		{ "TO:<a@b> ", false, SMTP_PARAM_OK, "a@b" },
		{ "TO:<@x,@y:a@b>", false, SMTP_PARAM_OK, "a@b" },
		{ "TO:<postmaster>", false, SMTP_PARAM_OK, "postmaster" },
		{ "TO:<POSTMASTER>", false, SMTP_PARAM_OK, "POSTMASTER" },
		{ "TO:<\"x y\"@b>", false, SMTP_PARAM_OK, "\"x y\"@b" },
		{ "TO:<j\xc3\xb6@b>", true, SMTP_PARAM_OK, "j\xc3\xb6@b" },
		{ "TO:<j\xc3\xb6@b>", false, SMTP_PARAM_NEEDS_UTF8, NULL },
		{ "TO:<>", false, SMTP_PARAM_ADDR_SYNTAX, NULL },
		{ "TO:<a>", false, SMTP_PARAM_ADDR_SYNTAX, NULL },
		{ "TO:a@b", false, SMTP_PARAM_ADDR_SYNTAX, NULL },
		{ "TO:", false, SMTP_PARAM_ADDR_SYNTAX, NULL },
		{ "TO:<a@[300.0.0.1]>", false, SMTP_PARAM_ADDR_SYNTAX, NULL },
		{ "TO <a@b>", false, SMTP_PARAM_SYNTAX, NULL },
		{ "FROM:<a@b>", false, SMTP_PARAM_SYNTAX, NULL },
		{ "", false, SMTP_PARAM_SYNTAX, NULL },
		{ "TO:<a@b>x", false, SMTP_PARAM_SYNTAX, NULL },
		{ "TO:<a@b> NOTIFY=NEVER", false, SMTP_PARAM_UNKNOWN, NULL },
		{ "TO:<a@b> ORCPT=rfc822;a@b", false, SMTP_PARAM_UNKNOWN, NULL },
		{ "TO:<a@b> SIZE=1", false, SMTP_PARAM_UNKNOWN, NULL },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		size_t n = strlen(t[k].arg);
		char *arg = test_copy(t[k].arg, n);
		struct smtp_addr a;
		char out[300];
		enum smtp_param_status st = smtp_cmd_parse_rcpt(arg, n, t[k].utf8_ok, &a);
		free(arg);
		if (st != t[k].want)
			fail_msg("case %zu \"%s\": status %d want %d", k, t[k].arg, st, t[k].want);
		if (st != SMTP_PARAM_OK)
			continue;
		assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
		assert_string_equal(out, t[k].addr);
	}
}

static void test_bdat(void **state)
{
	(void)state;
	static const struct {
		const char *arg;
		int rc;
		uint64_t size;
		bool last;
	} t[] = {
		{ "0", 0, 0, false },
		{ "123", 0, 123, false },
		{ "123 LAST", 0, 123, true },
		{ "0 last", 0, 0, true },
		{ "00012 Last", 0, 12, true },
		{ "18446744073709551615", 0, UINT64_MAX, false },
		{ "18446744073709551615 LAST", 0, UINT64_MAX, true },
		{ "18446744073709551616", -1, 0, false },
		{ "99999999999999999999", -1, 0, false },
		{ "000000000000000000001", -1, 0, false }, /* 21 digits */
		{ "", -1, 0, false },
		{ "LAST", -1, 0, false },
		{ " 1", -1, 0, false },
		{ "1 ", -1, 0, false },
		{ "1  LAST", -1, 0, false },
		{ "1 LAST ", -1, 0, false },
		{ "1 LASTX", -1, 0, false },
		{ "1 LAS", -1, 0, false },
		{ "1 FIRST", -1, 0, false },
		{ "-1", -1, 0, false },
		{ "+1", -1, 0, false },
		{ "1x", -1, 0, false },
		{ "0x10", -1, 0, false },
		{ "1\tLAST", -1, 0, false },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		size_t n = strlen(t[k].arg);
		char *arg = test_copy(t[k].arg, n);
		uint64_t size = 777;
		bool last = false;
		int rc = smtp_cmd_parse_bdat(arg, n, &size, &last);
		free(arg);
		if (rc != t[k].rc)
			fail_msg("case %zu \"%s\": rc %d", k, t[k].arg, rc);
		if (rc == 0) {
			assert_true(size == t[k].size);
			assert_int_equal(last, t[k].last);
		}
	}
}

static void test_helo(void **state)
{
	(void)state;
	static const struct {
		const char *arg;
		int rc;
	} t[] = {
		{ "client.example.org", 0 },
		{ "localhost", 0 },
		{ "[192.0.2.1]", 0 },
		{ "[IPv6:2001:db8::1]", 0 },
		{ "my_host", 0 },          /* not a domain, but sent by real clients */
		{ "WIN-ABC123", 0 },
		{ "host.", 0 },
		{ "b\xc3\xbc" "cher.de", 0 }, /* U-label */
		{ "", -1 },
		{ " ", -1 },
		{ "a b", -1 },
		{ "a\tb", -1 },
		{ "host ", -1 },
		{ " host", -1 },
		{ "a\rb", -1 },
		{ "a\nb", -1 },
		{ "a\x7f", -1 },
		{ "a\x01", -1 },
		{ "a\xff", -1 },
		{ "a\xc3", -1 },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		size_t n = strlen(t[k].arg);
		char *arg = test_copy(t[k].arg, n);
		int rc = smtp_cmd_check_helo(arg, n);
		free(arg);
		if (rc != t[k].rc)
			fail_msg("case %zu \"%s\": rc %d", k, t[k].arg, rc);
	}
	char big[300];
	memset(big, 'h', sizeof(big));
	assert_int_equal(smtp_cmd_check_helo(big, 255), 0);
	assert_int_equal(smtp_cmd_check_helo(big, 256), -1);
	assert_int_equal(smtp_cmd_check_helo("a\0b", 3), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs), cmocka_unit_test(test_mail), cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_bdat),  cmocka_unit_test(test_helo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
