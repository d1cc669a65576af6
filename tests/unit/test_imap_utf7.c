/*
 * test_imap_utf7 — mailbox names between modified UTF-7 (RFC 3501 5.1.3,
 * RFC 9051 5.1.3) and UTF-8: the RFC's example, fixed pairs computed
 * from UTF-16 and base64 independently of the encoder, every form the
 * canonical-only rule refuses, bad UTF-8, output bounds, and round trips
 * over a range of code points.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto/imap_utf7.h"

struct pair {
	const char *utf7, *utf8;
};

/* Each pair both ways. The UTF-7 sides were computed with a UTF-16BE
 * encoder and RFC 4648 base64 ("/" turned to ",", padding dropped). */
static const struct pair pairs[] = {
        {"", ""},
        {"INBOX", "INBOX"},
        /* RFC 3501 5.1.3: "~peter/mail/" U+53F0 U+5317 "/" U+65E5 U+672C U+8A9E */
        {"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
         "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
        {"&AOk-", "\xc3\xa9"},
        {"&-", "&"},
        {"a&-b", "a&b"},
        {"&-&-", "&&"},
        {"&AOk-&-&AOk-", "\xc3\xa9&\xc3\xa9"},
        {"&ANw-n&AO8-c&APg-d&AOk- folder", "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 folder"},
        {"&2D3eAA-", "\xf0\x9f\x98\x80"},
        {"&AIA-", "\xc2\x80"},
        {"&,,8-", "\xef\xbf\xbf"},
        {"&2,,f,w-", "\xf4\x8f\xbf\xbf"},
        {"&ZeVnLIqe-&-x&2D3eAADp-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&x\xf0\x9f\x98\x80\xc3\xa9"},
        {"&AOk--", "\xc3\xa9-"},
        {" ~!\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}", " ~!\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}"},
};

static void test_pairs(void **state)
{
	(void)state;
	char out[256];
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		const struct pair *p = &pairs[i];
		assert_true(imap_utf7_is_valid(p->utf7, strlen(p->utf7)));
		assert_true(imap_utf8_is_valid_name(p->utf8, strlen(p->utf8)));
		assert_int_equal(imap_utf7_to_utf8(p->utf7, strlen(p->utf7), out, sizeof out), 0);
		assert_string_equal(out, p->utf8);
		assert_int_equal(imap_utf8_to_utf7(p->utf8, strlen(p->utf8), out, sizeof out), 0);
		assert_string_equal(out, p->utf7);
	}
}

/* Forms that decode to something but are not what the encoder writes,
 * and forms that decode to nothing. */
static const char *const bad_utf7[] = {
        "&",          /* "&" alone */
        "a&",         /* at the end */
        "&AOk",       /* run never closed */
        "&U,BTFw",    /* ... */
        "&AGE-",      /* "a" encoded: printable ASCII must be itself */
        "&ACY-",      /* "&" encoded: must be "&-" */
        "&ACA-",      /* the space encoded */
        "&AH4-",      /* "~" encoded */
        "&AAA-",      /* U+0000 */
        "&AB8-",      /* U+001F: controls are refused */
        "&AH8-",      /* U+007F */
        "&AOk-&AOk-", /* two runs side by side */
        "&AOl-",      /* padding bits not zero */
        "&AOkA-",     /* a character too many (8 bits left) */
        "&AOkAA-",    /* two too many (14 bits left) */
        "&A-",        /* 6 bits: no unit at all */
        "&AO-",       /* 12 bits */
        "&2D0-",      /* lone high surrogate */
        "&3gA-",      /* lone low surrogate */
        "&2D0AQQ-",   /* high surrogate then "A" */
        "&2D3YPQ-",   /* high surrogate twice */
        "&3gDYPQ-",   /* low then high */
        "&A*k-",      /* not a modified base64 character */
        "&AO/-",      /* "/" is not in the modified alphabet */
        "&AO=-",      /* no "=" padding */
        "&AOk&-",     /* "&" inside a run */
        "a\tb",       /* a control outside a run */
        "a\x7f",      /* DEL */
        "caf\xc3\xa9", /* raw 8-bit */
        "\x80",
};

