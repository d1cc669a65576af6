/*
 * test_smtp_data — the DATA / BDAT content decoder of proto/smtp_data:
 * the end of data (RFC 5321 4.1.1.4), dot-unstuffing (4.5.2), line
 * endings (2.3.8), every SMTP smuggling variant, line length (4.5.3.1.6),
 * header watching, and the resumable behaviour when the output is full.
 *
 * Each case is run three ways — whole, one octet per call, and split in
 * two at every position — and must give the same result each time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/smtp_data.h"

#define LF SMTP_DATA_BARE_LF
#define CR SMTP_DATA_BARE_CR
#define NUL SMTP_DATA_NUL
#define LONG SMTP_DATA_LONG_LINE
#define BIT8 SMTP_DATA_8BIT

struct result {
	struct buf out;
	size_t consumed;
	bool done;
	struct smtp_data d;
};

/* Feed `in` in pieces: cut[] holds increasing cut positions (ncut of
 * them). Stops at done. For BDAT, `finish` calls smtp_data_finish. */
static void test_feed_cuts(enum smtp_data_mode mode, const char *in, size_t n, const size_t *cut, size_t ncut,
                           bool finish, struct result *r)
{
	size_t pos = 0;

	buf_init(&r->out, 0);
	smtp_data_init(&r->d, mode);
	r->consumed = 0;
	r->done = false;
	for (size_t k = 0; k <= ncut && !r->done; k++) {
		size_t end = k < ncut ? cut[k] : n;
		if (end < pos)
			continue;
		/* an exact-size heap copy, so ASan sees any over-read */
		char *piece = malloc(end - pos + 1);
		assert_non_null(piece);
		memcpy(piece, in + pos, end - pos);
		bool done = true; /* must be overwritten */
		size_t used = smtp_data_feed(&r->d, piece, end - pos, &r->out, &done);
		free(piece);
		r->consumed += used;
		r->done = done;
		if (!done)
			assert_int_equal(used, end - pos);
		pos = end;
	}
	if (finish)
		smtp_data_finish(&r->d, &r->out);
}

static void test_same(const struct result *a, const struct result *b, const char *what, size_t at)
{
	if (a->out.len != b->out.len || (a->out.len && memcmp(a->out.data, b->out.data, a->out.len) != 0)
	    || a->consumed != b->consumed || a->done != b->done || a->d.flags != b->d.flags
	    || a->d.received != b->d.received || a->d.headers != b->d.headers
	    || a->d.in_headers != b->d.in_headers || a->d.size != b->d.size)
		fail_msg("%s split at %zu differs from whole", what, at);
}

/* Run whole, byte by byte, and at every 2-split; return the whole run. */
static void test_feed_all_ways(enum smtp_data_mode mode, const char *in, size_t n, bool finish,
                               struct result *whole)
{
	test_feed_cuts(mode, in, n, NULL, 0, finish, whole);
	assert_true(whole->d.size == whole->out.len);

	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t k = 0; k < n; k++)
		cuts[k] = k + 1;
	struct result r;
	test_feed_cuts(mode, in, n, cuts, n, finish, &r);
	test_same(whole, &r, "bytewise", 0);
	buf_free(&r.out);
	for (size_t k = 0; k <= n; k++) {
		cuts[0] = k;
		test_feed_cuts(mode, in, n, cuts, 1, finish, &r);
		test_same(whole, &r, "2-split", k);
		buf_free(&r.out);
	}
	free(cuts);
}

struct data_case {
	const char *in;
	size_t inlen; /* 0: strlen */
	bool done;
	size_t consumed; /* when done */
	const char *out;
	size_t outlen; /* 0: strlen */
	unsigned flags;
};

static void test_run_cases(enum smtp_data_mode mode, const struct data_case *t, size_t count, bool finish)
{
	for (size_t k = 0; k < count; k++) {
		size_t n = t[k].inlen ? t[k].inlen : strlen(t[k].in);
		size_t on = t[k].outlen ? t[k].outlen : strlen(t[k].out);
		struct result r;
		test_feed_all_ways(mode, t[k].in, n, finish, &r);
		if (r.done != t[k].done)
			fail_msg("case %zu: done %d want %d", k, r.done, t[k].done);
		if (r.consumed != (t[k].done ? t[k].consumed : n))
			fail_msg("case %zu: consumed %zu", k, r.consumed);
		if (r.out.len != on || memcmp(r.out.data ? r.out.data : "", t[k].out, on) != 0)
			fail_msg("case %zu: output \"%s\" (%zu octets)", k, r.out.data ? r.out.data : "", r.out.len);
		if (r.d.flags != t[k].flags)
			fail_msg("case %zu: flags %#x want %#x", k, r.d.flags, t[k].flags);
		buf_free(&r.out);
	}
}

