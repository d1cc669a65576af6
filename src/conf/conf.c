/*
 * conf — reading the configuration file: the line lexer, the keyword
 * table of CONTRACT.md, the checks that need the whole file (duplicates,
 * tls-cert/tls-key pairs, alias domains), the defaults, the embedded
 * default, and the look-up helpers other modules use.
 *
 * Value syntaxes live in conf_parse.c, the users file in conf_users.c,
 * the printer in conf_print.c. A load builds a fresh struct conf and
 * hands it over only when everything is valid, so a failed SIGHUP reload
 * never disturbs the configuration in use. The first error stops the load.
 */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf_internal.h"

#define CONF_DEFAULT_PATH     "/etc/tern/tern.conf"
#define CONF_DEFAULT_DATA_DIR "/var/lib/tern"
#define CONF_MAX_ARGS         256 /* words on one line; aliases are the long ones */


struct conf_keyword {
	const char *name;
	int min, max;            /* number of arguments */
	bool repeatable;
	const char *usage;
	int (*fn)(struct conf_parser *p, char **argv, int argc);
};

static const char *const conf_role_names[] = {
	[ROLE_SMTP] = "smtp",
	[ROLE_SUBMISSION] = "submission",
	[ROLE_SUBMISSIONS] = "submissions",
	[ROLE_POP3] = "pop3",
	[ROLE_POP3S] = "pop3s",
	[ROLE_IMAP] = "imap",
	[ROLE_IMAPS] = "imaps",
};
#define CONF_NROLES (sizeof conf_role_names / sizeof conf_role_names[0])

