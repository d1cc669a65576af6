/*
 * fuzz_mime — libFuzzer target for proto/mime: the streaming MIME
 * parser (RFC 2045, 2046, 5322) and what IMAP makes of it (ENVELOPE,
 * BODYSTRUCTURE, BODY, sections of RFC 9051 6.4.5, HEADER.FIELDS), and
 * the text search with its decoders (RFC 2045 6.7-6.8, RFC 2047).
 *
 * Bytes 0-1 choose a split offset and byte 2 a feed size; the rest is
 * the message. Besides memory safety:
 * - feeding it whole, split once and in small pieces gives the same
 *   tree, and the header-only mode the same envelope;
 * - the tree's offsets ascend and lie within the message, its parts
 *   link consistently, its wire sizes add up; the strings exist and
 *   their parentheses balance outside quoted strings and literals;
 * - every section found lies within the message and its wire size is
 *   that of its octets with bare LFs made CR LF;
 * - HEADER.FIELDS output has CR LF line ends only;
 * - the search answers the same however the message is fed, and again
 *   after a reset.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/mime.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

/* Feed the first `split` octets, then the rest in pieces of `step` (0:
 * at once). */
static int fuzz_parse(const char *m, size_t n, size_t split, size_t step, enum mime_mode mode, struct mime_tree *t)
{
	struct mime_parser *p = mime_parser_new(mode);
	FUZZ_CHECK(p != NULL);
	FUZZ_CHECK(mime_parser_feed(p, m, split) == 0);
	for (size_t i = split; i < n;) {
		size_t k = step == 0 || n - i < step ? n - i : step;
		FUZZ_CHECK(mime_parser_feed(p, m + i, k) == 0);
		i += k;
	}
	return mime_parser_finish(p, t);
}

static void fuzz_balanced(const char *s)
{
	FUZZ_CHECK(s != NULL);
	long depth = 0;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				FUZZ_CHECK(s[i] != '\r' && s[i] != '\n' && (unsigned char)s[i] < 0x80);
				if (s[i] == '\\') {
					i++;
					FUZZ_CHECK(i < n && (s[i] == '"' || s[i] == '\\'));
				}
			}
			FUZZ_CHECK(i < n);
		} else if (s[i] == '{') {
			char *end;
			unsigned long long len = strtoull(s + i + 1, &end, 10);
			FUZZ_CHECK(end[0] == '}' && end[1] == '\r' && end[2] == '\n');
			FUZZ_CHECK(len <= n);
			i = (size_t)(end + 2 - s) + (size_t)len;
			FUZZ_CHECK(i < n);
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			depth--;
			FUZZ_CHECK(depth >= 0);
		}
	}
	FUZZ_CHECK(depth == 0);
}

/* Octets of m[off, off + len) on the wire. */
static uint64_t fuzz_wire(const char *m, uint64_t off, uint64_t len)
{
	uint64_t w = len;
	for (uint64_t i = off; i < off + len; i++)
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			w++;
	return w;
}

static void fuzz_sane(const struct mime_tree *t, const char *m, size_t n)
{
	FUZZ_CHECK(t->n >= 1 && t->n <= MIME_PARTS_MAX);
	fuzz_balanced(t->envelope);
	fuzz_balanced(t->body);
	fuzz_balanced(t->bodystructure);
	FUZZ_CHECK(t->vsize == fuzz_wire(m, 0, n));
	FUZZ_CHECK(t->parts[0].parent == MIME_NONE && t->parts[0].hdr_off == 0 && t->parts[0].end_off == n);
	FUZZ_CHECK(t->vsize == t->parts[0].hdr_vsize + t->parts[0].body_vsize);
	for (size_t i = 0; i < t->n; i++) {
		const struct mime_part *p = &t->parts[i];
		FUZZ_CHECK(p->hdr_off <= p->body_off && p->body_off <= p->end_off && p->end_off <= n);
		FUZZ_CHECK(p->hdr_vsize == fuzz_wire(m, p->hdr_off, p->body_off - p->hdr_off));
		FUZZ_CHECK(p->body_vsize == fuzz_wire(m, p->body_off, p->end_off - p->body_off));
		FUZZ_CHECK(p->body_lines <= p->body_vsize);
		FUZZ_CHECK(!(p->multipart && p->message));
		if (i > 0) {
			FUZZ_CHECK(p->parent < i);
			const struct mime_part *up = &t->parts[p->parent];
			FUZZ_CHECK(up->multipart || up->message);
			FUZZ_CHECK(p->hdr_off >= up->body_off && p->end_off <= up->end_off);
		}
		if (p->message)
			FUZZ_CHECK(p->first_child == i + 1 && t->parts[i + 1].next == MIME_NONE);
		if (p->first_child != MIME_NONE)
			FUZZ_CHECK(p->first_child == i + 1 && t->parts[i + 1].parent == i);
		if (!p->multipart && !p->message)
			FUZZ_CHECK(p->first_child == MIME_NONE);
		if (p->next != MIME_NONE) {
			FUZZ_CHECK(p->next > i && p->next < t->n && t->parts[p->next].parent == p->parent);
			FUZZ_CHECK(t->parts[p->next].hdr_off >= p->end_off);
		}
	}
}

static bool fuzz_same(const struct mime_tree *a, const struct mime_tree *b)
{
	return a->n == b->n && memcmp(a->parts, b->parts, a->n * sizeof *a->parts) == 0 &&
	       strcmp(a->envelope, b->envelope) == 0 && strcmp(a->body, b->body) == 0 &&
	       strcmp(a->bodystructure, b->bodystructure) == 0 && a->vsize == b->vsize;
}

