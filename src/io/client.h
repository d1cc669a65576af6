/*
 * client — the client side of io/ that `tern send` needs on top of
 * io_conn_connect() and io_conn_start_tls_client() (io.h): resolving the
 * server's name, and a TLS context that verifies the server (RFC 6125
 * host name check against the system's CA store or a CA file, SNI per RFC
 * 6066 3), with a way to tell a failed verification from other handshake
 * failures. No OpenSSL or libevent type appears here.
 */
#ifndef TERN_IO_CLIENT_H
#define TERN_IO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "io/io.h"

#define IO_CONNECT_MAX_ADDRS 16

struct io_connect_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

/*
 * Resolve host (a DNS name, an IPv4 address, or an IPv6 address without
 * brackets) and port into at most max addresses, in getaddrinfo(3) order.
 * This blocks: it is meant for a one-shot command such as `tern send`,
 * which has nothing else to do meanwhile; the server's relay resolves with
 * c-ares in the event loop (io/dns.h). Returns the number of addresses, or
 * -1 with err set and *temporary telling whether a later try may succeed.
 */
int io_connect_resolve(const char *host, int port, struct io_connect_addr *out, size_t max, bool *temporary,
                       char *err, size_t errlen);

/* A client TLS context for one server name. */
struct io_connect_tls;

/*
 * host: the name the certificate must match (an IP address is matched
 * against the certificate's IP addresses; SNI is sent only for names).
 * cafile: trust only these CAs (PEM); NULL: the system store. insecure: no
 * verification at all. NULL with err set when the CA file cannot be used.
 */
struct io_connect_tls *io_connect_tls_new(const char *host, const char *cafile, bool insecure, char *err,
                                          size_t errlen);
void io_connect_tls_free(struct io_connect_tls *t);
/* Start the handshake on c (implicit TLS, or after the 220 to STARTTLS);
 * tls_ready or closed follows. 0 / -1. */
int io_connect_start_tls(struct io_conn *c, struct io_connect_tls *t);
/* After a failed handshake: true when the server's certificate failed
 * verification, with the reason in why. */
bool io_connect_tls_verify_failed(const struct io_connect_tls *t, char *why, size_t whylen);

#endif