int conf_error(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (err == NULL || errlen == 0)
		return -1;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%u: ", file, line);
	else
		n = snprintf(err, errlen, "%s: ", file);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

int conf_oom(struct conf_parser *p)
{
	return CONF_FAIL(p, "out of memory");
}

void conf_strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int conf_alias_add(struct conf *c, char *address, char **targets, size_t ntargets, bool implicit)
{
	struct conf_alias *a = realloc(c->aliases, (c->naliases + 1) * sizeof *a);
	if (a == NULL) {
		free(address);
		conf_strv_free(targets, ntargets);
		return -1;
	}
	c->aliases = a;
	a[c->naliases++] = (struct conf_alias){
		.address = address, .targets = targets, .ntargets = ntargets, .implicit = implicit};
	return 0;
}

/* Replace *slot with a copy of s. 0/-1 */
static int conf_set_str(char **slot, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		return -1;
	free(*slot);
	*slot = d;
	return 0;
}

/* Grow a parallel array of line numbers to hold index i. */
static int conf_lines_put(unsigned **lines, size_t i, unsigned line)
{
	unsigned *l = realloc(*lines, (i + 1) * sizeof *l);
	if (l == NULL)
		return -1;
	l[i] = line;
	*lines = l;
	return 0;
}

/* --- keyword handlers: argv[0] is the keyword, counts are checked --- */

static int conf_kw_hostname(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	if (!conf_parse_is_hostname(argv[1]))
		return CONF_FAIL(p, "invalid host name '%s'", argv[1]);
	return conf_set_str(&p->c->hostname, argv[1]) < 0 ? conf_oom(p) : 0;
}

/* data-dir, tls-cert, tls-key, users: a path relative to the file's directory */
static int conf_kw_path(struct conf_parser *p, char **slot, const char *arg)
{
	char *path = conf_parse_path(p->dir, arg);
	if (path == NULL)
		return conf_oom(p);
	free(*slot);
	*slot = path;
	return 0;
}

static int conf_kw_data_dir(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	return conf_kw_path(p, &p->c->data_dir, argv[1]);
}

static int conf_kw_tls_cert(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	p->tls_cert_line = p->line;
	return conf_kw_path(p, &p->c->tls_cert, argv[1]);
}

static int conf_kw_tls_key(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	p->tls_key_line = p->line;
	return conf_kw_path(p, &p->c->tls_key, argv[1]);
}

static int conf_kw_users(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	p->users_line = p->line;
	return conf_kw_path(p, &p->c->users_file, argv[1]);
}

static int conf_role_parse(const char *s, enum conf_role *r)
{
	for (size_t i = 0; i < CONF_NROLES; i++) {
		if (strcmp(s, conf_role_names[i]) == 0) {
			*r = (enum conf_role)i;
			return 0;
		}
	}
	return -1;
}

static bool conf_is_wildcard(const char *addr)
{
	return strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
}

/*
 * Two listeners collide when they have the same port and the same address,
 * or one of them is the wildcard of the other's family: bind(2) would fail
 * with EADDRINUSE at start-up, so `tern check` says it first.
 */
static bool conf_listens_collide(const struct conf_listen *a, const struct conf_listen *b)
{
	bool a6 = strchr(a->addr, ':') != NULL, b6 = strchr(b->addr, ':') != NULL;
	if (a->port != b->port || a6 != b6)
		return false;
	return strcmp(a->addr, b->addr) == 0 || conf_is_wildcard(a->addr) || conf_is_wildcard(b->addr);
}

static int conf_kw_listen(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	struct conf_listen l;
	const char *why;
	int family;
	(void)argc;
	memset(&l, 0, sizeof l);
	why = conf_parse_endpoint(argv[1], 0, l.addr, sizeof l.addr, &family, &l.port);
	if (why != NULL)
		return CONF_FAIL(p, "invalid listen address '%s': %s", argv[1], why);
	if (conf_role_parse(argv[2], &l.role) < 0)
		return CONF_FAIL(p, "unknown listen role '%s' (smtp, submission, submissions, pop3, pop3s, imap or imaps)",
		                 argv[2]);
	for (size_t i = 0; i < c->nlistens; i++) {
		if (conf_listens_collide(&c->listens[i], &l))
			return CONF_FAIL(p, "listen address '%s' conflicts with line %u", argv[1],
			                 p->listen_lines[i]);
	}
	struct conf_listen *v = realloc(c->listens, (c->nlistens + 1) * sizeof *v);
	if (v == NULL)
		return conf_oom(p);
	c->listens = v;
	if (conf_lines_put(&p->listen_lines, c->nlistens, p->line) < 0)
		return conf_oom(p);
	v[c->nlistens++] = l;
	return 0;
}

static int conf_kw_domain(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	char *d;
	(void)argc;
	if (!conf_parse_is_hostname(argv[1]))
		return CONF_FAIL(p, "invalid domain '%s'", argv[1]);
	if (conf_is_local_domain(c, argv[1]))
		return CONF_FAIL(p, "domain '%s' is listed twice", argv[1]);
	char **v = realloc(c->domains, (c->ndomains + 1) * sizeof *v);
	if (v == NULL)
		return conf_oom(p);
	c->domains = v;
	if ((d = strdup(argv[1])) == NULL)
		return conf_oom(p);
	conf_parse_lower(d);
	v[c->ndomains++] = d;
	return 0;
}

/*
 * One alias target: lower-cased; a bare local part means that local part
 * in the alias's own domain (as in Postfix's virtual_alias_maps habit of
 * writing "postmaster: alice"). Appended to *v unless already there.
 */
static int conf_alias_target(struct conf_parser *p, const char *domain, const char *t, size_t n,
                             char ***v, size_t *nv)
{
	char *s;
	if (memchr(t, '@', n) == NULL) {
		size_t dl = strlen(domain);
		if ((s = malloc(n + dl + 2)) == NULL)
			return conf_oom(p);
		memcpy(s, t, n);
		s[n] = '@';
		memcpy(s + n + 1, domain, dl + 1);
	} else if ((s = strndup(t, n)) == NULL) {
		return conf_oom(p);
	}
	conf_parse_lower(s);
	if (!conf_parse_is_target(s)) {
		CONF_FAIL(p, "invalid alias target '%.*s'", (int)n, t);
		free(s);
		return -1;
	}
	for (size_t i = 0; i < *nv; i++) {
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return 0;
		}
	}
	char **nvec = realloc(*v, (*nv + 1) * sizeof *nvec);
	if (nvec == NULL) {
		free(s);
		return conf_oom(p);
	}
	nvec[(*nv)++] = s;
	*v = nvec;
	return 0;
}

