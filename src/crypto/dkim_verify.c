/*
 * dkim_verify — see dkim_verify.h. Owns the header copy and, per
 * signature, its parse, body canonicalizer and body hash.
 *
 * The checks run in the order of RFC 6376 6.1: the field itself (6.1.1,
 * done by dkim_sig_parse, then the clock), the key record (6.1.2), then
 * the body hash and the signature over the header data (6.1.3).
 */
#include "crypto/dkim_verify.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "crypto/dkim_pkey.h"
#include "crypto/sha256.h"
#include "proto/dkim_canon.h"
#include "proto/dkim_hdrs.h"
#include "proto/dkim_key.h"

struct dkim_verify_one {
	struct dkim_sig sig;
	enum dkim_reason parsed;
	size_t field;               /* index in hdrs */
	struct dkim_canon_body body;
	struct sha256 *bh;          /* owned; NULL when the field did not parse */
	unsigned char bhash[DKIM_HASH_LEN];
	bool bh_ok;                 /* bhash holds the body hash */
};

struct dkim_verify {
	struct dkim_hdrs hdrs;
	struct dkim_verify_one *sigs[DKIM_SIGS_MAX]; /* owned */
	size_t nsigs, found;
	bool started, finished;
};

struct dkim_verify *dkim_verify_new(void)
{
	struct dkim_verify *v = calloc(1, sizeof *v);
	if (v != NULL)
		dkim_hdrs_init(&v->hdrs);
	return v;
}

void dkim_verify_free(struct dkim_verify *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nsigs; i++) {
		sha256_free(v->sigs[i]->bh);
		free(v->sigs[i]);
	}
	dkim_hdrs_free(&v->hdrs);
	free(v);
}

static void dkim_verify_body_cb(void *ctx, const char *p, size_t n)
{
	sha256_update(ctx, p, n);
}

/* The header section is complete: find and parse the signatures. */
static void dkim_verify_start(struct dkim_verify *v)
{
	v->started = true;
	if (v->hdrs.too_large)
		return;
	static const char name[] = "DKIM-Signature";
	for (size_t i = 0; i < v->hdrs.nf; i++) {
		if (!dkim_hdrs_is(&v->hdrs, i, name, sizeof name - 1))
			continue;
		v->found++;
		if (v->nsigs == DKIM_SIGS_MAX)
			continue;
		struct dkim_verify_one *o = calloc(1, sizeof *o);
		if (o == NULL)
			continue; /* counted in found, not checked */
		size_t flen;
		const char *f = dkim_hdrs_text(&v->hdrs, i, &flen);
		o->field = i;
		o->parsed = dkim_sig_parse(f, flen, &o->sig);
		if (o->parsed == DKIM_OK) {
			o->bh = sha256_new();
			if (o->bh == NULL)
				o->parsed = DKIM_INTERNAL;
			else
				dkim_canon_body_init(&o->body, o->sig.bcanon, o->sig.has_l ? o->sig.l : UINT64_MAX,
				                     dkim_verify_body_cb, o->bh);
		}
		v->sigs[v->nsigs++] = o;
	}
}

void dkim_verify_feed(struct dkim_verify *v, const char *p, size_t n)
{
	if (v->finished)
		return;
	size_t used = dkim_hdrs_feed(&v->hdrs, p, n);
	if (!v->hdrs.done)
		return;
	if (!v->started)
		dkim_verify_start(v);
	for (size_t i = 0; i < v->nsigs && used < n; i++)
		if (v->sigs[i]->bh != NULL)
			dkim_canon_body_feed(&v->sigs[i]->body, p + used, n - used);
}

void dkim_verify_finish(struct dkim_verify *v)
{
	if (v->finished)
		return;
	dkim_hdrs_finish(&v->hdrs);
	if (!v->started)
		dkim_verify_start(v);
	for (size_t i = 0; i < v->nsigs; i++) {
		struct dkim_verify_one *o = v->sigs[i];
		if (o->bh == NULL)
			continue;
		dkim_canon_body_finish(&o->body);
		o->bh_ok = sha256_final(o->bh, o->bhash) == 0;
	}
	v->finished = true;
}

bool dkim_verify_headers_done(const struct dkim_verify *v)
{
	return v->started;
}

const char *dkim_verify_header_section(const struct dkim_verify *v, size_t *len)
{
	*len = v->hdrs.raw.len;
	return v->hdrs.raw.data ? v->hdrs.raw.data : "";
}

