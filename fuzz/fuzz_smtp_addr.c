/*
 * fuzz_smtp_addr — libFuzzer target for proto/smtp_addr (RFC 5321 4.1.2,
 * 4.1.3, 4.5.3.1; RFC 6531; RFC 3629).
 *
 * Byte 0 holds the flags: bit 0 allow_null, bit 1 utf8_ok, bit 2
 * allow_postmaster, bits 3-4 pick what the rest is: a path (0), the
 * inside of an "[IPv6:...]" literal (1), the inside of a "[...]" literal
 * (2). Checked: the limits, the round trip through smtp_addr_format, that
 * UTF-8 only changes SYNTAX/OK into NEEDS_UTF8, the UTF-8 validator
 * against a reference decoder, and the IP literals against inet_pton().
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_addr.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

/* Reference UTF-8 decoder: decode, then judge the code point. */
static size_t fuzz_smtp_addr_utf8_ref(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp, min;

	if (n == 0)
		return 0;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static enum smtp_addr_status fuzz_smtp_addr_parse(const char *s, size_t n, unsigned f, struct smtp_addr *a,
                                                  size_t *used)
{
	char *copy = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, s, n);
	enum smtp_addr_status st = smtp_addr_parse(copy, n, f & 1, f & 2, f & 4, a, used);
	free(copy);
	return st;
}

static void fuzz_smtp_addr_path(const char *s, size_t n, unsigned f)
{
	struct smtp_addr a, b;
	size_t used, used2;
	enum smtp_addr_status st = fuzz_smtp_addr_parse(s, n, f, &a, &used);

	/* Non-ASCII only ever turns an otherwise good path into NEEDS_UTF8. */
	enum smtp_addr_status st8 = fuzz_smtp_addr_parse(s, n, f | 2, &b, &used2);
	if (f & 2) {
		FUZZ_CHECK(st == st8);
	} else if (st8 == SMTP_ADDR_OK) {
		bool high = false;
		for (size_t k = 0; k < used2; k++)
			high |= (unsigned char)s[k] >= 0x80;
		FUZZ_CHECK(st == (high ? SMTP_ADDR_NEEDS_UTF8 : SMTP_ADDR_OK));
	} else {
		FUZZ_CHECK(st == st8);
	}
	FUZZ_CHECK(st8 != SMTP_ADDR_NEEDS_UTF8);

	if (st != SMTP_ADDR_OK) {
		FUZZ_CHECK(used == 0);
		return;
	}
	FUZZ_CHECK(used >= 2 && used <= n && used <= SMTP_PATH_MAX);
	FUZZ_CHECK(s[0] == '<' && s[used - 1] == '>');
	FUZZ_CHECK(memchr(s, '\0', used) == NULL);
	FUZZ_CHECK(strlen(a.local) <= SMTP_LOCAL_MAX && strlen(a.domain) <= SMTP_DOMAIN_MAX);
	if (a.is_null)
		FUZZ_CHECK(used == 2 && (f & 1) && a.local[0] == '\0' && a.domain[0] == '\0');
	if (!a.is_null && a.domain[0] == '\0')
		FUZZ_CHECK((f & 4) && strlen(a.local) == 10);
	if (a.domain[0] != '\0') {
		size_t dl = strlen(a.domain);
		FUZZ_CHECK(a.domain[dl - 1] != '.');
		FUZZ_CHECK(a.domain_literal == (a.domain[0] == '['));
	}
	FUZZ_CHECK(a.quoted == (a.local[0] == '"'));

	/* the path ends at '>': trailing octets change nothing */
	FUZZ_CHECK(fuzz_smtp_addr_parse(s, used, f, &b, &used2) == SMTP_ADDR_OK);
	FUZZ_CHECK(used2 == used && memcmp(&a, &b, sizeof(a)) == 0);

	/* round trip: "<" formatted ">" parses to the same address */
	char out[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 4];
	FUZZ_CHECK(smtp_addr_format(&a, out + 1, sizeof(out) - 2) == 0);
	size_t ol = strlen(out + 1);
	out[0] = '<';
	out[ol + 1] = '>';
	FUZZ_CHECK(fuzz_smtp_addr_parse(out, ol + 2, f, &b, &used2) == SMTP_ADDR_OK);
	FUZZ_CHECK(used2 == ol + 2);
	FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);

	if (smtp_addr_local_is_plain(a.local)) {
		FUZZ_CHECK(strpbrk(a.local, "%!/\"\\@ ") == NULL);
		FUZZ_CHECK(a.local[0] != '.' && strstr(a.local, "..") == NULL);
	}
}

/* Wrap `inner` as "<a@" pre inner "]>" and parse it. */
static bool fuzz_smtp_addr_literal_ok(const char *pre, const char *inner, size_t n)
{
	size_t pl = strlen(pre);
	char *s = malloc(pl + n + 6);
	FUZZ_CHECK(s != NULL);
	memcpy(s, "<a@", 3);
	memcpy(s + 3, pre, pl);
	memcpy(s + 3 + pl, inner, n);
	memcpy(s + 3 + pl + n, "]>", 2);
	struct smtp_addr a;
	size_t used;
	bool ok = fuzz_smtp_addr_parse(s, pl + n + 5, 0, &a, &used) == SMTP_ADDR_OK;
	free(s);
	return ok;
}

/* The literals against libc's inet_pton (same rules: dotted quad without
 * leading zeros, RFC 4291 text forms). */
static void fuzz_smtp_addr_literal(const char *s, size_t n, bool v6)
{
	char z[300];
	unsigned char bin[16];

	if (n >= sizeof(z))
		return;
	/* stay inside dcontent, where the grammar, not the brackets, decides */
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
			return;
	}
	memcpy(z, s, n);
	z[n] = '\0';
	if (v6) {
		bool ok = fuzz_smtp_addr_literal_ok("[IPv6:", s, n);
		FUZZ_CHECK(ok == (inet_pton(AF_INET6, z, bin) == 1));
	} else if (memchr(s, ':', n) == NULL) {
		bool ok = fuzz_smtp_addr_literal_ok("[", s, n);
		FUZZ_CHECK(ok == (inet_pton(AF_INET, z, bin) == 1));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned f = data[0] & 7, kind = (data[0] >> 3) & 3;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	for (size_t k = 0; k < n; k++) {
		size_t want = fuzz_smtp_addr_utf8_ref((const unsigned char *)s + k, n - k);
		if ((unsigned char)s[k] < 0x80)
			continue;
		FUZZ_CHECK(smtp_addr_utf8_seq(s + k, n - k) == want);
	}
	if (kind == 1)
		fuzz_smtp_addr_literal(s, n, true);
	else if (kind == 2)
		fuzz_smtp_addr_literal(s, n, false);
	else
		fuzz_smtp_addr_path(s, n, f);
	return 0;
}
