/*
 * mime_imap — the IMAP text of what the MIME layer found: strings
 * (RFC 9051 4.3: quoted, or literal when needed), ENVELOPE and the
 * BODYSTRUCTURE fragments a part's Content-* fields decide (RFC 9051
 * 7.5.2, 9 "body", "envelope"). See mime_internal.h.
 *
 * The choices follow Dovecot's output, which clients know: types,
 * subtypes, parameters and encodings are written as the message wrote
 * them (case kept); a text part without a charset gets ("charset"
 * "us-ascii") (RFC 2045 5.2); a missing encoding is "7bit"; a language
 * is always a list; message/rfc822 is written in lower case; a container
 * past the limits is "application" "octet-stream". Where Dovecot writes
 * a literal for strings that are merely awkward (many quotes, collapsed
 * blanks), a quoted string is written here: literals only for CR, LF
 * and 8-bit octets, which no quoted string may carry.
 *
 * Pure: output goes to the caller's buf.
 */
#include "proto/mime_internal.h"

#include <stdio.h>
#include <string.h>

static const char mime_imap_fffd[] = "\xef\xbf\xbd"; /* U+FFFD for NUL */

int mime_imap_string(struct buf *b, const char *s, size_t n)
{
	size_t nul = 0;
	bool literal = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			nul++;
		if (c == 0 || c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
	}
	int rc;
	if (!literal) {
		rc = buf_putc(b, '"');
		size_t start = 0;
		for (size_t i = 0; i < n; i++) {
			if (s[i] != '"' && s[i] != '\\')
				continue;
			rc |= buf_append(b, s + start, i - start);
			rc |= buf_putc(b, '\\');
			start = i;
		}
		rc |= buf_append(b, s + start, n - start);
		rc |= buf_putc(b, '"');
		return rc < 0 ? -1 : 0;
	}
	/* RFC 9051 4.3: a literal is CHAR8 but NUL */
	if (nul > (SIZE_MAX - n) / 2)
		return -1;
	rc = buf_printf(b, "{%zu}\r\n", n + 2 * nul);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != 0)
			continue;
		rc |= buf_append(b, s + start, i - start);
		rc |= buf_append(b, mime_imap_fffd, 3);
		start = i + 1;
	}
	rc |= buf_append(b, s + start, n - start);
	return rc < 0 ? -1 : 0;
}

int mime_imap_nstring(struct buf *b, struct mime_str s)
{
	if (s.p == NULL)
		return buf_puts(b, "NIL");
	return mime_imap_string(b, s.p, s.n);
}

static bool mime_imap_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int mime_imap_nstring_nolf(struct buf *b, struct mime_str s)
{
	if (s.p == NULL)
		return buf_puts(b, "NIL");
	if (memchr(s.p, '\r', s.n) == NULL && memchr(s.p, '\n', s.n) == NULL)
		return mime_imap_string(b, s.p, s.n);
	struct buf t;
	buf_init(&t, 0);
	int rc = 0;
	for (size_t i = 0; i < s.n && rc == 0; i++) {
		if (s.p[i] != '\r' && s.p[i] != '\n')
			rc = buf_putc(&t, s.p[i]);
		else if (i + 1 < s.n && !mime_imap_is_blank(s.p[i + 1]))
			rc = buf_putc(&t, ' ');
	}
	if (rc == 0)
		rc = mime_imap_string(b, t.data ? t.data : "", t.len);
	buf_free(&t);
	return rc;
}

int mime_imap_human(struct buf *b, const char *s, size_t n)
{
	struct buf t;
	buf_init(&t, 0);
	int rc = 0;
	bool blank = false;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (mime_imap_is_blank(s[i])) {
			blank = true;
			continue;
		}
		if (blank && t.len > 0)
			rc = buf_putc(&t, ' ');
		blank = false;
		if (rc == 0)
			rc = buf_putc(&t, s[i]);
	}
	if (rc == 0)
		rc = mime_imap_string(b, t.data ? t.data : "", t.len);
	buf_free(&t);
	return rc;
}

/* body-fld-param: ("name" "value" ...) or NIL; a text part always names
 * its charset (RFC 2045 5.2). */
