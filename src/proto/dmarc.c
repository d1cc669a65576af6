/*
 * dmarc — RFC 7489 without the DNS. See dmarc.h.
 */
#include "proto/dmarc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- record */

static bool dmarc_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void dmarc_trim(const char **p, size_t *n)
{
	while (*n > 0 && dmarc_wsp(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && dmarc_wsp((*p)[*n - 1]))
		(*n)--;
}

static bool dmarc_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

static bool dmarc_policy_of(const char *p, size_t n, enum dmarc_policy *out)
{
	if (dmarc_is(p, n, "none"))
		*out = DMARC_P_NONE;
	else if (dmarc_is(p, n, "quarantine"))
		*out = DMARC_P_QUARANTINE;
	else if (dmarc_is(p, n, "reject"))
		*out = DMARC_P_REJECT;
	else
		return false;
	return true;
}

/* rua=: at least one syntactically valid URI (RFC 7489 6.4: dmarc-uri is
 * a URI, optionally with "!size"); a mailto: with something after it is
 * what matters here. */
static bool dmarc_rua_valid(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && p[j] != ',')
			j++;
		const char *u = p + i;
		size_t un = j - i;
		dmarc_trim(&u, &un);
		const char *colon = memchr(u, ':', un);
		if (colon && colon > u && (size_t)(colon - u) + 1 < un)
			return true;
		i = j + 1;
	}
	return false;
}

enum dmarc_parse dmarc_record_parse(const char *txt, size_t n, struct dmarc_record *r)
{
	memset(r, 0, sizeof *r);
	r->pct = 100;
	if (n > DMARC_RECORD_MAX)
		return DMARC_PARSE_NOT_DMARC;
	bool first = true, have_p = false, bad_p = false, bad_sp = false;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && txt[j] != ';')
			j++;
		const char *t = txt + i;
		size_t tn = j - i;
		dmarc_trim(&t, &tn);
		i = j + 1;
		if (tn == 0) {
			if (first)
				return DMARC_PARSE_NOT_DMARC;
			if (j >= n)
				break;
			continue; /* ";;" or a trailing ";" */
		}
		const char *eq = memchr(t, '=', tn);
		const char *name = t, *val = eq ? eq + 1 : t + tn;
		size_t nn = eq ? (size_t)(eq - t) : tn, vn = eq ? tn - nn - 1 : 0;
		dmarc_trim(&name, &nn);
		dmarc_trim(&val, &vn);
		if (first) {
			/* v=DMARC1 first, exactly (RFC 7489 6.3) */
			if (!eq || !dmarc_is(name, nn, "v") || vn != 6 || strncmp(val, "DMARC1", 6) != 0)
				return DMARC_PARSE_NOT_DMARC;
			first = false;
		} else if (!eq) {
			/* a broken tag: discarded in favour of the defaults */
		} else if (dmarc_is(name, nn, "p")) {
			have_p = true;
			bad_p = !dmarc_policy_of(val, vn, &r->p);
		} else if (dmarc_is(name, nn, "sp")) {
			r->has_sp = dmarc_policy_of(val, vn, &r->sp);
			bad_sp = !r->has_sp;
		} else if (dmarc_is(name, nn, "adkim")) {
			r->adkim_strict = dmarc_is(val, vn, "s");
		} else if (dmarc_is(name, nn, "aspf")) {
			r->aspf_strict = dmarc_is(val, vn, "s");
		} else if (dmarc_is(name, nn, "pct")) {
			unsigned v = 0;
			size_t k = 0;
			while (k < vn && k < 4 && val[k] >= '0' && val[k] <= '9')
				v = v * 10 + (unsigned)(val[k++] - '0');
			if (k == vn && k > 0 && v <= 100)
				r->pct = v;
		} else if (dmarc_is(name, nn, "rua")) {
			r->has_rua = dmarc_rua_valid(val, vn);
		}
		/* ruf, fo, rf, ri and unknown tags: not needed to judge a message */
		if (j >= n)
			break;
	}
	if (first)
		return DMARC_PARSE_NOT_DMARC;
	if (!have_p || bad_p || bad_sp) {
		/* RFC 7489 6.6.3 step 6: p=none when rua= is usable, else nothing */
		if (!r->has_rua)
			return DMARC_PARSE_INVALID;
		r->p = DMARC_P_NONE;
		r->has_sp = false;
	}
	return DMARC_PARSE_OK;
}

