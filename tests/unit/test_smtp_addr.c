/*
 * test_smtp_addr — the RFC 5321 4.1.2 path grammar, its limits
 * (4.5.3.1) and the RFC 6531 UTF-8 rules of proto/smtp_addr.
 *
 * Every input is copied into a heap block of exactly its length, so that
 * AddressSanitizer catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/smtp_addr.h"

enum {
	F_NULL = 1, /* allow_null */
	F_UTF8 = 2, /* utf8_ok */
	F_PM = 4,   /* allow_postmaster */
};

struct addr_case {
	const char *in;
	unsigned flags;
	enum smtp_addr_status want;
	const char *formatted; /* for SMTP_ADDR_OK */
};

static enum smtp_addr_status test_parse(const char *s, size_t n, unsigned flags, struct smtp_addr *a,
                                        size_t *consumed)
{
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, s, n);
	enum smtp_addr_status st =
		smtp_addr_parse(copy, n, flags & F_NULL, flags & F_UTF8, flags & F_PM, a, consumed);
	free(copy);
	return st;
}

static void test_run_table(const struct addr_case *t, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		struct smtp_addr a;
		size_t used = 12345;
		char out[400];
		enum smtp_addr_status st = test_parse(t[k].in, strlen(t[k].in), t[k].flags, &a, &used);
		if (st != t[k].want)
			fail_msg("case %zu \"%s\": status %d, want %d", k, t[k].in, st, t[k].want);
		if (st != SMTP_ADDR_OK) {
			assert_int_equal(used, 0);
			continue;
		}
		assert_int_equal(used, strlen(t[k].in));
		assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), 0);
		if (strcmp(out, t[k].formatted) != 0)
			fail_msg("case %zu \"%s\": formatted \"%s\", want \"%s\"", k, t[k].in, out, t[k].formatted);
	}
}

