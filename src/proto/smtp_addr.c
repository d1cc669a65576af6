/*
 * smtp_addr — parses SMTP paths. See smtp_addr.h.
 *
 * Owns the grammar of RFC 5321 4.1.2 (Path, Reverse-path, Forward-path,
 * Mailbox, Local-part, Domain, address-literal, the A-d-l source route),
 * the address literals of 4.1.3, the limits of 4.5.3.1.1-3, the
 * <Postmaster> exception of 4.1.1.3, and the RFC 6531 3.3 extension that
 * lets atext, qtext and sub-domains hold UTF-8 (well-formed per RFC 3629).
 *
 * Pure: no I/O, no allocation, no global state. Scanning never reads past
 * n and every index is checked before use, so any byte string is safe
 * input. It must not decide policy (which domains are ours, relaying):
 * that is the session's job.
 */
#include "proto/smtp_addr.h"

#include <string.h>
#include <strings.h>

#define SMTP_ADDR_LABEL_MAX 63 /* RFC 1035 2.3.4: octets of one label */

/* A cursor over the path being parsed. */
struct smtp_addr_scan {
	const unsigned char *s;
	size_t n;
	size_t i;
	bool utf8; /* an octet >= 0x80 was accepted somewhere */
};

size_t smtp_addr_utf8_seq(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (n == 0)
		return 0;
	/* RFC 3629 4, UTF8-2 to UTF8-4: the second octet's range is what
	 * excludes overlong forms (E0, F0), surrogates (ED) and code points
	 * above U+10FFFF (F4); C0, C1 and F5-FF never start a sequence. */
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return len;
}

static bool smtp_addr_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool smtp_addr_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext of RFC 5322 3.2.3, ASCII part. */
static bool smtp_addr_is_atext(unsigned char c)
{
	return smtp_addr_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* If a well-formed UTF-8 sequence starts at the cursor, step over it and
 * return true (RFC 6531 3.3: UTF8-non-ascii is allowed in atext, qtext
 * and U-labels). */
static bool smtp_addr_take_utf8(struct smtp_addr_scan *sc)
{
	if (sc->i >= sc->n || sc->s[sc->i] < 0x80)
		return false;
	size_t k = smtp_addr_utf8_seq((const char *)sc->s + sc->i, sc->n - sc->i);
	if (k == 0)
		return false;
	sc->i += k;
	sc->utf8 = true;
	return true;
}

/*
 * sub-domain = Let-dig [Ldh-str] (RFC 5321 4.1.2): starts and ends with a
 * letter or digit, hyphens only inside. A UTF-8 sequence counts as a
 * letter (RFC 6531 3.3, U-label); IDNA validity is left to DNS.
 * An ASCII label holds at most 63 octets (RFC 1035 2.3.4). A U-label is
 * measured once it becomes an A-label, which we do not compute; every code
 * point costs at least one A-label octet, so more than 63 code points can
 * never fit and is refused.
 */
static int smtp_addr_scan_label(struct smtp_addr_scan *sc)
{
	size_t start = sc->i, chars = 0;
	bool last_hyphen = false, any_utf8 = false;

	while (sc->i < sc->n) {
		unsigned char c = sc->s[sc->i];
		if (smtp_addr_is_alnum(c)) {
			sc->i++;
			last_hyphen = false;
		} else if (c == '-') {
			if (sc->i == start)
				return -1;
			sc->i++;
			last_hyphen = true;
		} else if (c >= 0x80) {
			if (!smtp_addr_take_utf8(sc))
				return -1;
			any_utf8 = true;
			last_hyphen = false;
		} else {
			break;
		}
		chars++;
	}
	if (sc->i == start || last_hyphen)
		return -1;
	if (any_utf8 ? chars > SMTP_ADDR_LABEL_MAX : sc->i - start > SMTP_ADDR_LABEL_MAX)
		return -1;
	return 0;
}

/* Domain = sub-domain *("." sub-domain). A trailing dot leaves an empty
 * label and so is a syntax error, as the header promises. */
static int smtp_addr_scan_domain(struct smtp_addr_scan *sc)
{
	for (;;) {
		if (smtp_addr_scan_label(sc) < 0)
			return -1;
		if (sc->i >= sc->n || sc->s[sc->i] != '.')
			return 0;
		sc->i++;
	}
}

/*
 * IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT of value
 * 0-255 (RFC 5321 4.1.3). Stricter than the ABNF on one point: a leading
 * zero ("010") is refused, because some resolvers read it as octal and
 * the same literal must not name two hosts.
 */
static int smtp_addr_ipv4_check(const char *s, size_t len)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < len && smtp_addr_is_digit((unsigned char)s[i]) && i - start < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start || v > 255)
			return -1;
		if (i - start > 1 && s[start] == '0')
			return -1;
	}
	return i == len ? 0 : -1;
}

