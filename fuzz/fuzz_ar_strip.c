/*
 * fuzz_ar_strip — libFuzzer target for proto/ar_strip, the filter that
 * removes the Authentication-Results fields claiming our authserv-id
 * (RFC 8601 5).
 *
 * Input: byte 0 picks the authserv-id (mod 3) and, with byte 1, where
 * the first piece ends; the rest is the message. After the first piece,
 * each piece is 1 to 16 octets long, the length read from the message
 * octet it starts at, so the cuts move with the text. Besides memory
 * safety:
 * - the output and the count are the same fed whole, in those pieces
 *   and one octet at a time;
 * - they equal those of a slow reference written here: the header
 *   section cut into fields line by line, each Authentication-Results
 *   field judged whole;
 * - nothing removed means nothing changed;
 * - when the id does not occur in the input (in any case, and with
 *   quoted-pair backslashes taken out), the output is the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/ar_strip.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

#define FUZZ_AR_NAME "Authentication-Results"
#define FUZZ_AR_NAME_LEN (sizeof FUZZ_AR_NAME - 1)
/* How much of a line ar_strip looks at to tell its name: past that, all
 * blanks after the name count as a field still heading for its colon. */
#define FUZZ_AR_WINDOW (FUZZ_AR_NAME_LEN + 64)

static const char *const fuzz_ar_strip_ids[] = { "mx.example.org", "x", "A.b" };

/* Feed in[0..first), then pieces whose length comes from the text, or
 * one octet at a time (bytewise); then finish. Returns the count. */
static size_t fuzz_ar_strip_run(const char *id, const char *in, size_t n, size_t first, bool bytewise,
                                struct buf *out)
{
	struct ar_strip s;
	ar_strip_init(&s, id);
	size_t pos = 0;
	if (!bytewise) {
		FUZZ_CHECK(ar_strip_feed(&s, in, first, out) == 0);
		pos = first;
	}
	while (pos < n) {
		size_t k = bytewise ? 1 : 1 + (unsigned char)in[pos] % 16;
		if (k > n - pos)
			k = n - pos;
		/* an exact-size copy: ASan catches any read past the piece */
		char *piece = malloc(k);
		FUZZ_CHECK(piece != NULL);
		memcpy(piece, in + pos, k);
		FUZZ_CHECK(ar_strip_feed(&s, piece, k, out) == 0);
		free(piece);
		pos += k;
	}
	FUZZ_CHECK(ar_strip_finish(&s, out) == 0);
	size_t removed = s.removed;
	ar_strip_free(&s);
	return removed;
}

/* Does the line (its octets up to and with its LF, if it has one) begin
 * an Authentication-Results field: the name, then blanks and a colon,
 * or blanks to the end of the window? */
static bool fuzz_ar_strip_is_ar_line(const char *l, size_t n)
{
	if (n < FUZZ_AR_NAME_LEN || strncasecmp(l, FUZZ_AR_NAME, FUZZ_AR_NAME_LEN) != 0)
		return false;
	/* strncasecmp stops at a NUL: make sure none was in the name */
	if (memchr(l, '\0', FUZZ_AR_NAME_LEN) != NULL)
		return false;
	size_t i = FUZZ_AR_NAME_LEN;
	while (i < n && i < FUZZ_AR_WINDOW && (l[i] == ' ' || l[i] == '\t'))
		i++;
	return i == FUZZ_AR_WINDOW || (i < n && l[i] == ':');
}

/* The reference: one pass over whole lines and whole fields. */
static size_t fuzz_ar_strip_ref(const char *id, const char *in, size_t n, struct buf *out)
{
	size_t removed = 0, i = 0;
	while (i < n) {
		const char *nl = memchr(in + i, '\n', n - i);
		size_t ll = nl ? (size_t)(nl - (in + i)) + 1 : n - i;
		const char *l = in + i;
		/* the empty line: the rest is the body, untouched */
		if ((ll == 1 && l[0] == '\n') || (ll == 2 && l[0] == '\r' && l[1] == '\n')) {
			FUZZ_CHECK(buf_append(out, in + i, n - i) == 0);
			return removed;
		}
		if (!fuzz_ar_strip_is_ar_line(l, ll)) {
			/* another field, or a continuation of one, passes */
			FUZZ_CHECK(buf_append(out, l, ll) == 0);
			i += ll;
			continue;
		}
		/* the field: this line and the continuation lines after it */
		size_t end = i + ll;
		while (end < n && (in[end] == ' ' || in[end] == '\t')) {
			const char *nl2 = memchr(in + end, '\n', n - end);
			end = nl2 ? (size_t)(nl2 - in) + 1 : n;
		}
		if (end - i > AR_STRIP_FIELD_MAX || ar_strip_is_ours(in + i, end - i, id))
			removed++;
		else
			FUZZ_CHECK(buf_append(out, in + i, end - i) == 0);
		i = end;
	}
	return removed;
}

/* Could the id be read anywhere in the input: as it stands, in any case,
 * once backslashes (quoted-pairs) are taken out? */
static bool fuzz_ar_strip_id_occurs(const char *id, const char *in, size_t n)
{
	char *t = malloc(n + 1);
	FUZZ_CHECK(t != NULL);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (in[i] != '\\')
			t[k++] = in[i];
	size_t idn = strlen(id);
	bool found = false;
	for (size_t i = 0; i + idn <= k && !found; i++)
		found = strncasecmp(t + i, id, idn) == 0 && memchr(t + i, '\0', idn) == NULL;
	free(t);
	return found;
}

static bool fuzz_ar_strip_equal(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *id = fuzz_ar_strip_ids[data[0] % 3];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	size_t first = ((size_t)(data[0] / 3) << 8 | data[1]) % (n + 1);

	struct buf whole, cut, bytes, ref;
	buf_init(&whole, 0);
	buf_init(&cut, 0);
	buf_init(&bytes, 0);
	buf_init(&ref, 0);
	size_t removed = fuzz_ar_strip_run(id, in, n, n, false, &whole);
	FUZZ_CHECK(fuzz_ar_strip_run(id, in, n, first, false, &cut) == removed);
	FUZZ_CHECK(fuzz_ar_strip_equal(&whole, &cut));
	FUZZ_CHECK(fuzz_ar_strip_run(id, in, n, 0, true, &bytes) == removed);
	FUZZ_CHECK(fuzz_ar_strip_equal(&whole, &bytes));
	FUZZ_CHECK(fuzz_ar_strip_ref(id, in, n, &ref) == removed);
	FUZZ_CHECK(fuzz_ar_strip_equal(&whole, &ref));

	/* removing never adds: nothing removed, nothing changed */
	FUZZ_CHECK(whole.len <= n);
	if (removed == 0)
		FUZZ_CHECK(whole.len == n && (n == 0 || memcmp(whole.data, in, n) == 0));
	/* no field can be too long in an input this short */
	if (n <= AR_STRIP_FIELD_MAX && !fuzz_ar_strip_id_occurs(id, in, n))
		FUZZ_CHECK(removed == 0 && whole.len == n && (n == 0 || memcmp(whole.data, in, n) == 0));

	buf_free(&whole);
	buf_free(&cut);
	buf_free(&bytes);
	buf_free(&ref);
	return 0;
}