static int mime_imap_params(struct buf *b, const struct mime_param *ps, size_t n, bool text)
{
	bool charset = false;
	if (n == 0 && !text)
		return buf_puts(b, "NIL");
	int rc = buf_putc(b, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			rc |= buf_putc(b, ' ');
		if (mime_field_ieq(ps[i].name.p, ps[i].name.n, "charset"))
			charset = true;
		rc |= mime_imap_string(b, ps[i].name.p, ps[i].name.n);
		rc |= buf_putc(b, ' ');
		rc |= mime_imap_string(b, ps[i].value.p, ps[i].value.n);
	}
	if (text && !charset)
		rc |= buf_puts(b, n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	rc |= buf_putc(b, ')');
	return rc < 0 ? -1 : 0;
}

int mime_imap_body_head(struct buf *b, const struct mime_content *c)
{
	int rc;
	if (c->kind == MIME_KIND_MULTIPART)
		return mime_imap_string(b, c->subtype.p, c->subtype.n);
	if (c->truncated) {
		rc = buf_puts(b, "\"application\" \"octet-stream\"");
	} else if (c->kind == MIME_KIND_MESSAGE) {
		bool global = !c->defaulted && mime_field_ieq(c->subtype.p, c->subtype.n, "global");
		rc = buf_puts(b, global ? "\"message\" \"global\"" : "\"message\" \"rfc822\"");
	} else {
		rc = mime_imap_string(b, c->type.p, c->type.n);
		rc |= buf_putc(b, ' ');
		rc |= mime_imap_string(b, c->subtype.p, c->subtype.n);
	}
	rc |= buf_putc(b, ' ');
	/* an opaque container's own parameters (its boundary) describe
	 * nothing that is shown */
	if (c->truncated)
		rc |= buf_puts(b, "NIL");
	else
		rc |= mime_imap_params(b, c->params, c->nparams, c->kind == MIME_KIND_TEXT);
	rc |= buf_putc(b, ' ');
	rc |= mime_imap_nstring_nolf(b, c->id);
	rc |= buf_putc(b, ' ');
	rc |= mime_imap_nstring_nolf(b, c->description);
	rc |= buf_putc(b, ' ');
	if (c->encoding.p)
		rc |= mime_imap_string(b, c->encoding.p, c->encoding.n);
	else
		rc |= buf_puts(b, "\"7bit\"");
	return rc < 0 ? -1 : 0;
}

int mime_imap_body_ext(struct buf *b, const struct mime_content *c)
{
	int rc = buf_putc(b, ' ');
	if (c->kind == MIME_KIND_MULTIPART)
		rc |= mime_imap_params(b, c->params, c->nparams, false);
	else
		rc |= mime_imap_nstring_nolf(b, c->md5);
	/* body-fld-dsp (RFC 2183) */
	rc |= buf_putc(b, ' ');
	if (c->disposition.p) {
		rc |= buf_putc(b, '(');
		rc |= mime_imap_string(b, c->disposition.p, c->disposition.n);
		rc |= buf_putc(b, ' ');
		rc |= mime_imap_params(b, c->dparams, c->ndparams, false);
		rc |= buf_putc(b, ')');
	} else {
		rc |= buf_puts(b, "NIL");
	}
	/* body-fld-lang (RFC 3282) */
	rc |= buf_putc(b, ' ');
	if (c->nlanguages > 0) {
		rc |= buf_putc(b, '(');
		for (size_t i = 0; i < c->nlanguages; i++) {
			if (i > 0)
				rc |= buf_putc(b, ' ');
			rc |= mime_imap_string(b, c->languages[i].p, c->languages[i].n);
		}
		rc |= buf_putc(b, ')');
	} else {
		rc |= buf_puts(b, "NIL");
	}
	/* body-fld-loc (RFC 2557) */
	rc |= buf_putc(b, ' ');
	rc |= mime_imap_nstring_nolf(b, c->location);
	return rc < 0 ? -1 : 0;
}

static const char *const mime_imap_env_names[MIME_ENV_N] = {
	[MIME_ENV_DATE] = "Date",
	[MIME_ENV_SUBJECT] = "Subject",
	[MIME_ENV_FROM] = "From",
	[MIME_ENV_SENDER] = "Sender",
	[MIME_ENV_REPLY_TO] = "Reply-To",
	[MIME_ENV_TO] = "To",
	[MIME_ENV_CC] = "Cc",
	[MIME_ENV_BCC] = "Bcc",
	[MIME_ENV_IN_REPLY_TO] = "In-Reply-To",
	[MIME_ENV_MESSAGE_ID] = "Message-ID",
};

enum mime_env_field mime_imap_env_which(const char *name, size_t n)
{
	for (int i = 0; i < MIME_ENV_N; i++)
		if (mime_field_ieq(name, n, mime_imap_env_names[i]))
			return (enum mime_env_field)i;
	return MIME_ENV_N;
}

bool mime_imap_env_is_addr(enum mime_env_field f)
{
	return f >= MIME_ENV_FROM && f <= MIME_ENV_BCC;
}

static int mime_imap_addrs(struct buf *b, struct mime_str list)
{
	if (list.n == 0)
		return buf_puts(b, "NIL");
	int rc = buf_putc(b, '(');
	rc |= buf_append(b, list.p, list.n);
	rc |= buf_putc(b, ')');
	return rc < 0 ? -1 : 0;
}

int mime_imap_envelope(struct buf *b, const struct mime_str v[MIME_ENV_N])
{
	int rc = buf_putc(b, '(');
	rc |= mime_imap_nstring_nolf(b, v[MIME_ENV_DATE]);
	rc |= buf_putc(b, ' ');
	if (v[MIME_ENV_SUBJECT].p)
		rc |= mime_imap_human(b, v[MIME_ENV_SUBJECT].p, v[MIME_ENV_SUBJECT].n);
	else
		rc |= buf_puts(b, "NIL");
	for (int f = MIME_ENV_FROM; f <= MIME_ENV_BCC; f++) {
		struct mime_str list = v[f];
		/* RFC 9051 7.5.2: sender and reply-to default to from */
		if ((f == MIME_ENV_SENDER || f == MIME_ENV_REPLY_TO) && list.n == 0)
			list = v[MIME_ENV_FROM];
		rc |= buf_putc(b, ' ');
		rc |= mime_imap_addrs(b, list);
	}
	rc |= buf_putc(b, ' ');
	rc |= mime_imap_nstring_nolf(b, v[MIME_ENV_IN_REPLY_TO]);
	rc |= buf_putc(b, ' ');
	rc |= mime_imap_nstring_nolf(b, v[MIME_ENV_MESSAGE_ID]);
	rc |= buf_putc(b, ')');
	return rc < 0 ? -1 : 0;
}
