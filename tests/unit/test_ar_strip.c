/*
 * test_ar_strip — the Authentication-Results filter of proto/ar_strip
 * (RFC 8601 5: a field that claims our authserv-id is removed on entry,
 * every other octet passes). The authserv-id in its token and
 * quoted-string forms (RFC 8601 2.2), behind a comment, in another case
 * and with a version; folded fields; other ids, look-alike ids and
 * look-alike field names kept byte for byte; the body left alone; a
 * header section without its empty line or without its last LF; the
 * size cap; a full output buffer.
 *
 * Every message is fed whole, one octet per call, in pieces of 2 to 7
 * octets, and in two pieces cut at every offset, and must give the same
 * output and the same count each time; most are run again with CRLF
 * line ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ar_strip.h"

#define ID "mx.example.org"

/* in[0..cut) in one call, then the rest in calls of `piece` octets (0:
 * all of it at once), then ar_strip_finish. Returns the count. */
static size_t test_ar_strip_run(const char *id, const char *in, size_t n, size_t cut, size_t piece,
                                struct buf *out)
{
	struct ar_strip s;
	ar_strip_init(&s, id);
	buf_reset(out);
	if (cut > n)
		cut = n;
	assert_int_equal(ar_strip_feed(&s, in, cut, out), 0);
	for (size_t i = cut; i < n;) {
		size_t k = piece == 0 || n - i < piece ? n - i : piece;
		assert_int_equal(ar_strip_feed(&s, in + i, k, out), 0);
		i += k;
	}
	assert_int_equal(ar_strip_finish(&s, out), 0);
	size_t removed = s.removed;
	ar_strip_free(&s);
	return removed;
}

static void test_ar_strip_same(const struct buf *out, const char *want, size_t wn, const char *how, size_t at)
{
	if (out->len != wn || (wn && memcmp(out->data, want, wn) != 0))
		fail_msg("%s at %zu: got %zu octets \"%.*s\", want %zu \"%.*s\"", how, at, out->len,
		         (int)out->len, out->data ? out->data : "", wn, (int)wn, want);
}

/* The one-piece output must be want, with `removed` fields removed;
 * every other way of cutting the input must give the same. `step`
 * thins out the two-piece cuts for long inputs (1: every offset). */
static void test_ar_strip_expect_n(const char *id, const char *in, size_t n, const char *want, size_t wn,
                                   size_t removed, size_t step)
{
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(test_ar_strip_run(id, in, n, n, 0, &out), removed);
	test_ar_strip_same(&out, want, wn, "whole", n);
	for (size_t piece = 1; piece <= 7; piece++) {
		assert_int_equal(test_ar_strip_run(id, in, n, 0, piece, &out), removed);
		test_ar_strip_same(&out, want, wn, "pieces of", piece);
	}
	for (size_t cut = 0; cut <= n; cut++) {
		if (step > 1 && cut % step != 0 && cut > 200 && n - cut > 200)
			continue;
		assert_int_equal(test_ar_strip_run(id, in, n, cut, 0, &out), removed);
		test_ar_strip_same(&out, want, wn, "cut", cut);
	}
	buf_free(&out);
}

static void test_ar_strip_expect_id(const char *id, const char *in, const char *want, size_t removed)
{
	test_ar_strip_expect_n(id, in, strlen(in), want, strlen(want), removed, 1);
}

static void test_ar_strip_expect(const char *in, const char *want, size_t removed)
{
	test_ar_strip_expect_id(ID, in, want, removed);
}

/* The same text with every LF made CR LF. Owned by the caller. */
static char *test_ar_strip_crlf(const char *s)
{
	size_t n = strlen(s), lf = 0;
	for (size_t i = 0; i < n; i++)
		lf += s[i] == '\n';
	char *d = malloc(n + lf + 1);
	assert_non_null(d);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			d[j++] = '\r';
		d[j++] = s[i];
	}
	d[j] = '\0';
	return d;
}

/* As written (LF), then with CRLF line ends. */
static void test_ar_strip_expect2(const char *in, const char *want, size_t removed)
{
	test_ar_strip_expect(in, want, removed);
	char *cin = test_ar_strip_crlf(in), *cwant = test_ar_strip_crlf(want);
	test_ar_strip_expect(cin, cwant, removed);
	free(cin);
	free(cwant);
}

/* The field with our id, then "From" and a body: only the field goes. */
static void test_ar_strip_expect_ours(const char *field)
{
	char in[1024];
	int k = snprintf(in, sizeof in, "Received: by a\n%sFrom: a@b\n\nbody\n", field);
	assert_true(k > 0 && (size_t)k < sizeof in);
	test_ar_strip_expect2(in, "Received: by a\nFrom: a@b\n\nbody\n", 1);
}

