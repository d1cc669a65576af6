/*
 * dns_cache — see dns_cache.h. A hash table of chains; names compared
 * without case (RFC 4343).
 */
#include "io/dns_cache.h"

#include <ares.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DNS_CACHE_BUCKETS 1024

struct dns_cache_entry {
	struct dns_cache_entry *next;
	char *name;
	int type, status;
	time_t expires;
	unsigned char *abuf;
	int alen;
};

struct dns_cache {
	struct dns_cache_entry *b[DNS_CACHE_BUCKETS];
	size_t n;
};

static unsigned dns_cache_hash(const char *name, int type)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		unsigned char c = *s >= 'A' && *s <= 'Z' ? (unsigned char)(*s + 32) : *s;
		h = (h ^ c) * 16777619u;
	}
	return h % DNS_CACHE_BUCKETS;
}

static void dns_cache_entry_free(struct dns_cache_entry *e)
{
	free(e->name);
	free(e->abuf);
	free(e);
}

struct dns_cache *dns_cache_new(void)
{
	return calloc(1, sizeof(struct dns_cache));
}

/* Drop the expired entries (all of them when `all`). */
static void dns_cache_sweep(struct dns_cache *c, time_t now, int all)
{
	for (size_t i = 0; i < DNS_CACHE_BUCKETS; i++) {
		struct dns_cache_entry **pp = &c->b[i];
		while (*pp) {
			struct dns_cache_entry *e = *pp;
			if (all || e->expires <= now) {
				*pp = e->next;
				dns_cache_entry_free(e);
				c->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

void dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	dns_cache_sweep(c, 0, 1);
	free(c);
}

int dns_cache_get(struct dns_cache *c, const char *name, int type, time_t now, int *status,
                  const unsigned char **abuf, int *alen)
{
	if (c == NULL)
		return 0;
	for (struct dns_cache_entry *e = c->b[dns_cache_hash(name, type)]; e; e = e->next) {
		if (e->type != type || strcasecmp(e->name, name) != 0)
			continue;
		if (e->expires <= now)
			return 0;
		*status = e->status;
		*abuf = e->abuf;
		*alen = e->alen;
		return 1;
	}
	return 0;
}

void dns_cache_put(struct dns_cache *c, const char *name, int type, time_t now, unsigned ttl, int status,
                   const unsigned char *abuf, int alen)
{
	if (c == NULL || ttl == 0 || abuf == NULL || alen <= 0 || alen > DNS_CACHE_ANSWER_MAX)
		return;
	if (ttl > DNS_CACHE_TTL_MAX)
		ttl = DNS_CACHE_TTL_MAX;
	unsigned h = dns_cache_hash(name, type);
	for (struct dns_cache_entry **pp = &c->b[h]; *pp; pp = &(*pp)->next) {
		struct dns_cache_entry *e = *pp;
		if (e->type == type && strcasecmp(e->name, name) == 0) {
			*pp = e->next;
			dns_cache_entry_free(e);
			c->n--;
			break;
		}
	}
	if (c->n >= DNS_CACHE_MAX)
		dns_cache_sweep(c, now, 0);
	if (c->n >= DNS_CACHE_MAX)
		dns_cache_sweep(c, now, 1);
	struct dns_cache_entry *e = calloc(1, sizeof *e);
	if (e == NULL)
		return;
	e->name = strdup(name);
	e->abuf = malloc((size_t)alen);
	if (e->name == NULL || e->abuf == NULL) {
		dns_cache_entry_free(e);
		return;
	}
	memcpy(e->abuf, abuf, (size_t)alen);
	e->alen = alen;
	e->type = type;
	e->status = status;
	e->expires = now + (time_t)ttl;
	e->next = c->b[h];
	c->b[h] = e;
	c->n++;
}

static uint32_t dns_cache_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skip a name at p (compression pointers end it); NULL past end. */
static const unsigned char *dns_cache_skip_name(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		unsigned l = *p;
		if (l == 0)
			return p + 1;
		if ((l & 0xc0) == 0xc0)
			return end - p >= 2 ? p + 2 : NULL;
		if (l & 0xc0)
			return NULL;
		p += l + 1;
	}
	return NULL;
}

unsigned dns_cache_ttl(const unsigned char *abuf, int alen, int negative)
{
	if (abuf == NULL || alen < 12)
		return 0;
	const unsigned char *p = abuf + 12, *end = abuf + alen;
	unsigned qd = (unsigned)abuf[4] << 8 | abuf[5], an = (unsigned)abuf[6] << 8 | abuf[7],
	         ns = (unsigned)abuf[8] << 8 | abuf[9];
	for (unsigned i = 0; i < qd; i++) {
		if ((p = dns_cache_skip_name(p, end)) == NULL || end - p < 4)
			return 0;
		p += 4;
	}
	uint32_t best = UINT32_MAX;
	unsigned want = negative ? an + ns : an;
	for (unsigned i = 0; i < want; i++) {
		if ((p = dns_cache_skip_name(p, end)) == NULL || end - p < 10)
			return 0;
		unsigned type = (unsigned)p[0] << 8 | p[1];
		uint32_t ttl = dns_cache_u32(p + 4);
		size_t rdlen = (size_t)p[8] << 8 | p[9];
		const unsigned char *rd = p + 10;
		if ((size_t)(end - rd) < rdlen)
			return 0;
		p = rd + rdlen;
		if (negative && i < an)
			continue;
		if (negative) {
			/* RFC 2308 5: the SOA's TTL, bounded by its MINIMUM field. */
			if (type != 6 /* SOA */ || rdlen < 20)
				continue;
			uint32_t min = dns_cache_u32(rd + rdlen - 4);
			if (min < ttl)
				ttl = min;
		}
		if (ttl < best)
			best = ttl;
	}
	if (best == UINT32_MAX || best > 0x7fffffffu)
		return 0;
	return (unsigned)best;
}
