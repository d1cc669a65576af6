/*
 * sha256 — see sha256.h. Owns one EVP_MD_CTX per object.
 */
#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>

struct sha256 {
	EVP_MD_CTX *ctx; /* owned */
	bool failed;
};

struct sha256 *sha256_new(void)
{
	struct sha256 *h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		sha256_free(h);
		return NULL;
	}
	return h;
}

void sha256_update(struct sha256 *h, const void *p, size_t n)
{
	if (!h->failed && n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->failed = true;
}

int sha256_final(struct sha256 *h, unsigned char out[SHA256_LEN])
{
	unsigned len = 0;
	bool ok = !h->failed && EVP_DigestFinal_ex(h->ctx, out, &len) == 1 && len == SHA256_LEN;
	h->failed = EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1;
	return ok ? 0 : -1;
}

void sha256_free(struct sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
