/*
 * test_imap_parse — the IMAP command reader and argument parser byte for
 * byte: lines, literals of every kind and their refusal, over-long
 * commands, the argument tree, and sequence sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_parse.h"

/* Feed s and expect result r with *used consumed. */
static enum imap_read_result feed(struct imap_reader *r, const char *s, size_t *used)
{
	return imap_reader_feed(r, s, strlen(s), used);
}

static void test_reader_lines(void **state)
{
	(void)state;
	struct imap_reader r;
	imap_reader_init(&r);
	size_t used;
	assert_int_equal(feed(&r, "a1 NOOP", &used), IMAP_READ_MORE);
	assert_int_equal(used, 7);
	assert_int_equal(feed(&r, "\r\na2 CAPABILITY\r\n", &used), IMAP_READ_COMMAND);
	assert_int_equal(used, 2);
	assert_string_equal(r.cmd.data, "a1 NOOP");
	imap_reader_next(&r);
	assert_int_equal(feed(&r, "a2 CAPABILITY\r\n", &used), IMAP_READ_COMMAND);
	assert_string_equal(r.cmd.data, "a2 CAPABILITY");
	imap_reader_next(&r);
	/* a bare LF ends a line too */
	assert_int_equal(feed(&r, "a3 LOGOUT\n", &used), IMAP_READ_COMMAND);
	assert_string_equal(r.cmd.data, "a3 LOGOUT");
	imap_reader_free(&r);
}

static void test_reader_literals(void **state)
{
	(void)state;
	struct imap_reader r;
	imap_reader_init(&r);
	size_t used;
	const char *in = "a LOGIN {4}\r\n";
	assert_int_equal(feed(&r, in, &used), IMAP_READ_LITERAL);
	assert_int_equal(used, strlen(in));
	assert_int_equal(r.lit_size, 4);
	assert_true(r.lit_sync);
	assert_false(r.lit_binary);
	assert_int_equal(r.lit_at, 8);
	imap_reader_literal_accept(&r);
	/* the literal's octets may hold CR LF; then the line goes on */
	assert_int_equal(feed(&r, "a\r\nb {3+}\r\nxyz\r\n", &used), IMAP_READ_LITERAL);
	assert_false(r.lit_sync);
	assert_int_equal(r.lit_size, 3);
	imap_reader_literal_accept(&r);
	assert_int_equal(feed(&r, "xyz\r\n", &used), IMAP_READ_COMMAND);
	assert_int_equal(r.cmd.len, strlen("a LOGIN {4}\r\na\r\nb {3+}\r\nxyz"));
	assert_memory_equal(r.cmd.data, "a LOGIN {4}\r\na\r\nb {3+}\r\nxyz", r.cmd.len);

	struct imap_args a;
	assert_int_equal(imap_args_parse(r.cmd.data, r.cmd.len, &a), IMAP_PARSE_OK);
	assert_string_equal(a.tag, "a");
	assert_string_equal(a.verb, "LOGIN");
	assert_int_equal(a.ntop, 2);
	assert_int_equal(a.top[0].type, IMAP_ARG_LITERAL);
	assert_int_equal(a.top[0].len, 4);
	assert_memory_equal(a.top[0].s, "a\r\nb", 4);
	assert_int_equal(a.top[1].type, IMAP_ARG_LITERAL);
	assert_memory_equal(a.top[1].s, "xyz", 3);
	imap_args_free(&a);
	imap_reader_next(&r);

	/* literal8 */
	assert_int_equal(feed(&r, "b APPEND x ~{2}\r\n", &used), IMAP_READ_LITERAL);
	assert_true(r.lit_binary);
	assert_int_equal(r.lit_at, 11);
	imap_reader_free(&r);
}

/* A 2 GB literal is announced, refused, and the client, which waits for
 * "+", sends the next command: nothing of the refused one lingers. */
