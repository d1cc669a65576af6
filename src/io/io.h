/*
 * io — the one layer that knows libevent and OpenSSL. Everything above it
 * (mta/, cmd/) sees opaque handles and a handful of named events:
 * readable, drained, closed, timeout. No libevent type appears here.
 */
#ifndef TERN_IO_H
#define TERN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct io_loop;
struct io_conn;
struct io_timer;
struct io_listener;
struct io_tls;      /* a server TLS context (certificate + key) */

/* The loop. */
struct io_loop *io_loop_new(void);
void io_loop_free(struct io_loop *l);
int io_loop_run(struct io_loop *l);
void io_loop_exit(struct io_loop *l);
/* Run cb on the loop when signo arrives. */
int io_loop_signal(struct io_loop *l, int signo, void (*cb)(void *arg), void *arg);

/* Timers (one-shot; re-arm with io_timer_start). */
struct io_timer *io_timer_new(struct io_loop *l, void (*cb)(void *arg), void *arg);
void io_timer_start(struct io_timer *t, uint64_t ms);
void io_timer_stop(struct io_timer *t);
void io_timer_free(struct io_timer *t);

/* Listeners: accept until EAGAIN with a large backlog. */
typedef void (*io_accept_cb)(void *arg, int fd, const struct sockaddr *sa, socklen_t salen);
struct io_listener *io_listen(struct io_loop *l, const char *addr, int port, io_accept_cb cb, void *arg,
                              char *err, size_t errlen);
void io_listener_free(struct io_listener *li);

/*
 * Connections, with back-pressure built in (docs/architecture.md,
 * "Back-pressure"). The owner does not read the socket: io feeds it.
 *
 * feed(arg, p, n) is given buffered input and returns how much it used.
 * It is called again while it makes progress, and only while the output
 * still waiting for the peer is under IO_CONN_OUT_HIGH: a peer that does
 * not read its replies stops being fed (and read from) until the output
 * has fallen to IO_CONN_OUT_LOW. An owner that waits for something (a
 * commit, a password check) consumes nothing and calls io_conn_kick()
 * when the wait is over. produce(arg), when set, comes first: it writes
 * the next part of a long answer (a listing, a message) and returns true
 * while it has more, under the same high-water mark.
 *
 * The owner writes its replies with io_conn_write(). Every engine of
 * tern answers each command with a bounded amount and stops consuming
 * input while its own reply buffer is full, so a session's memory is
 * bounded by the constants below plus the engine's (the limits table).
 *
 * Freeing a connection from any of its callbacks is allowed: the memory
 * goes once the callback has returned (nothing is touched after it).
 */
#define IO_CONN_IN_MAX   (64 * 1024)  /* input buffered before reading pauses */
#define IO_CONN_OUT_HIGH (64 * 1024)  /* output that stops feeding */
#define IO_CONN_OUT_LOW  (16 * 1024)  /* ...until it falls to this */

struct io_conn_handlers {
	size_t (*feed)(void *arg, const char *p, size_t n); /* NULL: readable() instead */
	bool (*produce)(void *arg);           /* optional; see above */
	void (*readable)(void *arg);          /* without feed: new input is in the buffer */
	void (*drained)(void *arg);           /* all output was handed to the kernel */
	void (*idle)(void *arg);              /* no input for the read timeout: write a last
	                                       * line and io_conn_finish(); NULL: closed("timeout") */
	void (*closed)(void *arg, const char *why); /* EOF, error, timeout, or finished: free the conn */
	void (*tls_ready)(void *arg);         /* a TLS handshake completed */
	void (*connected)(void *arg);         /* an outgoing connection is up */
};
struct io_conn *io_conn_new(struct io_loop *l, int fd, const struct io_conn_handlers *h, void *arg);
void io_conn_free(struct io_conn *c);
/* Contiguous input: at most max octets (0: all buffered). */
size_t io_conn_input(struct io_conn *c, const char **p, size_t max);
size_t io_conn_input_len(struct io_conn *c);
void io_conn_consume(struct io_conn *c, size_t n);
int io_conn_write(struct io_conn *c, const void *p, size_t n);
size_t io_conn_output_len(struct io_conn *c);
/* Feed (and produce) again on the next loop turn: the owner's wait ended. */
void io_conn_kick(struct io_conn *c);
/* Stop reading; once every octet written has left, closed(arg, why)
 * follows (or closed(arg, "write timeout") if the peer stops reading). */
void io_conn_finish(struct io_conn *c, const char *why);
/* Idle timeout for reads and for a write making no progress, in seconds
 * (0 disables). */
void io_conn_set_timeout(struct io_conn *c, unsigned read_s, unsigned write_s);
void io_conn_pause_read(struct io_conn *c, bool paused);
/* Start TLS as a server on this connection (STARTTLS or implicit). */
int io_conn_start_tls(struct io_conn *c, struct io_tls *tls);
bool io_conn_is_tls(struct io_conn *c);
/* COMPRESS=DEFLATE (RFC 4978) from the next octet on, in both
 * directions, over whatever the connection is (plain or TLS). Output
 * written before the call leaves uncompressed. 0, or -1. */
int io_conn_start_compress(struct io_conn *c);
const char *io_conn_tls_version(struct io_conn *c);
const char *io_conn_tls_cipher(struct io_conn *c);
/* Outgoing: connect to sa; `connected` or `closed` follows. timeout_s
 * bounds the connect (and becomes the read timeout until changed). */
struct io_conn *io_conn_connect(struct io_loop *l, const struct sockaddr *sa, socklen_t salen, unsigned timeout_s,
                                const struct io_conn_handlers *h, void *arg);
/* Start TLS as a client (opportunistic STARTTLS of the relay: the
 * certificate is not verified, RFC 7435); `tls_ready` or `closed` follows. */
int io_conn_start_tls_client(struct io_conn *c, struct io_tls *client_ctx, const char *servername);
/* A client context for io_conn_start_tls_client. */
struct io_tls *io_tls_client_opportunistic(void);

/* Octets waiting in the kernel receive queue (early talker check). */
int io_fd_pending(int fd);

/* Worker pool: work() runs on a worker thread, done() then on the loop. */
struct io_workers;
struct io_workers *io_workers_new(struct io_loop *l, int nthreads);
void io_workers_submit(struct io_workers *w, void (*work)(void *arg), void (*done)(void *arg), void *arg);
void io_workers_free(struct io_workers *w);

/* "1.2.3.4" / "::1" from a socket address; is it loopback. */
void io_addr_text(const struct sockaddr *sa, char *out, size_t outlen);
/* The network a per-client limit counts: an IPv4 address itself, an IPv6
 * address's /64 ("2001:db8:1:2::/64"), since one IPv6 host may use a
 * whole /64 (RFC 4291 2.5.1, RFC 7934). */
void io_addr_net_text(const struct sockaddr *sa, char *out, size_t outlen);
bool io_addr_is_loopback(const struct sockaddr *sa);

#endif
