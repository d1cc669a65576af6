/*
 * pop3d — the POP3 roles wired together: a listener's accepted
 * connections get a session engine (proto/pop3_server), the password
 * check (mta/auth) and the user's Maildir (mta/mailbox). This file owns
 * the sessions, nothing else.
 *
 * Roles: `pop3` greets in plaintext and offers STLS (RFC 2595); `pop3s`
 * starts TLS at once and greets when the handshake is done (RFC 8314).
 */
#ifndef TERN_POP3D_H
#define TERN_POP3D_H

#include <sys/socket.h>

#include "conf/conf.h"

struct server;

struct pop3d_listener {
	struct server *srv;
	enum conf_role role;    /* ROLE_POP3 or ROLE_POP3S */
	struct io_listener *li;
};

/* io_accept_cb for the POP3 roles; arg is a struct pop3d_listener. */
void pop3d_accept(void *arg, int fd, const struct sockaddr *sa, socklen_t salen);
/* Close sessions with "-ERR [SYS/TEMP]" (shutdown), without UPDATE.
 * Sessions waiting for a password check, a scan or their deletions finish
 * that first; call again until pop3d_active() is 0. */
void pop3d_shutdown(struct server *srv);
unsigned pop3d_active(void);

#endif
