/*
 * mime_addr — address lists (RFC 5322 3.4, with the obsolete syntax of
 * 4.4: routes, phrases with dots, empty list members) turned into the
 * address structures of an IMAP ENVELOPE (RFC 9051 7.5.2, "address"):
 * (name adl mailbox host), a group as a start (NIL NIL "name" NIL) and
 * an end (NIL NIL NIL NIL) around its members. See mime_internal.h.
 *
 * Clients show whatever the server makes of broken addresses, so they
 * are read the way Dovecot reads them: a display name may come from the
 * last comment of a bare addr-spec ("a@b (Name)"); a lone word is a
 * mailbox without a host, several words a name without a mailbox;
 * missing pieces are written MISSING_MAILBOX and MISSING_DOMAIN, an
 * angle address that does not parse has the host SYNTAX_ERROR and a
 * route without its colon INVALID_ROUTE; the list ends at the first
 * text that is no address. Encoded words (RFC 2047) are left as they
 * are, as RFC 9051 wants.
 *
 * Pure: the parse is one pass over the value, no recursion.
 */
#include "proto/mime_internal.h"

#include <string.h>

/* One address being read; every piece is optional. */
struct mime_addr {
	struct buf name, route, mailbox, domain;
	bool has_name, has_route, has_mailbox, has_domain;
	const char *fill_domain; /* a fixed host written instead (SYNTAX_ERROR) */
	const char *fill_route;  /* INVALID_ROUTE */
	bool text;               /* write "name <mailbox@domain>" for SEARCH, not the IMAP form */
};

static void mime_addr_clear(struct mime_addr *a)
{
	buf_reset(&a->name);
	buf_reset(&a->route);
	buf_reset(&a->mailbox);
	buf_reset(&a->domain);
	a->has_name = a->has_route = a->has_mailbox = a->has_domain = false;
	a->fill_domain = a->fill_route = NULL;
}

static int mime_addr_nstr(struct buf *out, bool has, const struct buf *b)
{
	if (!has)
		return buf_puts(out, "NIL");
	return mime_imap_string(out, b->data ? b->data : "", b->len);
}

/* The text SEARCH FROM/TO/CC/BCC match against (as Dovecot does): the
 * address without its comments and folding, "name <mailbox@domain>". */
static int mime_addr_emit_text(struct buf *out, const struct mime_addr *a, size_t *count)
{
	int rc = 0;
	if (out->len > 0)
		rc |= buf_puts(out, ", ");
	if (a->has_name && a->name.len > 0) {
		rc |= buf_append(out, a->name.data, a->name.len);
		rc |= buf_putc(out, ' ');
	}
	rc |= buf_putc(out, '<');
	if (a->has_mailbox && a->mailbox.len)
		rc |= buf_append(out, a->mailbox.data, a->mailbox.len);
	if (a->has_domain && a->domain.len) {
		rc |= buf_putc(out, '@');
		rc |= buf_append(out, a->domain.data, a->domain.len);
	}
	rc |= buf_putc(out, '>');
	(*count)++;
	return rc < 0 ? -1 : 0;
}

/* Write the address, with the fill-ins of a broken one. */
static int mime_addr_emit(struct buf *out, const struct mime_addr *a, size_t *count)
{
	if (a->text)
		return mime_addr_emit_text(out, a, count);
	int rc = buf_putc(out, '(');
	if (a->has_name && a->name.len > 0)
		rc |= mime_imap_human(out, a->name.data, a->name.len);
	else
		rc |= buf_puts(out, "NIL");
	rc |= buf_putc(out, ' ');
	if (a->fill_route)
		rc |= mime_imap_string(out, a->fill_route, strlen(a->fill_route));
	else
		rc |= mime_addr_nstr(out, a->has_route, &a->route);
	rc |= buf_putc(out, ' ');
	if (a->has_mailbox)
		rc |= mime_addr_nstr(out, true, &a->mailbox);
	else
		rc |= buf_puts(out, "\"MISSING_MAILBOX\"");
	rc |= buf_putc(out, ' ');
	if (a->fill_domain)
		rc |= mime_imap_string(out, a->fill_domain, strlen(a->fill_domain));
	else if (a->has_domain && a->domain.len > 0)
		rc |= mime_addr_nstr(out, true, &a->domain);
	else
		rc |= buf_puts(out, "\"MISSING_DOMAIN\"");
	rc |= buf_putc(out, ')');
	(*count)++;
	return rc < 0 ? -1 : 0;
}

