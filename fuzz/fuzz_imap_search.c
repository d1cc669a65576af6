/*
 * fuzz_imap_search — libFuzzer target for proto/imap_search (SEARCH of
 * RFC 9051 6.4.4 with RFC 4731, 5182, 7162 3.1.5 and 5032) and the date
 * parsers of proto/imap_date (RFC 9051 9, RFC 5322 3.3 and 4.3).
 *
 * Byte 0: bit 0 is `utf8`; bits 1-2 pick the target (0-2: SEARCH, 3:
 * the dates). For SEARCH the rest follows "a SEARCH " as one command,
 * parsed with imap_args_parse, then imap_search_parse, bound and matched
 * against four fake messages. Besides memory safety:
 * - an accepted program is well formed (needles, strings, flags);
 * - the Date: header is asked at most once and each needle at most once
 *   per message; when a match asked for neither, answering them the
 *   other way changes nothing (so skipping them was right);
 * - "NOT (criteria)" matches exactly the messages the criteria do not;
 * - matching again, or after binding again, gives the same answers.
 * For the dates: what parses formats and parses back to the same instant.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_search.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

#define FUZZ_NMSG 4

static const struct imap_search_msg fuzz_msgs[FUZZ_NMSG] = {
        {.seq = 1, .uid = 3, .flags = IMAP_FLAG_SEEN, .keywords = 1, .internaldate = 760096800, .size = 100,
         .modseq = 5},
        {.seq = 2, .uid = 7, .flags = IMAP_FLAG_RECENT | IMAP_FLAG_FLAGGED, .keywords = 6, .internaldate = 837671400,
         .internal_tz = -420, .size = 5000, .modseq = 9},
        {.seq = 3, .uid = 8, .flags = IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT | IMAP_FLAG_ANSWERED,
         .internaldate = 1709204400, .internal_tz = 60, .size = 1, .modseq = 1000},
        {.seq = 4, .uid = 20, .flags = 0, .keywords = 0x3ffffff, .internaldate = -5000000000LL,
         .internal_tz = -5999, .size = UINT64_MAX, .modseq = UINT64_MAX},
};

static const char *const fuzz_dates[FUZZ_NMSG] = {
        "Tue, 1 Feb 1994 09:00:00 +0000",
        "17 Jul 96 23:30 PDT",
        NULL,
        "31 Dec 9999 23:59:60 -9959",
};

struct fuzz_ctx {
	const struct imap_search *s;
	bool flip_needles, drop_dates;
	int date_calls, needle_calls;
	unsigned char asked[IMAP_SEARCH_NEEDLES];
};

static int fuzz_keyword_index(void *c, const char *name)
{
	(void)c;
	size_t n = strlen(name);
	/* Some names are known, at various indexes; most are not. */
	return n % 5 == 0 ? -1 : (int)((n * 7 + (unsigned char)name[0]) % 30);
}

static bool fuzz_sent_date(void *c, const struct imap_search_msg *m, int64_t *t, int *tz)
{
	struct fuzz_ctx *x = c;
	x->date_calls++;
	const char *d = fuzz_dates[m->seq - 1];
	if (x->drop_dates)
		d = m->seq == 3 ? "1 Jan 2000 00:00 +0000" : NULL;
	return d != NULL && mail_date_parse(d, strlen(d), t, tz);
}

static bool fuzz_needle(void *c, const struct imap_search_msg *m, size_t i)
{
	struct fuzz_ctx *x = c;
	FUZZ_CHECK(i < x->s->nneedles);
	FUZZ_CHECK(x->asked[i] == 0);
	x->asked[i] = 1;
	x->needle_calls++;
	bool hit = (m->seq * 5 + i * 3 + x->s->needles[i].len) % 3 == 0;
	return x->flip_needles ? !hit : hit;
}

static const struct imap_search_ops fuzz_ops = {
        .keyword_index = fuzz_keyword_index,
        .sent_date = fuzz_sent_date,
        .needle = fuzz_needle,
};

