/*
 * test_imap_search — SEARCH criteria (RFC 9051 6.4.4 and the extensions
 * of imap_search.h): every key parsed from a real command line through
 * imap_args_parse, the errors and their status, then evaluation against
 * a small table of fake messages, with fake ops that count how often the
 * expensive questions (the Date: header, the text needles) are asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_search.h"

#define NOW 1709300000 /* 2024-03-01 13:33:20 UTC */
#define NMSG 6

struct fake_hdr {
	const char *name, *value;
};

struct fake {
	struct imap_search_msg m;
	const char *date;            /* the Date: header, NULL when none */
	struct fake_hdr hdr[5];
	const char *body;
};

enum { KW_FORWARDED, KW_WORK, KW_OTHER, KW_JUNK };

static struct fake fakes[NMSG] = {
        {.m = {.seq = 1, .uid = 10, .flags = IMAP_FLAG_SEEN, .keywords = 1u << KW_WORK, .internaldate = 760096800,
               .internal_tz = 0, .size = 100, .modseq = 5},
         .date = "Tue, 1 Feb 1994 09:00:00 +0000",
         .hdr = {{"From", "alice@example.org"}, {"To", "bob@example.com"}, {"Subject", "Hello world"}},
         .body = "the quick brown fox"},
        /* 17-Jul-1996 23:30 -0700: the 18th in UTC */
        {.m = {.seq = 2, .uid = 20, .flags = IMAP_FLAG_ANSWERED | IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED,
               .internaldate = 837671400, .internal_tz = -420, .size = 2000, .modseq = 7},
         .date = NULL,
         .hdr = {{"From", "Bob <bob@example.com>"}, {"To", "alice@example.org"}, {"Subject", "Re: Hello"}},
         .body = "lazy dog"},
        /* 29-Feb-2024 12:00 +0100 */
        {.m = {.seq = 3, .uid = 30, .flags = IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT, .keywords = 1u << KW_FORWARDED,
               .internaldate = 1709204400, .internal_tz = 60, .size = 50000, .modseq = 100},
         .date = "29 Feb 24 12:00 +0100",
         .hdr = {{"From", "carol@example.net"},
                 {"To", "bob@example.com"},
                 {"Cc", "alice@example.org"},
                 {"Subject", "Draft plan"}},
         .body = "budget"},
        {.m = {.seq = 4, .uid = 40, .flags = IMAP_FLAG_RECENT, .internaldate = NOW - 100, .internal_tz = 0,
               .size = 10, .modseq = 1},
         .date = "Thu, 29 Feb 2024 23:30:00 -0100", /* 1 Mar in UTC */
         .hdr = {{"From", "dave@example.com"},
                 {"To", "team@example.com"},
                 {"Bcc", "boss@example.com"},
                 {"Subject", "urgent"},
                 {"X-Priority", "1"}},
         .body = "call me, fox"},
        {.m = {.seq = 5, .uid = 50, .flags = IMAP_FLAG_RECENT | IMAP_FLAG_SEEN,
               .keywords = 1u << KW_WORK | 1u << KW_FORWARDED, .internaldate = NOW - 864000, .internal_tz = 0,
               .size = 999, .modseq = 50},
         .date = "not a date",
         .hdr = {{"From", "eve@example.org"}, {"Subject", ""}},
         .body = ""},
        /* 1-Mar-2024 00:30 +0100: 29 Feb in UTC */
        {.m = {.seq = 6, .uid = 60, .flags = 0, .keywords = 1u << KW_JUNK, .internaldate = 1709249400,
               .internal_tz = 60, .size = 1000, .modseq = 51},
         .date = "1 Mar 2024 10:00 +0000",
         .hdr = {{"From", "alice@example.org"}, {"Subject", "lunch?"}, {"List-Id", "<dev.example.org>"}},
         .body = "pizza"},
};

struct counts {
	const struct imap_search *s;
	int date_calls, needle_calls, kw_calls;
	int per_msg[NMSG];            /* needle calls per message */
	int per_pair[NMSG][IMAP_SEARCH_NEEDLES];
};

static struct counts cnt;

