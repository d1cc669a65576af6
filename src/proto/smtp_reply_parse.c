/*
 * smtp_reply_parse — reads server replies. See smtp_reply_parse.h.
 *
 * Owns the Reply-line grammar of RFC 5321 4.2 ("Reply-code [ SP textstring ]
 * CRLF", with "-" instead of SP on every line but the last of a multi-line
 * reply, 4.2.1), the reply-code digits of 4.2 and 4.2.1, the enhanced status
 * code syntax of RFC 3463 2 (class "." subject "." detail, the class equal
 * to the reply's first digit), and the EHLO keyword list of 4.1.1.1.
 *
 * Pure: no I/O, no clock. A reply is data the client acts on, so anything
 * that is not clearly a reply stops the session (the caller closes): a
 * client that guesses at garbage can be steered by whoever injects it.
 */
#include "proto/smtp_reply_parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void smtp_reply_parse_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->reply.raw, SMTP_REPLY_TEXT_MAX);
	buf_init(&p->reply.text, SMTP_REPLY_TEXT_MAX);
	buf_init(&p->line, SMTP_REPLY_LINE_LENIENT);
}

void smtp_reply_parse_free(struct smtp_reply_parser *p)
{
	buf_free(&p->reply.raw);
	buf_free(&p->reply.text);
	buf_free(&p->line);
}

static void smtp_reply_parse_reset_reply(struct smtp_response *r)
{
	r->code = 0;
	r->status[0] = '\0';
	r->nlines = 0;
	buf_reset(&r->raw);
	buf_reset(&r->text);
}

bool smtp_reply_parse_is_partial(const struct smtp_reply_parser *p)
{
	return !p->done && (p->line.len > 0 || p->reply.nlines > 0);
}

static bool smtp_reply_parse_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * An enhanced status code at t[0..n): "class.subject.detail" with class
 * 2, 4 or 5 equal to the reply code's class (RFC 3463 2, RFC 2034 4),
 * subject and detail 1 to 3 digits, then SP or the end of the line.
 * Returns its length, or 0.
 */
static size_t smtp_reply_parse_status_len(const char *t, size_t n, int code)
{
	if (n < 5 || t[0] != (char)('0' + code / 100) || t[1] != '.')
		return 0;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < n && i - start < 4 && smtp_reply_parse_is_digit(t[i]))
			i++;
		if (i == start || i - start > 3)
			return 0;
		if (part == 0) {
			if (i >= n || t[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && t[i] != ' ')
		return 0;
	return i;
}

/* One line without its line ending: -1 garbage, 0 more lines follow, 1 the
 * reply is complete. */
static int smtp_reply_parse_line(struct smtp_reply_parser *p, const char *l, size_t len)
{
	struct smtp_response *r = &p->reply;
	if (memchr(l, '\0', len) || memchr(l, '\r', len)) {
		p->error = "NUL or bare CR in a reply line";
		return -1;
	}
	/* RFC 5321 4.2: the first digit is 2-5 for replies a client can get
	 * (1yz is unused in SMTP), the second 0-5. */
	if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' || !smtp_reply_parse_is_digit(l[2]) ||
	    (len > 3 && l[3] != ' ' && l[3] != '-')) {
		p->error = "reply line without a reply code";
		return -1;
	}
	int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		/* RFC 5321 4.2.1: every line of a multi-line reply has the same code */
		p->error = "reply code changed within a multi-line reply";
		return -1;
	}
	if (r->nlines >= SMTP_REPLY_LINES_MAX) {
		p->error = "too many lines in one reply";
		return -1;
	}
	const char *t = len > 4 ? l + 4 : "";
	size_t tn = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		size_t sl = smtp_reply_parse_status_len(t, tn, code);
		if (sl > 0 && sl < sizeof r->status) {
			memcpy(r->status, t, sl);
			r->status[sl] = '\0';
		}
	}
	/* RFC 2034 4: every line repeats the status code; keep the text only */
	size_t sl = strlen(r->status);
	if (sl > 0 && tn >= sl && memcmp(t, r->status, sl) == 0 && (tn == sl || t[sl] == ' ')) {
		t += tn == sl ? sl : sl + 1;
		tn -= tn == sl ? sl : sl + 1;
	}
	if ((r->nlines > 0 && (buf_putc(&r->raw, '\n') < 0 || buf_putc(&r->text, '\n') < 0)) ||
	    buf_append(&r->raw, l, len) < 0 || buf_append(&r->text, t, tn) < 0) {
		p->error = "reply too long";
		return -1;
	}
	r->nlines++;
	return len == 3 || l[3] == ' ';
}

enum smtp_reply_parse_result smtp_reply_parse_feed(struct smtp_reply_parser *p, const char *in, size_t n,
                                                   size_t *consumed)
{
	*consumed = 0;
	if (p->failed)
		return SMTP_REPLY_PARSE_ERROR;
	if (p->done) {
		smtp_reply_parse_reset_reply(&p->reply);
		p->done = false;
	}
	size_t i = 0;
	while (i < n) {
		const char *lf = memchr(in + i, '\n', n - i);
		size_t chunk = lf ? (size_t)(lf - (in + i)) + 1 : n - i;
		/* The cap applies before the line is complete (principle 3). */
		if (buf_append(&p->line, in + i, chunk) < 0) {
			p->error = "reply line too long";
			p->failed = true;
			*consumed = i;
			return SMTP_REPLY_PARSE_ERROR;
		}
		i += chunk;
		if (lf == NULL)
			break;
		size_t len = p->line.len - 1;
		if (len > 0 && p->line.data[len - 1] == '\r')
			len--;
		int rc = smtp_reply_parse_line(p, p->line.data, len);
		buf_reset(&p->line);
		if (rc < 0) {
			p->failed = true;
			*consumed = i;
			return SMTP_REPLY_PARSE_ERROR;
		}
		if (rc == 1) {
			p->done = true;
			*consumed = i;
			return SMTP_REPLY_PARSE_DONE;
		}
	}
	*consumed = n;
	return SMTP_REPLY_PARSE_MORE;
}