/* The field, not ours, passes byte for byte. */
static void test_ar_strip_expect_kept(const char *field)
{
	char in[1024];
	int k = snprintf(in, sizeof in, "Received: by a\n%sFrom: a@b\n\nbody\n", field);
	assert_true(k > 0 && (size_t)k < sizeof in);
	test_ar_strip_expect2(in, in, 0);
}

static void test_ar_strip_ours_forms(void **state)
{
	(void)state;
	/* token form */
	test_ar_strip_expect_ours("Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=a@b\n");
	test_ar_strip_expect_ours("Authentication-Results:mx.example.org;spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results: mx.example.org; none\n");
	test_ar_strip_expect_ours("Authentication-Results: mx.example.org\n");
	test_ar_strip_expect_ours("Authentication-Results: \t mx.example.org ; spf=pass\n");
	/* quoted-string form, with a quoted-pair inside (RFC 5322 3.2.4) */
	test_ar_strip_expect_ours("Authentication-Results: \"mx.example.org\"; dkim=pass header.d=b\n");
	test_ar_strip_expect_ours("Authentication-Results: \"mx.exa\\mple.org\"; dkim=pass\n");
	/* a comment before the id, nested and with a quoted-pair */
	test_ar_strip_expect_ours("Authentication-Results: (c) mx.example.org; spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results: (a (b) \\) c) mx.example.org; spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results:(c)mx.example.org(d); spf=pass\n");
	/* case differences, in the name and in the id */
	test_ar_strip_expect_ours("authentication-results: mx.example.org; spf=pass\n");
	test_ar_strip_expect_ours("AUTHENTICATION-RESULTS: MX.Example.ORG; spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results: \"MX.EXAMPLE.ORG\"; spf=pass\n");
	/* a version number (RFC 8601 2.2: authserv-id [ CFWS authres-version ]) */
	test_ar_strip_expect_ours("Authentication-Results: mx.example.org 1; spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results: mx.example.org (v) 1 (w); spf=pass\n");
	/* WSP before the colon (RFC 5322 4.5.1, obsolete but read) */
	test_ar_strip_expect_ours("Authentication-Results : mx.example.org; spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results \t : mx.example.org; spf=pass\n");
}

static void test_ar_strip_folded(void **state)
{
	(void)state;
	/* every continuation line goes with the field */
	test_ar_strip_expect_ours("Authentication-Results: mx.example.org;\n"
	                          "  spf=pass smtp.mailfrom=a@b;\n"
	                          "\tdkim=pass header.d=b header.s=s1;\n"
	                          "  dmarc=pass header.from=b\n");
	/* the id itself on a continuation line */
	test_ar_strip_expect_ours("Authentication-Results:\n mx.example.org; spf=pass\n");
	test_ar_strip_expect_ours("Authentication-Results: (a\n comment)\n\t\"mx.example.org\"\n ; spf=pass\n");
	/* two of ours back to back, and one of someone else's in between */
	test_ar_strip_expect2("Authentication-Results: mx.example.org; spf=pass\n"
	                      " dkim=none\n"
	                      "Authentication-Results: mx.example.org; dmarc=none\n"
	                      "Authentication-Results: other.example; spf=fail\n"
	                      "\tdkim=fail\n"
	                      "Authentication-Results: mx.example.org; arc=none\n"
	                      "Subject: hi\n"
	                      "\n"
	                      "body\n",
	                      "Authentication-Results: other.example; spf=fail\n"
	                      "\tdkim=fail\n"
	                      "Subject: hi\n"
	                      "\n"
	                      "body\n",
	                      3);
	/* a folded field that is not an Authentication-Results keeps its
	 * continuations, even right after one of ours was removed */
	test_ar_strip_expect2("Authentication-Results: mx.example.org; spf=pass\n"
	                      "Subject: one\n"
	                      " two\n"
	                      "\n",
	                      "Subject: one\n"
	                      " two\n"
	                      "\n",
	                      1);
}

