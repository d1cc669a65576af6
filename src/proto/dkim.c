/*
 * dkim — the table of reasons and results shared by the DKIM modules.
 * See dkim.h for why each reason gives the result it does.
 */
#include "proto/dkim.h"

static const struct {
	enum dkim_result result;
	const char *text;
} dkim_reasons[DKIM_REASON_COUNT] = {
        [DKIM_OK] = {DKIM_RESULT_PASS, "good signature"},
        [DKIM_SIG_SYNTAX] = {DKIM_RESULT_PERMERROR, "signature tag-list syntax error"},
        [DKIM_SIG_DUPLICATE_TAG] = {DKIM_RESULT_PERMERROR, "duplicate tag in signature"},
        [DKIM_SIG_MISSING_TAG] = {DKIM_RESULT_PERMERROR, "signature lacks a required tag"},
        [DKIM_SIG_VERSION] = {DKIM_RESULT_PERMERROR, "unsupported signature version"},
        [DKIM_SIG_ALGORITHM] = {DKIM_RESULT_PERMERROR, "unknown signature algorithm"},
        [DKIM_SIG_SHA1] = {DKIM_RESULT_PERMERROR, "rsa-sha1 is refused (RFC 8301)"},
        [DKIM_SIG_CANON] = {DKIM_RESULT_PERMERROR, "unknown canonicalization"},
        [DKIM_SIG_BASE64] = {DKIM_RESULT_PERMERROR, "bad base64 in b= or bh="},
        [DKIM_SIG_DOMAIN] = {DKIM_RESULT_PERMERROR, "bad d= domain"},
        [DKIM_SIG_SELECTOR] = {DKIM_RESULT_PERMERROR, "bad s= selector"},
        [DKIM_SIG_AUID] = {DKIM_RESULT_PERMERROR, "bad i= identity"},
        [DKIM_SIG_AUID_DOMAIN] = {DKIM_RESULT_PERMERROR, "i= domain is not d= or a subdomain of it"},
        [DKIM_SIG_HEADER_LIST] = {DKIM_RESULT_PERMERROR, "bad h= list"},
        [DKIM_SIG_FROM_UNSIGNED] = {DKIM_RESULT_PERMERROR, "From field not signed"},
        [DKIM_SIG_QUERY] = {DKIM_RESULT_PERMERROR, "no supported q= query method"},
        [DKIM_SIG_NUMBER] = {DKIM_RESULT_PERMERROR, "bad number in l=, t= or x="},
        [DKIM_SIG_EXPIRY_ORDER] = {DKIM_RESULT_PERMERROR, "x= is not after t="},
        [DKIM_SIG_TOO_LONG] = {DKIM_RESULT_PERMERROR, "signature field too long"},
        [DKIM_SIG_EXPIRED] = {DKIM_RESULT_PERMERROR, "signature expired"},
        [DKIM_SIG_FUTURE] = {DKIM_RESULT_NEUTRAL, "signature timestamp in the future"},
        [DKIM_KEY_NOT_FOUND] = {DKIM_RESULT_PERMERROR, "no key for signature"},
        [DKIM_KEY_SYNTAX] = {DKIM_RESULT_PERMERROR, "key record syntax error"},
        [DKIM_KEY_DUPLICATE_TAG] = {DKIM_RESULT_PERMERROR, "duplicate tag in key record"},
        [DKIM_KEY_VERSION] = {DKIM_RESULT_PERMERROR, "key record version is not DKIM1"},
        [DKIM_KEY_TYPE] = {DKIM_RESULT_PERMERROR, "unknown key type"},
        [DKIM_KEY_MISSING] = {DKIM_RESULT_PERMERROR, "key record lacks p="},
        [DKIM_KEY_REVOKED] = {DKIM_RESULT_PERMERROR, "key revoked"},
        [DKIM_KEY_BASE64] = {DKIM_RESULT_PERMERROR, "bad base64 in p="},
        [DKIM_KEY_HASH] = {DKIM_RESULT_PERMERROR, "key does not allow sha256"},
        [DKIM_KEY_SERVICE] = {DKIM_RESULT_PERMERROR, "key is not for email"},
        [DKIM_KEY_ALG_MISMATCH] = {DKIM_RESULT_PERMERROR, "key type does not match a="},
        [DKIM_KEY_BAD] = {DKIM_RESULT_PERMERROR, "public key cannot be decoded"},
        [DKIM_KEY_TOO_SHORT] = {DKIM_RESULT_PERMERROR, "key too short"},
        [DKIM_KEY_TOO_LONG] = {DKIM_RESULT_PERMERROR, "key too long"},
        [DKIM_KEY_STRICT] = {DKIM_RESULT_PERMERROR, "key has t=s but i= domain is not d="},
        [DKIM_HEADER_TOO_LARGE] = {DKIM_RESULT_PERMERROR, "header section too large"},
        [DKIM_BODY_TOO_SHORT] = {DKIM_RESULT_PERMERROR, "l= is longer than the body"},
        [DKIM_BODY_HASH_MISMATCH] = {DKIM_RESULT_FAIL, "body hash did not verify"},
        [DKIM_SIGNATURE_MISMATCH] = {DKIM_RESULT_FAIL, "signature did not verify"},
        [DKIM_INTERNAL] = {DKIM_RESULT_TEMPERROR, "internal error"},
};

enum dkim_result dkim_reason_result(enum dkim_reason r)
{
	if ((unsigned)r >= DKIM_REASON_COUNT)
		return DKIM_RESULT_TEMPERROR;
	return dkim_reasons[r].result;
}

const char *dkim_reason_text(enum dkim_reason r)
{
	if ((unsigned)r >= DKIM_REASON_COUNT)
		return "unknown reason";
	return dkim_reasons[r].text;
}

const char *dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_NONE: return "none";
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_NEUTRAL: return "neutral";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	case DKIM_RESULT_PERMERROR: return "permerror";
	}
	return "temperror";
}

const char *dkim_alg_name(enum dkim_alg a)
{
	return a == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}