/* alias ADDRESS TARGET[,TARGET...] [TARGET...]: commas and blanks both
 * separate targets, so "a, b" and "a,b" and "a b" mean the same. */
static int conf_kw_alias(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	char *address = strdup(argv[1]), **targets = NULL;
	size_t ntargets = 0;
	if (address == NULL)
		return conf_oom(p);
	conf_parse_lower(address);
	if (!conf_parse_is_mailbox(address)) {
		CONF_FAIL(p, "invalid alias address '%s' (local@domain expected)", argv[1]);
		goto fail;
	}
	for (size_t i = 0; i < c->naliases; i++) {
		if (strcmp(c->aliases[i].address, address) == 0) {
			CONF_FAIL(p, "alias '%s' already defined on line %u", address, p->alias_lines[i]);
			goto fail;
		}
	}
	const char *domain = conf_parse_domain_of(address);
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		while (*s != '\0') {
			size_t n = strcspn(s, ",");
			if (n > 0 && conf_alias_target(p, domain, s, n, &targets, &ntargets) < 0)
				goto fail;
			s += n;
			if (*s == ',')
				s++;
		}
	}
	if (ntargets == 0) {
		CONF_FAIL(p, "alias '%s' has no target", address);
		goto fail;
	}
	if (conf_lines_put(&p->alias_lines, c->naliases, p->line) < 0) {
		conf_oom(p);
		goto fail;
	}
	if (conf_alias_add(c, address, targets, ntargets, false) < 0)
		return conf_oom(p);
	return 0;
fail:
	free(address);
	conf_strv_free(targets, ntargets);
	return -1;
}

/* recipient-delimiter CHAR, or "none" to turn the +tag feature off */
static int conf_kw_delimiter(struct conf_parser *p, char **argv, int argc)
{
	const char *s = argv[1];
	(void)argc;
	if (strcmp(s, "none") == 0) {
		p->c->recipient_delimiter = '\0';
		return 0;
	}
	/* a character that may appear in a local part but is neither a letter,
	 * a digit, a dot (too common in real names) nor the comment sign */
	if (s[0] == '\0' || s[1] != '\0' || strchr("$&'*+-=?^_`{|}~", s[0]) == NULL)
		return CONF_FAIL(p, "invalid recipient-delimiter '%s' (one of $&'*+-=?^_`{|}~, or none)", s);
	p->c->recipient_delimiter = s[0];
	return 0;
}

static int conf_kw_dns(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	char text[sizeof c->dns_addr + 16];
	const char *why;
	int family;
	(void)argc;
	why = conf_parse_endpoint(argv[1], 53, c->dns_addr, sizeof c->dns_addr, &family, &c->dns_port);
	if (why != NULL)
		return CONF_FAIL(p, "invalid dns server '%s': %s", argv[1], why);
	snprintf(text, sizeof text, family == AF_INET6 ? "[%s]:%d" : "%s:%d", c->dns_addr, c->dns_port);
	return conf_set_str(&c->dns, text) < 0 ? conf_oom(p) : 0;
}

static int conf_kw_smtp_port(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	if (conf_parse_port(argv[1], &p->c->smtp_port) < 0)
		return CONF_FAIL(p, "invalid smtp-port '%s' (1 to 65535)", argv[1]);
	return 0;
}

