/*
 * dkim — what the DKIM modules share (RFC 6376, RFC 8301, RFC 8463): the
 * algorithms, the limits, and the one list of reasons a signature is
 * judged by, each with the RFC 8601 2.7.1 result it gives and a text for
 * the comment of an Authentication-Results field.
 *
 * The parsers (dkim_tag, dkim_sig, dkim_key), the canonicalization
 * (dkim_canon) and the header handling (dkim_hdrs) live in proto/ and are
 * pure. Hashing and signatures are not done here: src/crypto/ feeds the
 * canonical octets these modules produce into OpenSSL, so that proto/
 * never includes it.
 */
#ifndef TERN_DKIM_H
#define TERN_DKIM_H

#include <stddef.h>

/* Limits. Each bounds what one hostile message or DNS answer can make us
 * hold; all are far above what real signers and keys use. */
#define DKIM_DOMAIN_MAX      253  /* RFC 1035 2.3.4, in text form without the final dot */
#define DKIM_SELECTOR_MAX    200  /* s= plus "._domainkey." plus d= must still be a name */
#define DKIM_AUID_MAX        320  /* i=: a local part (RFC 5321 4.5.3.1.1: 64) @ a domain */
#define DKIM_HNAME_MAX       96   /* one field name in h= (RFC 5322 sets none; real ones are < 40) */
#define DKIM_SIG_H_MAX       64   /* names in h=, repeats included */
#define DKIM_SIG_B_MAX       1024 /* b= octets: an RSA key of 8192 bits */
#define DKIM_HASH_LEN        32   /* SHA-256 (RFC 6376 3.3; SHA-1 refused, RFC 8301 3.1) */
#define DKIM_FIELD_MAX       16384 /* one DKIM-Signature field, folding included */
#define DKIM_KEY_RECORD_MAX  8192  /* the key record's text, its strings joined */
#define DKIM_KEY_P_MAX       2048  /* p= octets: SubjectPublicKeyInfo of an 8192-bit key fits */
#define DKIM_HEADER_MAX      (256 * 1024) /* a header section we sign or verify */
#define DKIM_FIELDS_MAX      2000  /* header fields in it */
#define DKIM_SIGS_MAX        8     /* DKIM-Signature fields verified per message (RFC 6376 6.1) */

/* RSA key sizes (RFC 8301 3.2): verifiers must take 1024 to 4096 bits;
 * signers must use at least 1024 and should use 2048. tern signs with
 * 2048 to 4096 bits only, so that every verifier can check its mail. */
#define DKIM_RSA_VERIFY_MIN 1024
#define DKIM_RSA_VERIFY_MAX 8192
#define DKIM_RSA_SIGN_MIN   2048
#define DKIM_RSA_SIGN_MAX   4096

/* How far in the future a t= may lie before the signature is not
 * trusted yet (RFC 6376 3.5 t=: verifiers may ignore future ones): the
 * clock skew of two honest hosts. */
#define DKIM_CLOCK_SKEW 300

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,     /* RFC 6376 3.3.1 */
	DKIM_ALG_ED25519_SHA256, /* RFC 8463 3 */
};

/* The key types of the k= tag (RFC 6376 3.6.1, RFC 8463 4). */
enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

/* RFC 8601 2.7.1 results for the dkim method. */
enum dkim_result {
	DKIM_RESULT_NONE,
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,
	DKIM_RESULT_NEUTRAL,
	DKIM_RESULT_TEMPERROR,
	DKIM_RESULT_PERMERROR,
};

/*
 * Why a signature got its result. The table in dkim.c gives each its
 * result; the split follows RFC 8601 2.7.1: "fail" is for a signature
 * that could be checked and did not hold, "permerror" for one that can
 * never be checked (bad syntax, a key that is revoked, too short or of
 * the wrong kind, a signature that has expired), "neutral" for one that
 * may be checkable later (a t= in the future), "temperror" for our own
 * trouble (out of memory).
 */
enum dkim_reason {
	DKIM_OK = 0,
	/* the DKIM-Signature field (RFC 6376 3.5, 6.1.1) */
	DKIM_SIG_SYNTAX,
	DKIM_SIG_DUPLICATE_TAG,
	DKIM_SIG_MISSING_TAG,
	DKIM_SIG_VERSION,
	DKIM_SIG_ALGORITHM,
	DKIM_SIG_SHA1,
	DKIM_SIG_CANON,
	DKIM_SIG_BASE64,
	DKIM_SIG_DOMAIN,
	DKIM_SIG_SELECTOR,
	DKIM_SIG_AUID,
	DKIM_SIG_AUID_DOMAIN,
	DKIM_SIG_HEADER_LIST,
	DKIM_SIG_FROM_UNSIGNED,
	DKIM_SIG_QUERY,
	DKIM_SIG_NUMBER,
	DKIM_SIG_EXPIRY_ORDER,
	DKIM_SIG_TOO_LONG,
	DKIM_SIG_EXPIRED,
	DKIM_SIG_FUTURE,
	/* the key record (RFC 6376 3.6.1, 6.1.2) */
	DKIM_KEY_NOT_FOUND,
	DKIM_KEY_SYNTAX,
	DKIM_KEY_DUPLICATE_TAG,
	DKIM_KEY_VERSION,
	DKIM_KEY_TYPE,
	DKIM_KEY_MISSING,
	DKIM_KEY_REVOKED,
	DKIM_KEY_BASE64,
	DKIM_KEY_HASH,
	DKIM_KEY_SERVICE,
	DKIM_KEY_ALG_MISMATCH,
	DKIM_KEY_BAD,
	DKIM_KEY_TOO_SHORT,
	DKIM_KEY_TOO_LONG,
	DKIM_KEY_STRICT,
	/* the message (RFC 6376 6.1.3) */
	DKIM_HEADER_TOO_LARGE,
	DKIM_BODY_TOO_SHORT,
	DKIM_BODY_HASH_MISMATCH,
	DKIM_SIGNATURE_MISMATCH,
	DKIM_INTERNAL,
	DKIM_REASON_COUNT
};

/* The result a reason gives (DKIM_OK gives PASS). */
enum dkim_result dkim_reason_result(enum dkim_reason r);
/* A short text for logs and Authentication-Results comments. */
const char *dkim_reason_text(enum dkim_reason r);
/* "pass", "fail", ... as RFC 8601 spells them. */
const char *dkim_result_name(enum dkim_result r);
/* "rsa-sha256" or "ed25519-sha256". */
const char *dkim_alg_name(enum dkim_alg a);

#endif
