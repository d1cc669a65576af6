/*
 * watch — change notification for directories (inotify), so that an
 * IMAP session in IDLE hears of a delivery, or of another session's flag
 * change, within the same loop turn instead of by polling (RFC 2177).
 *
 * One inotify instance per loop, whatever the number of subscribers: a
 * directory watched by many sessions is one kernel watch with a list of
 * subscribers. Callbacks run on the loop, at most once per subscription
 * per batch of events, and may remove subscriptions (their own or
 * others'). Loop thread only.
 */
#ifndef TERN_IO_WATCH_H
#define TERN_IO_WATCH_H

#include "io/io.h"

struct io_watch;
struct io_watch_sub;

/* NULL with errno (no inotify: sessions then learn of changes at their
 * next command only). */
struct io_watch *io_watch_new(struct io_loop *l);
void io_watch_free(struct io_watch *w);
/* cb(arg) when a file is created, moved in or out of, or deleted from
 * dir (and when the kernel's queue overflowed: anything may have
 * changed). NULL with errno. */
struct io_watch_sub *io_watch_add(struct io_watch *w, const char *dir, void (*cb)(void *arg), void *arg);
/* NULL is fine. */
void io_watch_remove(struct io_watch_sub *sub);

#endif
