/*
 * conf_parse — the value syntaxes of the configuration file: durations,
 * sizes, ports, numeric addresses with ports, host names, mail addresses
 * and paths.
 *
 * Pure functions over strings; nothing here reads a file or touches a
 * struct conf (conf_parse_dir_of asks getcwd, nothing more). Numbers are
 * checked for overflow before every multiplication, so a huge value is an
 * error, never a wrapped small one.
 */
#include "conf/conf_internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"

static bool conf_parse_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool conf_parse_is_alnum(char ch)
{
	return conf_parse_is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/*
 * Leading decimal digits of s into *out, at most `max`. Returns the number
 * of digits read, or 0 when there are none or the value passes max.
 */
static size_t conf_parse_digits(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	for (i = 0; conf_parse_is_digit(s[i]); i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return i;
}

/* Durations: lower-case units only, so that "5M" (months? minutes?) is
 * refused rather than guessed. */
int conf_parse_duration(const char *s, unsigned *out)
{
	uint64_t v, mult;
	size_t n = conf_parse_digits(s, UINT_MAX, &v);
	if (n == 0)
		return -1;
	switch (s[n]) {
	case '\0':
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return -1;
	}
	if (s[n] != '\0' && s[n + 1] != '\0')
		return -1;
	if (v > UINT_MAX / mult)
		return -1;
	*out = (unsigned)(v * mult);
	return 0;
}

/* Sizes: k, M, G in either case (no unit is ambiguous here), powers of
 * 1024 as CONTRACT.md says. */
int conf_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult;
	size_t n = conf_parse_digits(s, UINT64_MAX, &v);
	if (n == 0)
		return -1;
	switch (s[n]) {
	case '\0':
		mult = 1;
		break;
	case 'k':
	case 'K':
		mult = 1024;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (s[n] != '\0' && s[n + 1] != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int conf_parse_port(const char *s, int *out)
{
	uint64_t v;
	size_t n = conf_parse_digits(s, 65535, &v);
	if (n == 0 || s[n] != '\0' || v == 0)
		return -1;
	*out = (int)v;
	return 0;
}

int conf_parse_ip(const char *s, char *out, size_t outlen)
{
	unsigned char bin[sizeof(struct in6_addr)];
	int af;
	if (inet_pton(AF_INET, s, bin) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, s, bin) == 1)
		af = AF_INET6;
	else
		return -1;
	/* canonical text, so that "::1" and "0::1" are seen as one address */
	if (inet_ntop(af, bin, out, (socklen_t)outlen) == NULL)
		return -1;
	return af;
}

/*
 * Split "HOST:PORT" / "[HOST]:PORT" into the host part (brackets removed)
 * and the port text. *bracketed tells whether brackets were used.
 * Returns NULL or a reason.
 */
static const char *conf_parse_split(const char *s, char *host, size_t hostlen, const char **port,
                                    bool *bracketed)
{
	const char *h, *end;
	*port = NULL;
	*bracketed = s[0] == '[';
	if (*bracketed) {
		h = s + 1;
		end = strchr(h, ']');
		if (end == NULL)
			return "missing ']'";
		if (end[1] == ':')
			*port = end + 2;
		else if (end[1] != '\0')
			return "unexpected text after ']'";
	} else {
		h = s;
		end = strchr(s, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return "an IPv6 address must be written in brackets, e.g. [::1]:25";
		if (end != NULL)
			*port = end + 1;
		else
			end = s + strlen(s);
	}
	if (end == h)
		return "empty address";
	if ((size_t)(end - h) >= hostlen)
		return "address too long";
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	return NULL;
}

const char *conf_parse_endpoint(const char *s, int default_port, char *addr, size_t addrlen,
                                int *family, int *port)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *ptext, *why;
	bool bracketed;
	if ((why = conf_parse_split(s, host, sizeof host, &ptext, &bracketed)) != NULL)
		return why;
	*family = conf_parse_ip(host, addr, addrlen);
	if (*family < 0)
		return bracketed ? "not a numeric IPv6 address" : "not a numeric IPv4 address";
	if (bracketed && *family != AF_INET6)
		return "brackets are for IPv6 addresses only";
	if (!bracketed && *family != AF_INET)
		return "an IPv6 address must be written in brackets, e.g. [::1]:25";
	if (ptext == NULL) {
		if (default_port <= 0)
			return "missing :PORT";
		*port = default_port;
		return NULL;
	}
	if (conf_parse_port(ptext, port) < 0)
		return "the port must be a number from 1 to 65535";
	return NULL;
}

const char *conf_parse_hostport(const char *s, char *host, size_t hostlen, int *port, bool *is_ipv6)
{
	char tmp[CONF_DOMAIN_MAX + 1];
	const char *ptext, *why;
	bool bracketed;
	if ((why = conf_parse_split(s, tmp, sizeof tmp, &ptext, &bracketed)) != NULL)
		return why;
	*is_ipv6 = false;
	if (bracketed && conf_parse_ip(tmp, host, hostlen) == AF_INET6) {
		*is_ipv6 = true;
	} else {
		/* Postfix writes [name] to mean "no MX lookup"; relay-host never
		 * looks up MX records, so the brackets are accepted and dropped. */
		if (!conf_parse_is_hostname(tmp))
			return "not a host name or IP address";
		if (strlen(tmp) >= hostlen)
			return "host name too long";
		memcpy(host, tmp, strlen(tmp) + 1);
	}
	*port = 0;
	if (ptext != NULL && conf_parse_port(ptext, port) < 0)
		return "the port must be a number from 1 to 65535";
	return NULL;
}

bool conf_parse_is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];
		if (ch == '.' || ch == '\0') {
			/* RFC 1035 2.3.4: labels of 1 to 63 octets; a hyphen may
			 * neither start nor end one (RFC 952) */
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!conf_parse_is_alnum(ch) && ch != '-' && ch != '_')
			return false;
		label++;
	}
	return true;
}