static const struct imap_seqset *fuzz_saved(void)
{
	static struct imap_range r[2] = {{3, 3}, {8, 20}};
	static struct imap_seqset set = {.r = r, .n = 2, .cap = 2, .sorted = true};
	return &set;
}

/* Match every message; check what each match asked. */
static unsigned fuzz_match_all(struct imap_search *s, struct fuzz_ctx *x, bool check)
{
	unsigned got = 0;
	for (size_t i = 0; i < FUZZ_NMSG; i++) {
		memset(x->asked, 0, sizeof x->asked);
		x->date_calls = x->needle_calls = 0;
		bool hit = imap_search_match(s, &fuzz_msgs[i]);
		FUZZ_CHECK(x->date_calls <= 1);
		FUZZ_CHECK(s->needs_date || x->date_calls == 0);
		if (hit)
			got |= 1u << i;
		if (!check)
			continue;
		/* What was not asked did not matter. */
		struct fuzz_ctx y = {.s = s};
		if (x->needle_calls == 0) {
			y.flip_needles = !x->flip_needles;
			y.drop_dates = x->drop_dates;
			imap_search_bind(s, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, &y);
			FUZZ_CHECK(imap_search_match(s, &fuzz_msgs[i]) == hit);
		}
		if (x->date_calls == 0) {
			memset(y.asked, 0, sizeof y.asked);
			y.flip_needles = x->flip_needles;
			y.drop_dates = !x->drop_dates;
			imap_search_bind(s, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, &y);
			FUZZ_CHECK(imap_search_match(s, &fuzz_msgs[i]) == hit);
		}
		imap_search_bind(s, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, x);
	}
	return got;
}

static enum imap_search_status fuzz_parse(const char *prefix, const uint8_t *p, size_t n, const char *suffix, bool utf8,
                                          struct imap_search *s)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *cmd = malloc(pl + n + sl);
	FUZZ_CHECK(cmd != NULL);
	memcpy(cmd, prefix, pl);
	memcpy(cmd + pl, p, n);
	memcpy(cmd + pl + n, suffix, sl);
	struct imap_args a;
	enum imap_search_status st = IMAP_SEARCH_BAD;
	if (imap_args_parse(cmd, pl + n + sl, &a) == IMAP_PARSE_OK) {
		char err[128];
		st = imap_search_parse(a.top, a.ntop, utf8, s, err, sizeof err);
		FUZZ_CHECK(strlen(err) < sizeof err);
		FUZZ_CHECK(st == IMAP_SEARCH_OK || err[0] != '\0');
	} else {
		memset(s, 0, sizeof *s);
	}
	imap_args_free(&a);
	free(cmd); /* the program must not point into the command */
	return st;
}

static void fuzz_imap_search(const uint8_t *p, size_t n, bool utf8)
{
	struct imap_search s;
	if (fuzz_parse("a SEARCH ", p, n, "", utf8, &s) != IMAP_SEARCH_OK) {
		FUZZ_CHECK(s.nodes == NULL && s.strings == NULL && s.nnodes == 0);
		imap_search_free(&s);
		return;
	}
	FUZZ_CHECK(s.nnodes >= 2 && s.nnodes <= IMAP_SEARCH_NODES);
	FUZZ_CHECK(s.nneedles <= IMAP_SEARCH_NEEDLES);
	FUZZ_CHECK(!s.esearch || s.ret != 0);
	for (size_t i = 0; i < s.nneedles; i++) {
		const struct mime_needle *nd = &s.needles[i];
		FUZZ_CHECK(nd->len <= IMAP_SEARCH_TEXT_MAX && nd->text[nd->len] == '\0');
		FUZZ_CHECK((nd->where == MIME_NEEDLE_HEADER) == (nd->field != NULL));
		FUZZ_CHECK(nd->field == NULL || strlen(nd->field) > 0);
	}

	struct fuzz_ctx x = {.s = &s};
	imap_search_bind(&s, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, &x);
	unsigned got = fuzz_match_all(&s, &x, true);
	imap_search_bind(&s, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, &x);
	FUZZ_CHECK(fuzz_match_all(&s, &x, false) == got);
	/* Another folder, then this one again. */
	imap_search_bind(&s, 1, 1, NULL, 0, NULL, NULL);
	for (size_t i = 0; i < FUZZ_NMSG; i++)
		(void)imap_search_match(&s, &fuzz_msgs[i]);
	imap_search_bind(&s, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, &x);
	FUZZ_CHECK(fuzz_match_all(&s, &x, false) == got);

	/* The complement, when the criteria can be put in parentheses (not
	 * with RETURN or CHARSET, which are no keys: that parse fails). */
	struct imap_search t;
	if (fuzz_parse("a SEARCH NOT (", p, n, ")", utf8, &t) == IMAP_SEARCH_OK) {
		struct fuzz_ctx y = {.s = &t};
		imap_search_bind(&t, FUZZ_NMSG, 20, fuzz_saved(), 1709300000, &fuzz_ops, &y);
		FUZZ_CHECK(fuzz_match_all(&t, &y, false) == (~got & ((1u << FUZZ_NMSG) - 1)));
	}
	imap_search_free(&t);
	imap_search_free(&s);
}