static void test_dot_end(void **state)
{
	(void)state;
	static const struct data_case t[] = {
		/* the start of data is the start of a line */
		{ ".\r\n", 0, true, 3, "", 0, 0 },
		{ ".\r\nQUIT\r\n", 0, true, 3, "", 0, 0 },
		{ "a\r\n.\r\n", 0, true, 6, "a\n", 0, 0 },
		{ "a\r\n.\r\nQUIT\r\n", 0, true, 6, "a\n", 0, 0 },
		{ "\r\n.\r\n", 0, true, 5, "\n", 0, 0 },
		{ "a\r\n\r\n.\r\n", 0, true, 8, "a\n\n", 0, 0 },
		{ "Subject: x\r\n\r\nbody\r\n.\r\n.\r\n", 0, true, 23, "Subject: x\n\nbody\n", 0, 0 },
		/* dot-unstuffing (RFC 5321 4.5.2) */
		{ "..\r\n.\r\n", 0, true, 7, ".\n", 0, 0 },
		{ "..x\r\n.\r\n", 0, true, 8, ".x\n", 0, 0 },
		{ "...\r\n.\r\n", 0, true, 8, "..\n", 0, 0 },
		{ ".x\r\n.\r\n", 0, true, 7, "x\n", 0, 0 },
		{ ". \r\n.\r\n", 0, true, 7, " \n", 0, 0 },
		{ "a\r\n..\r\n.\r\n", 0, true, 10, "a\n.\n", 0, 0 },
		{ "a.\r\n.\r\n", 0, true, 7, "a.\n", 0, 0 },
		{ "a\r\n. x\r\n.\r\n", 0, true, 11, "a\n x\n", 0, 0 },
		{ "a\r\nb.c\r\n.\r\n", 0, true, 11, "a\nb.c\n", 0, 0 },
		/* not yet the end */
		{ "", 0, false, 0, "", 0, 0 },
		{ "a", 0, false, 0, "a", 0, 0 },
		{ "a\r", 0, false, 0, "a", 0, 0 },
		{ "a\r\n", 0, false, 0, "a\n", 0, 0 },
		{ "a\r\n.", 0, false, 0, "a\n", 0, 0 },
		{ "a\r\n.\r", 0, false, 0, "a\n", 0, 0 },
		{ ".", 0, false, 0, "", 0, 0 },
		{ ".\r", 0, false, 0, "", 0, 0 },
	};
	test_run_cases(SMTP_DATA_DOT, t, sizeof(t) / sizeof(t[0]), false);
}

/* The SMTP smuggling variants (2023): nothing but CR LF . CR LF ends the
 * data, and a bare CR or LF never ends a line. */
static void test_smuggling(void **state)
{
	(void)state;
	static const struct data_case t[] = {
		{ "\n.\n", 0, false, 0, "\n.\n", 0, LF },
		{ "a\n.\n", 0, false, 0, "a\n.\n", 0, LF },
		{ "a\n.\nMAIL FROM:<x@y>\n", 0, false, 0, "a\n.\nMAIL FROM:<x@y>\n", 0, LF },
		{ "\n.\r\n", 0, false, 0, "\n.\n", 0, LF },
		{ "a\n.\r\n", 0, false, 0, "a\n.\n", 0, LF },
		{ "a\n.\r\nMAIL FROM:<x@y>\r\n", 0, false, 0, "a\n.\nMAIL FROM:<x@y>\n", 0, LF },
		{ "a\r\n.\n", 0, false, 0, "a\n\n", 0, LF },
		{ "a\r\n.\nMAIL FROM:<x@y>\r\n", 0, false, 0, "a\n\nMAIL FROM:<x@y>\n", 0, LF },
		{ "a\r.\r\n", 0, false, 0, "a\r.\n", 0, CR },
		{ "\r.\r\n", 0, false, 0, "\r.\n", 0, CR },
		{ "a\r.\rMAIL", 0, false, 0, "a\r.\rMAIL", 0, CR },
		{ "a\r\n.\rMAIL", 0, false, 0, "a\n\rMAIL", 0, CR },
		{ "a\r\n.\r\r\n", 0, false, 0, "a\n\r\n", 0, CR },
		{ "a\r\n.\r.\r\n", 0, false, 0, "a\n\r.\n", 0, CR },
		{ ".\n", 0, false, 0, "\n", 0, LF },
		{ ".\r.\r\n", 0, false, 0, "\r.\n", 0, CR },
		{ "a\r\n\n.\r\n", 0, false, 0, "a\n\n.\n", 0, LF },
		{ "a\n\n.\n\n", 0, false, 0, "a\n\n.\n\n", 0, LF },
		{ "a\r\r\n", 0, false, 0, "a\r\n", 0, CR },
		{ "a\n\r\n", 0, false, 0, "a\n\n", 0, LF },
		{ "a\r\n.\n\r\n", 0, false, 0, "a\n\n\n", 0, LF },
		{ "a\r\n\0.\r\n", 7, false, 0, "a\n\0.\n", 5, NUL },
		{ "a\r\n.\0\r\n", 7, false, 0, "a\n\0\n", 4, NUL },
		{ "a\r\n.\r\0\n", 7, false, 0, "a\n\r\0\n", 5, CR | NUL | LF },
		/* CR LF . CR LF after a bare CR or LF earlier on the line: ends,
		 * because that CR LF is real; the flag makes the session refuse. */
		{ "a\r\r\n.\r\n", 0, true, 7, "a\r\n", 0, CR },
		{ "a\n\r\n.\r\n", 0, true, 7, "a\n\n", 0, LF },
		{ "x\0y\r\n.\r\n", 8, true, 8, "x\0y\n", 4, NUL },
		{ "\xc3\xa4\r\n.\r\n", 0, true, 7, "\xc3\xa4\n", 0, BIT8 },
		{ "\x80", 0, false, 0, "\x80", 0, BIT8 },
	};
	test_run_cases(SMTP_DATA_DOT, t, sizeof(t) / sizeof(t[0]), false);
}

