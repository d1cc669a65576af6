/*
 * mailstore — the one owner of where a local address's mail lives
 * (CONTRACT.md "Where mail lands"): DATA-DIR/mail/DOMAIN/LOCAL/, domain
 * and local part in lower case. The Maildir writer (maildir.c) and the
 * POP3 maildrop (mailbox.c) both get their directory here, so the rules
 * that keep an address from naming another path are written once.
 *
 * recipient.c hands over canonical addresses (lower case, aliases and the
 * recipient delimiter applied, routing characters refused); the rules
 * here are the last line nonetheless: a part that is empty, holds '/',
 * starts with '.' (which also refuses "." and "..", and keeps Maildir++
 * folders and hidden files out of reach) or is longer than a file name
 * never becomes a path.
 */
#ifndef TERN_MAILSTORE_H
#define TERN_MAILSTORE_H

#include <stddef.h>

/* The mailbox of local@domain (parts given with their lengths). 0, or -1
 * with EINVAL (an unsafe part) or ENAMETOOLONG. */
int mailstore_box(const char *data_dir, const char *domain, size_t dlen, const char *local, size_t llen, char *out,
                  size_t outlen);
/* The same for "local@domain" (the last '@' splits). */
int mailstore_box_of(const char *data_dir, const char *address, char *out, size_t outlen);

#endif
