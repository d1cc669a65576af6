/*
 * mailbox — the Maildir side of POP3 (DATA-DIR/mail/DOMAIN/LOCAL/, as
 * written by mta/maildir.c): reading the maildrop at login, moving what
 * is new to cur/, opening one message, and removing the deleted ones in
 * the UPDATE state. The blocking calls run on the worker pool; the lock
 * table is the loop thread's.
 *
 * Maildir conventions followed (the layout qmail defined, with Dovecot's
 * size field):
 * - a message seen by a session is moved from new/ to cur/ as
 *   "BASE,W=VSIZE:2," where VSIZE is its size with CR LF line ends (what
 *   POP3 announces, RFC 1939 5), so that later sessions need not read
 *   the file to know it; files without W= are measured at each login;
 * - the POP3 unique-id (RFC 1939 7) is BASE: the name before ':', without
 *   the ",W=" field. It does not change when the file moves or when the
 *   server restarts. A BASE that is not 1-70 printable octets becomes a
 *   hash of it ("X" and 32 hex digits), equally stable.
 */
#ifndef TERN_MAILBOX_H
#define TERN_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/pop3_server.h"

#define MAILBOX_MAX_MSGS 100000 /* messages shown in one session; more wait for the next */

struct mailbox {
	char *dir;               /* DATA-DIR/mail/DOMAIN/LOCAL (owned) */
	struct pop3_msg *msgs;   /* the maildrop as the engine sees it (owned) */
	char **names;            /* "cur/NAME" or "new/NAME", index-aligned with msgs (owned) */
	size_t n;
	unsigned moved;          /* messages moved from new/ to cur/ by the scan */
};

/* Blocking (worker pool). Read new/ and cur/ of mb->dir, moving new/ to
 * cur/; fill msgs/names/n, sorted by name (oldest first for tern's
 * names). A mailbox that does not exist yet is empty. 0, or -1 with
 * errno. */
int mailbox_scan(struct mailbox *mb);

/* The file of message i (a fresh allocation, the caller's), or NULL
 * with errno. */
char *mailbox_msg_path(const struct mailbox *mb, size_t i);
/* Open such a path for reading (blocking: a worker, as io_reader's
 * open). fd, or -1 with errno. */
int mailbox_open_path(void *path);

/* Blocking (worker pool). Unlink the messages marked deleted and flush
 * the directories (RFC 1939 6: the UPDATE state). A file already gone
 * counts as removed. Returns the number removed, or -1 with errno when
 * some could not be. */
long mailbox_expunge(const struct mailbox *mb);

/* Frees what mb owns (mb itself is the caller's). */
void mailbox_free(struct mailbox *mb);

/* One session per mailbox (loop thread only): false when dir is held.
 * The table is the server's (struct server's mailbox_locks). */
struct mailbox_lock;
bool mailbox_lock(struct mailbox_lock **table, const char *dir);
void mailbox_unlock(struct mailbox_lock **table, const char *dir);

#endif