/*
 * Shared by the two address checks. `extra` lists the punctuation allowed
 * in the local part besides letters and digits. '#' is never allowed: it
 * would start a comment when conf_print writes the address back, and ','
 * separates alias targets.
 */
static bool conf_parse_address(const char *s, const char *extra)
{
	const char *at = strrchr(s, '@');
	if (at == NULL || at == s || (size_t)(at - s) > CONF_LOCAL_MAX)
		return false;
	if (!conf_parse_is_hostname(at + 1))
		return false;
	for (const char *p = s; p < at; p++) {
		if (!conf_parse_is_alnum(*p) && strchr(extra, *p) == NULL)
			return false;
	}
	/* RFC 5322 3.4.1 dot-atom: no leading, trailing or doubled dot */
	if (s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *p = s; p + 1 < at; p++)
		if (p[0] == '.' && p[1] == '.')
			return false;
	return true;
}

/*
 * A local mailbox (user or alias address): the characters that
 * smtp_addr_local_is_plain() accepts, without the routing characters '%',
 * '!' and '/' that could never name a Maildir. ASCII only for now.
 */
bool conf_parse_is_mailbox(const char *s)
{
	return conf_parse_address(s, "$&'*+-=?^_`{|}~.");
}

/* A target may be remote, where any RFC 5322 atext local part is valid. */
bool conf_parse_is_target(const char *s)
{
	return conf_parse_address(s, "!$%&'*+-/=?^_`{|}~.");
}

void conf_parse_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

const char *conf_parse_domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at ? at + 1 : NULL;
}

/* Skip leading "./" so that resolved paths read cleanly. */
static const char *conf_parse_skip_dot(const char *s)
{
	while (s[0] == '.' && s[1] == '/') {
		s += 2;
		while (*s == '/')
			s++;
	}
	return s;
}

char *conf_parse_dir_of(const char *file)
{
	struct buf b;
	const char *slash;
	buf_init(&b, 0);
	if (file[0] != '/')
		file = conf_parse_skip_dot(file);
	slash = strrchr(file, '/');
	if (file[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof cwd) == NULL || buf_puts(&b, cwd) < 0)
			goto fail;
		if (slash != NULL && (buf_putc(&b, '/') < 0 || buf_append(&b, file, (size_t)(slash - file)) < 0))
			goto fail;
	} else if (slash == file) {
		if (buf_putc(&b, '/') < 0)
			goto fail;
	} else if (buf_append(&b, file, (size_t)(slash - file)) < 0) {
		goto fail;
	}
	return b.data;
fail:
	buf_free(&b);
	return NULL;
}

char *conf_parse_path(const char *dir, const char *arg)
{
	struct buf b;
	buf_init(&b, 0);
	if (arg[0] != '/') {
		/* a root dir "/" needs no second slash */
		size_t n = strlen(dir);
		if (buf_puts(&b, dir) < 0 || (n > 0 && dir[n - 1] != '/' && buf_putc(&b, '/') < 0))
			goto fail;
	}
	if (buf_puts(&b, arg[0] == '/' ? arg : conf_parse_skip_dot(arg)) < 0)
		goto fail;
	return b.data;
fail:
	buf_free(&b);
	return NULL;
}