static int conf_kw_relay_host(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	char host[CONF_DOMAIN_MAX + 1], text[CONF_DOMAIN_MAX + 16];
	const char *why;
	bool v6;
	(void)argc;
	why = conf_parse_hostport(argv[1], host, sizeof host, &c->relay_port, &v6);
	if (why != NULL)
		return CONF_FAIL(p, "invalid relay-host '%s': %s", argv[1], why);
	/* normalised: brackets only around IPv6, the port only when given */
	int n = snprintf(text, sizeof text, v6 ? "[%s]" : "%s", host);
	if (c->relay_port > 0 && n > 0)
		snprintf(text + n, sizeof text - (size_t)n, ":%d", c->relay_port);
	if (conf_set_str(&c->relay_host, text) < 0 || conf_set_str(&c->relay_name, host) < 0)
		return conf_oom(p);
	return 0;
}

static int conf_kw_max_size(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	if (conf_parse_size(argv[1], &p->c->max_message_size) < 0 || p->c->max_message_size == 0)
		return CONF_FAIL(p, "invalid max-message-size '%s' (a size such as 35M; k, M, G are powers of 1024)",
		                 argv[1]);
	return 0;
}

static int conf_kw_duration(struct conf_parser *p, const char *kw, const char *s, unsigned *out)
{
	if (conf_parse_duration(s, out) < 0 || *out == 0)
		return CONF_FAIL(p, "invalid %s duration '%s' (a number with s, m, h or d, such as 5m)", kw, s);
	return 0;
}

static int conf_kw_queue_retry(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	(void)argc;
	if (conf_kw_duration(p, "queue-retry", argv[1], &c->queue_retry_min) < 0 ||
	    conf_kw_duration(p, "queue-retry", argv[2], &c->queue_retry_max) < 0)
		return -1;
	if (c->queue_retry_min > c->queue_retry_max)
		return CONF_FAIL(p, "queue-retry minimum %s is larger than maximum %s", argv[1], argv[2]);
	return 0;
}

static int conf_kw_queue_lifetime(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	return conf_kw_duration(p, "queue-lifetime", argv[1], &p->c->queue_lifetime);
}

static int conf_kw_command_timeout(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	return conf_kw_duration(p, "command-timeout", argv[1], &p->c->command_timeout);
}

static const struct conf_keyword conf_keywords[] = {
	{"hostname", 1, 1, false, "NAME", conf_kw_hostname},
	{"data-dir", 1, 1, false, "DIR", conf_kw_data_dir},
	{"listen", 2, 2, true, "ADDR:PORT ROLE", conf_kw_listen},
	{"tls-cert", 1, 1, false, "FILE", conf_kw_tls_cert},
	{"tls-key", 1, 1, false, "FILE", conf_kw_tls_key},
	{"domain", 1, 1, true, "NAME", conf_kw_domain},
	{"users", 1, 1, false, "FILE", conf_kw_users},
	{"alias", 2, CONF_MAX_ARGS, true, "ADDRESS TARGET[,TARGET...]", conf_kw_alias},
	{"recipient-delimiter", 1, 1, false, "CHAR", conf_kw_delimiter},
	{"dns", 1, 1, false, "ADDR[:PORT]", conf_kw_dns},
	{"smtp-port", 1, 1, false, "PORT", conf_kw_smtp_port},
	{"relay-host", 1, 1, false, "HOST[:PORT]", conf_kw_relay_host},
	{"max-message-size", 1, 1, false, "SIZE", conf_kw_max_size},
	{"queue-retry", 2, 2, false, "MIN MAX", conf_kw_queue_retry},
	{"queue-lifetime", 1, 1, false, "DURATION", conf_kw_queue_lifetime},
	{"command-timeout", 1, 1, false, "DURATION", conf_kw_command_timeout},
	{"dkim-key", 3, 3, true, "DOMAIN SELECTOR FILE", conf_kw_dkim_key},
	{"inbound-auth", 1, 1, false, "on|off", conf_kw_inbound_auth},
	{"dmarc-policy", 1, 1, false, "enforce|report", conf_kw_dmarc_policy},
};
#define CONF_NKEYWORDS (sizeof conf_keywords / sizeof conf_keywords[0])