static void test_invalid_utf7(void **state)
{
	(void)state;
	char out[64];
	for (size_t i = 0; i < sizeof bad_utf7 / sizeof bad_utf7[0]; i++) {
		const char *s = bad_utf7[i];
		if (imap_utf7_is_valid(s, strlen(s)))
			fail_msg("accepted: %s", s);
		memset(out, 'x', sizeof out);
		assert_int_equal(imap_utf7_to_utf8(s, strlen(s), out, sizeof out), -1);
		assert_int_equal(out[0], '\0');
	}
	/* An embedded NUL is a control too. */
	assert_false(imap_utf7_is_valid("a\0b", 3));
	assert_int_equal(imap_utf7_to_utf8("a\0b", 3, out, sizeof out), -1);
}

static const char *const bad_utf8[] = {
        "\xc0\xaf",             /* overlong "/" */
        "\xc1\xbf",             /* overlong */
        "\xe0\x80\xaf",         /* overlong, 3 octets */
        "\xf0\x80\x80\xaf",     /* overlong, 4 octets */
        "\xed\xa0\x80",         /* surrogate U+D800 */
        "\xed\xbf\xbf",         /* surrogate U+DFFF */
        "\xf4\x90\x80\x80",     /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xff",
        "\x80",                 /* a continuation alone */
        "\xe6\x97",             /* cut short */
        "a\xc3",                /* cut short at the end */
        "\xc3\x28",             /* bad continuation */
        "\x01",                 /* controls */
        "a\nb",
        "\x1f",
        "\x7f",
};

static void test_invalid_utf8(void **state)
{
	(void)state;
	char out[64];
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
		const char *s = bad_utf8[i];
		if (imap_utf8_is_valid_name(s, strlen(s)))
			fail_msg("accepted #%zu", i);
		assert_int_equal(imap_utf8_to_utf7(s, strlen(s), out, sizeof out), -1);
	}
	assert_false(imap_utf8_is_valid_name("a\0b", 3));
	assert_int_equal(imap_utf8_to_utf7("a\0b", 3, out, sizeof out), -1);
	/* C1 controls (U+0080-U+009F) are not refused: only C0 and DEL. */
	assert_true(imap_utf8_is_valid_name("\xc2\x80", 2));
}

/* Lengths are honoured, not NULs: the name may be part of a larger buffer. */
static void test_lengths(void **state)
{
	(void)state;
	char out[32];
	assert_int_equal(imap_utf7_to_utf8("&AOk-xyz", 5, out, sizeof out), 0);
	assert_string_equal(out, "\xc3\xa9");
	assert_false(imap_utf7_is_valid("&AOk-xyz", 4)); /* the "-" cut off */
	assert_int_equal(imap_utf8_to_utf7("\xc3\xa9zz", 2, out, sizeof out), 0);
	assert_string_equal(out, "&AOk-");
	assert_false(imap_utf8_is_valid_name("\xc3\xa9", 1));
}

