/*
 * listener — listening sockets. A large backlog and accepting until
 * EAGAIN (libevent's evconnlistener does both) keep bursts of new
 * connections from stalling, the failure seen in servers with a backlog
 * of 5.
 *
 * Out of descriptors (EMFILE, ENFILE, also ENOBUFS/ENOMEM): the pending
 * connection stays in the kernel's queue, so the listening socket stays
 * readable and an evconnlistener would be called again at once, for
 * ever (libevent's documented behaviour without an error callback). The
 * listener is paused instead, and resumed when a connection of ours is
 * closed (io_listener_fd_released) or, for descriptors freed elsewhere
 * (a worker's file), after IO_LISTENER_RETRY_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "io/io_internal.h"

#define IO_LISTENER_RETRY_MS 250

struct io_listener {
	struct io_accept_guard guard; /* first: see io_internal.h */
	struct evconnlistener *ev;
	io_accept_cb cb;
	void *arg;
};

/* Guards paused for want of descriptors (loop thread only). */
static struct io_accept_guard *io_accept_paused;

static void io_accept_guard_resume(struct io_accept_guard *g)
{
	struct io_accept_guard **pp = &io_accept_paused;
	while (*pp && *pp != g)
		pp = &(*pp)->next;
	if (*pp)
		*pp = g->next;
	g->paused = false;
	evtimer_del(g->retry);
	evconnlistener_enable(g->ev);
}

void io_listener_fd_released(void)
{
	while (io_accept_paused)
		io_accept_guard_resume(io_accept_paused);
}

static void io_accept_guard_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct io_accept_guard *g = arg;
	if (g->paused)
		io_accept_guard_resume(g);
}

static void io_accept_guard_error_cb(struct evconnlistener *ev, void *arg)
{
	(void)ev;
	struct io_accept_guard *g = arg;
	int e = EVUTIL_SOCKET_ERROR();
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return; /* ECONNABORTED and the like: that one connection is gone */
	if (g->paused)
		return;
	log_msg("accept: %s; new connections wait until a descriptor is free", strerror(e));
	evconnlistener_disable(g->ev);
	g->paused = true;
	g->next = io_accept_paused;
	io_accept_paused = g;
	struct timeval tv = {.tv_sec = 0, .tv_usec = IO_LISTENER_RETRY_MS * 1000};
	evtimer_add(g->retry, &tv);
}

int io_accept_guard_init(struct io_accept_guard *g, struct event_base *base, struct evconnlistener *ev)
{
	memset(g, 0, sizeof *g);
	g->ev = ev;
	g->retry = evtimer_new(base, io_accept_guard_retry_cb, g);
	if (g->retry == NULL)
		return -1;
	evconnlistener_set_error_cb(ev, io_accept_guard_error_cb);
	return 0;
}

void io_accept_guard_fini(struct io_accept_guard *g)
{
	if (g->paused) {
		struct io_accept_guard **pp = &io_accept_paused;
		while (*pp && *pp != g)
			pp = &(*pp)->next;
		if (*pp)
			*pp = g->next;
	}
	if (g->retry)
		event_free(g->retry);
	g->retry = NULL;
}

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
	if (li->ev == NULL || io_accept_guard_init(&li->guard, io_loop_base(l), li->ev) < 0) {
		snprintf(err, errlen, "cannot listen on %s port %d: %s", addr, port, strerror(errno));
		if (li->ev)
			evconnlistener_free(li->ev); /* closes fd */
		else
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
	io_accept_guard_fini(&li->guard);
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

void io_addr_net_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			struct in6_addr net = s6->sin6_addr;
			memset(net.s6_addr + 8, 0, 8);
			char t[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &net, t, sizeof t);
			snprintf(out, outlen, "%s/64", t);
			return;
		}
	}
	io_addr_text(sa, out, outlen);
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