/* A group's start or end (RFC 9051 7.5.2). */
static int mime_addr_group(struct buf *out, const struct buf *name, size_t *count, bool text)
{
	int rc;
	if (text) {
		if (name && name->len)
			return buf_append(out, name->data, name->len) < 0 || buf_puts(out, ": ") < 0 ? -1 : 0;
		return buf_puts(out, ";") < 0 ? -1 : 0;
	}
	if (name) {
		rc = buf_puts(out, "(NIL NIL ");
		rc |= mime_imap_string(out, name->data ? name->data : "", name->len);
		rc |= buf_puts(out, " NIL)");
	} else {
		rc = buf_puts(out, "(NIL NIL NIL NIL)");
	}
	(*count)++;
	return rc < 0 ? -1 : 0;
}

/* A run of atext (or also "." when dots is set). */
static size_t mime_addr_atoms(const char *s, size_t n, size_t i, bool dots)
{
	while (i < n && (mime_field_is_atext((unsigned char)s[i]) || (dots && s[i] == '.')))
		i++;
	return i;
}

/*
 * phrase = 1*word / obs-phrase (RFC 5322 3.2.5, 4.1): words (atoms with
 * dots, quoted strings) joined by one space. The number of words read.
 */
static int mime_addr_phrase(const char *s, size_t n, size_t *i, struct buf *out, size_t *words)
{
	*words = 0;
	for (;;) {
		mime_field_skip_cfws(s, n, i, NULL);
		if (*i >= n)
			return 0;
		size_t k = mime_addr_atoms(s, n, *i, true);
		if (s[*i] != '"' && k == *i)
			return 0;
		if (*words > 0 && buf_putc(out, ' ') < 0)
			return -1;
		if (s[*i] == '"') {
			if (mime_field_quoted(s, n, i, out) < 0)
				return -1;
		} else {
			if (buf_append(out, s + *i, k - *i) < 0)
				return -1;
			*i = k;
		}
		(*words)++;
	}
}

/* local-part = dot-atom / quoted-string / obs-local-part, dots taken
 * loosely ("a..b", "a."), as real mail has them. false when empty. */
static int mime_addr_local(const char *s, size_t n, size_t *i, struct buf *out, struct mime_str *comment, bool *got)
{
	*got = false;
	if (*i < n && s[*i] == '"') {
		if (mime_field_quoted(s, n, i, out) < 0)
			return -1;
		*got = true;
		mime_field_skip_cfws(s, n, i, comment);
		return 0;
	}
	bool want_atom = true;
	while (*i < n) {
		size_t k = mime_addr_atoms(s, n, *i, false);
		if (k > *i && want_atom) {
			if (buf_append(out, s + *i, k - *i) < 0)
				return -1;
			*i = k;
			want_atom = false;
		} else if (s[*i] == '.') {
			if (buf_putc(out, '.') < 0)
				return -1;
			(*i)++;
			want_atom = true;
		} else {
			break;
		}
		*got = true;
		mime_field_skip_cfws(s, n, i, comment);
	}
	return 0;
}

/* domain after the "@" at s[*i]: dot-atom, or a domain-literal kept
 * with its brackets. false when there is none. */
