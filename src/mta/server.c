/*
 * server — session accounting shared by the listeners: the total and the
 * per-address limits (principle 3: every network resource is bounded).
 * Loopback clients are exempt from the per-address limit: local
 * injection and benchmarks open many sessions from 127.0.0.1.
 */
#include "mta/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned server_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SERVER_ADDR_BUCKETS;
}

bool server_session_open(struct server *s, const char *addr, bool loopback)
{
	if (s->nsessions >= SERVER_MAX_SESSIONS)
		return false;
	if (!loopback) {
		unsigned h = server_hash(addr);
		struct server_addr_count *e = s->per_addr[h];
		while (e && strcmp(e->addr, addr) != 0)
			e = e->next;
		if (e == NULL) {
			e = calloc(1, sizeof *e);
			if (e == NULL)
				return false;
			snprintf(e->addr, sizeof e->addr, "%s", addr);
			e->next = s->per_addr[h];
			s->per_addr[h] = e;
		}
		if (e->n >= SERVER_MAX_PER_ADDR)
			return false;
		e->n++;
	}
	s->nsessions++;
	return true;
}

void server_session_close(struct server *s, const char *addr, bool loopback)
{
	s->nsessions--;
	if (loopback)
		return;
	unsigned h = server_hash(addr);
	struct server_addr_count **pp = &s->per_addr[h];
	while (*pp && strcmp((*pp)->addr, addr) != 0)
		pp = &(*pp)->next;
	if (*pp && --(*pp)->n == 0) {
		struct server_addr_count *e = *pp;
		*pp = e->next;
		free(e);
	}
}
