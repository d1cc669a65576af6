/*
 * srs — the Sender Rewriting Scheme, for mail we forward.
 *
 * When we relay a message from someone@example.org to another host, SPF
 * (RFC 7208) at that host would check example.org's policy against our
 * address and fail. So the envelope sender is rewritten into an address
 * of our own domain that carries the original, signed with a secret and
 * stamped with the day, and a bounce sent to it can be turned back into
 * the original sender. The signature keeps us from being a relay for
 * forged bounces; the stamp lets old addresses die.
 *
 * The form (the project's contract; the same shape as the common SRS0
 * of libsrs2 and postsrsd, but not promised to interoperate with them):
 *
 *     SRS0=HASH=TT=DOMAIN=LOCAL@OURDOMAIN
 *
 * TT    two base32 characters (RFC 4648 6, alphabet A-Z 2-7): the day
 *       since the epoch modulo 1024, high five bits first;
 * HASH  the first 8 base32 characters (40 bits) of
 *       HMAC-SHA256(secret, lowercase(TT "=" DOMAIN "=" LOCAL));
 * DOMAIN, LOCAL  the original sender's domain and local part, as given.
 *
 * Everything is read case-insensitively (the prefix, HASH, TT), since
 * hosts on the way may change the case of a local part. The hash covers
 * the lowercased text for the same reason.
 *
 * Pure apart from OpenSSL's HMAC: no clock (the caller passes now), no
 * global state, no allocation; no OpenSSL type reaches this header.
 */
#ifndef TERN_SRS_H
#define TERN_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The longest address, in or out, in octets without the NUL (so out
 * needs SRS_ADDR_MAX + 1 to hold any result). RFC 5321 4.5.3.1.1 caps a
 * local part at 64 octets, but an SRS local part carries a whole
 * address and commonly runs past that; real MTAs take it, so we allow
 * up to this total instead, and hold the local part to no limit of its
 * own. Nothing longer could be sent: MAIL FROM and RCPT TO must fit a
 * 512-octet command line (RFC 5321 4.5.3.1.4).
 */
#define SRS_ADDR_MAX 512

/* How old a stamp srs_reverse accepts, in days: three weeks is longer
 * than any queue keeps retrying (RFC 5321 4.5.4.1 suggests 4-5 days),
 * so a genuine bounce always arrives in time. */
#define SRS_MAX_AGE_DAYS 21

enum srs_status {
	SRS_OK,
	SRS_NOT_SRS,  /* srs_reverse: the local part does not start with SRS0= */
	SRS_BAD_HASH, /* the hash does not match; also: no hash can be made
	               * (empty secret, OpenSSL failure), which must never
	               * pass for a good one */
	SRS_EXPIRED,  /* a genuine stamp, but too old or too far ahead */
	SRS_SYNTAX,   /* the address does not have the needed shape */
	SRS_TOO_LONG, /* an input or the result over SRS_ADDR_MAX, or over outlen */
};

/*
 * Rewrite sender (local@domain, no angle brackets) into out, an address
 * of our_domain, at now (seconds since the epoch).
 *
 * An SRS0 address of our_domain (domain compared case-insensitively) is
 * copied as it is: it is one of ours, bouncing back through us, and
 * wrapping it again would only make it longer. An SRS0 address of
 * another domain is wrapped like any other: its whole local part becomes
 * LOCAL. Nothing else is recognized (no SRS1).
 *
 * The null reverse-path of a bounce ("", RFC 5321 4.5.5) is not to be
 * rewritten; it has no '@' and gives SRS_SYNTAX.
 *
 * SRS_SYNTAX when the sender has no '@', more than one, an empty local
 * part or domain; when it holds a space, a control octet or DEL; when
 * its local part holds '"' or '\' (a quoted string cannot sit inside
 * another local part); when its domain holds '=' (srs_reverse would
 * split there); and when our_domain is empty or holds '@', '=' or any
 * of those octets. SRS_TOO_LONG when an input or the result is over
 * SRS_ADDR_MAX or the result does not fit outlen. SRS_BAD_HASH when no
 * hash can be made (empty secret, OpenSSL failure). On any failure out
 * holds "" (when outlen > 0).
 */
enum srs_status srs_forward(const unsigned char *secret, size_t secret_len, int64_t now, const char *sender,
                            const char *our_domain, char *out, size_t outlen);

/*
 * Undo srs_forward: addr is where a bounce is sent (the RCPT TO of a
 * message for our domain). On SRS_OK out holds the original LOCAL@DOMAIN.
 *
 * DOMAIN ends at the first '=' after TT; LOCAL is the rest of the local
 * part, which ends at the last '@', so a LOCAL with '=' in it survives.
 * The domain after that '@' is not checked: which domains are ours is
 * the caller's to decide.
 *
 * The hash is checked before the stamp, so SRS_EXPIRED only ever speaks
 * of an address we did make. The stamp may be up to SRS_MAX_AGE_DAYS
 * days old, or one day ahead (the forwarder's clock, or ours, a little
 * off), counted modulo 1024 days so the wrap of the stamp costs nothing.
 *
 * SRS_NOT_SRS when addr does not start with SRS0= (any case);
 * SRS_TOO_LONG when addr is over SRS_ADDR_MAX or the result does not fit
 * outlen; SRS_SYNTAX when a field is missing or empty or TT is not two
 * base32 characters; SRS_BAD_HASH when HASH is not the 8 characters it
 * should be; SRS_EXPIRED for an old stamp. On any failure out holds ""
 * (when outlen > 0).
 */
enum srs_status srs_reverse(const unsigned char *secret, size_t secret_len, int64_t now, const char *addr, char *out,
                            size_t outlen);

/* Whether addr starts with SRS0= (any case): whether srs_reverse would
 * try it rather than answer SRS_NOT_SRS. Nothing else is checked. */
bool srs_is_srs(const char *addr);

/* A few words for a log line; never NULL. */
const char *srs_status_text(enum srs_status s);

#endif
