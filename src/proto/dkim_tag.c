/*
 * dkim_tag — RFC 6376 3.2 tag-lists. See dkim_tag.h.
 *
 *   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  =  ALPHA *ALNUMPUNC
 *   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      =  1*VALCHAR        ; %x21-3A / %x3C-7E
 */
#include "proto/dkim_tag.h"

#include <string.h>
#include <strings.h>

#include "base/base64.h"

static bool dkim_tag_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Skip FWS from i: WSP, and a line break (CRLF or LF) only when WSP
 * follows it, as in a folded header field. */
static size_t dkim_tag_skip_fws(const char *s, size_t n, size_t i)
{
	for (;;) {
		if (i < n && dkim_tag_is_wsp(s[i])) {
			i++;
		} else if (i + 2 < n && s[i] == '\r' && s[i + 1] == '\n' && dkim_tag_is_wsp(s[i + 2])) {
			i += 3;
		} else if (i + 1 < n && s[i] == '\n' && dkim_tag_is_wsp(s[i + 1])) {
			i += 2;
		} else {
			return i;
		}
	}
}

static bool dkim_tag_is_valchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

static bool dkim_tag_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool dkim_tag_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

enum dkim_tag_status dkim_tag_parse(const char *s, size_t n, struct dkim_tags *out)
{
	out->n = 0;
	size_t i = 0;
	for (;;) {
		i = dkim_tag_skip_fws(s, n, i);
		if (i == n)
			/* empty list, or whitespace after the final ';' */
			return out->n > 0 ? DKIM_TAG_OK : DKIM_TAG_SYNTAX;
		if (!dkim_tag_is_alpha((unsigned char)s[i]))
			return DKIM_TAG_SYNTAX;
		size_t name = i;
		while (i < n && (dkim_tag_is_alpha((unsigned char)s[i]) || dkim_tag_is_digit((unsigned char)s[i]) ||
		                 s[i] == '_'))
			i++;
		size_t name_len = i - name;
		i = dkim_tag_skip_fws(s, n, i);
		if (i == n || s[i] != '=')
			return DKIM_TAG_SYNTAX;
		i++;
		size_t raw_start = i;
		i = dkim_tag_skip_fws(s, n, i);
		size_t value = i, value_end = i;
		/* tvals separated by FWS; value_end follows the last tval */
		while (i < n && s[i] != ';') {
			if (dkim_tag_is_valchar((unsigned char)s[i])) {
				i++;
				value_end = i;
				continue;
			}
			size_t j = dkim_tag_skip_fws(s, n, i);
			if (j == i)
				return DKIM_TAG_SYNTAX; /* a control, 8-bit octet or a bare line end */
			i = j;
		}
		if (out->n == DKIM_TAG_MAX)
			return DKIM_TAG_TOO_MANY;
		for (size_t k = 0; k < out->n; k++)
			if (out->t[k].name_len == name_len && memcmp(out->t[k].name, s + name, name_len) == 0)
				return DKIM_TAG_DUPLICATE;
		struct dkim_tag *t = &out->t[out->n++];
		t->name = s + name;
		t->name_len = name_len;
		t->value = s + value;
		t->value_len = value_end - value;
		t->raw_start = raw_start;
		t->raw_end = i;
		if (i == n)
			return DKIM_TAG_OK;
		i++; /* the ';' */
	}
}

const struct dkim_tag *dkim_tag_find(const struct dkim_tags *tags, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < tags->n; i++)
		if (tags->t[i].name_len == len && memcmp(tags->t[i].name, name, len) == 0)
			return &tags->t[i];
	return NULL;
}

bool dkim_tag_is(const struct dkim_tag *t, const char *word)
{
	size_t len = strlen(word);
	return t->value_len == len && memcmp(t->value, word, len) == 0;
}

bool dkim_tag_is_nocase(const struct dkim_tag *t, const char *word)
{
	size_t len = strlen(word);
	return t->value_len == len && strncasecmp(t->value, word, len) == 0;
}

/* Room for the digits of DKIM_KEY_P_MAX octets and then some. */
#define DKIM_TAG_B64_MAX 4096

long dkim_tag_base64(const char *v, size_t n, unsigned char *out, size_t outmax)
{
	char digits[DKIM_TAG_B64_MAX];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (k == sizeof digits)
			return -1;
		digits[k++] = c;
	}
	if (k == 0)
		return -1;
	return base64_decode(digits, k, out, outmax);
}

bool dkim_tag_next_item(const char *v, size_t n, size_t *pos, const char **item, size_t *len)
{
	size_t i = *pos;
	if (i > n)
		return false;
	i = dkim_tag_skip_fws(v, n, i);
	size_t start = i, end = i;
	while (i < n && v[i] != ':') {
		if (!dkim_tag_is_wsp(v[i]) && v[i] != '\r' && v[i] != '\n')
			end = i + 1;
		i++;
	}
	*item = v + start;
	*len = end - start;
	/* past the ':' — or past the end, so the next call says "no more" */
	*pos = i + 1;
	return true;
}

bool dkim_tag_is_domain(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!dkim_tag_is_alpha(c) && !dkim_tag_is_digit(c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}
