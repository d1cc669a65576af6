/*
 * dns — c-ares driven by libevent. See dns.h.
 *
 * c-ares tells us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB);
 * each gets a libevent event that calls ares_process_fd, and one timer
 * follows ares_timeout(). The deprecated-in-newer-c-ares calls
 * (ares_query, ares_parse_mx_reply) are confined to this file.
 */
#include "io/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/dns_cache.h"
#include "io/io_internal.h"

#define DNS_MAX_SOCKS 16

struct dns_sock {
	int fd;
	struct event *ev;
};

struct io_dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct dns_sock socks[DNS_MAX_SOCKS];
	struct dns_cache *cache;   /* io_dns_lookup's answers (NULL: none) */
};

static void dns_update_timer(struct io_dns *d)
{
	struct timeval max = {.tv_sec = 1}, tv;
	struct timeval *t = ares_timeout(d->ch, &max, &tv);
	evtimer_add(d->timer, t);
}

static void dns_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io_dns *d = arg;
	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD, (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_update_timer(d);
}

static void dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct io_dns *d = arg;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_update_timer(d);
}

static void dns_sock_state_cb(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct io_dns *d = arg;
	struct dns_sock *slot = NULL, *empty = NULL;
	for (int i = 0; i < DNS_MAX_SOCKS; i++) {
		if (d->socks[i].ev && d->socks[i].fd == fd)
			slot = &d->socks[i];
		else if (d->socks[i].ev == NULL && empty == NULL)
			empty = &d->socks[i];
	}
	if (slot) {
		event_free(slot->ev);
		slot->ev = NULL;
	}
	if (!readable && !writable)
		return;
	if (slot == NULL)
		slot = empty;
	if (slot == NULL)
		return; /* out of slots: c-ares times the query out */
	short what = (short)(EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	slot->fd = fd;
	slot->ev = event_new(d->base, fd, what, dns_io_cb, d);
	event_add(slot->ev, NULL);
}

struct io_dns *io_dns_new(struct io_loop *l, const char *server, char *err, size_t errlen)
{
	static int dns_lib_ready;
	if (!dns_lib_ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
			snprintf(err, errlen, "dns: cannot initialise c-ares");
			return NULL;
		}
		dns_lib_ready = 1;
	}
	struct io_dns *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->base = io_loop_base(l);
	struct ares_options o;
	memset(&o, 0, sizeof o);
	o.sock_state_cb = dns_sock_state_cb;
	o.sock_state_cb_data = d;
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.timeout = 3000;
	o.tries = 2;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	if (server) {
		/* Only DNS, never /etc/hosts, when a server is named. */
		o.lookups = (char *)"b";
		mask |= ARES_OPT_LOOKUPS;
	}
	int rc = ares_init_options(&d->ch, &o, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: %s", ares_strerror(rc));
		free(d);
		return NULL;
	}
	/* ares_set_servers_csv ignores ports: the _ports_ variant honours them. */
	if (server && (rc = ares_set_servers_ports_csv(d->ch, server)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: server %s: %s", server, ares_strerror(rc));
		ares_destroy(d->ch);
		free(d);
		return NULL;
	}
	d->timer = evtimer_new(d->base, dns_timer_cb, d);
	d->cache = dns_cache_new(); /* without it, every question goes out */
	return d;
}

void io_dns_free(struct io_dns *d)
{
	if (d == NULL)
		return;
	ares_destroy(d->ch); /* calls pending callbacks with ARES_EDESTRUCTION */
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		if (d->socks[i].ev)
			event_free(d->socks[i].ev);
	event_free(d->timer);
	dns_cache_free(d->cache);
	free(d);
}

static enum io_dns_status dns_status(int rc)
{
	switch (rc) {
	case ARES_SUCCESS:
		return IO_DNS_OK;
	case ARES_ENODATA:
		return IO_DNS_NODATA;
	case ARES_ENOTFOUND:
		return IO_DNS_NXDOMAIN;
	default:
		return IO_DNS_TEMPFAIL;
	}
}

struct dns_mx_req {
	io_dns_mx_cb cb;
	void *arg;
};

static int dns_mx_cmp(const void *a, const void *b)
{
	const struct io_dns_mx *x = a, *y = b;
	return (int)x->pref - (int)y->pref;
}

static void dns_mx_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct dns_mx_req *r = arg;
	struct io_dns_mx mx[IO_DNS_MAX_MX];
	size_t n = 0;
	enum io_dns_status st = dns_status(status);
	if (st == IO_DNS_OK) {
		struct ares_mx_reply *rep = NULL;
		int prc = ares_parse_mx_reply(abuf, alen, &rep);
		if (prc != ARES_SUCCESS) {
			st = prc == ARES_ENODATA ? IO_DNS_NODATA : IO_DNS_TEMPFAIL;
		} else {
			for (struct ares_mx_reply *m = rep; m && n < IO_DNS_MAX_MX; m = m->next) {
				snprintf(mx[n].host, sizeof mx[n].host, "%s", m->host ? m->host : "");
				/* A root name ends in no label: "." or "" is the null MX. */
				if (strcmp(mx[n].host, ".") == 0)
					mx[n].host[0] = '\0';
				mx[n].pref = m->priority;
				n++;
			}
			ares_free_data(rep);
			if (n == 0)
				st = IO_DNS_NODATA;
		}
	}
	if (n > 1) {
		qsort(mx, n, sizeof mx[0], dns_mx_cmp);
		/* RFC 5321 5.1: spread load across equal preferences. */
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j < n && mx[j].pref == mx[i].pref)
				j++;
			for (size_t k = j - 1; k > i; k--) {
				size_t m = i + (size_t)random() % (k - i + 1);
				struct io_dns_mx t = mx[k];
				mx[k] = mx[m];
				mx[m] = t;
			}
			i = j;
		}
	}
	r->cb(r->arg, st, mx, n);
	free(r);
}

