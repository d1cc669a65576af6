/*
 * smtpd — the SMTP server roles wired together: a listener's accepted
 * connections get a session engine (proto/smtp_server), the recipient
 * policy, and the queue intake. One file per job: this one owns the
 * sessions, nothing else.
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include <sys/socket.h>

#include "conf/conf.h"

struct server;

struct smtpd_listener {
	struct server *srv;
	enum conf_role role;
	struct io_listener *li;
};

/* io_accept_cb for SMTP roles; arg is a struct smtpd_listener. */
void smtpd_accept(void *arg, int fd, const struct sockaddr *sa, socklen_t salen);
/* Close idle sessions with 421 (shutdown). Sessions committing finish first. */
void smtpd_shutdown(struct server *srv);
unsigned smtpd_active(void);

#endif
