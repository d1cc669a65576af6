/*
 * imapd — the IMAP roles wired together: a service's accepted
 * connections get a session engine (proto/imap_server), the password
 * check (mta/auth, shared with submission and POP3: one throttle), and
 * the user's mail store (src/store). This file owns the sessions,
 * nothing else; the rows of the service table (mta/service.h) for imap
 * and imaps.
 *
 * Roles: `imap` greets in plaintext and offers STARTTLS (RFC 9051
 * 6.2.1); `imaps` starts TLS at once and greets when the handshake is
 * done (RFC 8314).
 */
#ifndef TERN_IMAPD_H
#define TERN_IMAPD_H

#include "mta/service.h"

extern const struct service_kind imapd_kind_imap;
extern const struct service_kind imapd_kind_imaps;

#endif