void io_dns_mx(struct io_dns *d, const char *domain, io_dns_mx_cb cb, void *arg)
{
	struct dns_mx_req *r = malloc(sizeof *r);
	if (r == NULL) {
		cb(arg, IO_DNS_TEMPFAIL, NULL, 0);
		return;
	}
	r->cb = cb;
	r->arg = arg;
	ares_query(d->ch, domain, 1 /* C_IN */, 15 /* T_MX */, dns_mx_done, r);
	dns_update_timer(d);
}

struct dns_addr_req {
	io_dns_addr_cb cb;
	void *arg;
};

static void dns_addr_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	(void)timeouts;
	struct dns_addr_req *r = arg;
	struct sockaddr_storage a[IO_DNS_MAX_ADDRS];
	size_t n = 0;
	enum io_dns_status st = dns_status(status);
	if (st == IO_DNS_OK && res) {
		/* IPv6 first, then IPv4, as most MTAs do. */
		for (int fam = 0; fam < 2; fam++)
			for (struct ares_addrinfo_node *ai = res->nodes; ai && n < IO_DNS_MAX_ADDRS; ai = ai->ai_next) {
				int want = fam == 0 ? AF_INET6 : AF_INET;
				if (ai->ai_family != want || ai->ai_addrlen > sizeof a[0])
					continue;
				memset(&a[n], 0, sizeof a[n]);
				memcpy(&a[n], ai->ai_addr, ai->ai_addrlen);
				n++;
			}
		if (n == 0)
			st = IO_DNS_NODATA;
	}
	if (res)
		ares_freeaddrinfo(res);
	r->cb(r->arg, st, a, n);
	free(r);
}

void io_dns_addr(struct io_dns *d, const char *host, io_dns_addr_cb cb, void *arg)
{
	struct sockaddr_storage lit;
	memset(&lit, 0, sizeof lit);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&lit;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&lit;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		cb(arg, IO_DNS_OK, &lit, 1);
		return;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		cb(arg, IO_DNS_OK, &lit, 1);
		return;
	}
	struct dns_addr_req *r = malloc(sizeof *r);
	if (r == NULL) {
		cb(arg, IO_DNS_TEMPFAIL, NULL, 0);
		return;
	}
	r->cb = cb;
	r->arg = arg;
	struct ares_addrinfo_hints h;
	memset(&h, 0, sizeof h);
	h.ai_family = AF_UNSPEC;
	h.ai_flags = ARES_AI_NOSORT;
	ares_getaddrinfo(d->ch, host, NULL, &h, dns_addr_done, r);
	dns_update_timer(d);
}

