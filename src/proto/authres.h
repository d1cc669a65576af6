/*
 * authres — the one Authentication-Results field (RFC 8601) tern adds
 * on the smtp role: spf, then one dkim result per signature, then dmarc,
 * each method on its own folded line. Pure: the results come from the
 * checks (mta/msgauth), which know nothing of the field's syntax.
 *
 * Every value from the message or the session (addresses, names) is
 * written as an RFC 8601 value: a token when it is one, else a quoted
 * string with '"' and '\' escaped; octets that are not printable ASCII
 * or UTF-8 are dropped, so that no client can end the field or the
 * header section with what it sends.
 */
#ifndef TERN_AUTHRES_H
#define TERN_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "proto/dkim.h"
#include "proto/dmarc.h"
#include "proto/spf.h"

struct authres_dkim {
	enum dkim_result result;
	const char *comment;       /* why, for anything but pass; NULL: none */
	const char *d, *s;         /* header.d, header.s ("" when unknown) */
	const char *b;             /* header.b: the first octets of b= in base64 (RFC 6008), or NULL */
};

struct authres {
	const char *authserv_id;   /* the host name */
	bool spf_done;             /* false: no spf method (nothing to check) */
	enum spf_result spf;
	bool spf_helo;             /* the HELO identity was checked (null sender) */
	const char *spf_identity;  /* the MAIL FROM address, or the HELO name */
	const char *spf_comment;   /* NULL: none */
	struct authres_dkim dkim[DKIM_SIGS_MAX];
	size_t ndkim;              /* 0: dkim=none */
	enum dmarc_result dmarc;
	const char *dmarc_from;    /* header.from, NULL when there is no single From: domain */
	const char *dmarc_comment; /* "p=reject dis=none"... NULL: none */
};

/* Append "Authentication-Results: ...\n" (folded with LF and a tab). 0,
 * or -1 when out is full. */
int authres_format(const struct authres *a, struct buf *out);

#endif
