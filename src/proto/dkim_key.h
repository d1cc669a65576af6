/*
 * dkim_key — the key record published at SELECTOR._domainkey.DOMAIN
 * (RFC 6376 3.6.1, RFC 8463 4): "v=DKIM1; k=rsa; p=...".
 *
 * Pure: the record's text (the TXT strings joined, as RFC 6376 3.6.2.2
 * says) in, the key's octets and flags out. Decoding the key itself is
 * for src/crypto/, which knows DER.
 */
#ifndef TERN_DKIM_KEY_H
#define TERN_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/dkim.h"
#include "proto/dkim_sig.h"

struct dkim_key {
	enum dkim_key_type type;  /* k=, default rsa */
	bool sha256;              /* h= allows sha256 (true when h= is absent) */
	bool testing;             /* t=y: the domain is testing DKIM */
	bool strict;              /* t=s: i= must be at d= itself, no subdomain */
	/* p=: for rsa the DER of a SubjectPublicKeyInfo (or an RSAPublicKey),
	 * for ed25519 the 32 octets of the key (RFC 8463 4) */
	unsigned char p[DKIM_KEY_P_MAX];
	size_t plen;
};

/*
 * Parse a key record. DKIM_OK, DKIM_KEY_REVOKED for an empty p= (3.6.1:
 * "An empty value means that this public key has been revoked"), or
 * another DKIM_KEY_* reason. Unknown tags and unknown t= flags are
 * ignored (3.6.1: "Unrecognized flags MUST be ignored"); a v= other
 * than DKIM1, or not first, is an error; so is an s= without "email"
 * or "*", and an unknown k=.
 */
enum dkim_reason dkim_key_parse(const char *rec, size_t n, struct dkim_key *key);

/* May this key check that signature? DKIM_OK, or DKIM_KEY_ALG_MISMATCH
 * (k= is not the a= key type), DKIM_KEY_HASH (h= excludes sha256) or
 * DKIM_KEY_STRICT (t=s, and i= is at a subdomain of d=). */
enum dkim_reason dkim_key_accepts(const struct dkim_key *key, const struct dkim_sig *sig);

#endif
