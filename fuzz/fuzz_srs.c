/*
 * fuzz_srs — libFuzzer target for crypto/srs (the Sender Rewriting
 * Scheme), with a fixed secret.
 *
 * Byte 0 picks what to do (bits 0-1) and whether our domain comes from
 * the input (bit 2: the text is then "sender\nour_domain"); byte 1 picks
 * outlen (0..127, else SRS_ADDR_MAX + 1 and up); bytes 2-9 are now, also
 * the seed for the edits; the rest is the text. Every out is allocated
 * at exactly outlen, so ASan sees a write past it. Besides memory safety:
 * - any failure leaves out "" and any success fits outlen and
 *   SRS_ADDR_MAX; a short out changes an answer only to SRS_TOO_LONG;
 * - srs_is_srs says exactly when srs_reverse answers other than
 *   SRS_NOT_SRS;
 * - what srs_forward makes is SRS; unless it was one of ours passed
 *   through, it reverses to the sender, for 21 days and one ahead and
 *   no longer, and not under another secret;
 * - what it makes survives any change of ASCII case on the way back, and
 *   no other change of one octet in its local part.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/srs.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

#define FUZZ_DAY 86400
#define FUZZ_FULL (SRS_ADDR_MAX + 1)

static const unsigned char fuzz_secret[] = "fuzz-srs-secret";
static const unsigned char fuzz_other[] = "fuzz-srs-other";
#define FUZZ_SECRET fuzz_secret, sizeof fuzz_secret - 1

static char fuzz_srs_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool fuzz_srs_caseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		if (fuzz_srs_lower(*a) != fuzz_srs_lower(*b))
			return false;
		if (*a == '\0')
			return true;
	}
}

/* The status and out of a call made with an out of exactly outlen,
 * checked against the same call made with all the room there is. */
static void fuzz_srs_check_out(enum srs_status st, const char *out, size_t outlen, enum srs_status full_st,
                               const char *full)
{
	if (outlen > 0 && st != SRS_OK)
		FUZZ_CHECK(out[0] == '\0');
	if (full_st != SRS_OK)
		FUZZ_CHECK(full[0] == '\0');
	if (st == SRS_OK) {
		size_t n = strlen(out);
		FUZZ_CHECK(n < outlen && n <= SRS_ADDR_MAX);
		FUZZ_CHECK(full_st == SRS_OK && strcmp(out, full) == 0);
	} else if (full_st == SRS_OK) {
		FUZZ_CHECK(st == SRS_TOO_LONG && strlen(full) >= outlen);
	} else {
		FUZZ_CHECK(st == full_st);
	}
}

static void fuzz_srs_reverse(const char *addr, int64_t now, size_t outlen)
{
	char *out = malloc(outlen ? outlen : 1), full[FUZZ_FULL];
	FUZZ_CHECK(out != NULL);
	enum srs_status st = srs_reverse(FUZZ_SECRET, now, addr, outlen ? out : NULL, outlen);
	enum srs_status full_st = srs_reverse(FUZZ_SECRET, now, addr, full, sizeof full);
	fuzz_srs_check_out(st, out, outlen, full_st, full);
	FUZZ_CHECK(srs_is_srs(addr) == (full_st != SRS_NOT_SRS));
	FUZZ_CHECK(srs_status_text(full_st) != NULL);
	if (full_st == SRS_OK)
		FUZZ_CHECK(strchr(full, '@') != NULL);
	free(out);
}

