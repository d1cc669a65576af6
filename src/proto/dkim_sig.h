/*
 * dkim_sig — the DKIM-Signature header field (RFC 6376 3.5): parsed for
 * verifying, built for signing.
 *
 * Parsing checks everything that can be checked without the key or the
 * clock: the required tags, their syntax, that h= names From (6.1.1),
 * that i= lies within d= (3.5 i=), x= after t=, and refuses rsa-sha1
 * (RFC 8301 3.1). Building writes the field tern signs with: relaxed/
 * relaxed, a t=, no l= (RFC 6376 8.2: an l= lets anyone append text),
 * folded to 78 columns, with the b= value left for the signature.
 *
 * Pure; the result is a plain struct holding copies of what it needs.
 */
#ifndef TERN_DKIM_SIG_H
#define TERN_DKIM_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/dkim.h"
#include "proto/dkim_canon.h"

struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon_alg hcanon, bcanon;    /* c=, default simple/simple */
	char d[DKIM_DOMAIN_MAX + 1];           /* as written; compare without case */
	char s[DKIM_SELECTOR_MAX + 1];
	char auid[DKIM_AUID_MAX + 1];          /* i=, default "@" d= */
	char auid_domain[DKIM_DOMAIN_MAX + 1]; /* i='s domain: d= or a subdomain of it */
	char h[DKIM_SIG_H_MAX][DKIM_HNAME_MAX + 1]; /* h= names in order, as written */
	size_t nh;
	unsigned char bh[DKIM_HASH_LEN];
	unsigned char b[DKIM_SIG_B_MAX];
	size_t blen;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
	/* The b= value's span in the field text given to dkim_sig_parse
	 * (from just after "b=" to the ';' or the end): blanked in the data
	 * that was signed (RFC 6376 3.7). */
	size_t b_start, b_end;
};

/*
 * Parse one DKIM-Signature field, field[0..n) being the whole field as
 * it appears in the message ("DKIM-Signature: v=1; ..."), continuation
 * lines included, without the final line end. DKIM_OK or the reason it
 * is unusable; *sig is then partly filled (d= and s= when they parsed,
 * for a result that names them).
 */
enum dkim_reason dkim_sig_parse(const char *field, size_t n, struct dkim_sig *sig);

/*
 * Is the signature usable at time now (seconds since the epoch)?
 * x= in the past: DKIM_SIG_EXPIRED; t= more than DKIM_CLOCK_SKEW in the
 * future: DKIM_SIG_FUTURE (RFC 6376 3.5 t= and x=).
 */
enum dkim_reason dkim_sig_check_time(const struct dkim_sig *sig, int64_t now);

/*
 * Prepare a signature for signing: alg, domain, selector, time, the h=
 * list made from the fields the message has (dkim_hdrs_sign_list fills
 * it), relaxed/relaxed. Returns 0, or -1 when the domain or selector is
 * not a valid name.
 */
int dkim_sig_init_sign(struct dkim_sig *sig, enum dkim_alg alg, const char *domain, const char *selector,
                       int64_t now);

/*
 * Append the field "DKIM-Signature: v=1; a=...; ...; b=VALUE" to out,
 * folded with eol and a space so that no line passes 78 columns, without
 * a final line end. bh= must be set; b= is sig->b, empty while
 * sig->blen is 0. b= comes last, so the text before it is the same
 * whether b= is empty or not: the signer builds the field twice, once
 * to sign and once to send. sig->b_start/b_end are set relative to the
 * field's first octet (at out->len on entry). 0, or -1 when out is full.
 */
int dkim_sig_build(struct dkim_sig *sig, const char *eol, struct buf *out);

#endif
