/*
 * dns_cache — answers of io_dns_lookup kept for their time to live, so
 * that the SPF, DKIM and DMARC questions of a stream of messages from
 * one domain are asked once, not once per message (c-ares 1.18, which
 * Debian 12 ships, has no cache of its own).
 *
 * What is kept is the raw answer as the server sent it, so that a cached
 * answer goes through the same parser as a fresh one. Bounded: at most
 * DNS_CACHE_MAX entries of at most DNS_CACHE_ANSWER_MAX octets, each for
 * at most DNS_CACHE_TTL_MAX seconds; a full cache drops its expired
 * entries, then everything. Temporary failures are never kept, nor
 * answers with a TTL of 0. Loop thread only.
 */
#ifndef TERN_DNS_CACHE_H
#define TERN_DNS_CACHE_H

#include <stddef.h>
#include <time.h>

#define DNS_CACHE_MAX 4096
#define DNS_CACHE_ANSWER_MAX 65535
#define DNS_CACHE_TTL_MAX 300

struct dns_cache;

struct dns_cache *dns_cache_new(void);
void dns_cache_free(struct dns_cache *c);
/* A fresh answer for name and type: 1 with *status (an ares status) and
 * the answer (valid until the next put), else 0. */
int dns_cache_get(struct dns_cache *c, const char *name, int type, time_t now, int *status,
                  const unsigned char **abuf, int *alen);
/* Keep an answer for ttl seconds (capped; 0: not kept). */
void dns_cache_put(struct dns_cache *c, const char *name, int type, time_t now, unsigned ttl, int status,
                   const unsigned char *abuf, int alen);
/* The time to live of an answer (RFC 1035 4.1): the smallest TTL in its
 * answer section, or for a negative answer the SOA's (RFC 2308 5); 0 when
 * it has none or cannot be read. */
unsigned dns_cache_ttl(const unsigned char *abuf, int alen, int negative);

#endif
