/*
 * unix — local (AF_UNIX) stream sockets: the server's listening side on
 * the event loop, and a blocking client for the command faces. Kept apart
 * from io.h so that TCP users do not see it; like the rest of io/, no
 * libevent type appears here.
 *
 * Paths longer than sun_path (108 octets, easy to reach under a deep
 * data-dir) are reached through /proc/self/fd/N/NAME of their directory.
 */
#ifndef TERN_IO_UNIX_H
#define TERN_IO_UNIX_H

#include <stddef.h>
#include <sys/types.h>

struct io_loop;
struct io_unix_listener;

typedef void (*io_unix_accept_cb)(void *arg, int fd);

/*
 * Listen on path with the given mode (chmod'ed before the first accept;
 * peers must be checked with io_unix_peer_uid all the same, since the
 * mode only holds once set). A socket file nobody answers on (left by a
 * crash) is replaced; one that answers is another live server: -1 with
 * EADDRINUSE. Anything but a socket at path is left alone (EEXIST).
 * On error, err holds a sentence naming the path.
 */
struct io_unix_listener *io_unix_listen(struct io_loop *l, const char *path, mode_t mode, io_unix_accept_cb cb,
                                        void *arg, char *err, size_t errlen);
/* Stop listening and remove the socket file. NULL is fine. */
void io_unix_listener_free(struct io_unix_listener *li);

/* The effective uid of the process at the other end (SO_PEERCRED). */
int io_unix_peer_uid(int fd, uid_t *uid);

/* Connect (blocking) with send/receive timeouts of timeout_s seconds.
 * The fd, or -1 with errno: ENOENT or ECONNREFUSED mean nobody listens. */
int io_unix_connect(const char *path, unsigned timeout_s);

#endif
