/*
 * server — the limits shared by every service: the session cap and the
 * per-network counts (principle 3: every network resource is bounded),
 * the open-file limit they are derived from, and the free-space floor.
 * Loopback clients are exempt from the per-network limit: local
 * injection and benchmarks open many sessions from 127.0.0.1.
 */
#include "mta/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include "base/log.h"

int server_limits_init(struct server *s, unsigned nworkers)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_msg("limits: getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return -1;
	}
	rlim_t before = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_msg("limits: cannot raise the open-file limit from %llu to %llu: %s", (unsigned long long)before,
			        (unsigned long long)rl.rlim_max, strerror(errno));
			getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	/* What the rest of tern may hold at once, set aside first. */
	unsigned long long files = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (unsigned long long)rl.rlim_cur;
	unsigned long long reserved = SERVER_FDS_FIXED + (unsigned long long)nworkers * SERVER_FDS_PER_WORKER;
	if (files <= reserved + 2) {
		log_msg("limits: the open-file limit %llu leaves no room for a session (tern needs %llu for itself)", files,
		        reserved);
		return -1;
	}
	unsigned long long left = files - reserved;
	/* A quarter, at most SERVER_OUTBOUND_MAX, for the relay's connections. */
	unsigned long long out = left / 4 < SERVER_OUTBOUND_MAX ? left / 4 : SERVER_OUTBOUND_MAX;
	if (out == 0)
		out = 1;
	unsigned long long sessions = left - out;
	if (sessions > 1u << 30)
		sessions = 1u << 30;
	s->max_outbound = (unsigned)out;
	s->max_sessions = (unsigned)sessions;
	if (rl.rlim_cur != before)
		log_msg("limits: open files %llu (raised from %llu), sessions up to %u, outbound connections up to %u",
		        files, (unsigned long long)before, s->max_sessions, s->max_outbound);
	else
		log_msg("limits: open files %llu, sessions up to %u, outbound connections up to %u", files, s->max_sessions,
		        s->max_outbound);
	return 0;
}

static unsigned server_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SERVER_NET_BUCKETS;
}

enum server_admit server_session_open(struct server *s, const struct sockaddr *sa, struct server_slot *slot)
{
	memset(slot, 0, sizeof *slot);
	io_addr_text(sa, slot->addr, sizeof slot->addr);
	io_addr_net_text(sa, slot->net, sizeof slot->net);
	slot->loopback = io_addr_is_loopback(sa);
	if (s->stopping)
		return SERVER_STOPPING;
	if (s->nsessions >= s->max_sessions)
		return SERVER_FULL;
	if (!slot->loopback) {
		unsigned h = server_hash(slot->net);
		struct server_net_count *e = s->per_net[h];
		while (e && strcmp(e->net, slot->net) != 0)
			e = e->next;
		if (e == NULL) {
			e = calloc(1, sizeof *e);
			if (e == NULL)
				return SERVER_FULL;
			snprintf(e->net, sizeof e->net, "%s", slot->net);
			e->next = s->per_net[h];
			s->per_net[h] = e;
		}
		if (e->n >= SERVER_MAX_PER_NET)
			return SERVER_NET_FULL;
		e->n++;
	}
	s->nsessions++;
	slot->counted = true;
	return SERVER_ADMIT;
}

void server_session_close(struct server *s, struct server_slot *slot)
{
	if (!slot->counted)
		return;
	slot->counted = false;
	s->nsessions--;
	if (slot->loopback)
		return;
	unsigned h = server_hash(slot->net);
	struct server_net_count **pp = &s->per_net[h];
	while (*pp && strcmp((*pp)->net, slot->net) != 0)
		pp = &(*pp)->next;
	if (*pp && --(*pp)->n == 0) {
		struct server_net_count *e = *pp;
		*pp = e->next;
		free(e);
	}
}

bool server_storage_low(struct server *s)
{
	time_t now = time(NULL);
	if (now - s->storage_checked < SERVER_STORAGE_CHECK_S && s->storage_checked != 0)
		return s->storage_low;
	s->storage_checked = now;
	struct statvfs vf;
	if (statvfs(s->conf->data_dir, &vf) < 0)
		return s->storage_low; /* keep the last reading */
	unsigned long long avail = (unsigned long long)vf.f_bavail * vf.f_frsize;
	unsigned long long need = s->conf->max_message_size + s->conf->max_message_size / 2;
	bool low = avail < need;
	if (low != s->storage_low)
		log_msg("storage: %llu octets free in %s, %s 1.5 x max-message-size: %s", avail, s->conf->data_dir,
		        low ? "under" : "back over", low ? "MAIL gets 452 4.3.1" : "accepting mail again");
	s->storage_low = low;
	return low;
}

void server_session_id(struct server *s, char prefix, char *out, size_t outlen)
{
	snprintf(out, outlen, "%c%lu", prefix, ++s->serial);
}

unsigned server_session_lifetime(const struct server *s)
{
	unsigned t = s->conf->command_timeout;
	return t > ~0u / SERVER_LIFETIME_TIMEOUTS ? ~0u : t * SERVER_LIFETIME_TIMEOUTS;
}
