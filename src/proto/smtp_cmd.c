/*
 * smtp_cmd — splits SMTP command lines and parses the arguments of MAIL,
 * RCPT, BDAT and HELO/EHLO. See smtp_cmd.h.
 *
 * Implements RFC 5321 4.1.1 (command syntax, case-insensitive verbs per
 * 2.4), 4.1.2 (Mail-parameters, Rcpt-parameters, esmtp-param), RFC 1870
 * (SIZE), RFC 6152 and RFC 3030 (BODY=8BITMIME / BINARYMIME), RFC 3030 2
 * (BDAT chunk-size and LAST) and RFC 6531 3.4 (SMTPUTF8). Paths are left
 * to smtp_addr.
 *
 * Pure: no I/O, no allocation, no global state. The line is trusted to be
 * no longer than the session's limit but is never assumed to be
 * NUL-terminated. Whether a verb is allowed now is the session's business.
 */
#include "proto/smtp_cmd.h"

#include <string.h>
#include <strings.h>

#define SMTP_CMD_SIZE_DIGITS 20 /* UINT64_MAX has 20 decimal digits */

int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	static const struct {
		const char *name;
		enum smtp_verb verb;
	} verbs[] = {
		{ "HELO", SMTP_VERB_HELO },         { "EHLO", SMTP_VERB_EHLO }, { "MAIL", SMTP_VERB_MAIL },
		{ "RCPT", SMTP_VERB_RCPT },         { "DATA", SMTP_VERB_DATA }, { "BDAT", SMTP_VERB_BDAT },
		{ "RSET", SMTP_VERB_RSET },         { "NOOP", SMTP_VERB_NOOP }, { "QUIT", SMTP_VERB_QUIT },
		{ "VRFY", SMTP_VERB_VRFY },         { "EXPN", SMTP_VERB_EXPN }, { "HELP", SMTP_VERB_HELP },
		{ "STARTTLS", SMTP_VERB_STARTTLS }, { "AUTH", SMTP_VERB_AUTH },
	};
	size_t vlen;

	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->arg = "";
	cmd->arglen = 0;
	cmd->has_arg = false;
	if (len == 0)
		return 0;

	/* CR and LF were removed by the line reader; any left over is a
	 * smuggling attempt or a broken client (RFC 5321 2.3.8), and NUL has
	 * no place in a command. */
	if (memchr(line, '\0', len) || memchr(line, '\r', len) || memchr(line, '\n', len))
		return -1;
	const char *sp = memchr(line, ' ', len);
	vlen = sp ? (size_t)(sp - line) : len;
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)line[i] >= 0x80)
			return -1;

	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
		if (strlen(verbs[k].name) == vlen && strncasecmp(line, verbs[k].name, vlen) == 0) {
			cmd->verb = verbs[k].verb;
			break;
		}
	}
	if (sp) {
		cmd->has_arg = true;
		cmd->arg = sp + 1;
		cmd->arglen = len - vlen - 1;
	}
	return 0;
}

static enum smtp_param_status smtp_cmd_addr_status(enum smtp_addr_status st)
{
	switch (st) {
	case SMTP_ADDR_OK:
		return SMTP_PARAM_OK;
	case SMTP_ADDR_TOO_LONG:
		return SMTP_PARAM_ADDR_TOO_LONG;
	case SMTP_ADDR_NEEDS_UTF8:
		return SMTP_PARAM_NEEDS_UTF8;
	case SMTP_ADDR_SYNTAX:
		break;
	}
	return SMTP_PARAM_ADDR_SYNTAX;
}

/*
 * "FROM:" or "TO:" (case-insensitive, RFC 5321 2.4), then at most one SP
 * (RFC 5321 has none, but many clients send "MAIL FROM: <a@b>"), then a
 * path. On success *off is the offset of the path's '<'.
 */
static int smtp_cmd_prefix(const char *arg, size_t len, const char *word, size_t *off)
{
	size_t wl = strlen(word);

	if (len < wl || strncasecmp(arg, word, wl) != 0)
		return -1;
	if (wl < len && arg[wl] == ' ')
		wl++;
	*off = wl;
	return 0;
}

