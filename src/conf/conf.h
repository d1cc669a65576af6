/*
 * conf — the configuration: the keyword table of CONTRACT.md, its parser
 * (errors as "FILE:LINE: message"), the embedded default, the users file,
 * and the printer behind `tern check`.
 *
 * Owns every string it holds; conf_free() releases them. No I/O beyond
 * reading the configuration and users files.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conf_role {
	ROLE_SMTP,
	ROLE_SUBMISSION,
	ROLE_SUBMISSIONS,
	ROLE_POP3,
	ROLE_POP3S,
	ROLE_IMAP,
	ROLE_IMAPS,
};

struct conf_listen {
	char addr[64];      /* numeric IPv4 or IPv6 address, without brackets */
	int port;
	enum conf_role role;
};

struct conf_alias {
	char *address;      /* lower-cased local@domain */
	char **targets;     /* lower-cased addresses, local or remote */
	size_t ntargets;
	bool implicit;      /* made by tern (default postmaster), not written in the file */
};

/*
 * A hash that starts with '!' or '*' is a locked account: it receives mail
 * but must never authenticate (crypt(3) reports failure as "*0" or "*1",
 * so comparing such a hash with crypt's output would be a hole).
 */
struct conf_user {
	char *address;      /* lower-cased login, local@domain */
	char *hash;         /* crypt(3) string, {SCHEME} prefix removed */
};

/* A DKIM signing key (`dkim-key DOMAIN SELECTOR FILE`); the file is
 * read by the server, before it gives up privileges. */
struct conf_dkim_key {
	char *domain;       /* lower-cased */
	char *selector;
	char *file;         /* absolute */
	unsigned line;      /* where it was configured, for errors about the file */
};

struct conf {
	char *path;         /* file read, or NULL for the embedded default */
	char *hostname;
	char *data_dir;
	char *tls_cert, *tls_key;   /* NULL: self-signed pair in data_dir */
	struct conf_listen *listens;
	size_t nlistens;
	char **domains;     /* lower-cased */
	size_t ndomains;
	char *users_file;   /* NULL: no users file, every local part accepted */
	struct conf_user *users;
	size_t nusers;
	struct conf_alias *aliases;
	size_t naliases;
	char recipient_delimiter;   /* '\0' when disabled (`recipient-delimiter none`) */
	char *dns;          /* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) or NULL for the system resolver */
	int smtp_port;
	char *relay_host;   /* "HOST[:PORT]" or NULL */
	uint64_t max_message_size;
	unsigned queue_retry_min, queue_retry_max;  /* seconds */
	unsigned queue_lifetime;                    /* seconds */
	unsigned command_timeout;                   /* seconds a session may stay silent */
	struct conf_dkim_key *dkim_keys;
	size_t ndkim_keys;
	bool inbound_auth;  /* SPF, DKIM and DMARC on the smtp role */
	bool dmarc_enforce; /* dmarc-policy enforce (else report) */

	/* The same values parsed, so that consumers need not parse them again. */
	char *relay_name;   /* relay-host without brackets or port; NULL without relay-host */
	int relay_port;     /* relay-host's port; smtp_port when it names none */
	char dns_addr[64];  /* dns's numeric address without brackets; "" without dns */
	int dns_port;       /* dns's port, 53 when it names none */
};

/* Flags of conf_load_flags(). */
enum conf_load_flag {
	/* Do not read the users file (nor derive the default postmaster
	 * aliases from it): for faces such as `tern sendmail` that run as an
	 * unprivileged user who may not read it. users stays NULL. */
	CONF_LOAD_NO_USERS = 1u << 0,
};

/*
 * Which file to read: `explicit_path` (from -c/-C) if given, then the
 * TERN_CONFIG environment variable, then /etc/tern/tern.conf.
 * Returns the path (static or from the arguments/environment) and sets
 * *must_exist when it was named explicitly. Returns NULL when nothing was
 * named and /etc/tern/tern.conf does not exist: use the embedded default.
 */
const char *conf_choose_path(const char *explicit_path, bool *must_exist);

/* Read and validate a file. On error returns -1 with "FILE:LINE: message"
 * (or "FILE: message") in err, and *c is left zeroed (conf_free is still
 * safe). For a reload, load into a fresh struct and swap on success. */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);
/* conf_load with CONF_LOAD_* flags. */
int conf_load_flags(const char *path, unsigned flags, struct conf *c, char *err, size_t errlen);
/* conf_load_flags(path), or the embedded default when path is NULL (what
 * conf_choose_path() returned): the one way every command face loads. */
int conf_load_chosen(const char *path, unsigned flags, struct conf *c, char *err, size_t errlen);
/* The embedded default of CONTRACT.md (loopback ports, ./tern-data). */
int conf_load_default(struct conf *c, char *err, size_t errlen);
void conf_free(struct conf *c);
/* The effective configuration with defaults filled in, in the file's syntax. */
void conf_print(const struct conf *c, void *stdio_file);

/* Helpers shared with other modules. */
const char *conf_role_name(enum conf_role r);
bool conf_is_local_domain(const struct conf *c, const char *domain);
const struct conf_user *conf_find_user(const struct conf *c, const char *address);
const struct conf_alias *conf_find_alias(const struct conf *c, const char *address);
/* The domain whose dkim-keys sign tern's own bounces and reports: the
 * `domain` the host name belongs to, else the first; NULL without any. */
const char *conf_report_domain(const struct conf *c);
/* "30s", "5m", "2h", "1d" -> seconds; plain digits are seconds. 0/-1 */
int conf_parse_duration(const char *s, unsigned *out);
/* "35M", "512k", "1G", plain bytes. 0/-1 */
int conf_parse_size(const char *s, uint64_t *out);

#endif
