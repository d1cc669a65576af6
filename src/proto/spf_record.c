/*
 * spf_record — the grammar of an SPF record (RFC 7208 4.5, 4.6, 5, 6
 * and the ABNF of section 12): the version, one term at a time, and the
 * check of a whole record before it is evaluated. Pure; knows nothing of
 * the DNS or of evaluation (spf.c).
 *
 * Decisions the RFC leaves to the reader, written down here:
 * - A term is a modifier when it starts with a letter and its first
 *   ':', '/' or '=' is '=' (RFC 7208 4.6.1: a mechanism name never holds
 *   '='); everything else is a directive, so "moo.cow/x=y" is an unknown
 *   mechanism (a permerror) and "-redirect=x" too.
 * - The dual-cidr-length of a and mx is taken from the end of the term:
 *   "//N" for IPv6, then "/N" for IPv4, each only when N is all digits.
 *   A domain-spec may itself hold '/' and ':' (macro-literal), so
 *   "a:foo:bar/baz.example.com" is the name "foo:bar/baz.example.com".
 * - The syntax of a domain-spec is checked before expansion, never after
 *   (RFC 7208 7.1: "It is not correct to check syntax after macro
 *   expansion"): it must be a valid macro-string ending in a macro or in
 *   "." toplabel ["."].
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "proto/spf_int.h"

static bool spf_record_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool spf_record_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

bool spf_record_is_v1(const char *p, size_t n)
{
	return n >= 6 && strncasecmp(p, "v=spf1", 6) == 0 && (n == 6 || p[6] == ' ');
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 * That is: letters, digits and dashes, not starting or ending with a
 * dash, and either holding a dash or holding a letter (so "123" is not
 * a top label: RFC 7208 12, RFC 3696 2).
 */
bool spf_toplabel_ok(const char *p, size_t n)
{
	if (n == 0 || p[0] == '-' || p[n - 1] == '-')
		return false;
	bool alpha = false, dash = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '-')
			dash = true;
		else if (spf_record_alpha(c))
			alpha = true;
		else if (!spf_record_digit(c))
			return false;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool spf_record_domain_spec_ok(const char *p, size_t n)
{
	size_t tail = 0;
	if (n == 0 || spf_macro_check(p, n, SPF_MACRO_DOMAIN, &tail) < 0)
		return false;
	if (tail == n) /* ends with a macro-expand */
		return true;
	/* The literal text after the last macro-expand ends the name. */
	const char *lit = p + tail;
	size_t m = n - tail;
	if (lit[m - 1] == '.')
		m--;
	const char *dot = m ? memrchr(lit, '.', m) : NULL;
	if (dot == NULL)
		return false;
	size_t off = (size_t)(dot - lit) + 1;
	return spf_toplabel_ok(lit + off, m - off);
}

/* ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT ), at most 32;
 * ip6-cidr-length = "/" ( "0" / %x31-39 0*2DIGIT ), at most 128. */
static bool spf_record_cidr(const char *p, size_t n, unsigned max, unsigned *out)
{
	size_t digits = max > 99 ? 3 : 2;
	if (n == 0 || n > digits || (n > 1 && p[0] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!spf_record_digit((unsigned char)p[i]))
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, qnum 0-255 without
 * leading zeros (RFC 7208 12). */
static bool spf_record_ip4(const char *p, size_t n, unsigned char out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < n && spf_record_digit((unsigned char)p[i]) && i - start < 3) {
			v = v * 10 + (unsigned)(p[i] - '0');
			i++;
		}
		if (i == start || v > 255 || (i - start > 1 && p[start] == '0'))
			return false;
		out[part] = (unsigned char)v;
	}
	return i == n;
}