/* Forward sender; on success the round trips. */
static void fuzz_srs_forward(const char *sender, const char *ours, int64_t now, size_t outlen)
{
	char *out = malloc(outlen ? outlen : 1), full[FUZZ_FULL], back[FUZZ_FULL];
	FUZZ_CHECK(out != NULL);
	enum srs_status st = srs_forward(FUZZ_SECRET, now, sender, ours, outlen ? out : NULL, outlen);
	enum srs_status full_st = srs_forward(FUZZ_SECRET, now, sender, ours, full, sizeof full);
	fuzz_srs_check_out(st, out, outlen, full_st, full);
	free(out);
	if (strchr(sender, '@') == NULL)
		FUZZ_CHECK(full_st == SRS_SYNTAX || full_st == SRS_TOO_LONG);
	if (full_st != SRS_OK)
		return;
	FUZZ_CHECK(srs_is_srs(full));
	/* one of ours passing through comes back as it went in */
	if (strcmp(full, sender) == 0 && srs_is_srs(sender))
		return;
	FUZZ_CHECK(srs_reverse(FUZZ_SECRET, now, full, back, sizeof back) == SRS_OK);
	FUZZ_CHECK(strcmp(back, sender) == 0);
	FUZZ_CHECK(srs_reverse(fuzz_other, sizeof fuzz_other - 1, now, full, back, sizeof back) == SRS_BAD_HASH);
	if (now > INT64_MIN + 30 * (int64_t)FUZZ_DAY && now < INT64_MAX - 30 * (int64_t)FUZZ_DAY) {
		int64_t day = now / FUZZ_DAY * FUZZ_DAY - (now % FUZZ_DAY < 0 ? FUZZ_DAY : 0);
		FUZZ_CHECK(srs_reverse(FUZZ_SECRET, day + 22 * FUZZ_DAY - 1, full, back, sizeof back) == SRS_OK);
		FUZZ_CHECK(srs_reverse(FUZZ_SECRET, day + 22 * FUZZ_DAY, full, back, sizeof back) == SRS_EXPIRED);
		FUZZ_CHECK(srs_reverse(FUZZ_SECRET, day - 1, full, back, sizeof back) == SRS_OK);
		FUZZ_CHECK(srs_reverse(FUZZ_SECRET, day - FUZZ_DAY - 1, full, back, sizeof back) == SRS_EXPIRED);
	}
}

static uint64_t fuzz_srs_next(uint64_t *x)
{
	/* xorshift64: cheap edits that follow the input */
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Forward sender, then edit the result and take it back. */
static void fuzz_srs_edit(const char *sender, const char *ours, int64_t now, bool one_octet)
{
	char made[FUZZ_FULL], back[FUZZ_FULL];
	if (srs_forward(FUZZ_SECRET, now, sender, ours, made, sizeof made) != SRS_OK)
		return;
	if (strcmp(made, sender) == 0 && srs_is_srs(sender))
		return;
	size_t n = strlen(made), at = (size_t)(strrchr(made, '@') - made);
	uint64_t x = (uint64_t)now | 1;
	if (!one_octet) {
		for (size_t i = 0; i < n; i++) {
			char c = made[i];
			if ((fuzz_srs_next(&x) & 1) && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
				made[i] = (char)(c ^ 0x20);
		}
		FUZZ_CHECK(srs_reverse(FUZZ_SECRET, now, made, back, sizeof back) == SRS_OK);
		FUZZ_CHECK(fuzz_srs_caseeq(back, sender));
		return;
	}
	size_t pos = (size_t)(fuzz_srs_next(&x) % at);
	char v = (char)(fuzz_srs_next(&x) & 0xff);
	if (fuzz_srs_lower(v) == fuzz_srs_lower(made[pos]))
		return;
	made[pos] = v;
	/* a 40-bit hash lets one forgery in 2^40 through; never in a run */
	FUZZ_CHECK(srs_reverse(FUZZ_SECRET, now, made, back, sizeof back) != SRS_OK);
	FUZZ_CHECK(back[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 10)
		return 0;
	unsigned mode = data[0] & 3;
	bool own_domain = data[0] & 4;
	size_t outlen = data[1] < 128 ? data[1] : FUZZ_FULL + (size_t)(data[1] - 128);
	uint64_t u = 0;
	for (size_t i = 0; i < 8; i++)
		u = (u << 8) | data[2 + i];
	int64_t now;
	memcpy(&now, &u, sizeof now);

	size_t n = size - 10;
	char *text = malloc(n + 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(text != NULL);
	memcpy(text, data + 10, n);
	text[n] = '\0';
	const char *ours = "fwd.example.net";
	char *nl = own_domain ? memchr(text, '\n', n) : NULL;
	if (nl != NULL) {
		*nl = '\0';
		ours = nl + 1;
	}
	switch (mode) {
	case 0: fuzz_srs_reverse(text, now, outlen); break;
	case 1: fuzz_srs_forward(text, ours, now, outlen); break;
	case 2: fuzz_srs_edit(text, ours, now, false); break;
	default: fuzz_srs_edit(text, ours, now, true); break;
	}
	free(text);
	return 0;
}