static int mime_addr_domain(const char *s, size_t n, size_t *i, struct buf *out, struct mime_str *comment, bool *got)
{
	*got = false;
	(*i)++;
	mime_field_skip_cfws(s, n, i, comment);
	if (*i < n && s[*i] == '[') {
		size_t k = *i;
		while (k < n && s[k] != ']')
			k++;
		if (k >= n)
			return 0; /* unclosed */
		for (size_t j = *i; j <= k; j++)
			if (s[j] != '\r' && s[j] != '\n' && buf_putc(out, s[j]) < 0)
				return -1;
		*i = k + 1;
		*got = true;
		mime_field_skip_cfws(s, n, i, comment);
		return 0;
	}
	for (;;) {
		size_t k = mime_addr_atoms(s, n, *i, false);
		if (k == *i)
			return 0;
		if (buf_append(out, s + *i, k - *i) < 0)
			return -1;
		*i = k;
		*got = true;
		mime_field_skip_cfws(s, n, i, comment);
		if (*i >= n || s[*i] != '.')
			return 0;
		if (buf_putc(out, '.') < 0)
			return -1;
		(*i)++;
		mime_field_skip_cfws(s, n, i, comment);
	}
}

/* angle-addr = "<" [obs-route] addr-spec ">" at s[*i] == '<'. -1 ENOMEM;
 * *ok false when it does not parse. */
static int mime_addr_angle(const char *s, size_t n, size_t *i, struct mime_addr *a, bool *ok)
{
	bool got;
	*ok = false;
	(*i)++;
	mime_field_skip_cfws(s, n, i, NULL);
	if (*i < n && s[*i] == '@') {
		/* obs-route = obs-domain-list ":" (RFC 5322 4.4) */
		a->has_route = true;
		while (*i < n && s[*i] == '@') {
			if (a->route.len > 0 && buf_putc(&a->route, ',') < 0)
				return -1;
			if (buf_putc(&a->route, '@') < 0 || mime_addr_domain(s, n, i, &a->route, NULL, &got) < 0)
				return -1;
			while (*i < n && (s[*i] == ',' || mime_field_is_wsp((unsigned char)s[*i])))
				(*i)++;
			mime_field_skip_cfws(s, n, i, NULL);
		}
		if (*i < n && s[*i] == ':')
			(*i)++;
		else
			a->fill_route = "INVALID_ROUTE";
		mime_field_skip_cfws(s, n, i, NULL);
	}
	if (*i < n && s[*i] != '>') {
		if (mime_addr_local(s, n, i, &a->mailbox, NULL, &got) < 0)
			return -1;
		if (!got)
			return 0;
		a->has_mailbox = true;
		if (*i < n && s[*i] == '@') {
			if (mime_addr_domain(s, n, i, &a->domain, NULL, &got) < 0)
				return -1;
			if (!got)
				return 0;
			a->has_domain = true;
		}
	}
	if (*i >= n || s[*i] != '>')
		return 0;
	(*i)++;
	mime_field_skip_cfws(s, n, i, NULL);
	*ok = true;
	return 0;
}