static int fake_keyword_index(void *ctx, const char *name)
{
	struct counts *c = ctx;
	c->kw_calls++;
	static const char *const names[] = {"$Forwarded", "Work", "Other", "$Junk"};
	for (int i = 0; i < 4; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}

static bool fake_sent_date(void *ctx, const struct imap_search_msg *m, int64_t *t, int *tz)
{
	struct counts *c = ctx;
	c->date_calls++;
	const struct fake *f = &fakes[m->seq - 1];
	return f->date != NULL && mail_date_parse(f->date, strlen(f->date), t, tz);
}

/* ASCII case-insensitive substring; the real matcher (mime_search)
 * folds Unicode too, which is not what is tested here. */
static bool fake_contains(const char *hay, const char *needle, size_t n)
{
	size_t h = strlen(hay);
	for (size_t i = 0; i + n <= h; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

static bool fake_needle(void *ctx, const struct imap_search_msg *m, size_t i)
{
	struct counts *c = ctx;
	c->needle_calls++;
	c->per_msg[m->seq - 1]++;
	c->per_pair[m->seq - 1][i]++;
	const struct fake *f = &fakes[m->seq - 1];
	const struct mime_needle *nd = &c->s->needles[i];
	assert_true(i < c->s->nneedles);
	assert_int_equal(nd->text[nd->len], '\0');
	bool hit = false;
	for (size_t k = 0; k < 5 && f->hdr[k].name != NULL && !hit; k++) {
		if (nd->where == MIME_NEEDLE_HEADER && strcasecmp(nd->field, f->hdr[k].name) == 0)
			hit = fake_contains(f->hdr[k].value, nd->text, nd->len);
		else if (nd->where == MIME_NEEDLE_TEXT)
			hit = fake_contains(f->hdr[k].value, nd->text, nd->len);
	}
	if (!hit && nd->where != MIME_NEEDLE_HEADER)
		hit = fake_contains(f->body, nd->text, nd->len);
	return hit;
}

static const struct imap_search_ops fake_ops = {
        .keyword_index = fake_keyword_index,
        .sent_date = fake_sent_date,
        .needle = fake_needle,
};

/* Parse criteria from a command line "a SEARCH <criteria>", as the
 * engine will; the arguments are freed before the program is used. */
static enum imap_search_status parse_utf8(const char *criteria, size_t clen, bool utf8, struct imap_search *s,
                                          char *err, size_t errlen)
{
	size_t n = 9 + clen;
	char *cmd = malloc(n + 1);
	assert_non_null(cmd);
	memcpy(cmd, "a SEARCH ", 9);
	memcpy(cmd + 9, criteria, clen);
	if (clen == 0)
		n = 8; /* "a SEARCH" */
	struct imap_args a;
	enum imap_parse_status ps = imap_args_parse(cmd, n, &a);
	if (ps != IMAP_PARSE_OK)
		fail_msg("imap_args_parse refused: %.60s (%d)", criteria, (int)ps);
	enum imap_search_status st = imap_search_parse(a.top, a.ntop, utf8, s, err, errlen);
	imap_args_free(&a);
	free(cmd);
	return st;
}

static enum imap_search_status parse(const char *criteria, struct imap_search *s, char *err, size_t errlen)
{
	return parse_utf8(criteria, strlen(criteria), false, s, err, errlen);
}

static void must_parse(const char *criteria, struct imap_search *s)
{
	char err[200];
	enum imap_search_status st = parse(criteria, s, err, sizeof err);
	if (st != IMAP_SEARCH_OK)
		fail_msg("\"%.80s\": status %d (%s)", criteria, (int)st, err);
}

static const struct imap_seqset *saved_set;

static void bind(struct imap_search *s)
{
	memset(&cnt, 0, sizeof cnt);
	cnt.s = s;
	imap_search_bind(s, NMSG, 60, saved_set, NOW, &fake_ops, &cnt);
}

/* The messages s matches, bit seq-1 each. */
static unsigned eval(const struct imap_search *s)
{
	unsigned got = 0;
	for (int i = 0; i < NMSG; i++)
		if (imap_search_match(s, &fakes[i].m))
			got |= 1u << i;
	return got;
}

static unsigned run(const char *criteria)
{
	struct imap_search s;
	must_parse(criteria, &s);
	bind(&s);
	unsigned got = eval(&s);
	imap_search_free(&s);
	return got;
}

/* The message with sequence number n, as a bit of eval's answer. */
#define B(n) (1u << ((n) - 1))
#define NONE 0u
#define EVERY 0x3fu

struct match_case {
	const char *criteria;
	unsigned want;
};

static void check_cases(const struct match_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned got = run(c[i].criteria);
		if (got != c[i].want)
			fail_msg("\"%s\": got 0x%02x, want 0x%02x", c[i].criteria, got, c[i].want);
	}
}

/* ---------------------------------------------------------- parsing */

static void test_parse_every_key(void **state)
{
	(void)state;
	static const char *const ok[] = {
	        "ALL", "ANSWERED", "BCC x", "BEFORE 1-Feb-1994", "BODY x", "CC x", "DELETED", "DRAFT", "FLAGGED",
	        "FROM x", "HEADER X-Foo bar", "KEYWORD $Forwarded", "LARGER 5", "NEW", "NOT SEEN", "OLD",
	        "ON 1-Feb-1994", "OR SEEN DRAFT", "RECENT", "SEEN", "SENTBEFORE 1-Feb-1994", "SENTON 1-Feb-1994",
	        "SENTSINCE 1-Feb-1994", "SINCE 1-Feb-1994", "SMALLER 5", "SUBJECT x", "TEXT x", "TO x", "UID 1:*",
	        "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNKEYWORD Work", "UNSEEN", "1,3:5,7:*", "*", "$",
	        "UID $", "MODSEQ 0", "MODSEQ 9223372036854775807", "MODSEQ \"/flags/\\\\Seen\" all 5",
	        "MODSEQ \"/flags/\\\\draft\" priv 620162338", "MODSEQ \"/flags/$Junk\" SHARED 1", "OLDER 1",
	        "YOUNGER 4294967295", "(SEEN)", "((SEEN) (DRAFT FLAGGED))", "seen", "Or Seen nOt Draft",
	        "before \"1-Feb-1994\"", "ON {10}\r\n1-Feb-1994", "FROM \"a b\"", "FROM {3}\r\na b", "FROM NIL",
	        "FROM [x]", "SUBJECT \"\"", "HEADER \"X-Foo\" \"\"", "LARGER 0", "LARGER 9223372036854775807",
	        "CHARSET UTF-8 FROM x", "CHARSET us-ascii ALL", "CHARSET \"utf-8\" ALL", "RETURN () ALL",
	        "RETURN (MIN MAX) CHARSET UTF-8 ALL", "KEYWORD \"Work\"",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct imap_search s;
		must_parse(ok[i], &s);
		assert_true(s.nnodes >= 2);
		imap_search_free(&s);
		imap_search_free(&s); /* a second free is harmless */
	}
}

struct err_case {
	const char *criteria;
	enum imap_search_status st;
};

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct err_case bad[] = {
	        {"", IMAP_SEARCH_BAD},
	        {"FOO", IMAP_SEARCH_BAD},
	        {"\"SEEN\"", IMAP_SEARCH_BAD},
	        {"{4}\r\nSEEN", IMAP_SEARCH_BAD},
	        {"NIL", IMAP_SEARCH_BAD},
	        {"FROM", IMAP_SEARCH_BAD},
	        {"SEEN FROM", IMAP_SEARCH_BAD},
	        {"FROM (x)", IMAP_SEARCH_BAD},
	        {"OR SEEN", IMAP_SEARCH_BAD},
	        {"OR", IMAP_SEARCH_BAD},
	        {"NOT", IMAP_SEARCH_BAD},
	        {"(NOT) SEEN", IMAP_SEARCH_BAD},
	        {"OR (SEEN) (NOT)", IMAP_SEARCH_BAD},
	        {"()", IMAP_SEARCH_BAD},
	        {"SEEN (())", IMAP_SEARCH_BAD},
	        {"BEFORE", IMAP_SEARCH_BAD},
	        {"BEFORE 30-Feb-2024", IMAP_SEARCH_BAD},
	        {"BEFORE 1-Feb-94", IMAP_SEARCH_BAD},
	        {"BEFORE (1-Feb-1994)", IMAP_SEARCH_BAD},
	        {"BEFORE NIL", IMAP_SEARCH_BAD},
	        {"SENTON 2024-02-01", IMAP_SEARCH_BAD},
	        {"LARGER", IMAP_SEARCH_BAD},
	        {"LARGER -1", IMAP_SEARCH_BAD},
	        {"LARGER abc", IMAP_SEARCH_BAD},
	        {"LARGER \"5\"", IMAP_SEARCH_BAD},
	        {"LARGER 9223372036854775808", IMAP_SEARCH_BAD},
	        {"SMALLER 99999999999999999999", IMAP_SEARCH_BAD},
	        {"OLDER 0", IMAP_SEARCH_BAD},
	        {"YOUNGER 4294967296", IMAP_SEARCH_BAD},
	        {"OLDER x", IMAP_SEARCH_BAD},
	        {"UID", IMAP_SEARCH_BAD},
	        {"UID abc", IMAP_SEARCH_BAD},
	        {"UID 0", IMAP_SEARCH_BAD},
	        {"UID \"1:5\"", IMAP_SEARCH_BAD},
	        {"0:5", IMAP_SEARCH_BAD},
	        {"1:2:3", IMAP_SEARCH_BAD},
	        {"1,", IMAP_SEARCH_BAD},
	        {"$,1", IMAP_SEARCH_BAD},
	        {"4294967296", IMAP_SEARCH_BAD},
	        {"HEADER", IMAP_SEARCH_BAD},
	        {"HEADER X-Foo", IMAP_SEARCH_BAD},
	        {"HEADER \"Bad Field\" x", IMAP_SEARCH_BAD},
	        {"HEADER \"a:b\" x", IMAP_SEARCH_BAD},
	        {"HEADER \"\" x", IMAP_SEARCH_BAD},
	        {"KEYWORD", IMAP_SEARCH_BAD},
	        {"KEYWORD \"\"", IMAP_SEARCH_BAD},
	        {"UNKEYWORD (x)", IMAP_SEARCH_BAD},
	        {"MODSEQ", IMAP_SEARCH_BAD},
	        {"MODSEQ x", IMAP_SEARCH_BAD},
	        {"MODSEQ -1", IMAP_SEARCH_BAD},
	        {"MODSEQ 9223372036854775808", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/flags/\\\\seen\" 5", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/flags/\\\\seen\" bogus 5", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/flags/\\\\seen\" all", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/flags/\\\\seen\" all x", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/flags/\" all 5", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/other/x\" all 5", IMAP_SEARCH_BAD},
	        {"MODSEQ \"/flags/a b\" all 5", IMAP_SEARCH_BAD},
	        {"RETURN", IMAP_SEARCH_BAD},
	        {"RETURN SEEN", IMAP_SEARCH_BAD},
	        {"RETURN (FOO) ALL", IMAP_SEARCH_BAD},
	        {"RETURN ((MIN)) ALL", IMAP_SEARCH_BAD},
	        {"RETURN (MIN)", IMAP_SEARCH_BAD},
	        {"CHARSET", IMAP_SEARCH_BAD},
	        {"CHARSET UTF-8", IMAP_SEARCH_BAD},
	        {"CHARSET (UTF-8) ALL", IMAP_SEARCH_BAD},
	        {"ALL CHARSET UTF-8", IMAP_SEARCH_BAD},
	        {"CHARSET UTF-8 RETURN (ALL) ALL", IMAP_SEARCH_BAD},
	        {"RETURN (ALL) RETURN (ALL) ALL", IMAP_SEARCH_BAD},
	        {"CHARSET ISO-8859-1 ALL", IMAP_SEARCH_BADCHARSET},
	        {"CHARSET UTF8 ALL", IMAP_SEARCH_BADCHARSET},
	        {"CHARSET \"\" ALL", IMAP_SEARCH_BADCHARSET},
	        {"CHARSET KOI8-R FROM x", IMAP_SEARCH_BADCHARSET},
	        {"RETURN (COUNT) CHARSET windows-1252 ALL", IMAP_SEARCH_BADCHARSET},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct imap_search s;
		char err[200];
		memset(err, 0, sizeof err);
		enum imap_search_status st = parse(bad[i].criteria, &s, err, sizeof err);
		if (st != bad[i].st)
			fail_msg("\"%s\": status %d, want %d (%s)", bad[i].criteria, (int)st, (int)bad[i].st, err);
		assert_true(err[0] != '\0');
		/* A failed parse leaves nothing to free. */
		assert_null(s.nodes);
		assert_null(s.strings);
		assert_int_equal(s.nnodes, 0);
		imap_search_free(&s);
	}
}

static void test_error_texts(void **state)
{
	(void)state;
	struct imap_search s;
	char err[200];
	assert_int_equal(parse("FROM", &s, err, sizeof err), IMAP_SEARCH_BAD);
	assert_string_equal(err, "Missing argument to FROM");
	assert_int_equal(parse("XYZZY", &s, err, sizeof err), IMAP_SEARCH_BAD);
	assert_string_equal(err, "Unknown search key");
	assert_int_equal(parse("CHARSET X ALL", &s, err, sizeof err), IMAP_SEARCH_BADCHARSET);
	assert_string_equal(err, "Unsupported charset");
	/* A short buffer is cut, NUL-terminated; none at all is fine. */
	char small[8];
	assert_int_equal(parse("FROM", &s, small, sizeof small), IMAP_SEARCH_BAD);
	assert_string_equal(small, "Missing");
	assert_int_equal(parse("FROM", &s, NULL, 0), IMAP_SEARCH_BAD);
	assert_int_equal(parse("FROM", &s, small, 0), IMAP_SEARCH_BAD);
	/* The client's bytes never reach the message. */
	assert_int_equal(parse("%s%s%n", &s, err, sizeof err), IMAP_SEARCH_BAD);
	assert_null(strchr(err, '%'));
}

static void test_return(void **state)
{
	(void)state;
	struct imap_search s;
	must_parse("ALL", &s);
	assert_false(s.esearch);
	assert_int_equal(s.ret, 0);
	imap_search_free(&s);

	must_parse("RETURN () ALL", &s);
	assert_true(s.esearch);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_ALL);
	imap_search_free(&s);

	must_parse("RETURN (min MAX Count) UNSEEN", &s);
	assert_true(s.esearch);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_COUNT);
	imap_search_free(&s);

	must_parse("RETURN (SAVE) $", &s);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_SAVE);
	assert_true(s.uses_saved);
	imap_search_free(&s);

	must_parse("RETURN (ALL SAVE ALL) CHARSET UTF-8 SEEN", &s);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_SAVE);
	imap_search_free(&s);
}