/* ------------------------------------------------------------- discovery */

size_t dmarc_query_names(const char *from_domain, dmarc_orgdomain_fn org, char names[2][DMARC_DOMAIN_MAX + 8])
{
	snprintf(names[0], DMARC_DOMAIN_MAX + 8, "_dmarc.%s", from_domain);
	char o[DMARC_DOMAIN_MAX + 1];
	if (org(from_domain, o, sizeof o) && strcasecmp(o, from_domain) != 0) {
		snprintf(names[1], DMARC_DOMAIN_MAX + 8, "_dmarc.%s", o);
		return 2;
	}
	return 1;
}

bool dmarc_aligned(const char *a, const char *b, bool strict, dmarc_orgdomain_fn org)
{
	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return false;
	if (strcasecmp(a, b) == 0)
		return true;
	if (strict)
		return false;
	char oa[DMARC_DOMAIN_MAX + 1], ob[DMARC_DOMAIN_MAX + 1];
	return org(a, oa, sizeof oa) && org(b, ob, sizeof ob) && strcasecmp(oa, ob) == 0;
}

/* -------------------------------------------------------------- verdict */

void dmarc_evaluate(const struct dmarc_input *in, dmarc_orgdomain_fn org, struct dmarc_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->policy = DMARC_P_NONE;
	if (in->dns_temp) {
		v->result = DMARC_TEMPERROR;
		return;
	}
	if (!in->have_record) {
		v->result = DMARC_NONE;
		return;
	}
	const struct dmarc_record *r = &in->rec;
	v->spf_aligned = in->spf == DMARC_AUTH_PASS && dmarc_aligned(in->spf_domain, in->from_domain, r->aspf_strict, org);
	for (size_t i = 0; i < in->ndkim && i < DMARC_DKIM_MAX; i++)
		if (in->dkim[i].result == DMARC_AUTH_PASS &&
		    dmarc_aligned(in->dkim[i].d, in->from_domain, r->adkim_strict, org))
			v->dkim_aligned = true;
	if (v->spf_aligned || v->dkim_aligned) {
		v->result = DMARC_PASS;
		return;
	}
	/* A temporary failure of an authentication that could have passed
	 * aligned makes the failure temporary too: the sender retries rather
	 * than being refused for our DNS (RFC 7489 6.6.2). */
	bool temp = in->spf == DMARC_AUTH_TEMPERROR;
	for (size_t i = 0; i < in->ndkim && i < DMARC_DKIM_MAX; i++)
		if (in->dkim[i].result == DMARC_AUTH_TEMPERROR)
			temp = true;
	v->result = temp ? DMARC_TEMPERROR : DMARC_FAIL;
	enum dmarc_policy p = in->record_at_org && r->has_sp ? r->sp : r->p;
	/* pct= (RFC 7489 6.6.4): a message outside the sample gets the next
	 * less strict policy */
	if (in->sample >= r->pct) {
		if (p == DMARC_P_REJECT)
			p = DMARC_P_QUARANTINE;
		else if (p == DMARC_P_QUARANTINE)
			p = DMARC_P_NONE;
	}
	v->policy = p;
}

const char *dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_PASS: return "pass";
	case DMARC_FAIL: return "fail";
	case DMARC_TEMPERROR: return "temperror";
	case DMARC_PERMERROR: return "permerror";
	default: return "none";
	}
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_QUARANTINE: return "quarantine";
	case DMARC_P_REJECT: return "reject";
	default: return "none";
	}
}
