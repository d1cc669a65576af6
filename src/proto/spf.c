/*
 * spf — the SPF check of RFC 7208 as an object: the request, the answers
 * kept for the replays, the result. The evaluation itself is spf_eval.c,
 * the grammar spf_record.c, the macros spf_macro.c. See spf.h.
 *
 * Owns: the request's strings (copied), every answer given to it (kept
 * until spf_free; at most SPF_QUERY_MAX of them and SPF_ANSWER_BYTES in
 * all), the result. Does no I/O and reads no clock.
 */
#include "proto/spf.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/spf_int.h"

const char *spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_RESULT_NONE: return "none";
	case SPF_RESULT_NEUTRAL: return "neutral";
	case SPF_RESULT_PASS: return "pass";
	case SPF_RESULT_FAIL: return "fail";
	case SPF_RESULT_SOFTFAIL: return "softfail";
	case SPF_RESULT_TEMPERROR: return "temperror";
	case SPF_RESULT_PERMERROR: return "permerror";
	}
	return "permerror";
}

const char *spf_qtype_name(enum spf_qtype t)
{
	switch (t) {
	case SPF_Q_TXT: return "TXT";
	case SPF_Q_A: return "A";
	case SPF_Q_AAAA: return "AAAA";
	case SPF_Q_MX: return "MX";
	case SPF_Q_PTR: return "PTR";
	}
	return "?";
}

int spf_ip_parse(const char *text, struct spf_ip *ip)
{
	memset(ip, 0, sizeof *ip);
	if (inet_pton(AF_INET, text, ip->a) == 1)
		return 0;
	if (inet_pton(AF_INET6, text, ip->a) != 1)
		return -1;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(ip->a, mapped, 12) == 0) {
		memmove(ip->a, ip->a + 12, 4);
		memset(ip->a + 4, 0, 12);
		return 0;
	}
	ip->v6 = true;
	return 0;
}

/* ------------------------------------------------------------------ api */

