/*
 * connect — name resolution and a verifying TLS client context for
 * `tern send`. See client.h.
 *
 * Verification follows RFC 6125 (via OpenSSL's host check: DNS-ID in the
 * subjectAltName, no partial wildcards) against the system CA store or a
 * CA file; SNI per RFC 6066 3 (names only, never IP addresses). The reason
 * of a failed verification is caught in the verify callback, so that the
 * caller can tell it from a network error after the connection closed.
 *
 * The SSL_CTX is made by io/tls.c (io_tls_client_opportunistic: TLS 1.2+,
 * no compression or renegotiation) and tightened here; every SSL made from
 * it afterwards inherits the verification settings.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/client.h"
#include "io/io_internal.h"

struct io_connect_tls {
	struct io_tls *tls;  /* owned */
	char host[256];
	bool sni;
	bool verify_failed;
	char why[256];
};

/* The SSL_CTX ex_data slot that points back to our struct. */
static int io_connect_tls_idx = -1;

int io_connect_resolve(const char *host, int port, struct io_connect_addr *out, size_t max, bool *temporary,
                       char *err, size_t errlen)
{
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	*temporary = false;
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0) {
		/* EAI_AGAIN: the resolver could not answer now; the others
		 * (no such name, bad name) will not change by retrying soon. */
		*temporary = rc == EAI_AGAIN || rc == EAI_MEMORY || rc == EAI_SYSTEM;
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	size_t n = 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof out[n].sa)
			continue;
		memcpy(&out[n].sa, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(err, errlen, "%s: no address", host);
		return -1;
	}
	return (int)n;
}

static int io_connect_verify_cb(int ok, X509_STORE_CTX *store)
{
	if (ok)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct io_connect_tls *t = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), io_connect_tls_idx) : NULL;
	if (t && !t->verify_failed) {
		int e = X509_STORE_CTX_get_error(store);
		t->verify_failed = true;
		snprintf(t->why, sizeof t->why, "%s (depth %d)", X509_verify_cert_error_string(e),
		         X509_STORE_CTX_get_error_depth(store));
	}
	return ok; /* refused: the handshake fails */
}

static bool io_connect_is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The OpenSSL error queue as text, then cleared. */
static void io_connect_ssl_err(char *err, size_t errlen, const char *what)
{
	char es[200];
	unsigned long e = ERR_get_error();
	ERR_error_string_n(e, es, sizeof es);
	snprintf(err, errlen, "%s: %s", what, e ? es : "failed");
	ERR_clear_error();
}

struct io_connect_tls *io_connect_tls_new(const char *host, const char *cafile, bool insecure, char *err,
                                          size_t errlen)
{
	if (strlen(host) >= sizeof ((struct io_connect_tls *)0)->host) {
		snprintf(err, errlen, "%s: name too long", host);
		return NULL;
	}
	struct io_connect_tls *t = calloc(1, sizeof *t);
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(t->host, sizeof t->host, "%s", host);
	bool ip = io_connect_is_ip(host);
	t->sni = !ip; /* RFC 6066 3: literal addresses are not sent as names */
	t->tls = io_tls_client_opportunistic();
	SSL *probe = t->tls ? io_tls_new_ssl(t->tls) : NULL;
	if (probe == NULL) {
		io_connect_ssl_err(err, errlen, "cannot create a TLS context");
		io_connect_tls_free(t);
		return NULL;
	}
	/* The probe only leads to the context, which the io_tls owns. */
	SSL_CTX *ctx = SSL_get_SSL_CTX(probe);
	SSL_free(probe);
	if (insecure)
		return t; /* the context does not verify (SSL_VERIFY_NONE) */
	int ok = cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL) : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		io_connect_ssl_err(err, errlen, cafile ? cafile : "the system CA store");
		io_connect_tls_free(t);
		return NULL;
	}
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) : X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (io_connect_tls_idx < 0)
		io_connect_tls_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (ok != 1 || io_connect_tls_idx < 0 || SSL_CTX_set_ex_data(ctx, io_connect_tls_idx, t) != 1) {
		io_connect_ssl_err(err, errlen, "cannot set up certificate verification");
		io_connect_tls_free(t);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, io_connect_verify_cb);
	return t;
}

void io_connect_tls_free(struct io_connect_tls *t)
{
	if (t == NULL)
		return;
	io_tls_free(t->tls);
	free(t);
}

int io_connect_start_tls(struct io_conn *c, struct io_connect_tls *t)
{
	t->verify_failed = false;
	t->why[0] = '\0';
	return io_conn_start_tls_client(c, t->tls, t->sni ? t->host : NULL);
}

bool io_connect_tls_verify_failed(const struct io_connect_tls *t, char *why, size_t whylen)
{
	if (t->verify_failed)
		snprintf(why, whylen, "%s", t->why);
	return t->verify_failed;
}
