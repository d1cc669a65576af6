/*
 * fuzz_spf — libFuzzer target for proto/spf (RFC 7208): the record
 * grammar, the macros and the evaluator, with a fake DNS whose every
 * answer comes from the input.
 *
 * Byte 0: bit 0 an IPv6 client, bit 1 the HELO identity (empty
 * MAIL FROM), bits 2-3 one of four senders, bit 4 also run the macro
 * checks on the rest of the input as one macro-string. Then answers, one
 * per question in the order asked: a byte whose low two bits are the
 * rcode (ok, nodata, nxdomain, tempfail) and whose bit 7 puts "v=spf1 "
 * before each TXT record, a byte holding the number of records (mod 8),
 * and each record as a length byte and that many octets (A and AAAA take
 * them as the address, zero-padded). An input that runs out answers
 * NXDOMAIN.
 *
 * Besides memory safety and termination:
 * - at most SPF_QUERY_MAX questions, each a name of at most 253 octets
 *   without a trailing dot, never asked twice;
 * - the explanation exists exactly for fail, is printable ASCII and
 *   within SPF_EXPLAIN_MAX;
 * - the same answers give the same questions and the same result (the
 *   replay is deterministic);
 * - a record spf_record_check accepts is walked by spf_term_next to its
 *   end without an error; a macro-string spf_macro_check accepts expands
 *   (or meets the output bound), in every mode it is valid in.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "proto/spf.h"
#include "proto/spf_int.h"

#define FUZZ_CHECK(c)                                                                                    \
	do {                                                                                             \
		if (!(c))                                                                                \
			abort();                                                                         \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t n, off;
	/* the questions so far, to check none is asked twice */
	size_t nseen;
	enum spf_qtype seen_type[SPF_QUERY_MAX];
	char seen[SPF_QUERY_MAX][SPF_NAME_MAX + 1];
};

static int fuzz_byte(struct fuzz_in *in)
{
	return in->off < in->n ? in->p[in->off++] : -1;
}

/* Answer the pending question from the input; log it into trace. */
static void fuzz_answer(struct spf *s, struct fuzz_in *in, struct buf *trace)
{
	enum spf_qtype t;
	const char *name = spf_want(s, &t);
	FUZZ_CHECK(name != NULL);
	size_t len = strlen(name);
	FUZZ_CHECK(len > 0 && len <= SPF_NAME_MAX && name[len - 1] != '.');
	FUZZ_CHECK(buf_printf(trace, "%d %s;", (int)t, name) == 0);
	for (size_t i = 0; i < in->nseen; i++)
		FUZZ_CHECK(in->seen_type[i] != t || strcasecmp(in->seen[i], name) != 0);
	FUZZ_CHECK(in->nseen < SPF_QUERY_MAX);
	in->seen_type[in->nseen] = t;
	memcpy(in->seen[in->nseen++], name, len + 1);

	int head = fuzz_byte(in), count = fuzz_byte(in);
	if (head < 0 || count < 0) {
		FUZZ_CHECK(spf_answer(s, SPF_DNS_NXDOMAIN, NULL, 0) == 0);
		return;
	}
	enum spf_rcode rc = (enum spf_rcode)(head & 3);
	struct spf_rr rr[8];
	uint8_t store[8][7 + 255 + 16];
	size_t n = 0;
	for (int i = 0; i < (count & 7); i++) {
		int l = fuzz_byte(in);
		if (l < 0)
			break;
		size_t avail = in->n - in->off, take = (size_t)l < avail ? (size_t)l : avail;
		uint8_t *d = store[n];
		size_t dl = 0;
		if (t == SPF_Q_TXT && (head & 0x80)) {
			memcpy(d, "v=spf1 ", 7);
			dl = 7;
		}
		memcpy(d + dl, in->p + in->off, take);
		dl += take;
		in->off += take;
		if (t == SPF_Q_A || t == SPF_Q_AAAA) {
			size_t want = t == SPF_Q_A ? 4 : 16;
			if (dl < want)
				memset(d + dl, 0, want - dl);
			dl = want;
		}
		rr[n].data = d;
		rr[n].len = dl;
		n++;
	}
	FUZZ_CHECK(spf_answer(s, rc, rr, n) == 0);
}

static const char *const fuzz_senders[4] = {
        "user@example.com", "first.last-x+tag=y@sub.example.org", "@example.net", "\"odd local\"@example.com",
};