static void test_ar_strip_others_kept(void **state)
{
	(void)state;
	test_ar_strip_expect_kept("Authentication-Results: other.example; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: other.example;\n  spf=pass\n\tdkim=pass   \n");
	test_ar_strip_expect_kept("Authentication-Results: \"other.example\"; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: (mx.example.org) other.example; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: other.example; spf=pass (mx.example.org)\n");
	test_ar_strip_expect_kept("Authentication-Results: other.example; x=mx.example.org\n");
	/* look-alikes: a prefix or a suffix of ours, or ours as a prefix */
	test_ar_strip_expect_kept("Authentication-Results: mx.example.org.evil; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: x.mx.example.org; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: mx.example.or; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: mx.example.orgx; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: \"mx.example.org.evil\"; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: \"x.mx.example.org\"; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: \"mx.example.org \"; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results: mx.example.org.; spf=pass\n");
	/* other names that merely contain it */
	test_ar_strip_expect_kept("X-Authentication-Results: mx.example.org; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results-Original: mx.example.org; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Result: mx.example.org; spf=pass\n");
	test_ar_strip_expect_kept("Authentication-Results mx.example.org; spf=pass\n");
	test_ar_strip_expect_kept("ARC-Authentication-Results: i=1; mx.example.org; spf=pass\n");
	/* an empty field, and one without a colon */
	test_ar_strip_expect_kept("Authentication-Results:\n");
	test_ar_strip_expect_kept("Authentication-Results\n");
	/* a first line longer than what is kept to judge it */
	test_ar_strip_expect_kept("Authentication-Results: other.example; spf=pass smtp.mailfrom="
	                          "a-very-long-local-part-that-goes-on-and-on@example.com "
	                          "(sender IP is 192.0.2.1)\n");
	test_ar_strip_expect_kept("Subject: a subject much longer than the window that tells a line's name"
	                          " from the rest of it, Authentication-Results: mx.example.org;\n");
}

static void test_ar_strip_body(void **state)
{
	(void)state;
	/* the same text in the body, also right after the empty line */
	test_ar_strip_expect2("Subject: x\n\nAuthentication-Results: mx.example.org; spf=pass\n",
	                      "Subject: x\n\nAuthentication-Results: mx.example.org; spf=pass\n", 0);
	test_ar_strip_expect2("Authentication-Results: mx.example.org; spf=pass\n"
	                      "\n"
	                      "Authentication-Results: mx.example.org; spf=pass\n"
	                      "\n"
	                      "Authentication-Results: mx.example.org; spf=pass\n",
	                      "\n"
	                      "Authentication-Results: mx.example.org; spf=pass\n"
	                      "\n"
	                      "Authentication-Results: mx.example.org; spf=pass\n",
	                      1);
	/* no header at all: the message starts with the empty line */
	test_ar_strip_expect2("\nAuthentication-Results: mx.example.org; x\n",
	                      "\nAuthentication-Results: mx.example.org; x\n", 0);
	/* our field last before the body, which has no final LF */
	test_ar_strip_expect2("Authentication-Results: mx.example.org; x\n\nbody", "\nbody", 1);
	/* nothing at all */
	test_ar_strip_expect("", "", 0);
	test_ar_strip_expect("\n", "\n", 0);
	test_ar_strip_expect("\r\n", "\r\n", 0);
}

static void test_ar_strip_no_body(void **state)
{
	(void)state;
	/* a header section and no empty line */
	test_ar_strip_expect2("Authentication-Results: mx.example.org; spf=pass\nSubject: x\n", "Subject: x\n", 1);
	test_ar_strip_expect2("Subject: x\nAuthentication-Results: mx.example.org; spf=pass\n", "Subject: x\n", 1);
	test_ar_strip_expect2("Subject: x\nAuthentication-Results: mx.example.org;\n spf=pass\n", "Subject: x\n", 1);
	/* and no final LF either: ar_strip_finish judges what is held */
	test_ar_strip_expect("Subject: x\nAuthentication-Results: mx.example.org; spf=pass", "Subject: x\n", 1);
	test_ar_strip_expect("Subject: x\nAuthentication-Results: mx.example.org", "Subject: x\n", 1);
	test_ar_strip_expect("Subject: x\nAuthentication-Results: mx.example.org;\n spf=pass", "Subject: x\n", 1);
	test_ar_strip_expect("Subject: x\r\nAuthentication-Results: mx.example.org; spf=pass\r", "Subject: x\r\n", 1);
	test_ar_strip_expect("Authentication-Results: other.example; spf=pass",
	                     "Authentication-Results: other.example; spf=pass", 0);
	/* an unfinished line shorter than a field name */
	test_ar_strip_expect("Subject: x\nAuthentica", "Subject: x\nAuthentica", 0);
	test_ar_strip_expect("Subject: x\nAuthentication-Results", "Subject: x\nAuthentication-Results", 0);
	test_ar_strip_expect("Subject: x\nAuthentication-Results  ", "Subject: x\nAuthentication-Results  ", 0);
	test_ar_strip_expect("Subject: x\n\r", "Subject: x\n\r", 0);
	test_ar_strip_expect("Subject: x\n ", "Subject: x\n ", 0);
}