static void test_bdat(void **state)
{
	(void)state;
	/* fed, then smtp_data_finish (BDAT LAST) */
	static const struct data_case t[] = {
		{ "", 0, false, 0, "", 0, 0 },
		{ "a\r\nb\r\n", 0, false, 0, "a\nb\n", 0, 0 },
		{ "abc", 0, false, 0, "abc\n", 0, 0 },
		{ "a\r\n", 0, false, 0, "a\n", 0, 0 },
		{ "a\r", 0, false, 0, "a\r\n", 0, CR },
		{ "\r", 0, false, 0, "\r\n", 0, CR },
		{ "a\r\n\r", 0, false, 0, "a\n\r\n", 0, CR },
		{ "a\n", 0, false, 0, "a\n\n", 0, LF },
		{ "\r\n", 0, false, 0, "\n", 0, 0 },
		/* no dot rules at all (RFC 3030 3) */
		{ "a\r\n.\r\nb\r\n", 0, false, 0, "a\n.\nb\n", 0, 0 },
		{ ".\r\n", 0, false, 0, ".\n", 0, 0 },
		{ "..x\r\n", 0, false, 0, "..x\n", 0, 0 },
		{ ".", 0, false, 0, ".\n", 0, 0 },
		{ "a\r\n.\r", 0, false, 0, "a\n.\r\n", 0, CR },
		{ "a\r.\n", 0, false, 0, "a\r.\n\n", 0, CR | LF },
		{ "\xff\0", 2, false, 0, "\xff\0\n", 3, BIT8 | NUL },
	};
	test_run_cases(SMTP_DATA_RAW, t, sizeof(t) / sizeof(t[0]), true);

	/* a chunk ending in CR followed by one starting with LF is a CR LF */
	struct smtp_data d;
	struct buf out;
	bool done = true;
	buf_init(&out, 0);
	smtp_data_init(&d, SMTP_DATA_RAW);
	assert_int_equal(smtp_data_feed(&d, "Subject: a\r", 11, &out, &done), 11);
	assert_false(done);
	assert_int_equal(smtp_data_feed(&d, "\n\r", 2, &out, &done), 2);
	assert_int_equal(smtp_data_feed(&d, "\nbody\r\n.\r", 9, &out, &done), 9);
	assert_false(done);
	assert_int_equal(smtp_data_feed(&d, "\n", 1, &out, NULL), 1);
	smtp_data_finish(&d, &out);
	assert_string_equal(out.data, "Subject: a\n\nbody\n.\n");
	assert_int_equal(d.flags, 0);
	assert_false(d.in_headers);
	assert_true(d.size == out.len);
	buf_free(&out);
}