static void test_valid(void **state)
{
	(void)state;
	static const struct addr_case t[] = {
		{ "<a@b.c>", 0, SMTP_ADDR_OK, "a@b.c" },
		{ "<a@b>", 0, SMTP_ADDR_OK, "a@b" },
		{ "<A.B+tag@Example.COM>", 0, SMTP_ADDR_OK, "A.B+tag@Example.COM" },
		{ "<user.name-x_y@sub-domain.example.org>", 0, SMTP_ADDR_OK, "user.name-x_y@sub-domain.example.org" },
		{ "<!#$%&'*+-/=?^_`{|}~@x.y>", 0, SMTP_ADDR_OK, "!#$%&'*+-/=?^_`{|}~@x.y" },
		{ "<a%b@c>", 0, SMTP_ADDR_OK, "a%b@c" },           /* percent hack */
		{ "<host!user@relay>", 0, SMTP_ADDR_OK, "host!user@relay" }, /* bang path */
		{ "<\"a@b\"@c>", 0, SMTP_ADDR_OK, "\"a@b\"@c" },
		{ "<\"a b\"@c>", 0, SMTP_ADDR_OK, "\"a b\"@c" },
		{ "<\"a\\\"b\"@c>", 0, SMTP_ADDR_OK, "\"a\\\"b\"@c" },
		{ "<\"a\\\\b\"@c>", 0, SMTP_ADDR_OK, "\"a\\\\b\"@c" },
		{ "<\"a>b\"@c>", 0, SMTP_ADDR_OK, "\"a>b\"@c" },
		{ "<\"\"@c>", 0, SMTP_ADDR_OK, "\"\"@c" },
		{ "<@a,@b:u@d>", 0, SMTP_ADDR_OK, "u@d" },
		{ "<@relay.example:u@d.example>", 0, SMTP_ADDR_OK, "u@d.example" },
		{ "<a@1.2.3.4>", 0, SMTP_ADDR_OK, "a@1.2.3.4" },
		{ "<a@b-c.d>", 0, SMTP_ADDR_OK, "a@b-c.d" },
		{ "<a@b--c.d>", 0, SMTP_ADDR_OK, "a@b--c.d" },
		{ "<a@0.example>", 0, SMTP_ADDR_OK, "a@0.example" },
		{ "<u@[127.0.0.1]>", 0, SMTP_ADDR_OK, "u@[127.0.0.1]" },
		{ "<u@[0.0.0.0]>", 0, SMTP_ADDR_OK, "u@[0.0.0.0]" },
		{ "<u@[255.255.255.255]>", 0, SMTP_ADDR_OK, "u@[255.255.255.255]" },
		{ "<u@[IPv6:::1]>", 0, SMTP_ADDR_OK, "u@[IPv6:::1]" },
		{ "<u@[ipv6:2001:DB8::1]>", 0, SMTP_ADDR_OK, "u@[ipv6:2001:DB8::1]" },
		{ "<u@[IPv6:::]>", 0, SMTP_ADDR_OK, "u@[IPv6:::]" },
		{ "<u@[IPv6:1::]>", 0, SMTP_ADDR_OK, "u@[IPv6:1::]" },
		{ "<u@[IPv6:1:2:3:4:5:6:7:8]>", 0, SMTP_ADDR_OK, "u@[IPv6:1:2:3:4:5:6:7:8]" },
		{ "<u@[IPv6:1:2:3:4:5:6:7::]>", 0, SMTP_ADDR_OK, "u@[IPv6:1:2:3:4:5:6:7::]" },
		{ "<u@[IPv6:::ffff:192.0.2.1]>", 0, SMTP_ADDR_OK, "u@[IPv6:::ffff:192.0.2.1]" },
		{ "<u@[IPv6:1:2:3:4:5:6:192.0.2.1]>", 0, SMTP_ADDR_OK, "u@[IPv6:1:2:3:4:5:6:192.0.2.1]" },
		{ "<u@[x-tag:any!thing]>", 0, SMTP_ADDR_OK, "u@[x-tag:any!thing]" },
		{ "<>", F_NULL, SMTP_ADDR_OK, "" },
		{ "<postmaster>", F_PM, SMTP_ADDR_OK, "postmaster" },
		{ "<PostMaster>", F_PM, SMTP_ADDR_OK, "PostMaster" },
		{ "<@relay:Postmaster>", F_PM, SMTP_ADDR_OK, "Postmaster" },
		{ "<postmaster@example.org>", 0, SMTP_ADDR_OK, "postmaster@example.org" },
		/* RFC 6531 */
		{ "<j\xc3\xb6rg@ex\xc3\xa4mple.de>", F_UTF8, SMTP_ADDR_OK, "j\xc3\xb6rg@ex\xc3\xa4mple.de" },
		{ "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>", F_UTF8, SMTP_ADDR_OK,
		  "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a" },
		{ "<\"j\xc3\xb6 rg\"@x>", F_UTF8, SMTP_ADDR_OK, "\"j\xc3\xb6 rg\"@x" },
		{ "<a\xf0\x9f\x98\x80@x>", F_UTF8, SMTP_ADDR_OK, "a\xf0\x9f\x98\x80@x" },
		{ "<a\xf4\x8f\xbf\xbf@x>", F_UTF8, SMTP_ADDR_OK, "a\xf4\x8f\xbf\xbf@x" },
		{ "<a\xed\x9f\xbf@x>", F_UTF8, SMTP_ADDR_OK, "a\xed\x9f\xbf@x" },
	};
	test_run_table(t, sizeof(t) / sizeof(t[0]));
}

