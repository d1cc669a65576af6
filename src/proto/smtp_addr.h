/*
 * smtp_addr — the RFC 5321 4.1.2 path grammar (Reverse-path, Forward-path,
 * Mailbox) with the length limits of 4.5.3.1, and the RFC 6531 extension
 * to UTF-8 mailboxes. Pure: bytes in, a parsed address or a reason out.
 */
#ifndef TERN_SMTP_ADDR_H
#define TERN_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_MAX  64  /* RFC 5321 4.5.3.1.1: local-part octets */
#define SMTP_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2: domain octets */
#define SMTP_PATH_MAX   256 /* RFC 5321 4.5.3.1.3: path octets, brackets included */

struct smtp_addr {
	char local[SMTP_LOCAL_MAX + 1];   /* wire form: a Dot-string, or a Quoted-string with its quotes */
	char domain[SMTP_DOMAIN_MAX + 1]; /* as sent (case kept); a literal keeps its brackets */
	bool is_null;                     /* the null path <> */
	bool quoted;                      /* local part is a Quoted-string */
	bool domain_literal;              /* [1.2.3.4] or [IPv6:...] */
	bool utf8;                        /* holds octets >= 0x80 (RFC 6531) */
};

enum smtp_addr_status {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_SYNTAX,     /* not a path at all */
	SMTP_ADDR_TOO_LONG,   /* a limit of 4.5.3.1 passed */
	SMTP_ADDR_NEEDS_UTF8, /* non-ASCII without SMTPUTF8 (RFC 6531 3.4) */
};

/*
 * Parse a path that starts at s[0] == '<'. `allow_null`: accept "<>"
 * (MAIL FROM). `utf8_ok`: the transaction declared SMTPUTF8.
 * A source route ("<@a,@b:user@d>") is accepted and dropped (RFC 5321
 * 4.1.2, C.). Also accepts "<postmaster>" without a domain when
 * allow_postmaster is set (RFC 5321 4.1.1.3): domain is then empty.
 * On success *consumed is the number of bytes up to and including '>'.
 * The domain must not end with a dot. Invalid UTF-8 is a syntax error.
 */
enum smtp_addr_status smtp_addr_parse(const char *s, size_t n, bool allow_null, bool utf8_ok,
                                      bool allow_postmaster, struct smtp_addr *a, size_t *consumed);

/* "local@domain" (or "" for the null path, "postmaster" without domain)
 * into out; -1 if outlen is too small. */
int smtp_addr_format(const struct smtp_addr *a, char *out, size_t outlen);

/* True when the local part is a plain Dot-string of letters, digits and
 * "!#$&'*+-/=?^_`{|}~." minus the routing characters '%', '!', '/', and
 * neither starts nor ends with '.' — the only local parts tern delivers
 * into a Maildir. UTF-8 octets are allowed. */
bool smtp_addr_local_is_plain(const char *local);

/* The length (2 to 4) of the well-formed UTF-8 sequence (RFC 3629 4) that
 * starts at s[0] >= 0x80, or 0 when it is ill-formed: truncated, overlong,
 * a surrogate, or above U+10FFFF. Shared by the SMTPUTF8 checks. */
size_t smtp_addr_utf8_seq(const char *s, size_t n);

#endif
