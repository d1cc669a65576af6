/*
 * dkim_verify — DKIM verification (RFC 6376 6, RFC 8301, RFC 8463) of a
 * message streamed in, for each of its DKIM-Signature fields.
 *
 * Shaped for the receiving pipeline: the message is fed in pieces; as
 * soon as the header section has passed, the signatures are known
 * (dkim_verify_count, dkim_verify_sig) so that the caller can start the
 * DNS queries for their keys while the body streams through one body
 * hash per signature. After dkim_verify_finish, each signature is
 * judged against the text of its key record, which the caller fetched
 * (this module does no DNS and reads no clock: `now` is an argument).
 *
 * At most DKIM_SIGS_MAX signatures are checked (the first ones from the
 * top); dkim_verify_found says how many there were.
 *
 * l= (RFC 6376 3.5, 8.2): a signature whose l= is longer than the
 * canonical body is a permerror; one that leaves text unsigned passes
 * on the signed part, and the result says how many octets were not
 * covered (`unsigned_octets`), for the caller to weigh.
 */
#ifndef TERN_DKIM_VERIFY_H
#define TERN_DKIM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/dkim.h"
#include "proto/dkim_sig.h"

struct dkim_verify;

struct dkim_verify_result {
	enum dkim_result result;
	enum dkim_reason reason;
	char d[DKIM_DOMAIN_MAX + 1];   /* header.d, empty when d= was unusable */
	char s[DKIM_SELECTOR_MAX + 1]; /* header.s */
	char auid[DKIM_AUID_MAX + 1];  /* header.i */
	enum dkim_alg alg;
	unsigned key_bits;             /* 0 when no key was decoded */
	bool testing;                  /* the key record has t=y */
	uint64_t unsigned_octets;      /* canonical body octets after l= */
};

/* NULL when out of memory. */
struct dkim_verify *dkim_verify_new(void);
void dkim_verify_free(struct dkim_verify *v);

/* The message in pieces, CRLF or LF line ends. */
void dkim_verify_feed(struct dkim_verify *v, const char *p, size_t n);
void dkim_verify_finish(struct dkim_verify *v);

/* True once the header section has passed (or the message ended). */
bool dkim_verify_headers_done(const struct dkim_verify *v);
/* The header section as it came (once done): the receiver reads From:
 * out of it for DMARC instead of keeping a second copy. */
const char *dkim_verify_header_section(const struct dkim_verify *v, size_t *len);
/* The header section was larger than DKIM_HEADER_MAX: nothing can be
 * checked; the caller reports a permerror (DKIM_HEADER_TOO_LARGE). */
bool dkim_verify_too_large(const struct dkim_verify *v);
/* DKIM-Signature fields in the message, and how many of them are checked. */
size_t dkim_verify_found(const struct dkim_verify *v);
size_t dkim_verify_count(const struct dkim_verify *v);

/* Signature i (< count) as parsed, and DKIM_OK when it parsed: only
 * then is its key worth fetching, at s._domainkey.d. */
const struct dkim_sig *dkim_verify_sig(const struct dkim_verify *v, size_t i, enum dkim_reason *parsed);

/*
 * Judge signature i after dkim_verify_finish, with the key record's
 * text (its TXT strings joined), or NULL when the caller has no record
 * (then only a signature refused without its key gets a final answer;
 * otherwise the result is DKIM_KEY_NOT_FOUND's permerror, which the caller
 * overrides with temperror for a DNS failure). May be called again with
 * another record.
 */
void dkim_verify_check(struct dkim_verify *v, size_t i, const char *record, size_t len, int64_t now,
                       struct dkim_verify_result *res);

#endif