static void test_long_lines(void **state)
{
	(void)state;
	size_t max = SMTP_TEXT_LINE_MAX + 20;
	char *in = malloc(max + 10);
	assert_non_null(in);

	for (int mode = 0; mode < 2; mode++) {
		enum smtp_data_mode m = mode ? SMTP_DATA_RAW : SMTP_DATA_DOT;
		/* 998 octets of text is the limit; 999 passes it */
		for (size_t len = 996; len <= 1001; len++) {
			memset(in, 'x', len);
			memcpy(in + len, "\r\n.\r\n", 5);
			struct result r;
			size_t cut[2] = { len / 3, len - 1 };
			test_feed_cuts(m, in, len + 5, cut, 2, m == SMTP_DATA_RAW, &r);
			bool is_long = (r.d.flags & SMTP_DATA_LONG_LINE) != 0;
			if (is_long != (len > 998))
				fail_msg("mode %d len %zu: long %d", mode, len, is_long);
			buf_free(&r.out);
		}
	}

	/* RFC 5321 4.5.3.1.6: the dot doubled for transparency does not count */
	in[0] = '.';
	memset(in + 1, 'x', 998);
	memcpy(in + 999, "\r\n.\r\n", 5);
	struct result r;
	test_feed_cuts(SMTP_DATA_DOT, in, 1004, NULL, 0, false, &r);
	assert_true(r.done);
	assert_int_equal(r.d.flags, 0);
	assert_int_equal(r.out.len, 999);
	buf_free(&r.out);
	in[999] = 'x';
	memcpy(in + 1000, "\r\n.\r\n", 5);
	test_feed_cuts(SMTP_DATA_DOT, in, 1005, NULL, 0, false, &r);
	assert_true(r.done);
	assert_int_equal(r.d.flags, SMTP_DATA_LONG_LINE);
	buf_free(&r.out);

	/* bare CR and LF do not end a line: they lengthen it */
	memset(in, 'x', 998);
	in[500] = '\n';
	in[700] = '\r';
	memcpy(in + 998, "y\r\n.\r\n", 6);
	test_feed_cuts(SMTP_DATA_DOT, in, 1004, NULL, 0, false, &r);
	assert_true(r.done);
	assert_int_equal(r.d.flags, SMTP_DATA_LONG_LINE | SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR);
	buf_free(&r.out);

	/* many lines of 998 never set it, and the count restarts each line */
	struct smtp_data d;
	struct buf out;
	buf_init(&out, 0);
	smtp_data_init(&d, SMTP_DATA_DOT);
	memset(in, 'z', 998);
	memcpy(in + 998, "\r\n", 2);
	for (int k = 0; k < 50; k++) {
		assert_int_equal(smtp_data_feed(&d, in, 1000, &out, NULL), 1000);
		buf_reset(&out);
	}
	assert_int_equal(d.flags, 0);
	buf_free(&out);
	free(in);
}

static void test_headers(void **state)
{
	(void)state;
	static const char msg[] = "Received: from a\r\n"
				  "\tby b\r\n"
				  "received:from c\r\n"
				  "RECEIVED \t :x\r\n"
				  ".Received: stuffed\r\n"
				  "..Received: not\r\n"
				  " Received: folded\r\n"
				  "X-Received: no\r\n"
				  "Received-SPF: pass\r\n"
				  "Received\r\n"
				  "Message-ID     :<1@x>\r\n"
				  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
				  "Subject: hi\r\n"
				  "\r\n"
				  "From: body\r\n"
				  "Received: body\r\n"
				  ".\r\n";
	struct result r;
	test_feed_all_ways(SMTP_DATA_DOT, msg, sizeof(msg) - 1, false, &r);
	assert_true(r.done);
	assert_int_equal(r.d.received, 4);
	assert_int_equal(r.d.headers, SMTP_HDR_MESSAGE_ID | SMTP_HDR_DATE);
	assert_false(r.d.in_headers);
	buf_free(&r.out);

	static const struct {
		const char *in;
		unsigned headers;
		unsigned received;
		bool in_headers;
	} t[] = {
		{ "From: a@b\r\n\r\n.\r\n", SMTP_HDR_FROM, 0, false },
		{ "from:a@b\r\n.\r\n", SMTP_HDR_FROM, 0, true },
		{ "FROM \t\t  \t  :a@b\r\n.\r\n", SMTP_HDR_FROM, 0, true },
		{ "From a@b Mon Jan 1\r\n.\r\n", 0, 0, true }, /* mbox separator */
		{ "From\r\n.\r\n", 0, 0, true },
		{ "Fromage: x\r\n.\r\n", 0, 0, true },
		{ "Resent-From: x\r\n.\r\n", 0, 0, true },
		{ "Resent-Date: x\r\nResent-Message-ID: y\r\n.\r\n", 0, 0, true },
		{ "message-id: <x>\r\ndate: x\r\n.\r\n", SMTP_HDR_MESSAGE_ID | SMTP_HDR_DATE, 0, true },
		{ "\r\nFrom: x\r\nDate: y\r\nReceived: z\r\n.\r\n", 0, 0, false },
		{ "Subject: x\nFrom: y\r\n.\r\n", 0, 0, true }, /* a bare LF starts no line */
		{ "Subject: x\rFrom: y\r\n.\r\n", 0, 0, true },
		{ "Subject: x\r\n\n\r\nFrom: y\r\n.\r\n", SMTP_HDR_FROM, 0, true }, /* "\n" is not empty */
		{ "Received: a\r\nReceived: b\r\nReceived: c\r\n.\r\n", 0, 3, true },
		{ ".\r\n", 0, 0, true },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		test_feed_all_ways(SMTP_DATA_DOT, t[k].in, strlen(t[k].in), false, &r);
		assert_true(r.done);
		if (r.d.headers != t[k].headers || r.d.received != t[k].received || r.d.in_headers != t[k].in_headers)
			fail_msg("case %zu: headers %#x received %u in_headers %d", k, r.d.headers, r.d.received,
				 r.d.in_headers);
		buf_free(&r.out);
	}

	/* BDAT watches headers the same way, including a last line without CR LF */
	test_feed_all_ways(SMTP_DATA_RAW, "Received: x\r\nDate: y", 20, true, &r);
	assert_int_equal(r.d.received, 1);
	assert_int_equal(r.d.headers, SMTP_HDR_DATE);
	assert_string_equal(r.out.data, "Received: x\nDate: y\n");
	buf_free(&r.out);
}

