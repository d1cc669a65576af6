/*
 * dkim_sign — see dkim_sign.h. Owns the header copy, the body
 * canonicalizer and its hash; borrows the keys.
 *
 * The order of RFC 6376 5: body hash (5.3, 3.7), then for each key the
 * field with an empty b= (3.5, 5.4), the signed header data (5.4.2, 3.7)
 * and its hash, the signature (3.3), and the field again with b= filled
 * in. The text before b= is built the same both times (dkim_sig_build),
 * so what was hashed is what is sent.
 */
#include "crypto/dkim_sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sha256.h"
#include "proto/dkim_canon.h"
#include "proto/dkim_hdrs.h"
#include "proto/dkim_sig.h"
#include "proto/dkim_tag.h"

struct dkim_sign {
	struct dkim_hdrs hdrs;
	struct dkim_canon_body body;
	struct sha256 *bh; /* owned */
	struct {
		char d[DKIM_DOMAIN_MAX + 1];
		char s[DKIM_SELECTOR_MAX + 1];
		const struct dkim_pkey *key;
	} keys[DKIM_SIGN_KEYS_MAX];
	size_t nkeys;
	int64_t now;
};

static void dkim_sign_body_cb(void *ctx, const char *p, size_t n)
{
	sha256_update(ctx, p, n);
}

struct dkim_sign *dkim_sign_new(const struct dkim_sign_key *keys, size_t n, int64_t now)
{
	if (n == 0 || n > DKIM_SIGN_KEYS_MAX)
		return NULL;
	struct dkim_sign *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	dkim_hdrs_init(&s->hdrs);
	s->bh = sha256_new();
	if (s->bh == NULL) {
		dkim_sign_free(s);
		return NULL;
	}
	dkim_canon_body_init(&s->body, DKIM_CANON_RELAXED, UINT64_MAX, dkim_sign_body_cb, s->bh);
	for (size_t i = 0; i < n; i++) {
		size_t dl = strlen(keys[i].domain), sl = strlen(keys[i].selector);
		if (keys[i].key == NULL || !dkim_tag_is_domain(keys[i].domain, dl, DKIM_DOMAIN_MAX) ||
		    !dkim_tag_is_domain(keys[i].selector, sl, DKIM_SELECTOR_MAX)) {
			dkim_sign_free(s);
			return NULL;
		}
		memcpy(s->keys[i].d, keys[i].domain, dl + 1);
		memcpy(s->keys[i].s, keys[i].selector, sl + 1);
		s->keys[i].key = keys[i].key;
	}
	s->nkeys = n;
	s->now = now;
	return s;
}

void dkim_sign_feed(struct dkim_sign *s, const char *p, size_t n)
{
	size_t used = dkim_hdrs_feed(&s->hdrs, p, n);
	if (s->hdrs.done && used < n)
		dkim_canon_body_feed(&s->body, p + used, n - used);
}

/* One key's field, appended to out. */
static int dkim_sign_one(struct dkim_sign *s, size_t i, const unsigned char bh[DKIM_HASH_LEN], const char *eol,
                         struct buf *out, char *err, size_t errlen)
{
	struct dkim_sig *sig = calloc(1, sizeof *sig);
	struct buf field, data;
	buf_init(&field, DKIM_FIELD_MAX);
	buf_init(&data, 2 * DKIM_HEADER_MAX + 2 * DKIM_FIELD_MAX);
	struct sha256 *hh = sha256_new();
	int rc = -1;
	enum dkim_alg alg =
	        dkim_pkey_type(s->keys[i].key) == DKIM_KEY_ED25519 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	unsigned char digest[DKIM_HASH_LEN];
	if (sig == NULL || hh == NULL) {
		snprintf(err, errlen, "out of memory");
	} else if (dkim_sig_init_sign(sig, alg, s->keys[i].d, s->keys[i].s, s->now) < 0) {
		snprintf(err, errlen, "bad domain or selector");
	} else if (dkim_hdrs_sign_list(&s->hdrs, sig) < 0) {
		snprintf(err, errlen, "the message has no From field, or too many");
	} else {
		memcpy(sig->bh, bh, DKIM_HASH_LEN);
		size_t blen = sizeof sig->b;
		if (dkim_sig_build(sig, eol, &field) < 0 ||
		    dkim_hdrs_signed_data(&s->hdrs, sig, field.data, field.len, &data) < 0) {
			snprintf(err, errlen, "header section too large");
		} else {
			sha256_update(hh, data.data, data.len);
			if (sha256_final(hh, digest) < 0 || dkim_pkey_sign(s->keys[i].key, digest, sig->b, &blen) < 0) {
				snprintf(err, errlen, "signing failed");
			} else {
				sig->blen = blen;
				buf_reset(&field);
				if (dkim_sig_build(sig, eol, &field) == 0 && buf_append(out, field.data, field.len) == 0 &&
				    buf_puts(out, eol) == 0)
					rc = 0;
				else
					snprintf(err, errlen, "out of memory");
			}
		}
	}
	sha256_free(hh);
	buf_free(&data);
	buf_free(&field);
	free(sig);
	return rc;
}

int dkim_sign_finish(struct dkim_sign *s, const char *eol, struct buf *out, char *err, size_t errlen)
{
	dkim_hdrs_finish(&s->hdrs);
	dkim_canon_body_finish(&s->body);
	if (s->hdrs.too_large) {
		snprintf(err, errlen, "header section too large to sign");
		return -1;
	}
	unsigned char bh[DKIM_HASH_LEN];
	if (sha256_final(s->bh, bh) < 0) {
		snprintf(err, errlen, "hash failed");
		return -1;
	}
	size_t len = out->len;
	for (size_t i = 0; i < s->nkeys; i++)
		if (dkim_sign_one(s, i, bh, eol, out, err, errlen) < 0) {
			out->len = len; /* all signatures or none */
			if (out->data)
				out->data[len] = '\0';
			return -1;
		}
	return 0;
}

void dkim_sign_free(struct dkim_sign *s)
{
	if (s == NULL)
		return;
	dkim_hdrs_free(&s->hdrs);
	sha256_free(s->bh);
	free(s);
}