static void test_flags_of_program(void **state)
{
	(void)state;
	struct imap_search s;
	must_parse("SEEN BODY x", &s);
	assert_false(s.needs_date);
	assert_false(s.uses_modseq);
	assert_false(s.uses_saved);
	imap_search_free(&s);
	must_parse("OR SENTON 1-Feb-1994 SEEN", &s);
	assert_true(s.needs_date);
	imap_search_free(&s);
	must_parse("NOT (MODSEQ 5)", &s);
	assert_true(s.uses_modseq);
	imap_search_free(&s);
	must_parse("OR UID $ SEEN", &s);
	assert_true(s.uses_saved);
	imap_search_free(&s);
}

static void test_needles(void **state)
{
	(void)state;
	struct imap_search s;
	must_parse("FROM alice TO bob CC carol BCC dave SUBJECT hi BODY fox TEXT dog HEADER X-Foo bar", &s);
	assert_int_equal(s.nneedles, 8);
	static const struct {
		enum mime_needle_where where;
		const char *field, *text;
	} want[] = {
	        {MIME_NEEDLE_HEADER, "From", "alice"},  {MIME_NEEDLE_HEADER, "To", "bob"},
	        {MIME_NEEDLE_HEADER, "Cc", "carol"},    {MIME_NEEDLE_HEADER, "Bcc", "dave"},
	        {MIME_NEEDLE_HEADER, "Subject", "hi"},  {MIME_NEEDLE_BODY, NULL, "fox"},
	        {MIME_NEEDLE_TEXT, NULL, "dog"},        {MIME_NEEDLE_HEADER, "X-Foo", "bar"},
	};
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(s.needles[i].where, want[i].where);
		if (want[i].field == NULL)
			assert_null(s.needles[i].field);
		else
			assert_string_equal(s.needles[i].field, want[i].field);
		assert_int_equal(s.needles[i].len, strlen(want[i].text));
		assert_memory_equal(s.needles[i].text, want[i].text, s.needles[i].len);
	}
	imap_search_free(&s);

	/* Identical needles share a slot; the field name's case does not
	 * matter, the text's does (it is kept as sent). */
	must_parse("FROM x OR FROM x HEADER from x NOT HEADER FROM X BODY x TEXT x BODY x SUBJECT x", &s);
	assert_int_equal(s.nneedles, 5);
	imap_search_free(&s);

	/* Strings of every form, with their lengths; an empty one too. */
	must_parse("SUBJECT \"a \\\"b\\\" c\" BODY {4}\r\nx\r\ny HEADER X-Empty \"\" TEXT NIL", &s);
	assert_int_equal(s.nneedles, 4);
	assert_int_equal(s.needles[0].len, 7);
	assert_memory_equal(s.needles[0].text, "a \"b\" c", 7);
	assert_int_equal(s.needles[1].len, 4);
	assert_memory_equal(s.needles[1].text, "x\r\ny", 4);
	assert_int_equal(s.needles[2].len, 0);
	assert_string_equal(s.needles[2].field, "X-Empty");
	assert_memory_equal(s.needles[3].text, "NIL", 3);
	imap_search_free(&s);
}

