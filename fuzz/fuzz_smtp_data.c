/*
 * fuzz_smtp_data — libFuzzer target for proto/smtp_data (RFC 5321
 * 4.1.1.4, 4.5.2; RFC 3030).
 *
 * Input: byte 0 picks the mode (bit 0), a tiny output buffer that is
 * drained after every call (bit 1) and the first cut; byte 1 the second
 * cut; the rest is the content, fed in three pieces. The result must equal
 * that of a slow, obviously correct reference decoder written here from
 * the RFC text, and obey the smuggling invariant: the data ends only at a
 * real CR LF . CR LF (or at ".\r\n" at the very start).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/smtp_data.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

struct fuzz_ref {
	struct buf out;
	size_t consumed;
	bool done;
	unsigned flags;
	unsigned received;
	unsigned headers;
	bool in_headers;
};

/* name, any WSP, ':' at the start of a decoded header line */
static bool fuzz_smtp_data_is_field(const char *l, size_t n, const char *name)
{
	size_t nl = strlen(name), k = nl;

	if (n < nl || strncasecmp(l, name, nl) != 0)
		return false;
	while (k < n && (l[k] == ' ' || l[k] == '\t'))
		k++;
	return k < n && l[k] == ':';
}

/* One line: wire holds its octets without CR LF, `complete` says whether
 * a CR LF followed. Decodes it into r. */
static void fuzz_smtp_data_ref_line(struct fuzz_ref *r, enum smtp_data_mode mode, const char *wire, size_t n)
{
	const char *l = wire;
	size_t ln = n;

	if (mode == SMTP_DATA_DOT && n > 0 && wire[0] == '.') {
		l++;
		ln--;
	}
	/* RFC 5321 4.5.3.1.6: the transparency dot is not counted */
	if (ln > SMTP_TEXT_LINE_MAX - 2)
		r->flags |= SMTP_DATA_LONG_LINE;
	for (size_t k = 0; k < ln; k++) {
		unsigned char c = (unsigned char)l[k];
		if (c == '\r')
			r->flags |= SMTP_DATA_BARE_CR;
		else if (c == '\n')
			r->flags |= SMTP_DATA_BARE_LF;
		else if (c == '\0')
			r->flags |= SMTP_DATA_NUL;
		else if (c >= 0x80)
			r->flags |= SMTP_DATA_8BIT;
	}
	if (r->in_headers) {
		if (n == 0)
			r->in_headers = false;
		else if (fuzz_smtp_data_is_field(l, ln, "Received"))
			r->received++;
		else if (fuzz_smtp_data_is_field(l, ln, "Message-ID"))
			r->headers |= SMTP_HDR_MESSAGE_ID;
		else if (fuzz_smtp_data_is_field(l, ln, "Date"))
			r->headers |= SMTP_HDR_DATE;
		else if (fuzz_smtp_data_is_field(l, ln, "From"))
			r->headers |= SMTP_HDR_FROM;
	}
	FUZZ_CHECK(buf_append(&r->out, l, ln) == 0);
	FUZZ_CHECK(buf_putc(&r->out, '\n') == 0);
}

/* The whole input, then smtp_data_finish unless the data ended. */
static void fuzz_smtp_data_ref(struct fuzz_ref *r, enum smtp_data_mode mode, const char *in, size_t n)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 0);
	r->in_headers = true;
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && !(in[j] == '\r' && in[j + 1] == '\n'))
			j++;
		if (j + 1 >= n) {
			/* no CR LF: the unterminated last line, completed by finish */
			fuzz_smtp_data_ref_line(r, mode, in + i, n - i);
			r->consumed = n;
			/* finish ends a pending line without CR LF: headers too */
			return;
		}
		if (mode == SMTP_DATA_DOT && j - i == 1 && in[i] == '.') {
			r->done = true;
			r->consumed = j + 2;
			return;
		}
		fuzz_smtp_data_ref_line(r, mode, in + i, j - i);
		i = j + 2;
	}
	r->consumed = n;
}

static bool fuzz_smtp_data_has_end(const char *s, size_t n)
{
	if (n >= 3 && memcmp(s, ".\r\n", 3) == 0)
		return true;
	for (size_t k = 0; k + 5 <= n; k++)
		if (memcmp(s + k, "\r\n.\r\n", 5) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum smtp_data_mode mode = (data[0] & 1) ? SMTP_DATA_RAW : SMTP_DATA_DOT;
	bool tiny = (data[0] & 2) != 0;
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	size_t cut1 = (size_t)(data[0] >> 2) % (n + 1);
	size_t cut2 = cut1 + (size_t)data[1] % (n - cut1 + 1);
	size_t cuts[3] = { cut1, cut2, n };

	struct smtp_data d;
	struct buf out, all;
	bool done = false;
	size_t pos = 0;

	smtp_data_init(&d, mode);
	buf_init(&out, tiny ? 7 : 0);
	buf_init(&all, 0);
	for (int k = 0; k < 3 && !done; k++) {
		while (pos < cuts[k] && !done) {
			/* exact-size copy: ASan catches any over-read */
			size_t len = cuts[k] - pos;
			char *piece = malloc(len);
			FUZZ_CHECK(piece != NULL);
			memcpy(piece, in + pos, len);
			size_t used = smtp_data_feed(&d, piece, len, &out, &done);
			free(piece);
			FUZZ_CHECK(used <= len);
			/* progress: only a full output or the end stops it */
			FUZZ_CHECK(used > 0 || done || (tiny && out.len == out.max));
			if (!done && !tiny)
				FUZZ_CHECK(used == len);
			pos += used;
			FUZZ_CHECK(buf_append(&all, out.data ? out.data : "", out.len) == 0);
			buf_reset(&out);
		}
	}
	if (!done)
		smtp_data_finish(&d, &out);
	FUZZ_CHECK(buf_append(&all, out.data ? out.data : "", out.len) == 0);

	/* BDAT never ends by itself; DATA ends only at CR LF . CR LF */
	if (mode == SMTP_DATA_RAW)
		FUZZ_CHECK(!done);
	if (done) {
		FUZZ_CHECK(fuzz_smtp_data_has_end(in, pos));
		FUZZ_CHECK(pos >= 3 && memcmp(in + pos - 3, ".\r\n", 3) == 0);
		FUZZ_CHECK(pos == 3 || (pos >= 5 && in[pos - 5] == '\r' && in[pos - 4] == '\n'));
		FUZZ_CHECK(!fuzz_smtp_data_has_end(in, pos - 1)); /* the first one */
	}
	/* decoding never grows the content, except the LF finish may add */
	FUZZ_CHECK(all.len <= pos + 1);
	FUZZ_CHECK(d.size == all.len);

	struct fuzz_ref r;
	fuzz_smtp_data_ref(&r, mode, in, n);
	FUZZ_CHECK(r.done == done);
	FUZZ_CHECK(r.consumed == pos);
	FUZZ_CHECK(r.out.len == all.len);
	FUZZ_CHECK(all.len == 0 || memcmp(r.out.data, all.data, all.len) == 0);
	FUZZ_CHECK(r.flags == d.flags);
	FUZZ_CHECK(r.received == d.received);
	FUZZ_CHECK(r.headers == d.headers);
	FUZZ_CHECK(r.in_headers == d.in_headers);

	buf_free(&r.out);
	buf_free(&out);
	buf_free(&all);
	return 0;
}