static void fuzz_section(const struct mime_tree *t, const char *m, size_t n, const uint32_t *path, size_t depth,
                         enum mime_section_what what)
{
	struct mime_range r;
	if (mime_tree_section(t, path, depth, what, &r) < 0)
		return;
	FUZZ_CHECK(r.off <= n && r.len <= n - r.off);
	FUZZ_CHECK(r.vsize == fuzz_wire(m, r.off, r.len));
}

static void fuzz_filter(const char *m, size_t n, const struct mime_tree *t)
{
	static const char *const names[] = {"From", "SUBJECT", "content-type", "x"};
	struct mime_range r;
	FUZZ_CHECK(mime_tree_section(t, NULL, 0, MIME_SEC_HEADER, &r) == 0);
	for (int not = 0; not < 2; not++) {
		struct buf out;
		buf_init(&out, 0);
		FUZZ_CHECK(mime_header_filter(m + r.off, (size_t)r.len, names, 4, not, &out) == 0);
		FUZZ_CHECK(out.len == 0 || (out.len >= 2 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0));
		for (size_t i = 0; i < out.len; i++)
			if (out.data[i] == '\n')
				FUZZ_CHECK(i > 0 && out.data[i - 1] == '\r');
		FUZZ_CHECK(out.len <= 2 * r.len + 4);
		buf_free(&out);
	}
}

#define FUZZ_NEEDLES 7

static unsigned fuzz_search_run(struct mime_search *s, const char *m, size_t n, size_t step)
{
	for (size_t i = 0; i < n && !mime_search_settled(s);) {
		size_t k = step == 0 || n - i < step ? n - i : step;
		FUZZ_CHECK(mime_search_feed(s, m + i, k) == 0);
		i += k;
	}
	mime_search_end(s);
	FUZZ_CHECK(mime_search_settled(s));
	unsigned got = 0;
	for (size_t i = 0; i < FUZZ_NEEDLES; i++)
		if (mime_search_matched(s, i))
			got |= 1u << i;
	FUZZ_CHECK(!mime_search_matched(s, FUZZ_NEEDLES));
	return got;
}

static void fuzz_search(const char *m, size_t n, size_t step)
{
	/* needles from the message itself, so that some match */
	size_t a = n > 6 ? n / 3 : 0, al = n - a < 6 ? n - a : 6;
	size_t b = n > 4 ? n - 4 : 0, bl = n - b;
	struct mime_needle nd[FUZZ_NEEDLES] = {
	        {.where = MIME_NEEDLE_BODY, .text = m + a, .len = al},
	        {.where = MIME_NEEDLE_TEXT, .text = m + b, .len = bl},
	        {.where = MIME_NEEDLE_HEADER, .field = "Subject", .text = m + a, .len = al},
	        {.where = MIME_NEEDLE_HEADER, .field = "from", .text = "", .len = 0},
	        {.where = MIME_NEEDLE_BODY, .text = "", .len = 0},
	        {.where = MIME_NEEDLE_TEXT, .text = "a\r\nb", .len = 4},
	        {.where = MIME_NEEDLE_BODY, .text = "\xc3\xa9t\xc3\xa9", .len = 6},
	};
	struct mime_search *s = mime_search_new(nd, FUZZ_NEEDLES);
	FUZZ_CHECK(s != NULL);
	unsigned whole = fuzz_search_run(s, m, n, 0);
	FUZZ_CHECK(whole & (1u << 4)); /* BODY "" matches any message */
	mime_search_reset(s);
	FUZZ_CHECK(fuzz_search_run(s, m, n, step) == whole);
	mime_search_reset(s);
	FUZZ_CHECK(fuzz_search_run(s, m, n, 1) == whole);
	mime_search_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t n = size - 3;
	char *m = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(m != NULL);
	memcpy(m, data + 3, n);
	size_t split = n ? ((size_t)data[0] << 8 | data[1]) % (n + 1) : 0;
	size_t step = (size_t)data[2] % 13 + 1;

	struct mime_tree ref, t;
	FUZZ_CHECK(fuzz_parse(m, n, n, 0, MIME_FULL, &ref) == 0);
	fuzz_sane(&ref, m, n);
	FUZZ_CHECK(fuzz_parse(m, n, split, 0, MIME_FULL, &t) == 0);
	FUZZ_CHECK(fuzz_same(&ref, &t));
	mime_tree_free(&t);
	FUZZ_CHECK(fuzz_parse(m, n, split, step, MIME_FULL, &t) == 0);
	FUZZ_CHECK(fuzz_same(&ref, &t));
	mime_tree_free(&t);
	FUZZ_CHECK(fuzz_parse(m, n, split, step, MIME_HEADER_ONLY, &t) == 0);
	FUZZ_CHECK(strcmp(t.envelope, ref.envelope) == 0 && t.bodystructure == NULL && t.body == NULL);
	mime_tree_free(&t);

	static const uint32_t paths[][4] = {{1}, {2}, {1, 1}, {2, 1}, {1, 2}, {3, 1}, {1, 1, 1}, {2, 1, 2}};
	static const size_t depths[] = {1, 1, 2, 2, 2, 2, 3, 3};
	for (int w = MIME_SEC_ALL; w <= MIME_SEC_MIME; w++) {
		fuzz_section(&ref, m, n, NULL, 0, (enum mime_section_what)w);
		for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
			fuzz_section(&ref, m, n, paths[i], depths[i], (enum mime_section_what)w);
		uint32_t any[3] = {data[0] % 5, data[1] % 5, data[2] % 5};
		fuzz_section(&ref, m, n, any, 1 + data[2] % 3, (enum mime_section_what)w);
	}
	fuzz_filter(m, n, &ref);
	mime_tree_free(&ref);
	fuzz_search(m, n, step);
	free(m);
	return 0;
}
