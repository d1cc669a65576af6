/*
 * test_imap_date — IMAP date and date-time (RFC 9051 9), the formatter,
 * the civil calendar, and the Date: header of RFC 5322 3.3 with the
 * obsolete forms of 4.3. Expected epoch values were computed with an
 * independent calendar (Python's datetime), not with this code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proto/imap_date.h"

static bool date(const char *s, imap_day *d)
{
	return imap_date_parse(s, strlen(s), d);
}

static void test_date(void **state)
{
	(void)state;
	imap_day d = 0;
	assert_true(date("1-Feb-1994", &d));
	assert_int_equal(d, 19940201);
	assert_true(date("01-feb-1994", &d));
	assert_int_equal(d, 19940201);
	assert_true(date("31-DEC-9999", &d));
	assert_int_equal(d, 99991231);
	assert_true(date("29-Feb-2024", &d));
	assert_int_equal(d, 20240229);
	assert_true(date("29-Feb-2000", &d)); /* divisible by 400 */
	assert_true(date("31-Jan-2024", &d) && date("30-Apr-2024", &d) && date("31-Dec-2024", &d));

	static const char *const bad[] = {
	        "", "1", "29-Feb-2023", "29-Feb-1900", "30-Feb-2024", "31-Apr-2024", "31-Jun-2024", "0-Jan-2024",
	        "32-Jan-2024", "1-Foo-2024", "1-Feb-94", "1-Feb-994", "1-Feb-19940", "001-Feb-1994", "1 Feb 1994",
	        "1-Feb-1994 ", " 1-Feb-1994", "\"1-Feb-1994\"", "1-Febr-1994", "1-Fe-1994", "a-Feb-1994",
	        "1--Feb-1994", "1-Feb-199x", "-1-Feb-1994",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (date(bad[i], &d))
			fail_msg("accepted: \"%s\"", bad[i]);
	/* The length is honoured. */
	assert_true(imap_date_parse("1-Feb-1994xyz", 10, &d));
	assert_false(imap_date_parse("1-Feb-1994", 9, &d));
}

static bool datetime(const char *s, int64_t *t, int *tz)
{
	return imap_datetime_parse(s, strlen(s), t, tz);
}

static void test_datetime(void **state)
{
	(void)state;
	int64_t t = 0;
	int tz = 0;
	assert_true(datetime("17-Jul-1996 02:44:25 -0700", &t, &tz));
	assert_int_equal(t, 837596665);
	assert_int_equal(tz, -420);
	assert_true(datetime(" 1-Feb-1994 00:00:00 +0000", &t, &tz));
	assert_int_equal(t, 760060800);
	assert_int_equal(tz, 0);
	assert_true(datetime("1-Feb-1994 00:00:00 +0000", &t, &tz)); /* a lone digit: nothing else is meant */
	assert_int_equal(t, 760060800);
	assert_true(datetime("29-Feb-2024 23:59:59 +0100", &t, &tz));
	assert_int_equal(t, 1709247599);
	assert_int_equal(tz, 60);
	assert_true(datetime("31-Dec-1998 23:59:60 +0000", &t, &tz)); /* a leap second */
	assert_true(datetime("01-Jan-1970 00:00:00 +9959", &t, &tz));
	assert_int_equal(tz, 99 * 60 + 59);
	assert_int_equal(t, -(int64_t)(99 * 60 + 59) * 60);

	static const char *const bad[] = {
	        "",
	        "17-Jul-1996",
	        "17-Jul-1996 24:00:00 -0700",
	        "17-Jul-1996 02:60:25 -0700",
	        "17-Jul-1996 02:44:61 -0700",
	        "17-Jul-1996 02:44:25 +0760",
	        "17-Jul-1996 02:44:25 -07",
	        "17-Jul-1996 02:44:25 0700",
	        "17-Jul-1996 02:44:25 *0700",
	        "17-Jul-1996 02:44:25  -0700",
	        "17-Jul-1996 2:44:25 -0700",
	        "17-Jul-1996 02:44 -0700",
	        "17-Jul-1996 02:44:25 -0700 ",
	        "17-Jul-1996 02:44:25 -070a",
	        "17-Jul-1996T02:44:25 -0700",
	        "  1-Feb-1994 00:00:00 +0000",
	        " 11-Feb-1994 00:00:00 +0000",
	        "31-Feb-1994 00:00:00 +0000",
	        "17-Jul-96 02:44:25 -0700",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (datetime(bad[i], &t, &tz))
			fail_msg("accepted: \"%s\"", bad[i]);
}

static void test_format(void **state)
{
	(void)state;
	char out[IMAP_DATETIME_LEN + 1];
	imap_datetime_format(837596665, -420, out);
	assert_string_equal(out, "17-Jul-1996 02:44:25 -0700");
	imap_datetime_format(760060800, 0, out);
	assert_string_equal(out, " 1-Feb-1994 00:00:00 +0000");
	imap_datetime_format(-1, 0, out);
	assert_string_equal(out, "31-Dec-1969 23:59:59 +0000");
	imap_datetime_format(0, 330, out);
	assert_string_equal(out, " 1-Jan-1970 05:30:00 +0530");
	imap_datetime_format(0, -570, out);
	assert_string_equal(out, "31-Dec-1969 14:30:00 -0930");
	/* Beyond what four digits of year can show: clamped, never longer. */
	imap_datetime_format(INT64_MAX, 0, out);
	assert_string_equal(out, "31-Dec-9999 23:59:59 +0000");
	imap_datetime_format(INT64_MIN, 0, out);
	assert_string_equal(out, " 1-Jan-0000 00:00:00 +0000");
	imap_datetime_format(253402300799LL, 600, out);
	assert_string_equal(out, "31-Dec-9999 23:59:59 +1000");
	/* Past the last instant in UTC, but not yet in a zone to the west. */
	imap_datetime_format(253402300800LL, -207, out);
	assert_string_equal(out, "31-Dec-9999 20:33:00 -0327");
	imap_datetime_format(-62167219201LL, 60, out);
	assert_string_equal(out, " 1-Jan-0000 00:59:59 +0100");
	/* A zone no "+hhmm" can write is shown as UTC. */
	imap_datetime_format(0, 100 * 60, out);
	assert_string_equal(out, " 1-Jan-1970 00:00:00 +0000");
	imap_datetime_format(0, INT32_MIN, out);
	assert_string_equal(out, " 1-Jan-1970 00:00:00 +0000");

	/* Format and parse back, across eras, zones and leap days. */
	static const int zones[] = {0, 60, -60, 330, -420, 5999, -5999, 1, -1};
	for (int64_t t = -62135596800LL; t < 253402300799LL - 86400; t += 86400LL * 97 + 3671) {
		for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
			int64_t back;
			int tz;
			imap_datetime_format(t, zones[z], out);
			assert_int_equal(strlen(out), IMAP_DATETIME_LEN);
			assert_true(imap_datetime_parse(out, IMAP_DATETIME_LEN, &back, &tz));
			assert_int_equal(back, t);
			assert_int_equal(tz, zones[z]);
		}
	}
}