static void test_reader_refused_literal(void **state)
{
	(void)state;
	struct imap_reader r;
	imap_reader_init(&r);
	size_t used;
	assert_int_equal(feed(&r, "a APPEND INBOX {2147483648}\r\n", &used), IMAP_READ_LITERAL);
	assert_int_equal(r.lit_size, 2147483648ULL);
	imap_reader_reset(&r);
	assert_int_equal(feed(&r, "b NOOP\r\n", &used), IMAP_READ_COMMAND);
	assert_string_equal(r.cmd.data, "b NOOP");
	imap_reader_next(&r);
	/* a non-synchronizing one is sent anyway: its octets are skipped */
	assert_int_equal(feed(&r, "c APPEND INBOX {5+}\r\n", &used), IMAP_READ_LITERAL);
	imap_reader_literal_discard(&r);
	assert_int_equal(feed(&r, "12345 more {3+}\r\nabc\r\nd NOOP\r\n", &used), IMAP_READ_TOO_LONG);
	assert_int_equal(used, strlen("12345 more {3+}\r\nabc\r\n"));
	imap_reader_next(&r);
	assert_int_equal(feed(&r, "d NOOP\r\n", &used), IMAP_READ_COMMAND);
	assert_string_equal(r.cmd.data, "d NOOP");
	/* a 20-digit size saturates instead of wrapping */
	imap_reader_next(&r);
	assert_int_equal(feed(&r, "e X {99999999999999999999}\r\n", &used), IMAP_READ_LITERAL);
	assert_int_equal(r.lit_size, UINT64_MAX);
	imap_reader_free(&r);
}

static void test_reader_too_long(void **state)
{
	(void)state;
	struct imap_reader r;
	imap_reader_init(&r);
	size_t n = IMAP_COMMAND_MAX + 100;
	char *big = malloc(n + 64);
	memset(big, 'x', n);
	memcpy(big, "a ", 2);
	strcpy(big + n, " {4+}\r\nwxyz tail\r\nb NOOP\r\n");
	size_t used, total = 0;
	enum imap_read_result rr;
	/* in pieces, as a socket delivers it */
	do {
		size_t piece = strlen(big + total) < 1000 ? strlen(big + total) : 1000;
		rr = imap_reader_feed(&r, big + total, piece, &used);
		total += used;
	} while (rr == IMAP_READ_MORE);
	assert_int_equal(rr, IMAP_READ_TOO_LONG);
	assert_int_equal(total, n + strlen(" {4+}\r\nwxyz tail\r\n"));
	imap_reader_next(&r);
	assert_int_equal(feed(&r, big + total, &used), IMAP_READ_COMMAND);
	assert_string_equal(r.cmd.data, "b NOOP");
	free(big);
	imap_reader_free(&r);
}

static enum imap_parse_status parse(const char *s, struct imap_args *a)
{
	return imap_args_parse(s, strlen(s), a);
}