/* Is t in zone tz a local time four digits of year can show? Outside,
 * the formatter clamps and the round trip cannot hold. */
static bool fuzz_in_range(int64_t t, int tz)
{
	if (t < -62167219200LL - 360000 || t > 253402300799LL + 360000)
		return false;
	int64_t local = t + (int64_t)tz * 60;
	return local >= -62167219200LL && local <= 253402300799LL;
}

static void fuzz_imap_dates(const char *s, size_t n, const uint8_t *raw, size_t rn)
{
	imap_day d;
	int64_t t, back;
	int tz, btz;
	char out[IMAP_DATETIME_LEN + 1];

	if (imap_date_parse(s, n, &d)) {
		FUZZ_CHECK(d >= 101 && d <= 99991231 && d % 100 >= 1 && d % 100 <= 31);
		FUZZ_CHECK(d / 100 % 100 >= 1 && d / 100 % 100 <= 12);
	}
	if (imap_datetime_parse(s, n, &t, &tz)) {
		FUZZ_CHECK(tz >= -5999 && tz <= 5999);
		imap_datetime_format(t, tz, out);
		FUZZ_CHECK(strlen(out) == IMAP_DATETIME_LEN);
		FUZZ_CHECK(imap_datetime_parse(out, IMAP_DATETIME_LEN, &back, &btz) && btz == tz);
		FUZZ_CHECK(back == t || !fuzz_in_range(t, tz));
	}
	if (mail_date_parse(s, n, &t, &tz)) {
		FUZZ_CHECK(tz >= -5999 && tz <= 5999);
		imap_datetime_format(t, tz, out);
		FUZZ_CHECK(imap_datetime_parse(out, IMAP_DATETIME_LEN, &back, &btz) && btz == tz);
		FUZZ_CHECK(back == t || !fuzz_in_range(t, tz));
		d = imap_day_of(t, tz);
		FUZZ_CHECK(d >= 101 && d <= 99991231);
	}
	/* Any instant and zone formats to 26 octets that parse back. */
	if (rn >= 12) {
		int64_t anyt;
		int32_t anyz;
		memcpy(&anyt, raw, 8);
		memcpy(&anyz, raw + 8, 4);
		imap_datetime_format(anyt, anyz, out);
		FUZZ_CHECK(strlen(out) == IMAP_DATETIME_LEN);
		FUZZ_CHECK(imap_datetime_parse(out, IMAP_DATETIME_LEN, &back, &btz));
		if (anyz >= -5999 && anyz <= 5999 && fuzz_in_range(anyt, anyz))
			FUZZ_CHECK(back == anyt && btz == anyz);
		d = imap_day_of(anyt, anyz);
		FUZZ_CHECK(d >= 101 && d <= 99991231);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool utf8 = (data[0] & 1) != 0;
	unsigned which = (data[0] >> 1) & 3;
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(p != NULL);
	memcpy(p, data + 1, n);
	if (which == 3)
		fuzz_imap_dates((const char *)p, n, p, n);
	else
		fuzz_imap_search(p, n, utf8);
	free(p);
	return 0;
}
