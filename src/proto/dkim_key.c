/*
 * dkim_key — DKIM key records, RFC 6376 3.6.1 and RFC 8463 4. See
 * dkim_key.h. Owns nothing.
 */
#include "proto/dkim_key.h"

#include <string.h>
#include <strings.h>

#include "proto/dkim_tag.h"

static bool dkim_key_item_is(const char *item, size_t len, const char *word)
{
	size_t wl = strlen(word);
	return len == wl && strncasecmp(item, word, wl) == 0;
}

/* Does the colon-separated list v hold word (without case)? */
static bool dkim_key_list_has(const struct dkim_tag *t, const char *word)
{
	size_t pos = 0, len;
	const char *item;
	while (dkim_tag_next_item(t->value, t->value_len, &pos, &item, &len))
		if (dkim_key_item_is(item, len, word))
			return true;
	return false;
}

enum dkim_reason dkim_key_parse(const char *rec, size_t n, struct dkim_key *key)
{
	memset(key, 0, sizeof *key);
	key->type = DKIM_KEY_RSA;
	key->sha256 = true;
	if (n > DKIM_KEY_RECORD_MAX)
		return DKIM_KEY_SYNTAX;
	struct dkim_tags tags;
	switch (dkim_tag_parse(rec, n, &tags)) {
	case DKIM_TAG_OK: break;
	case DKIM_TAG_DUPLICATE: return DKIM_KEY_DUPLICATE_TAG;
	default: return DKIM_KEY_SYNTAX;
	}
	const struct dkim_tag *t = dkim_tag_find(&tags, "v");
	/* 3.6.1 v=: "If specified, this tag MUST be set to "DKIM1" ... and
	 * MUST be the first tag in the record." */
	if (t && (t != &tags.t[0] || !dkim_tag_is(t, "DKIM1")))
		return DKIM_KEY_VERSION;
	if ((t = dkim_tag_find(&tags, "k")) != NULL) {
		if (dkim_tag_is_nocase(t, "rsa"))
			key->type = DKIM_KEY_RSA;
		else if (dkim_tag_is_nocase(t, "ed25519"))
			key->type = DKIM_KEY_ED25519;
		else
			return DKIM_KEY_TYPE;
	}
	if ((t = dkim_tag_find(&tags, "h")) != NULL)
		key->sha256 = dkim_key_list_has(t, "sha256");
	if ((t = dkim_tag_find(&tags, "s")) != NULL && !dkim_key_list_has(t, "email") && !dkim_key_list_has(t, "*"))
		return DKIM_KEY_SERVICE;
	if ((t = dkim_tag_find(&tags, "t")) != NULL) {
		key->testing = dkim_key_list_has(t, "y");
		key->strict = dkim_key_list_has(t, "s");
	}
	if ((t = dkim_tag_find(&tags, "p")) == NULL)
		return DKIM_KEY_MISSING;
	if (t->value_len == 0)
		return DKIM_KEY_REVOKED;
	long pl = dkim_tag_base64(t->value, t->value_len, key->p, sizeof key->p);
	if (pl <= 0)
		return DKIM_KEY_BASE64;
	key->plen = (size_t)pl;
	return DKIM_OK;
}

enum dkim_reason dkim_key_accepts(const struct dkim_key *key, const struct dkim_sig *sig)
{
	enum dkim_key_type want = sig->alg == DKIM_ALG_ED25519_SHA256 ? DKIM_KEY_ED25519 : DKIM_KEY_RSA;
	if (key->type != want)
		return DKIM_KEY_ALG_MISMATCH;
	/* 6.1.2 step 6: the key's h= must allow the signature's hash */
	if (!key->sha256)
		return DKIM_KEY_HASH;
	/* 3.6.1 t=s: "the "i=" domain MUST NOT be a subdomain of "d="" */
	if (key->strict && strcasecmp(sig->auid_domain, sig->d) != 0)
		return DKIM_KEY_STRICT;
	return DKIM_OK;
}
