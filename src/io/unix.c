/*
 * unix — AF_UNIX stream sockets for the control channel. See unix.h.
 * The listener hands accepted descriptors to its owner, which wraps them
 * in an io_conn like any TCP connection.
 */
#include "io/unix.h"

#include <errno.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/io_internal.h"

#define IO_UNIX_BACKLOG 64

struct io_unix_listener {
	struct io_accept_guard guard; /* first: see io_internal.h; no spinning on EMFILE */
	struct evconnlistener *ev;
	io_unix_accept_cb cb;
	void *arg;
	char *path;  /* owned: removed on free */
	ino_t ino;   /* the socket we made, so that free removes only it */
};

/*
 * Fill sun with path. When it does not fit, open its directory (O_PATH)
 * and use /proc/self/fd/N/NAME instead; *dirfd is then that descriptor,
 * to be closed by the caller after bind/connect (-1 otherwise).
 */
static int io_unix_addr(const char *path, struct sockaddr_un *sun, int *dirfd)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	*dirfd = -1;
	size_t n = strlen(path);
	if (n < sizeof sun->sun_path) {
		memcpy(sun->sun_path, path, n + 1);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (slash == NULL || strlen(slash + 1) > 64) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (dir == NULL)
		return -1;
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	free(dir);
	if (*dirfd < 0) {
		errno = e;
		return -1;
	}
	snprintf(sun->sun_path, sizeof sun->sun_path, "/proc/self/fd/%d/%s", *dirfd, slash + 1);
	return 0;
}

static int io_unix_socket(void)
{
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

int io_unix_connect(const char *path, unsigned timeout_s)
{
	struct sockaddr_un sun;
	int dfd;
	if (io_unix_addr(path, &sun, &dfd) < 0)
		return -1;
	int fd = io_unix_socket();
	if (fd >= 0) {
		struct timeval tv = {.tv_sec = (time_t)timeout_s};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		int r;
		do {
			r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			int e = errno;
			close(fd);
			fd = -1;
			errno = e;
		}
	}
	if (dfd >= 0) {
		int e = errno;
		close(dfd);
		errno = e;
	}
	return fd;
}

int io_unix_peer_uid(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -1;
	*uid = cr.uid;
	return 0;
}

static void io_unix_accept_evcb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                                void *arg)
{
	(void)ev;
	(void)sa;
	(void)salen;
	struct io_unix_listener *li = arg;
	li->cb(li->arg, fd);
}

/* A socket file already at path: live (EADDRINUSE), stale (removed), or
 * not a socket (EEXIST). 0 when path is now free. */
static int io_unix_clear(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	int fd = io_unix_connect(path, 2);
	if (fd >= 0) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	if (errno != ECONNREFUSED)
		return -1;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

struct io_unix_listener *io_unix_listen(struct io_loop *l, const char *path, mode_t mode, io_unix_accept_cb cb,
                                        void *arg, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int dfd = -1, fd = -1;
	struct io_unix_listener *li = calloc(1, sizeof *li);
	if (li == NULL || (li->path = strdup(path)) == NULL)
		goto fail;
	li->cb = cb;
	li->arg = arg;
	if (io_unix_clear(path) < 0 || io_unix_addr(path, &sun, &dfd) < 0)
		goto fail;
	if ((fd = io_unix_socket()) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		goto fail;
	struct stat st;
	if (chmod(path, mode) < 0 || lstat(path, &st) < 0) {
		int e = errno;
		unlink(path);
		errno = e;
		goto fail;
	}
	li->ino = st.st_ino;
	evutil_make_socket_nonblocking(fd);
	li->ev = evconnlistener_new(io_loop_base(l), io_unix_accept_evcb, li,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, IO_UNIX_BACKLOG, fd);
	if (li->ev != NULL && io_accept_guard_init(&li->guard, io_loop_base(l), li->ev) < 0) {
		evconnlistener_free(li->ev); /* closes fd */
		li->ev = NULL;
		fd = -1;
	}
	if (li->ev == NULL) {
		int e = errno;
		unlink(path);
		errno = e;
		goto fail;
	}
	if (dfd >= 0)
		close(dfd);
	return li;
fail:;
	int e = errno;
	snprintf(err, errlen, "cannot listen on %s: %s", path,
	         e == EADDRINUSE ? "another server is running on this data-dir" : strerror(e));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (li)
		free(li->path);
	free(li);
	errno = e;
	return NULL;
}

void io_unix_listener_free(struct io_unix_listener *li)
{
	if (li == NULL)
		return;
	io_accept_guard_fini(&li->guard);
	evconnlistener_free(li->ev);
	struct stat st;
	/* Only our socket: a later server may have replaced it meanwhile. */
	if (lstat(li->path, &st) == 0 && st.st_ino == li->ino)
		unlink(li->path);
	free(li->path);
	free(li);
}
