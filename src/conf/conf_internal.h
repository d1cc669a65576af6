/*
 * conf_internal — what the files of src/conf/ share among themselves and
 * nobody else: value syntaxes (conf_parse.c), the users file
 * (conf_users.c) and the error and alias helpers of conf.c.
 * Other modules include conf/conf.h only.
 */
#ifndef TERN_CONF_INTERNAL_H
#define TERN_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2: local part and domain octets. */
#define CONF_LOCAL_MAX  64
#define CONF_DOMAIN_MAX 255

/* conf.c */

/* The state of one load; everything here is scratch, freed at the end. */
struct conf_parser {
	struct conf *c;
	const char *file;        /* as the caller named it, for messages */
	char *dir;               /* absolute directory of file: base of relative paths */
	unsigned line;           /* current line, from 1 */
	unsigned *first;         /* per keyword: the line it was first seen on */
	unsigned *listen_lines;  /* parallel to c->listens */
	unsigned *alias_lines;   /* parallel to c->aliases */
	unsigned tls_cert_line, tls_key_line, users_line;
	char *err;
	size_t errlen;
};

/* An error at the parser's current line. */
#define CONF_FAIL(p, ...) conf_error((p)->err, (p)->errlen, (p)->file, (p)->line, __VA_ARGS__)
int conf_oom(struct conf_parser *p);

/* Write "FILE:LINE: message" (or "FILE: message" when line is 0). Returns -1. */
int conf_error(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Append an alias; takes ownership of address and targets (freed on
 * failure too). 0, or -1 when out of memory. */
int conf_alias_add(struct conf *c, char *address, char **targets, size_t ntargets, bool implicit);
/* Free an array of n strings and the array. */
void conf_strv_free(char **v, size_t n);

/* conf_parse.c */

/* A decimal port 1-65535 without sign or blanks. 0/-1 */
int conf_parse_port(const char *s, int *out);
/* A numeric IPv4 or IPv6 address (no brackets), canonicalised into out.
 * Returns AF_INET or AF_INET6, or -1. */
int conf_parse_ip(const char *s, char *out, size_t outlen);
/*
 * "IPv4:PORT" or "[IPv6]:PORT". When default_port is > 0 the ":PORT" may
 * be left out. Returns NULL, or a reason for the error message.
 */
const char *conf_parse_endpoint(const char *s, int default_port, char *addr, size_t addrlen,
                                int *family, int *port);
/*
 * "HOST", "HOST:PORT", "[HOST]" or "[HOST]:PORT" where HOST is a host name
 * or an IPv4 address, or inside brackets an IPv6 address. *port is 0 when
 * none was given. *is_ipv6 tells whether brackets are needed to print it.
 * Returns NULL, or a reason.
 */
const char *conf_parse_hostport(const char *s, char *host, size_t hostlen, int *port, bool *is_ipv6);
/* A DNS name: labels of letters, digits, '-' and '_', no empty label, no
 * trailing dot, at most 253 octets. */
bool conf_parse_is_hostname(const char *s);
/* local@domain with a local part tern can deliver to (see the rules in
 * conf_parse.c) and a host name as domain. */
bool conf_parse_is_mailbox(const char *s);
/* local@domain as a forwarding target: any RFC 5322 atext local part. */
bool conf_parse_is_target(const char *s);
/* Lower-case ASCII letters in place. */
void conf_parse_lower(char *s);
/* The domain of "local@domain" (after the last '@'), or NULL. */
const char *conf_parse_domain_of(const char *address);
/* The absolute directory holding `file` (from getcwd when it is relative).
 * malloc'ed, or NULL when out of memory or the cwd is unknown. */
char *conf_parse_dir_of(const char *file);
/* `arg` when absolute, else dir/arg. malloc'ed, or NULL. */
char *conf_parse_path(const char *dir, const char *arg);

/* conf_auth.c: the keywords of trusted mail (dkim-key, inbound-auth,
 * dmarc-policy), checked the moment they are read. */
int conf_kw_dkim_key(struct conf_parser *p, char **argv, int argc);
int conf_kw_inbound_auth(struct conf_parser *p, char **argv, int argc);
int conf_kw_dmarc_policy(struct conf_parser *p, char **argv, int argc);
void conf_auth_free(struct conf *c);

/* conf_users.c */

/* Read c->users_file; errors about opening it name cfgfile:cfgline (the
 * `users` directive), errors about its contents name the users file and
 * its line. Every user's domain must be in c->domains. 0/-1 */
int conf_users_load(struct conf *c, const char *cfgfile, unsigned cfgline, char *err, size_t errlen);
/* Add postmaster@DOMAIN -> the domain's first user for every domain that
 * has users but neither a postmaster user nor a postmaster alias. 0/-1 */
int conf_users_postmaster(struct conf *c, char *err, size_t errlen);

#endif