static bool smtp_addr_is_xdigit(unsigned char c)
{
	return smtp_addr_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * IPv6-addr of RFC 5321 4.1.3 (the text forms of RFC 4291 2.2): eight
 * groups of 1-4 hex digits, or fewer with one "::", optionally ending in
 * an IPv4 dotted quad that stands for two groups. RFC 5321 wants "::" to
 * stand for at least two groups; we also take one (RFC 4291), since what
 * a peer's inet_ntop() prints must not be refused.
 */
static int smtp_addr_ipv6_check(const char *s, size_t len)
{
	size_t i = 0, groups = 0;
	bool gap = false;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = true;
		i = 2;
	} else if (len > 0 && s[0] == ':') {
		return -1;
	}
	while (i < len) {
		size_t j = i;
		while (j < len && j - i < 5 && smtp_addr_is_xdigit((unsigned char)s[j]))
			j++;
		if (j < len && s[j] == '.') {
			/* IPv6v4: the dotted quad takes the place of the last two groups. */
			if (groups > 6 || smtp_addr_ipv4_check(s + i, len - i) < 0)
				return -1;
			groups += 2;
			i = len;
			break;
		}
		if (j == i || j - i > 4)
			return -1;
		groups++;
		i = j;
		if (i == len)
			break;
		if (s[i] != ':')
			return -1;
		i++;
		if (i < len && s[i] == ':') {
			if (gap)
				return -1;
			gap = true;
			i++;
		} else if (i == len) {
			return -1; /* one trailing colon */
		}
	}
	if (gap)
		return groups <= 7 ? 0 : -1;
	return groups == 8 ? 0 : -1;
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 * General-address-literal ) "]" (RFC 5321 4.1.2, 4.1.3). The tag
 * "IPv6:" is matched without regard to case (ABNF strings are
 * case-insensitive, RFC 5234 2.3). A General-address-literal is
 * Standardized-tag ":" 1*dcontent; it is accepted as syntax only.
 */
static int smtp_addr_scan_literal(struct smtp_addr_scan *sc)
{
	size_t start = ++sc->i; /* past '[' */

	/* dcontent = %d33-90 / %d94-126: everything printable but [ \ ] */
	while (sc->i < sc->n && sc->s[sc->i] >= 33 && sc->s[sc->i] <= 126 && sc->s[sc->i] != '['
	       && sc->s[sc->i] != '\\' && sc->s[sc->i] != ']')
		sc->i++;
	if (sc->i >= sc->n || sc->s[sc->i] != ']')
		return -1;
	const char *c = (const char *)sc->s + start;
	size_t len = sc->i - start;
	sc->i++; /* past ']' */

	if (len >= 5 && strncasecmp(c, "IPv6:", 5) == 0)
		return smtp_addr_ipv6_check(c + 5, len - 5);
	const char *colon = memchr(c, ':', len);
	if (colon == NULL)
		return smtp_addr_ipv4_check(c, len);
	/* Standardized-tag = Ldh-str: letters, digits, hyphens, ending in
	 * a letter or digit. */
	size_t taglen = (size_t)(colon - c);
	if (taglen == 0 || !smtp_addr_is_alnum((unsigned char)c[taglen - 1]))
		return -1;
	for (size_t k = 0; k < taglen; k++)
		if (!smtp_addr_is_alnum((unsigned char)c[k]) && c[k] != '-')
			return -1;
	return taglen + 1 < len ? 0 : -1;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 4.1.2), with
 * qtextSMTP extended by UTF8-non-ascii (RFC 6531 3.3). A quoted-pair
 * escapes only %d32-126. */
static int smtp_addr_scan_quoted(struct smtp_addr_scan *sc)
{
	sc->i++; /* past the opening DQUOTE */
	while (sc->i < sc->n) {
		unsigned char c = sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return 0;
		}
		if (c == '\\') {
			if (sc->i + 1 >= sc->n || sc->s[sc->i + 1] < 32 || sc->s[sc->i + 1] > 126)
				return -1;
			sc->i += 2;
		} else if (c >= 32 && c <= 126) {
			sc->i++;
		} else if (!smtp_addr_take_utf8(sc)) {
			return -1;
		}
	}
	return -1;
}

/* Dot-string = Atom *("." Atom), Atom = 1*atext (RFC 5321 4.1.2). */
static int smtp_addr_scan_dot_string(struct smtp_addr_scan *sc)
{
	for (;;) {
		size_t start = sc->i;
		while (sc->i < sc->n) {
			if (smtp_addr_is_atext(sc->s[sc->i]))
				sc->i++;
			else if (!smtp_addr_take_utf8(sc))
				break;
		}
		if (sc->i == start)
			return -1;
		if (sc->i >= sc->n || sc->s[sc->i] != '.')
			return 0;
		sc->i++;
	}
}

/* A-d-l = At-domain *( "," At-domain ) ":" with At-domain = "@" Domain
 * (RFC 5321 4.1.2). Servers must accept and ignore it (Appendix C). */
static int smtp_addr_scan_route(struct smtp_addr_scan *sc)
{
	for (;;) {
		if (sc->i >= sc->n || sc->s[sc->i] != '@')
			return -1;
		sc->i++;
		if (smtp_addr_scan_domain(sc) < 0)
			return -1;
		if (sc->i >= sc->n)
			return -1;
		if (sc->s[sc->i] == ':') {
			sc->i++;
			return 0;
		}
		if (sc->s[sc->i] != ',')
			return -1;
		sc->i++;
	}
}

