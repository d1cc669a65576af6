/*
 * dkim_sig_build — the DKIM-Signature field tern writes when it signs
 * (RFC 6376 3.5, 5.4). See dkim_sig.h. Writes into the caller's buf;
 * owns nothing.
 *
 * The field is folded where a tag list allows FWS: between tags, around
 * the colons of h=, and anywhere inside base64 (2.4), so that no line is
 * longer than the 78 characters RFC 5322 2.1.1 asks for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "proto/dkim_sig.h"
#include "proto/dkim_tag.h"

#define DKIM_SIG_COLUMNS 78

struct dkim_sig_writer {
	struct buf *out;
	const char *eol;
	size_t col; /* characters on the current line */
	int rc;
};

static void dkim_sig_put(struct dkim_sig_writer *w, const char *s, size_t n)
{
	if (w->rc == 0 && buf_append(w->out, s, n) < 0)
		w->rc = -1;
	w->col += n;
}

/* Fold: the line ends, and the next starts with one SP (the FWS). */
static void dkim_sig_fold(struct dkim_sig_writer *w)
{
	dkim_sig_put(w, w->eol, strlen(w->eol));
	w->col = 0;
	dkim_sig_put(w, " ", 1);
}

/* A piece that may follow a fold; `space`: it is preceded by a blank
 * when it stays on the line (the blank between tags). */
static void dkim_sig_piece(struct dkim_sig_writer *w, const char *s, size_t n, bool space)
{
	if (w->col + (space ? 1 : 0) + n > DKIM_SIG_COLUMNS && w->col > 1)
		dkim_sig_fold(w);
	else if (space)
		dkim_sig_put(w, " ", 1);
	dkim_sig_put(w, s, n);
}

/* Base64 text, broken wherever the line is full. */
static void dkim_sig_base64(struct dkim_sig_writer *w, const char *s, size_t n)
{
	while (n > 0) {
		if (w->col >= DKIM_SIG_COLUMNS)
			dkim_sig_fold(w);
		size_t k = DKIM_SIG_COLUMNS - w->col;
		if (k > n)
			k = n;
		dkim_sig_put(w, s, k);
		s += k;
		n -= k;
	}
}

int dkim_sig_init_sign(struct dkim_sig *sig, enum dkim_alg alg, const char *domain, const char *selector,
                       int64_t now)
{
	memset(sig, 0, sizeof *sig);
	size_t dl = strlen(domain), sl = strlen(selector);
	if (!dkim_tag_is_domain(domain, dl, DKIM_DOMAIN_MAX) || !dkim_tag_is_domain(selector, sl, DKIM_SELECTOR_MAX) ||
	    sl + strlen("._domainkey.") + dl > DKIM_DOMAIN_MAX)
		return -1;
	sig->alg = alg;
	/* relaxed/relaxed: survives the re-folding and re-spacing that
	 * relays and list servers do, which simple does not */
	sig->hcanon = sig->bcanon = DKIM_CANON_RELAXED;
	memcpy(sig->d, domain, dl + 1);
	memcpy(sig->s, selector, sl + 1);
	sig->auid[0] = '@';
	memcpy(sig->auid + 1, domain, dl + 1);
	memcpy(sig->auid_domain, domain, dl + 1);
	sig->has_t = true;
	sig->t = now < 0 ? 0 : (uint64_t)now;
	return 0;
}

static const char *dkim_sig_canon_name(enum dkim_canon_alg c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

int dkim_sig_build(struct dkim_sig *sig, const char *eol, struct buf *out)
{
	struct dkim_sig_writer w = {.out = out, .eol = eol};
	size_t start = out->len;
	char tag[DKIM_DOMAIN_MAX + 64];
	int k;

	dkim_sig_put(&w, "DKIM-Signature:", 15);
	dkim_sig_piece(&w, "v=1;", 4, true);
	k = snprintf(tag, sizeof tag, "a=%s;", dkim_alg_name(sig->alg));
	dkim_sig_piece(&w, tag, (size_t)k, true);
	k = snprintf(tag, sizeof tag, "c=%s/%s;", dkim_sig_canon_name(sig->hcanon), dkim_sig_canon_name(sig->bcanon));
	dkim_sig_piece(&w, tag, (size_t)k, true);
	k = snprintf(tag, sizeof tag, "d=%s;", sig->d);
	dkim_sig_piece(&w, tag, (size_t)k, true);
	k = snprintf(tag, sizeof tag, "s=%s;", sig->s);
	dkim_sig_piece(&w, tag, (size_t)k, true);
	if (sig->has_t) {
		k = snprintf(tag, sizeof tag, "t=%" PRIu64 ";", sig->t);
		dkim_sig_piece(&w, tag, (size_t)k, true);
	}
	if (sig->has_l) { /* never by tern's signer (RFC 6376 8.2); for tests of verifiers */
		k = snprintf(tag, sizeof tag, "l=%" PRIu64 ";", sig->l);
		dkim_sig_piece(&w, tag, (size_t)k, true);
	}
	if (sig->has_x) {
		k = snprintf(tag, sizeof tag, "x=%" PRIu64 ";", sig->x);
		dkim_sig_piece(&w, tag, (size_t)k, true);
	}
	/* h=a:b:c; — each name a piece, so a fold can come after a colon */
	for (size_t i = 0; i < sig->nh; i++) {
		k = snprintf(tag, sizeof tag, "%s%s%s", i == 0 ? "h=" : "", sig->h[i], i + 1 < sig->nh ? ":" : ";");
		dkim_sig_piece(&w, tag, (size_t)k, i == 0);
	}
	char b64[4 * ((DKIM_SIG_B_MAX + 2) / 3) + 1];
	size_t bn = base64_encode(sig->bh, sizeof sig->bh, b64);
	k = snprintf(tag, sizeof tag, "bh=%s;", b64);
	dkim_sig_piece(&w, tag, (size_t)k, true);
	dkim_sig_piece(&w, "b=", 2, true);
	sig->b_start = out->len - start;
	if (sig->blen > 0) {
		bn = base64_encode(sig->b, sig->blen, b64);
		dkim_sig_base64(&w, b64, bn);
	}
	sig->b_end = out->len - start;
	return w.rc;
}
