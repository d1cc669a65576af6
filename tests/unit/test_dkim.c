/*
 * test_dkim — DKIM (RFC 6376, RFC 8301, RFC 8463): the canonicalization
 * examples of RFC 6376 3.4.5 and the body streamed in every split, the
 * tag-list grammar of 3.2 at its edges, the DKIM-Signature and key record
 * checks, the bottom-up header selection of 5.4.2, and signing then
 * verifying with RSA and Ed25519 keys made here: round trips over CRLF
 * and LF messages, tampering, oversigning, the clock, and key files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/dkim_pkey.h"
#include "crypto/dkim_sign.h"
#include "crypto/dkim_verify.h"
#include "crypto/sha256.h"
#include "proto/dkim_canon.h"
#include "proto/dkim_hdrs.h"
#include "proto/dkim_key.h"
#include "proto/dkim_sig.h"
#include "proto/dkim_tag.h"

#define NOW 1796300000

/* ---- canonicalization ---- */

static void hash_cb(void *ctx, const char *p, size_t n)
{
	sha256_update(ctx, p, n);
}

static void sink_cb(void *ctx, const char *p, size_t n)
{
	assert_int_equal(buf_append(ctx, p, n), 0);
}

/* The body canonicalized in pieces of `piece` octets (0: whole). */
static void canon_body(enum dkim_canon_alg alg, const char *in, size_t piece, uint64_t limit, struct buf *out)
{
	struct dkim_canon_body b;
	buf_reset(out);
	dkim_canon_body_init(&b, alg, limit, sink_cb, out);
	size_t n = strlen(in);
	if (piece == 0)
		piece = n ? n : 1;
	for (size_t i = 0; i < n; i += piece)
		dkim_canon_body_feed(&b, in + i, n - i < piece ? n - i : piece);
	dkim_canon_body_finish(&b);
	assert_int_equal(b.total >= out->len, 1);
}

static void expect_body(enum dkim_canon_alg alg, const char *in, const char *want)
{
	struct buf out;
	buf_init(&out, 0);
	for (size_t piece = 0; piece <= strlen(in) + 1; piece++) {
		canon_body(alg, in, piece, UINT64_MAX, &out);
		assert_int_equal(out.len, strlen(want));
		assert_memory_equal(out.data ? out.data : "", want, out.len);
	}
	buf_free(&out);
}

static void expect_header(enum dkim_canon_alg alg, const char *in, const char *want)
{
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_canon_header(alg, in, strlen(in), &out), 0);
	assert_string_equal(out.data, want);
	buf_free(&out);
}