static void test_8bit(void **state)
{
	(void)state;
	struct imap_search s;
	char err[200];
	/* UTF-8 is taken with or without CHARSET, in both protocol versions. */
	for (int utf8 = 0; utf8 < 2; utf8++) {
		static const char *const ok[] = {
		        "SUBJECT \"Gr\xc3\xbc\xc3\x9f" "e\"",
		        "CHARSET UTF-8 SUBJECT \"\xe6\x97\xa5\xe6\x9c\xac\"",
		        "CHARSET US-ASCII BODY \"\xf0\x9f\x98\x80\"",
		        "BODY {4}\r\n\xf0\x9f\x98\x80",
		};
		for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
			assert_int_equal(parse_utf8(ok[i], strlen(ok[i]), utf8, &s, err, sizeof err), IMAP_SEARCH_OK);
			imap_search_free(&s);
		}
		static const char *const bad[] = {
		        "SUBJECT \"caf\xe9\"",                /* Latin-1 */
		        "SUBJECT \"\xc0\xaf\"",               /* overlong */
		        "SUBJECT \"\xed\xa0\x80\"",           /* surrogate */
		        "CHARSET UTF-8 BODY {2}\r\n\xe6\x97", /* cut short */
		        "KEYWORD \"\xff\"",
		        "HEADER \"\xc3\xa9\" x",
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			assert_int_equal(parse_utf8(bad[i], strlen(bad[i]), utf8, &s, err, sizeof err), IMAP_SEARCH_BAD);
	}
	/* A NUL inside a literal. */
	static const char nul[] = "BODY {3}\r\na\0b";
	assert_int_equal(parse_utf8(nul, sizeof nul - 1, false, &s, err, sizeof err), IMAP_SEARCH_BAD);
}