static void spf_ip_texts(struct spf *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *a = s->ip.a;
	if (!s->ip.v6) {
		snprintf(s->ip_i, sizeof s->ip_i, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		spf_eval_copy(s->ip_c, sizeof s->ip_c, s->ip_i, strlen(s->ip_i));
		snprintf(s->ip_rev, sizeof s->ip_rev, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return;
	}
	/* 7.3: "i" of an IPv6 address is its 32 nibbles, dot-separated
	 * (lower case, as in the examples of 7.4). */
	char *o = s->ip_i, *r = s->ip_rev;
	for (int i = 0; i < 16; i++) {
		*o++ = hex[a[i] >> 4];
		*o++ = '.';
		*o++ = hex[a[i] & 15];
		*o++ = '.';
	}
	o[-1] = '\0';
	for (int i = 15; i >= 0; i--) {
		*r++ = hex[a[i] & 15];
		*r++ = '.';
		*r++ = hex[a[i] >> 4];
		*r++ = '.';
	}
	memcpy(r, "ip6.arpa", 9);
	if (inet_ntop(AF_INET6, a, s->ip_c, sizeof s->ip_c) == NULL)
		snprintf(s->ip_c, sizeof s->ip_c, "unknown");
}

struct spf *spf_new(const struct spf_request *req)
{
	struct spf *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->ip = req->ip;
	spf_ip_texts(s);
	snprintf(s->now, sizeof s->now, "%" PRId64, req->now);
	const char *helo = req->helo ? req->helo : "";
	const char *from = req->mail_from ? req->mail_from : "";
	if (strlen(helo) > SPF_HOST_MAX)
		s->malformed = true;
	else
		spf_eval_copy(s->helo, sizeof s->helo, helo, strlen(helo));
	if (req->receiver)
		spf_eval_copy(s->receiver, sizeof s->receiver, req->receiver, strlen(req->receiver));

	const char *local = "postmaster", *dom;
	size_t llen = 10;
	if (from[0] == '\0') {
		/* 2.3: the HELO identity, as postmaster@HELO. */
		s->identity = "helo";
		dom = helo;
	} else {
		s->identity = "mailfrom";
		const char *at = strrchr(from, '@');
		dom = at ? at + 1 : from;
		if (at && at > from) {
			local = from;
			llen = (size_t)(at - from);
		}
	}
	size_t dlen = strlen(dom);
	if (dlen > 0 && dom[dlen - 1] == '.')
		dlen--;
	if (llen > SPF_SENDER_MAX || dlen > SPF_NAME_MAX) {
		s->malformed = true;
		dlen = llen = 0;
	}
	spf_eval_copy(s->local, sizeof s->local, local, llen);
	spf_eval_copy(s->domain, sizeof s->domain, dom, dlen);
	snprintf(s->sender, sizeof s->sender, "%s@%s", s->local, s->domain);
	if (!spf_eval_domain_ok(s->domain))
		s->malformed = true;
	snprintf(s->reason, sizeof s->reason, "not evaluated");
	return s;
}

void spf_free(struct spf *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nans; i++) {
		free(s->ans[i].rr);
		free(s->ans[i].blob);
	}
	free(s->ans);
	free(s);
}

static enum spf_step spf_finish(struct spf *s, enum spf_result r, const char *reason)
{
	s->result = r;
	s->done = true;
	s->wanting = false;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	/* Printable ASCII only, whatever a local part put in: the text may
	 * end up in an SMTP reply or a header field. */
	for (char *c = s->explanation; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	return SPF_STEP_DONE;
}

enum spf_step spf_run(struct spf *s)
{
	if (s->done)
		return SPF_STEP_DONE;
	if (s->wanting)
		return SPF_STEP_WANT;
	if (s->malformed)
		return spf_finish(s, SPF_RESULT_NONE, "not a valid domain name (RFC 7208 4.3)");
	if (s->overflow)
		return spf_finish(s, SPF_RESULT_PERMERROR, "DNS answers too large");
	struct spf_eval_out out;
	enum spf_result r = spf_eval_pass(s, &out);
	if (out.over) {
		char why[64];
		snprintf(why, sizeof why, "more than %d DNS questions", SPF_QUERY_MAX);
		return spf_finish(s, SPF_RESULT_PERMERROR, why);
	}
	if (out.stop) {
		s->wanting = true;
		return SPF_STEP_WANT;
	}
	if (r != SPF_RESULT_FAIL)
		s->explanation[0] = '\0';
	return spf_finish(s, r, out.reason);
}

const char *spf_want(const struct spf *s, enum spf_qtype *type)
{
	if (!s->wanting)
		return NULL;
	*type = s->want_type;
	return s->want_name;
}

int spf_answer(struct spf *s, enum spf_rcode rc, const struct spf_rr *rr, size_t n)
{
	if (!s->wanting)
		return -1;
	if (s->nans == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		if (cap > SPF_QUERY_MAX)
			cap = SPF_QUERY_MAX;
		struct spf_answer *na = realloc(s->ans, cap * sizeof *na);
		if (na == NULL)
			return -1;
		s->ans = na;
		s->cap = cap;
	}
	struct spf_answer *a = &s->ans[s->nans];
	memset(a, 0, sizeof *a);
	a->type = s->want_type;
	a->rc = rc;
	spf_eval_copy(a->name, sizeof a->name, s->want_name, strlen(s->want_name));
	if (rc == SPF_DNS_OK && n > 0) {
		if (n > SPF_ANSWER_RRS)
			n = SPF_ANSWER_RRS;
		size_t total = 0;
		for (size_t i = 0; i < n; i++) {
			if (rr[i].len > SPF_ANSWER_BYTES - total) {
				s->overflow = true;
				break;
			}
			total += rr[i].len;
		}
		if (s->overflow || total > SPF_ANSWER_BYTES - s->bytes) {
			s->overflow = true;
			s->wanting = false;
			return 0;
		}
		a->rr = calloc(n, sizeof *a->rr);
		a->blob = malloc(total + 1);
		if (a->rr == NULL || a->blob == NULL) {
			free(a->rr);
			free(a->blob);
			return -1;
		}
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			if (rr[i].len)
				memcpy(a->blob + off, rr[i].data, rr[i].len);
			a->rr[i].data = a->blob + off;
			a->rr[i].len = rr[i].len;
			off += rr[i].len;
		}
		a->nrr = n;
		s->bytes += total;
	}
	s->nans++;
	s->wanting = false;
	return 0;
}

enum spf_result spf_result(const struct spf *s)
{
	return s->result;
}

const char *spf_explanation(const struct spf *s)
{
	return s->done && s->result == SPF_RESULT_FAIL ? s->explanation : NULL;
}

bool spf_explanation_is_default(const struct spf *s)
{
	return s->exp_default;
}

const char *spf_reason(const struct spf *s)
{
	return s->reason;
}

const char *spf_identity(const struct spf *s)
{
	return s->identity;
}

const char *spf_domain(const struct spf *s)
{
	return s->domain;
}

size_t spf_queries(const struct spf *s)
{
	return s->nans;
}