/* One line: strip the comment, split into words, run the keyword. */
static int conf_line(struct conf_parser *p, char *line, size_t len)
{
	char *argv[CONF_MAX_ARGS + 1];
	int argc = 0;
	if (memchr(line, '\0', len) != NULL)
		return CONF_FAIL(p, "NUL byte in line");
	char *hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	for (char *s = line;;) {
		s += strspn(s, " \t\r\n\f\v");
		if (*s == '\0')
			break;
		if (argc == CONF_MAX_ARGS + 1)
			return CONF_FAIL(p, "too many words (at most %d)", CONF_MAX_ARGS + 1);
		argv[argc++] = s;
		s += strcspn(s, " \t\r\n\f\v");
		if (*s != '\0')
			*s++ = '\0';
	}
	if (argc == 0)
		return 0;
	for (size_t k = 0; k < CONF_NKEYWORDS; k++) {
		const struct conf_keyword *kw = &conf_keywords[k];
		if (strcmp(argv[0], kw->name) != 0)
			continue;
		if (argc - 1 < kw->min || argc - 1 > kw->max)
			return CONF_FAIL(p, "wrong number of arguments for '%s' (usage: %s %s)", kw->name,
			                 kw->name, kw->usage);
		if (!kw->repeatable && p->first[k] != 0)
			return CONF_FAIL(p, "duplicate '%s' (already set on line %u)", kw->name, p->first[k]);
		if (p->first[k] == 0)
			p->first[k] = p->line;
		return kw->fn(p, argv, argc);
	}
	return CONF_FAIL(p, "unknown keyword '%s'", argv[0]);
}

/* Start values: the numeric defaults of CONTRACT.md. Strings stay NULL
 * until conf_finish, so that a directive can tell "not set" from "set". */
static void conf_init(struct conf *c)
{
	memset(c, 0, sizeof *c);
	c->recipient_delimiter = '+';
	c->smtp_port = 25;
	c->max_message_size = 35ull * 1024 * 1024;
	c->queue_retry_min = 5 * 60;
	c->queue_retry_max = 60 * 60;
	c->queue_lifetime = 5 * 86400;
	c->command_timeout = 5 * 60; /* RFC 5321 4.5.3.2.7 */
	c->inbound_auth = true;
	c->dmarc_enforce = true;
}

static int conf_add_listen(struct conf *c, const char *addr, int port, enum conf_role role)
{
	struct conf_listen *v = realloc(c->listens, (c->nlistens + 1) * sizeof *v);
	if (v == NULL)
		return -1;
	c->listens = v;
	memset(&v[c->nlistens], 0, sizeof v[0]);
	snprintf(v[c->nlistens].addr, sizeof v[0].addr, "%s", addr);
	v[c->nlistens].port = port;
	v[c->nlistens].role = role;
	c->nlistens++;
	return 0;
}

/* Every role on its standard port (or the embedded default's
 * loopback ones), in role order. */
static int conf_add_listens(struct conf *c, const char *addr, const int ports[CONF_NROLES])
{
	for (size_t i = 0; i < CONF_NROLES; i++)
		if (conf_add_listen(c, addr, ports[i], (enum conf_role)i) < 0)
			return -1;
	return 0;
}

/*
 * Fill what the file left unset, then the checks that need the whole file.
 * `file` is NULL for the embedded default.
 */
