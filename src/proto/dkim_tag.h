/*
 * dkim_tag — the tag=value list of RFC 6376 3.2, shared by the
 * DKIM-Signature field (3.5) and the key record (3.6.1); and the base64
 * of RFC 6376 2.4, which may carry folding whitespace.
 *
 * Pure: the parse keeps pointers into the caller's text, which must
 * outlive the result. Bounded: at most DKIM_TAG_MAX tags.
 */
#ifndef TERN_DKIM_TAG_H
#define TERN_DKIM_TAG_H

#include <stdbool.h>
#include <stddef.h>

#define DKIM_TAG_MAX 32 /* 3.5 defines 14 tags, 3.6.1 seven */

struct dkim_tag {
	const char *name;  /* case matters (3.2: "tags ... are case-sensitive") */
	size_t name_len;
	const char *value; /* without the FWS around it; may be empty */
	size_t value_len;
	/* Offsets in the parsed text of the octet after '=' and of the ';'
	 * ending this tag-spec (the text's length for the last one): what
	 * is removed to blank b= (RFC 6376 3.7). */
	size_t raw_start, raw_end;
};

struct dkim_tags {
	struct dkim_tag t[DKIM_TAG_MAX];
	size_t n;
};

enum dkim_tag_status {
	DKIM_TAG_OK = 0,
	DKIM_TAG_SYNTAX,    /* not a tag-list */
	DKIM_TAG_DUPLICATE, /* 3.2: "Tags with duplicate names MUST NOT occur" */
	DKIM_TAG_TOO_MANY,
};

/*
 * Parse s[0..n) as a tag-list. Folding whitespace is CRLF or a bare LF
 * (a field as stored in a Maildir) followed by WSP. A ';' after the last
 * tag-spec is allowed, and so is whitespace after it (key records often
 * end "p=...; "). An empty list, an empty tag-spec (";;") or an octet
 * outside VALCHAR in a value is a syntax error.
 */
enum dkim_tag_status dkim_tag_parse(const char *s, size_t n, struct dkim_tags *out);

/* The tag called name, or NULL. */
const struct dkim_tag *dkim_tag_find(const struct dkim_tags *tags, const char *name);

/* Does the value equal word exactly (case-sensitive) / ignoring case? */
bool dkim_tag_is(const struct dkim_tag *t, const char *word);
bool dkim_tag_is_nocase(const struct dkim_tag *t, const char *word);

/*
 * Decode base64 in which whitespace and folding may appear anywhere
 * (RFC 6376 2.4, 3.5 b=). At most outmax octets. Returns the length, or
 * -1 on bad base64, an empty value, or an overlong one.
 */
long dkim_tag_base64(const char *v, size_t n, unsigned char *out, size_t outmax);

/*
 * Walk a colon-separated list ("h=from:to", "q=dns/txt", "t=y:s") with
 * FWS allowed around the colons. *pos starts at 0; each call gives the
 * next element (without its whitespace) and returns true, or false at
 * the end. An empty element comes back with *len 0, for the caller to
 * judge.
 */
bool dkim_tag_next_item(const char *v, size_t n, size_t *pos, const char **item, size_t *len);

/* A DNS name for d= or s=: labels of letters, digits, '-' and '_'
 * (selectors may use it, RFC 6376 3.1) of 1 to 63 octets, dots between
 * them, no final dot, at most max octets. */
bool dkim_tag_is_domain(const char *s, size_t n, size_t max);

#endif