static void test_output_bounds(void **state)
{
	(void)state;
	char out[16];

	/* "&" needs 2 octets with its NUL. */
	assert_int_equal(imap_utf7_to_utf8("&-", 2, out, 1), -1);
	assert_int_equal(out[0], '\0');
	assert_int_equal(imap_utf7_to_utf8("&-", 2, out, 2), 0);
	assert_string_equal(out, "&");
	assert_int_equal(imap_utf7_to_utf8("&-", 2, out, 0), -1);
	assert_int_equal(imap_utf7_to_utf8("", 0, out, 0), -1);
	assert_int_equal(imap_utf7_to_utf8("", 0, out, 1), 0);
	assert_string_equal(out, "");

	/* "é" is 2 octets of UTF-8; a 4-octet character must not be cut. */
	assert_int_equal(imap_utf7_to_utf8("&AOk-", 5, out, 2), -1);
	assert_int_equal(imap_utf7_to_utf8("&AOk-", 5, out, 3), 0);
	assert_int_equal(imap_utf7_to_utf8("&2D3eAA-", 8, out, 4), -1);
	assert_int_equal(imap_utf7_to_utf8("&2D3eAA-", 8, out, 5), 0);

	/* "&AOk-" is 5 octets. */
	memset(out, 'x', sizeof out);
	assert_int_equal(imap_utf8_to_utf7("\xc3\xa9", 2, out, 5), -1);
	assert_true(memchr(out, '\0', 5) != NULL);
	assert_int_equal(imap_utf8_to_utf7("\xc3\xa9", 2, out, 6), 0);
	assert_string_equal(out, "&AOk-");
	assert_int_equal(imap_utf8_to_utf7("&", 1, out, 2), -1);
	assert_int_equal(imap_utf8_to_utf7("&", 1, out, 3), 0);
	assert_int_equal(imap_utf8_to_utf7("a", 1, out, 0), -1);
}

static size_t put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Names of 1 to 5 characters mixing ASCII, "&" and code points from
 * every UTF-8 length and both sides of the surrogates: encode, check the
 * form is valid, decode, compare. Every run length mod 3 is covered. */
static void test_round_trips(void **state)
{
	(void)state;
	static const uint32_t cps[] = {'a', '&', '-', ' ', 0x80, 0xe9, 0x7ff, 0x800, 0xd7ff,
	                               0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff};
	const size_t k = sizeof cps / sizeof cps[0];
	char in[32], enc[128], dec[32];
	size_t count = 0;
	for (size_t len = 1; len <= 4; len++) {
		size_t total = 1;
		for (size_t j = 0; j < len; j++)
			total *= k;
		for (size_t v = 0; v < total; v++) {
			size_t n = 0, x = v;
			for (size_t j = 0; j < len; j++, x /= k)
				n += put_utf8(in + n, cps[x % k]);
			assert_true(imap_utf8_is_valid_name(in, n));
			assert_int_equal(imap_utf8_to_utf7(in, n, enc, sizeof enc), 0);
			assert_true(imap_utf7_is_valid(enc, strlen(enc)));
			assert_int_equal(imap_utf7_to_utf8(enc, strlen(enc), dec, sizeof dec), 0);
			assert_int_equal(strlen(dec), n);
			assert_memory_equal(dec, in, n);
			count++;
		}
	}
	assert_true(count > 50000);
}

/* Every run of three modified-base64 characters (18 bits: one UTF-16
 * unit and 2 padding bits): only the encoder's own spelling is valid. */
static void test_canonical_only(void **state)
{
	(void)state;
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	char s[16], dec[32], back[32];
	size_t valid = 0;
	for (int a = 0; a < 64; a++)
		for (int b = 0; b < 64; b++)
			for (int c = 0; c < 64; c++) {
				snprintf(s, sizeof s, "&%c%c%c-", b64[a], b64[b], b64[c]);
				if (!imap_utf7_is_valid(s, 5))
					continue;
				valid++;
				assert_int_equal(imap_utf7_to_utf8(s, 5, dec, sizeof dec), 0);
				assert_int_equal(imap_utf8_to_utf7(dec, strlen(dec), back, sizeof back), 0);
				assert_string_equal(back, s);
			}
	/* Exactly one spelling per unit (padding bits zero), less the
	 * surrogates (2048) and U+0000-U+007F (128). */
	assert_int_equal(valid, 65536 - 2048 - 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pairs),         cmocka_unit_test(test_invalid_utf7),
	        cmocka_unit_test(test_invalid_utf8),  cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_output_bounds), cmocka_unit_test(test_round_trips),
	        cmocka_unit_test(test_canonical_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
