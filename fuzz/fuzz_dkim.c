/*
 * fuzz_dkim — libFuzzer target for the pure DKIM modules of proto/: the
 * tag-list (RFC 6376 3.2), the DKIM-Signature field (3.5), the key
 * record (3.6.1), the canonicalizations (3.4) and the header section
 * split (dkim_hdrs).
 *
 * Byte 0 picks the target (mod 5); the rest is its input. Besides
 * memory safety:
 * - tags: every tag lies inside the input, no name twice;
 * - signature: an accepted field has d=, s=, a From in h= and a b= span
 *   inside the field; built again by dkim_sig_build it parses back to
 *   the same values;
 * - key record: a revoked key has no octets, an accepted one some;
 * - body: the canonical form does not depend on how the body is cut into
 *   pieces, nor on CRLF against LF, and canonicalizing it again changes
 *   nothing; an l= limit passes exactly a prefix;
 * - header fields: relaxed canonicalization is idempotent; the header
 *   section splits the same fed whole or one octet at a time.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dkim_canon.h"
#include "proto/dkim_hdrs.h"
#include "proto/dkim_key.h"
#include "proto/dkim_sig.h"
#include "proto/dkim_tag.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

static void fuzz_tags(const char *p, size_t n)
{
	struct dkim_tags t;
	if (dkim_tag_parse(p, n, &t) != DKIM_TAG_OK)
		return;
	FUZZ_CHECK(t.n >= 1 && t.n <= DKIM_TAG_MAX);
	for (size_t i = 0; i < t.n; i++) {
		const struct dkim_tag *g = &t.t[i];
		FUZZ_CHECK(g->name >= p && g->name + g->name_len <= p + n && g->name_len > 0);
		FUZZ_CHECK(g->value >= p && g->value + g->value_len <= p + n);
		FUZZ_CHECK(g->raw_start <= g->raw_end && g->raw_end <= n);
		FUZZ_CHECK(g->raw_end == n || p[g->raw_end] == ';');
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(t.t[j].name_len != g->name_len || memcmp(t.t[j].name, g->name, g->name_len) != 0);
	}
	unsigned char out[256];
	long k = dkim_tag_base64(t.t[0].value, t.t[0].value_len, out, sizeof out);
	FUZZ_CHECK(k >= -1 && k <= (long)sizeof out);
}

static void fuzz_sig(const char *p, size_t n)
{
	static const char name[] = "DKIM-Signature:";
	char *f = malloc(sizeof name - 1 + n);
	FUZZ_CHECK(f != NULL);
	memcpy(f, name, sizeof name - 1);
	memcpy(f + sizeof name - 1, p, n);
	size_t fn = sizeof name - 1 + n;
	struct dkim_sig *sig = malloc(sizeof *sig), *back = malloc(sizeof *back);
	FUZZ_CHECK(sig && back);
	if (dkim_sig_parse(f, fn, sig) == DKIM_OK) {
		FUZZ_CHECK(sig->d[0] && sig->s[0] && sig->nh >= 1 && sig->blen >= 1);
		FUZZ_CHECK(sig->b_start <= sig->b_end && sig->b_end <= fn);
		FUZZ_CHECK(sig->auid_domain[0] != '\0');
		bool from = false;
		for (size_t i = 0; i < sig->nh; i++)
			from |= strcasecmp(sig->h[i], "from") == 0;
		FUZZ_CHECK(from);
		(void)dkim_sig_check_time(sig, 1796300000);
		/* build it again; it must read back the same */
		struct buf b;
		buf_init(&b, 0);
		FUZZ_CHECK(dkim_sig_build(sig, "\r\n", &b) == 0);
		FUZZ_CHECK(dkim_sig_parse(b.data, b.len, back) == DKIM_OK);
		FUZZ_CHECK(back->alg == sig->alg && back->hcanon == sig->hcanon && back->bcanon == sig->bcanon);
		FUZZ_CHECK(strcmp(back->d, sig->d) == 0 && strcmp(back->s, sig->s) == 0 && back->nh == sig->nh);
		for (size_t i = 0; i < sig->nh; i++)
			FUZZ_CHECK(strcmp(back->h[i], sig->h[i]) == 0);
		FUZZ_CHECK(memcmp(back->bh, sig->bh, DKIM_HASH_LEN) == 0);
		FUZZ_CHECK(back->blen == sig->blen && memcmp(back->b, sig->b, sig->blen) == 0);
		FUZZ_CHECK(back->has_t == sig->has_t && (!sig->has_t || back->t == sig->t));
		FUZZ_CHECK(back->has_x == sig->has_x && (!sig->has_x || back->x == sig->x));
		FUZZ_CHECK(back->has_l == sig->has_l && (!sig->has_l || back->l == sig->l));
		FUZZ_CHECK(back->b_end == b.len);
		buf_free(&b);
	}
	free(back);
	free(sig);
	free(f);
}

static void fuzz_key(const char *p, size_t n)
{
	struct dkim_key *k = malloc(sizeof *k);
	FUZZ_CHECK(k != NULL);
	enum dkim_reason r = dkim_key_parse(p, n, k);
	if (r == DKIM_OK)
		FUZZ_CHECK(k->plen >= 1 && k->plen <= DKIM_KEY_P_MAX);
	if (r == DKIM_KEY_REVOKED)
		FUZZ_CHECK(k->plen == 0);
	free(k);
}

static void fuzz_sink(void *ctx, const char *p, size_t n)
{
	FUZZ_CHECK(buf_append(ctx, p, n) == 0);
}