/* RFC 6376 3.4.5, both halves of the example. */
static void test_rfc_example(void **state)
{
	(void)state;
	expect_header(DKIM_CANON_RELAXED, "A: X\r\n", "a:X\r\n");
	expect_header(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	expect_body(DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	expect_header(DKIM_CANON_SIMPLE, "A: X\r\n", "A: X\r\n");
	expect_header(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  \r\n");
	expect_body(DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n");
}

static void test_canon_lf_and_edges(void **state)
{
	(void)state;
	/* stored with LF: the same as the CRLF form */
	expect_header(DKIM_CANON_SIMPLE, "B : Y\t\n\tZ  \n", "B : Y\t\r\n\tZ  \r\n");
	expect_header(DKIM_CANON_RELAXED, "B : Y\t\n\tZ  ", "b:Y Z\r\n");
	expect_header(DKIM_CANON_RELAXED, "SUBJect:   \t ", "subject:\r\n");
	expect_body(DKIM_CANON_RELAXED, " C \nD \t E\n\n\n", " C\r\nD E\r\n");
	expect_body(DKIM_CANON_SIMPLE, " C \nD \t E\n\n\n", " C \r\nD \t E\r\n");
	/* empty bodies: simple is one CRLF, relaxed nothing (3.4.3, 3.4.4) */
	expect_body(DKIM_CANON_SIMPLE, "", "\r\n");
	expect_body(DKIM_CANON_SIMPLE, "\r\n\r\n\n", "\r\n");
	expect_body(DKIM_CANON_RELAXED, "", "");
	expect_body(DKIM_CANON_RELAXED, "  \r\n\t\n \n", "");
	/* no line end at the end: one is added */
	expect_body(DKIM_CANON_SIMPLE, "abc", "abc\r\n");
	expect_body(DKIM_CANON_RELAXED, "abc  ", "abc\r\n");
	/* empty lines inside count; a line of blanks is empty in relaxed */
	expect_body(DKIM_CANON_RELAXED, "a\n \n\nb\n\n", "a\r\n\r\n\r\nb\r\n");
	expect_body(DKIM_CANON_SIMPLE, "a\n \n\nb\n\n", "a\r\n \r\n\r\nb\r\n");
	/* a bare CR is text */
	expect_body(DKIM_CANON_SIMPLE, "a\rb\r", "a\rb\r\r\n");
	expect_body(DKIM_CANON_RELAXED, "a \r b\r\r\n", "a \r b\r\r\n");
}

static void test_canon_limit(void **state)
{
	(void)state;
	struct buf out;
	buf_init(&out, 0);
	canon_body(DKIM_CANON_RELAXED, "hello  world\n\nbye\n\n", 3, 8, &out);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.data, "hello wo", 8);
	buf_free(&out);
}

/* ---- tag lists ---- */

static void test_tag_list(void **state)
{
	(void)state;
	struct dkim_tags t;
	const char *s = "v=1; a = rsa-sha256 ;\r\n\tb=ab cd\r\n ef; z=;";
	assert_int_equal(dkim_tag_parse(s, strlen(s), &t), DKIM_TAG_OK);
	assert_int_equal(t.n, 4);
	assert_true(dkim_tag_is(dkim_tag_find(&t, "a"), "rsa-sha256"));
	const struct dkim_tag *b = dkim_tag_find(&t, "b");
	assert_int_equal(b->value_len, strlen("ab cd\r\n ef"));
	assert_int_equal(dkim_tag_find(&t, "z")->value_len, 0);
	assert_null(dkim_tag_find(&t, "A")); /* names are case-sensitive */
	const char *ok[] = {"a=b", "a=b;", "a=b; ", " a=b ;c=d", "k_1=x=y", "a=\r\n b"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(dkim_tag_parse(ok[i], strlen(ok[i]), &t), DKIM_TAG_OK);
	const char *bad[] = {"", " ", "a", "=b", "1a=b", "a=b;;c=d", "a=b c;d", "a=b\r\nc=d", "a=\x01", "a=\xc3\xa9",
	                     ";", "a-b=c", "a=b\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(dkim_tag_parse(bad[i], strlen(bad[i]), &t), DKIM_TAG_SYNTAX);
	assert_int_equal(dkim_tag_parse("a=1; b=2; a=3", 13, &t), DKIM_TAG_DUPLICATE);
	unsigned char out[16];
	assert_int_equal(dkim_tag_base64(" aGVs\r\n bG8=", 12, out, sizeof out), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(dkim_tag_base64("aGVsbG8", 7, out, sizeof out), -1);
	assert_int_equal(dkim_tag_base64("   ", 3, out, sizeof out), -1);
}

/* ---- DKIM-Signature fields ---- */

#define BH "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define B  "b=dGVzdA=="

static enum dkim_reason parse(const char *f, struct dkim_sig *sig)
{
	return dkim_sig_parse(f, strlen(f), sig);
}

static void test_sig_parse(void **state)
{
	(void)state;
	struct dkim_sig *sig = malloc(sizeof *sig);
	const char *f = "DKIM-Signature: v=1; a=rsa-sha256; d=Example.ORG; s=sel;\r\n"
	                " c=relaxed; h=From : To:\r\n\tsubject; i=joe@mail.example.org; l=12;\r\n"
	                " t=1000; x=2000; q=dns/txt; " BH "; b=dGVz\r\n dA==";
	assert_int_equal(parse(f, sig), DKIM_OK);
	assert_int_equal(sig->alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(sig->hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(sig->bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(sig->d, "Example.ORG");
	assert_int_equal(sig->nh, 3);
	assert_string_equal(sig->h[0], "From");
	assert_string_equal(sig->h[2], "subject");
	assert_string_equal(sig->auid_domain, "mail.example.org");
	assert_true(sig->has_l && sig->l == 12 && sig->t == 1000 && sig->x == 2000);
	assert_int_equal(sig->blen, 4);
	assert_memory_equal(f + sig->b_start, "dGVz\r\n dA==", sig->b_end - sig->b_start);
	assert_int_equal(dkim_sig_check_time(sig, 1500), DKIM_OK);
	assert_int_equal(dkim_sig_check_time(sig, 2000), DKIM_OK);
	assert_int_equal(dkim_sig_check_time(sig, 2001), DKIM_SIG_EXPIRED);
	assert_int_equal(dkim_sig_check_time(sig, 1000 - DKIM_CLOCK_SKEW - 1), DKIM_SIG_FUTURE);
	assert_int_equal(dkim_sig_check_time(sig, 1000 - DKIM_CLOCK_SKEW), DKIM_OK);

	static const struct {
		const char *f;
		enum dkim_reason r;
	} cases[] = {
	        {"DKIM-Signature: a=rsa-sha256; d=a.b; s=s; h=from; " BH "; " B, DKIM_SIG_MISSING_TAG},
	        {"DKIM-Signature: v=2; a=rsa-sha256; d=a.b; s=s; h=from; " BH "; " B, DKIM_SIG_VERSION},
	        {"DKIM-Signature: v=1; a=rsa-sha1; d=a.b; s=s; h=from; " BH "; " B, DKIM_SIG_SHA1},
	        {"DKIM-Signature: v=1; a=dsa-sha256; d=a.b; s=s; h=from; " BH "; " B, DKIM_SIG_ALGORITHM},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=to:subject; " BH "; " B, DKIM_SIG_FROM_UNSIGNED},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from::to; " BH "; " B, DKIM_SIG_HEADER_LIST},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=@b; " BH "; " B, DKIM_SIG_AUID_DOMAIN},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=@xa.b; " BH "; " B, DKIM_SIG_AUID_DOMAIN},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=x@y.A.B; " BH "; " B, DKIM_OK},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=nobody; " BH "; " B, DKIM_SIG_AUID},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; t=5; x=5; " BH "; " B, DKIM_SIG_EXPIRY_ORDER},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; t=-5; " BH "; " B, DKIM_SIG_NUMBER},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; t=1234567890123; " BH "; " B, DKIM_SIG_NUMBER},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; c=loose; " BH "; " B, DKIM_SIG_CANON},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; q=http; " BH "; " B, DKIM_SIG_QUERY},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=AAAA; " B, DKIM_SIG_BASE64},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; " BH "; b=", DKIM_SIG_BASE64},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; " BH "; b=*", DKIM_SIG_BASE64},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a..b; s=s; h=from; " BH "; " B, DKIM_SIG_DOMAIN},
	        {"DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s!; h=from; " BH "; " B, DKIM_SIG_SELECTOR},
	        {"DKIM-Signature: v=1; v=1; a=rsa-sha256; d=a.b; s=s; h=from; " BH "; " B, DKIM_SIG_DUPLICATE_TAG},
	        {"DKIM-Signature: v=1; a=rsa-sha256;; d=a.b; s=s; h=from; " BH "; " B, DKIM_SIG_SYNTAX},
	        {"DKIM-Signature v=1", DKIM_SIG_SYNTAX},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum dkim_reason r = parse(cases[i].f, sig);
		if (r != cases[i].r)
			fail_msg("case %zu: got %d (%s), want %d", i, r, dkim_reason_text(r), cases[i].r);
	}
	/* a refused signature still names its domain and selector */
	assert_int_equal(parse("DKIM-Signature: v=1; a=rsa-sha1; d=a.b; s=s; h=from; " BH "; " B, sig), DKIM_SIG_SHA1);
	assert_string_equal(sig->d, "a.b");
	assert_string_equal(sig->s, "s");
	free(sig);
}

/* ---- key records ---- */

#define ED_P "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

static void test_key_parse(void **state)
{
	(void)state;
	struct dkim_key *k = malloc(sizeof *k);
	struct dkim_sig *sig = malloc(sizeof *sig);
	const char *r = "v=DKIM1; k=ed25519; t=y:s:q; " ED_P;
	assert_int_equal(dkim_key_parse(r, strlen(r), k), DKIM_OK);
	assert_int_equal(k->type, DKIM_KEY_ED25519);
	assert_true(k->testing && k->strict && k->sha256);
	assert_int_equal(k->plen, 32);
	static const struct {
		const char *r;
		enum dkim_reason want;
	} cases[] = {
	        {"p=", DKIM_KEY_REVOKED},
	        {"v=DKIM1; p=", DKIM_KEY_REVOKED},
	        {"k=rsa; v=DKIM1; " ED_P, DKIM_KEY_VERSION},
	        {"v=DKIM2; " ED_P, DKIM_KEY_VERSION},
	        {"k=dsa; " ED_P, DKIM_KEY_TYPE},
	        {"s=email:other; " ED_P, DKIM_OK},
	        {"s=*; " ED_P, DKIM_OK},
	        {"s=other; " ED_P, DKIM_KEY_SERVICE},
	        {"k=rsa", DKIM_KEY_MISSING},
	        {"p=!!!!", DKIM_KEY_BASE64},
	        {"p=a; p=b", DKIM_KEY_DUPLICATE_TAG},
	        {"p=abc;;", DKIM_KEY_SYNTAX},
	        {"", DKIM_KEY_SYNTAX},
	        {"g=*; n=notes here; x=unknown; " ED_P "; ", DKIM_OK},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum dkim_reason got = dkim_key_parse(cases[i].r, strlen(cases[i].r), k);
		if (got != cases[i].want)
			fail_msg("case %zu: got %s", i, dkim_reason_text(got));
	}
	/* h=sha1 only: no good for rsa-sha256; t=s: i= at a subdomain refused */
	const char *f = "DKIM-Signature: v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=@x.a.b; " BH "; " B;
	assert_int_equal(parse(f, sig), DKIM_OK);
	assert_int_equal(dkim_key_parse("h=sha1; p=AAAA", 14, k), DKIM_OK);
	assert_int_equal(dkim_key_accepts(k, sig), DKIM_KEY_HASH);
	assert_int_equal(dkim_key_parse("h=sha1:sha256; t=s; p=AAAA", 26, k), DKIM_OK);
	assert_int_equal(dkim_key_accepts(k, sig), DKIM_KEY_STRICT);
	assert_int_equal(dkim_key_parse("k=ed25519; p=AAAA", 17, k), DKIM_OK);
	assert_int_equal(dkim_key_accepts(k, sig), DKIM_KEY_ALG_MISMATCH);
	free(k);
	free(sig);
}

/* ---- header selection ---- */

static void test_header_selection(void **state)
{
	(void)state;
	const char *msg = "X: 1\nFrom: a@b\nX: 2\n  two\nY: y\nX: 3\n\nbody\n";
	struct dkim_hdrs h;
	dkim_hdrs_init(&h);
	size_t used = 0, n = strlen(msg);
	for (size_t i = 0; i < n && !h.done; i++) /* one octet at a time */
		used += dkim_hdrs_feed(&h, msg + i, 1);
	assert_true(h.done);
	assert_int_equal(used, strlen(msg) - strlen("body\n"));
	assert_int_equal(h.nf, 5);
	assert_int_equal(dkim_hdrs_count(&h, "x"), 3);
	struct dkim_sig *sig = calloc(1, sizeof *sig);
	sig->hcanon = DKIM_CANON_RELAXED;
	const char *names[] = {"x", "from", "X", "z", "x", "x"};
	for (size_t i = 0; i < 6; i++)
		strcpy(sig->h[sig->nh++], names[i]);
	const char *sf = "DKIM-Signature: a=1; b=zzz";
	sig->b_start = strlen(sf) - 3;
	sig->b_end = strlen(sf);
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(dkim_hdrs_signed_data(&h, sig, sf, strlen(sf), &out), 0);
	/* bottom-up: X: 3, then X: 2, then X: 1; z and the fourth x add nothing */
	assert_string_equal(out.data, "x:3\r\nfrom:a@b\r\nx:2 two\r\nx:1\r\ndkim-signature:a=1; b=");
	buf_free(&out);
	free(sig);
	dkim_hdrs_free(&h);
}

/* ---- sign and verify ---- */

struct keys {
	struct dkim_pkey *rsa, *ed;
	char rsa_rec[1024], ed_rec[128];
};

static void record_of(const struct dkim_pkey *k, const char *type, char *out, size_t outlen)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "v=DKIM1; k=%s; p=", type), 0);
	assert_int_equal(dkim_pkey_public_b64(k, &b), 0);
	assert_true(b.len < outlen);
	memcpy(out, b.data, b.len + 1);
	buf_free(&b);
}

