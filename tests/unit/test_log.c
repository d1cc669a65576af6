/*
 * test_log — the quoting of log values (CONTRACT.md "Logs"): plain
 * tokens as they are, anything else in double quotes with \" and \\
 * escapes and \xNN for control and non-ASCII octets, cut to fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/log.h"

static void test_log_value_plain_and_quoted(void **state)
{
	(void)state;
	char out[LOG_VALUE_MAX];
	assert_string_equal(log_value(out, sizeof out, "bob@example.org"), "bob@example.org");
	assert_string_equal(log_value(out, sizeof out, ""), "\"\"");
	assert_string_equal(log_value(out, sizeof out, NULL), "\"\"");
	assert_string_equal(log_value(out, sizeof out, "write timeout"), "\"write timeout\"");
	assert_string_equal(log_value(out, sizeof out, "a\" client=[6.6.6.6] b"), "\"a\\\" client=[6.6.6.6] b\"");
	assert_string_equal(log_value(out, sizeof out, "back\\slash"), "\"back\\\\slash\"");
	assert_string_equal(log_value(out, sizeof out, "cr\rlf\n\x01\xc3\xa9"), "\"cr\\x0dlf\\x0a\\x01\\xc3\\xa9\"");
	assert_string_equal(log_addr(out, sizeof out, "\"a b\"@x.test"), "\"<\\\"a b\\\"@x.test>\"");
	assert_string_equal(log_addr(out, sizeof out, "a@x.test"), "<a@x.test>");
}

static void test_log_value_cut(void **state)
{
	(void)state;
	char small[16];
	/* Whatever is cut, the value stays one quoted field. */
	log_value(small, sizeof small, "a b c d e f g h i j k l m n o p");
	assert_true(strlen(small) < sizeof small);
	assert_int_equal(small[0], '"');
	assert_int_equal(small[strlen(small) - 1], '"');
	assert_non_null(strstr(small, "..."));
	log_value(small, sizeof small, "\"\"\"\"\"\"\"\"\"\"");
	assert_int_equal(small[strlen(small) - 1], '"');
	assert_int_not_equal(small[strlen(small) - 2], '\\');
	char tiny[2];
	log_value(tiny, sizeof tiny, "x y");
	assert_string_equal(tiny, "");
}

static void test_log_put_value(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(log_put_value(&b, "MAIL FROM:<a\"b>", 15, 200), 0);
	assert_string_equal(b.data, "\"MAIL FROM:<a\\\"b>\"");
	buf_reset(&b);
	assert_int_equal(log_put_value(&b, "abcdef", 6, 3), 0);
	assert_string_equal(b.data, "\"abc...\"");
	buf_reset(&b);
	assert_int_equal(log_put_value(&b, "NOOP", 4, 200), 0);
	assert_string_equal(b.data, "NOOP");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_value_plain_and_quoted),
		cmocka_unit_test(test_log_value_cut),
		cmocka_unit_test(test_log_put_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