static void test_invalid(void **state)
{
	(void)state;
	static const struct addr_case t[] = {
		{ "", F_NULL | F_PM | F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<", F_NULL | F_PM | F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "a@b", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b.", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b.c.>", 0, SMTP_ADDR_SYNTAX, NULL }, /* trailing dot */
		{ "<a@.b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b..c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<.a@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a.@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a..b@c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@-b.c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b-.c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b.c->", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b_c.d>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a b@c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "< a@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b >", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a @b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@ b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@\tb>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b@c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a>", F_PM, SMTP_ADDR_SYNTAX, NULL },
		{ "<postmaster>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<postmasters>", F_PM, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"postmaster\">", F_PM, SMTP_ADDR_SYNTAX, NULL },
		{ "<>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<>", F_PM | F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<<a@b>>", F_NULL, SMTP_ADDR_SYNTAX, NULL },
		{ "<a(c)@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a,b@c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a\"b@c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"a@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"a\"b@c>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"a\x01\"@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"a\\\x01\"@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"a\t\"@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		/* source routes */
		{ "<@a:>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@a,u@d>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@:u@d>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@a,:u@d>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@a,b:u@d>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@a.:u@d>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<@[1.2.3.4]:u@d>", 0, SMTP_ADDR_SYNTAX, NULL },
		/* address literals */
		{ "<a@[300.1.1.1]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[256.0.0.0]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3.4.5]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3.]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1..2.3]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[01.2.3.4]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1234.2.3.4]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3.a]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[ 1.2.3.4]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3.4]x>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3.4>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[example.org]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1:2]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6::1]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1:]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1::2::3]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1:::2]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:12345::]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:g::1]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1:2:3:4:5:6:7:8::]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:::ffff:1.2.3]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:::ffff:1.2.3.4:5]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv6:1.2.3.4]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[IPv4:1.2.3.4]x>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[tag:]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[:x]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[tag-:x]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[t_g:x]>", 0, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[t:x\\y]>", 0, SMTP_ADDR_SYNTAX, NULL },
		/* invalid UTF-8 is a syntax error even when UTF-8 is allowed */
		{ "<a\xff@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<a\x80@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<a\xc3@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },          /* truncated */
		{ "<a\xc0\xaf@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },      /* overlong '/' */
		{ "<a\xc1\xbf@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },      /* overlong */
		{ "<a\xe0\x80\xaf@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },  /* overlong */
		{ "<a\xf0\x80\x80\xaf@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<a\xed\xa0\x80@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },  /* surrogate */
		{ "<a\xf4\x90\x80\x80@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL }, /* > U+10FFFF */
		{ "<a\xf5\x80\x80\x80@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@b\xc3>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<\"a\xc3\"@b>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<a@[1.2.3.\xc3\xa4]>", F_UTF8, SMTP_ADDR_SYNTAX, NULL },
		{ "<a\xff@b>", 0, SMTP_ADDR_SYNTAX, NULL },
		/* UTF-8 without SMTPUTF8 (RFC 6531 3.4) */
		{ "<j\xc3\xb6rg@example.de>", 0, SMTP_ADDR_NEEDS_UTF8, NULL },
		{ "<joerg@ex\xc3\xa4mple.de>", 0, SMTP_ADDR_NEEDS_UTF8, NULL },
		{ "<\"j\xc3\xb6\"@x>", 0, SMTP_ADDR_NEEDS_UTF8, NULL },
		{ "<@r\xc3\xa4:a@x>", 0, SMTP_ADDR_NEEDS_UTF8, NULL },
		{ "<@r\xc3\xa4:a@x>", F_UTF8, SMTP_ADDR_OK, "a@x" },
	};
	test_run_table(t, sizeof(t) / sizeof(t[0]));
}

/* Build "<" local "@" domain ">" from repeated characters, with labels
 * of at most 50 octets. */
static char *test_make_path(size_t local_len, size_t domain_len)
{
	char *s = malloc(local_len + domain_len + 4);
	assert_non_null(s);
	size_t i = 0;
	s[i++] = '<';
	memset(s + i, 'l', local_len);
	i += local_len;
	s[i++] = '@';
	for (size_t k = 0; k < domain_len; k++)
		s[i++] = (k % 50 == 49 && k + 1 < domain_len) ? '.' : 'd';
	s[i++] = '>';
	s[i] = '\0';
	return s;
}

static void test_limits(void **state)
{
	(void)state;
	struct {
		size_t local, domain;
		enum smtp_addr_status want;
	} t[] = {
		{ 64, 10, SMTP_ADDR_OK },
		{ 65, 10, SMTP_ADDR_TOO_LONG },
		{ 200, 10, SMTP_ADDR_TOO_LONG },
		{ 1, 252, SMTP_ADDR_OK },        /* path = 256 */
		{ 1, 253, SMTP_ADDR_TOO_LONG },  /* path = 257 */
		{ 1, 255, SMTP_ADDR_TOO_LONG },
		{ 1, 256, SMTP_ADDR_TOO_LONG },
		{ 1, 400, SMTP_ADDR_TOO_LONG },
		{ 64, 189, SMTP_ADDR_OK },       /* path = 256 */
		{ 64, 190, SMTP_ADDR_TOO_LONG }, /* path = 257 */
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		char *s = test_make_path(t[k].local, t[k].domain);
		struct smtp_addr a;
		size_t used;
		enum smtp_addr_status st = test_parse(s, strlen(s), 0, &a, &used);
		if (st != t[k].want)
			fail_msg("local %zu domain %zu: %d want %d", t[k].local, t[k].domain, st, t[k].want);
		if (st == SMTP_ADDR_OK) {
			assert_int_equal(strlen(a.local), t[k].local);
			assert_int_equal(strlen(a.domain), t[k].domain);
			assert_int_equal(used, strlen(s));
		}
		free(s);
	}

	/* label of 63 octets is fine, 64 is not (RFC 1035 2.3.4) */
	char buf[200];
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "<a@", 3);
	memset(buf + 3, 'x', 63);
	memcpy(buf + 66, ".org>", 5);
	struct smtp_addr a;
	size_t used;
	assert_int_equal(test_parse(buf, strlen(buf), 0, &a, &used), SMTP_ADDR_OK);
	memset(buf + 3, 'x', 64);
	memcpy(buf + 67, ".org>", 5);
	assert_int_equal(test_parse(buf, strlen(buf), 0, &a, &used), SMTP_ADDR_SYNTAX);

	/* the quoted local part counts with its quotes: 62 + 2 = 64 */
	memset(buf, 0, sizeof(buf));
	buf[0] = '<';
	buf[1] = '"';
	memset(buf + 2, 'q', 62);
	memcpy(buf + 64, "\"@x>", 4);
	assert_int_equal(test_parse(buf, strlen(buf), 0, &a, &used), SMTP_ADDR_OK);
	assert_true(a.quoted);
	assert_int_equal(strlen(a.local), 64);
	memset(buf + 2, 'q', 63);
	memcpy(buf + 65, "\"@x>", 4);
	assert_int_equal(test_parse(buf, strlen(buf), 0, &a, &used), SMTP_ADDR_TOO_LONG);

	/* a source route counts in the path length */
	char *s = test_make_path(1, 240);
	size_t sl = strlen(s);
	char *r = malloc(sl + 20);
	assert_non_null(r);
	memcpy(r, "<@relay.example:", 16);
	memcpy(r + 16, s + 1, sl); /* includes the NUL */
	assert_int_equal(test_parse(r, strlen(r), 0, &a, &used), SMTP_ADDR_TOO_LONG);
	assert_int_equal(test_parse(s, sl, 0, &a, &used), SMTP_ADDR_OK);
	free(r);
	free(s);
}

static void test_fields(void **state)
{
	(void)state;
	struct smtp_addr a;
	size_t used;

	/* the path ends at '>': what follows belongs to the caller */
	assert_int_equal(test_parse("<a@b> SIZE=10", 13, 0, &a, &used), SMTP_ADDR_OK);
	assert_int_equal(used, 5);
	assert_string_equal(a.local, "a");
	assert_string_equal(a.domain, "b");
	assert_false(a.is_null || a.quoted || a.domain_literal || a.utf8);

	assert_int_equal(test_parse("<>x", 3, F_NULL, &a, &used), SMTP_ADDR_OK);
	assert_int_equal(used, 2);
	assert_true(a.is_null);
	assert_string_equal(a.local, "");
	assert_string_equal(a.domain, "");

	assert_int_equal(test_parse("<\"a@b\"@c>", 9, 0, &a, &used), SMTP_ADDR_OK);
	assert_true(a.quoted);
	assert_string_equal(a.local, "\"a@b\"");
	assert_false(smtp_addr_local_is_plain(a.local));

	assert_int_equal(test_parse("<a%b@c>", 7, 0, &a, &used), SMTP_ADDR_OK);
	assert_false(smtp_addr_local_is_plain(a.local));

	assert_int_equal(test_parse("<@a,@b:u@d>", 11, 0, &a, &used), SMTP_ADDR_OK);
	assert_string_equal(a.local, "u");
	assert_string_equal(a.domain, "d");
	assert_int_equal(used, 11);

	assert_int_equal(test_parse("<u@[IPv6:::1]>", 14, 0, &a, &used), SMTP_ADDR_OK);
	assert_true(a.domain_literal);
	assert_string_equal(a.domain, "[IPv6:::1]");

	assert_int_equal(test_parse("<PostMaster>", 12, F_PM, &a, &used), SMTP_ADDR_OK);
	assert_string_equal(a.local, "PostMaster");
	assert_string_equal(a.domain, "");
	assert_false(a.is_null);

	assert_int_equal(test_parse("<j\xc3\xb6@x>", 7, F_UTF8, &a, &used), SMTP_ADDR_OK);
	assert_true(a.utf8);
	assert_true(smtp_addr_local_is_plain(a.local));

	/* a NUL is never part of an address */
	assert_int_equal(test_parse("<a\0b@c>", 7, F_UTF8, &a, &used), SMTP_ADDR_SYNTAX);
	assert_int_equal(test_parse("<\"a\0b\"@c>", 9, F_UTF8, &a, &used), SMTP_ADDR_SYNTAX);
	assert_int_equal(test_parse("<a@b\0>", 6, F_UTF8, &a, &used), SMTP_ADDR_SYNTAX);
	/* a length shorter than the string cuts the path */
	assert_int_equal(test_parse("<a@b>", 4, 0, &a, &used), SMTP_ADDR_SYNTAX);
	assert_int_equal(test_parse("<>", 1, F_NULL, &a, &used), SMTP_ADDR_SYNTAX);
}

static void test_format(void **state)
{
	(void)state;
	struct smtp_addr a;
	size_t used;
	char out[8];

	assert_int_equal(test_parse("<ab@cd>", 7, 0, &a, &used), SMTP_ADDR_OK);
	assert_int_equal(smtp_addr_format(&a, out, 6), 0); /* "ab@cd" + NUL */
	assert_string_equal(out, "ab@cd");
	assert_int_equal(smtp_addr_format(&a, out, 5), -1);
	assert_int_equal(smtp_addr_format(&a, out, 0), -1);

	assert_int_equal(test_parse("<>", 2, F_NULL, &a, &used), SMTP_ADDR_OK);
	assert_int_equal(smtp_addr_format(&a, out, 1), 0);
	assert_string_equal(out, "");

	assert_int_equal(test_parse("<postmaster>", 12, F_PM, &a, &used), SMTP_ADDR_OK);
	assert_int_equal(smtp_addr_format(&a, out, sizeof(out)), -1);
	char big[16];
	assert_int_equal(smtp_addr_format(&a, big, sizeof(big)), 0);
	assert_string_equal(big, "postmaster");
}

static void test_local_is_plain(void **state)
{
	(void)state;
	static const struct {
		const char *local;
		bool plain;
	} t[] = {
		{ "alice", true },
		{ "Alice.Smith", true },
		{ "a+tag", true },
		{ "a-b_c", true },
		{ "#$&'*+-=?^_`{|}~", true },
		{ "1", true },
		{ "j\xc3\xb6rg", true },
		{ "a%b", false },
		{ "a!b", false },
		{ "a/b", false },
		{ ".a", false },
		{ "a.", false },
		{ "a..b", false },
		{ ".", false },
		{ "..", false },
		{ "", false },
		{ "\"a\"", false },
		{ "a b", false },
		{ "a@b", false },
		{ "a\\b", false },
		{ "a\xff", false },
		{ "a\xc3", false },
		{ "a\xed\xa0\x80", false },
		{ "a\tb", false },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++)
		if (smtp_addr_local_is_plain(t[k].local) != t[k].plain)
			fail_msg("\"%s\": want %d", t[k].local, t[k].plain);
}

static void test_utf8_seq(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t want;
	} t[] = {
		{ "\xc3\xa9", 2 },         { "\xc2\x80", 2 },         { "\xdf\xbf", 2 },
		{ "\xc0\x80", 0 },         { "\xc1\xbf", 0 },         { "\xe0\x80\x80", 0 },
		{ "\xe0\x9f\xbf", 0 },     { "\xe0\xa0\x80", 3 },     { "\xed\x9f\xbf", 3 },
		{ "\xed\xa0\x80", 0 },     { "\xed\xbf\xbf", 0 },     { "\xee\x80\x80", 3 },
		{ "\xef\xbf\xbf", 3 },     { "\xf0\x8f\xbf\xbf", 0 }, { "\xf0\x90\x80\x80", 4 },
		{ "\xf4\x8f\xbf\xbf", 4 }, { "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },
		{ "\xff", 0 },             { "\x80", 0 },             { "\xbf", 0 },
		{ "\xe2\x82", 0 },         { "\xe2\x82\x41", 0 },     { "\xf0\x9f\x98", 0 },
		{ "\xc3\x41", 0 },         { "\xc3\xc3", 0 },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		size_t n = strlen(t[k].s);
		char *copy = malloc(n);
		assert_non_null(copy);
		memcpy(copy, t[k].s, n);
		if (smtp_addr_utf8_seq(copy, n) != t[k].want)
			fail_msg("case %zu: want %zu", k, t[k].want);
		free(copy);
	}
	assert_int_equal(smtp_addr_utf8_seq("\xc3\xa9", 1), 0);
	assert_int_equal(smtp_addr_utf8_seq("", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),  cmocka_unit_test(test_invalid),        cmocka_unit_test(test_limits),
		cmocka_unit_test(test_fields), cmocka_unit_test(test_format),         cmocka_unit_test(test_local_is_plain),
		cmocka_unit_test(test_utf8_seq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