/* mailbox = name-addr / addr-spec. */
static int mime_addr_mailbox(const char *s, size_t n, size_t *i, struct mime_addr *a, struct buf *out, size_t *count)
{
	size_t start = *i, words;
	mime_addr_clear(a);
	if (mime_addr_phrase(s, n, i, &a->name, &words) < 0)
		return -1;
	if (*i < n && s[*i] == '<') {
		a->has_name = words > 0;
		bool ok;
		if (mime_addr_angle(s, n, i, a, &ok) < 0)
			return -1;
		if (!ok) {
			a->fill_domain = "SYNTAX_ERROR";
			/* resume after the broken address */
			while (*i < n && s[*i] != ',' && s[*i] != '>')
				(*i)++;
			if (*i < n && s[*i] == '>')
				(*i)++;
			mime_field_skip_cfws(s, n, i, NULL);
		}
		return mime_addr_emit(out, a, count);
	}
	/* addr-spec = local-part "@" domain */
	mime_addr_clear(a);
	*i = start;
	struct mime_str comment = {NULL, 0};
	bool quoted = *i < n && s[*i] == '"', got, domain = false;
	if (mime_addr_local(s, n, i, &a->mailbox, &comment, &got) < 0)
		return -1;
	a->has_mailbox = got;
	if (*i < n && s[*i] == '@') {
		domain = true;
		if (mime_addr_domain(s, n, i, &a->domain, &comment, &got) < 0)
			return -1;
		a->has_domain = got;
	}
	if (comment.p && comment.n > 0) {
		/* "a@b (Name)": the comment names the mailbox */
		a->has_name = true;
		for (size_t k = 0; k < comment.n; k++) {
			if (comment.p[k] == '\\' && k + 1 < comment.n)
				k++;
			if (buf_putc(&a->name, comment.p[k]) < 0)
				return -1;
		}
	} else if (!domain && a->has_mailbox) {
		/* a word without "@": more words make it a display name */
		size_t before = a->mailbox.len;
		if (buf_putc(&a->mailbox, ' ') < 0 || mime_addr_phrase(s, n, i, &a->mailbox, &words) < 0)
			return -1;
		if (words > 0 || quoted) {
			if (buf_append(&a->name, a->mailbox.data, words > 0 ? a->mailbox.len : before) < 0)
				return -1;
			a->has_name = true;
			a->has_mailbox = false;
		} else {
			a->mailbox.len = before;
			a->mailbox.data[before] = '\0';
		}
	}
	return mime_addr_emit(out, a, count);
}

static int mime_addr_list_as(const char *s, size_t n, struct buf *out, size_t *count, bool text)
{
	struct mime_addr a;
	a.text = text;
	struct buf group;
	buf_init(&a.name, 0);
	buf_init(&a.route, 0);
	buf_init(&a.mailbox, 0);
	buf_init(&a.domain, 0);
	buf_init(&group, 0);
	int rc = 0;
	size_t i = 0;
	while (rc == 0) {
		mime_field_skip_cfws(s, n, &i, NULL);
		if (i >= n)
			break;
		if (s[i] == ',') {
			i++; /* an empty member (RFC 5322 4.4) */
			continue;
		}
		/* group = display-name ":" [group-list] ";" */
		size_t start = i, words;
		buf_reset(&group);
		if ((rc = mime_addr_phrase(s, n, &i, &group, &words)) < 0)
			break;
		if (i < n && s[i] == ':' && words > 0) {
			i++;
			if ((rc = mime_addr_group(out, &group, count, a.text)) < 0)
				break;
			for (;;) {
				mime_field_skip_cfws(s, n, &i, NULL);
				if (i >= n || s[i] == ';')
					break;
				if (s[i] == ',') {
					i++;
					continue;
				}
				size_t at = i;
				if ((rc = mime_addr_mailbox(s, n, &i, &a, out, count)) < 0)
					break;
				mime_field_skip_cfws(s, n, &i, NULL);
				if (i == at || (i < n && s[i] != ',' && s[i] != ';'))
					i = n; /* garbage: the list ends */
			}
			if (rc == 0 && (rc = mime_addr_group(out, NULL, count, a.text)) < 0)
				break;
			if (i < n && s[i] == ';')
				i++;
		} else {
			i = start;
			if ((rc = mime_addr_mailbox(s, n, &i, &a, out, count)) < 0)
				break;
			if (i == start)
				break;
		}
		mime_field_skip_cfws(s, n, &i, NULL);
		if (i < n && s[i] != ',')
			break; /* not an address list any more */
	}
	buf_free(&a.name);
	buf_free(&a.route);
	buf_free(&a.mailbox);
	buf_free(&a.domain);
	buf_free(&group);
	return rc < 0 ? -1 : 0;
}

int mime_addr_list(const char *s, size_t n, struct buf *out, size_t *count)
{
	return mime_addr_list_as(s, n, out, count, false);
}

int mime_addr_text(const char *s, size_t n, struct buf *out)
{
	size_t count = 0;
	return mime_addr_list_as(s, n, out, &count, true);
}
