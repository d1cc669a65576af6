/*
 * service — the table of services: each role is one row saying how its
 * connections are accepted (the refusal line a client gets when a limit
 * is reached, implicit TLS or not), which engine serves them (the
 * module's start function) and how they are stopped. A listen line of the
 * configuration becomes one service; the accept path, the limits and the
 * refusals are written once, here, for every role (IMAP, ManageSieve,
 * HTTPS and metrics become rows, not copies).
 */
#ifndef TERN_SERVICE_H
#define TERN_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "conf/conf.h"
#include "mta/server.h"

struct service;

/* What every session of every role has: where it came in, its place in
 * the limits, its id for the log and its link in the service's list.
 * A role's session struct begins with it (so that the list can be
 * walked as the role's own sessions). */
struct service_session {
	struct service *svc;
	struct server *srv;
	struct server_slot slot;      /* its place in the limits; client address */
	time_t started;               /* for the session lifetime */
	char sid[16];                 /* session id for the log */
	struct service_session *next, *prev;
};

struct service_kind {
	const char *name;           /* for the log */
	char id_prefix;             /* of session ids: 'S' for SMTP, 'P' for POP3 */
	/* The line a client refused before any session exists gets: NULL for
	 * implicit TLS roles, which expect a handshake, not text. `host` is
	 * the configured host name. */
	void (*refusal)(enum server_admit why, const char *host, char *out, size_t outlen);
	/* A connection that passed the limits: the session takes fd and slot
	 * (and must call server_session_close on it when it ends). */
	void (*start)(struct service *svc, int fd, const struct sockaddr *sa, const struct server_slot *slot);
	/* Shutdown: answer idle sessions and close them; sessions waiting on
	 * work finish it first (called again until service_active is 0). */
	void (*shutdown)(struct service *svc);
};

struct service {
	struct server *srv;
	enum conf_role role;
	const struct service_kind *kind;
	struct io_listener *li;
	struct service_session *sessions; /* each the head of the serving module's session */
	unsigned nsessions;
};

/* Which row serves a role. */
const struct service_kind *service_kind_of(enum conf_role role);

/* Listen as `l` says. NULL with err set. */
struct service *service_listen(struct server *srv, const struct conf_listen *l, char *err, size_t errlen);
/* Stop accepting (the sessions go on). */
void service_stop_listening(struct service *svc);
void service_free(struct service *svc);
/* A session object of `size` octets (beginning with struct
 * service_session) for an accepted connection, linked into svc's list
 * and holding slot; NULL when memory ran out, and then slot is given
 * back and fd closed. */
void *service_session_new(struct service *svc, size_t size, int fd, const struct server_slot *slot);
/* Unlink it and give its slot back (the module frees the object). */
void service_session_remove(struct service_session *ss);

/* Sessions open in every service. */
unsigned service_active(const struct server *srv);

#endif
