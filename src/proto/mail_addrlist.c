/*
 * mail_addrlist — header fields and address lists. See mail_addrlist.h.
 *
 * Owns RFC 5322 2.2 (field = name ":" body; a line that starts with WSP
 * continues the previous field: 2.2.3 unfolding), 3.2.2 (comments, nested,
 * with quoted-pairs), 3.2.4 (quoted strings) and 3.4 (address-list,
 * mailbox, name-addr, angle-addr, group; the obsolete source route of
 * 4.4 is dropped). Lines may end in LF or CR LF. Must not do I/O.
 */
#include "proto/mail_addrlist.h"

#include <string.h>
#include <strings.h>

#define MAIL_ADDRLIST_ADDR_MAX 1024 /* octets kept of one address; more is not a mailbox anyway */

/* The line at pos: its content length (line ending excluded) and where
 * the next one starts. */
static size_t mail_addrlist_line(const char *msg, size_t n, size_t pos, size_t *next)
{
	const char *lf = memchr(msg + pos, '\n', n - pos);
	size_t end = lf ? (size_t)(lf - msg) : n;
	*next = lf ? end + 1 : n;
	size_t len = end - pos;
	if (len > 0 && msg[end - 1] == '\r')
		len--;
	return len;
}

static bool mail_addrlist_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 2.2: field-name = 1*ftext (printable ASCII but ':'), then the
 * colon (obsolete syntax allows WSP before it). Returns the offset after
 * the colon, or 0 when the line is not a field. */
static size_t mail_addrlist_field_colon(const char *l, size_t len)
{
	size_t i = 0;
	while (i < len && (unsigned char)l[i] > 32 && (unsigned char)l[i] < 127 && l[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (i < len && mail_addrlist_is_wsp(l[i]))
		i++;
	return i < len && l[i] == ':' ? i + 1 : 0;
}

/* Is the line a field called `name`? */
static bool mail_addrlist_field_is(const char *l, size_t len, const char *name)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(l, name, nl) != 0)
		return false;
	size_t i = nl;
	while (i < len && mail_addrlist_is_wsp(l[i]))
		i++;
	return i < len && l[i] == ':';
}

size_t mail_addrlist_header_len(const char *msg, size_t n)
{
	size_t pos = 0;
	while (pos < n) {
		size_t next;
		size_t len = mail_addrlist_line(msg, n, pos, &next);
		if (len == 0)
			return next; /* the empty line belongs to the header section */
		if (mail_addrlist_is_wsp(msg[pos])) {
			if (pos == 0)
				return 0;
		} else if (mail_addrlist_field_colon(msg + pos, len) == 0) {
			return pos; /* not a header line: the body starts here */
		}
		pos = next;
	}
	return n;
}

int mail_addrlist_field(const char *hdr, size_t hlen, const char *name, struct buf *out)
{
	int count = 0;
	size_t pos = 0;
	while (pos < hlen) {
		size_t next;
		size_t len = mail_addrlist_line(hdr, hlen, pos, &next);
		if (len == 0 || mail_addrlist_is_wsp(hdr[pos]) || !mail_addrlist_field_is(hdr + pos, len, name)) {
			pos = next;
			continue;
		}
		size_t colon = mail_addrlist_field_colon(hdr + pos, len);
		if ((count > 0 && buf_puts(out, ", ") < 0) || buf_append(out, hdr + pos + colon, len - colon) < 0)
			return -1;
		count++;
		pos = next;
		/* RFC 5322 2.2.3: unfolding removes the line break, keeps the WSP */
		while (pos < hlen && mail_addrlist_is_wsp(hdr[pos])) {
			len = mail_addrlist_line(hdr, hlen, pos, &next);
			if (buf_append(out, hdr + pos, len) < 0)
				return -1;
			pos = next;
		}
	}
	return count;
}

struct mail_addrlist_acc {
	char plain[MAIL_ADDRLIST_ADDR_MAX]; /* outside <>: an addr-spec, or a display name */
	char angle[MAIL_ADDRLIST_ADDR_MAX]; /* inside <> */
	size_t plen, alen;
	bool has_angle, in_angle, overflow;
};

static void mail_addrlist_add(struct mail_addrlist_acc *a, char c)
{
	char *b = a->in_angle ? a->angle : a->plain;
	size_t *len = a->in_angle ? &a->alen : &a->plen;
	if (*len + 1 >= MAIL_ADDRLIST_ADDR_MAX) {
		a->overflow = true;
		return;
	}
	b[(*len)++] = c;
}

static void mail_addrlist_emit(struct mail_addrlist_acc *a, void (*cb)(void *arg, const char *addr, size_t len),
                               void *arg)
{
	const char *s = a->has_angle ? a->angle : a->plain;
	size_t n = a->has_angle ? a->alen : a->plen;
	/* RFC 5322 4.4: obs-route "@a,@b:" before the address is dropped */
	if (n > 0 && s[0] == '@') {
		const char *colon = memchr(s, ':', n);
		if (colon) {
			n -= (size_t)(colon + 1 - s);
			s = colon + 1;
		} else {
			n = 0;
		}
	}
	if (n > 0 && !a->overflow)
		cb(arg, s, n);
	memset(a, 0, sizeof *a);
}

void mail_addrlist_parse(const char *s, size_t n, void (*cb)(void *arg, const char *addr, size_t len), void *arg)
{
	struct mail_addrlist_acc a;
	int depth = 0;     /* comment nesting */
	bool quoted = false;
	memset(&a, 0, sizeof a);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (quoted) {
			mail_addrlist_add(&a, c);
			if (c == '\\' && i + 1 < n)
				mail_addrlist_add(&a, s[++i]);
			else if (c == '"')
				quoted = false;
			continue;
		}
		switch (c) {
		case '"':
			quoted = true;
			mail_addrlist_add(&a, c);
			break;
		case '(':
			depth = 1;
			break;
		case '<':
			a.in_angle = a.has_angle = true;
			a.alen = 0;
			break;
		case '>':
			a.in_angle = false;
			break;
		case ',':
		case ';':
			if (a.in_angle) /* the obs-route list inside <> */
				mail_addrlist_add(&a, c);
			else
				mail_addrlist_emit(&a, cb, arg);
			break;
		case ':':
			if (a.in_angle)
				mail_addrlist_add(&a, c);
			else
				memset(&a, 0, sizeof a); /* what came before was a group's name */
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break; /* folding white space outside quoted strings */
		default:
			mail_addrlist_add(&a, c);
			break;
		}
	}
	mail_addrlist_emit(&a, cb, arg);
}

size_t mail_addrlist_remove_field(char *msg, size_t n, const char *name)
{
	size_t hlen = mail_addrlist_header_len(msg, n);
	size_t pos = 0, w = 0;
	bool skip = false;
	while (pos < hlen) {
		size_t next;
		size_t len = mail_addrlist_line(msg, hlen, pos, &next);
		if (len == 0 || !mail_addrlist_is_wsp(msg[pos]))
			skip = len > 0 && mail_addrlist_field_is(msg + pos, len, name);
		if (!skip) {
			memmove(msg + w, msg + pos, next - pos);
			w += next - pos;
		}
		pos = next;
	}
	memmove(msg + w, msg + hlen, n - hlen);
	return w + (n - hlen);
}
