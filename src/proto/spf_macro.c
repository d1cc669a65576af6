/*
 * spf_macro — the macro language of RFC 7208 7: checking a macro-string
 * and expanding it from the values the evaluator gives (spf.c finds %{p}
 * in the DNS before it expands; this file does no lookups).
 *
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                  / "%%" / "%_" / "%-"
 *   transformers = *DIGIT [ "r" ]
 *   delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
 *
 * The value is split at any of the delimiters given (or '.'), reversed
 * with 'r', cut to its rightmost N parts, and joined with '.' (7.3); an
 * upper-case letter URL-escapes the result (RFC 3986 unreserved octets
 * stay). c, r and t only exist in explanation text (7.2). N must not be
 * 0 (7.3); a larger N than there are parts keeps them all.
 */
#include <string.h>

#include "proto/spf_int.h"

#define SPF_MACRO_DELIMS  ".-+,/_="
#define SPF_MACRO_KEEP_MAX 100000u  /* any N past this keeps every part */

static bool spf_macro_delim(char c, const char *set, size_t n)
{
	return c != '\0' && memchr(set, c, n) != NULL;
}

static char spf_macro_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* One "%{...}" from p[i] == '%', p[i+1] == '{'. Returns the offset past
 * the '}', or 0 when it is malformed. */
struct spf_macro_parsed {
	char letter;      /* lower case */
	bool upper, reverse;
	size_t keep;      /* 0: all */
	const char *delims;
	size_t ndelims;
};

static size_t spf_macro_parse_one(const char *p, size_t n, size_t i, enum spf_macro_mode mode,
                                  struct spf_macro_parsed *m)
{
	size_t j = i + 2;
	if (j >= n)
		return 0;
	char raw = p[j], l = spf_macro_lower(raw);
	if (l == '\0' || strchr("slodipvhcrt", l) == NULL)
		return 0;
	if ((l == 'c' || l == 'r' || l == 't') && mode == SPF_MACRO_DOMAIN)
		return 0;
	m->letter = l;
	m->upper = raw != l;
	j++;
	size_t d0 = j, keep = 0;
	bool nonzero = false;
	while (j < n && p[j] >= '0' && p[j] <= '9') {
		if (p[j] != '0')
			nonzero = true;
		if (keep < SPF_MACRO_KEEP_MAX)
			keep = keep * 10 + (size_t)(p[j] - '0');
		j++;
	}
	if (j > d0 && !nonzero) /* "%{d0}": 7.3, the value must be nonzero */
		return 0;
	m->keep = keep;
	m->reverse = false;
	if (j < n && (p[j] == 'r' || p[j] == 'R')) {
		m->reverse = true;
		j++;
	}
	m->delims = p + j;
	while (j < n && spf_macro_delim(p[j], SPF_MACRO_DELIMS, sizeof SPF_MACRO_DELIMS - 1))
		j++;
	m->ndelims = (size_t)(p + j - m->delims);
	if (j >= n || p[j] != '}')
		return 0;
	return j + 1;
}

int spf_macro_check(const char *p, size_t n, enum spf_macro_mode mode, size_t *tail)
{
	size_t i = 0, t = 0;
	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		if (c == '%') {
			if (i + 1 >= n)
				return -1;
			char x = p[i + 1];
			if (x == '%' || x == '_' || x == '-') {
				i += 2;
			} else if (x == '{') {
				struct spf_macro_parsed m;
				size_t next = spf_macro_parse_one(p, n, i, mode, &m);
				if (next == 0)
					return -1;
				i = next;
			} else {
				return -1;
			}
			t = i;
			continue;
		}
		/* macro-literal = %x21-24 / %x26-7E; explain-string adds SP */
		if (!((c >= 0x21 && c <= 0x7e) || (c == ' ' && mode == SPF_MACRO_EXPLAIN)))
			return -1;
		i++;
	}
	if (tail)
		*tail = t;
	return 0;
}

bool spf_macro_uses(const char *p, size_t n, char letter)
{
	for (size_t i = 0; i + 2 < n; i++)
		if (p[i] == '%') {
			if (p[i + 1] == '{' && spf_macro_lower(p[i + 2]) == letter)
				return true;
			i++; /* "%%" must not make the next '%' look like a macro */
		}
	return false;
}

