/*
 * listener — listening sockets. A large backlog and accepting until
 * EAGAIN (libevent's evconnlistener does both) keep bursts of new
 * connections from stalling, the failure seen in servers with a backlog
 * of 5.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"

struct io_listener {
	struct evconnlistener *ev;
	io_accept_cb cb;
	void *arg;
};

static void io_listener_accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
                                  void *arg)
{
	(void)ev;
	struct io_listener *li = arg;
	li->cb(li->arg, fd, sa, (socklen_t)salen);
}

struct io_listener *io_listen(struct io_loop *l, const char *addr, int port, io_accept_cb cb, void *arg,
                              char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sslen = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sslen = sizeof *s6;
	} else {
		snprintf(err, errlen, "%s: not a numeric address", addr);
		return NULL;
	}
	struct io_listener *li = calloc(1, sizeof *li);
	if (li == NULL)
		return NULL;
	li->cb = cb;
	li->arg = arg;
	/* The socket is made here rather than by libevent so that an IPv6
	 * listener is IPv6 only: "[::]:25" and "0.0.0.0:25" can then coexist,
	 * as they would in Postfix (inet_protocols = all). */
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 4096) < 0) {
		snprintf(err, errlen, "cannot listen on %s port %d: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(li);
		return NULL;
	}
	li->ev = evconnlistener_new(io_loop_base(l), io_listener_accept_cb, li, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (li->ev == NULL) {
		snprintf(err, errlen, "cannot listen on %s port %d: %s", addr, port, strerror(errno));
		close(fd);
		free(li);
		return NULL;
	}
	return li;
}

void io_listener_free(struct io_listener *li)
{
	if (li == NULL)
		return;
	evconnlistener_free(li->ev);
	free(li);
}

void io_addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outlen);
			return;
		}
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outlen);
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
	} else {
		snprintf(out, outlen, "unknown");
	}
}

bool io_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}