/* ip6-network: the text forms of RFC 4291 2.2. */
static bool spf_record_ip6(const char *p, size_t n, unsigned char out[16])
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!(spf_record_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

/* modifier names: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static bool spf_record_name_ok(const char *p, size_t n)
{
	if (n == 0 || !spf_record_alpha((unsigned char)p[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!(spf_record_alpha(c) || spf_record_digit(c) || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool spf_record_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

static int spf_record_modifier(const char *p, size_t n, size_t eq, struct spf_term *t, const char **err)
{
	if (!spf_record_name_ok(p, eq)) {
		*err = "invalid modifier name";
		return -1;
	}
	t->spec = p + eq + 1;
	t->speclen = n - eq - 1;
	if (spf_record_is(p, eq, "redirect") || spf_record_is(p, eq, "exp")) {
		t->kind = spf_record_is(p, eq, "exp") ? SPF_T_EXP : SPF_T_REDIRECT;
		if (!spf_record_domain_spec_ok(t->spec, t->speclen)) {
			*err = t->kind == SPF_T_EXP ? "invalid exp= domain" : "invalid redirect= domain";
			return -1;
		}
		return 1;
	}
	t->kind = SPF_T_MODIFIER;
	if (spf_macro_check(t->spec, t->speclen, SPF_MACRO_ANY, NULL) < 0) {
		*err = "invalid macro in a modifier";
		return -1;
	}
	return 1;
}

/* a and mx: [ ":" domain-spec ] [ dual-cidr-length ] in rest. */
static int spf_record_a_mx(const char *r, size_t n, struct spf_term *t, const char **err)
{
	size_t end = n, d = n;
	while (d > 0 && spf_record_digit((unsigned char)r[d - 1]))
		d--;
	if (d < end && d >= 2 && r[d - 1] == '/' && r[d - 2] == '/') {
		if (!spf_record_cidr(r + d, end - d, 128, &t->cidr6)) {
			*err = "invalid IPv6 prefix length";
			return -1;
		}
		end = d - 2;
		d = end;
		while (d > 0 && spf_record_digit((unsigned char)r[d - 1]))
			d--;
	}
	if (d < end && d >= 1 && r[d - 1] == '/') {
		if (!spf_record_cidr(r + d, end - d, 32, &t->cidr4)) {
			*err = "invalid IPv4 prefix length";
			return -1;
		}
		end = d - 1;
	}
	if (end == 0)
		return 1;
	if (r[0] != ':' || !spf_record_domain_spec_ok(r + 1, end - 1)) {
		*err = "invalid domain";
		return -1;
	}
	t->spec = r + 1;
	t->speclen = end - 1;
	return 1;
}

/* ip4 and ip6: ":" network [ cidr-length ] in rest. */
static int spf_record_ip(const char *r, size_t n, bool v6, struct spf_term *t, const char **err)
{
	if (n < 2 || r[0] != ':') {
		*err = v6 ? "ip6 without an address" : "ip4 without an address";
		return -1;
	}
	const char *net = r + 1;
	const char *slash = memchr(net, '/', n - 1);
	size_t netlen = slash ? (size_t)(slash - net) : n - 1;
	bool ok = v6 ? spf_record_ip6(net, netlen, t->net) : spf_record_ip4(net, netlen, t->net);
	if (!ok) {
		*err = v6 ? "invalid IPv6 address" : "invalid IPv4 address";
		return -1;
	}
	if (slash) {
		size_t clen = n - 1 - netlen - 1;
		if (!spf_record_cidr(slash + 1, clen, v6 ? 128 : 32, v6 ? &t->cidr6 : &t->cidr4)) {
			*err = "invalid prefix length";
			return -1;
		}
	}
	return 1;
}

/* [":" domain-spec], required or not. */
static int spf_record_target(const char *r, size_t n, bool required, struct spf_term *t, const char **err)
{
	if (n == 0 && !required)
		return 1;
	if (n < 2 || r[0] != ':' || !spf_record_domain_spec_ok(r + 1, n - 1)) {
		*err = n == 0 ? "mechanism needs a domain" : "invalid domain";
		return -1;
	}
	t->spec = r + 1;
	t->speclen = n - 1;
	return 1;
}

static int spf_record_directive(const char *p, size_t n, struct spf_term *t, const char **err)
{
	t->kind = SPF_T_DIRECTIVE;
	if (n > 0 && strchr("+-~?", p[0]) != NULL) {
		t->qual = p[0];
		p++;
		n--;
	}
	size_t k = 0;
	while (k < n && p[k] != ':' && p[k] != '/')
		k++;
	const char *rest = p + k;
	size_t rn = n - k;
	if (spf_record_is(p, k, "all")) {
		t->mech = SPF_M_ALL;
		if (rn != 0) {
			*err = "all takes no argument";
			return -1;
		}
		return 1;
	}
	if (spf_record_is(p, k, "include")) {
		t->mech = SPF_M_INCLUDE;
		return spf_record_target(rest, rn, true, t, err);
	}
	if (spf_record_is(p, k, "exists")) {
		t->mech = SPF_M_EXISTS;
		return spf_record_target(rest, rn, true, t, err);
	}
	if (spf_record_is(p, k, "ptr")) {
		t->mech = SPF_M_PTR;
		return spf_record_target(rest, rn, false, t, err);
	}
	if (spf_record_is(p, k, "a") || spf_record_is(p, k, "mx")) {
		t->mech = k == 1 ? SPF_M_A : SPF_M_MX;
		return spf_record_a_mx(rest, rn, t, err);
	}
	if (spf_record_is(p, k, "ip4") || spf_record_is(p, k, "ip6")) {
		t->mech = p[2] == '6' ? SPF_M_IP6 : SPF_M_IP4;
		return spf_record_ip(rest, rn, t->mech == SPF_M_IP6, t, err);
	}
	*err = "unknown mechanism";
	return -1;
}

int spf_term_next(const char *rec, size_t len, size_t *pos, struct spf_term *t, const char **err)
{
	size_t i = *pos == 0 ? 6 : *pos; /* past "v=spf1" */
	while (i < len && rec[i] == ' ')
		i++;
	if (i >= len) {
		*pos = len;
		return 0;
	}
	size_t start = i;
	while (i < len && rec[i] != ' ') {
		unsigned char c = (unsigned char)rec[i];
		if (c < 0x21 || c > 0x7e) {
			*err = "a character outside printable ASCII";
			return -1;
		}
		i++;
	}
	*pos = i;
	const char *p = rec + start;
	size_t n = i - start;
	memset(t, 0, sizeof *t);
	t->text = p;
	t->len = n;
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	size_t k = 0;
	while (k < n && p[k] != ':' && p[k] != '/' && p[k] != '=')
		k++;
	if (k < n && p[k] == '=' && spf_record_alpha((unsigned char)p[0]))
		return spf_record_modifier(p, n, k, t, err);
	return spf_record_directive(p, n, t, err);
}

int spf_record_check(const char *rec, size_t len, struct spf_term *redirect, bool *has_redirect,
                     struct spf_term *exp, bool *has_exp, const char **err)
{
	size_t pos = 0;
	struct spf_term t;
	int r;
	*has_redirect = *has_exp = false;
	while ((r = spf_term_next(rec, len, &pos, &t, err)) == 1) {
		/* RFC 7208 6: redirect and exp may each appear once. */
		if (t.kind == SPF_T_REDIRECT) {
			if (*has_redirect) {
				*err = "redirect= twice";
				return -1;
			}
			*redirect = t;
			*has_redirect = true;
		} else if (t.kind == SPF_T_EXP) {
			if (*has_exp) {
				*err = "exp= twice";
				return -1;
			}
			*exp = t;
			*has_exp = true;
		}
	}
	return r;
}