/* A text of n octets 'x', quoted, after key. */
static char *long_key(const char *key, size_t n)
{
	size_t k = strlen(key);
	char *p = malloc(k + n + 4);
	assert_non_null(p);
	memcpy(p, key, k);
	p[k] = ' ';
	p[k + 1] = '"';
	memset(p + k + 2, 'x', n);
	p[k + 2 + n] = '"';
	p[k + 3 + n] = '\0';
	return p;
}

/* "word word word ... tail" */
static char *repeat(const char *word, size_t times, const char *tail)
{
	size_t w = strlen(word), t = strlen(tail);
	char *p = malloc(times * (w + 1) + t + 1);
	assert_non_null(p);
	char *q = p;
	for (size_t i = 0; i < times; i++) {
		memcpy(q, word, w);
		q += w;
		*q++ = ' ';
	}
	memcpy(q, tail, t + 1);
	return p;
}

static void test_limits(void **state)
{
	(void)state;
	struct imap_search s;
	char err[200];
	char *c;

	c = long_key("BODY", IMAP_SEARCH_TEXT_MAX);
	must_parse(c, &s);
	imap_search_free(&s);
	free(c);
	c = long_key("BODY", IMAP_SEARCH_TEXT_MAX + 1);
	assert_int_equal(parse(c, &s, err, sizeof err), IMAP_SEARCH_TOO_BIG);
	free(c);
	c = long_key("HEADER", IMAP_SEARCH_TEXT_MAX + 1);
	assert_int_equal(parse(c, &s, err, sizeof err), IMAP_SEARCH_TOO_BIG);
	free(c);

	/* 1023 keys and the root fill the program; one more is too many. */
	c = repeat("SEEN", IMAP_SEARCH_NODES - 2, "SEEN");
	must_parse(c, &s);
	assert_int_equal(s.nnodes, IMAP_SEARCH_NODES);
	imap_search_free(&s);
	free(c);
	c = repeat("SEEN", IMAP_SEARCH_NODES - 1, "SEEN");
	assert_int_equal(parse(c, &s, err, sizeof err), IMAP_SEARCH_TOO_BIG);
	assert_string_equal(err, "Too many search keys");
	free(c);

	/* Long unparenthesized NOT and OR chains: refused at the node limit,
	 * never by running out of stack. */
	c = repeat("NOT", 4000, "SEEN");
	assert_int_equal(parse(c, &s, err, sizeof err), IMAP_SEARCH_TOO_BIG);
	free(c);
	c = repeat("OR", 2000, "SEEN");
	assert_int_equal(parse(c, &s, err, sizeof err), IMAP_SEARCH_TOO_BIG);
	free(c);

	/* 64 distinct needles fit, a 65th does not; repeats are free. */
	char crit[4096];
	size_t k = 0;
	for (int i = 0; i < IMAP_SEARCH_NEEDLES; i++)
		k += (size_t)snprintf(crit + k, sizeof crit - k, "%sBODY n%d BODY n%d", i ? " " : "", i, i);
	must_parse(crit, &s);
	assert_int_equal(s.nneedles, IMAP_SEARCH_NEEDLES);
	imap_search_free(&s);
	snprintf(crit + k, sizeof crit - k, " SUBJECT n0");
	assert_int_equal(parse(crit, &s, err, sizeof err), IMAP_SEARCH_TOO_BIG);
	assert_string_equal(err, "Too many search strings");
}

/* Chains as long as the node limit allows evaluate without recursion. */
static void test_long_chains(void **state)
{
	(void)state;
	struct imap_search s;
	/* NOT x 1001 (odd) around UNSEEN: SEEN. */
	char *c = repeat("NOT", 1001, "UNSEEN");
	must_parse(c, &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(5)));
	imap_search_free(&s);
	free(c);

	/* OR OR OR ... DRAFT DRAFT ... SEEN: left-deep. */
	char *head = repeat("OR", 500, "");
	char *tail = repeat("DRAFT", 500, "SEEN");
	size_t hl = strlen(head), tl = strlen(tail);
	c = malloc(hl + tl + 1);
	memcpy(c, head, hl);
	memcpy(c + hl, tail, tl + 1);
	must_parse(c, &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(3) | B(5)));
	imap_search_free(&s);
	free(c);
	free(head);
	free(tail);

	/* OR DRAFT OR DRAFT OR ... SEEN: right-deep. */
	c = repeat("OR DRAFT", 500, "SEEN");
	must_parse(c, &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(3) | B(5)));
	imap_search_free(&s);
	free(c);

	/* Parentheses 16 deep (all the argument parser allows). */
	must_parse("((((((((((((((((SEEN))))))))))))))))", &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(5)));
	imap_search_free(&s);
}

/* An argument tree deeper than the parser makes (built by hand) is
 * refused, not recursed into. */
