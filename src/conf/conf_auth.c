/*
 * conf_auth — the keywords of trusted mail (CONTRACT.md): `dkim-key
 * DOMAIN SELECTOR FILE`, `inbound-auth on|off`, `dmarc-policy
 * enforce|report`, and the look-ups the signing code needs.
 *
 * The key file itself is not read here: it may be readable by root only,
 * and reading a private key is OpenSSL's job (crypto/dkim_pkey), done by
 * the server before it gives up privileges. Its line is kept so that the
 * server's error names the directive.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_internal.h"

/* A selector is one or more labels (RFC 6376 3.1); tern's default is
 * ALG-YYYYMMDD. The same rule as a host name fits both. */
int conf_kw_dkim_key(struct conf_parser *p, char **argv, int argc)
{
	struct conf *c = p->c;
	(void)argc;
	if (!conf_parse_is_hostname(argv[1]))
		return CONF_FAIL(p, "invalid dkim-key domain '%s'", argv[1]);
	if (!conf_parse_is_hostname(argv[2]) || strlen(argv[2]) > 63)
		return CONF_FAIL(p, "invalid dkim-key selector '%s' (letters, digits, '-' and dots)", argv[2]);
	for (size_t i = 0; i < c->ndkim_keys; i++)
		if (strcasecmp(c->dkim_keys[i].domain, argv[1]) == 0 && strcasecmp(c->dkim_keys[i].selector, argv[2]) == 0)
			return CONF_FAIL(p, "dkim-key %s %s is configured twice", argv[1], argv[2]);
	struct conf_dkim_key *v = realloc(c->dkim_keys, (c->ndkim_keys + 1) * sizeof *v);
	if (v == NULL)
		return conf_oom(p);
	c->dkim_keys = v;
	struct conf_dkim_key *k = &v[c->ndkim_keys];
	memset(k, 0, sizeof *k);
	k->domain = strdup(argv[1]);
	k->selector = strdup(argv[2]);
	k->file = conf_parse_path(p->dir, argv[3]);
	k->line = p->line;
	c->ndkim_keys++; /* counted at once: conf_auth_free frees a half-made one */
	if (k->domain == NULL || k->selector == NULL || k->file == NULL)
		return conf_oom(p);
	conf_parse_lower(k->domain);
	return 0;
}

static int conf_kw_switch(struct conf_parser *p, const char *kw, const char *s, const char *yes, const char *no,
                          bool *out)
{
	if (strcmp(s, yes) == 0)
		*out = true;
	else if (strcmp(s, no) == 0)
		*out = false;
	else
		return CONF_FAIL(p, "invalid %s '%s' (%s or %s)", kw, s, yes, no);
	return 0;
}

int conf_kw_inbound_auth(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	return conf_kw_switch(p, "inbound-auth", argv[1], "on", "off", &p->c->inbound_auth);
}

int conf_kw_dmarc_policy(struct conf_parser *p, char **argv, int argc)
{
	(void)argc;
	return conf_kw_switch(p, "dmarc-policy", argv[1], "enforce", "report", &p->c->dmarc_enforce);
}

void conf_auth_free(struct conf *c)
{
	for (size_t i = 0; i < c->ndkim_keys; i++) {
		free(c->dkim_keys[i].domain);
		free(c->dkim_keys[i].selector);
		free(c->dkim_keys[i].file);
	}
	free(c->dkim_keys);
	c->dkim_keys = NULL;
	c->ndkim_keys = 0;
}

/* The domain whose keys sign tern's own reports (From: MAILER-DAEMON@
 * the host name): the configured domain the host name is in (equal, or
 * a parent), else the first domain. */
const char *conf_report_domain(const struct conf *c)
{
	const char *h = c->hostname;
	size_t hl = h ? strlen(h) : 0;
	for (size_t i = 0; i < c->ndomains; i++) {
		const char *d = c->domains[i];
		size_t dl = strlen(d);
		if (hl == dl ? strcasecmp(h, d) == 0 : hl > dl && h[hl - dl - 1] == '.' && strcasecmp(h + hl - dl, d) == 0)
			return d;
	}
	return c->ndomains ? c->domains[0] : NULL;
}