static int setup_keys(void **state)
{
	struct keys *k = calloc(1, sizeof *k);
	k->rsa = dkim_pkey_generate(DKIM_KEY_RSA, 2048);
	k->ed = dkim_pkey_generate(DKIM_KEY_ED25519, 0);
	if (k->rsa == NULL || k->ed == NULL)
		return -1;
	record_of(k->rsa, "rsa", k->rsa_rec, sizeof k->rsa_rec);
	record_of(k->ed, "ed25519", k->ed_rec, sizeof k->ed_rec);
	*state = k;
	return 0;
}

static int teardown_keys(void **state)
{
	struct keys *k = *state;
	dkim_pkey_free(k->rsa);
	dkim_pkey_free(k->ed);
	free(k);
	return 0;
}

/* Sign msg with key; returns the signed message (fields + msg), owned. */
static char *sign_msg(const struct dkim_pkey *key, const char *msg, const char *eol, size_t piece)
{
	struct dkim_sign_key sk = {.domain = "example.org", .selector = "sel", .key = key};
	struct dkim_sign *s = dkim_sign_new(&sk, 1, NOW);
	assert_non_null(s);
	size_t n = strlen(msg);
	if (piece == 0)
		piece = n ? n : 1;
	for (size_t i = 0; i < n; i += piece)
		dkim_sign_feed(s, msg + i, n - i < piece ? n - i : piece);
	struct buf out;
	buf_init(&out, 0);
	char err[128];
	if (dkim_sign_finish(s, eol, &out, err, sizeof err) < 0) {
		dkim_sign_free(s);
		buf_free(&out);
		return NULL;
	}
	dkim_sign_free(s);
	/* every line of the field fits in 78 columns */
	for (const char *p = out.data; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
		assert_true(len <= 78);
		p = nl + 1;
	}
	assert_int_equal(buf_puts(&out, msg), 0);
	return out.data;
}