bool dkim_verify_too_large(const struct dkim_verify *v)
{
	return v->hdrs.too_large;
}

size_t dkim_verify_found(const struct dkim_verify *v)
{
	return v->found;
}

size_t dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsigs;
}

const struct dkim_sig *dkim_verify_sig(const struct dkim_verify *v, size_t i, enum dkim_reason *parsed)
{
	if (i >= v->nsigs)
		return NULL;
	if (parsed)
		*parsed = v->sigs[i]->parsed;
	return &v->sigs[i]->sig;
}

/* The signature over the header data (RFC 6376 6.1.3, 3.7). */
static enum dkim_reason dkim_verify_header_sig(struct dkim_verify *v, const struct dkim_verify_one *o,
                                               const struct dkim_pkey *pk)
{
	struct buf data;
	buf_init(&data, 2 * DKIM_HEADER_MAX + 2 * DKIM_FIELD_MAX);
	size_t flen;
	const char *f = dkim_hdrs_text(&v->hdrs, o->field, &flen);
	enum dkim_reason r = DKIM_INTERNAL;
	struct sha256 *hh = sha256_new();
	unsigned char digest[DKIM_HASH_LEN];
	if (hh != NULL && dkim_hdrs_signed_data(&v->hdrs, &o->sig, f, flen, &data) == 0) {
		sha256_update(hh, data.data, data.len);
		if (sha256_final(hh, digest) == 0) {
			int ok = dkim_pkey_verify(pk, digest, o->sig.b, o->sig.blen);
			r = ok == 1 ? DKIM_OK : ok == 0 ? DKIM_SIGNATURE_MISMATCH : DKIM_INTERNAL;
		}
	}
	sha256_free(hh);
	buf_free(&data);
	return r;
}

static enum dkim_reason dkim_verify_judge(struct dkim_verify *v, struct dkim_verify_one *o, const char *record,
                                          size_t len, int64_t now, struct dkim_verify_result *res)
{
	if (o->parsed != DKIM_OK)
		return o->parsed;
	enum dkim_reason r = dkim_sig_check_time(&o->sig, now);
	if (r != DKIM_OK)
		return r;
	if (!v->finished || !o->bh_ok)
		return DKIM_INTERNAL;
	if (record == NULL)
		return DKIM_KEY_NOT_FOUND;
	struct dkim_key *key = malloc(sizeof *key);
	if (key == NULL)
		return DKIM_INTERNAL;
	struct dkim_pkey *pk = NULL;
	r = dkim_key_parse(record, len, key);
	if (r == DKIM_OK || r == DKIM_KEY_REVOKED)
		res->testing = key->testing;
	if (r == DKIM_OK)
		r = dkim_key_accepts(key, &o->sig);
	if (r == DKIM_OK)
		r = dkim_pkey_from_record(key, &pk);
	free(key);
	if (r != DKIM_OK)
		return r;
	res->key_bits = dkim_pkey_bits(pk);
	/* 3.5 l=: the count "MUST NOT be larger than the actual number of
	 * octets in the canonicalized message body" */
	if (o->sig.has_l && o->body.total < o->sig.l)
		r = DKIM_BODY_TOO_SHORT;
	else if (memcmp(o->bhash, o->sig.bh, DKIM_HASH_LEN) != 0)
		r = DKIM_BODY_HASH_MISMATCH;
	else
		r = dkim_verify_header_sig(v, o, pk);
	if (r == DKIM_OK && o->sig.has_l)
		res->unsigned_octets = o->body.total - o->sig.l;
	dkim_pkey_free(pk);
	return r;
}

void dkim_verify_check(struct dkim_verify *v, size_t i, const char *record, size_t len, int64_t now,
                       struct dkim_verify_result *res)
{
	memset(res, 0, sizeof *res);
	if (i >= v->nsigs) {
		res->reason = DKIM_INTERNAL;
		res->result = DKIM_RESULT_TEMPERROR;
		return;
	}
	struct dkim_verify_one *o = v->sigs[i];
	memcpy(res->d, o->sig.d, sizeof res->d);
	memcpy(res->s, o->sig.s, sizeof res->s);
	memcpy(res->auid, o->sig.auid, sizeof res->auid);
	res->alg = o->sig.alg;
	res->reason = dkim_verify_judge(v, o, record, len, now, res);
	res->result = dkim_reason_result(res->reason);
}
