/*
 * dkim_sig — the DKIM-Signature field, RFC 6376 3.5. See dkim_sig.h.
 * Parsing and the time check here; building in dkim_sig_build.c.
 */
#include "proto/dkim_sig.h"

#include <string.h>
#include <strings.h>

#include "proto/dkim_tag.h"

static enum dkim_reason dkim_sig_tag_status(enum dkim_tag_status st)
{
	switch (st) {
	case DKIM_TAG_OK: return DKIM_OK;
	case DKIM_TAG_DUPLICATE: return DKIM_SIG_DUPLICATE_TAG;
	case DKIM_TAG_TOO_MANY: return DKIM_SIG_TOO_LONG;
	case DKIM_TAG_SYNTAX: break;
	}
	return DKIM_SIG_SYNTAX;
}

/* A decimal of 1 to maxdigits digits; more than fits saturates (an l=
 * that large is longer than any body, and is refused for that). */
static bool dkim_sig_number(const struct dkim_tag *t, size_t maxdigits, uint64_t *out)
{
	if (t->value_len == 0 || t->value_len > maxdigits)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < t->value_len; i++) {
		char c = t->value[i];
		if (c < '0' || c > '9')
			return false;
		unsigned d = (unsigned)(c - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return true;
}

static bool dkim_sig_canon_word(const char *s, size_t n, enum dkim_canon_alg *out)
{
	if (n == 6 && strncasecmp(s, "simple", 6) == 0)
		*out = DKIM_CANON_SIMPLE;
	else if (n == 7 && strncasecmp(s, "relaxed", 7) == 0)
		*out = DKIM_CANON_RELAXED;
	else
		return false;
	return true;
}

/* c= is "header[/body]"; a lone header algorithm leaves the body simple. */
static bool dkim_sig_canon(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *slash = memchr(t->value, '/', t->value_len);
	size_t hl = slash ? (size_t)(slash - t->value) : t->value_len;
	if (!dkim_sig_canon_word(t->value, hl, &sig->hcanon))
		return false;
	if (!slash)
		return true;
	return dkim_sig_canon_word(slash + 1, t->value_len - hl - 1, &sig->bcanon);
}

/* A field name in h=: printable ASCII but the colon (RFC 5322 3.6.8). */
static bool dkim_sig_is_field_name(const char *s, size_t n)
{
	if (n == 0 || n > DKIM_HNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return false;
	return true;
}

static enum dkim_reason dkim_sig_headers(const struct dkim_tag *t, struct dkim_sig *sig)
{
	size_t pos = 0, len;
	const char *item;
	bool from = false;
	sig->nh = 0;
	while (dkim_tag_next_item(t->value, t->value_len, &pos, &item, &len)) {
		if (!dkim_sig_is_field_name(item, len) || sig->nh == DKIM_SIG_H_MAX)
			return DKIM_SIG_HEADER_LIST;
		memcpy(sig->h[sig->nh], item, len);
		sig->h[sig->nh][len] = '\0';
		sig->nh++;
		if (len == 4 && strncasecmp(item, "from", 4) == 0)
			from = true;
	}
	return from ? DKIM_OK : DKIM_SIG_FROM_UNSIGNED;
}

/* Does sub equal dom or end in "." dom (without case)? */
static bool dkim_sig_within(const char *sub, const char *dom)
{
	size_t sl = strlen(sub), dl = strlen(dom);
	if (sl == dl)
		return strcasecmp(sub, dom) == 0;
	return sl > dl && sub[sl - dl - 1] == '.' && strcasecmp(sub + sl - dl, dom) == 0;
}

/* i= is [local-part] "@" domain (3.5); the local part is kept as written,
 * without control octets or blanks. */
static enum dkim_reason dkim_sig_auid(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *v = t->value;
	size_t n = t->value_len, at = n;
	for (size_t i = n; i-- > 0;)
		if (v[i] == '@') {
			at = i;
			break;
		}
	if (at == n || at > 64 || n >= sizeof sig->auid)
		return DKIM_SIG_AUID;
	for (size_t i = 0; i < at; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] == 0x7f)
			return DKIM_SIG_AUID;
	if (!dkim_tag_is_domain(v + at + 1, n - at - 1, DKIM_DOMAIN_MAX))
		return DKIM_SIG_AUID;
	memcpy(sig->auid, v, n);
	sig->auid[n] = '\0';
	memcpy(sig->auid_domain, v + at + 1, n - at - 1);
	sig->auid_domain[n - at - 1] = '\0';
	return dkim_sig_within(sig->auid_domain, sig->d) ? DKIM_OK : DKIM_SIG_AUID_DOMAIN;
}

static enum dkim_reason dkim_sig_query(const struct dkim_tag *t)
{
	size_t pos = 0, len;
	const char *item;
	while (dkim_tag_next_item(t->value, t->value_len, &pos, &item, &len))
		if (len == 7 && strncasecmp(item, "dns/txt", 7) == 0)
			return DKIM_OK;
	return DKIM_SIG_QUERY;
}

static enum dkim_reason dkim_sig_algorithm(const struct dkim_tag *t, struct dkim_sig *sig)
{
	if (dkim_tag_is_nocase(t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (dkim_tag_is_nocase(t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (dkim_tag_is_nocase(t, "rsa-sha1"))
		return DKIM_SIG_SHA1; /* RFC 8301 3.1: "MUST NOT" be considered valid */
	else
		return DKIM_SIG_ALGORITHM;
	return DKIM_OK;
}

/* The tags that need only themselves. */
static enum dkim_reason dkim_sig_tags(const struct dkim_tags *tags, struct dkim_sig *sig)
{
	static const char *const required[] = {"v", "a", "b", "bh", "d", "h", "s"};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (dkim_tag_find(tags, required[i]) == NULL)
			return DKIM_SIG_MISSING_TAG;
	if (!dkim_tag_is(dkim_tag_find(tags, "v"), "1"))
		return DKIM_SIG_VERSION;
	enum dkim_reason r = dkim_sig_algorithm(dkim_tag_find(tags, "a"), sig);
	if (r != DKIM_OK)
		return r;
	const struct dkim_tag *t = dkim_tag_find(tags, "c");
	if (t && !dkim_sig_canon(t, sig))
		return DKIM_SIG_CANON;
	if ((r = dkim_sig_headers(dkim_tag_find(tags, "h"), sig)) != DKIM_OK)
		return r;
	t = dkim_tag_find(tags, "bh");
	if (dkim_tag_base64(t->value, t->value_len, sig->bh, sizeof sig->bh) != DKIM_HASH_LEN)
		return DKIM_SIG_BASE64;
	t = dkim_tag_find(tags, "b");
	long bl = dkim_tag_base64(t->value, t->value_len, sig->b, sizeof sig->b);
	if (bl <= 0)
		return DKIM_SIG_BASE64;
	sig->blen = (size_t)bl;
	if ((t = dkim_tag_find(tags, "q")) != NULL && (r = dkim_sig_query(t)) != DKIM_OK)
		return r;
	/* 3.5: l= is at most 76 digits, t= and x= at most 12 */
	if ((t = dkim_tag_find(tags, "l")) != NULL && !(sig->has_l = dkim_sig_number(t, 76, &sig->l)))
		return DKIM_SIG_NUMBER;
	if ((t = dkim_tag_find(tags, "t")) != NULL && !(sig->has_t = dkim_sig_number(t, 12, &sig->t)))
		return DKIM_SIG_NUMBER;
	if ((t = dkim_tag_find(tags, "x")) != NULL && !(sig->has_x = dkim_sig_number(t, 12, &sig->x)))
		return DKIM_SIG_NUMBER;
	if (sig->has_t && sig->has_x && sig->x <= sig->t)
		return DKIM_SIG_EXPIRY_ORDER; /* 3.5 x=: "MUST be greater than" t= */
	return DKIM_OK;
}

/* d= and s= first, so that even a signature refused for another reason
 * can be named in the result. */
static enum dkim_reason dkim_sig_names(const struct dkim_tags *tags, struct dkim_sig *sig)
{
	const struct dkim_tag *d = dkim_tag_find(tags, "d"), *s = dkim_tag_find(tags, "s");
	if (d && dkim_tag_is_domain(d->value, d->value_len, DKIM_DOMAIN_MAX)) {
		memcpy(sig->d, d->value, d->value_len);
		sig->d[d->value_len] = '\0';
	}
	if (s && dkim_tag_is_domain(s->value, s->value_len, DKIM_SELECTOR_MAX)) {
		memcpy(sig->s, s->value, s->value_len);
		sig->s[s->value_len] = '\0';
	}
	if (d == NULL || s == NULL)
		return DKIM_SIG_MISSING_TAG;
	if (sig->d[0] == '\0')
		return DKIM_SIG_DOMAIN;
	/* the key's name, s._domainkey.d, must be a DNS name too */
	if (sig->s[0] == '\0' || strlen(sig->s) + strlen("._domainkey.") + strlen(sig->d) > DKIM_DOMAIN_MAX)
		return DKIM_SIG_SELECTOR;
	return DKIM_OK;
}

enum dkim_reason dkim_sig_parse(const char *field, size_t n, struct dkim_sig *sig)
{
	memset(sig, 0, sizeof *sig);
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE; /* 3.5 c=: the default */
	if (n > DKIM_FIELD_MAX)
		return DKIM_SIG_TOO_LONG;
	const char *colon = memchr(field, ':', n);
	if (colon == NULL)
		return DKIM_SIG_SYNTAX;
	size_t vo = (size_t)(colon - field) + 1;
	struct dkim_tags tags;
	enum dkim_reason r = dkim_sig_tag_status(dkim_tag_parse(field + vo, n - vo, &tags));
	if (r != DKIM_OK)
		return r;
	if ((r = dkim_sig_names(&tags, sig)) != DKIM_OK)
		return r;
	if ((r = dkim_sig_tags(&tags, sig)) != DKIM_OK)
		return r;
	const struct dkim_tag *t = dkim_tag_find(&tags, "i");
	if (t != NULL) {
		if ((r = dkim_sig_auid(t, sig)) != DKIM_OK)
			return r;
	} else {
		/* 3.5 i=: the default is an empty local part at d= */
		sig->auid[0] = '@';
		memcpy(sig->auid + 1, sig->d, strlen(sig->d) + 1);
		memcpy(sig->auid_domain, sig->d, strlen(sig->d) + 1);
	}
	t = dkim_tag_find(&tags, "b");
	sig->b_start = vo + t->raw_start;
	sig->b_end = vo + t->raw_end;
	return DKIM_OK;
}

enum dkim_reason dkim_sig_check_time(const struct dkim_sig *sig, int64_t now)
{
	uint64_t t = now < 0 ? 0 : (uint64_t)now;
	if (sig->has_x && t > sig->x)
		return DKIM_SIG_EXPIRED;
	if (sig->has_t && sig->t > t && sig->t - t > DKIM_CLOCK_SKEW)
		return DKIM_SIG_FUTURE;
	return DKIM_OK;
}
