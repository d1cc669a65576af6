/*
 * pop3d — the POP3 roles wired together: a service's accepted
 * connections get a session engine (proto/pop3_server), the password
 * check (mta/auth) and the user's Maildir (mta/mailbox). This file owns
 * the sessions, nothing else; the rows of the service table
 * (mta/service.h) for pop3 and pop3s.
 *
 * Roles: `pop3` greets in plaintext and offers STLS (RFC 2595); `pop3s`
 * starts TLS at once and greets when the handshake is done (RFC 8314).
 */
#ifndef TERN_POP3D_H
#define TERN_POP3D_H

#include "mta/service.h"

extern const struct service_kind pop3d_kind_pop3;
extern const struct service_kind pop3d_kind_pop3s;

#endif