/* Verify the first signature of msg with record, fed in pieces. */
static enum dkim_reason verify_msg(const char *msg, const char *record, int64_t now, size_t piece)
{
	struct dkim_verify *v = dkim_verify_new();
	size_t n = strlen(msg);
	if (piece == 0)
		piece = n;
	for (size_t i = 0; i < n; i += piece)
		dkim_verify_feed(v, msg + i, n - i < piece ? n - i : piece);
	dkim_verify_finish(v);
	assert_true(dkim_verify_count(v) >= 1);
	struct dkim_verify_result res;
	dkim_verify_check(v, 0, record, strlen(record), now, &res);
	assert_int_equal(res.result, dkim_reason_result(res.reason));
	dkim_verify_free(v);
	return res.reason;
}

static const char *msg_crlf = "From: Alice <alice@example.org>\r\n"
                              "To: bob@example.com\r\n"
                              "Subject: a folded\r\n"
                              "  subject line\r\n"
                              "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
                              "X-Unsigned: 1\r\n"
                              "\r\n"
                              "Hello  there \r\n"
                              "\r\n"
                              "bye\r\n"
                              "\r\n\r\n";

static char *lf_of(const char *s)
{
	char *o = malloc(strlen(s) + 1), *q = o;
	for (; *s; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*q++ = *s;
	*q = '\0';
	return o;
}

/* Replace the first `from` in s with `to` (a fresh string). */
static char *edit(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	assert_non_null(at);
	size_t a = (size_t)(at - s);
	char *o = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	memcpy(o, s, a);
	strcpy(o + a, to);
	strcat(o + a, at + strlen(from));
	return o;
}

static void round_trip(const struct dkim_pkey *key, const char *rec)
{
	char *lf = lf_of(msg_crlf);
	const char *forms[] = {msg_crlf, lf};
	for (size_t f = 0; f < 2; f++) {
		for (size_t piece = 0; piece < 8; piece += 3) {
			char *signed_msg = sign_msg(key, forms[f], f == 0 ? "\r\n" : "\n", piece);
			assert_non_null(signed_msg);
			assert_int_equal(verify_msg(signed_msg, rec, NOW + 10, piece), DKIM_OK);
			/* the other line ends: the same message to DKIM */
			char *other = f == 0 ? lf_of(signed_msg) : NULL;
			if (other)
				assert_int_equal(verify_msg(other, rec, NOW, 1), DKIM_OK);
			free(other);
			free(signed_msg);
		}
	}
	free(lf);

	char *sm = sign_msg(key, msg_crlf, "\r\n", 0);
	char *t;
	/* body tampered */
	t = edit(sm, "bye", "bye!");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_BODY_HASH_MISMATCH);
	free(t);
	/* trailing empty lines and blank changes do not matter to relaxed */
	t = edit(sm, "Hello  there \r\n", "Hello there\t\r\n");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_OK);
	free(t);
	/* a signed header changed, or re-folded (fine in relaxed) */
	t = edit(sm, "To: bob@", "To: eve@");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_SIGNATURE_MISMATCH);
	free(t);
	t = edit(sm, "Subject: a folded\r\n  subject", "Subject:   a folded subject");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_OK);
	free(t);
	/* oversigning: a second From, or a Cc the message lacked, breaks it */
	t = edit(sm, "From: Alice", "From: Mallory <m@evil.test>\r\nFrom: Alice");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_SIGNATURE_MISMATCH);
	free(t);
	t = edit(sm, "X-Unsigned", "Cc: eve@evil.test\r\nX-Unsigned");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_SIGNATURE_MISMATCH);
	free(t);
	/* an unsigned field may change or be added */
	t = edit(sm, "X-Unsigned: 1", "X-Unsigned: 2\r\nX-New: 3");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_OK);
	free(t);
	/* the clock: a t= far in the future is not trusted yet */
	assert_int_equal(verify_msg(sm, rec, NOW - 3600, 0), DKIM_SIG_FUTURE);
	/* the signature itself tampered */
	t = edit(sm, "s=sel;", "s=sel; ");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_OK); /* relaxed: blanks do not count */
	free(t);
	t = edit(sm, "t=", "x=1796400000; t=");
	assert_int_equal(verify_msg(t, rec, NOW, 0), DKIM_SIGNATURE_MISMATCH);
	free(t);
	free(sm);
}

