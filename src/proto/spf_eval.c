/*
 * spf_eval — one evaluation pass of RFC 7208: check_host() (section 4),
 * the mechanisms (5), the modifiers (6), the explanation (6.2) and the
 * processing limits (4.6.4), over the answers the check has kept
 * (spf.c). Pure: asks through spf_lookup, which either answers from
 * what was kept or records the question and makes the pass unwind.
 *
 * One pass (spf_eval_pass, for each spf_run) walks the policy from the
 * top. Each question goes
 * through spf_lookup: answered from what was kept, or recorded as the
 * question to ask and the pass unwinds (p->stop: every function returns
 * at once, its value meaningless). The counters of 4.6.4 live in the
 * pass, so a replay counts exactly as an uninterrupted run would.
 *
 * Choices where the RFC leaves room:
 * - A target name that cannot exist after expansion (an empty label, a
 *   label over 63 octets) is not asked: for a, mx, ptr and exists it
 *   counts as a void lookup that matched nothing, for include and
 *   redirect it is a permerror ("none" from the included domain).
 * - Void lookups (4.6.4) are counted for the query a mechanism makes
 *   about its target (A/AAAA, MX, PTR, the A of exists), not for the
 *   address lookups of MX and PTR names, nor for exp= (the suite's
 *   exp-void case).
 * - The 10-name limit of mx makes a permerror when an 11th exchange
 *   would be looked up; for ptr, names after the 10th are ignored
 *   (4.6.4 says exactly that for each).
 * - %{p} costs no lookup term; its validation (at most 1 + 10 queries)
 *   is done once per pass whatever the number of %{p}.
 * - %{h} is "unknown" when no HELO name was given, like %{p} with no
 *   validated name (7.3).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "proto/spf.h"
#include "proto/spf_int.h"

/* What one pass knows (allocated by spf_eval_pass). */
struct spf_pass {
	struct spf *s;
	unsigned lookups, voids;
	bool stop;      /* a question is pending (or too many): unwind */
	bool over;      /* more than SPF_QUERY_MAX questions */
	bool fixed;     /* reason holds an error: keep it */
	char reason[SPF_REASON_MAX + 1];
	bool ptr_done;  /* the names of %{p}, validated once per pass */
	size_t nptr;
	char ptr[SPF_NAMES_MAX][SPF_NAME_MAX + 1];
};

/* Where a fail came from: the exp= of that record, and its domain. */
struct spf_why {
	const char *exp;
	size_t explen;
	char domain[SPF_NAME_MAX + 1];
};

enum spf_match {
	SPF_MATCH,
	SPF_NOMATCH,
	SPF_MATCH_TEMPERROR,
	SPF_MATCH_PERMERROR,
};

/* ---------------------------------------------------------------- names */

void spf_eval_copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * The query name for an expanded domain-spec (RFC 7208 4.8): without
 * its trailing dot, and with labels removed from the left while it is
 * longer than 253 octets. false when no domain name can be made: an
 * empty label, a label over 63 octets (RFC 1035 2.3.4).
 */
static bool spf_name_make(const char *p, size_t n, char out[SPF_NAME_MAX + 1])
{
	if (n > 0 && p[n - 1] == '.')
		n--;
	while (n > SPF_NAME_MAX) {
		const char *dot = memchr(p, '.', n);
		if (dot == NULL)
			return false;
		n -= (size_t)(dot - p) + 1;
		p = dot + 1;
	}
	if (n == 0)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > SPF_LABEL_MAX || p[i] == '\0') {
			return false;
		}
	}
	if (label == 0)
		return false;
	spf_eval_copy(out, SPF_NAME_MAX + 1, p, n);
	return true;
}

/* The stricter rule for the identity itself (4.3): a name of two or
 * more labels of printable ASCII ending in a valid top label, so that
 * "A2345678", "[192.0.2.1]" and "a..b" get "none" without a query. */
