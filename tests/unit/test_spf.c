/*
 * test_spf — the SPF engine (proto/spf, RFC 7208): the term grammar, the
 * macro language, evaluation against small zones answered by a fake DNS,
 * the processing limits, the replay (questions asked once, answers in any
 * order of time), and the bounds on what the engine keeps.
 *
 * With `--suite FILE [LABEL] [-v]` it is instead the driver of the RFC 7208 test suite:
 * tests/spf/run_rfc7208.py converts the suite's YAML into the line format
 * read here (see that script), and every case runs against the engine with
 * the DNS answered from its scenario's zone. It prints the failures and
 * "LABEL: N passed, M failed" (LABEL rfc7208 by default); the exit
 * status is 0 only when M is 0 (and N is not).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "proto/spf.h"
#include "proto/spf_int.h"

#define NOW 1700000000

/* ------------------------------------------------------------ fake DNS */

#define FAKE_FIELDS 8
#define FAKE_RRS 512

struct fake_rr {
	char *name;
	char type[8];
	size_t nf;
	char *f[FAKE_FIELDS];  /* unescaped fields */
	size_t flen[FAKE_FIELDS];
	bool timeout;         /* a "timeout NAME" line */
};

struct fake_zone {
	struct fake_rr rr[FAKE_RRS];
	size_t n;
	unsigned asked;       /* questions answered */
	char log[8192];       /* "TYPE name;" of every question */
};

/* Undo the escapes of run_rfc7208.py: \xNN, and "" for the empty field. */
static char *fake_unescape(const char *s, size_t n, size_t *outlen)
{
	char *o = malloc(n + 1);
	assert_non_null(o);
	size_t k = 0;
	if (n == 2 && s[0] == '"' && s[1] == '"')
		n = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
			char hex[3] = {s[i + 2], s[i + 3], 0};
			o[k++] = (char)strtol(hex, NULL, 16);
			i += 3;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* Split a line at single spaces into unescaped fields. */
static size_t fake_split(const char *line, char **f, size_t *fl, size_t max)
{
	size_t n = 0;
	const char *p = line;
	while (*p && n < max) {
		const char *e = strchr(p, ' ');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		f[n] = fake_unescape(p, len, &fl[n]);
		n++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return n;
}

static void fake_clear(struct fake_zone *z)
{
	for (size_t i = 0; i < z->n; i++) {
		free(z->rr[i].name);
		for (size_t j = 0; j < z->rr[i].nf; j++)
			free(z->rr[i].f[j]);
	}
	z->n = 0;
	z->asked = 0;
	z->log[0] = '\0';
}

/* "rr NAME TYPE FIELD..." or "timeout NAME". */
static void fake_add_line(struct fake_zone *z, const char *line)
{
	char *f[FAKE_FIELDS + 3];
	size_t fl[FAKE_FIELDS + 3];
	size_t n = fake_split(line, f, fl, FAKE_FIELDS + 3);
	assert_true(z->n < FAKE_RRS);
	struct fake_rr *r = &z->rr[z->n++];
	memset(r, 0, sizeof *r);
	if (strcmp(f[0], "timeout") == 0) {
		r->name = f[1];
		r->timeout = true;
		free(f[0]);
		return;
	}
	assert_string_equal(f[0], "rr");
	r->name = f[1];
	snprintf(r->type, sizeof r->type, "%s", f[2]);
	for (size_t i = 3; i < n; i++) {
		r->f[r->nf] = f[i];
		r->flen[r->nf++] = fl[i];
	}
	free(f[0]);
	free(f[2]);
}

/* Zone text: lines of the same format, for the unit tests. */
static void fake_load(struct fake_zone *z, const char *text)
{
	fake_clear(z);
	char *copy = strdup(text), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l)
			fake_add_line(z, l);
	}
	free(copy);
}

static const char *fake_type(enum spf_qtype t)
{
	return spf_qtype_name(t);
}

/* Answer one question from the zone, CNAMEs followed (8 at most: a loop
 * is a server failure, as resolvers report it). */
