/*
 * sha256 — streaming SHA-256 (FIPS 180-4) over OpenSSL, for the DKIM
 * body hash and header hash (RFC 6376 3.7). The only type callers see is
 * opaque, so no OpenSSL header leaks out of src/crypto/.
 */
#ifndef TERN_SHA256_H
#define TERN_SHA256_H

#include <stddef.h>

#define SHA256_LEN 32

struct sha256;

/* NULL when out of memory. */
struct sha256 *sha256_new(void);
/* Once an update fails, the object stays failed and sha256_final says so. */
void sha256_update(struct sha256 *h, const void *p, size_t n);
/* The digest; 0, or -1 if any step failed. The object can be freed or
 * reused (it starts again). */
int sha256_final(struct sha256 *h, unsigned char out[SHA256_LEN]);
void sha256_free(struct sha256 *h);

#endif