/* When out is full the decoder stops and resumes exactly where it left. */
static void test_output_full(void **state)
{
	(void)state;
	static const char *inputs[] = {
		"abcdefgh\r\n..x\r\nyy\r\r\nz\n\r\n.\r\r\n.\r\nTAIL",
		"Received: a\r\nFrom: b\r\n\r\nbody line\r\n.\r\n",
		".\r\n",
		"\r\n\r\n\r\n.\r\n",
	};
	for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
		size_t n = strlen(inputs[k]);
		struct result whole;
		test_feed_cuts(SMTP_DATA_DOT, inputs[k], n, NULL, 0, false, &whole);
		for (size_t max = 1; max <= 12; max++) {
			struct smtp_data d;
			struct buf out, all;
			bool done = false;
			size_t pos = 0;
			buf_init(&out, max);
			buf_init(&all, 0);
			smtp_data_init(&d, SMTP_DATA_DOT);
			for (int guard = 0; !done && pos < n; guard++) {
				assert_true(guard < 1000);
				size_t used = smtp_data_feed(&d, inputs[k] + pos, n - pos, &out, &done);
				assert_true(used > 0 || done || out.len == out.max);
				assert_true(out.len <= max);
				pos += used;
				assert_int_equal(buf_append(&all, out.data ? out.data : "", out.len), 0);
				buf_reset(&out);
			}
			assert_int_equal(done, whole.done);
			assert_int_equal(pos, whole.consumed);
			assert_int_equal(all.len, whole.out.len);
			assert_memory_equal(all.data, whole.out.data, all.len);
			assert_int_equal(d.flags, whole.d.flags);
			assert_int_equal(d.received, whole.d.received);
			assert_int_equal(d.headers, whole.d.headers);
			assert_true(d.size == all.len);
			buf_free(&out);
			buf_free(&all);
		}
		buf_free(&whole.out);
	}
}

static void test_after_done(void **state)
{
	(void)state;
	struct smtp_data d;
	struct buf out;
	bool done = false;
	buf_init(&out, 0);
	smtp_data_init(&d, SMTP_DATA_DOT);
	assert_int_equal(smtp_data_feed(&d, "x\r\n.\r\nRSET\r\n", 12, &out, &done), 6);
	assert_true(done);
	done = false;
	assert_int_equal(smtp_data_feed(&d, "RSET\r\n", 6, &out, &done), 0);
	assert_true(done);
	assert_string_equal(out.data, "x\n");
	/* init starts a fresh message */
	smtp_data_init(&d, SMTP_DATA_DOT);
	assert_int_equal(d.size, 0);
	assert_true(d.in_headers);
	assert_int_equal(smtp_data_feed(&d, "..\r\n.\r\n", 7, &out, &done), 7);
	assert_true(done);
	assert_string_equal(out.data, "x\n.\n");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_end),    cmocka_unit_test(test_smuggling),   cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_long_lines), cmocka_unit_test(test_headers),     cmocka_unit_test(test_output_full),
		cmocka_unit_test(test_after_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