static void test_ar_strip_odd_octets(void **state)
{
	(void)state;
	/* NUL, lone CR and 8-bit octets pass as they are */
	static const char in[] = "Subject: a\0b\n"
	                         "X: a\rb\n"
	                         "\rAuthentication-Results: mx.example.org; spf=pass\n"
	                         "Y: \xff\xfe\n"
	                         "Authentication-Results: mx.example.org; a=\0\xff\n"
	                         "\r\r\n"
	                         "Z: z\n"
	                         "\n"
	                         "\0body\r\n";
	static const char want[] = "Subject: a\0b\n"
	                           "X: a\rb\n"
	                           "\rAuthentication-Results: mx.example.org; spf=pass\n"
	                           "Y: \xff\xfe\n"
	                           "\r\r\n"
	                           "Z: z\n"
	                           "\n"
	                           "\0body\r\n";
	test_ar_strip_expect_n(ID, in, sizeof in - 1, want, sizeof want - 1, 1, 1);
	/* a field that starts with blanks before any field: kept */
	test_ar_strip_expect2(" Authentication-Results: mx.example.org; x\nA: b\n\n",
	                      " Authentication-Results: mx.example.org; x\nA: b\n\n", 0);
}

/* Many blanks between the name and the colon: past the window in which
 * a line's start is judged, still the same field. */
static void test_ar_strip_wide_name(void **state)
{
	(void)state;
	static const size_t widths[] = { 60, 63, 64, 65, 100, 300 };
	for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
		char field[512];
		int n = snprintf(field, sizeof field, "Authentication-Results%*s: mx.example.org; spf=pass\n",
		                 (int)widths[k], "");
		assert_true(n > 0 && (size_t)n < sizeof field);
		test_ar_strip_expect_ours(field);
		n = snprintf(field, sizeof field, "Authentication-Results%*s: other.example; spf=pass\n",
		             (int)widths[k], "");
		assert_true(n > 0 && (size_t)n < sizeof field);
		test_ar_strip_expect_kept(field);
	}
}

/* A field of n octets (the first line, then continuation lines of 78). */
static void test_ar_strip_make_field(struct buf *b, const char *id, size_t n)
{
	buf_reset(b);
	assert_int_equal(buf_printf(b, "Authentication-Results: %s; spf=pass\n", id), 0);
	while (b->len < n) {
		/* the last line never shorter than " x\n" */
		size_t room = n - b->len, k = room <= 78 ? room : room - 78 < 3 ? 70 : 78;
		assert_true(k >= 3);
		assert_int_equal(buf_putc(b, ' '), 0);
		for (size_t i = 1; i + 1 < k; i++)
			assert_int_equal(buf_putc(b, (char)('a' + i % 26)), 0);
		assert_int_equal(buf_putc(b, '\n'), 0);
	}
	assert_int_equal(b->len, n);
}

static void test_ar_strip_too_long(void **state)
{
	(void)state;
	struct buf field, in;
	buf_init(&field, 0);
	buf_init(&in, 0);
	static const char rest[] = "A: b\nC: d\n\nbody\n"; /* the message without the field */
	static const size_t sizes[] = { AR_STRIP_FIELD_MAX - 1, AR_STRIP_FIELD_MAX, AR_STRIP_FIELD_MAX + 1,
		                        3 * AR_STRIP_FIELD_MAX };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		bool big = sizes[k] > AR_STRIP_FIELD_MAX;
		/* someone else's: kept up to the cap, dropped past it */
		test_ar_strip_make_field(&field, "other.example", sizes[k]);
		buf_reset(&in);
		assert_int_equal(buf_printf(&in, "A: b\n%sC: d\n\nbody\n", field.data), 0);
		if (big)
			test_ar_strip_expect_n(ID, in.data, in.len, rest, sizeof rest - 1, 1, 97);
		else
			test_ar_strip_expect_n(ID, in.data, in.len, in.data, in.len, 0, 97);
		/* ours: dropped either way */
		test_ar_strip_make_field(&field, ID, sizes[k]);
		buf_reset(&in);
		assert_int_equal(buf_printf(&in, "A: b\n%sC: d\n\nbody\n", field.data), 0);
		test_ar_strip_expect_n(ID, in.data, in.len, rest, sizeof rest - 1, 1, 97);
	}
	/* and the next field after a dropped one is judged afresh */
	test_ar_strip_make_field(&field, "other.example", 2 * AR_STRIP_FIELD_MAX);
	buf_reset(&in);
	assert_int_equal(buf_printf(&in, "%sAuthentication-Results: other.example; x\n\n", field.data), 0);
	static const char want[] = "Authentication-Results: other.example; x\n\n";
	test_ar_strip_expect_n(ID, in.data, in.len, want, sizeof want - 1, 1, 97);
	buf_free(&field);
	buf_free(&in);
}