static void test_hand_built_depth(void **state)
{
	(void)state;
	struct imap_arg args[IMAP_ARG_DEPTH_MAX + 2];
	char err[100];
	struct imap_search s;
	for (size_t depth = IMAP_ARG_DEPTH_MAX; depth <= IMAP_ARG_DEPTH_MAX + 1; depth++) {
		memset(args, 0, sizeof args);
		for (size_t i = 0; i < depth; i++) {
			args[i].type = IMAP_ARG_LIST;
			args[i].list = &args[i + 1];
			args[i].nlist = 1;
		}
		args[depth].type = IMAP_ARG_ATOM;
		args[depth].s = "SEEN";
		args[depth].len = 4;
		enum imap_search_status st = imap_search_parse(args, 1, false, &s, err, sizeof err);
		assert_int_equal(st, depth <= IMAP_ARG_DEPTH_MAX ? IMAP_SEARCH_OK : IMAP_SEARCH_TOO_BIG);
		imap_search_free(&s);
	}
}

/* -------------------------------------------------------- evaluation */

static void test_match_flags(void **state)
{
	(void)state;
	static const struct match_case c[] = {
	        {"ALL", EVERY},
	        {"SEEN", (B(1) | B(2) | B(5))},
	        {"UNSEEN", (B(3) | B(4) | B(6))},
	        {"ANSWERED", B(2)},
	        {"UNANSWERED", EVERY & ~B(2)},
	        {"FLAGGED", B(2)},
	        {"UNFLAGGED", EVERY & ~B(2)},
	        {"DELETED", B(3)},
	        {"UNDELETED", EVERY & ~B(3)},
	        {"DRAFT", B(3)},
	        {"UNDRAFT", EVERY & ~B(3)},
	        {"RECENT", (B(4) | B(5))},
	        {"NEW", B(4)},
	        {"OLD", (B(1) | B(2) | B(3) | B(6))},
	        {"KEYWORD Work", (B(1) | B(5))},
	        {"KEYWORD work", (B(1) | B(5))},
	        {"UNKEYWORD Work", (B(2) | B(3) | B(4) | B(6))},
	        {"KEYWORD $Forwarded", (B(3) | B(5))},
	        {"KEYWORD $Junk", B(6)},
	        {"KEYWORD Other", NONE},
	        {"KEYWORD Nope", NONE},
	        {"UNKEYWORD Nope", EVERY},
	};
	check_cases(c, sizeof c / sizeof c[0]);
}

static void test_match_sizes_dates(void **state)
{
	(void)state;
	static const struct match_case c[] = {
	        {"LARGER 999", (B(2) | B(3) | B(6))},
	        {"LARGER 0", EVERY},
	        {"SMALLER 100", B(4)},
	        {"SMALLER 101", (B(1) | B(4))},
	        {"SMALLER 0", NONE},
	        /* the internal date's day in its own zone */
	        {"BEFORE 1-Mar-2024", (B(1) | B(2) | B(3) | B(5))},
	        {"ON 1-Mar-2024", (B(4) | B(6))},
	        {"ON 29-Feb-2024", B(3)},
	        {"ON 17-Jul-1996", B(2)},
	        {"ON 18-Jul-1996", NONE},
	        {"SINCE 29-Feb-2024", (B(3) | B(4) | B(6))},
	        {"SINCE 2-Mar-2024", NONE},
	        /* the Date: header's day in its zone; none: no match */
	        {"SENTON 29-Feb-2024", (B(3) | B(4))},
	        {"SENTON 1-Feb-1994", B(1)},
	        {"SENTBEFORE 1-Jan-2000", B(1)},
	        {"SENTSINCE 1-Mar-2024", B(6)},
	        {"NOT SENTSINCE 1-Mar-2024", (B(1) | B(2) | B(3) | B(4) | B(5))},
	        {"SENTSINCE 1-Jan-1900", (B(1) | B(3) | B(4) | B(6))},
	        /* RFC 5032: seconds before now */
	        {"OLDER 3600", (B(1) | B(2) | B(3) | B(5) | B(6))},
	        {"YOUNGER 3600", B(4)},
	        {"YOUNGER 100", B(4)},
	        {"OLDER 100", (B(1) | B(2) | B(3) | B(5) | B(6))},
	        {"YOUNGER 99", NONE},
	        {"OLDER 4294967295", NONE},
	        {"MODSEQ 50", (B(3) | B(5) | B(6))},
	        {"MODSEQ \"/flags/\\\\Seen\" all 50", (B(3) | B(5) | B(6))},
	        {"MODSEQ 0", EVERY},
	        {"MODSEQ 101", NONE},
	};
	check_cases(c, sizeof c / sizeof c[0]);
}

static void test_match_sets(void **state)
{
	(void)state;
	struct imap_seqset saved;
	imap_seqset_init(&saved);
	assert_int_equal(imap_seqset_add(&saved, 20, 20), 0);
	assert_int_equal(imap_seqset_add(&saved, 40, 40), 0);
	saved_set = &saved;
	static const struct match_case c[] = {
	        {"1:3", (B(1) | B(2) | B(3))},
	        {"2,4:5", (B(2) | B(4) | B(5))},
	        {"5,4,2", (B(2) | B(4) | B(5))},
	        {"*", B(6)},
	        {"5:*", (B(5) | B(6))},
	        {"*:5", (B(5) | B(6))},
	        {"7:*", B(6)},
	        {"7:9", NONE},
	        {"3:1", (B(1) | B(2) | B(3))},
	        {"UID 20:40", (B(2) | B(3) | B(4))},
	        {"UID 45:*", (B(5) | B(6))},
	        {"UID 100:*", B(6)},
	        {"UID 1:9", NONE},
	        {"UID *", B(6)},
	        {"UID 10,30,31,60", (B(1) | B(3) | B(6))},
	        {"$", (B(2) | B(4))},
	        {"UID $", (B(2) | B(4))},
	        {"NOT $", (B(1) | B(3) | B(5) | B(6))},
	        {"1:* UID 30:*", (B(3) | B(4) | B(5) | B(6))},
	};
	check_cases(c, sizeof c / sizeof c[0]);
	saved_set = NULL;
	assert_int_equal(run("$"), NONE);
	imap_seqset_free(&saved); /* now empty */
	saved_set = &saved;
	assert_int_equal(run("UID $"), NONE);
	saved_set = NULL;
}