enum smtp_addr_status smtp_addr_parse(const char *s, size_t n, bool allow_null, bool utf8_ok,
                                      bool allow_postmaster, struct smtp_addr *a, size_t *consumed)
{
	struct smtp_addr_scan sc = { (const unsigned char *)s, n, 0, false };
	size_t local_start, local_end, dom_start = 0, dom_end = 0;
	bool quoted, literal = false, route_utf8;

	memset(a, 0, sizeof(*a));
	if (consumed)
		*consumed = 0;
	if (n < 2 || s[0] != '<')
		return SMTP_ADDR_SYNTAX;
	sc.i = 1;

	/* Reverse-path = Path / "<>" (RFC 5321 4.1.2) */
	if (s[1] == '>') {
		if (!allow_null)
			return SMTP_ADDR_SYNTAX;
		a->is_null = true;
		if (consumed)
			*consumed = 2;
		return SMTP_ADDR_OK;
	}
	if (s[1] == '@' && smtp_addr_scan_route(&sc) < 0)
		return SMTP_ADDR_SYNTAX;
	/* The route is dropped, but its octets still were sent. */
	route_utf8 = sc.utf8;
	sc.utf8 = false;

	local_start = sc.i;
	quoted = sc.i < n && s[sc.i] == '"';
	if ((quoted ? smtp_addr_scan_quoted(&sc) : smtp_addr_scan_dot_string(&sc)) < 0)
		return SMTP_ADDR_SYNTAX;
	local_end = sc.i;
	if (sc.i >= n)
		return SMTP_ADDR_SYNTAX;

	if (s[sc.i] == '>') {
		/* "<Postmaster>" without a domain (RFC 5321 4.1.1.3), any case. */
		if (!allow_postmaster || quoted || local_end - local_start != 10
		    || strncasecmp(s + local_start, "postmaster", 10) != 0)
			return SMTP_ADDR_SYNTAX;
	} else {
		if (s[sc.i] != '@')
			return SMTP_ADDR_SYNTAX;
		sc.i++;
		dom_start = sc.i;
		if (sc.i < n && s[sc.i] == '[') {
			literal = true;
			if (smtp_addr_scan_literal(&sc) < 0)
				return SMTP_ADDR_SYNTAX;
		} else if (smtp_addr_scan_domain(&sc) < 0) {
			return SMTP_ADDR_SYNTAX;
		}
		dom_end = sc.i;
		if (sc.i >= n || s[sc.i] != '>')
			return SMTP_ADDR_SYNTAX;
	}
	sc.i++; /* past '>' */

	/* RFC 5321 4.5.3.1: the limits are on the wire form. */
	if (local_end - local_start > SMTP_LOCAL_MAX || dom_end - dom_start > SMTP_DOMAIN_MAX
	    || sc.i > SMTP_PATH_MAX)
		return SMTP_ADDR_TOO_LONG;
	/* RFC 6531 3.4: non-ASCII only in a transaction that declared it. */
	if ((sc.utf8 || route_utf8) && !utf8_ok)
		return SMTP_ADDR_NEEDS_UTF8;

	memcpy(a->local, s + local_start, local_end - local_start);
	a->local[local_end - local_start] = '\0';
	memcpy(a->domain, s + dom_start, dom_end - dom_start);
	a->domain[dom_end - dom_start] = '\0';
	a->quoted = quoted;
	a->domain_literal = literal;
	a->utf8 = sc.utf8;
	if (consumed)
		*consumed = sc.i;
	return SMTP_ADDR_OK;
}

int smtp_addr_format(const struct smtp_addr *a, char *out, size_t outlen)
{
	size_t ll = a->is_null ? 0 : strnlen(a->local, sizeof(a->local));
	size_t dl = a->is_null ? 0 : strnlen(a->domain, sizeof(a->domain));
	size_t need = ll + (dl ? 1 + dl : 0); /* at most 64 + 1 + 255: no overflow */

	if (out == NULL || outlen == 0 || need >= outlen)
		return -1;
	memcpy(out, a->local, ll);
	if (dl) {
		out[ll] = '@';
		memcpy(out + ll + 1, a->domain, dl);
	}
	out[need] = '\0';
	return 0;
}

bool smtp_addr_local_is_plain(const char *local)
{
	size_t n = strlen(local);

	if (n == 0 || local[0] == '.' || local[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)local[i];
		if (c >= 0x80) {
			size_t k = smtp_addr_utf8_seq(local + i, n - i);
			if (k == 0)
				return false;
			i += k;
			continue;
		}
		/* '%', '!' and '/' route mail elsewhere (RFC 5321 2.3.11,
		 * 3.6.1) or name directories: never part of a mailbox name. */
		if (c == '.') {
			if (local[i + 1] == '.')
				return false;
		} else if (!smtp_addr_is_alnum(c) && (c == '\0' || strchr("#$&'*+-=?^_`{|}~", c) == NULL)) {
			return false;
		}
		i++;
	}
	return true;
}
