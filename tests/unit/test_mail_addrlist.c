/*
 * test_mail_addrlist — header sections, unfolding, RFC 5322 address lists
 * (display names, groups, comments, quoted strings, source routes) and the
 * removal of Bcc with its continuation lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/mail_addrlist.h"

static void test_collect_cb(void *arg, const char *addr, size_t len)
{
	struct buf *b = arg;
	buf_printf(b, "[%.*s]", (int)len, addr);
}

static void test_parse_is(const char *in, const char *want)
{
	struct buf b;
	buf_init(&b, 0);
	mail_addrlist_parse(in, strlen(in), test_collect_cb, &b);
	assert_string_equal(b.data ? b.data : "", want);
	buf_free(&b);
}

static void test_parse(void **state)
{
	(void)state;
	test_parse_is("a@b.test", "[a@b.test]");
	test_parse_is(" a@b.test , c@d.test ", "[a@b.test][c@d.test]");
	test_parse_is("Alice <a@b.test>, \"Doe, John\" <j@d.test>", "[a@b.test][j@d.test]");
	test_parse_is("a@b.test (Alice (the first)), <c@d.test>", "[a@b.test][c@d.test]");
	test_parse_is("friends: a@b.test, Bob <b@b.test>; c@d.test", "[a@b.test][b@b.test][c@d.test]");
	test_parse_is("undisclosed-recipients:;", "");
	test_parse_is("<@relay.test,@r2.test:a@b.test>", "[a@b.test]");
	test_parse_is("\"odd local\"@b.test", "[\"odd local\"@b.test]");
	test_parse_is("", "");
	test_parse_is(",,,", "");
	test_parse_is("Name <a@b.test", "[a@b.test]"); /* unterminated: forgiving */
	test_parse_is("=?utf-8?q?J=C3=B6rg?= <j@b.test>", "[j@b.test]");
}

static void test_header(void **state)
{
	(void)state;
	const char *m = "From: Alice <a@b.test>\r\nTo: x@y.test,\r\n\ty@y.test\r\nSubject: hi\r\n\r\nTo: not@header\r\n";
	size_t hl = mail_addrlist_header_len(m, strlen(m));
	assert_int_equal(hl, strlen("From: Alice <a@b.test>\r\nTo: x@y.test,\r\n\ty@y.test\r\nSubject: hi\r\n\r\n"));
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(mail_addrlist_field(m, hl, "to", &b), 1);
	assert_string_equal(b.data, " x@y.test,\ty@y.test");
	buf_reset(&b);
	assert_int_equal(mail_addrlist_field(m, hl, "Cc", &b), 0);
	buf_free(&b);

	/* no header section */
	assert_int_equal(mail_addrlist_header_len("just text\n", 10), 0);
	assert_int_equal(mail_addrlist_header_len(" leading space\n", 15), 0);
	/* a header section without an empty line, then body text */
	const char *m2 = "Subject: x\nbody line\n";
	assert_int_equal(mail_addrlist_header_len(m2, strlen(m2)), strlen("Subject: x\n"));
	/* only headers */
	assert_int_equal(mail_addrlist_header_len("To: a@b\n", 8), 8);
}

static void test_remove(void **state)
{
	(void)state;
	char m[] = "From: a@b.test\nBcc: secret@x.test,\n  other@x.test\nTo: c@d.test\nbcc : s2@x.test\n"
	           "\nBcc: body@stays\n";
	size_t n = mail_addrlist_remove_field(m, strlen(m), "Bcc");
	assert_int_equal(n, strlen("From: a@b.test\nTo: c@d.test\n\nBcc: body@stays\n"));
	assert_memory_equal(m, "From: a@b.test\nTo: c@d.test\n\nBcc: body@stays\n", n);

	char m2[] = "Bcc: x@y\r\nSubject: s\r\n\r\nbody\r\n";
	n = mail_addrlist_remove_field(m2, strlen(m2), "Bcc");
	assert_memory_equal(m2, "Subject: s\r\n\r\nbody\r\n", n);

	char m3[] = "Subject: none\n\nbody";
	n = mail_addrlist_remove_field(m3, strlen(m3), "Bcc");
	assert_int_equal(n, strlen("Subject: none\n\nbody"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