static void test_match_text(void **state)
{
	(void)state;
	static const struct match_case c[] = {
	        {"FROM alice", (B(1) | B(6))},
	        {"FROM ALICE", (B(1) | B(6))},
	        {"FROM \"Bob <\"", B(2)},
	        {"TO bob", (B(1) | B(3))},
	        {"CC alice", B(3)},
	        {"BCC boss", B(4)},
	        {"SUBJECT hello", (B(1) | B(2))},
	        {"BODY fox", (B(1) | B(4))},
	        {"BODY \"\"", EVERY},
	        {"TEXT alice", (B(1) | B(2) | B(3) | B(6))},
	        {"TEXT pizza", B(6)},
	        {"HEADER X-Priority 1", B(4)},
	        {"HEADER x-priority \"\"", B(4)},
	        {"HEADER List-Id \"\"", B(6)},
	        {"HEADER List-Id {3}\r\ndev", B(6)},
	        {"FROM nobody", NONE},
	};
	check_cases(c, sizeof c / sizeof c[0]);
}

static void test_match_logic(void **state)
{
	(void)state;
	static const struct match_case c[] = {
	        {"NOT SEEN", (B(3) | B(4) | B(6))},
	        {"NOT NOT SEEN", (B(1) | B(2) | B(5))},
	        {"OR SEEN DELETED", (B(1) | B(2) | B(3) | B(5))},
	        {"OR (SEEN FLAGGED) DRAFT", (B(2) | B(3))},
	        {"(OR SEEN DELETED) NOT RECENT", (B(1) | B(2) | B(3))},
	        {"OR OR ANSWERED DRAFT NEW", (B(2) | B(3) | B(4))},
	        {"OR ANSWERED OR DRAFT NEW", (B(2) | B(3) | B(4))},
	        {"NOT (SEEN FROM alice)", (B(2) | B(3) | B(4) | B(5) | B(6))},
	        {"UNSEEN FROM alice", B(6)},
	        {"SEEN SEEN SEEN", (B(1) | B(2) | B(5))},
	        {"NOT OR SEEN RECENT", (B(3) | B(6))},
	        {"OR NOT SEEN NOT RECENT", (B(1) | B(2) | B(3) | B(4) | B(6))},
	        {"OR BODY fox SENTON 29-Feb-2024", (B(1) | B(3) | B(4))},
	        {"NOT OR BODY fox SENTON 29-Feb-2024", (B(2) | B(5) | B(6))},
	        {"(OR BODY budget SEEN) NOT (OR BODY fox DRAFT)", (B(2) | B(5))},
	        {"1:4 OR UID 10 KEYWORD $Forwarded", (B(1) | B(3))},
	        {"RETURN (COUNT) CHARSET UTF-8 (OR (UNSEEN) (SEEN)) LARGER 500", (B(2) | B(3) | B(5) | B(6))},
	};
	check_cases(c, sizeof c / sizeof c[0]);
}

/* ------------------------------------------------ the expensive keys */

static void test_cheap_keys_first(void **state)
{
	(void)state;
	struct imap_search s;

	/* "UNSEEN BODY fox" reads no seen message. */
	must_parse("UNSEEN BODY fox", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(4));
	assert_int_equal(cnt.needle_calls, 3);
	assert_int_equal(cnt.per_msg[0] + cnt.per_msg[1] + cnt.per_msg[4], 0);
	assert_int_equal(cnt.date_calls, 0);
	imap_search_free(&s);

	/* Written the other way round: the same. */
	must_parse("BODY fox UNSEEN", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(4));
	assert_int_equal(cnt.needle_calls, 3);
	imap_search_free(&s);

	/* OR: a cheap TRUE settles it. */
	must_parse("OR BODY fox SEEN", &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(4) | B(5)));
	assert_int_equal(cnt.needle_calls, 3);
	imap_search_free(&s);

	/*
	 * Cheap keys decide even when every group holds a needle: for
	 * message 3 (a draft, unseen) "NOT (OR BODY fox DRAFT)" is FALSE, so
	 * "BODY budget" in the first group need not be read, though a
	 * left-to-right evaluation would read it first.
	 */
	must_parse("(OR BODY budget SEEN) NOT (OR BODY fox DRAFT)", &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(2) | B(5)));
	assert_int_equal(cnt.per_msg[2], 0);
	assert_int_equal(cnt.per_msg[1] + cnt.per_msg[4], 1 + 1); /* seen: only "BODY fox" */
	imap_search_free(&s);

	/* Without needles nothing is asked. */
	must_parse("OR (SEEN LARGER 5) NOT (DRAFT UID 1:*)", &s);
	bind(&s);
	eval(&s);
	assert_int_equal(cnt.needle_calls + cnt.date_calls, 0);
	imap_search_free(&s);
}

static void test_date_before_text(void **state)
{
	(void)state;
	struct imap_search s;

	/* The Date: header is asked before any needle, and once. */
	must_parse("BODY pizza SENTSINCE 1-Jan-2024", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(6));
	assert_int_equal(cnt.date_calls, NMSG);
	assert_int_equal(cnt.needle_calls, 3); /* 3, 4 and 6 are sent in 2024 */
	imap_search_free(&s);

	/* A cheap key first spares the header too. */
	must_parse("DELETED SENTON 29-Feb-2024", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(3));
	assert_int_equal(cnt.date_calls, 1);
	imap_search_free(&s);

	/* Several SENT keys: one read per message. */
	must_parse("SENTSINCE 1-Jan-2024 SENTBEFORE 1-Mar-2024 NOT SENTON 28-Feb-2024", &s);
	bind(&s);
	assert_int_equal(eval(&s), (B(3) | B(4)));
	assert_int_equal(cnt.date_calls, NMSG);
	imap_search_free(&s);
}

