/*
 * dkim_sign — DKIM signing (RFC 6376 5, RFC 8463): a message streamed
 * in, one DKIM-Signature field per key out, to be put on top of the
 * message.
 *
 * Every signature is relaxed/relaxed with a t= and no l=; h= lists the
 * fields the message has from dkim_hdrs' list and oversigns From, To,
 * Cc, Subject, Date and Reply-To (dkim_hdrs.h). The body is hashed once
 * for all keys while it streams; only the header section is held
 * (DKIM_HEADER_MAX).
 */
#ifndef TERN_DKIM_SIGN_H
#define TERN_DKIM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "crypto/dkim_pkey.h"

#define DKIM_SIGN_KEYS_MAX 8

struct dkim_sign_key {
	const char *domain;          /* d= */
	const char *selector;        /* s= */
	const struct dkim_pkey *key; /* borrowed: must outlive the signer */
};

struct dkim_sign;

/* A signer for n keys (1..DKIM_SIGN_KEYS_MAX) at time now (t=). The
 * names are copied. NULL when a name is not a valid domain or selector,
 * or out of memory. */
struct dkim_sign *dkim_sign_new(const struct dkim_sign_key *keys, size_t n, int64_t now);

/* The message, in pieces of any size, CRLF or LF line ends. */
void dkim_sign_feed(struct dkim_sign *s, const char *p, size_t n);

/*
 * The end of the message: append the DKIM-Signature fields to out, each
 * folded with eol and ending in it ("\r\n" for a message on the wire,
 * "\n" for one as stored). 0, or -1 with a reason in err (no From field,
 * header section too large, a signing failure).
 */
int dkim_sign_finish(struct dkim_sign *s, const char *eol, struct buf *out, char *err, size_t errlen);

void dkim_sign_free(struct dkim_sign *s);

#endif
