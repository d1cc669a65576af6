/*
 * test_dns_cache — the answer cache of io_dns_lookup: what is kept, for
 * how long, the TTL read from raw answers (positive and negative), and
 * the bound on its size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "io/dns_cache.h"

/* A response: header, the question x.test TXT, then one record of type
 * rtype with ttl in the answer (an == 1) or authority (ns == 1) section. */
static int test_dns_answer(unsigned char *b, unsigned an, unsigned ns, unsigned rtype, uint32_t ttl, uint32_t soa_min)
{
	static const unsigned char q[] = {1, 'x', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1};
	unsigned char h[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, (unsigned char)an, 0, (unsigned char)ns, 0, 0};
	int n = 0;
	memcpy(b, h, 12);
	n = 12;
	memcpy(b + n, q, sizeof q);
	n += (int)sizeof q;
	if (an + ns == 0)
		return n;
	unsigned char rr[10] = {0xc0, 12, (unsigned char)(rtype >> 8), (unsigned char)rtype, 0, 1,
	                        (unsigned char)(ttl >> 24), (unsigned char)(ttl >> 16), (unsigned char)(ttl >> 8),
	                        (unsigned char)ttl};
	memcpy(b + n, rr, 10);
	n += 10;
	size_t rdlen = rtype == 6 ? 22 : 4;
	b[n++] = 0;
	b[n++] = (unsigned char)rdlen;
	memset(b + n, 0, rdlen);
	if (rtype == 6) { /* SOA: two root names, then five numbers; MINIMUM last */
		b[n + rdlen - 4] = (unsigned char)(soa_min >> 24);
		b[n + rdlen - 3] = (unsigned char)(soa_min >> 16);
		b[n + rdlen - 2] = (unsigned char)(soa_min >> 8);
		b[n + rdlen - 1] = (unsigned char)soa_min;
	} else {
		memcpy(b + n, "\003abc", 4);
	}
	return n + (int)rdlen;
}

static void test_ttl_positive_and_negative(void **state)
{
	(void)state;
	unsigned char b[512];
	int n = test_dns_answer(b, 1, 0, 16, 120, 0);
	assert_int_equal(dns_cache_ttl(b, n, 0), 120);
	n = test_dns_answer(b, 0, 1, 6, 3600, 90);
	assert_int_equal(dns_cache_ttl(b, n, 1), 90); /* RFC 2308: the SOA's MINIMUM bounds it */
	n = test_dns_answer(b, 0, 1, 6, 30, 900);
	assert_int_equal(dns_cache_ttl(b, n, 1), 30);
	n = test_dns_answer(b, 0, 0, 16, 0, 0);
	assert_int_equal(dns_cache_ttl(b, n, 1), 0); /* no SOA: not cached */
	assert_int_equal(dns_cache_ttl(b, n, 0), 0);
	n = test_dns_answer(b, 1, 0, 16, 120, 0);
	for (int cut = 0; cut < n; cut++) /* torn answers are never trusted */
		assert_true(dns_cache_ttl(b, cut, 0) == 0 || cut == n);
}

static void test_put_get_expire(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new();
	assert_non_null(c);
	unsigned char b[512];
	int n = test_dns_answer(b, 1, 0, 16, 120, 0);
	int st, alen;
	const unsigned char *a;
	assert_int_equal(dns_cache_get(c, "x.test", 16, 1000, &st, &a, &alen), 0);
	dns_cache_put(c, "x.test", 16, 1000, 120, 0, b, n);
	assert_int_equal(dns_cache_get(c, "X.Test", 16, 1000, &st, &a, &alen), 1); /* names without case */
	assert_int_equal(alen, n);
	assert_memory_equal(a, b, (size_t)n);
	assert_int_equal(dns_cache_get(c, "x.test", 1, 1000, &st, &a, &alen), 0); /* another type */
	assert_int_equal(dns_cache_get(c, "x.test", 16, 1119, &st, &a, &alen), 1);
	assert_int_equal(dns_cache_get(c, "x.test", 16, 1120, &st, &a, &alen), 0); /* expired */
	dns_cache_put(c, "y.test", 16, 1000, 0, 0, b, n); /* TTL 0: never kept */
	assert_int_equal(dns_cache_get(c, "y.test", 16, 1000, &st, &a, &alen), 0);
	dns_cache_put(c, "z.test", 16, 1000, 100000, 0, b, n); /* capped */
	assert_int_equal(dns_cache_get(c, "z.test", 16, 1000 + DNS_CACHE_TTL_MAX, &st, &a, &alen), 0);
	dns_cache_free(c);
}

static void test_bounded(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new();
	unsigned char b[512];
	int n = test_dns_answer(b, 1, 0, 16, 120, 0);
	char name[64];
	for (int i = 0; i < 3 * DNS_CACHE_MAX; i++) {
		snprintf(name, sizeof name, "h%d.test", i);
		dns_cache_put(c, name, 16, 1000, 60, 0, b, n);
	}
	int st, alen, kept = 0;
	const unsigned char *a;
	for (int i = 0; i < 3 * DNS_CACHE_MAX; i++) {
		snprintf(name, sizeof name, "h%d.test", i);
		kept += dns_cache_get(c, name, 16, 1000, &st, &a, &alen);
	}
	assert_true(kept > 0 && kept <= DNS_CACHE_MAX);
	dns_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_positive_and_negative),
		cmocka_unit_test(test_put_get_expire),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