static void fake_answer(struct fake_zone *z, struct spf *s)
{
	enum spf_qtype t;
	const char *q = spf_want(s, &t);
	assert_non_null(q);
	z->asked++;
	size_t ll = strlen(z->log);
	snprintf(z->log + ll, sizeof z->log - ll, "%s %s;", fake_type(t), q);
	char name[300];
	snprintf(name, sizeof name, "%s", q);
	for (int hop = 0; hop < 8; hop++) {
		struct spf_rr rr[64];
		unsigned char addr[64][16];
		char *joined[64];
		size_t n = 0, nj = 0;
		bool exists = false, timeout = false;
		const char *cname = NULL;
		for (size_t i = 0; i < z->n; i++) {
			struct fake_rr *r = &z->rr[i];
			if (strcasecmp(r->name, name) != 0)
				continue;
			exists = true;
			if (r->timeout) {
				timeout = true;
				continue;
			}
			if (strcmp(r->type, "CNAME") == 0 && r->nf == 1)
				cname = r->f[0];
			if (strcmp(r->type, fake_type(t)) != 0 || n >= 64)
				continue;
			if (t == SPF_Q_TXT) {
				size_t len = 0;
				for (size_t j = 0; j < r->nf; j++)
					len += r->flen[j];
				char *j0 = malloc(len + 1);
				size_t off = 0;
				for (size_t j = 0; j < r->nf; j++) {
					memcpy(j0 + off, r->f[j], r->flen[j]);
					off += r->flen[j];
				}
				joined[nj++] = j0;
				rr[n].data = j0;
				rr[n].len = len;
			} else if (t == SPF_Q_A || t == SPF_Q_AAAA) {
				if (inet_pton(t == SPF_Q_A ? AF_INET : AF_INET6, r->f[0], addr[n]) != 1)
					continue;
				rr[n].data = addr[n];
				rr[n].len = t == SPF_Q_A ? 4 : 16;
			} else if (t == SPF_Q_MX) {
				rr[n].data = r->f[1];
				rr[n].len = r->flen[1];
			} else {
				rr[n].data = r->f[0];
				rr[n].len = r->flen[0];
			}
			n++;
		}
		if (n == 0 && cname) {
			snprintf(name, sizeof name, "%s", cname);
			size_t cl = strlen(name);
			if (cl && name[cl - 1] == '.')
				name[cl - 1] = '\0';
			continue;
		}
		enum spf_rcode rc = n ? SPF_DNS_OK : timeout ? SPF_DNS_TEMPFAIL : exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
		assert_int_equal(spf_answer(s, rc, rr, n), 0);
		for (size_t i = 0; i < nj; i++)
			free(joined[i]);
		return;
	}
	assert_int_equal(spf_answer(s, SPF_DNS_TEMPFAIL, NULL, 0), 0);
}

struct outcome {
	enum spf_result r;
	char exp[SPF_EXPLAIN_MAX + 1];
	bool exp_default;
	char reason[SPF_REASON_MAX + 1];
};

static struct outcome fake_check(struct fake_zone *z, const char *ip, const char *from, const char *helo)
{
	struct spf_request req = {.mail_from = from, .helo = helo, .receiver = "mx.receiver.example", .now = NOW};
	assert_int_equal(spf_ip_parse(ip, &req.ip), 0);
	struct spf *s = spf_new(&req);
	assert_non_null(s);
	z->asked = 0;
	z->log[0] = '\0';
	while (spf_run(s) == SPF_STEP_WANT)
		fake_answer(z, s);
	struct outcome o = {.r = spf_result(s), .exp_default = spf_explanation_is_default(s)};
	const char *e = spf_explanation(s);
	snprintf(o.exp, sizeof o.exp, "%s", e ? e : "");
	snprintf(o.reason, sizeof o.reason, "%s", spf_reason(s));
	assert_int_equal(spf_queries(s), z->asked);
	spf_free(s);
	return o;
}

/* ------------------------------------------------------------ the suite */

static int suite_run(const char *path, const char *label, bool verbose)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		perror(path);
		return 2;
	}
	struct fake_zone *z = calloc(1, sizeof *z);
	char line[16384];
	unsigned passed = 0, failed = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "scenario ", 9) == 0) {
			fake_clear(z);
			continue;
		}
		if (strncmp(line, "case ", 5) != 0) {
			if (line[0])
				fake_add_line(z, line);
			continue;
		}
		char *c[8];
		size_t cl[8];
		size_t n = fake_split(line, c, cl, 8);
		const char *id = c[1], *mode = c[2], *host = c[3], *from = c[4], *helo = c[5];
		const char *results = c[6], *want_exp = n > 7 ? c[7] : NULL;
		z->asked = 0;
		z->log[0] = '\0';
		struct outcome o = fake_check(z, host, from, helo);
		const char *got = spf_result_name(o.r);
		bool ok = false;
		char rs[256];
		snprintf(rs, sizeof rs, "%s", results);
		char *save = NULL;
		for (char *r = strtok_r(rs, ",", &save); r; r = strtok_r(NULL, ",", &save))
			if (strcmp(r, got) == 0)
				ok = true;
		if (ok && want_exp) {
			if (strcmp(want_exp, "DEFAULT") == 0)
				ok = o.exp_default;
			else if (strcmp(mode, "nocase") == 0)
				ok = strcasecmp(want_exp, o.exp) == 0;
			else
				ok = strcmp(want_exp, o.exp) == 0;
		}
		if (ok)
			passed++;
		else
			failed++;
		if (!ok || verbose)
			printf("%s %s: want %s%s%s, got %s \"%s\"%s (%s) [%s]\n", ok ? "ok" : "FAIL", id, results,
			       want_exp ? " " : "", want_exp ? want_exp : "", got, o.exp, o.exp_default ? " (default)" : "",
			       o.reason, z->log);
		for (size_t i = 0; i < n; i++)
			free(c[i]);
	}
	fclose(f);
	fake_clear(z);
	free(z);
	printf("%s: %u passed, %u failed\n", label, passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}