struct dns_ptr_req {
	io_dns_ptr_cb cb;
	void *arg;
};

static void dns_ptr_done(void *arg, int status, int timeouts, struct hostent *h)
{
	(void)timeouts;
	struct dns_ptr_req *r = arg;
	enum io_dns_status st = dns_status(status);
	r->cb(r->arg, st, st == IO_DNS_OK && h && h->h_name ? h->h_name : "");
	free(r);
}

void io_dns_ptr(struct io_dns *d, const struct sockaddr *sa, io_dns_ptr_cb cb, void *arg)
{
	struct dns_ptr_req *r = malloc(sizeof *r);
	if (r == NULL) {
		cb(arg, IO_DNS_TEMPFAIL, "");
		return;
	}
	r->cb = cb;
	r->arg = arg;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			ares_gethostbyaddr(d->ch, &s6->sin6_addr.s6_addr[12], 4, AF_INET, dns_ptr_done, r);
		else
			ares_gethostbyaddr(d->ch, &s6->sin6_addr, sizeof s6->sin6_addr, AF_INET6, dns_ptr_done, r);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		ares_gethostbyaddr(d->ch, &s4->sin_addr, sizeof s4->sin_addr, AF_INET, dns_ptr_done, r);
	}
	dns_update_timer(d);
}

/* ---------------------------------------------------------------------
 * io_dns_lookup: one question, the answer section read here, so that
 * every type goes through one parser (RFC 1035 4.1) and the engine gets
 * the raw records it interprets itself.
 */

/* The arena of one answer: its TXT strings fit in the answer itself;
 * an expanded name takes at most 1024 octets (255 octets, RFC 1035
 * 2.3.4, each at worst written by c-ares as a 4-octet \DDD), plus NULs. */
#define DNS_RR_ARENA(alen) ((size_t)(alen) + IO_DNS_MAX_RRS * 1025)

struct dns_rr_req {
	io_dns_rr_cb cb;
	void *arg;
	int type; /* the RR type asked */
	struct io_dns *d;
	char name[256];
};

static int dns_rr_code(enum io_dns_type t)
{
	switch (t) {
	case IO_DNS_A: return 1;
	case IO_DNS_AAAA: return 28;
	case IO_DNS_TXT: return 16;
	case IO_DNS_MX: return 15;
	case IO_DNS_PTR: return 12;
	}
	return 1;
}

static unsigned dns_u16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Skip a (possibly compressed) name at p; NULL when it runs past end. */
static const unsigned char *dns_skip_name(const unsigned char *abuf, int alen, const unsigned char *p)
{
	char *name = NULL;
	long enclen = 0;
	if (ares_expand_name(p, abuf, alen, &name, &enclen) != ARES_SUCCESS)
		return NULL;
	ares_free_string(name);
	return p + enclen;
}

/* Append one record's text form to the arena (a NUL after each). */
static int dns_rr_put(unsigned char *arena, size_t cap, size_t *used, const void *p, size_t n)
{
	if (*used >= cap || n > cap - *used - 1)
		return -1;
	memcpy(arena + *used, p, n);
	*used += n;
	arena[(*used)++] = '\0';
	return 0;
}

/* The records of the asked type into rr (offsets into arena, made
 * pointers by the caller). Returns how many, or -1 for a bad answer. */
