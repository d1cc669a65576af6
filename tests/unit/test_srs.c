/*
 * test_srs — the Sender Rewriting Scheme (crypto/srs): the form against
 * a value worked out apart from this code (Python's hmac and base32),
 * round trips over the local parts forwarding meets, case changes on
 * the way back, tampering, the 21-day window, the 1024-day wrap of the
 * stamp and stamps from the future, our own addresses passing through,
 * the length limits at their edges, and garbage that must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crypto/srs.h"

#define NOW 1796300000 /* day 20790, stamp 310 = "JW" */
#define DAY 86400
#define OURS "fwd.example.net"

static const unsigned char secret[] = "tern-test-secret";
#define SECRET secret, sizeof secret - 1

static const unsigned char other_secret[] = "another-secret";

/* Forward sender at now; the result must be OK. */
static void fwd(int64_t now, const char *sender, char out[SRS_ADDR_MAX + 1])
{
	assert_int_equal(srs_forward(SECRET, now, sender, OURS, out, SRS_ADDR_MAX + 1), SRS_OK);
}

static enum srs_status rev(int64_t now, const char *addr, char out[SRS_ADDR_MAX + 1])
{
	return srs_reverse(SECRET, now, addr, out, SRS_ADDR_MAX + 1);
}

/* Forward at `at`, reverse at `back`: the status, and on OK the sender. */
static enum srs_status round_trip(int64_t at, int64_t back, const char *sender)
{
	char s[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	fwd(at, sender, s);
	enum srs_status st = rev(back, s, o);
	if (st == SRS_OK)
		assert_string_equal(o, sender);
	else
		assert_string_equal(o, "");
	return st;
}

static void test_known_answer(void **state)
{
	(void)state;
	char s[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	fwd(NOW, "Alice.Smith+tag@Example.ORG", s);
	/* HMAC-SHA256("tern-test-secret", "jw=example.org=alice.smith+tag"),
	 * first 40 bits in base32, from Python */
	assert_string_equal(s, "SRS0=DQEFLSQU=JW=Example.ORG=Alice.Smith+tag@" OURS);
	assert_int_equal(rev(NOW, s, o), SRS_OK);
	assert_string_equal(o, "Alice.Smith+tag@Example.ORG");
	assert_true(srs_is_srs(s));
}

static void test_round_trip_locals(void **state)
{
	(void)state;
	static const char *senders[] = {
	        "bob@example.org",
	        "a@b",
	        "first.last@sub.example.co.uk",
	        "user+folder+more@example.org",
	        "a=b@example.org",
	        "=leading@example.org",
	        "trailing=@example.org",
	        "x==y=z@example.org",
	        "o'brien-#!$%&*/?^`{|}~@example.org",
	        "\xc3\xa9t\xc3\xa9@exampl\xc3\xa9.fr", /* SMTPUTF8 octets pass */
	        "SRS1=xx=example.com==h=tt=other.org=u@example.org",
	};
	for (size_t i = 0; i < sizeof senders / sizeof senders[0]; i++)
		assert_int_equal(round_trip(NOW, NOW, senders[i]), SRS_OK);
	/* before the epoch the days still count whole */
	assert_int_equal(round_trip(-1, -1, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(-5 * DAY - 7, -1, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(0, 21 * DAY, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(-DAY, 21 * DAY, "bob@example.org"), SRS_EXPIRED);
	assert_int_equal(round_trip(-1, 21 * DAY, "bob@example.org"), SRS_EXPIRED);
	char s[SRS_ADDR_MAX + 1];
	fwd(-1, "bob@example.org", s); /* day -1: stamp 1023 */
	assert_memory_equal(s + 14, "77=", 3);
	fwd(-DAY, "bob@example.org", s);
	assert_memory_equal(s + 14, "77=", 3);
	fwd(-DAY - 1, "bob@example.org", s); /* day -2 */
	assert_memory_equal(s + 14, "76=", 3);
	fwd(INT64_MIN, "bob@example.org", s); /* no overflow at the edge */
	fwd(INT64_MAX, "bob@example.org", s);
}

/* s with octets from..to made upper or lower case: reversing it must
 * give want. */
static void expect_case(const char *s, size_t from, size_t to, bool upper, const char *want)
{
	char c[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	snprintf(c, sizeof c, "%s", s);
	for (size_t i = from; i < to; i++) {
		if (upper && c[i] >= 'a' && c[i] <= 'z')
			c[i] = (char)(c[i] - 'a' + 'A');
		if (!upper && c[i] >= 'A' && c[i] <= 'Z')
			c[i] = (char)(c[i] - 'A' + 'a');
	}
	assert_int_equal(rev(NOW, c, o), SRS_OK);
	assert_string_equal(o, want);
}

static void test_case_insensitive(void **state)
{
	(void)state;
	char s[SRS_ADDR_MAX + 1];
	fwd(NOW, "Bob@Example.org", s);
	/* "SRS0=" 0..5, HASH 5..13, TT 14..16, DOMAIN 17..28, LOCAL 29..32 */
	assert_memory_equal(s, "SRS0=", 5);
	expect_case(s, 0, 5, false, "Bob@Example.org");
	expect_case(s, 5, 13, false, "Bob@Example.org");
	expect_case(s, 14, 16, false, "Bob@Example.org");
	/* a host on the way changing the case of the original is no forgery */
	expect_case(s, 17, 28, true, "Bob@EXAMPLE.ORG");
	expect_case(s, 29, 32, false, "bob@Example.org");
	/* all of it at once, either way */
	expect_case(s, 0, strlen(s), false, "bob@example.org");
	expect_case(s, 0, strlen(s), true, "BOB@EXAMPLE.ORG");
	assert_true(srs_is_srs("srs0=x"));
	assert_true(srs_is_srs("SrS0="));
	assert_false(srs_is_srs("SRS0"));
	assert_false(srs_is_srs("SRS1=a=b@c"));
	assert_false(srs_is_srs(""));
}

/* s with the octet at i replaced by c: reversing it must give want. */
static void expect_changed(const char *s, size_t i, char c, enum srs_status want)
{
	char t[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	snprintf(t, sizeof t, "%s", s);
	assert_true(i < strlen(t) && t[i] != c);
	t[i] = c;
	assert_int_equal(rev(NOW, t, o), want);
	assert_string_equal(o, "");
}

static void test_tampering(void **state)
{
	(void)state;
	char s[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	fwd(NOW, "bob@example.org", s);
	assert_string_equal(s, "SRS0=BZSDQNS2=JW=example.org=bob@" OURS);
	for (size_t i = 5; i < 13; i++)
		expect_changed(s, i, s[i] == 'A' ? 'B' : 'A', SRS_BAD_HASH);
	expect_changed(s, 17, 'f', SRS_BAD_HASH); /* fxample.org */
	expect_changed(s, 27, 'x', SRS_BAD_HASH); /* example.orx */
	expect_changed(s, 29, 'x', SRS_BAD_HASH); /* xob */
	expect_changed(s, 31, 'x', SRS_BAD_HASH); /* box */
	expect_changed(s, 15, 'X', SRS_BAD_HASH); /* the stamp is signed too */
	/* the '=' that ends DOMAIN gone: no field left to split off */
	expect_changed(s, 28, 'x', SRS_SYNTAX);
	/* the domain after '@' is the caller's business, not signed */
	assert_int_equal(rev(NOW, "SRS0=BZSDQNS2=JW=example.org=bob@other.example", o), SRS_OK);
	assert_string_equal(o, "bob@example.org");
	/* moving the '=' between domain and local changes what was signed */
	assert_int_equal(rev(NOW, "SRS0=BZSDQNS2=JW=example=org=bob@" OURS, o), SRS_BAD_HASH);
	/* a hash of the wrong length, or none */
	assert_int_equal(rev(NOW, "SRS0=BZSDQNS=JW=example.org=bob@" OURS, o), SRS_BAD_HASH);
	assert_int_equal(rev(NOW, "SRS0=BZSDQNS2A=JW=example.org=bob@" OURS, o), SRS_BAD_HASH);
	assert_int_equal(rev(NOW, "SRS0==JW=example.org=bob@" OURS, o), SRS_BAD_HASH);
}

static void test_other_secret(void **state)
{
	(void)state;
	char s[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	fwd(NOW, "bob@example.org", s);
	assert_int_equal(srs_reverse(other_secret, sizeof other_secret - 1, NOW, s, o, sizeof o), SRS_BAD_HASH);
	/* a secret that is a prefix of ours is another secret */
	assert_int_equal(srs_reverse(secret, sizeof secret - 2, NOW, s, o, sizeof o), SRS_BAD_HASH);
	/* no secret, no hash: nothing is made, nothing passes */
	assert_int_equal(srs_forward(secret, 0, NOW, "bob@example.org", OURS, o, sizeof o), SRS_BAD_HASH);
	assert_string_equal(o, "");
	assert_int_equal(srs_reverse(secret, 0, NOW, s, o, sizeof o), SRS_BAD_HASH);
	assert_int_equal(srs_reverse(NULL, 0, NOW, s, o, sizeof o), SRS_BAD_HASH);
}

static void test_expiry(void **state)
{
	(void)state;
	int64_t start = (int64_t)(NOW / DAY) * DAY; /* the first second of the day */
	assert_int_equal(round_trip(start, start + 21 * DAY, "bob@example.org"), SRS_OK);
	/* made in the first second, taken back in the last of day 21 */
	assert_int_equal(round_trip(start, start + 22 * DAY - 1, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(start, start + 22 * DAY, "bob@example.org"), SRS_EXPIRED);
	/* made in the last second of a day: still that day's stamp */
	assert_int_equal(round_trip(start + DAY - 1, start + 22 * DAY - 1, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(start + DAY - 1, start + 22 * DAY, "bob@example.org"), SRS_EXPIRED);
	/* every age in between */
	for (int d = 0; d <= 40; d++)
		assert_int_equal(round_trip(NOW, NOW + d * DAY, "bob@example.org"),
		                 d <= SRS_MAX_AGE_DAYS ? SRS_OK : SRS_EXPIRED);
	/* the stamp cycles: a whole cycle later it reads as new again, which
	 * is the price of 10 bits, and no worse than the years it takes */
	assert_int_equal(round_trip(NOW, NOW + 1024 * DAY, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(NOW, NOW + 1046 * DAY, "bob@example.org"), SRS_EXPIRED);
}

static void test_wrap(void **state)
{
	(void)state;
	/* 21 cycles of 1024 days after the epoch: stamp 0 starts here */
	int64_t cycle = (int64_t)21 * 1024 * DAY;
	char s[SRS_ADDR_MAX + 1];
	fwd(cycle - 1, "bob@example.org", s); /* day 1023 */
	assert_memory_equal(s + 14, "77=", 3);
	fwd(cycle, "bob@example.org", s); /* day 0 */
	assert_memory_equal(s + 14, "AA=", 3);
	/* made before the wrap, back after it */
	assert_int_equal(round_trip(cycle - 1, cycle, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(cycle - 1, cycle + 20 * DAY, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(cycle - 1, cycle + 21 * DAY, "bob@example.org"), SRS_EXPIRED);
	assert_int_equal(round_trip(cycle - 10 * DAY, cycle + 11 * DAY, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(cycle - 10 * DAY, cycle + 12 * DAY, "bob@example.org"), SRS_EXPIRED);
	/* a stamp of day 0 seen on day 1023: one day ahead, across the wrap */
	assert_int_equal(round_trip(cycle, cycle - 1, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(cycle + DAY, cycle - 1, "bob@example.org"), SRS_EXPIRED);
}

static void test_future(void **state)
{
	(void)state;
	assert_int_equal(round_trip(NOW + DAY, NOW, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(NOW + 2 * DAY, NOW, "bob@example.org"), SRS_EXPIRED);
	assert_int_equal(round_trip(NOW + 500 * DAY, NOW, "bob@example.org"), SRS_EXPIRED);
	/* the stamp knows days only modulo 1024: 1023 days ahead reads as
	 * one back, 1023 back as one ahead */
	assert_int_equal(round_trip(NOW + 1023 * DAY, NOW, "bob@example.org"), SRS_OK);
	assert_int_equal(round_trip(NOW - 1023 * DAY, NOW, "bob@example.org"), SRS_OK);
}

static void test_ours_and_theirs(void **state)
{
	(void)state;
	char s[SRS_ADDR_MAX + 1], t[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	fwd(NOW, "bob@example.org", s);
	/* one of ours bouncing through: left as it is, whatever its case */
	fwd(NOW + 3 * DAY, s, t);
	assert_string_equal(t, s);
	fwd(NOW, "srs0=whatever=zz=x=y@FWD.Example.NET", t);
	assert_string_equal(t, "srs0=whatever=zz=x=y@FWD.Example.NET");
	/* a plain address of our own domain is wrapped like any other */
	fwd(NOW, "dave@" OURS, t);
	assert_string_equal(t + 14, "JW=" OURS "=dave@" OURS);
	/* one of another forwarder's: wrapped whole, unwrapped one layer */
	const char *theirs = "SRS0=abcdefgh=JW=orig.example=carol@relay.example";
	fwd(NOW, theirs, t);
	assert_string_equal(t + 14, "JW=relay.example=SRS0=abcdefgh=JW=orig.example=carol@" OURS);
	assert_int_equal(rev(NOW, t, o), SRS_OK);
	assert_string_equal(o, theirs);
	/* not SRS at all */
	assert_int_equal(rev(NOW, "bob@" OURS, o), SRS_NOT_SRS);
	assert_int_equal(rev(NOW, "SRS1=h=tt=a=b@" OURS, o), SRS_NOT_SRS);
	assert_int_equal(rev(NOW, "xSRS0=BZSDQNS2=JW=example.org=bob@" OURS, o), SRS_NOT_SRS);
	assert_string_equal(o, "");
}

/* A sender whose local part is n octets of 'a'. */
static void long_sender(char *buf, size_t cap, size_t n, const char *domain)
{
	assert_true(n + strlen(domain) + 2 <= cap);
	memset(buf, 'a', n);
	buf[n] = '@';
	memcpy(buf + n + 1, domain, strlen(domain) + 1);
}

static void test_lengths(void **state)
{
	(void)state;
	char in[1024], s[SRS_ADDR_MAX + 1], o[SRS_ADDR_MAX + 1];
	/* the fixed part: "SRS0=" 8 "=" 2 "=" "=" "@" = 19, plus the sender
	 * less its '@', plus our domain */
	size_t fixed = 19 + strlen(OURS), dl = strlen("example.org");
	size_t fit = SRS_ADDR_MAX - fixed - dl; /* the longest local that fits */
	long_sender(in, sizeof in, fit, "example.org");
	fwd(NOW, in, s);
	assert_int_equal(strlen(s), SRS_ADDR_MAX);
	assert_int_equal(rev(NOW, s, o), SRS_OK);
	assert_string_equal(o, in);
	/* out of exactly the size, and one short */
	assert_int_equal(srs_forward(SECRET, NOW, in, OURS, s, SRS_ADDR_MAX + 1), SRS_OK);
	assert_int_equal(srs_forward(SECRET, NOW, in, OURS, s, SRS_ADDR_MAX), SRS_TOO_LONG);
	assert_string_equal(s, "");
	fwd(NOW, in, s);
	assert_int_equal(srs_reverse(SECRET, NOW, s, o, strlen(in) + 1), SRS_OK);
	assert_int_equal(srs_reverse(SECRET, NOW, s, o, strlen(in)), SRS_TOO_LONG);
	assert_string_equal(o, "");
	/* one octet more and the result is over the limit */
	long_sender(in, sizeof in, fit + 1, "example.org");
	assert_int_equal(srs_forward(SECRET, NOW, in, OURS, s, sizeof s), SRS_TOO_LONG);
	assert_string_equal(s, "");
	/* even with all the room in the world */
	char big[2048];
	assert_int_equal(srs_forward(SECRET, NOW, in, OURS, big, sizeof big), SRS_TOO_LONG);
	/* inputs over the limit, no NUL needed past it */
	memset(in, 'a', sizeof in);
	in[300] = '@';
	assert_int_equal(srs_forward(SECRET, NOW, in, OURS, s, sizeof s), SRS_TOO_LONG);
	memcpy(in, "SRS0=", 5);
	assert_int_equal(rev(NOW, in, o), SRS_TOO_LONG);
	assert_int_equal(srs_forward(SECRET, NOW, "a@b", in, s, sizeof s), SRS_TOO_LONG);
	/* a local part far past the 64 of RFC 5321 is carried */
	assert_true(fit > 64);
	/* tiny buffers are never overrun, and still say "" */
	char tiny[4] = "xyz";
	assert_int_equal(srs_forward(SECRET, NOW, "a@b", OURS, tiny, 1), SRS_TOO_LONG);
	assert_int_equal(tiny[0], '\0');
	assert_int_equal(tiny[1], 'y');
	assert_int_equal(srs_forward(SECRET, NOW, "a@b", OURS, NULL, 0), SRS_TOO_LONG);
	fwd(NOW, "a@b", s);
	assert_int_equal(srs_reverse(SECRET, NOW, s, NULL, 0), SRS_TOO_LONG);
	assert_int_equal(srs_reverse(SECRET, NOW, s, o, 4), SRS_OK);
	assert_string_equal(o, "a@b");
}

static void test_forward_syntax(void **state)
{
	(void)state;
	static const char *bad[] = {
	        "",           "bob",         "@example.org",  "bob@",      "@",
	        "a@b@c",      "bob @x.org",  "bob@x .org",    "\"b c\"@x", "b\\c@x.org",
	        "bob@a=b.org", "bob\t@x.org", "bob@x.org\r\n", "b\x7f@x",
	};
	char o[SRS_ADDR_MAX + 1];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memcpy(o, "junk", 5);
		assert_int_equal(srs_forward(SECRET, NOW, bad[i], OURS, o, sizeof o), SRS_SYNTAX);
		assert_string_equal(o, "");
	}
	assert_int_equal(srs_forward(SECRET, NOW, "bob@x.org", "", o, sizeof o), SRS_SYNTAX);
	assert_int_equal(srs_forward(SECRET, NOW, "bob@x.org", "a@b", o, sizeof o), SRS_SYNTAX);
	assert_int_equal(srs_forward(SECRET, NOW, "bob@x.org", "a=b", o, sizeof o), SRS_SYNTAX);
	assert_int_equal(srs_forward(SECRET, NOW, "bob@x.org", "a b", o, sizeof o), SRS_SYNTAX);
}

static void test_reverse_garbage(void **state)
{
	(void)state;
	static const char *syntax[] = {
	        "SRS0=",
	        "SRS0==",
	        "SRS0=abc=",
	        "srs0=abc=@" OURS,
	        "SRS0=@" OURS,
	        "SRS0==@" OURS,
	        "SRS0=BZSDQNS2=JW=example.org=bob@",   /* no domain after '@' */
	        "SRS0=BZSDQNS2=JW=example.org=bob",    /* no '@' */
	        "SRS0=BZSDQNS2=JW=example.org=@" OURS, /* no LOCAL */
	        "SRS0=BZSDQNS2=JW==bob@" OURS,         /* no DOMAIN */
	        "SRS0=BZSDQNS2=JW=example.org@" OURS,  /* no '=' after DOMAIN */
	        "SRS0=BZSDQNS2=JWX=example.org=bob@" OURS,
	        "SRS0=BZSDQNS2=J=example.org=bob@" OURS,
	        "SRS0=BZSDQNS2=J1=example.org=bob@" OURS, /* '1' is not base32 */
	        "SRS0=BZSDQNS2=J8=example.org=bob@" OURS,
	        "SRS0=BZSDQNS2=J==example.org=bob@" OURS,
	        "SRS0=BZSDQNS2@" OURS,
	        "SRS0=BZSDQNS2=JW@" OURS,
	        "SRS0=BZSDQNS2=JW=@" OURS,
	        "SRS0=BZSDQNS2=JW=example.org@=bob",   /* the '=' after the last '@' */
	};
	char o[SRS_ADDR_MAX + 1];
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++) {
		memcpy(o, "junk", 5);
		assert_int_equal(rev(NOW, syntax[i], o), SRS_SYNTAX);
		assert_string_equal(o, "");
	}
	static const char *bad_hash[] = {
	        "SRS0==AA=d=l@x",
	        "SRS0=abc=AA=d=l@x",
	        "SRS0=ABCDEFGH=AA=example.org=bob@" OURS,
	        "SRS0=\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8=JW=example.org=bob@" OURS,
	        "SRS0=BZSDQNS2=JW=example.org=bob@@" OURS, /* LOCAL "bob@" */
	};
	for (size_t i = 0; i < sizeof bad_hash / sizeof bad_hash[0]; i++) {
		memcpy(o, "junk", 5);
		assert_int_equal(rev(NOW, bad_hash[i], o), SRS_BAD_HASH);
		assert_string_equal(o, "");
	}
}

static void test_status_text(void **state)
{
	(void)state;
	enum srs_status all[] = {SRS_OK, SRS_NOT_SRS, SRS_BAD_HASH, SRS_EXPIRED, SRS_SYNTAX, SRS_TOO_LONG};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const char *t = srs_status_text(all[i]);
		assert_non_null(t);
		assert_true(t[0] != '\0');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(t, srs_status_text(all[j]));
	}
	assert_non_null(srs_status_text((enum srs_status)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_answer),
	        cmocka_unit_test(test_round_trip_locals),
	        cmocka_unit_test(test_case_insensitive),
	        cmocka_unit_test(test_tampering),
	        cmocka_unit_test(test_other_secret),
	        cmocka_unit_test(test_expiry),
	        cmocka_unit_test(test_wrap),
	        cmocka_unit_test(test_future),
	        cmocka_unit_test(test_ours_and_theirs),
	        cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_forward_syntax),
	        cmocka_unit_test(test_reverse_garbage),
	        cmocka_unit_test(test_status_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