static void test_civil(void **state)
{
	(void)state;
	assert_int_equal(imap_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(imap_days_from_civil(2024, 3, 1), 19783);
	assert_int_equal(imap_days_from_civil(1600, 2, 29), -135081);
	assert_int_equal(imap_days_from_civil(1, 1, 1), -719162);
	assert_int_equal(imap_days_from_civil(2000, 3, 1), 951868800 / 86400);

	/* Every day from 0000 to 9999: the days count up by one and the
	 * calendar day of each is the date it was made from. */
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t expect = imap_days_from_civil(0, 1, 1);
	for (int y = 0; y <= 9999; y++) {
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (unsigned m = 1; m <= 12; m++) {
			unsigned n = mdays[m - 1] + (m == 2 && leap ? 1 : 0);
			for (unsigned d = 1; d <= n; d++) {
				int64_t z = imap_days_from_civil(y, m, d);
				if (z != expect)
					fail_msg("%d-%u-%u: %lld, not %lld", y, m, d, (long long)z, (long long)expect);
				if (d == 1 || d == n)
					assert_int_equal(imap_day_of(z * 86400 + 43200, 0), y * 10000 + (int)m * 100 + (int)d);
				expect++;
			}
		}
	}
}

static void test_day_of(void **state)
{
	(void)state;
	/* 2024-03-01 00:30 UTC is still Feb 29 an hour west. */
	assert_int_equal(imap_day_of(1709253000, 0), 20240301);
	assert_int_equal(imap_day_of(1709253000, -60), 20240229);
	assert_int_equal(imap_day_of(1709253000, 60), 20240301);
	assert_int_equal(imap_day_of(-1, 0), 19691231);
	assert_int_equal(imap_day_of(0, 0), 19700101);
	assert_int_equal(imap_day_of(INT64_MAX, 5999), 99991231);
	assert_int_equal(imap_day_of(INT64_MIN, -5999), 101);
	assert_int_equal(imap_day_of(INT64_MIN, INT32_MAX), 101);
}

struct mail_case {
	const char *s;
	int64_t t;
	int tz;
};

static const struct mail_case mail_good[] = {
        {"Tue, 1 Jul 2003 10:52:37 +0200", 1057049557, 120},
        {"Fri, 21 Nov 1997 09:55:06 -0600", 880127706, -360},
        {"21 Nov 1997 09:55:06 -0600", 880127706, -360},
        {"Fri, 21 Nov 1997 09:55:06 -0600 (MDT)", 880127706, -360},
        {"  Fri,   21   Nov   1997   09:55:06   -0600  ", 880127706, -360},
        {"Fri,\r\n 21 Nov 1997\r\n\t09:55:06\r\n -0600", 880127706, -360},
        {"(x) Fri (y) , (z) 21 (a(b)c) Nov (\\)) 1997 09 : 55 : 06 -0600 (end", 880127706, -360},
        {"Fri 21 Nov 1997 09:55:06 -0600", 880127706, -360},
        {"Friday, 21 November 1997 09:55:06 -0600", 880127706, -360},
        {"fri, 21 nov 1997 09:55:06 -0600", 880127706, -360},
        {"21 Nov 1997 09:55 -0600", 880127700, -360},
        {"21 Nov 1997 9:55:06 -0600", 880127706, -360},
        /* obs-zone */
        {"21 Nov 1997 09:55:06 GMT", 880106106, 0},
        {"21 Nov 1997 09:55:06 UT", 880106106, 0},
        {"21 Nov 1997 09:55:06 EST", 880106106 + 5 * 3600, -300},
        {"21 Nov 1997 09:55:06 EDT", 880106106 + 4 * 3600, -240},
        {"21 Nov 1997 09:55:06 CST", 880106106 + 6 * 3600, -360},
        {"21 Nov 1997 09:55:06 CDT", 880106106 + 5 * 3600, -300},
        {"21 Nov 1997 09:55:06 MST", 880106106 + 7 * 3600, -420},
        {"21 Nov 1997 09:55:06 mdt", 880106106 + 6 * 3600, -360},
        {"21 Nov 1997 09:55:06 PST", 880106106 + 8 * 3600, -480},
        {"21 Nov 1997 09:55:06 PDT", 880106106 + 7 * 3600, -420},
        /* military letters, unknown names, no zone: -0000 (RFC 5322 4.3) */
        {"21 Nov 1997 09:55:06 A", 880106106, 0},
        {"21 Nov 1997 09:55:06 z", 880106106, 0},
        {"21 Nov 1997 09:55:06 CEST", 880106106, 0},
        {"21 Nov 1997 09:55:06", 880106106, 0},
        {"21 Nov 1997 09:55:06 -0000", 880106106, 0},
        {"21 Nov 1997 09:55:06 +0099", 880106106, 0},
        {"21 Nov 1997 09:55:06 +05:30", 880106106, 0},
        /* obs-year */
        {"5 Jan 49 08:00 Z", 2493446400, 0},
        {"5 Jan 50 08:00 +0000", -630777600, 0},
        {"5 Jan 03 08:00 +0000", 1041753600, 0},
        {"5 Jan 103 08:00:00 +0000", 1041753600, 0},
        {"29 Feb 2024 23:59:59 +0100", 1709247599, 60},
        {"31 Dec 1998 23:59:60 +0000", 915148800, 0},
};

static const char *const mail_bad[] = {
        "",
        "garbage",
        "(only a comment)",
        "Fri, 32 Nov 1997 09:55:06 -0600",
        "Fri, 0 Nov 1997 09:55:06 -0600",
        "29 Feb 1997 09:55:06 -0600",
        "21 Foo 1997 09:55:06 -0600",
        "21 No 1997 09:55:06 -0600",
        "21 Nov 1997",
        "21 Nov 1997 -0600",
        "21 Nov 1997 25:00:00 -0600",
        "21 Nov 1997 09:60:00 -0600",
        "21 Nov 1997 09:55:61 -0600",
        "21 Nov 1 09:00 -0600",
        "21 Nov 19970 09:00 -0600",
        "21 Nov 1997 09:5 -0600",
        "21 Nov 1997 09:55:6 -0600",
        "21 Nov 1997 123:55:06 -0600",
        "Xyz, 21 Nov 1997 09:55:06 -0600",
        "Fr, 21 Nov 1997 09:55:06 -0600",
        "Nov 21 1997 09:55:06 -0600",
        "Fri Nov 21 09:55:06 1997",
        "123 Nov 1997 09:55:06 -0600",
        "1997-11-21T09:55:06Z",
};

static void test_mail_date(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof mail_good / sizeof mail_good[0]; i++) {
		const struct mail_case *c = &mail_good[i];
		int64_t t = 0;
		int tz = 12345;
		if (!mail_date_parse(c->s, strlen(c->s), &t, &tz))
			fail_msg("refused: \"%s\"", c->s);
		if (t != c->t || tz != c->tz)
			fail_msg("\"%s\": %lld %d", c->s, (long long)t, tz);
	}
	for (size_t i = 0; i < sizeof mail_bad / sizeof mail_bad[0]; i++) {
		int64_t t;
		int tz;
		if (mail_date_parse(mail_bad[i], strlen(mail_bad[i]), &t, &tz))
			fail_msg("accepted: \"%s\"", mail_bad[i]);
	}
	/* The length is honoured; a NUL is just a byte that is not a date. */
	int64_t t;
	int tz;
	assert_true(mail_date_parse("21 Nov 1997 09:55:06 -0600xyz", 26, &t, &tz));
	assert_int_equal(tz, -360);
	assert_false(mail_date_parse("21 Nov\0 1997 09:55:06", 21, &t, &tz));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_date),  cmocka_unit_test(test_datetime), cmocka_unit_test(test_format),
	        cmocka_unit_test(test_civil), cmocka_unit_test(test_day_of),   cmocka_unit_test(test_mail_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
