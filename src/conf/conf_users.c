/*
 * conf_users — the users file named by `users` (CONTRACT.md): one
 * account a line, Dovecot passwd-file compatible, "address:hash" with
 * further ':' fields ignored, and the default postmaster aliases derived
 * from it.
 *
 * Read once at load time, so that a bad line is reported by `tern check`
 * and at start-up rather than at the first login. Only syntax is checked
 * here; verifying passwords is the business of the authentication code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_internal.h"

/* The pieces of one parsed line, pointing into the line buffer. */
struct conf_users_line {
	char *address;
	char *hash;
	const char *scheme;  /* "{SCHEME}" prefix text without braces, or NULL */
	size_t scheme_len;
};

static bool conf_users_in(const char *set, char ch)
{
	return ch != '\0' && strchr(set, ch) != NULL;
}

static bool conf_users_all_in(const char *s, const char *set)
{
	for (; *s; s++)
		if (!conf_users_in(set, *s))
			return false;
	return true;
}

#define CONF_USERS_B64 "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/*
 * Does this look like something crypt(3) produced? Modular formats start
 * with '$' ($y$, $2b$, $6$, $5$, $1$, $gy$, ...; '=' and ',' appear in
 * their parameters); "!..." and "*..." are locked accounts, as in
 * shadow(5); 13 characters is traditional DES, '_' + 19 is BSDi.
 * Anything else (a {PLAIN} password, a bare SHA digest) could never
 * match, so it is an error now rather than a mystery at login.
 */
static bool conf_users_is_crypt(const char *h)
{
	size_t n = strlen(h);
	if (h[0] == '!' || h[0] == '*')
		return true;
	if (h[0] == '$')
		return n > 3 && conf_users_all_in(h, CONF_USERS_B64 "$=,+-");
	if (h[0] == '_')
		return n == 20 && conf_users_all_in(h + 1, CONF_USERS_B64);
	return n == 13 && conf_users_all_in(h, CONF_USERS_B64);
}

/* Trim blanks and the line end in place; returns the first non-blank. */
static char *conf_users_trim(char *s, size_t len)
{
	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		s[--len] = '\0';
	return s + strspn(s, " \t");
}

/* Split one non-comment line into its fields. 0, or -1 with the reason. */
static int conf_users_split(char *s, struct conf_users_line *u, const char **why)
{
	char *colon = strchr(s, ':'), *end;
	memset(u, 0, sizeof *u);
	if (colon == NULL) {
		*why = "missing ':' between address and hash";
		return -1;
	}
	*colon = '\0';
	u->address = s;
	u->hash = colon + 1;
	if ((end = strchr(u->hash, ':')) != NULL)
		*end = '\0'; /* Dovecot's uid, gid, home, ... fields: not ours */
	if (u->address[0] == '\0') {
		*why = "empty address";
		return -1;
	}
	if (u->hash[0] == '{') {
		char *close = strchr(u->hash, '}');
		if (close == NULL) {
			*why = "'{' of a {SCHEME} prefix without '}'";
			return -1;
		}
		u->scheme = u->hash + 1;
		u->scheme_len = (size_t)(close - u->scheme);
		u->hash = close + 1;
	}
	return 0;
}

/* Append one user, taking copies. 0/-1 */
static int conf_users_add(struct conf *c, const char *address, const char *hash)
{
	struct conf_user *v = realloc(c->users, (c->nusers + 1) * sizeof *v);
	if (v == NULL)
		return -1;
	c->users = v;
	v[c->nusers].address = strdup(address);
	v[c->nusers].hash = strdup(hash);
	if (v[c->nusers].address == NULL || v[c->nusers].hash == NULL) {
		free(v[c->nusers].address);
		free(v[c->nusers].hash);
		return -1;
	}
	conf_parse_lower(v[c->nusers].address);
	c->nusers++;
	return 0;
}