static bool smtp_cmd_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Skip the blanks between parameters. RFC 5321 4.1.2 puts exactly one SP
 * between them; a run of SP and a trailing SP are tolerated, as most
 * servers do, since they change no meaning. */
static size_t smtp_cmd_skip_sp(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* SIZE=1*DIGIT (RFC 1870 3); a value too large for 64 bits saturates,
 * which the session then refuses as over the limit. */
static int smtp_cmd_size_value(const char *v, size_t vl, uint64_t *out)
{
	uint64_t x = 0;

	if (vl == 0)
		return -1;
	for (size_t i = 0; i < vl; i++) {
		unsigned d = (unsigned char)v[i] - (unsigned)'0';
		if (d > 9)
			return -1;
		if (x > (UINT64_MAX - d) / 10)
			x = UINT64_MAX;
		else
			x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/*
 * One esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 4.1.2),
 * keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). Only the MAIL
 * parameters of the extensions tern announces are known.
 */
static enum smtp_param_status smtp_cmd_mail_param(const char *s, size_t len, struct smtp_mail_params *p,
                                                  unsigned *seen)
{
	enum { SMTP_CMD_SEEN_SIZE = 1, SMTP_CMD_SEEN_BODY = 2, SMTP_CMD_SEEN_UTF8 = 4 };
	const char *eq = memchr(s, '=', len);
	size_t kl = eq ? (size_t)(eq - s) : len;
	const char *v = eq ? eq + 1 : NULL;
	size_t vl = eq ? len - kl - 1 : 0;

	if (kl == 0 || !smtp_cmd_is_alnum((unsigned char)s[0]))
		return SMTP_PARAM_SYNTAX;
	for (size_t i = 1; i < kl; i++)
		if (!smtp_cmd_is_alnum((unsigned char)s[i]) && s[i] != '-')
			return SMTP_PARAM_SYNTAX;

	if (kl == 4 && strncasecmp(s, "SIZE", 4) == 0) {
		if ((*seen & SMTP_CMD_SEEN_SIZE) || v == NULL || smtp_cmd_size_value(v, vl, &p->size) < 0)
			return SMTP_PARAM_BAD_VALUE;
		*seen |= SMTP_CMD_SEEN_SIZE;
		p->has_size = true;
		return SMTP_PARAM_OK;
	}
	if (kl == 4 && strncasecmp(s, "BODY", 4) == 0) {
		if ((*seen & SMTP_CMD_SEEN_BODY) || v == NULL)
			return SMTP_PARAM_BAD_VALUE;
		if (vl == 4 && strncasecmp(v, "7BIT", 4) == 0)
			p->body = SMTP_BODY_7BIT;
		else if (vl == 8 && strncasecmp(v, "8BITMIME", 8) == 0)
			p->body = SMTP_BODY_8BITMIME;
		else if (vl == 10 && strncasecmp(v, "BINARYMIME", 10) == 0)
			p->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_PARAM_BAD_VALUE;
		*seen |= SMTP_CMD_SEEN_BODY;
		return SMTP_PARAM_OK;
	}
	if (kl == 8 && strncasecmp(s, "SMTPUTF8", 8) == 0) {
		/* RFC 6531 3.4: the parameter takes no value. */
		if ((*seen & SMTP_CMD_SEEN_UTF8) || v != NULL)
			return SMTP_PARAM_BAD_VALUE;
		*seen |= SMTP_CMD_SEEN_UTF8;
		p->smtputf8 = true;
		return SMTP_PARAM_OK;
	}
	return SMTP_PARAM_UNKNOWN;
}

enum smtp_param_status smtp_cmd_parse_mail(const char *arg, size_t len, struct smtp_addr *from,
                                           struct smtp_mail_params *p)
{
	size_t off, used;
	unsigned seen = 0;

	memset(p, 0, sizeof(*p));
	memset(from, 0, sizeof(*from));
	if (smtp_cmd_prefix(arg, len, "FROM:", &off) < 0)
		return SMTP_PARAM_SYNTAX;
	/* SMTPUTF8 comes after the path (RFC 6531 3.4), so parse the path as
	 * if it were declared, and check the declaration once the
	 * parameters are known. */
	enum smtp_addr_status st = smtp_addr_parse(arg + off, len - off, true, true, false, from, &used);
	if (st != SMTP_ADDR_OK)
		return smtp_cmd_addr_status(st);
	size_t i = off + used;
	if (i < len && arg[i] != ' ')
		return SMTP_PARAM_SYNTAX;
	for (;;) {
		i = smtp_cmd_skip_sp(arg, len, i);
		if (i >= len)
			break;
		const char *sp = memchr(arg + i, ' ', len - i);
		size_t pl = sp ? (size_t)(sp - (arg + i)) : len - i;
		enum smtp_param_status ps = smtp_cmd_mail_param(arg + i, pl, p, &seen);
		if (ps != SMTP_PARAM_OK)
			return ps;
		i += pl;
	}
	if (from->utf8 && !p->smtputf8)
		return SMTP_PARAM_NEEDS_UTF8;
	return SMTP_PARAM_OK;
}

enum smtp_param_status smtp_cmd_parse_rcpt(const char *arg, size_t len, bool utf8_ok, struct smtp_addr *to)
{
	size_t off, used;

	memset(to, 0, sizeof(*to));
	if (smtp_cmd_prefix(arg, len, "TO:", &off) < 0)
		return SMTP_PARAM_SYNTAX;
	enum smtp_addr_status st = smtp_addr_parse(arg + off, len - off, false, utf8_ok, true, to, &used);
	if (st != SMTP_ADDR_OK)
		return smtp_cmd_addr_status(st);
	size_t i = off + used;
	if (i < len && arg[i] != ' ')
		return SMTP_PARAM_SYNTAX;
	/* No RCPT extension (such as DSN's NOTIFY=) is offered, so any
	 * parameter is one we do not know (RFC 5321 4.1.1.3: 555). */
	i = smtp_cmd_skip_sp(arg, len, i);
	return i < len ? SMTP_PARAM_UNKNOWN : SMTP_PARAM_OK;
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF,
 * chunk-size = 1*DIGIT, end-marker = "LAST" (RFC 3030 2). */
int smtp_cmd_parse_bdat(const char *arg, size_t len, uint64_t *size, bool *last)
{
	size_t i = 0;
	uint64_t x = 0;

	while (i < len && arg[i] >= '0' && arg[i] <= '9') {
		unsigned d = (unsigned)(arg[i] - '0');
		if (i >= SMTP_CMD_SIZE_DIGITS || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		i++;
	}
	if (i == 0)
		return -1;
	if (i == len) {
		*last = false;
	} else if (len - i == 5 && arg[i] == ' ' && strncasecmp(arg + i + 1, "LAST", 4) == 0) {
		*last = true;
	} else {
		return -1;
	}
	*size = x;
	return 0;
}

/*
 * HELO/EHLO take a Domain or an address-literal (RFC 5321 4.1.1.1). Real
 * clients send bare host names, underscores and worse, and refusing them
 * buys nothing (RFC 5321 4.1.4 forbids refusing mail over a wrong name),
 * so any printable token is taken: no blank, no control, no DEL, octets
 * >= 0x80 only as well-formed UTF-8 (an RFC 6531 U-label), and at most
 * 255 octets (4.5.3.1.2).
 */
int smtp_cmd_check_helo(const char *arg, size_t len)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return -1;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)arg[i];
		if (c >= 0x80) {
			size_t k = smtp_addr_utf8_seq(arg + i, len - i);
			if (k == 0)
				return -1;
			i += k;
			continue;
		}
		if (c <= 0x20 || c == 0x7f)
			return -1;
		i++;
	}
	return 0;
}
