/*
 * fuzz_smtp_cmd — libFuzzer target for proto/smtp_cmd (RFC 5321 4.1.1,
 * RFC 1870, RFC 3030, RFC 6531).
 *
 * Byte 0 picks the parser (low 3 bits) and utf8_ok for RCPT (bit 3); the
 * rest is a command line (for 0) or an argument. Besides memory safety:
 * the split points into the line, an accepted MAIL/RCPT path obeys
 * SMTPUTF8, a BDAT size matches strtoull, an accepted HELO holds no blank
 * or control.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_cmd.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

static void fuzz_smtp_cmd_line(const char *s, size_t n)
{
	struct smtp_cmd c;
	int rc = smtp_cmd_parse(s, n, &c);
	bool bad = memchr(s, '\0', n) || memchr(s, '\r', n) || memchr(s, '\n', n);

	if (bad)
		FUZZ_CHECK(rc == -1);
	if (rc < 0)
		return;
	if (c.has_arg) {
		FUZZ_CHECK(c.arg > s && c.arg <= s + n && c.arg[-1] == ' ');
		FUZZ_CHECK((size_t)(c.arg - s) + c.arglen == n);
		FUZZ_CHECK(memchr(s, ' ', (size_t)(c.arg - s) - 1) == NULL);
	} else {
		FUZZ_CHECK(c.arglen == 0 && memchr(s, ' ', n) == NULL);
	}
	if (c.verb == SMTP_VERB_MAIL && c.has_arg) {
		struct smtp_addr a;
		struct smtp_mail_params p;
		if (smtp_cmd_parse_mail(c.arg, c.arglen, &a, &p) == SMTP_PARAM_OK)
			FUZZ_CHECK(!a.utf8 || p.smtputf8);
	}
}

static void fuzz_smtp_cmd_bdat(const char *s, size_t n)
{
	uint64_t size = 0;
	bool last = false;

	if (smtp_cmd_parse_bdat(s, n, &size, &last) < 0)
		return;
	size_t d = 0;
	while (d < n && s[d] >= '0' && s[d] <= '9')
		d++;
	FUZZ_CHECK(d >= 1 && d <= 20);
	FUZZ_CHECK(last == (d < n));
	if (last)
		FUZZ_CHECK(n - d == 5);
	char z[21];
	memcpy(z, s, d);
	z[d] = '\0';
	FUZZ_CHECK(strtoull(z, NULL, 10) == size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned which = data[0] & 7;
	bool utf8_ok = (data[0] & 8) != 0;
	size_t n = size - 1;
	char *s = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 1, n);

	switch (which) {
	case 0:
		fuzz_smtp_cmd_line(s, n);
		break;
	case 1: {
		struct smtp_addr a;
		struct smtp_mail_params p;
		enum smtp_param_status st = smtp_cmd_parse_mail(s, n, &a, &p);
		if (st == SMTP_PARAM_OK) {
			FUZZ_CHECK(!a.utf8 || p.smtputf8);
			FUZZ_CHECK(p.has_size || p.size == 0);
		}
		break;
	}
	case 2: {
		struct smtp_addr a;
		if (smtp_cmd_parse_rcpt(s, n, utf8_ok, &a) == SMTP_PARAM_OK)
			FUZZ_CHECK(!a.is_null && (utf8_ok || !a.utf8));
		break;
	}
	case 3:
		fuzz_smtp_cmd_bdat(s, n);
		break;
	default:
		if (smtp_cmd_check_helo(s, n) == 0) {
			FUZZ_CHECK(n >= 1 && n <= SMTP_DOMAIN_MAX);
			for (size_t k = 0; k < n; k++)
				FUZZ_CHECK((unsigned char)s[k] > 0x20 && s[k] != 0x7f);
		}
		break;
	}
	free(s);
	return 0;
}
