/*
 * signer — DKIM signing of mail tern accepts from its users (submission
 * roles, `tern sendmail`) and of its own bounces: the configured
 * `dkim-key`s, loaded once, and a per-message signer that waits for the
 * header section to learn the From: domain, then signs with every key of
 * that domain (an RSA and an Ed25519 key give two signatures, RFC 8463 6).
 *
 * Signed once, at acceptance, and kept in the queue file's tail: every
 * retry sends the same bytes (docs/authentication.md).
 */
#ifndef TERN_SIGNER_H
#define TERN_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "conf/conf.h"

struct signer;
struct msgsign;

/* Read every dkim-key file of c. NULL with "FILE:LINE: ..." in err when
 * one cannot be used; a configuration without keys gives an empty set. */
struct signer *signer_load(const struct conf *c, char *err, size_t errlen);
void signer_free(struct signer *s);
/* Does any key exist (cheap check before making a per-message signer). */
size_t signer_count(const struct signer *s);

/* A signer for one message at time now. domain: sign with this domain's
 * keys whatever the From: says (tern's own reports), or NULL to take the
 * From: domain. NULL when out of memory. s must outlive it. */
struct msgsign *msgsign_new(const struct signer *s, int64_t now, const char *domain);
/* The message, in pieces, LF or CRLF line ends. */
void msgsign_feed(struct msgsign *m, const char *p, size_t n);
/* Append the DKIM-Signature fields, LF line ends, to out: nothing when
 * the domain has no key. 0, or -1 with a reason in err (the message
 * leaves unsigned; the caller logs it). */
int msgsign_finish(struct msgsign *m, struct buf *out, char *err, size_t errlen);
/* The d= used ("" before the header section was complete or unsigned). */
const char *msgsign_domain(const struct msgsign *m);
void msgsign_free(struct msgsign *m);

#endif
