/*
 * maildir_host — the host part of Maildir file names
 * (TIME.UNIQUE.HOST,S=...:2,FLAGS), for every writer of them: delivery
 * (mta/maildir) and the IMAP store (store/mfname). One owner, so both
 * write the same escape of the same name.
 */
#ifndef TERN_MAILDIR_HOST_H
#define TERN_MAILDIR_HOST_H

#include <stddef.h>

#define MAILDIR_HOST_MAX 64 /* octets of the escaped host name kept in a file name */

/* The host name with '/' (a path), ':' (the info separator), ',' (the
 * size fields), '\' and every octet that is not printable ASCII written
 * as a backslash and three octal digits, the usual Maildir escape; cut
 * at MAILDIR_HOST_MAX octets. Computed once per process; thread-safe. */
void maildir_host(char *out, size_t n);

#endif
