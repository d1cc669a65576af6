/*
 * ar_strip — see ar_strip.h. Works line by line: the start of each
 * header line is kept until it tells what the line is (a continuation,
 * the empty line that ends the section, or the first line of a field
 * and its name); after that the line's octets go to the held field or
 * straight out.
 */
#include "proto/ar_strip.h"

#include <string.h>
#include <strings.h>

#define AR_NAME "Authentication-Results"
#define AR_NAME_LEN (sizeof AR_NAME - 1)

enum ar_judge { AR_MORE, AR_CONT, AR_END, AR_FIELD, AR_OURS_CANDIDATE };

void ar_strip_init(struct ar_strip *s, const char *authserv_id)
{
	memset(s, 0, sizeof *s);
	size_t n = strlen(authserv_id);
	if (n > AR_STRIP_ID_MAX)
		n = AR_STRIP_ID_MAX;
	memcpy(s->id, authserv_id, n);
	buf_init(&s->line, AR_NAME_LEN + 64);
	buf_init(&s->held, AR_STRIP_FIELD_MAX);
}

void ar_strip_free(struct ar_strip *s)
{
	buf_free(&s->line);
	buf_free(&s->held);
}

static bool ar_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* What the start of a header line is, once enough of it is known. */
static enum ar_judge ar_strip_judge(const char *l, size_t n, bool complete)
{
	if (n == 0)
		return complete ? AR_END : AR_MORE;
	if (ar_wsp(l[0]))
		return AR_CONT;
	if (l[0] == '\n' || (l[0] == '\r' && (n > 1 ? l[1] == '\n' : !complete)))
		return n > 1 || complete || l[0] == '\n' ? AR_END : AR_MORE;
	size_t k = n < AR_NAME_LEN ? n : AR_NAME_LEN;
	if (strncasecmp(l, AR_NAME, k) != 0)
		return AR_FIELD;
	if (n < AR_NAME_LEN)
		return complete ? AR_FIELD : AR_MORE;
	/* WSP may stand between the name and the colon (RFC 5322 4.5.1). */
	size_t i = AR_NAME_LEN;
	while (i < n && ar_wsp(l[i]))
		i++;
	if (i == n) /* blanks to the end of what is kept: held, to be safe */
		return !complete ? AR_MORE : n >= AR_NAME_LEN + 64 ? AR_OURS_CANDIDATE : AR_FIELD;
	return l[i] == ':' ? AR_OURS_CANDIDATE : AR_FIELD;
}

/* Skip CFWS (RFC 5322 3.2.2): blanks, line ends and nested comments. */
static size_t ar_skip_cfws(const char *s, size_t n, size_t i)
{
	int depth = 0;
	while (i < n) {
		char c = s[i];
		if (depth > 0 && c == '\\' && i + 1 < n) {
			i += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
		i++;
	}
	return i;
}

bool ar_strip_is_ours(const char *f, size_t n, const char *authserv_id)
{
	const char *colon = memchr(f, ':', n);
	if (colon == NULL)
		return false;
	size_t i = ar_skip_cfws(f, n, (size_t)(colon - f) + 1);
	size_t start = i;
	/* authserv-id is a value: a token or a quoted-string (RFC 8601 2.2). */
	if (i < n && f[i] == '"') {
		char id[AR_STRIP_ID_MAX + 1];
		size_t k = 0;
		for (i++; i < n && f[i] != '"'; i++) {
			if (f[i] == '\\' && i + 1 < n)
				i++;
			if (k == AR_STRIP_ID_MAX)
				return false;
			id[k++] = f[i];
		}
		id[k] = '\0';
		return strcasecmp(id, authserv_id) == 0;
	}
	while (i < n && f[i] != ';' && f[i] != '(' && !ar_wsp(f[i]) && f[i] != '\r' && f[i] != '\n')
		i++;
	size_t len = i - start;
	return len == strlen(authserv_id) && strncasecmp(f + start, authserv_id, len) == 0;
}

/* The held field is complete: out with it unless it is ours. */
static int ar_strip_release(struct ar_strip *s, struct buf *out)
{
	if (!s->holding)
		return 0;
	s->holding = false;
	int rc = 0;
	if (s->too_long || ar_strip_is_ours(s->held.data, s->held.len, s->id))
		s->removed++;
	else
		rc = buf_append(out, s->held.data, s->held.len);
	buf_reset(&s->held);
	s->too_long = false;
	return rc;
}

static int ar_strip_hold(struct ar_strip *s, const char *p, size_t n)
{
	if (s->too_long)
		return 0;
	if (buf_append(&s->held, p, n) < 0) {
		s->too_long = true; /* dropped whole at its end */
		buf_reset(&s->held);
	}
	return 0;
}

/* The start of the current line (in s->line) has been judged: act on it. */
static int ar_strip_act(struct ar_strip *s, enum ar_judge j, struct buf *out)
{
	s->line_judged = true;
	int rc = 0;
	switch (j) {
	case AR_CONT:
		s->line_passes = !s->holding;
		break;
	case AR_END:
		rc = ar_strip_release(s, out);
		s->body = true;
		s->line_passes = true;
		break;
	case AR_OURS_CANDIDATE:
		rc = ar_strip_release(s, out);
		s->holding = true;
		s->line_passes = false;
		break;
	default:
		rc = ar_strip_release(s, out);
		s->line_passes = true;
		break;
	}
	if (rc < 0)
		return -1;
	rc = s->line_passes ? buf_append(out, s->line.data, s->line.len) : ar_strip_hold(s, s->line.data, s->line.len);
	buf_reset(&s->line);
	return rc;
}

int ar_strip_feed(struct ar_strip *s, const char *p, size_t n, struct buf *out)
{
	while (n > 0) {
		if (s->body)
			return buf_append(out, p, n);
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		if (!s->line_judged) {
			/* Collect the start of the line until it can be judged. */
			size_t room = AR_NAME_LEN + 64 - s->line.len;
			size_t k = take < room ? take : room;
			if (buf_append(&s->line, p, k) < 0)
				return -1;
			p += k;
			n -= k;
			take -= k;
			bool complete = (nl && take == 0) || s->line.len == AR_NAME_LEN + 64;
			enum ar_judge j = ar_strip_judge(s->line.data, s->line.len, complete);
			if (j == AR_MORE)
				continue;
			if (ar_strip_act(s, j, out) < 0)
				return -1;
			if (s->line.len == 0 && nl && take == 0) {
				s->line_judged = false; /* the line ended with what was judged */
				continue;
			}
		}
		if (take) {
			int rc = s->line_passes ? buf_append(out, p, take) : ar_strip_hold(s, p, take);
			if (rc < 0)
				return -1;
			p += take;
			n -= take;
		}
		if (nl)
			s->line_judged = false;
	}
	return 0;
}

int ar_strip_finish(struct ar_strip *s, struct buf *out)
{
	if (!s->body && !s->line_judged && s->line.len) {
		if (ar_strip_act(s, ar_strip_judge(s->line.data, s->line.len, true), out) < 0)
			return -1;
	}
	return ar_strip_release(s, out);
}