static int conf_finish(struct conf_parser *p, unsigned flags)
{
	struct conf *c = p->c;
	if (c->hostname == NULL) {
		/* CONTRACT.md: the system's host name, used as is even when it
		 * has no dot; no DNS query at load time (sendmail must not hang) */
		char name[256] = "";
		if (gethostname(name, sizeof name - 1) < 0 || name[0] == '\0')
			snprintf(name, sizeof name, "localhost");
		if (conf_set_str(&c->hostname, name) < 0)
			return conf_oom(p);
	}
	if (c->data_dir == NULL && conf_set_str(&c->data_dir, CONF_DEFAULT_DATA_DIR) < 0)
		return conf_oom(p);
	if (c->ndomains == 0) {
		if ((c->domains = malloc(sizeof *c->domains)) == NULL ||
		    (c->domains[0] = strdup("localhost")) == NULL)
			return conf_oom(p);
		c->ndomains = 1;
	}
	if (c->nlistens == 0) {
		/*
		 * A file without `listen` lines serves every role on its
		 * standard port on all IPv4 addresses, as Postfix and Dovecot
		 * do out of the box: whoever writes a file for a real server
		 * expects port 25, not the embedded default's loopback ports.
		 */
		static const int std_ports[CONF_NROLES] = {25, 587, 465, 110, 995, 143, 993};
		if (conf_add_listens(c, "0.0.0.0", std_ports) < 0)
			return conf_oom(p);
	}
	if (c->tls_cert != NULL && c->tls_key == NULL)
		return conf_error(p->err, p->errlen, p->file, p->tls_cert_line, "tls-cert given without tls-key");
	if (c->tls_key != NULL && c->tls_cert == NULL)
		return conf_error(p->err, p->errlen, p->file, p->tls_key_line, "tls-key given without tls-cert");
	for (size_t i = 0; i < c->naliases; i++) {
		const char *d = conf_parse_domain_of(c->aliases[i].address);
		if (!conf_is_local_domain(c, d))
			return conf_error(p->err, p->errlen, p->file, p->alias_lines[i],
			                  "alias '%s': '%s' is not a configured domain", c->aliases[i].address, d);
	}
	if (c->users_file != NULL && !(flags & CONF_LOAD_NO_USERS)) {
		if (conf_users_load(c, p->file, p->users_line, p->err, p->errlen) < 0 ||
		    conf_users_postmaster(c, p->err, p->errlen) < 0)
			return -1;
	}
	/* Postfix's relayhost without a port uses smtp_tcp_port too */
	if (c->relay_host != NULL && c->relay_port == 0)
		c->relay_port = c->smtp_port;
	return 0;
}

static int conf_read(struct conf_parser *p, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;
	errno = 0;
	while (r == 0 && (n = getline(&line, &cap, f)) != -1) {
		p->line++;
		r = conf_line(p, line, (size_t)n);
	}
	if (r == 0 && ferror(f))
		r = conf_error(p->err, p->errlen, p->file, 0, "%s", strerror(errno ? errno : EIO));
	free(line);
	return r;
}

int conf_load_flags(const char *path, unsigned flags, struct conf *c, char *err, size_t errlen)
{
	struct conf_parser p = {.file = path, .err = err, .errlen = errlen};
	struct conf nc;
	int r = -1;
	FILE *f;
	conf_init(&nc);
	p.c = &nc;
	if ((f = fopen(path, "r")) == NULL) {
		conf_error(err, errlen, path, 0, "%s", strerror(errno));
		goto out;
	}
	p.first = calloc(CONF_NKEYWORDS, sizeof *p.first);
	p.dir = conf_parse_dir_of(path);
	nc.path = strdup(path);
	if (p.first == NULL || p.dir == NULL || nc.path == NULL) {
		conf_error(err, errlen, path, 0, "%s", p.dir ? "out of memory" : "cannot find its directory");
		goto out;
	}
	if (conf_read(&p, f) == 0 && conf_finish(&p, flags) == 0)
		r = 0;
out:
	if (f != NULL)
		fclose(f);
	free(p.first);
	free(p.dir);
	free(p.listen_lines);
	free(p.alias_lines);
	if (r == 0) {
		*c = nc;
	} else {
		conf_free(&nc);
		memset(c, 0, sizeof *c);
	}
	return r;
}

