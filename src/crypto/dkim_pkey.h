/*
 * dkim_pkey — DKIM's public and private keys over OpenSSL: loading a
 * private key from a PEM file, decoding the key of a DNS key record,
 * signing and checking a SHA-256 digest (RSASSA-PKCS1-v1_5 for
 * rsa-sha256, RFC 6376 3.3.1; Ed25519 over the digest for
 * ed25519-sha256, RFC 8463 3), generating keys, and writing them out
 * (PKCS#8 PEM; the p= value of RFC 6376 3.6.1 and RFC 8463 4).
 *
 * The key type is opaque; nothing of OpenSSL shows in this header.
 */
#ifndef TERN_DKIM_PKEY_H
#define TERN_DKIM_PKEY_H

#include <stddef.h>

#include "base/buf.h"
#include "proto/dkim.h"
#include "proto/dkim_key.h"

#define DKIM_PKEY_FILE_MAX (64 * 1024) /* a PEM private key file; an 8192-bit RSA key is < 7 KiB */

struct dkim_pkey;

/*
 * Load a private key (PEM: PKCS#8, or PKCS#1 "RSA PRIVATE KEY"; not
 * encrypted) for signing. The file must be a regular file, owned by
 * root or by the user running tern, and neither writable by group or
 * others (someone else could swap the key) nor readable by others (the
 * key is a secret; group read is allowed, for a root:tern 0640 file).
 * RSA keys must have 2048 to 4096 bits. 0, or -1 with a message in err
 * that names the file.
 */
int dkim_pkey_load(const char *path, struct dkim_pkey **out, char *err, size_t errlen);

/* The same from PEM text in memory, without the file checks. */
int dkim_pkey_from_pem(const char *pem, size_t n, struct dkim_pkey **out, char *err, size_t errlen);

/*
 * The public key of a parsed key record, for verifying. DKIM_OK,
 * DKIM_KEY_BAD (not a key of its k= type), DKIM_KEY_TOO_SHORT (RSA of
 * less than 1024 bits, RFC 8301 3.2), DKIM_KEY_TOO_LONG, DKIM_INTERNAL.
 */
enum dkim_reason dkim_pkey_from_record(const struct dkim_key *rec, struct dkim_pkey **out);

enum dkim_key_type dkim_pkey_type(const struct dkim_pkey *k);
unsigned dkim_pkey_bits(const struct dkim_pkey *k);

/* Sign a SHA-256 digest. *siglen: room in sig on entry, length on
 * return. 0 / -1. */
int dkim_pkey_sign(const struct dkim_pkey *k, const unsigned char digest[DKIM_HASH_LEN], unsigned char *sig,
                   size_t *siglen);

/* 1: sig is k's signature of digest; 0: it is not; -1: could not tell. */
int dkim_pkey_verify(const struct dkim_pkey *k, const unsigned char digest[DKIM_HASH_LEN], const unsigned char *sig,
                     size_t siglen);

/* A new key: RSA of bits (DKIM_RSA_SIGN_MIN..DKIM_RSA_SIGN_MAX), or
 * Ed25519 (bits ignored). NULL on failure. */
struct dkim_pkey *dkim_pkey_generate(enum dkim_key_type type, unsigned bits);

/* Append the p= value: base64 of the SubjectPublicKeyInfo (RSA) or of
 * the 32 raw octets (Ed25519). 0 / -1. */
int dkim_pkey_public_b64(const struct dkim_pkey *k, struct buf *out);

/* Append the private key as unencrypted PKCS#8 PEM. The caller should
 * wipe the buffer after use. 0 / -1. */
int dkim_pkey_private_pem(const struct dkim_pkey *k, struct buf *out);

void dkim_pkey_free(struct dkim_pkey *k);

#endif