bool spf_eval_domain_ok(const char *d)
{
	char tmp[SPF_NAME_MAX + 1];
	size_t n = strlen(d);
	if (n > SPF_NAME_MAX || !spf_name_make(d, n, tmp))
		return false;
	for (const char *c = tmp; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return false;
	const char *dot = strrchr(tmp, '.');
	return dot != NULL && spf_toplabel_ok(dot + 1, strlen(dot + 1));
}

/* name is target or under it (ptr, 5.5), without regard to case. */
static bool spf_name_under(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);
	if (n == t)
		return strcasecmp(name, target) == 0;
	return n > t && name[n - t - 1] == '.' && strcasecmp(name + n - t, target) == 0;
}

/* ---------------------------------------------------------------- pass */

static void spf_note(struct spf_pass *p, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The reason line: the first error sticks; a match is overwritten by
 * the outer records that decide after it. */
static void spf_note(struct spf_pass *p, bool error, const char *fmt, ...)
{
	if (p->fixed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
	p->fixed = error;
}

static const struct spf_answer *spf_lookup(struct spf_pass *p, enum spf_qtype type, const char *name)
{
	struct spf *s = p->s;
	for (size_t i = 0; i < s->nans; i++)
		if (s->ans[i].type == type && strcasecmp(s->ans[i].name, name) == 0)
			return &s->ans[i];
	p->stop = true;
	if (s->nans >= SPF_QUERY_MAX) {
		p->over = true;
		return NULL;
	}
	s->want_type = type;
	spf_eval_copy(s->want_name, sizeof s->want_name, name, strlen(name));
	return NULL;
}

static bool spf_void(struct spf_pass *p)
{
	if (++p->voids > SPF_VOID_MAX) {
		spf_note(p, true, "more than %d void DNS lookups", SPF_VOID_MAX);
		return false;
	}
	return true;
}

static bool spf_count_lookup(struct spf_pass *p)
{
	if (++p->lookups > SPF_LOOKUP_MAX) {
		spf_note(p, true, "more than %d DNS lookups", SPF_LOOKUP_MAX);
		return false;
	}
	return true;
}

static bool spf_addr_in(const struct spf_ip *ip, const unsigned char *net, size_t len, unsigned bits)
{
	size_t whole = bits / 8;
	if (whole > len)
		whole = len;
	if (memcmp(ip->a, net, whole) != 0)
		return false;
	unsigned rest = bits % 8;
	if (rest == 0 || whole >= len)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (ip->a[whole] & mask) == (net[whole] & mask);
}

/* Does any address of this answer hold the client, within bits? */
static bool spf_answer_has(const struct spf *s, const struct spf_answer *a, unsigned bits)
{
	size_t len = s->ip.v6 ? 16 : 4;
	for (size_t i = 0; i < a->nrr; i++)
		if (a->rr[i].len == len && spf_addr_in(&s->ip, a->rr[i].data, len, bits))
			return true;
	return false;
}

/*
 * RFC 7208 5.5: the names of the client's PTR records that resolve back
 * to it, among the first 10. With a target (the ptr mechanism), only
 * names equal to it or under it are validated: no other can match, and
 * skipping them saves queries. Into out (at most SPF_NAMES_MAX).
 */
static size_t spf_ptr_validated(struct spf_pass *p, const char *target, char (*out)[SPF_NAME_MAX + 1],
                                bool count_void, bool *void_over)
{
	struct spf *s = p->s;
	const struct spf_answer *a = spf_lookup(p, SPF_Q_PTR, s->ip_rev);
	if (a == NULL)
		return 0;
	if (a->rc == SPF_DNS_NXDOMAIN || a->rc == SPF_DNS_NODATA || (a->rc == SPF_DNS_OK && a->nrr == 0)) {
		if (count_void && !spf_void(p))
			*void_over = true;
		return 0;
	}
	if (a->rc != SPF_DNS_OK) /* 5.5: an error of the PTR lookup: no match */
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < a->nrr && i < SPF_NAMES_MAX; i++) {
		char name[SPF_NAME_MAX + 1];
		if (!spf_name_make((const char *)a->rr[i].data, a->rr[i].len, name))
			continue;
		if (target && !spf_name_under(name, target))
			continue;
		const struct spf_answer *b = spf_lookup(p, s->ip.v6 ? SPF_Q_AAAA : SPF_Q_A, name);
		if (b == NULL)
			return 0;
		/* 5.5: an error here skips this name. */
		if (b->rc == SPF_DNS_OK && spf_answer_has(s, b, s->ip.v6 ? 128 : 32))
			spf_eval_copy(out[n++], SPF_NAME_MAX + 1, name, strlen(name));
	}
	return n;
}

/* %{p} (7.3): the validated name equal to the domain, else one under
 * it, else any, else "unknown". NULL when the pass stops. */
static const char *spf_p_value(struct spf_pass *p, const char *domain)
{
	if (!p->ptr_done) {
		bool unused = false;
		p->nptr = spf_ptr_validated(p, NULL, p->ptr, false, &unused);
		if (p->stop)
			return NULL;
		p->ptr_done = true;
	}
	if (p->nptr == 0)
		return "unknown";
	for (size_t i = 0; i < p->nptr; i++)
		if (strcasecmp(p->ptr[i], domain) == 0)
			return p->ptr[i];
	for (size_t i = 0; i < p->nptr; i++)
		if (spf_name_under(p->ptr[i], domain))
			return p->ptr[i];
	return p->ptr[0];
}

/* Expand a macro-string for the record of domain into out. -1 when it
 * does not fit (or the pass stops: check p->stop). */
static int spf_expand(struct spf_pass *p, const char *domain, const char *str, size_t n, enum spf_macro_mode mode,
                      struct buf *out)
{
	struct spf *s = p->s;
	struct spf_macro_vars v = {
	        .s = s->sender, .l = s->local, .o = s->domain, .d = domain, .i = s->ip_i,
	        .v = s->ip.v6 ? "ip6" : "in-addr", .h = s->helo[0] ? s->helo : "unknown", .c = s->ip_c,
	        .r = s->receiver[0] ? s->receiver : "unknown", .t = s->now,
	};
	if (spf_macro_uses(str, n, 'p') && (v.p = spf_p_value(p, domain)) == NULL)
		return -1;
	return spf_macro_expand(str, n, mode, &v, out);
}

/* The name a term designates: its domain-spec expanded, or the current
 * domain. 1 done, 0 not a domain name, -1 stop or an expansion too long
 * (p->stop tells which). */
static int spf_target(struct spf_pass *p, const char *domain, const struct spf_term *t, char out[SPF_NAME_MAX + 1])
{
	if (t->speclen == 0) {
		spf_eval_copy(out, SPF_NAME_MAX + 1, domain, strlen(domain));
		return 1;
	}
	struct buf b;
	buf_init(&b, SPF_EXPAND_MAX);
	int rc = spf_expand(p, domain, t->spec, t->speclen, SPF_MACRO_DOMAIN, &b);
	if (rc == 0)
		rc = spf_name_make(b.data ? b.data : "", b.len, out) ? 1 : 0;
	buf_free(&b);
	if (rc < 0 && !p->stop)
		spf_note(p, true, "macro expansion over %d octets in %.*s", SPF_EXPAND_MAX, (int)t->len, t->text);
	return rc;
}

/* ----------------------------------------------------------- mechanisms */

static enum spf_result spf_host(struct spf_pass *p, const char *domain, unsigned depth, struct spf_why *why);

/* a, and each exchange of mx: the A or AAAA records of name. */
static enum spf_match spf_match_addr(struct spf_pass *p, const char *name, const struct spf_term *t, bool count_void)
{
	struct spf *s = p->s;
	const struct spf_answer *a = spf_lookup(p, s->ip.v6 ? SPF_Q_AAAA : SPF_Q_A, name);
	if (a == NULL)
		return SPF_NOMATCH;
	if (a->rc == SPF_DNS_TEMPFAIL) {
		spf_note(p, true, "DNS failure for %s %s", spf_qtype_name(a->type), name);
		return SPF_MATCH_TEMPERROR;
	}
	if (a->rc != SPF_DNS_OK || a->nrr == 0) {
		if (count_void && !spf_void(p))
			return SPF_MATCH_PERMERROR;
		return SPF_NOMATCH;
	}
	return spf_answer_has(s, a, s->ip.v6 ? t->cidr6 : t->cidr4) ? SPF_MATCH : SPF_NOMATCH;
}

static enum spf_match spf_match_mx(struct spf_pass *p, const char *name, const struct spf_term *t)
{
	const struct spf_answer *a = spf_lookup(p, SPF_Q_MX, name);
	if (a == NULL)
		return SPF_NOMATCH;
	if (a->rc == SPF_DNS_TEMPFAIL) {
		spf_note(p, true, "DNS failure for MX %s", name);
		return SPF_MATCH_TEMPERROR;
	}
	if (a->rc != SPF_DNS_OK || a->nrr == 0)
		return spf_void(p) ? SPF_NOMATCH : SPF_MATCH_PERMERROR;
	unsigned names = 0;
	for (size_t i = 0; i < a->nrr; i++) {
		char host[SPF_NAME_MAX + 1];
		/* A null MX (RFC 7505, "" or ".") names no host. */
		if (!spf_name_make((const char *)a->rr[i].data, a->rr[i].len, host))
			continue;
		if (++names > SPF_NAMES_MAX) {
			spf_note(p, true, "more than %d MX names at %s", SPF_NAMES_MAX, name);
			return SPF_MATCH_PERMERROR;
		}
		enum spf_match m = spf_match_addr(p, host, t, false);
		if (p->stop || m != SPF_NOMATCH)
			return m;
	}
	return SPF_NOMATCH;
}

static enum spf_match spf_match_include(struct spf_pass *p, const char *target, unsigned depth,
                                        const struct spf_term *t)
{
	enum spf_result r = spf_host(p, target, depth + 1, NULL);
	if (p->stop)
		return SPF_NOMATCH;
	/* RFC 7208 5.2's table. */
	switch (r) {
	case SPF_RESULT_PASS:
		return SPF_MATCH;
	case SPF_RESULT_FAIL:
	case SPF_RESULT_SOFTFAIL:
	case SPF_RESULT_NEUTRAL:
		return SPF_NOMATCH;
	case SPF_RESULT_TEMPERROR:
		return SPF_MATCH_TEMPERROR;
	case SPF_RESULT_NONE:
		spf_note(p, true, "%.*s: no SPF record there", (int)t->len, t->text);
		return SPF_MATCH_PERMERROR;
	case SPF_RESULT_PERMERROR:
		break;
	}
	return SPF_MATCH_PERMERROR;
}

static enum spf_match spf_mechanism(struct spf_pass *p, const char *domain, unsigned depth, const struct spf_term *t)
{
	struct spf *s = p->s;
	if (t->mech == SPF_M_ALL)
		return SPF_MATCH;
	if (t->mech == SPF_M_IP4)
		return !s->ip.v6 && spf_addr_in(&s->ip, t->net, 4, t->cidr4) ? SPF_MATCH : SPF_NOMATCH;
	if (t->mech == SPF_M_IP6)
		return s->ip.v6 && spf_addr_in(&s->ip, t->net, 16, t->cidr6) ? SPF_MATCH : SPF_NOMATCH;

	/* The rest query the DNS: they count (4.6.4). */
	if (!spf_count_lookup(p))
		return SPF_MATCH_PERMERROR;
	char target[SPF_NAME_MAX + 1];
	int tr = spf_target(p, domain, t, target);
	if (tr < 0)
		return SPF_MATCH_PERMERROR; /* or p->stop */
	if (tr == 0) {
		if (t->mech == SPF_M_INCLUDE) {
			spf_note(p, true, "%.*s: not a domain name", (int)t->len, t->text);
			return SPF_MATCH_PERMERROR;
		}
		return spf_void(p) ? SPF_NOMATCH : SPF_MATCH_PERMERROR;
	}
	switch (t->mech) {
	case SPF_M_INCLUDE:
		return spf_match_include(p, target, depth, t);
	case SPF_M_A:
		return spf_match_addr(p, target, t, true);
	case SPF_M_MX:
		return spf_match_mx(p, target, t);
	case SPF_M_PTR: {
		char names[SPF_NAMES_MAX][SPF_NAME_MAX + 1];
		bool void_over = false;
		size_t n = spf_ptr_validated(p, target, names, true, &void_over);
		if (void_over)
			return SPF_MATCH_PERMERROR;
		return n > 0 ? SPF_MATCH : SPF_NOMATCH; /* only names under target were kept */
	}
	case SPF_M_EXISTS: {
		/* 5.7: always an A query, whatever the client's family. */
		const struct spf_answer *a = spf_lookup(p, SPF_Q_A, target);
		if (a == NULL)
			return SPF_NOMATCH;
		if (a->rc == SPF_DNS_TEMPFAIL) {
			spf_note(p, true, "DNS failure for A %s", target);
			return SPF_MATCH_TEMPERROR;
		}
		if (a->rc == SPF_DNS_OK && a->nrr > 0)
			return SPF_MATCH;
		return spf_void(p) ? SPF_NOMATCH : SPF_MATCH_PERMERROR;
	}
	default:
		break;
	}
	return SPF_MATCH_PERMERROR;
}

static enum spf_result spf_qualifier(char q)
{
	switch (q) {
	case '-': return SPF_RESULT_FAIL;
	case '~': return SPF_RESULT_SOFTFAIL;
	case '?': return SPF_RESULT_NEUTRAL;
	default: return SPF_RESULT_PASS;
	}
}

/* The SPF record of domain (4.5): NULL with *r set when there is none
 * to evaluate. */
static const struct spf_rr *spf_select(struct spf_pass *p, const char *domain, enum spf_result *r)
{
	const struct spf_answer *a = spf_lookup(p, SPF_Q_TXT, domain);
	*r = SPF_RESULT_NONE;
	if (a == NULL)
		return NULL;
	if (a->rc == SPF_DNS_TEMPFAIL) {
		spf_note(p, true, "DNS failure for TXT %s", domain);
		*r = SPF_RESULT_TEMPERROR;
		return NULL;
	}
	const struct spf_rr *rec = NULL;
	size_t n = 0;
	for (size_t i = 0; a->rc == SPF_DNS_OK && i < a->nrr; i++)
		if (spf_record_is_v1(a->rr[i].data, a->rr[i].len)) {
			rec = &a->rr[i];
			n++;
		}
	if (n == 0) {
		spf_note(p, false, "no SPF record at %s", domain);
		return NULL;
	}
	if (n > 1) {
		spf_note(p, true, "%zu SPF records at %s", n, domain);
		*r = SPF_RESULT_PERMERROR;
		return NULL;
	}
	if (rec->len > SPF_RECORD_MAX) {
		spf_note(p, true, "the SPF record of %s is over %d octets", domain, SPF_RECORD_MAX);
		*r = SPF_RESULT_PERMERROR;
		return NULL;
	}
	return rec;
}

/* check_host() for one domain (4); why (may be NULL) learns the exp= of
 * the record a fail comes from (6.2: include's does not count, and a
 * redirect's target replaces ours). */
static enum spf_result spf_host(struct spf_pass *p, const char *domain, unsigned depth, struct spf_why *why)
{
	if (depth > SPF_DEPTH_MAX) {
		spf_note(p, true, "include/redirect nested over %d deep", SPF_DEPTH_MAX);
		return SPF_RESULT_PERMERROR;
	}
	enum spf_result r;
	const struct spf_rr *rec = spf_select(p, domain, &r);
	if (rec == NULL)
		return r;
	const char *text = rec->data, *err = NULL;
	struct spf_term redirect, exp, t;
	bool has_redirect, has_exp;
	if (spf_record_check(text, rec->len, &redirect, &has_redirect, &exp, &has_exp, &err) < 0) {
		spf_note(p, true, "syntax error in the SPF record of %s: %s", domain, err);
		return SPF_RESULT_PERMERROR;
	}
	size_t pos = 0;
	while (spf_term_next(text, rec->len, &pos, &t, &err) == 1) {
		if (t.kind != SPF_T_DIRECTIVE)
			continue;
		enum spf_match m = spf_mechanism(p, domain, depth, &t);
		if (p->stop)
			return SPF_RESULT_NONE;
		if (m == SPF_MATCH_TEMPERROR)
			return SPF_RESULT_TEMPERROR;
		if (m == SPF_MATCH_PERMERROR)
			return SPF_RESULT_PERMERROR;
		if (m == SPF_MATCH) {
			r = spf_qualifier(t.qual);
			spf_note(p, false, "matched %.*s at %s", (int)t.len, t.text, domain);
			if (r == SPF_RESULT_FAIL && why) {
				why->exp = has_exp ? exp.spec : NULL;
				why->explen = has_exp ? exp.speclen : 0;
				spf_eval_copy(why->domain, sizeof why->domain, domain, strlen(domain));
			}
			return r;
		}
	}
	if (!has_redirect) {
		spf_note(p, false, "no mechanism matched at %s", domain);
		return SPF_RESULT_NEUTRAL;
	}
	/* 6.1: redirect= only when no mechanism matched. */
	if (!spf_count_lookup(p))
		return SPF_RESULT_PERMERROR;
	char target[SPF_NAME_MAX + 1];
	int tr = spf_target(p, domain, &redirect, target);
	if (tr < 0)
		return SPF_RESULT_PERMERROR;
	if (tr == 0) {
		spf_note(p, true, "%.*s: not a domain name", (int)redirect.len, redirect.text);
		return SPF_RESULT_PERMERROR;
	}
	r = spf_host(p, target, depth + 1, why);
	if (p->stop)
		return r;
	if (r == SPF_RESULT_NONE) {
		spf_note(p, true, "%.*s: no SPF record there", (int)redirect.len, redirect.text);
		return SPF_RESULT_PERMERROR;
	}
	return r;
}

/* ---------------------------------------------------------- explanation */

static void spf_explain_default(struct spf *s)
{
	snprintf(s->explanation, sizeof s->explanation, "%s does not designate %s as permitted sender", s->domain,
	         s->ip_c);
	s->exp_default = true;
}

/* 6.2: the TXT record exp= names, expanded; any trouble (no record, two,
 * a DNS error, a syntax error, non-ASCII) gives the default. */
static void spf_explain(struct spf_pass *p, const struct spf_why *why)
{
	struct spf *s = p->s;
	spf_explain_default(s);
	if (why->exp == NULL)
		return;
	struct spf_term t = {.spec = why->exp, .speclen = why->explen, .text = "exp=", .len = 4};
	char name[SPF_NAME_MAX + 1];
	bool fixed = p->fixed;
	p->fixed = true; /* trouble here changes neither result nor reason */
	int tr = spf_target(p, why->domain, &t, name);
	if (tr <= 0) {
		p->fixed = fixed;
		return;
	}
	const struct spf_answer *a = spf_lookup(p, SPF_Q_TXT, name);
	if (a == NULL || a->rc != SPF_DNS_OK || a->nrr != 1 || a->rr[0].len > SPF_EXPAND_MAX) {
		p->fixed = fixed;
		return;
	}
	struct buf b;
	buf_init(&b, SPF_EXPLAIN_MAX);
	if (spf_expand(p, why->domain, a->rr[0].data, a->rr[0].len, SPF_MACRO_EXPLAIN, &b) == 0 && !p->stop) {
		spf_eval_copy(s->explanation, sizeof s->explanation, b.data ? b.data : "", b.len);
		s->exp_default = false;
	}
	buf_free(&b);
	p->fixed = fixed;
}

enum spf_result spf_eval_pass(struct spf *s, struct spf_eval_out *out)
{
	memset(out, 0, sizeof *out);
	struct spf_pass *p = calloc(1, sizeof *p); /* ~3 KiB: not on the stack */
	if (p == NULL) {
		snprintf(out->reason, sizeof out->reason, "out of memory");
		return SPF_RESULT_TEMPERROR;
	}
	p->s = s;
	struct spf_why why = {0};
	s->explanation[0] = '\0';
	s->exp_default = false;
	enum spf_result r = spf_host(p, s->domain, 0, &why);
	if (!p->stop && r == SPF_RESULT_FAIL) {
		spf_explain(p, &why);
		if (p->over) {
			/* Out of questions for the explanation only: the
			 * result stands, with the default text (6.2). */
			p->over = p->stop = false;
			spf_explain_default(s);
		}
	}
	out->stop = p->stop;
	out->over = p->over;
	snprintf(out->reason, sizeof out->reason, "%s", p->reason);
	free(p);
	return r;
}