static void test_args(void **state)
{
	(void)state;
	struct imap_args a;
	assert_int_equal(parse("A001 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> UID)", &a),
	                 IMAP_PARSE_OK);
	assert_string_equal(a.verb, "FETCH");
	assert_int_equal(a.ntop, 2);
	assert_true(imap_arg_is_atom(&a.top[0], "1:*"));
	assert_int_equal(a.top[1].type, IMAP_ARG_LIST);
	assert_int_equal(a.top[1].nlist, 3);
	assert_true(imap_arg_is_atom(&a.top[1].list[0], "flags"));
	assert_true(imap_arg_is_atom(&a.top[1].list[1], "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>"));
	assert_true(imap_arg_is_atom(&a.top[1].list[2], "UID"));
	imap_args_free(&a);

	assert_int_equal(parse("t STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)", &a), IMAP_PARSE_OK);
	assert_int_equal(a.top[2].nlist, 2);
	assert_true(imap_arg_is_atom(&a.top[2].list[0], "\\seen"));
	imap_args_free(&a);

	assert_int_equal(parse("t LOGIN \"joe\\\"s\" \"p\\\\w\"", &a), IMAP_PARSE_OK);
	char u[32], p[32];
	assert_true(imap_arg_astring(&a.top[0], u, sizeof u));
	assert_true(imap_arg_astring(&a.top[1], p, sizeof p));
	assert_string_equal(u, "joe\"s");
	assert_string_equal(p, "p\\w");
	imap_args_free(&a);

	assert_int_equal(parse("t LIST \"\" %", &a), IMAP_PARSE_OK);
	assert_int_equal(a.top[0].type, IMAP_ARG_STRING);
	assert_int_equal(a.top[0].len, 0);
	assert_true(imap_arg_is_atom(&a.top[1], "%"));
	imap_args_free(&a);

	assert_int_equal(parse("t SELECT nil", &a), IMAP_PARSE_OK);
	assert_int_equal(a.top[0].type, IMAP_ARG_NIL);
	/* NIL is an astring too: the name "nil" (LIST "" NIL) */
	assert_true(imap_arg_astring(&a.top[0], u, sizeof u));
	assert_string_equal(u, "nil");
	imap_args_free(&a);

	/* "[" is an ATOM-CHAR; without a "]" after it, it is just one
	 * (imaptest's "atoms": SELECT a[} is a name, answered NO) */
	assert_int_equal(parse("t SELECT a[b (x)", &a), IMAP_PARSE_OK);
	assert_int_equal(a.ntop, 2);
	assert_true(imap_arg_is_atom(&a.top[0], "a[b"));
	assert_int_equal(a.top[1].type, IMAP_ARG_LIST);
	imap_args_free(&a);

	assert_int_equal(parse("t NOOP", &a), IMAP_PARSE_OK);
	assert_int_equal(a.ntop, 0);
	imap_args_free(&a);

	assert_int_equal(parse("t STATUS INBOX ()", &a), IMAP_PARSE_OK);
	assert_int_equal(a.top[1].type, IMAP_ARG_LIST);
	assert_int_equal(a.top[1].nlist, 0);
	imap_args_free(&a);

	uint32_t v;
	assert_int_equal(parse("t X 4294967295 4294967296 012", &a), IMAP_PARSE_OK);
	assert_true(imap_arg_number(&a.top[0], &v));
	assert_int_equal(v, 4294967295u);
	assert_false(imap_arg_number(&a.top[1], &v));
	assert_true(imap_arg_number(&a.top[2], &v));
	imap_args_free(&a);
}

static void test_args_errors(void **state)
{
	(void)state;
	struct imap_args a;
	static const char *const no_tag[] = { "", " NOOP", "+ NOOP", "a*b NOOP", "NOOP", "(a) NOOP" };
	for (size_t i = 0; i < sizeof no_tag / sizeof *no_tag; i++) {
		assert_int_equal(parse(no_tag[i], &a), IMAP_PARSE_NO_TAG);
		imap_args_free(&a);
	}
	static const char *const bad[] = {
		"a ", "a NOOP ", "a  NOOP", "a X (1 2", "a X 1)", "a X \"unterminated", "a X \"bad\\escape\"",
		"a X (a  b)", "a X (a )", "a X {3}\r\nab", "a X {x}\r\nabc", "a X\ty",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(parse(bad[i], &a), IMAP_PARSE_BAD);
		imap_args_free(&a);
	}
	/* nesting deeper than the limit */
	char deep[200] = "a X ";
	for (int i = 0; i < IMAP_ARG_DEPTH_MAX + 1; i++)
		strcat(deep, "(");
	for (int i = 0; i < IMAP_ARG_DEPTH_MAX + 1; i++)
		strcat(deep, ")");
	assert_int_equal(parse(deep, &a), IMAP_PARSE_TOO_DEEP);
	imap_args_free(&a);
	/* exactly at the limit is fine */
	deep[strlen(deep) - 1] = '\0';
	memmove(deep + 4, deep + 5, strlen(deep + 5) + 1);
	assert_int_equal(parse(deep, &a), IMAP_PARSE_OK);
	imap_args_free(&a);
	/* too many arguments */
	size_t n = 4 + (IMAP_ARGS_MAX + 1) * 2;
	char *many = malloc(n + 1);
	memcpy(many, "a X ", 4);
	for (size_t i = 4; i < n; i += 2) {
		many[i] = 'x';
		many[i + 1] = ' ';
	}
	many[n - 1] = '\0';
	assert_int_equal(parse(many, &a), IMAP_PARSE_TOO_DEEP);
	imap_args_free(&a);
	free(many);
}