int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	return conf_load_flags(path, 0, c, err, errlen);
}

/* CONTRACT.md "Embedded default": loopback only, data under ./tern-data
 * made absolute now, because serve may later chdir. */
int conf_load_default(struct conf *c, char *err, size_t errlen)
{
	static const int ports[CONF_NROLES] = {2525, 2587, 2465, 2110, 2995, 2143, 2993};
	struct conf_parser p = {.file = "(embedded default)", .err = err, .errlen = errlen};
	struct conf nc;
	char cwd[4096];
	conf_init(&nc);
	p.c = &nc;
	if (getcwd(cwd, sizeof cwd) == NULL) {
		conf_error(err, errlen, p.file, 0, "cannot find the current directory: %s", strerror(errno));
		goto fail;
	}
	if ((nc.data_dir = conf_parse_path(cwd, "tern-data")) == NULL ||
	    conf_add_listens(&nc, "127.0.0.1", ports) < 0) {
		conf_oom(&p);
		goto fail;
	}
	if (conf_finish(&p, 0) < 0)
		goto fail;
	*c = nc;
	return 0;
fail:
	conf_free(&nc);
	memset(c, 0, sizeof *c);
	return -1;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->hostname);
	free(c->data_dir);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->listens);
	conf_strv_free(c->domains, c->ndomains);
	free(c->users_file);
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].address);
		if (c->users[i].hash != NULL) {
			/* a hash is not a secret, but it helps offline guessing */
			explicit_bzero(c->users[i].hash, strlen(c->users[i].hash));
			free(c->users[i].hash);
		}
	}
	free(c->users);
	for (size_t i = 0; i < c->naliases; i++) {
		free(c->aliases[i].address);
		conf_strv_free(c->aliases[i].targets, c->aliases[i].ntargets);
	}
	free(c->aliases);
	free(c->dns);
	free(c->relay_host);
	free(c->relay_name);
	conf_auth_free(c);
	memset(c, 0, sizeof *c);
}

const char *conf_choose_path(const char *explicit_path, bool *must_exist)
{
	const char *env = getenv("TERN_CONFIG");
	*must_exist = true;
	if (explicit_path != NULL && explicit_path[0] != '\0')
		return explicit_path;
	/* an empty TERN_CONFIG counts as unset, as with most variables */
	if (env != NULL && env[0] != '\0')
		return env;
	*must_exist = false;
	if (access(CONF_DEFAULT_PATH, F_OK) == 0)
		return CONF_DEFAULT_PATH;
	return NULL;
}

const char *conf_role_name(enum conf_role r)
{
	if ((size_t)r >= CONF_NROLES)
		return "unknown";
	return conf_role_names[r];
}

bool conf_is_local_domain(const struct conf *c, const char *domain)
{
	if (domain == NULL)
		return false;
	for (size_t i = 0; i < c->ndomains; i++)
		if (strcasecmp(c->domains[i], domain) == 0)
			return true;
	return false;
}

const struct conf_user *conf_find_user(const struct conf *c, const char *address)
{
	if (address == NULL)
		return NULL;
	for (size_t i = 0; i < c->nusers; i++)
		if (strcasecmp(c->users[i].address, address) == 0)
			return &c->users[i];
	return NULL;
}

const struct conf_alias *conf_find_alias(const struct conf *c, const char *address)
{
	if (address == NULL)
		return NULL;
	for (size_t i = 0; i < c->naliases; i++)
		if (strcasecmp(c->aliases[i].address, address) == 0)
			return &c->aliases[i];
	return NULL;
}

int conf_load_chosen(const char *path, unsigned flags, struct conf *c, char *err, size_t errlen)
{
	return path ? conf_load_flags(path, flags, c, err, errlen) : conf_load_default(c, err, errlen);
}
