/*
 * spf_int — what the files of the SPF engine share: the term grammar
 * (spf_record.c), the macro language (spf_macro.c), the check object
 * (spf.c) and the evaluation pass (spf_eval.c). Not an API: see spf.h.
 */
#ifndef TERN_SPF_INT_H
#define TERN_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "proto/spf.h"

/* ------------------------------------------------------------ records */

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

enum spf_term_kind {
	SPF_T_DIRECTIVE,
	SPF_T_REDIRECT,
	SPF_T_EXP,
	SPF_T_MODIFIER,   /* unknown: checked, then ignored (RFC 7208 6) */
};

struct spf_term {
	enum spf_term_kind kind;
	enum spf_mech mech;       /* directives */
	char qual;                /* '+', '-', '~' or '?' */
	const char *spec;         /* domain-spec (or modifier value), into the record */
	size_t speclen;           /* 0: none given */
	unsigned char net[16];    /* ip4 (4 octets) and ip6 */
	unsigned cidr4, cidr6;    /* prefix lengths; 32 and 128 unless given */
	const char *text;         /* the whole term, for the reason line */
	size_t len;
};

/* Does this TXT record start with the version "v=spf1" followed by a
 * space or its end (RFC 7208 4.5)? Compared without regard to case. */
bool spf_record_is_v1(const char *p, size_t n);

/*
 * The next term of a record, from *pos (0 for the start: the version
 * is skipped). 1 with *t filled, 0 at the end, -1 on a syntax error
 * with a static text in *err. Only SP separates terms (RFC 7208 4.6.1);
 * any other octet outside %x21-7E is an error.
 */
int spf_term_next(const char *rec, size_t len, size_t *pos, struct spf_term *t, const char **err);

/* The whole record checked (RFC 7208 4.6: a syntax error anywhere is a
 * permerror, even after a mechanism that would match); *redirect and
 * *exp point at the modifiers' terms (NULL when absent; twice is an
 * error). 0, or -1 with *err. */
int spf_record_check(const char *rec, size_t len, struct spf_term *redirect, bool *has_redirect,
                     struct spf_term *exp, bool *has_exp, const char **err);

/* The top label rule of RFC 7208 12 (domain-end). */
bool spf_toplabel_ok(const char *p, size_t n);

/* ------------------------------------------------------------- macros */

enum spf_macro_mode {
	SPF_MACRO_DOMAIN,   /* a domain-spec: no c, r, t (RFC 7208 7.2) */
	SPF_MACRO_ANY,      /* an unknown modifier's value: the whole grammar */
	SPF_MACRO_EXPLAIN,  /* explain-string: SP allowed, and c, r, t */
};

/* The values of the macro letters (RFC 7208 7.2), NUL-terminated. */
struct spf_macro_vars {
	const char *s, *l, *o, *d, *i, *p, *v, *h, *c, *r, *t;
};

/*
 * Check a macro-string. *tail (may be NULL) is the offset of the literal
 * text after its last macro-expand (n when it ends with one: domain-end
 * needs to know). 0, or -1.
 */
int spf_macro_check(const char *p, size_t n, enum spf_macro_mode mode, size_t *tail);
/* Does the (checked) string use the letter (either case)? */
bool spf_macro_uses(const char *p, size_t n, char letter);
/*
 * Expand a checked macro-string into out (appended). -1 when the result
 * would pass out's maximum or the string is not valid in mode.
 */
int spf_macro_expand(const char *p, size_t n, enum spf_macro_mode mode, const struct spf_macro_vars *v,
                     struct buf *out);

/* ---------------------------------------------------------- the check */

#define SPF_SENDER_MAX 512  /* an RFC 5321 path is at most 256 octets */
#define SPF_HOST_MAX   255

/* One question and its answer, kept for the replays (spf.h). */
struct spf_answer {
	enum spf_qtype type;
	enum spf_rcode rc;
	char name[SPF_NAME_MAX + 1];
	struct spf_rr *rr;      /* owned; data points into blob */
	size_t nrr;
	unsigned char *blob;    /* owned */
};

/* The check (spf.c owns it; spf_eval.c reads the request and answers,
 * writes want_*, explanation and exp_default). */
struct spf {
	struct spf_ip ip;
	char sender[SPF_SENDER_MAX + SPF_NAME_MAX + 2];  /* local@domain, postmaster filled in */
	char local[SPF_SENDER_MAX + 1];
	char domain[SPF_NAME_MAX + 1];    /* %{o}, the domain checked */
	char helo[SPF_HOST_MAX + 1];
	char receiver[SPF_HOST_MAX + 1];
	char now[24];
	char ip_i[72];   /* %{i}: dotted quad, or 32 dotted nibbles */
	char ip_c[48];   /* %{c}: the usual text form */
	char ip_rev[80]; /* the PTR question */
	const char *identity;
	bool malformed;  /* the domain is no domain (4.3): none */

	struct spf_answer *ans;   /* owned, nans used of cap */
	size_t nans, cap, bytes;
	bool overflow;            /* answers over SPF_ANSWER_BYTES */

	bool wanting, done;
	enum spf_qtype want_type;
	char want_name[SPF_NAME_MAX + 1];

	enum spf_result result;
	bool exp_default;
	char explanation[SPF_EXPLAIN_MAX + 1];
	char reason[SPF_REASON_MAX + 1];
};

/*
 * spf_eval.c: one pass over the policy from the top (spf.h). Returns the
 * result, unless out->stop: a question is pending in s->want_* (or, with
 * out->over, the questions ran out: a permerror). out->reason says why.
 */
struct spf_eval_out {
	bool stop, over;
	char reason[SPF_REASON_MAX + 1];
};
enum spf_result spf_eval_pass(struct spf *s, struct spf_eval_out *out);
/* The identity's domain is a domain name (RFC 7208 4.3). */
bool spf_eval_domain_ok(const char *d);
/* Copy at most n octets of src, cut to fit cap, NUL-terminated. */
void spf_eval_copy(char *dst, size_t cap, const char *src, size_t n);

#endif
