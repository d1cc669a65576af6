/*
 * recipient — RCPT TO policy: local domains, users, aliases, the
 * recipient delimiter, and the relay rule.
 *
 * Routing tricks are refused rather than interpreted: a local part with
 * '%' (the percent hack), '!' (bang paths), a quoted local part, or one
 * that is not a plain Dot-string is never delivered nor relayed. Source
 * routes were already dropped by the parser (RFC 5321 4.1.2 C.), so
 * "<@local:a@remote>" is judged as "a@remote". Domain literals are never
 * local.
 */
#include "mta/recipient.h"

#include "crypto/srs.h"
#include "mta/srs_secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void recipient_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

bool recipient_is_local(const struct conf *c, const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at && conf_is_local_domain(c, at + 1);
}

static int recipient_add(struct recipient_list *out, const char *addr)
{
	for (size_t i = 0; i < out->n; i++)
		if (strcasecmp(out->addrs[i], addr) == 0)
			return 0;
	if (out->n >= RECIPIENT_MAX_TARGETS)
		return -1;
	char **na = realloc(out->addrs, (out->n + 1) * sizeof *na);
	if (na == NULL)
		return -1;
	out->addrs = na;
	if ((out->addrs[out->n] = strdup(addr)) == NULL)
		return -1;
	out->n++;
	return 0;
}

void recipient_list_free(struct recipient_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->addrs[i]);
	free(l->addrs);
	l->addrs = NULL;
	l->n = 0;
}

/*
 * Expand a local address (lower case) through aliases. Depth-limited so
 * that alias cycles end. A local target that is neither alias nor user
 * still gets a Maildir when no users file exists.
 */
static int recipient_expand(const struct conf *c, const char *addr, int depth, struct recipient_list *out)
{
	const struct conf_alias *a = conf_find_alias(c, addr);
	if (a == NULL || depth > 8)
		return recipient_add(out, addr);
	for (size_t i = 0; i < a->ntargets; i++) {
		const char *t = a->targets[i];
		if (strcasecmp(t, addr) == 0 || !recipient_is_local(c, t)) {
			if (recipient_add(out, t) < 0)
				return -1;
		} else if (recipient_expand(c, t, depth + 1, out) < 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * A local address in SRS form (a bounce of mail an alias forwarded):
 * back to the original sender, even when that is remote, because the
 * hash proves tern made the address; refused when it does not verify.
 * 1 when handled (*r set), 0 when the address is not SRS.
 */
static int recipient_srs(const struct conf *c, const struct srs_secret *srs, time_t now, const struct smtp_addr *to,
                         const char *domain, struct recipient_list *out, enum smtp_reply_id *r)
{
	char addr[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 8], orig[SRS_ADDR_MAX + 1];
	snprintf(addr, sizeof addr, "%s@%s", to->local, domain);
	if (!srs_is_srs(addr))
		return 0;
	enum srs_status st = srs == NULL ? SRS_BAD_HASH
	                                 : srs_reverse(srs->key, sizeof srs->key, (int64_t)now, addr, orig, sizeof orig);
	if (st != SRS_OK) {
		*r = SMTP_R_SRS_INVALID;
		return 1;
	}
	char *at = strrchr(orig, '@');
	if (at)
		recipient_lower(at + 1);
	if (recipient_is_local(c, orig))
		*r = recipient_expand(c, orig, 0, out) < 0 ? SMTP_R_TOO_MANY_RCPTS : SMTP_R_RCPT_OK;
	else
		*r = recipient_add(out, orig) < 0 ? SMTP_R_TOO_MANY_RCPTS : SMTP_R_RCPT_OK;
	return 1;
}

enum smtp_reply_id recipient_resolve(const struct conf *c, const struct srs_secret *srs, time_t now,
                                     const struct smtp_addr *to, bool may_relay,
                                     struct recipient_list *out)
{
	char addr[SMTP_LOCAL_MAX + SMTP_DOMAIN_MAX + 8];
	const char *domain = to->domain;
	if (domain[0] == '\0') /* <postmaster> (RFC 5321 4.1.1.3) */
		domain = c->ndomains ? c->domains[0] : "localhost";
	bool local = !to->domain_literal && conf_is_local_domain(c, domain);
	if (!local) {
		if (!may_relay)
			return SMTP_R_RELAY_DENIED;
		if (smtp_addr_format(to, addr, sizeof addr) < 0)
			return SMTP_R_RCPT_SYNTAX;
		char *at = strrchr(addr, '@');
		if (at)
			recipient_lower(at + 1);
		return recipient_add(out, addr) < 0 ? SMTP_R_TOO_MANY_RCPTS : SMTP_R_RCPT_OK;
	}
	if (to->quoted || !smtp_addr_local_is_plain(to->local))
		return SMTP_R_ROUTING_CHARS;
	enum smtp_reply_id sr;
	if (recipient_srs(c, srs, now, to, domain, out, &sr))
		return sr;
	char local_part[SMTP_LOCAL_MAX + 1];
	snprintf(local_part, sizeof local_part, "%s", to->local);
	recipient_lower(local_part);
	char dom[SMTP_DOMAIN_MAX + 1];
	snprintf(dom, sizeof dom, "%s", domain);
	recipient_lower(dom);

	/* An alias for the exact address (tag included) wins, as in Postfix. */
	snprintf(addr, sizeof addr, "%s@%s", local_part, dom);
	if (conf_find_alias(c, addr))
		return recipient_expand(c, addr, 0, out) < 0 ? SMTP_R_TOO_MANY_RCPTS : SMTP_R_RCPT_OK;
	if (c->recipient_delimiter) {
		char *d = strchr(local_part, c->recipient_delimiter);
		if (d && d != local_part)
			*d = '\0';
	}
	snprintf(addr, sizeof addr, "%s@%s", local_part, dom);
	bool known = conf_find_alias(c, addr) || conf_find_user(c, addr) || c->users_file == NULL ||
	             strcmp(local_part, "postmaster") == 0; /* RFC 5321 4.5.1 */
	if (!known)
		return SMTP_R_USER_UNKNOWN;
	return recipient_expand(c, addr, 0, out) < 0 ? SMTP_R_TOO_MANY_RCPTS : SMTP_R_RCPT_OK;
}
