/*
 * imap_server_out — writing IMAP data (RFC 9051 4: atoms, quoted
 * strings, literals; flag lists) and turning folder names between the
 * client's form and the store's.
 *
 * A string goes out as an atom when every octet is an ASTRING-CHAR, as a
 * quoted string when it is printable (and, for IMAP4rev2 and UTF8=ACCEPT
 * sessions, valid UTF-8: RFC 9051 4.3, RFC 6855 3), and as a literal
 * otherwise, so that no value can break the response's syntax.
 *
 * Folder names (RFC 9051 5.1): on disk and in the ops they are modified
 * UTF-7 (CONTRACT.md "Folders"); IMAP4rev2 clients see and send UTF-8.
 * An IMAP4rev1 client that sends raw UTF-8 (as some do) has it accepted
 * and encoded, as Dovecot does; anything that is neither is refused.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_server_int.h"
#include "proto/imap_utf7.h"

static bool imap_is_astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL; /* atom-specials but "]" (resp-specials is fine in astring) */
}

static void imap_put_str(struct buf *out, const char *p, size_t n, bool atom_ok, bool utf8)
{
	const unsigned char *u = (const unsigned char *)p;
	bool atom = atom_ok && n > 0 && !(n == 3 && strncasecmp(p, "NIL", 3) == 0);
	bool printable = true;
	for (size_t i = 0; i < n; i++) {
		if (!imap_is_astring_char(u[i]))
			atom = false;
		if (u[i] < 0x20 || u[i] >= 0x7f)
			printable = false;
	}
	if (atom) {
		buf_append(out, p, n);
		return;
	}
	if (printable || (utf8 && imap_utf8_is_valid_name(p, n))) {
		buf_putc(out, '"');
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '"' || p[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, p[i]);
		}
		buf_putc(out, '"');
		return;
	}
	buf_printf(out, "{%zu}\r\n", n);
	buf_append(out, p, n);
}

void imap_put_astring(struct buf *out, const char *p, size_t n)
{
	imap_put_str(out, p, n, true, false);
}

void imap_put_string(struct buf *out, const char *p, size_t n)
{
	imap_put_str(out, p, n, false, false);
}

void imap_put_nstring(struct buf *out, const char *p, size_t n)
{
	if (p == NULL)
		buf_puts(out, "NIL");
	else
		imap_put_str(out, p, n, false, false);
}

bool imap_name_to_utf8(const char *store_name, char *out, size_t outlen)
{
	return imap_utf7_to_utf8(store_name, strlen(store_name), out, outlen) == 0;
}

void imap_put_mailbox(struct imap_server *s, struct buf *out, const char *store_name)
{
	if (s->utf8) {
		char u[IMAP_NAME_MAX * 4 + 1];
		if (imap_name_to_utf8(store_name, u, sizeof u)) {
			imap_put_str(out, u, strlen(u), true, true);
			return;
		}
	}
	imap_put_str(out, store_name, strlen(store_name), true, false);
}

void imap_put_flags(struct imap_server *s, struct buf *out, unsigned flags, imap_keywords kw)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sys[] = {
		{IMAP_FLAG_ANSWERED, "\\Answered"}, {IMAP_FLAG_FLAGGED, "\\Flagged"}, {IMAP_FLAG_DELETED, "\\Deleted"},
		{IMAP_FLAG_SEEN, "\\Seen"},         {IMAP_FLAG_DRAFT, "\\Draft"},     {IMAP_FLAG_RECENT, "\\Recent"},
	};
	bool first = true;
	buf_putc(out, '(');
	for (size_t i = 0; i < sizeof sys / sizeof *sys; i++) {
		if (!(flags & sys[i].bit) || (sys[i].bit == IMAP_FLAG_RECENT && s->rev2))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, sys[i].name);
		first = false;
	}
	for (size_t i = 0; i < s->info.nkeywords && i < IMAP_KEYWORDS_MAX; i++) {
		if (!(kw & ((imap_keywords)1 << i)))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, s->info.keywords[i]);
		first = false;
	}
	buf_putc(out, ')');
}

int imap_mailbox_convert(struct imap_server *s, const struct imap_arg *a, char *out, size_t outlen)
{
	char raw[IMAP_NAME_MAX * 4 + 1];
	if (!imap_arg_astring(a, raw, sizeof raw))
		return a->type == IMAP_ARG_LIST ? -1 : -2; /* a list is no name; an astring too long or with NUL */
	size_t n = strlen(raw);
	if (strcasecmp(raw, "INBOX") == 0) {
		snprintf(out, outlen, "INBOX");
		return 0;
	}
	bool eight = false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)raw[i] >= 0x80)
			eight = true;
	int rc;
	if (s->utf8 || eight)
		rc = imap_utf8_is_valid_name(raw, n) ? imap_utf8_to_utf7(raw, n, out, outlen) : -1;
	else
		rc = imap_utf7_is_valid(raw, n) && n < outlen ? (memcpy(out, raw, n + 1), 0) : -1;
	if (rc < 0 || !imap_server_name_ok(out, strlen(out)))
		return -2;
	/* "inbox.x" and "INBOX.x" are one folder, as INBOX is one. */
	if (strncasecmp(out, "INBOX.", 6) == 0)
		memcpy(out, "INBOX", 5);
	return 0;
}

bool imap_get_mailbox(struct imap_server *s, const struct imap_arg *a, char *out, size_t outlen)
{
	int rc = imap_mailbox_convert(s, a, out, outlen);
	if (rc == -1)
		imap_bad(s, "Invalid mailbox name");
	else if (rc < 0)
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
	return rc == 0;
}