static void test_nested_lists(void **state)
{
	(void)state;
	struct imap_args a;
	assert_int_equal(parse("a X (1 (2 3) (4 (5))) 6", &a), IMAP_PARSE_OK);
	assert_int_equal(a.ntop, 2);
	const struct imap_arg *l = &a.top[0];
	assert_int_equal(l->nlist, 3);
	assert_true(imap_arg_is_atom(&l->list[0], "1"));
	assert_int_equal(l->list[1].nlist, 2);
	assert_true(imap_arg_is_atom(&l->list[1].list[1], "3"));
	assert_int_equal(l->list[2].list[1].nlist, 1);
	assert_true(imap_arg_is_atom(&l->list[2].list[1].list[0], "5"));
	assert_true(imap_arg_is_atom(&a.top[1], "6"));
	imap_args_free(&a);
}

static void test_seqset(void **state)
{
	(void)state;
	struct imap_seqset s;
	assert_true(imap_seqset_parse("1,3:5,7:*", 9, &s));
	assert_int_equal(s.n, 3);
	imap_seqset_resolve(&s, 10);
	assert_true(imap_seqset_has(&s, 1));
	assert_false(imap_seqset_has(&s, 2));
	assert_true(imap_seqset_has(&s, 4));
	assert_false(imap_seqset_has(&s, 6));
	assert_true(imap_seqset_has(&s, 10));
	assert_false(imap_seqset_has(&s, 11));
	imap_seqset_free(&s);

	assert_true(imap_seqset_parse("1:4294967295", 12, &s));
	imap_seqset_resolve(&s, 3);
	assert_true(imap_seqset_has(&s, 4294967295u));
	imap_seqset_free(&s);

	/* "*:5" is "5:*", reordered */
	assert_true(imap_seqset_parse("*:5", 3, &s));
	imap_seqset_resolve(&s, 9);
	assert_int_equal(s.r[0].lo, 5);
	assert_int_equal(s.r[0].hi, 9);
	imap_seqset_free(&s);

	assert_true(imap_seqset_parse("$", 1, &s));
	assert_true(s.saved);
	imap_seqset_free(&s);

	static const char *const bad[] = { "", "0", "1:0", "01", "1,", ",1", "1::2", "4294967296", "a", "1:2:3", "$1" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(imap_seqset_parse(bad[i], strlen(bad[i]), &s));

	/* merging and formatting */
	imap_seqset_init(&s);
	assert_int_equal(imap_seqset_add(&s, 1, 1), 0);
	assert_int_equal(imap_seqset_add(&s, 2, 4), 0);
	assert_int_equal(imap_seqset_add(&s, 7, 7), 0);
	assert_int_equal(imap_seqset_add(&s, 3, 3), 0);
	imap_seqset_normalize(&s);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(imap_seqset_format(&s, &b), 0);
	assert_string_equal(b.data, "1:4,7");
	buf_free(&b);
	imap_seqset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_lines),
		cmocka_unit_test(test_reader_literals),
		cmocka_unit_test(test_reader_refused_literal),
		cmocka_unit_test(test_reader_too_long),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_nested_lists),
		cmocka_unit_test(test_seqset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