/* Split v at the delimiters, keep the rightmost parts (after reversal
 * when asked) and join them with '.'. One pass each way: O(length). */
static int spf_macro_transform(const char *v, size_t vn, const struct spf_macro_parsed *m, struct buf *out)
{
	const char *dl = m->ndelims ? m->delims : ".";
	size_t nd = m->ndelims ? m->ndelims : 1;
	size_t count = 1;
	for (size_t i = 0; i < vn; i++)
		if (spf_macro_delim(v[i], dl, nd))
			count++;
	size_t keep = (m->keep == 0 || m->keep > count) ? count : m->keep;
	if (!m->reverse) {
		size_t skip = count - keep, i = 0;
		for (; skip > 0 && i < vn; i++)
			if (spf_macro_delim(v[i], dl, nd))
				skip--;
		for (; i < vn; i++)
			if (buf_putc(out, spf_macro_delim(v[i], dl, nd) ? '.' : v[i]) < 0)
				return -1;
		return 0;
	}
	/* Reversed, the rightmost `keep` parts are parts keep-1 .. 0 of the
	 * original: find where part keep-1 ends, then walk back. */
	size_t e = 0, k = 0;
	for (; e < vn; e++)
		if (spf_macro_delim(v[e], dl, nd) && k++ == keep - 1)
			break;
	for (;;) {
		size_t b = e;
		while (b > 0 && !spf_macro_delim(v[b - 1], dl, nd))
			b--;
		if (buf_append(out, v + b, e - b) < 0)
			return -1;
		if (b == 0)
			return 0;
		if (buf_putc(out, '.') < 0)
			return -1;
		e = b - 1;
	}
}

/* RFC 3986 2.3 unreserved: ALPHA DIGIT "-" "." "_" "~"; the rest %XX. */
static int spf_macro_escape(const char *v, size_t n, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		            c == '.' || c == '_' || c == '~';
		if (keep) {
			if (buf_putc(out, (char)c) < 0)
				return -1;
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (buf_append(out, e, 3) < 0)
				return -1;
		}
	}
	return 0;
}

static const char *spf_macro_value(const struct spf_macro_vars *v, char letter)
{
	const char *s = NULL;
	switch (letter) {
	case 's': s = v->s; break;
	case 'l': s = v->l; break;
	case 'o': s = v->o; break;
	case 'd': s = v->d; break;
	case 'i': s = v->i; break;
	case 'p': s = v->p; break;
	case 'v': s = v->v; break;
	case 'h': s = v->h; break;
	case 'c': s = v->c; break;
	case 'r': s = v->r; break;
	case 't': s = v->t; break;
	}
	return s ? s : "";
}

int spf_macro_expand(const char *p, size_t n, enum spf_macro_mode mode, const struct spf_macro_vars *v,
                     struct buf *out)
{
	if (spf_macro_check(p, n, mode, NULL) < 0)
		return -1;
	struct buf tmp;
	buf_init(&tmp, SPF_EXPAND_MAX);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		if (p[i] != '%') {
			rc = buf_putc(out, p[i]);
			i++;
			continue;
		}
		char x = p[i + 1]; /* checked: a '%' is never last */
		if (x == '%' || x == '_' || x == '-') {
			rc = x == '%' ? buf_putc(out, '%') : x == '_' ? buf_putc(out, ' ') : buf_puts(out, "%20");
			i += 2;
			continue;
		}
		struct spf_macro_parsed m;
		size_t next = spf_macro_parse_one(p, n, i, mode, &m);
		const char *val = spf_macro_value(v, m.letter);
		buf_reset(&tmp);
		rc = spf_macro_transform(val, strlen(val), &m, &tmp);
		if (rc == 0 && tmp.len > 0)
			rc = m.upper ? spf_macro_escape(tmp.data, tmp.len, out) : buf_append(out, tmp.data, tmp.len);
		i = next;
	}
	buf_free(&tmp);
	return rc;
}