/* Append c to out (room for n more), escaping control octets. */
static size_t smtp_reply_parse_put(char *out, size_t pos, size_t outlen, unsigned char c)
{
	if (c < 0x20 || c == 0x7f) {
		if (pos + 4 >= outlen)
			return pos;
		snprintf(out + pos, outlen - pos, "\\x%02x", c);
		return pos + 4;
	}
	if (pos + 1 >= outlen)
		return pos;
	out[pos] = (char)c;
	return pos + 1;
}

void smtp_reply_parse_format(const struct smtp_response *r, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	int k = snprintf(out, outlen, "%03d%s%s", r->code, r->status[0] ? " " : "", r->status);
	size_t pos = k < 0 ? 0 : (size_t)k >= outlen ? outlen - 1 : (size_t)k;
	const char *t = r->text.data ? r->text.data : "";
	if (*t && pos + 1 < outlen)
		out[pos++] = ' ';
	for (; *t && pos + 1 < outlen; t++) {
		if (*t == '\n') {
			for (const char *s = " / "; *s && pos + 1 < outlen; s++)
				out[pos++] = *s;
			continue;
		}
		pos = smtp_reply_parse_put(out, pos, outlen, (unsigned char)*t);
	}
	out[pos] = '\0';
}

/* Does the word w[0..n) equal kw, without regard to case? */
static bool smtp_reply_parse_word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

static unsigned smtp_reply_parse_mech(const char *w, size_t n)
{
	if (smtp_reply_parse_word_is(w, n, "PLAIN"))
		return SMTP_AUTH_PLAIN;
	if (smtp_reply_parse_word_is(w, n, "LOGIN"))
		return SMTP_AUTH_LOGIN;
	if (smtp_reply_parse_word_is(w, n, "CRAM-MD5"))
		return SMTP_AUTH_CRAM_MD5;
	if (smtp_reply_parse_word_is(w, n, "XOAUTH2"))
		return SMTP_AUTH_XOAUTH2;
	return n ? SMTP_AUTH_OTHER : 0;
}

/* The mechanisms in s[0..n), separated by blanks. */
static unsigned smtp_reply_parse_mechs(const char *s, size_t n)
{
	unsigned m = 0;
	size_t i = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		m |= smtp_reply_parse_mech(s + start, i - start);
	}
	return m;
}

/* RFC 1870 4: "SIZE" [SP number]; saturates instead of overflowing. */
static uint64_t smtp_reply_parse_size(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < n && s[i] == ' ')
		i++;
	for (; i < n && smtp_reply_parse_is_digit(s[i]); i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return UINT64_MAX;
		v = v * 10 + d;
	}
	return v;
}

static void smtp_reply_parse_keyword(struct smtp_ehlo *e, const char *l, size_t n)
{
	size_t kl = 0;
	while (kl < n && l[kl] != ' ' && l[kl] != '=')
		kl++;
	const char *args = kl < n ? l + kl + 1 : "";
	size_t an = kl < n ? n - kl - 1 : 0;
	if (smtp_reply_parse_word_is(l, kl, "PIPELINING"))
		e->pipelining = true;
	else if (smtp_reply_parse_word_is(l, kl, "8BITMIME"))
		e->eightbitmime = true;
	else if (smtp_reply_parse_word_is(l, kl, "SMTPUTF8"))
		e->smtputf8 = true;
	else if (smtp_reply_parse_word_is(l, kl, "CHUNKING"))
		e->chunking = true;
	else if (smtp_reply_parse_word_is(l, kl, "BINARYMIME"))
		e->binarymime = true;
	else if (smtp_reply_parse_word_is(l, kl, "STARTTLS"))
		e->starttls = true;
	else if (smtp_reply_parse_word_is(l, kl, "ENHANCEDSTATUSCODES"))
		e->enhancedstatuscodes = true;
	else if (smtp_reply_parse_word_is(l, kl, "DSN"))
		e->dsn = true;
	else if (smtp_reply_parse_word_is(l, kl, "AUTH"))
		e->auth |= smtp_reply_parse_mechs(args, an);
	else if (smtp_reply_parse_word_is(l, kl, "SIZE")) {
		e->has_size = true;
		e->size = smtp_reply_parse_size(args, an);
	}
}

void smtp_reply_parse_ehlo(const struct smtp_response *r, struct smtp_ehlo *e)
{
	memset(e, 0, sizeof *e);
	const char *t = r->text.data;
	if (t == NULL)
		return;
	/* the first line is the server's name and a greeting: not a keyword */
	const char *nl = strchr(t, '\n');
	while (nl) {
		const char *l = nl + 1;
		nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		smtp_reply_parse_keyword(e, l, n);
	}
}
