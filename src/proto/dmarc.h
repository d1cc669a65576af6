/*
 * dmarc — DMARC (RFC 7489) without the DNS: the policy record's grammar,
 * the discovery order of the records to look up, identifier alignment,
 * and the verdict from the SPF and DKIM results the receiver already
 * has. Pure: the organizational domain (the Public Suffix List, which
 * the system keeps current) comes from a function the caller gives
 * (base/orgdomain), and the sampling of pct= from a number it draws.
 */
#ifndef TERN_DMARC_H
#define TERN_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#define DMARC_DOMAIN_MAX 253
#define DMARC_RECORD_MAX 4096  /* a TXT record longer than this is not a policy */
#define DMARC_DKIM_MAX 8       /* DKIM results considered (the verifier's bound) */

enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

struct dmarc_record {
	enum dmarc_policy p, sp;
	bool has_sp;
	bool adkim_strict, aspf_strict;
	unsigned pct;              /* 0..100 */
	bool has_rua;
};

enum dmarc_parse {
	DMARC_PARSE_OK,
	DMARC_PARSE_NOT_DMARC,     /* does not start with v=DMARC1: not a policy record (ignored) */
	DMARC_PARSE_INVALID,       /* a policy record that is broken: treated as none (RFC 7489 6.6.3) */
};

/* Parse one TXT record's text (its strings joined). */
enum dmarc_parse dmarc_record_parse(const char *txt, size_t n, struct dmarc_record *r);

/* The organizational domain of a domain (lower case) into out; false
 * when domain is itself a public suffix or not a domain. */
typedef bool (*dmarc_orgdomain_fn)(const char *domain, char *out, size_t outlen);

/* The names to look up, in order (RFC 7489 6.6.3): _dmarc.FROMDOMAIN,
 * then, when that has no policy record, _dmarc.ORGDOMAIN (only when the
 * two differ). Returns how many (1 or 2). */
size_t dmarc_query_names(const char *from_domain, dmarc_orgdomain_fn org, char names[2][DMARC_DOMAIN_MAX + 8]);

/* Identifier alignment (RFC 7489 3.1): strict is equality (no case),
 * relaxed the same organizational domain. */
bool dmarc_aligned(const char *a, const char *b, bool strict, dmarc_orgdomain_fn org);

enum dmarc_auth { DMARC_AUTH_NONE, DMARC_AUTH_PASS, DMARC_AUTH_FAIL, DMARC_AUTH_TEMPERROR, DMARC_AUTH_PERMERROR };

/* What the receiver knows of a message. */
struct dmarc_input {
	const char *from_domain;   /* the RFC5322.From domain (the caller handles zero or several) */
	enum dmarc_auth spf;       /* SPF of MAIL FROM (or HELO when MAIL FROM was empty) */
	const char *spf_domain;    /* the domain SPF checked */
	struct {
		enum dmarc_auth result;
		const char *d;         /* the signature's d= */
	} dkim[DMARC_DKIM_MAX];
	size_t ndkim;
	/* the record found, and where */
	bool have_record;          /* false: no policy (dmarc=none) */
	bool record_at_org;        /* found at the organizational domain (then sp= applies) */
	struct dmarc_record rec;
	bool dns_temp;             /* the record lookup failed temporarily */
	unsigned sample;           /* a number drawn in 0..99 for pct= */
};

enum dmarc_result { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };

struct dmarc_verdict {
	enum dmarc_result result;
	enum dmarc_policy policy;  /* what the domain asks for this message (after sp= and pct=) */
	bool spf_aligned, dkim_aligned;
};

void dmarc_evaluate(const struct dmarc_input *in, dmarc_orgdomain_fn org, struct dmarc_verdict *v);

const char *dmarc_result_name(enum dmarc_result r);   /* "pass", "fail", ... (RFC 8601) */
const char *dmarc_policy_name(enum dmarc_policy p);   /* "none", "quarantine", "reject" */

#endif