/* A full output buffer is an error, not a silent cut. */
static void test_ar_strip_out_full(void **state)
{
	(void)state;
	static const char in[] = "Subject: a subject\nAuthentication-Results: other.example; spf=pass\n\nbody\n";
	for (size_t max = 1; max < sizeof in - 1; max++) {
		struct ar_strip s;
		struct buf out;
		ar_strip_init(&s, ID);
		buf_init(&out, max);
		int rc = ar_strip_feed(&s, in, sizeof in - 1, &out);
		if (rc == 0)
			rc = ar_strip_finish(&s, &out);
		assert_int_equal(rc, -1);
		assert_true(out.len <= max);
		assert_memory_equal(out.data ? out.data : "", in, out.len);
		buf_free(&out);
		ar_strip_free(&s);
	}
}

static void test_ar_strip_is_ours(void **state)
{
	(void)state;
	static const struct {
		const char *field;
		bool ours;
	} cases[] = {
		{ "Authentication-Results: mx.example.org; spf=pass", true },
		{ "Authentication-Results: mx.example.org", true },
		{ "Authentication-Results:mx.example.org", true },
		{ "Authentication-Results: Mx.Example.Org 1; none", true },
		{ "Authentication-Results: \"mx.example.org\"", true },
		{ "Authentication-Results: (x) (y (z)) mx.example.org;", true },
		{ "Authentication-Results:\r\n\tmx.example.org;\r\n spf=pass", true },
		{ "Authentication-Results: other; mx.example.org", false },
		{ "Authentication-Results: mx.example.org.evil;", false },
		{ "Authentication-Results: x.mx.example.org;", false },
		{ "Authentication-Results: ;", false },
		{ "Authentication-Results:", false },
		{ "Authentication-Results: (mx.example.org", false },
		{ "Authentication-Results: \"mx.example\"", false },
		{ "no colon mx.example.org", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *f = cases[i].field;
		if (ar_strip_is_ours(f, strlen(f), ID) != cases[i].ours)
			fail_msg("\"%s\": want %s", f, cases[i].ours ? "ours" : "not ours");
	}
	/* the length bounds the look: an id cut short is not ours */
	static const char f[] = "Authentication-Results: mx.example.org; spf=pass";
	assert_true(ar_strip_is_ours(f, 38, ID));
	assert_false(ar_strip_is_ours(f, 37, ID));
	assert_false(ar_strip_is_ours(f, 24, ID));
	/* another id */
	assert_true(ar_strip_is_ours(f, sizeof f - 1, "MX.EXAMPLE.ORG"));
	assert_false(ar_strip_is_ours(f, sizeof f - 1, "example.org"));
}

/* The same filter with another id, and a long one (the id is copied,
 * not borrowed). */
static void test_ar_strip_other_ids(void **state)
{
	(void)state;
	static const char in[] = "Authentication-Results: a; x=1\n"
	                         "Authentication-Results: \"b c\"; x=2\n"
	                         "Authentication-Results: ab; x=3\n"
	                         "\n";
	test_ar_strip_expect_id("a", in, "Authentication-Results: \"b c\"; x=2\nAuthentication-Results: ab; x=3\n\n", 1);
	test_ar_strip_expect_id("B C", in, "Authentication-Results: a; x=1\nAuthentication-Results: ab; x=3\n\n", 1);
	char id[AR_STRIP_ID_MAX + 1];
	memset(id, 'q', AR_STRIP_ID_MAX);
	id[AR_STRIP_ID_MAX] = '\0';
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "Authentication-Results: %s; spf=pass\nA: b\n\n", id), 0);
	char copy[AR_STRIP_ID_MAX + 1];
	memcpy(copy, id, sizeof copy);
	test_ar_strip_expect_id(copy, b.data, "A: b\n\n", 1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ar_strip_ours_forms),
		cmocka_unit_test(test_ar_strip_folded),
		cmocka_unit_test(test_ar_strip_others_kept),
		cmocka_unit_test(test_ar_strip_body),
		cmocka_unit_test(test_ar_strip_no_body),
		cmocka_unit_test(test_ar_strip_odd_octets),
		cmocka_unit_test(test_ar_strip_wide_name),
		cmocka_unit_test(test_ar_strip_too_long),
		cmocka_unit_test(test_ar_strip_out_full),
		cmocka_unit_test(test_ar_strip_is_ours),
		cmocka_unit_test(test_ar_strip_other_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
