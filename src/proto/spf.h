/*
 * spf — the Sender Policy Framework check of RFC 7208: check_host(ip,
 * domain, sender) with every mechanism (all, include, a, mx, ptr, ip4,
 * ip6, exists), the redirect= and exp= modifiers, the macros of section
 * 7 and the processing limits of section 4.6.4.
 *
 * Pure: no I/O, no clock, no global state. The engine never waits for
 * the DNS; it asks. spf_run() either finishes or stops with one question
 * (a name and a record type, spf_want()); the caller finds the answer,
 * however long that takes, hands it over with spf_answer(), and calls
 * spf_run() again:
 *
 *	struct spf *s = spf_new(&req);
 *	while (spf_run(s) == SPF_STEP_WANT) {
 *		enum spf_qtype t;
 *		const char *name = spf_want(s, &t);
 *		... look it up, later: spf_answer(s, status, rrs, n);
 *	}
 *	spf_result(s), spf_explanation(s)
 *
 * Resumption is by replay: every answer is kept, and each spf_run()
 * evaluates the policy again from the top, answering from what it kept,
 * until it meets a question it has no answer for. A check asks at most
 * SPF_QUERY_MAX questions, each pass costs a few microseconds, and the
 * evaluator stays an ordinary recursive function over include and
 * redirect with no continuation state to get wrong. Asking the same
 * question twice (an include loop) costs one lookup.
 *
 * Bounded everywhere: questions per check, bytes kept from the answers,
 * the length of a record, of a macro expansion and of the explanation,
 * the depth of include/redirect, and the limits RFC 7208 sets itself.
 */
#ifndef TERN_SPF_H
#define TERN_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPF_LOOKUP_MAX  10   /* terms that query the DNS, RFC 7208 4.6.4 */
#define SPF_VOID_MAX    2    /* lookups answered NXDOMAIN or empty, RFC 7208 4.6.4 */
#define SPF_NAMES_MAX   10   /* MX or PTR names looked up per term, RFC 7208 4.6.4 */
/* Records in an include/redirect chain: each link costs one of the 10
 * lookups, so the limit is never reached first; it bounds the recursion
 * even if that counting were wrong. */
#define SPF_DEPTH_MAX   (SPF_LOOKUP_MAX + 2)
/* Questions per check: 10 terms of at most 1 + 10 lookups, the record
 * of the domain, the validation of %{p} (1 + 10) and the explanation. */
#define SPF_QUERY_MAX   128
#define SPF_ANSWER_RRS  64             /* records kept of one answer */
#define SPF_ANSWER_BYTES (128 * 1024)  /* octets kept of all answers together */
/* An SPF record (the joined strings of one TXT record). RFC 7208 3.4
 * asks publishers to stay under 450 octets; real records reach ~2 KiB. */
#define SPF_RECORD_MAX  4096
#define SPF_NAME_MAX    253   /* a domain name in text, RFC 7208 4.8 */
#define SPF_LABEL_MAX   63    /* RFC 1035 2.3.4 */
#define SPF_EXPAND_MAX  4096  /* a macro-string once expanded */
#define SPF_EXPLAIN_MAX 1024  /* the explanation returned for a fail */
#define SPF_REASON_MAX  200   /* the one-line reason for logs */

enum spf_result {
	SPF_RESULT_NONE,
	SPF_RESULT_NEUTRAL,
	SPF_RESULT_PASS,
	SPF_RESULT_FAIL,
	SPF_RESULT_SOFTFAIL,
	SPF_RESULT_TEMPERROR,
	SPF_RESULT_PERMERROR,
};

/* "pass", "fail", ... as RFC 7208 2.6 and RFC 8601 write them. */
const char *spf_result_name(enum spf_result r);

/* What the engine may ask for. PTR questions name the reverse zone
 * ("4.3.2.1.in-addr.arpa"), the engine builds it. */
enum spf_qtype {
	SPF_Q_TXT,
	SPF_Q_A,
	SPF_Q_AAAA,
	SPF_Q_MX,
	SPF_Q_PTR,
};
const char *spf_qtype_name(enum spf_qtype t);

/* How a question was answered (RFC 7208 2.6.6, 4.4, 5). */
enum spf_rcode {
	SPF_DNS_OK,       /* records follow (possibly none of the type: NODATA then) */
	SPF_DNS_NODATA,   /* the name exists, no record of the type */
	SPF_DNS_NXDOMAIN, /* RCODE 3 */
	SPF_DNS_TEMPFAIL, /* SERVFAIL, timeout, any other error */
};

/*
 * One record of an answer. TXT: the character-strings of one record
 * joined without separator (RFC 7208 3.3); A: 4 octets; AAAA: 16; MX:
 * the exchange's name ("" or "." for a null MX); PTR: the name.
 */
struct spf_rr {
	const void *data;
	size_t len;
};

/* The client's address; an IPv4-mapped IPv6 address is kept as IPv4
 * (RFC 7208 5: the check is about the IPv4 client). */
struct spf_ip {
	bool v6;
	unsigned char a[16];   /* IPv4 in a[0..3] */
};
/* Parse "192.0.2.1" or "2001:db8::1". 0, or -1. */
int spf_ip_parse(const char *text, struct spf_ip *ip);

struct spf_request {
	struct spf_ip ip;
	/* The MAIL FROM address without angle brackets; "" or NULL checks
	 * the HELO identity (RFC 7208 2.4) as postmaster@HELO. A sender
	 * without a local part ("@d", or "d" alone) is postmaster@d (4.3). */
	const char *mail_from;
	const char *helo;       /* the HELO/EHLO name; NULL: unknown */
	const char *receiver;   /* %{r}: this host's name; NULL: "unknown" */
	int64_t now;            /* %{t}: seconds since the epoch */
};

struct spf;

/* A check, ready to run; NULL when out of memory. */
struct spf *spf_new(const struct spf_request *req);
void spf_free(struct spf *s);

enum spf_step {
	SPF_STEP_DONE,
	SPF_STEP_WANT,
};
enum spf_step spf_run(struct spf *s);

/* The question after SPF_STEP_WANT: a name without trailing dot. */
const char *spf_want(const struct spf *s, enum spf_qtype *type);
/*
 * The answer to that question. The records are copied. rc other than
 * SPF_DNS_OK ignores rr. Returns -1 when no question is pending.
 */
int spf_answer(struct spf *s, enum spf_rcode rc, const struct spf_rr *rr, size_t n);

/* After SPF_STEP_DONE. */
enum spf_result spf_result(const struct spf *s);
/* For fail, the explanation (RFC 7208 6.2): the expanded exp= text of
 * the record that failed, else a default naming the domain; NULL for
 * other results. Printable ASCII only. */
const char *spf_explanation(const struct spf *s);
bool spf_explanation_is_default(const struct spf *s);
/* Why, in a few words, for logs ("matched ip4:192.0.2.0/24", "more
 * than 10 DNS lookups"); never NULL. */
const char *spf_reason(const struct spf *s);
/* The identity checked: "mailfrom" or "helo", and its domain. */
const char *spf_identity(const struct spf *s);
const char *spf_domain(const struct spf *s);
/* Questions asked so far. */
size_t spf_queries(const struct spf *s);

#endif
