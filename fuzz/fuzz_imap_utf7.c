/*
 * fuzz_imap_utf7 — libFuzzer target for proto/imap_utf7 (modified UTF-7
 * of RFC 3501 5.1.3 / RFC 9051 5.1.3, and UTF-8 names).
 *
 * Byte 0 picks the direction (bit 0) and an output size for the bounds
 * check (the rest); the other bytes are a name. Besides memory safety:
 * - valid modified UTF-7 decodes to a valid UTF-8 name that encodes
 *   back to exactly the input (one spelling per name), and invalid input
 *   fails to decode;
 * - a valid UTF-8 name encodes to valid modified UTF-7 that decodes back
 *   to the input, and an invalid one fails to encode;
 * - into a smaller output (allocated to its exact size, so ASan sees any
 *   overrun) either direction fails or gives the same answer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_utf7.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

typedef int (*fuzz_conv)(const char *, size_t, char *, size_t);

/* conv into exactly outlen octets: fails, or agrees with want. */
static void fuzz_imap_utf7_small(fuzz_conv conv, const char *in, size_t n, size_t outlen, const char *want)
{
	char *out = malloc(outlen ? outlen : 1);
	FUZZ_CHECK(out != NULL);
	int rc = conv(in, n, out, outlen);
	if (rc == 0) {
		FUZZ_CHECK(want != NULL);
		FUZZ_CHECK(strlen(out) == strlen(want) && strcmp(out, want) == 0);
		FUZZ_CHECK(strlen(want) < outlen);
	} else if (outlen > 0) {
		FUZZ_CHECK(memchr(out, '\0', outlen) != NULL);
		/* Refusing for room means the answer did not fit. */
		FUZZ_CHECK(want == NULL || strlen(want) >= outlen);
	}
	free(out);
}

static void fuzz_imap_utf7_decode(const char *s, size_t n, size_t small)
{
	/* A run of c characters holds at most 6c/16 units of at most 3
	 * octets of UTF-8 each (a surrogate pair: 4 octets for 2 units). */
	size_t cap = 2 * n + 1;
	char *dec = malloc(cap), *enc = malloc(n + 1);
	FUZZ_CHECK(dec != NULL && enc != NULL);
	bool valid = imap_utf7_is_valid(s, n);
	int rc = imap_utf7_to_utf8(s, n, dec, cap);
	FUZZ_CHECK(valid == (rc == 0));
	if (valid) {
		size_t dn = strlen(dec);
		FUZZ_CHECK(imap_utf8_is_valid_name(dec, dn));
		FUZZ_CHECK(imap_utf8_to_utf7(dec, dn, enc, n + 1) == 0);
		FUZZ_CHECK(strlen(enc) == n && memcmp(enc, s, n) == 0);
	}
	fuzz_imap_utf7_small(imap_utf7_to_utf8, s, n, small, valid ? dec : NULL);
	free(dec);
	free(enc);
}

static void fuzz_imap_utf7_encode(const char *s, size_t n, size_t small)
{
	/* At worst 8 octets of modified UTF-7 for a 4-octet character, 5
	 * for a 2-octet one, 2 for "&". */
	size_t cap = 3 * n + 1;
	char *enc = malloc(cap), *dec = malloc(n + 1);
	FUZZ_CHECK(enc != NULL && dec != NULL);
	bool valid = imap_utf8_is_valid_name(s, n);
	int rc = imap_utf8_to_utf7(s, n, enc, cap);
	FUZZ_CHECK(valid == (rc == 0));
	if (valid) {
		size_t en = strlen(enc);
		FUZZ_CHECK(imap_utf7_is_valid(enc, en));
		for (size_t k = 0; k < en; k++)
			FUZZ_CHECK(enc[k] >= 0x20 && enc[k] <= 0x7e);
		FUZZ_CHECK(imap_utf7_to_utf8(enc, en, dec, n + 1) == 0);
		FUZZ_CHECK(strlen(dec) == n && memcmp(dec, s, n) == 0);
	}
	fuzz_imap_utf7_small(imap_utf8_to_utf7, s, n, small, valid ? enc : NULL);
	free(enc);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t n = size - 1;
	size_t small = (size_t)(data[0] >> 1) % (3 * n + 2);
	char *s = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(s != NULL);
	memcpy(s, data + 1, n);
	if (data[0] & 1)
		fuzz_imap_utf7_encode(s, n, small);
	else
		fuzz_imap_utf7_decode(s, n, small);
	free(s);
	return 0;
}