static void test_needle_once(void **state)
{
	(void)state;
	struct imap_search s;
	must_parse("OR BODY fox SUBJECT fox NOT BODY fox OR BODY zzz BODY fox", &s);
	assert_int_equal(s.nneedles, 3);
	bind(&s);
	eval(&s);
	for (int m = 0; m < NMSG; m++)
		for (size_t i = 0; i < s.nneedles; i++)
			assert_true(cnt.per_pair[m][i] <= 1);
	imap_search_free(&s);
}

/* One program, bound again after the folder changed. */
static void test_rebind(void **state)
{
	(void)state;
	struct imap_search s;
	must_parse("5:* KEYWORD Work", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(5));
	assert_int_equal(cnt.kw_calls, 1);
	assert_int_equal(eval(&s), B(5)); /* matched again: the same */
	imap_search_free(&s);

	/* "*" follows the folder's size. */
	must_parse("*", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(6));
	imap_search_bind(&s, 4, 40, NULL, NOW, &fake_ops, &cnt);
	assert_int_equal(eval(&s), B(4));
	imap_search_bind(&s, 2, 20, NULL, NOW, &fake_ops, &cnt);
	assert_int_equal(eval(&s), B(2));
	imap_search_bind(&s, NMSG, 60, NULL, NOW, &fake_ops, &cnt);
	assert_int_equal(eval(&s), B(6));
	imap_search_free(&s);

	/* Keywords are looked up again: the folder may have learnt one. */
	must_parse("KEYWORD Work", &s);
	static const struct imap_search_ops no_keywords = {.keyword_index = NULL};
	imap_search_bind(&s, NMSG, 60, NULL, NOW, &no_keywords, &cnt);
	assert_int_equal(eval(&s), NONE);
	bind(&s);
	assert_int_equal(eval(&s), (B(1) | B(5)));
	imap_search_free(&s);

	/* "now" moves with the binding. */
	must_parse("YOUNGER 3600", &s);
	bind(&s);
	assert_int_equal(eval(&s), B(4));
	imap_search_bind(&s, NMSG, 60, NULL, NOW + 7200, &fake_ops, &cnt);
	assert_int_equal(eval(&s), NONE);
	imap_search_bind(&s, NMSG, 60, NULL, INT64_MIN, &fake_ops, &cnt);
	assert_int_equal(eval(&s), EVERY);
	imap_search_bind(&s, NMSG, 60, NULL, INT64_MAX, &fake_ops, &cnt);
	assert_int_equal(eval(&s), NONE);
	imap_search_free(&s);

	/* An empty folder: "*" is 0. */
	must_parse("UID 1:*", &s);
	imap_search_bind(&s, 0, 0, NULL, NOW, &fake_ops, &cnt);
	imap_search_free(&s);
}

/* Without ops (or with some missing) the cheap keys still work and the
 * rest match nothing. */
static void test_no_ops(void **state)
{
	(void)state;
	struct imap_search s;
	must_parse("OR SEEN OR BODY fox OR SENTON 29-Feb-2024 KEYWORD Work", &s);
	imap_search_bind(&s, NMSG, 60, NULL, NOW, NULL, NULL);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(5)));
	struct imap_search_ops none = {0};
	imap_search_bind(&s, NMSG, 60, NULL, NOW, &none, NULL);
	assert_int_equal(eval(&s), (B(1) | B(2) | B(5)));
	imap_search_free(&s);

	/* A program never parsed (or whose parse failed) matches nothing. */
	char err[64];
	assert_int_equal(parse("FOO", &s, err, sizeof err), IMAP_SEARCH_BAD);
	imap_search_bind(&s, NMSG, 60, NULL, NOW, &fake_ops, &cnt);
	assert_false(imap_search_match(&s, &fakes[0].m));
}

/* A keyword index the folder cannot have is taken as none. */
static int silly_keyword_index(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "big") == 0 ? 40 : 31;
}

static void test_bad_keyword_index(void **state)
{
	(void)state;
	struct imap_search s;
	struct imap_search_ops ops = {.keyword_index = silly_keyword_index};
	struct imap_search_msg m = {.seq = 1, .uid = 1, .keywords = 0xffffffffu};
	must_parse("KEYWORD big", &s);
	imap_search_bind(&s, 1, 1, NULL, NOW, &ops, NULL);
	assert_false(imap_search_match(&s, &m));
	imap_search_free(&s);
	must_parse("UNKEYWORD x", &s);
	imap_search_bind(&s, 1, 1, NULL, NOW, &ops, NULL);
	assert_true(imap_search_match(&s, &m));
	imap_search_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_every_key),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_error_texts),
	        cmocka_unit_test(test_return),
	        cmocka_unit_test(test_flags_of_program),
	        cmocka_unit_test(test_needles),
	        cmocka_unit_test(test_8bit),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_long_chains),
	        cmocka_unit_test(test_hand_built_depth),
	        cmocka_unit_test(test_match_flags),
	        cmocka_unit_test(test_match_sizes_dates),
	        cmocka_unit_test(test_match_sets),
	        cmocka_unit_test(test_match_text),
	        cmocka_unit_test(test_match_logic),
	        cmocka_unit_test(test_cheap_keys_first),
	        cmocka_unit_test(test_date_before_text),
	        cmocka_unit_test(test_needle_once),
	        cmocka_unit_test(test_rebind),
	        cmocka_unit_test(test_no_ops),
	        cmocka_unit_test(test_bad_keyword_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