/* Check and add one line's user. 0, or -1 with err written. */
static int conf_users_line(struct conf *c, const char *file, unsigned line, char *s, unsigned **lines,
                           char *err, size_t errlen)
{
	struct conf_users_line u;
	const char *why;
	if (conf_users_split(s, &u, &why) < 0)
		return conf_error(err, errlen, file, line, "%s", why);
	conf_parse_lower(u.address);
	if (!conf_parse_is_mailbox(u.address))
		return conf_error(err, errlen, file, line, "invalid address '%s' (the login is local@domain)",
		                  u.address);
	const char *domain = conf_parse_domain_of(u.address);
	if (!conf_is_local_domain(c, domain))
		return conf_error(err, errlen, file, line,
		                  "user '%s': '%s' is not a configured domain (add 'domain %s')", u.address,
		                  domain, domain);
	if (u.hash[0] == '\0')
		return conf_error(err, errlen, file, line,
		                  "user '%s' has an empty hash (write '!' to lock an account that only receives mail)",
		                  u.address);
	if (!conf_users_is_crypt(u.hash)) {
		if (u.scheme != NULL)
			return conf_error(err, errlen, file, line,
			                  "user '%s': scheme {%.*s} is not supported, only crypt(3) hashes "
			                  "(make one with 'tern passwd')",
			                  u.address, (int)u.scheme_len, u.scheme);
		return conf_error(err, errlen, file, line,
		                  "user '%s': the hash is not a crypt(3) string (make one with 'tern passwd')",
		                  u.address);
	}
	for (size_t i = 0; i < c->nusers; i++) {
		if (strcmp(c->users[i].address, u.address) == 0)
			return conf_error(err, errlen, file, line, "user '%s' already defined on line %u",
			                  u.address, (*lines)[i]);
	}
	unsigned *l = realloc(*lines, (c->nusers + 1) * sizeof *l);
	if (l == NULL)
		return conf_error(err, errlen, file, line, "out of memory");
	*lines = l;
	l[c->nusers] = line;
	if (conf_users_add(c, u.address, u.hash) < 0)
		return conf_error(err, errlen, file, line, "out of memory");
	return 0;
}

int conf_users_load(struct conf *c, const char *cfgfile, unsigned cfgline, char *err, size_t errlen)
{
	const char *file = c->users_file;
	unsigned *lines = NULL; /* line of each user, for duplicate messages */
	unsigned line = 0;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return conf_error(err, errlen, cfgfile, cfgline, "cannot read users file %s: %s", file,
		                  strerror(errno));
	errno = 0;
	while (r == 0 && (n = getline(&buf, &cap, f)) != -1) {
		line++;
		if (memchr(buf, '\0', (size_t)n) != NULL) {
			r = conf_error(err, errlen, file, line, "NUL byte in line");
			break;
		}
		char *s = conf_users_trim(buf, (size_t)n);
		if (s[0] == '\0' || s[0] == '#')
			continue;
		r = conf_users_line(c, file, line, s, &lines, err, errlen);
	}
	if (r == 0 && ferror(f))
		r = conf_error(err, errlen, cfgfile, cfgline, "cannot read users file %s: %s", file,
		               strerror(errno ? errno : EIO));
	if (buf != NULL) {
		/* the buffer held hashes; do not leave them in freed memory */
		explicit_bzero(buf, cap);
		free(buf);
	}
	free(lines);
	fclose(f);
	return r;
}

/*
 * CONTRACT.md: postmaster@DOMAIN goes to the first user of that domain in
 * the users file, unless the file has a postmaster user or the
 * configuration an explicit alias. RFC 5321 4.5.1 requires the mailbox.
 */
int conf_users_postmaster(struct conf *c, char *err, size_t errlen)
{
	for (size_t d = 0; d < c->ndomains; d++) {
		const char *domain = c->domains[d];
		char pm[CONF_DOMAIN_MAX + 16];
		snprintf(pm, sizeof pm, "postmaster@%s", domain);
		if (conf_find_alias(c, pm) != NULL || conf_find_user(c, pm) != NULL)
			continue;
		for (size_t i = 0; i < c->nusers; i++) {
			if (strcmp(conf_parse_domain_of(c->users[i].address), domain) != 0)
				continue;
			char *address = strdup(pm);
			char **targets = calloc(1, sizeof *targets);
			char *target = strdup(c->users[i].address);
			if (address == NULL || targets == NULL || target == NULL) {
				free(address);
				free(targets);
				free(target);
				return conf_error(err, errlen, c->users_file, 0, "out of memory");
			}
			targets[0] = target;
			if (conf_alias_add(c, address, targets, 1, true) < 0)
				return conf_error(err, errlen, c->users_file, 0, "out of memory");
			break;
		}
	}
	return 0;
}