static void test_round_trip_rsa(void **state)
{
	struct keys *k = *state;
	round_trip(k->rsa, k->rsa_rec);
}

static void test_round_trip_ed25519(void **state)
{
	struct keys *k = *state;
	round_trip(k->ed, k->ed_rec);
}

static void test_verify_keys(void **state)
{
	struct keys *k = *state;
	char *sm = sign_msg(k->rsa, msg_crlf, "\r\n", 0);
	assert_int_equal(verify_msg(sm, k->ed_rec, NOW, 0), DKIM_KEY_ALG_MISMATCH);
	assert_int_equal(verify_msg(sm, "v=DKIM1; k=rsa; p=", NOW, 0), DKIM_KEY_REVOKED);
	assert_int_equal(verify_msg(sm, "v=DKIM1; p=AAAA", NOW, 0), DKIM_KEY_BAD);
	/* 512 bits: below RFC 8301's 1024 */
	assert_int_equal(verify_msg(sm,
	                            "p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALYbKVYEiS63Ipx0NVBCRDS0aQZdLYATtfEtRy6FNWH/"
	                            "bRdMpqC784LeRjkrGLOGmDLgiasHZGPBChUSvTs+T5ECAwEAAQ==",
	                            NOW, 0),
	                 DKIM_KEY_TOO_SHORT);
	/* another RSA key of the right size: the signature does not hold */
	struct dkim_pkey *other = dkim_pkey_generate(DKIM_KEY_RSA, 2048);
	char rec[1024];
	record_of(other, "rsa", rec, sizeof rec);
	assert_int_equal(verify_msg(sm, rec, NOW, 0), DKIM_SIGNATURE_MISMATCH);
	dkim_pkey_free(other);
	/* no record */
	struct dkim_verify *v = dkim_verify_new();
	dkim_verify_feed(v, sm, strlen(sm));
	dkim_verify_finish(v);
	struct dkim_verify_result res;
	dkim_verify_check(v, 0, NULL, 0, NOW, &res);
	assert_int_equal(res.reason, DKIM_KEY_NOT_FOUND);
	assert_string_equal(res.d, "example.org");
	dkim_verify_free(v);
	free(sm);
	/* no From: nothing to sign */
	assert_null(sign_msg(k->rsa, "To: a@b\r\n\r\nx\r\n", "\r\n", 0));
}