/* One whole check; its questions go to trace. */
static enum spf_result fuzz_check(const uint8_t *data, size_t size, struct buf *trace, char *exp, size_t explen)
{
	uint8_t flags = data[0];
	struct spf_request req = {
	        .mail_from = (flags & 2) ? "" : fuzz_senders[(flags >> 2) & 3],
	        .helo = "mail.example.com",
	        .receiver = "mx.example.org",
	        .now = 1700000000,
	};
	FUZZ_CHECK(spf_ip_parse((flags & 1) ? "2001:db8::cb01" : "192.0.2.3", &req.ip) == 0);
	struct spf *s = spf_new(&req);
	FUZZ_CHECK(s != NULL);
	struct fuzz_in *in = calloc(1, sizeof *in);
	FUZZ_CHECK(in != NULL);
	in->p = data + 1;
	in->n = size - 1;
	unsigned steps = 0;
	while (spf_run(s) == SPF_STEP_WANT) {
		FUZZ_CHECK(++steps <= SPF_QUERY_MAX);
		fuzz_answer(s, in, trace);
	}
	free(in);
	FUZZ_CHECK(spf_queries(s) == steps);
	enum spf_result r = spf_result(s);
	FUZZ_CHECK(r >= SPF_RESULT_NONE && r <= SPF_RESULT_PERMERROR);
	const char *e = spf_explanation(s);
	FUZZ_CHECK((e != NULL) == (r == SPF_RESULT_FAIL));
	if (e) {
		size_t el = strlen(e);
		FUZZ_CHECK(el <= SPF_EXPLAIN_MAX);
		for (size_t i = 0; i < el; i++)
			FUZZ_CHECK(e[i] >= 0x20 && e[i] <= 0x7e);
	}
	snprintf(exp, explen, "%s", e ? e : "");
	FUZZ_CHECK(strlen(spf_reason(s)) <= SPF_REASON_MAX);
	spf_free(s);
	return r;
}

static void fuzz_grammar(const char *p, size_t n)
{
	/* As a record. */
	char *rec = malloc(n + 7);
	FUZZ_CHECK(rec != NULL);
	memcpy(rec, "v=spf1 ", 7);
	memcpy(rec + 7, p, n);
	struct spf_term r, e, t;
	bool hr, he;
	const char *err = NULL;
	if (spf_record_check(rec, n + 7, &r, &hr, &e, &he, &err) == 0) {
		size_t pos = 0;
		int k;
		while ((k = spf_term_next(rec, n + 7, &pos, &t, &err)) == 1) {
			FUZZ_CHECK(t.text >= rec && t.text + t.len <= rec + n + 7);
			FUZZ_CHECK(t.cidr4 <= 32 && t.cidr6 <= 128);
			FUZZ_CHECK(t.speclen == 0 || (t.spec > rec && t.spec + t.speclen <= rec + n + 7));
		}
		FUZZ_CHECK(k == 0);
	} else {
		FUZZ_CHECK(err != NULL);
	}
	free(rec);

	/* As a macro-string, in each mode. */
	static const struct spf_macro_vars v = {
	        .s = "strong-bad@email.example.com", .l = "strong-bad", .o = "email.example.com",
	        .d = "email.example.com", .i = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
	        .p = "unknown", .v = "ip6", .h = "mx.example.org", .c = "2001:db8::cb01", .r = "receiver.example",
	        .t = "1700000000",
	};
	for (int mode = SPF_MACRO_DOMAIN; mode <= SPF_MACRO_EXPLAIN; mode++) {
		size_t tail = 0;
		if (spf_macro_check(p, n, (enum spf_macro_mode)mode, &tail) < 0)
			continue;
		FUZZ_CHECK(tail <= n);
		struct buf b;
		buf_init(&b, SPF_EXPAND_MAX);
		int rc = spf_macro_expand(p, n, (enum spf_macro_mode)mode, &v, &b);
		FUZZ_CHECK(b.len <= SPF_EXPAND_MAX);
		/* Only the bound can stop a valid string. */
		FUZZ_CHECK(rc == 0 || n > 0);
		buf_free(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct buf t1, t2;
	buf_init(&t1, 1 << 20);
	buf_init(&t2, 1 << 20);
	char e1[SPF_EXPLAIN_MAX + 1], e2[SPF_EXPLAIN_MAX + 1];
	enum spf_result r1 = fuzz_check(data, size, &t1, e1, sizeof e1);
	enum spf_result r2 = fuzz_check(data, size, &t2, e2, sizeof e2);
	FUZZ_CHECK(r1 == r2 && strcmp(e1, e2) == 0);
	FUZZ_CHECK(t1.len == t2.len && (t1.len == 0 || memcmp(t1.data, t2.data, t1.len) == 0));
	buf_free(&t1);
	buf_free(&t2);
	if (data[0] & 0x10) {
		char *p = malloc(size); /* exact size: ASan sees over-reads */
		FUZZ_CHECK(p != NULL);
		memcpy(p, data + 1, size - 1);
		fuzz_grammar(p, size - 1);
		free(p);
	}
	return 0;
}