static void fuzz_body_canon(enum dkim_canon_alg alg, const char *p, size_t n, size_t cut, uint64_t limit,
                            struct buf *out)
{
	struct dkim_canon_body b;
	buf_reset(out);
	dkim_canon_body_init(&b, alg, limit, fuzz_sink, out);
	if (cut > n)
		cut = n;
	dkim_canon_body_feed(&b, p, cut);
	/* the rest in pieces of 1, 2, 3... octets */
	for (size_t i = cut, k = 1; i < n; i += k, k++)
		dkim_canon_body_feed(&b, p + i, n - i < k ? n - i : k);
	dkim_canon_body_finish(&b);
	FUZZ_CHECK(out->len == (b.total < limit ? b.total : limit));
}

static void fuzz_canon(const char *p, size_t n, unsigned sel)
{
	enum dkim_canon_alg alg = (sel & 1) ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	struct buf whole, cut, again, lfb, hdr, hdr2;
	buf_init(&whole, 0);
	buf_init(&cut, 0);
	buf_init(&again, 0);
	buf_init(&lfb, 0);
	buf_init(&hdr, 0);
	buf_init(&hdr2, 0);
	fuzz_body_canon(alg, p, n, n, UINT64_MAX, &whole);
	fuzz_body_canon(alg, p, n, sel % (n + 1), UINT64_MAX, &cut);
	FUZZ_CHECK(whole.len == cut.len && memcmp(whole.data, cut.data, whole.len) == 0);
	/* the LF form: every CRLF made a bare LF. Only where no CR stands
	 * alone: "\r\r\n" would become "\r\n", another text, in any LF store. */
	bool lone_cr = false;
	for (size_t i = 0; i < n; i++) {
		if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			FUZZ_CHECK(buf_putc(&lfb, p[i]) == 0);
		lone_cr |= p[i] == '\r' && !(i + 1 < n && p[i + 1] == '\n');
	}
	if (!lone_cr) {
		fuzz_body_canon(alg, lfb.data ? lfb.data : "", lfb.len, sel % 7, UINT64_MAX, &cut);
		FUZZ_CHECK(whole.len == cut.len && memcmp(whole.data, cut.data, whole.len) == 0);
	}
	/* canonical already */
	fuzz_body_canon(alg, whole.data ? whole.data : "", whole.len, whole.len / 2, UINT64_MAX, &again);
	FUZZ_CHECK(whole.len == again.len && memcmp(whole.data, again.data, whole.len) == 0);
	/* l= passes a prefix */
	uint64_t limit = sel % (whole.len + 2);
	fuzz_body_canon(alg, p, n, sel % 5, limit, &cut);
	FUZZ_CHECK(cut.len <= whole.len && memcmp(whole.data, cut.data, cut.len) == 0);

	/* one header field: relaxed twice is relaxed once */
	if (dkim_canon_header(DKIM_CANON_RELAXED, p, n, &hdr) == 0) {
		FUZZ_CHECK(hdr.len >= 2 && memcmp(hdr.data + hdr.len - 2, "\r\n", 2) == 0);
		if (memchr(p, ':', n) != NULL) {
			FUZZ_CHECK(dkim_canon_header(DKIM_CANON_RELAXED, hdr.data, hdr.len, &hdr2) == 0);
			FUZZ_CHECK(hdr.len == hdr2.len && memcmp(hdr.data, hdr2.data, hdr.len) == 0);
		}
	}
	buf_reset(&hdr);
	FUZZ_CHECK(dkim_canon_header(DKIM_CANON_SIMPLE, p, n, &hdr) == 0);
	buf_free(&whole);
	buf_free(&cut);
	buf_free(&again);
	buf_free(&lfb);
	buf_free(&hdr);
	buf_free(&hdr2);
}

static void fuzz_hdrs(const char *p, size_t n)
{
	struct dkim_hdrs a, b;
	dkim_hdrs_init(&a);
	dkim_hdrs_init(&b);
	size_t ua = dkim_hdrs_feed(&a, p, n), ub = 0;
	for (size_t i = 0; i < n && !b.done; i++)
		ub += dkim_hdrs_feed(&b, p + i, 1);
	dkim_hdrs_finish(&a);
	dkim_hdrs_finish(&b);
	FUZZ_CHECK(ua == ub && a.nf == b.nf);
	for (size_t i = 0; i < a.nf; i++) {
		FUZZ_CHECK(a.f[i].off == b.f[i].off && a.f[i].len == b.f[i].len);
		FUZZ_CHECK(a.f[i].off + a.f[i].len <= ua && a.f[i].name_len <= a.f[i].len);
	}
	/* a signature over whatever fields there are builds its data */
	struct dkim_sig *sig = calloc(1, sizeof *sig);
	FUZZ_CHECK(sig != NULL);
	if (dkim_hdrs_sign_list(&a, sig) == 0) {
		struct buf out, field;
		buf_init(&out, 0);
		buf_init(&field, 0);
		FUZZ_CHECK(dkim_sig_init_sign(sig, DKIM_ALG_RSA_SHA256, "example.org", "s", 0) == 0);
		FUZZ_CHECK(dkim_hdrs_sign_list(&a, sig) == 0);
		FUZZ_CHECK(dkim_sig_build(sig, "\n", &field) == 0);
		FUZZ_CHECK(dkim_hdrs_signed_data(&a, sig, field.data, field.len, &out) == 0);
		buf_free(&out);
		buf_free(&field);
	}
	free(sig);
	dkim_hdrs_free(&a);
	dkim_hdrs_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	size_t n = size - 1;
	char *p = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	FUZZ_CHECK(p != NULL);
	memcpy(p, data + 1, n);
	switch (sel % 5) {
	case 0: fuzz_tags(p, n); break;
	case 1: fuzz_sig(p, n); break;
	case 2: fuzz_key(p, n); break;
	case 3: fuzz_canon(p, n, sel / 5); break;
	default: fuzz_hdrs(p, n); break;
	}
	free(p);
	return 0;
}