/* A hand-made l= signature (tern's signer never writes l=): the body
 * past l= is not covered, and the result says how much that is. */
static void test_body_length(void **state)
{
	struct keys *k = *state;
	const char *msg = "From: a@example.org\r\n\r\nsigned part\r\n";
	struct dkim_hdrs h;
	dkim_hdrs_init(&h);
	size_t used = dkim_hdrs_feed(&h, msg, strlen(msg));
	struct dkim_sig *sig = malloc(sizeof *sig);
	assert_int_equal(dkim_sig_init_sign(sig, DKIM_ALG_ED25519_SHA256, "example.org", "sel", NOW), 0);
	assert_int_equal(dkim_hdrs_sign_list(&h, sig), 0);
	sig->has_l = true;
	sig->l = strlen("signed part\r\n");
	struct sha256 *hs = sha256_new();
	struct dkim_canon_body b;
	dkim_canon_body_init(&b, DKIM_CANON_RELAXED, sig->l, hash_cb, hs);
	dkim_canon_body_feed(&b, msg + used, strlen(msg) - used);
	dkim_canon_body_finish(&b);
	assert_int_equal(sha256_final(hs, sig->bh), 0);
	struct buf f, data;
	buf_init(&f, 0);
	buf_init(&data, 0);
	assert_int_equal(dkim_sig_build(sig, "\r\n", &f), 0);
	assert_int_equal(dkim_hdrs_signed_data(&h, sig, f.data, f.len, &data), 0);
	unsigned char digest[DKIM_HASH_LEN];
	sha256_update(hs, data.data, data.len);
	assert_int_equal(sha256_final(hs, digest), 0);
	sig->blen = sizeof sig->b;
	assert_int_equal(dkim_pkey_sign(k->ed, digest, sig->b, &sig->blen), 0);
	buf_reset(&f);
	assert_int_equal(dkim_sig_build(sig, "\r\n", &f), 0);
	assert_int_equal(buf_printf(&f, "\r\n%sappended\r\n", msg), 0);

	struct dkim_verify *v = dkim_verify_new();
	dkim_verify_feed(v, f.data, f.len);
	dkim_verify_finish(v);
	struct dkim_verify_result res;
	dkim_verify_check(v, 0, k->ed_rec, strlen(k->ed_rec), NOW, &res);
	assert_int_equal(res.reason, DKIM_OK);
	assert_int_equal(res.unsigned_octets, strlen("appended\r\n"));
	dkim_verify_free(v);
	sha256_free(hs);
	buf_free(&f);
	buf_free(&data);
	free(sig);
	dkim_hdrs_free(&h);

	/* l= longer than the body: permerror (RFC 6376 3.5) */
	char *sm = sign_msg(k->ed, msg, "\r\n", 0);
	char *t = edit(sm, "t=", "l=9999; t=");
	assert_int_equal(verify_msg(t, k->ed_rec, NOW, 0), DKIM_BODY_TOO_SHORT);
	free(t);
	free(sm);
}

