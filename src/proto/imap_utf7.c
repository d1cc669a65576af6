/*
 * imap_utf7 — mailbox names in modified UTF-7 (RFC 3501 5.1.3, RFC 9051
 * 5.1.3 and appendix A) and in UTF-8 (RFC 3629). See imap_utf7.h.
 *
 * Only the canonical form is valid, the one the encoder writes: the RFC
 * says printable US-ASCII "represents itself", "&" "is represented by
 * &-", and the rest "is represented in modified BASE64", with no choice
 * left. Refusing every other spelling gives each name exactly one form
 * on disk, so "&AGE-" can never be created beside "a" and two clients
 * cannot see two folders where the disk holds one. Inside a base64 run
 * the controls (U+0000-U+001F, U+007F) are refused as well, as the UTF-8
 * side refuses them: every valid name then decodes to a valid UTF-8
 * name and encodes back to itself.
 *
 * Pure: no allocation, no global state; output goes to the caller's
 * array and never past its end.
 */
#include "proto/imap_utf7.h"

#include "base/base64.h"

#include <stdint.h>

/* A bounded writer; with p NULL it only counts (validation). */
struct imap_utf7_out {
	char *p;
	size_t len, cap; /* cap counts the NUL */
	bool full;
};

static void imap_utf7_put(struct imap_utf7_out *o, char c)
{
	if (o->p == NULL)
		return;
	if (o->len + 1 >= o->cap) {
		o->full = true;
		return;
	}
	o->p[o->len++] = c;
}

static int imap_utf7_finish(struct imap_utf7_out *o)
{
	if (o->p == NULL)
		return 0;
	if (o->cap == 0)
		return -1;
	o->p[o->len] = '\0'; /* len < cap: imap_utf7_put keeps a place for it */
	return o->full ? -1 : 0;
}

/* RFC 3501 5.1.3: RFC 2152's base64 with "," in place of "/". */
static const char imap_utf7_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static void imap_utf7_put_utf8(struct imap_utf7_out *o, uint32_t cp)
{
	if (cp < 0x80) {
		imap_utf7_put(o, (char)cp);
	} else if (cp < 0x800) {
		imap_utf7_put(o, (char)(0xc0 | (cp >> 6)));
		imap_utf7_put(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		imap_utf7_put(o, (char)(0xe0 | (cp >> 12)));
		imap_utf7_put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		imap_utf7_put(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		imap_utf7_put(o, (char)(0xf0 | (cp >> 18)));
		imap_utf7_put(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		imap_utf7_put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		imap_utf7_put(o, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * One base64 run, in[*i..) just after its "&", through its "-". The run
 * must be what the encoder would write for the characters it holds: a
 * whole number of UTF-16 units, fewer than six bits left over and those
 * zero (ceil(16k/6) characters leave 0, 2 or 4), surrogates in pairs,
 * and nothing below U+0080 (printable ASCII would have been written as
 * itself; the controls are refused, see above).
 */
static int imap_utf7_run(const char *in, size_t n, size_t *i, struct imap_utf7_out *o)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;

	for (;;) {
		if (*i >= n)
			return -1; /* the run never ends */
		unsigned char c = (unsigned char)in[(*i)++];
		if (c == '-')
			break;
		int v = base64_digit(c, ',');
		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			imap_utf7_put_utf8(o, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else if (unit < 0x80) {
			return -1;
		} else {
			imap_utf7_put_utf8(o, unit);
		}
	}
	/* Fewer than 6 bits left means at least one unit was decoded: one
	 * or two characters alone hold 6 or 12 bits and are refused here. */
	if (high != 0 || nbits >= 6 || bits != 0)
		return -1;
	return 0;
}

static int imap_utf7_decode(const char *in, size_t n, struct imap_utf7_out *o)
{
	bool after_run = false;
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c > 0x7e)
			return -1;
		i++;
		if (c != '&') {
			imap_utf7_put(o, (char)c);
			after_run = false;
			continue;
		}
		if (i < n && in[i] == '-') {
			imap_utf7_put(o, '&');
			i++;
			after_run = false;
			continue;
		}
		/* Two runs side by side would be one run written as two. */
		if (after_run || imap_utf7_run(in, n, &i, o) < 0)
			return -1;
		after_run = true;
	}
	return 0;
}

bool imap_utf7_is_valid(const char *in, size_t n)
{
	struct imap_utf7_out o = {0};
	return imap_utf7_decode(in, n, &o) == 0;
}

int imap_utf7_to_utf8(const char *in, size_t n, char *out, size_t outlen)
{
	struct imap_utf7_out o = {.p = out, .cap = outlen};
	if (out == NULL)
		return -1;
	if (imap_utf7_decode(in, n, &o) < 0) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return imap_utf7_finish(&o);
}

/*
 * The code point of the UTF-8 sequence at p[0..n): its length, or 0
 * when it is not well-formed (RFC 3629 4: the ranges of the second
 * octet are what exclude overlong forms, surrogates and code points
 * above U+10FFFF) or is a control character.
 */
static size_t imap_utf7_utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;
	uint32_t v;

	if (p[0] < 0x80) {
		if (p[0] < 0x20 || p[0] == 0x7f)
			return 0;
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		v = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		v = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
		v = (v << 6) | (p[k] & 0x3fu);
	}
	*cp = v;
	return len;
}

bool imap_utf8_is_valid_name(const char *in, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		size_t k = imap_utf7_utf8_next(p + i, n - i, &cp);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* Base64 of UTF-16 units, 6 bits at a time. */
struct imap_utf7_enc {
	uint32_t bits;
	unsigned nbits;
};

static void imap_utf7_enc_unit(struct imap_utf7_enc *e, uint32_t unit, struct imap_utf7_out *o)
{
	e->bits = (e->bits << 16) | unit;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		imap_utf7_put(o, imap_utf7_b64[(e->bits >> e->nbits) & 0x3f]);
	}
	e->bits &= (1u << e->nbits) - 1;
}

/* The end of a run: the last bits padded with zero bits, then "-". */
static void imap_utf7_enc_close(struct imap_utf7_enc *e, struct imap_utf7_out *o)
{
	if (e->nbits > 0)
		imap_utf7_put(o, imap_utf7_b64[(e->bits << (6 - e->nbits)) & 0x3f]);
	imap_utf7_put(o, '-');
	e->bits = 0;
	e->nbits = 0;
}

int imap_utf8_to_utf7(const char *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	struct imap_utf7_out o = {.p = out, .cap = outlen};
	struct imap_utf7_enc e = {0};
	bool in_run = false;
	size_t i = 0;

	if (out == NULL)
		return -1;
	while (i < n) {
		uint32_t cp;
		size_t k = imap_utf7_utf8_next(p + i, n - i, &cp);
		if (k == 0) {
			if (outlen > 0)
				out[0] = '\0';
			return -1;
		}
		i += k;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (in_run) {
				imap_utf7_enc_close(&e, &o);
				in_run = false;
			}
			imap_utf7_put(&o, (char)cp);
			if (cp == '&')
				imap_utf7_put(&o, '-');
			continue;
		}
		if (!in_run) {
			imap_utf7_put(&o, '&');
			in_run = true;
		}
		if (cp >= 0x10000) {
			imap_utf7_enc_unit(&e, 0xd800 + ((cp - 0x10000) >> 10), &o);
			imap_utf7_enc_unit(&e, 0xdc00 + ((cp - 0x10000) & 0x3ff), &o);
		} else {
			imap_utf7_enc_unit(&e, cp, &o);
		}
	}
	if (in_run)
		imap_utf7_enc_close(&e, &o);
	return imap_utf7_finish(&o);
}