static int dns_rr_parse(const unsigned char *abuf, int alen, int want, unsigned char *arena, size_t cap,
                        size_t *offs, size_t *lens)
{
	if (alen < 12)
		return -1;
	const unsigned char *p = abuf + 12, *end = abuf + alen;
	unsigned qd = dns_u16(abuf + 4), an = dns_u16(abuf + 6);
	for (unsigned i = 0; i < qd; i++) {
		if ((p = dns_skip_name(abuf, alen, p)) == NULL || end - p < 4)
			return -1;
		p += 4;
	}
	size_t used = 0;
	int n = 0;
	for (unsigned i = 0; i < an && n < IO_DNS_MAX_RRS; i++) {
		if ((p = dns_skip_name(abuf, alen, p)) == NULL || end - p < 10)
			return -1;
		int type = (int)dns_u16(p);
		size_t rdlen = dns_u16(p + 8);
		const unsigned char *rd = p + 10;
		if ((size_t)(end - rd) < rdlen)
			return -1;
		p = rd + rdlen;
		if (type != want)
			continue; /* CNAMEs of the chain, RRSIGs */
		size_t start = used;
		if (want == 16) {
			/* TXT: <len><octets> strings, joined (RFC 7208 3.3). */
			size_t k = 0;
			while (k < rdlen) {
				size_t sl = rd[k];
				if (sl > rdlen - k - 1 || used >= cap || sl > cap - used - 1)
					return -1;
				memcpy(arena + used, rd + k + 1, sl);
				used += sl;
				k += sl + 1;
			}
			if (used >= cap)
				return -1;
			arena[used++] = '\0';
		} else if (want == 1 || want == 28) {
			if (rdlen != (want == 1 ? 4u : 16u) || dns_rr_put(arena, cap, &used, rd, rdlen) < 0)
				continue;
		} else {
			/* MX: preference, exchange; PTR: a name. */
			const unsigned char *np = want == 15 ? rd + 2 : rd;
			if (want == 15 && rdlen < 3)
				return -1;
			char *name = NULL;
			long enclen = 0;
			if (ares_expand_name(np, abuf, alen, &name, &enclen) != ARES_SUCCESS)
				return -1;
			int rc = dns_rr_put(arena, cap, &used, name, strlen(name));
			ares_free_string(name);
			if (rc < 0)
				return -1;
		}
		offs[n] = start;
		lens[n] = used - start - 1;
		n++;
	}
	return n;
}

/* An answer, fresh or from the cache, to the asker. */
static void dns_rr_deliver(io_dns_rr_cb cb, void *arg, int type, int status, const unsigned char *abuf, int alen)
{
	enum io_dns_status st = status == ARES_EBADNAME ? IO_DNS_NXDOMAIN : dns_status(status);
	struct io_dns_rr rr[IO_DNS_MAX_RRS];
	size_t offs[IO_DNS_MAX_RRS], lens[IO_DNS_MAX_RRS];
	unsigned char *arena = NULL;
	int n = 0;
	if (st == IO_DNS_OK) {
		size_t cap = DNS_RR_ARENA(alen > 0 ? alen : 0);
		arena = malloc(cap);
		n = arena ? dns_rr_parse(abuf, alen, type, arena, cap, offs, lens) : -1;
		if (n < 0)
			st = IO_DNS_TEMPFAIL;
		else if (n == 0)
			st = IO_DNS_NODATA;
	}
	for (int i = 0; i < n; i++) {
		rr[i].data = arena + offs[i];
		rr[i].len = lens[i];
	}
	cb(arg, st, rr, st == IO_DNS_OK ? (size_t)n : 0);
	free(arena);
}

static void dns_rr_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct dns_rr_req *r = arg;
	/* Kept for the answer's TTL: a definite answer only, never a failure
	 * of ours or the server's, and not while the channel is destroyed. */
	if (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND)
		dns_cache_put(r->d->cache, r->name, r->type, time(NULL),
		              dns_cache_ttl(abuf, alen, status != ARES_SUCCESS), status, abuf, alen);
	dns_rr_deliver(r->cb, r->arg, r->type, status, abuf, alen);
	free(r);
}

void io_dns_lookup(struct io_dns *d, const char *name, enum io_dns_type type, io_dns_rr_cb cb, void *arg)
{
	struct dns_rr_req *r = malloc(sizeof *r);
	if (r == NULL) {
		cb(arg, IO_DNS_TEMPFAIL, NULL, 0);
		return;
	}
	r->cb = cb;
	r->arg = arg;
	r->type = dns_rr_code(type);
	r->d = d;
	int status, alen;
	const unsigned char *abuf;
	/* A name too long to be a DNS name is never cached (nor valid). */
	if (strlen(name) < sizeof r->name) {
		snprintf(r->name, sizeof r->name, "%s", name);
		if (dns_cache_get(d->cache, name, r->type, time(NULL), &status, &abuf, &alen)) {
			free(r);
			dns_rr_deliver(cb, arg, dns_rr_code(type), status, abuf, alen);
			return;
		}
	} else {
		r->name[0] = '\0';
	}
	ares_query(d->ch, name, 1 /* C_IN */, r->type, dns_rr_done, r);
	dns_update_timer(d);
}
