/*
 * test_dmarc — RFC 7489's record grammar, discovery, alignment and
 * verdicts, with the organizational domain from the system's Public
 * Suffix List (base/orgdomain).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/orgdomain.h"
#include "proto/dmarc.h"

static enum dmarc_parse parse(const char *s, struct dmarc_record *r)
{
	return dmarc_record_parse(s, strlen(s), r);
}

static void test_record(void **state)
{
	(void)state;
	struct dmarc_record r;
	assert_int_equal(parse("v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=30; rua=mailto:d@x.org", &r),
	                 DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_true(r.has_sp);
	assert_int_equal(r.sp, DMARC_P_QUARANTINE);
	assert_true(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.pct, 30);
	assert_true(r.has_rua);
	/* white space, case of tag names and values, a trailing ";" */
	assert_int_equal(parse("v=DMARC1 ;P = Quarantine ;", &r), DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
	/* v= must come first and be exactly DMARC1 */
	assert_int_equal(parse("p=reject; v=DMARC1", &r), DMARC_PARSE_NOT_DMARC);
	assert_int_equal(parse("v=DMARC2; p=reject", &r), DMARC_PARSE_NOT_DMARC);
	assert_int_equal(parse("v=spf1 -all", &r), DMARC_PARSE_NOT_DMARC);
	assert_int_equal(parse("", &r), DMARC_PARSE_NOT_DMARC);
	/* a missing or bad p=: p=none when rua= is usable (6.6.3 step 6),
	 * else no policy */
	assert_int_equal(parse("v=DMARC1; rua=mailto:a@b.org", &r), DMARC_PARSE_OK);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_int_equal(parse("v=DMARC1; p=bounce", &r), DMARC_PARSE_INVALID);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=x", &r), DMARC_PARSE_INVALID);
	/* bad values elsewhere fall back to the defaults */
	assert_int_equal(parse("v=DMARC1; p=none; pct=150; adkim=x; fo=1; junk", &r), DMARC_PARSE_OK);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
}

static void test_orgdomain_and_discovery(void **state)
{
	(void)state;
	char o[256];
	assert_true(orgdomain("mail.example.org", o, sizeof o));
	assert_string_equal(o, "example.org");
	assert_true(orgdomain("a.b.Example.CO.UK.", o, sizeof o));
	assert_string_equal(o, "example.co.uk");
	assert_false(orgdomain("co.uk", o, sizeof o));
	assert_false(orgdomain("", o, sizeof o));
	char names[2][DMARC_DOMAIN_MAX + 8];
	assert_int_equal(dmarc_query_names("news.example.org", orgdomain, names), 2);
	assert_string_equal(names[0], "_dmarc.news.example.org");
	assert_string_equal(names[1], "_dmarc.example.org");
	assert_int_equal(dmarc_query_names("example.org", orgdomain, names), 1);
	/* alignment */
	assert_true(dmarc_aligned("bounce.example.org", "example.org", false, orgdomain));
	assert_false(dmarc_aligned("bounce.example.org", "example.org", true, orgdomain));
	assert_true(dmarc_aligned("EXAMPLE.org", "example.org", true, orgdomain));
	assert_false(dmarc_aligned("example.net", "example.org", false, orgdomain));
	assert_false(dmarc_aligned("a.co.uk", "b.co.uk", false, orgdomain));
}

static struct dmarc_input input(const char *record, const char *from)
{
	struct dmarc_input in;
	memset(&in, 0, sizeof in);
	in.from_domain = from;
	in.have_record = record != NULL;
	if (record)
		assert_int_equal(parse(record, &in.rec), DMARC_PARSE_OK);
	return in;
}

static void test_verdicts(void **state)
{
	(void)state;
	struct dmarc_verdict v;
	/* SPF aligned (relaxed) passes; strict does not */
	struct dmarc_input in = input("v=DMARC1; p=reject", "example.org");
	in.spf = DMARC_AUTH_PASS;
	in.spf_domain = "bounces.example.org";
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_PASS);
	assert_true(v.spf_aligned);
	in = input("v=DMARC1; p=reject; aspf=s", "example.org");
	in.spf = DMARC_AUTH_PASS;
	in.spf_domain = "bounces.example.org";
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_FAIL);
	assert_int_equal(v.policy, DMARC_P_REJECT);
	/* a passing DKIM signature of another domain does not help; an
	 * aligned one does */
	in = input("v=DMARC1; p=quarantine", "example.org");
	in.spf = DMARC_AUTH_FAIL;
	in.dkim[0].result = DMARC_AUTH_PASS;
	in.dkim[0].d = "mailer.example.net";
	in.ndkim = 1;
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_FAIL);
	assert_int_equal(v.policy, DMARC_P_QUARANTINE);
	in.dkim[1].result = DMARC_AUTH_PASS;
	in.dkim[1].d = "example.org";
	in.ndkim = 2;
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_PASS);
	assert_true(v.dkim_aligned);
	/* sp= for a subdomain whose record came from the organizational domain */
	in = input("v=DMARC1; p=reject; sp=none", "news.example.org");
	in.record_at_org = true;
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_FAIL);
	assert_int_equal(v.policy, DMARC_P_NONE);
	/* pct=: outside the sample the next less strict policy */
	in = input("v=DMARC1; p=reject; pct=20", "example.org");
	in.sample = 19;
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.policy, DMARC_P_REJECT);
	in.sample = 20;
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.policy, DMARC_P_QUARANTINE);
	/* a temporary SPF failure makes the failure temporary */
	in = input("v=DMARC1; p=reject", "example.org");
	in.spf = DMARC_AUTH_TEMPERROR;
	in.spf_domain = "example.org";
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_TEMPERROR);
	/* no record: none; the lookup failing: temperror */
	in = input(NULL, "example.org");
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_NONE);
	in.dns_temp = true;
	dmarc_evaluate(&in, orgdomain, &v);
	assert_int_equal(v.result, DMARC_TEMPERROR);
	assert_string_equal(dmarc_result_name(DMARC_PASS), "pass");
	assert_string_equal(dmarc_policy_name(DMARC_P_QUARANTINE), "quarantine");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_orgdomain_and_discovery),
		cmocka_unit_test(test_verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