static void test_key_file(void **state)
{
	struct keys *k = *state;
	struct buf pem;
	buf_init(&pem, 0);
	assert_int_equal(dkim_pkey_private_pem(k->ed, &pem), 0);
	char path[] = "/tmp/test_dkim_keyXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem.data, pem.len), (ssize_t)pem.len);
	close(fd);
	struct dkim_pkey *loaded = NULL;
	char err[256];
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(dkim_pkey_load(path, &loaded, err, sizeof err), 0);
	assert_int_equal(dkim_pkey_type(loaded), DKIM_KEY_ED25519);
	dkim_pkey_free(loaded);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(dkim_pkey_load(path, &loaded, err, sizeof err), 0);
	dkim_pkey_free(loaded);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(dkim_pkey_load(path, &loaded, err, sizeof err), -1);
	assert_non_null(strstr(err, "readable by others"));
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(dkim_pkey_load(path, &loaded, err, sizeof err), -1);
	assert_non_null(strstr(err, "writable"));
	unlink(path);
	assert_int_equal(dkim_pkey_from_pem("junk", 4, &loaded, err, sizeof err), -1);
	buf_free(&pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc_example),
	        cmocka_unit_test(test_canon_lf_and_edges),
	        cmocka_unit_test(test_canon_limit),
	        cmocka_unit_test(test_tag_list),
	        cmocka_unit_test(test_sig_parse),
	        cmocka_unit_test(test_key_parse),
	        cmocka_unit_test(test_header_selection),
	        cmocka_unit_test(test_round_trip_rsa),
	        cmocka_unit_test(test_round_trip_ed25519),
	        cmocka_unit_test(test_verify_keys),
	        cmocka_unit_test(test_body_length),
	        cmocka_unit_test(test_key_file),
	};
	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