/* ------------------------------------------------------------ the terms */

static int parse_one(const char *rec, struct spf_term *t, const char **err)
{
	size_t pos = 0;
	return spf_term_next(rec, strlen(rec), &pos, t, err);
}

static void test_version(void **state)
{
	(void)state;
	assert_true(spf_record_is_v1("v=spf1", 6));
	assert_true(spf_record_is_v1("V=SpF1 -all", 11));
	assert_false(spf_record_is_v1("v=spf10", 7));
	assert_false(spf_record_is_v1("v=spf1\t-all", 11));
	assert_false(spf_record_is_v1("v=spf", 5));
	assert_false(spf_record_is_v1("spf2.0/pra", 10));
}

static void test_terms(void **state)
{
	(void)state;
	struct spf_term t;
	const char *err;
	assert_int_equal(parse_one("v=spf1 -all", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_ALL);
	assert_int_equal(t.qual, '-');
	assert_int_equal(parse_one("v=spf1 a:foo:bar/baz.example.com", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_A);
	assert_int_equal(t.speclen, strlen("foo:bar/baz.example.com"));
	assert_int_equal(t.cidr4, 32);
	assert_int_equal(parse_one("v=spf1 mx/24//64", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_MX);
	assert_int_equal(t.speclen, 0);
	assert_int_equal(t.cidr4, 24);
	assert_int_equal(t.cidr6, 64);
	assert_int_equal(parse_one("v=spf1 a:example.com//0", &t, &err), 1);
	assert_int_equal(t.cidr6, 0);
	assert_int_equal(t.cidr4, 32);
	assert_int_equal(parse_one("v=spf1 ?ip4:192.0.2.0/24", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_IP4);
	assert_int_equal(t.cidr4, 24);
	assert_memory_equal(t.net, "\xc0\x00\x02\x00", 4);
	assert_int_equal(parse_one("v=spf1 ~ip6:2001:DB8::/32", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_IP6);
	assert_int_equal(t.cidr6, 32);
	assert_int_equal(parse_one("v=spf1 Include:_spf.example.com", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_INCLUDE);
	assert_int_equal(parse_one("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_EXISTS);
	assert_int_equal(parse_one("v=spf1 ptr", &t, &err), 1);
	assert_int_equal(t.mech, SPF_M_PTR);
	assert_int_equal(parse_one("v=spf1 redirect=_spf.example.com", &t, &err), 1);
	assert_int_equal(t.kind, SPF_T_REDIRECT);
	assert_int_equal(parse_one("v=spf1 EXP=explain.%{d}", &t, &err), 1);
	assert_int_equal(t.kind, SPF_T_EXP);
	assert_int_equal(parse_one("v=spf1 moo.cow-far_out=man:dog/cat", &t, &err), 1);
	assert_int_equal(t.kind, SPF_T_MODIFIER);
	assert_int_equal(parse_one("v=spf1    ", &t, &err), 0);
	assert_int_equal(parse_one("v=spf1", &t, &err), 0);
}

static void test_term_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "v=spf1 all.", "v=spf1 all:x", "v=spf1 -all/8", "v=spf1 ptr/0", "v=spf1 ptr:", "v=spf1 include",
	        "v=spf1 include:", "v=spf1 exists", "v=spf1 ip4", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4/032",
	        "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip4:1.2.3", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3.4:8080",
	        "v=spf1 ip6", "v=spf1 ip6::CAFE::BABE", "v=spf1 ip6:::1/129", "v=spf1 a/33", "v=spf1 a//129",
	        "v=spf1 a/24/64", "v=spf1 a:foo-bar", "v=spf1 a:museum", "v=spf1 a:museum.", "v=spf1 a:abc.123",
	        "v=spf1 a:example.-com", "v=spf1 a:", "v=spf1 mx:example.com:8080", "v=spf1 moo",
	        "v=spf1 moo.cow/far_out=man:dog/cat", "v=spf1 1up=foo", "v=spf1 =all", "v=spf1 foo=%abc",
	        "v=spf1 redirect=", "v=spf1 exp=", "v=spf1 exp=-all", "v=spf1 redirect:x.example.com",
	        "v=spf1 -redirect=x.example.com", "v=spf1 exp=%{r}.example.com", "v=spf1 a:%(ir).example.com",
	        "v=spf1 a:foo%.example.com", "v=spf1 a:%{d0}.example.com", "v=spf1 a:%{x}.example.com",
	        "v=spf1 a:%{d", "v=spf1 a:x.example.com\r", "v=spf1 \x80" "a",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct spf_term t;
		const char *err = NULL;
		if (parse_one(bad[i], &t, &err) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
	}
	/* The whole record is checked, and redirect/exp appear once. */
	struct spf_term r, e;
	bool hr, he;
	const char *err;
	const char *rec = "v=spf1 ip4:1.2.3.4 -all moo";
	assert_int_equal(spf_record_check(rec, strlen(rec), &r, &hr, &e, &he, &err), -1);
	rec = "v=spf1 redirect=a.example.com redirect=a.example.com";
	assert_int_equal(spf_record_check(rec, strlen(rec), &r, &hr, &e, &he, &err), -1);
	rec = "v=spf1 exp=a.example.com -all exp=b.example.com";
	assert_int_equal(spf_record_check(rec, strlen(rec), &r, &hr, &e, &he, &err), -1);
	rec = "v=spf1 exp=a.example.com -all redirect=%{d}.x.example.com";
	assert_int_equal(spf_record_check(rec, strlen(rec), &r, &hr, &e, &he, &err), 0);
	assert_true(hr && he);
	assert_memory_equal(e.spec, "a.example.com", e.speclen);
}

static void test_toplabel(void **state)
{
	(void)state;
	assert_true(spf_toplabel_ok("com", 3));
	assert_true(spf_toplabel_ok("xn--zckzah", 10));
	assert_true(spf_toplabel_ok("123-4", 5));
	assert_true(spf_toplabel_ok("a1", 2));
	assert_false(spf_toplabel_ok("123", 3));
	assert_false(spf_toplabel_ok("-com", 4));
	assert_false(spf_toplabel_ok("com-", 4));
	assert_false(spf_toplabel_ok("c_m", 3));
	assert_false(spf_toplabel_ok("", 0));
}

/* ----------------------------------------------------------- the macros */

static const struct spf_macro_vars rfc_vars = {
        /* RFC 7208 7.4's example */
        .s = "strong-bad@email.example.com", .l = "strong-bad", .o = "email.example.com",
        .d = "email.example.com", .i = "192.0.2.3", .p = "mx.example.org", .v = "in-addr",
        .h = "mx.example.org", .c = "192.0.2.3", .r = "receiver.example", .t = "1700000000",
};

static void expect_expand(const char *in, enum spf_macro_mode mode, const char *want)
{
	struct buf b;
	buf_init(&b, SPF_EXPAND_MAX);
	if (spf_macro_expand(in, strlen(in), mode, &rfc_vars, &b) != 0)
		fail_msg("did not expand: %s", in);
	assert_string_equal(b.data ? b.data : "", want);
	buf_free(&b);
}

static void test_macro_rfc_examples(void **state)
{
	(void)state;
	expect_expand("%{s}", SPF_MACRO_DOMAIN, "strong-bad@email.example.com");
	expect_expand("%{o}", SPF_MACRO_DOMAIN, "email.example.com");
	expect_expand("%{d}", SPF_MACRO_DOMAIN, "email.example.com");
	expect_expand("%{d4}", SPF_MACRO_DOMAIN, "email.example.com");
	expect_expand("%{d3}", SPF_MACRO_DOMAIN, "email.example.com");
	expect_expand("%{d2}", SPF_MACRO_DOMAIN, "example.com");
	expect_expand("%{d1}", SPF_MACRO_DOMAIN, "com");
	expect_expand("%{dr}", SPF_MACRO_DOMAIN, "com.example.email");
	expect_expand("%{d2r}", SPF_MACRO_DOMAIN, "example.email");
	expect_expand("%{l}", SPF_MACRO_DOMAIN, "strong-bad");
	expect_expand("%{l-}", SPF_MACRO_DOMAIN, "strong.bad");
	expect_expand("%{lr}", SPF_MACRO_DOMAIN, "strong-bad");
	expect_expand("%{lr-}", SPF_MACRO_DOMAIN, "bad.strong");
	expect_expand("%{l1r-}", SPF_MACRO_DOMAIN, "strong");
	expect_expand("%{ir}.%{v}._spf.%{d2}", SPF_MACRO_DOMAIN, "3.2.0.192.in-addr._spf.example.com");
	expect_expand("%{lr-}.lp._spf.%{d2}", SPF_MACRO_DOMAIN, "bad.strong.lp._spf.example.com");
	expect_expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", SPF_MACRO_DOMAIN,
	              "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expect_expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", SPF_MACRO_DOMAIN,
	              "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expect_expand("%{d2}.trusted-domains.example.net", SPF_MACRO_DOMAIN, "example.com.trusted-domains.example.net");
	expect_expand("%%%_%-", SPF_MACRO_DOMAIN, "% %20");
	expect_expand("%{S}", SPF_MACRO_DOMAIN, "strong-bad%40email.example.com");
	expect_expand("%{L}x", SPF_MACRO_DOMAIN, "strong-badx");
	expect_expand("%{d999999999999999}", SPF_MACRO_DOMAIN, "email.example.com");
	expect_expand("%{c} %{r} %{t}", SPF_MACRO_EXPLAIN, "192.0.2.3 receiver.example 1700000000");
	expect_expand("%{p}.%{h}", SPF_MACRO_DOMAIN, "mx.example.org.mx.example.org");
	expect_expand("", SPF_MACRO_DOMAIN, "");
}

static void test_macro_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {"%", "%x", "%{", "%{s", "%{q}", "%{s0}", "%{s!}", "%{c}", "%{r}", "%{t}",
	                                  "a b", "%{s}%"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (spf_macro_check(bad[i], strlen(bad[i]), SPF_MACRO_DOMAIN, NULL) == 0)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(spf_macro_check("a b %{c}", 8, SPF_MACRO_EXPLAIN, NULL), 0);
	assert_int_equal(spf_macro_check("%{c}", 4, SPF_MACRO_ANY, NULL), 0);
	assert_int_equal(spf_macro_check("a b", 3, SPF_MACRO_ANY, NULL), -1);
	size_t tail;
	assert_int_equal(spf_macro_check("x.%{d}.com", 10, SPF_MACRO_DOMAIN, &tail), 0);
	assert_int_equal(tail, 6);
	assert_int_equal(spf_macro_check("x.%{d}", 6, SPF_MACRO_DOMAIN, &tail), 0);
	assert_int_equal(tail, 6);
	assert_true(spf_macro_uses("a.%{P}", 6, 'p'));
	assert_false(spf_macro_uses("a.%%{p}", 7, 'p'));
	/* Bounded: an expansion past the buffer's maximum fails. */
	struct buf b;
	buf_init(&b, 20);
	assert_int_equal(spf_macro_expand("%{s}%{s}", 8, SPF_MACRO_DOMAIN, &rfc_vars, &b), -1);
	buf_free(&b);
}

/* ------------------------------------------------------------ evaluation */

static struct fake_zone zone;

static int zone_teardown(void **state)
{
	(void)state;
	fake_clear(&zone);
	return 0;
}

static void test_basic_results(void **state)
{
	(void)state;
	fake_load(&zone, "rr example.org TXT v=spf1\\x20ip4:192.0.2.0/24\\x20~all\n"
	                 "rr example.org TXT google-site-verification=x\n"
	                 "rr neutral.example.org TXT v=spf1\\x20?all\n"
	                 "rr fail.example.org TXT v=spf1\\x20-all\n"
	                 "rr plain.example.org TXT hello\n");
	assert_int_equal(fake_check(&zone, "192.0.2.9", "a@example.org", "h.example").r, SPF_RESULT_PASS);
	assert_int_equal(fake_check(&zone, "198.51.100.1", "a@example.org", "h.example").r, SPF_RESULT_SOFTFAIL);
	assert_int_equal(fake_check(&zone, "198.51.100.1", "a@neutral.example.org", NULL).r, SPF_RESULT_NEUTRAL);
	assert_int_equal(fake_check(&zone, "198.51.100.1", "a@plain.example.org", NULL).r, SPF_RESULT_NONE);
	assert_int_equal(fake_check(&zone, "198.51.100.1", "a@nowhere.example.org", NULL).r, SPF_RESULT_NONE);
	struct outcome o = fake_check(&zone, "2001:db8::1", "a@fail.example.org", NULL);
	assert_int_equal(o.r, SPF_RESULT_FAIL);
	assert_true(o.exp_default);
	assert_string_equal(o.exp, "fail.example.org does not designate 2001:db8::1 as permitted sender");
	/* IPv4-mapped IPv6 is the IPv4 client. */
	assert_int_equal(fake_check(&zone, "::ffff:192.0.2.1", "a@example.org", NULL).r, SPF_RESULT_PASS);
	/* Malformed identities get none without a question. */
	zone.asked = 0;
	assert_int_equal(fake_check(&zone, "192.0.2.1", "a@localhost", NULL).r, SPF_RESULT_NONE);
	assert_int_equal(fake_check(&zone, "192.0.2.1", "a@[192.0.2.1]", NULL).r, SPF_RESULT_NONE);
	assert_int_equal(fake_check(&zone, "192.0.2.1", "", NULL).r, SPF_RESULT_NONE);
	assert_int_equal(zone.asked, 0);
}

static void test_identities(void **state)
{
	(void)state;
	fake_load(&zone, "rr helo.example TXT v=spf1\\x20-all\\x20exp=e.example\n"
	                 "rr e.example TXT %{s}\\x20%{l}\\x20%{o}\\x20%{h}\n"
	                 "rr mail.example TXT v=spf1\\x20-all\\x20exp=e.example\n");
	struct outcome o = fake_check(&zone, "192.0.2.1", "", "helo.example");
	assert_int_equal(o.r, SPF_RESULT_FAIL);
	assert_string_equal(o.exp, "postmaster@helo.example postmaster helo.example helo.example");
	o = fake_check(&zone, "192.0.2.1", "@mail.example", "helo.example");
	assert_string_equal(o.exp, "postmaster@mail.example postmaster mail.example helo.example");
	o = fake_check(&zone, "192.0.2.1", "mail.example", NULL);
	assert_string_equal(o.exp, "postmaster@mail.example postmaster mail.example unknown");
	o = fake_check(&zone, "192.0.2.1", "x@y@mail.example.", "h");
	assert_string_equal(o.exp, "x@y@mail.example x@y mail.example h");
}

static void test_mechanisms(void **state)
{
	(void)state;
	fake_load(&zone, "rr d.example TXT v=spf1\\x20a\\x20mx/24\\x20-all\n"
	                 "rr d.example A 192.0.2.10\n"
	                 "rr d.example AAAA 2001:db8::10\n"
	                 "rr d.example MX 10 mx.d.example\n"
	                 "rr d.example MX 20 \"\"\n"
	                 "rr mx.d.example A 198.51.100.20\n"
	                 "rr p.example TXT v=spf1\\x20ptr:d.example\\x20-all\n"
	                 "rr 10.2.0.192.in-addr.arpa PTR other.example.\n"
	                 "rr 10.2.0.192.in-addr.arpa PTR host.d.example.\n"
	                 "rr host.d.example A 192.0.2.10\n"
	                 "rr x.example TXT v=spf1\\x20exists:%{i}.bl.example\\x20-all\n"
	                 "rr 192.0.2.77.bl.example A 127.0.0.2\n");
	assert_int_equal(fake_check(&zone, "192.0.2.10", "a@d.example", NULL).r, SPF_RESULT_PASS);
	assert_int_equal(fake_check(&zone, "2001:db8::10", "a@d.example", NULL).r, SPF_RESULT_PASS);
	assert_int_equal(fake_check(&zone, "198.51.100.99", "a@d.example", NULL).r, SPF_RESULT_PASS);
	assert_int_equal(fake_check(&zone, "198.51.101.1", "a@d.example", NULL).r, SPF_RESULT_FAIL);
	assert_int_equal(fake_check(&zone, "192.0.2.10", "a@p.example", NULL).r, SPF_RESULT_PASS);
	/* other.example was not looked up: it can never match d.example. */
	assert_null(strstr(zone.log, "other.example"));
	assert_int_equal(fake_check(&zone, "192.0.2.11", "a@p.example", NULL).r, SPF_RESULT_FAIL);
	assert_int_equal(fake_check(&zone, "192.0.2.77", "a@x.example", NULL).r, SPF_RESULT_PASS);
	assert_int_equal(fake_check(&zone, "192.0.2.78", "a@x.example", NULL).r, SPF_RESULT_FAIL);
	fake_load(&zone, "rr x.example TXT v=spf1\\x20-exists:%{i}.bl.example\\x20+all\n"
	                 "rr 192.0.2.77.bl.example A 127.0.0.2\n");
	assert_int_equal(fake_check(&zone, "192.0.2.77", "a@x.example", NULL).r, SPF_RESULT_FAIL);
	assert_int_equal(fake_check(&zone, "192.0.2.78", "a@x.example", NULL).r, SPF_RESULT_PASS);
}

static void test_include_redirect_exp(void **state)
{
	(void)state;
	fake_load(&zone, "rr top.example TXT v=spf1\\x20include:inc.example\\x20redirect=red.example\\x20exp=no.example\n"
	                 "rr inc.example TXT v=spf1\\x20ip4:192.0.2.1\\x20-all\\x20exp=no.example\n"
	                 "rr red.example TXT v=spf1\\x20ip4:192.0.2.2\\x20-all\\x20exp=why.%{d}\n"
	                 "rr why.red.example TXT %{i}\\x20is\\x20not\\x20one\\x20of\\x20%{d}'s\\x20(%{o})\n"
	                 "rr no.example TXT wrong\n"
	                 "rr temp.example TXT v=spf1\\x20include:down.example\\x20-all\n"
	                 "timeout down.example\n"
	                 "rr none.example TXT v=spf1\\x20include:nowhere.example\\x20-all\n");
	assert_int_equal(fake_check(&zone, "192.0.2.1", "a@top.example", NULL).r, SPF_RESULT_PASS);
	assert_int_equal(fake_check(&zone, "192.0.2.2", "a@top.example", NULL).r, SPF_RESULT_PASS);
	struct outcome o = fake_check(&zone, "192.0.2.3", "a@top.example", NULL);
	assert_int_equal(o.r, SPF_RESULT_FAIL);
	assert_false(o.exp_default);
	assert_string_equal(o.exp, "192.0.2.3 is not one of red.example's (top.example)");
	o = fake_check(&zone, "192.0.2.3", "a@temp.example", NULL);
	assert_int_equal(o.r, SPF_RESULT_TEMPERROR);
	assert_non_null(strstr(o.reason, "down.example"));
	assert_int_equal(fake_check(&zone, "192.0.2.3", "a@none.example", NULL).r, SPF_RESULT_PERMERROR);
}

static void test_limits(void **state)
{
	(void)state;
	/* 10 DNS terms pass, the 11th is a permerror (4.6.4). */
	fake_load(&zone, "rr ten.example TXT v=spf1\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20"
	                 "ip4:192.0.2.1\\x20-all\n"
	                 "rr eleven.example TXT v=spf1\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20a\\x20"
	                 "a\\x20ip4:192.0.2.1\\x20-all\n"
	                 "rr ten.example A 198.51.100.1\n"
	                 "rr eleven.example A 198.51.100.1\n"
	                 "rr void.example TXT v=spf1\\x20a:n1.example\\x20a:n2.example\\x20a:n3.example\\x20-all\n"
	                 "rr loop.example TXT v=spf1\\x20include:loop.example\n");
	assert_int_equal(fake_check(&zone, "192.0.2.1", "a@ten.example", NULL).r, SPF_RESULT_PASS);
	struct outcome o = fake_check(&zone, "192.0.2.1", "a@eleven.example", NULL);
	assert_int_equal(o.r, SPF_RESULT_PERMERROR);
	assert_non_null(strstr(o.reason, "10 DNS lookups"));
	/* Repeated questions are asked once: 2 for ten a's. */
	assert_int_equal(zone.asked, 2);
	o = fake_check(&zone, "192.0.2.1", "a@void.example", NULL);
	assert_int_equal(o.r, SPF_RESULT_PERMERROR);
	assert_non_null(strstr(o.reason, "void"));
	assert_int_equal(fake_check(&zone, "192.0.2.1", "a@loop.example", NULL).r, SPF_RESULT_PERMERROR);
	assert_int_equal(zone.asked, 1);
}

/* A hostile DNS: every answer a fresh name, as large as allowed. */
static void test_bounds(void **state)
{
	(void)state;
	struct spf_request req = {.mail_from = "a@big.example", .now = NOW};
	assert_int_equal(spf_ip_parse("192.0.2.1", &req.ip), 0);
	struct spf *s = spf_new(&req);
	assert_int_equal(spf_answer(s, SPF_DNS_OK, NULL, 0), -1); /* nothing asked yet */
	char *big = malloc(70000);
	memset(big, 'x', 70000);
	memcpy(big, "v=spf1 ", 7);
	struct spf_rr rr = {big, 70000};
	assert_int_equal(spf_run(s), SPF_STEP_WANT);
	assert_int_equal(spf_answer(s, SPF_DNS_OK, &rr, 1), 0);
	assert_int_equal(spf_run(s), SPF_STEP_DONE);
	assert_int_equal(spf_result(s), SPF_RESULT_PERMERROR); /* over SPF_RECORD_MAX */
	assert_int_equal(spf_answer(s, SPF_DNS_OK, NULL, 0), -1);
	spf_free(s);

	/* Over SPF_ANSWER_BYTES in all: a permerror, nothing more kept. */
	s = spf_new(&req);
	struct spf_rr two[2] = {{big, 70000}, {big, 70000}};
	assert_int_equal(spf_run(s), SPF_STEP_WANT);
	assert_int_equal(spf_answer(s, SPF_DNS_OK, two, 2), 0);
	assert_int_equal(spf_run(s), SPF_STEP_DONE);
	assert_int_equal(spf_result(s), SPF_RESULT_PERMERROR);
	spf_free(s);
	free(big);

	/* The explanation is printable ASCII whatever the local part. */
	fake_load(&zone, "rr f.example TXT v=spf1\\x20-all\\x20exp=e.f.example\n"
	                 "rr e.f.example TXT bad:\\x20%{l}\n");
	struct outcome o = fake_check(&zone, "192.0.2.1", "x\r\ny\x7f@f.example", NULL);
	assert_string_equal(o.exp, "bad: x??y?");
	spf_free(NULL);
}

/* Answers may come in any order of time: the engine asks one question
 * at a time and a replayed pass asks the same ones again, in order. */
static void test_replay_is_stable(void **state)
{
	(void)state;
	fake_load(&zone, "rr r.example TXT v=spf1\\x20mx\\x20include:i.example\\x20-all\n"
	                 "rr r.example MX 1 m1.example\n"
	                 "rr r.example MX 2 m2.example\n"
	                 "rr m1.example A 198.51.100.1\n"
	                 "rr m2.example A 198.51.100.2\n"
	                 "rr i.example TXT v=spf1\\x20a:%{p}\\x20-all\n"
	                 "rr 1.2.0.192.in-addr.arpa PTR ptr.example\n"
	                 "rr ptr.example A 192.0.2.1\n");
	struct outcome o = fake_check(&zone, "192.0.2.1", "a@r.example", NULL);
	assert_int_equal(o.r, SPF_RESULT_PASS);
	assert_string_equal(zone.log, "TXT r.example;MX r.example;A m1.example;A m2.example;TXT i.example;"
	                              "PTR 1.2.0.192.in-addr.arpa;A ptr.example;");
	struct spf_request req = {.mail_from = "a@r.example", .now = NOW};
	assert_int_equal(spf_ip_parse("192.0.2.1", &req.ip), 0);
	struct spf *s = spf_new(&req);
	assert_int_equal(spf_run(s), SPF_STEP_WANT);
	assert_int_equal(spf_run(s), SPF_STEP_WANT); /* still the same question */
	enum spf_qtype t;
	assert_string_equal(spf_want(s, &t), "r.example");
	assert_int_equal(t, SPF_Q_TXT);
	spf_free(s); /* abandoned in the middle: no leak */
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--suite") == 0) {
		const char *label = "rfc7208";
		bool verbose = false;
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "-v") == 0)
				verbose = true;
			else
				label = argv[i];
		}
		return suite_run(argv[2], label, verbose);
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_version),
	        cmocka_unit_test(test_terms),
	        cmocka_unit_test(test_term_errors),
	        cmocka_unit_test(test_toplabel),
	        cmocka_unit_test(test_macro_rfc_examples),
	        cmocka_unit_test(test_macro_errors),
	        cmocka_unit_test_teardown(test_basic_results, zone_teardown),
	        cmocka_unit_test_teardown(test_identities, zone_teardown),
	        cmocka_unit_test_teardown(test_mechanisms, zone_teardown),
	        cmocka_unit_test_teardown(test_include_redirect_exp, zone_teardown),
	        cmocka_unit_test_teardown(test_limits, zone_teardown),
	        cmocka_unit_test_teardown(test_bounds, zone_teardown),
	        cmocka_unit_test_teardown(test_replay_is_stable, zone_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
