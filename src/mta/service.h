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

#include "conf/conf.h"
#include "mta/server.h"

struct service;

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
	void *sessions;             /* the list of the module that serves it */
	unsigned nsessions;
};

/* Which row serves a role. */
const struct service_kind *service_kind_of(enum conf_role role);

/* Listen as `l` says. NULL with err set. */
struct service *service_listen(struct server *srv, const struct conf_listen *l, char *err, size_t errlen);
/* Stop accepting (the sessions go on). */
void service_stop_listening(struct service *svc);
void service_free(struct service *svc);
/* Sessions open in every service. */
unsigned service_active(const struct server *srv);

#endif
