/*
 * signer — see signer.h. Owns the loaded keys; a msgsign owns its copy
 * of the header section (dkim_hdrs, bounded by DKIM_HEADER_MAX) until
 * the From: domain is known, then hands everything to crypto/dkim_sign.
 */
#include "mta/signer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/dkim_pkey.h"
#include "crypto/dkim_sign.h"
#include "proto/dkim.h"
#include "proto/dkim_hdrs.h"
#include "proto/mail_addrlist.h"

struct signer {
	struct dkim_sign_key *keys; /* domain and selector borrowed from the conf copy below */
	struct dkim_pkey **pkeys;
	char **names;               /* owned copies: domain, selector, per key */
	size_t n;
};

struct msgsign {
	const struct signer *s;
	int64_t now;
	char domain[DKIM_DOMAIN_MAX + 1];
	bool fixed;                 /* domain given by the caller */
	bool decided;
	struct dkim_hdrs h;
	struct dkim_sign *ds;       /* NULL: nothing to sign with */
};

void signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		dkim_pkey_free(s->pkeys[i]);
		free(s->names[2 * i]);
		free(s->names[2 * i + 1]);
	}
	free(s->keys);
	free(s->pkeys);
	free(s->names);
	free(s);
}

struct signer *signer_load(const struct conf *c, char *err, size_t errlen)
{
	struct signer *s = calloc(1, sizeof *s);
	size_t n = c->ndkim_keys;
	if (s == NULL || (n && ((s->keys = calloc(n, sizeof *s->keys)) == NULL ||
	                        (s->pkeys = calloc(n, sizeof *s->pkeys)) == NULL ||
	                        (s->names = calloc(2 * n, sizeof *s->names)) == NULL))) {
		snprintf(err, errlen, "out of memory");
		signer_free(s);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct conf_dkim_key *k = &c->dkim_keys[i];
		char why[256];
		s->n = i + 1;
		if (dkim_pkey_load(k->file, &s->pkeys[i], why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%u: dkim-key %s: %s", c->path ? c->path : "tern.conf", k->line, k->file, why);
			signer_free(s);
			return NULL;
		}
		s->names[2 * i] = strdup(k->domain);
		s->names[2 * i + 1] = strdup(k->selector);
		if (s->names[2 * i] == NULL || s->names[2 * i + 1] == NULL) {
			snprintf(err, errlen, "out of memory");
			signer_free(s);
			return NULL;
		}
		s->keys[i] = (struct dkim_sign_key){.domain = s->names[2 * i], .selector = s->names[2 * i + 1],
		                                    .key = s->pkeys[i]};
	}
	return s;
}

size_t signer_count(const struct signer *s)
{
	return s ? s->n : 0;
}

struct msgsign *msgsign_new(const struct signer *s, int64_t now, const char *domain)
{
	struct msgsign *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->s = s;
	m->now = now;
	if (domain) {
		snprintf(m->domain, sizeof m->domain, "%s", domain);
		m->fixed = true;
	}
	dkim_hdrs_init(&m->h);
	return m;
}

static void msgsign_first_addr(void *arg, const char *addr, size_t len)
{
	struct msgsign *m = arg;
	const char *at = memrchr(addr, '@', len);
	if (m->domain[0] || at == NULL)
		return;
	size_t dl = len - (size_t)(at + 1 - addr);
	if (dl == 0 || dl > DKIM_DOMAIN_MAX)
		return;
	memcpy(m->domain, at + 1, dl);
	m->domain[dl] = '\0';
}

/* The header section is complete: choose the keys, start the signer,
 * and give it the header section held so far. */
static void msgsign_decide(struct msgsign *m)
{
	m->decided = true;
	if (!m->fixed && !m->h.too_large) {
		struct buf from;
		buf_init(&from, DKIM_HEADER_MAX);
		if (mail_addrlist_field(m->h.raw.data ? m->h.raw.data : "", m->h.raw.len, "from", &from) > 0)
			mail_addrlist_parse(from.data, from.len, msgsign_first_addr, m);
		buf_free(&from);
	}
	struct dkim_sign_key use[DKIM_SIGN_KEYS_MAX];
	size_t n = 0;
	for (size_t i = 0; m->s && i < m->s->n && n < DKIM_SIGN_KEYS_MAX; i++)
		if (strcasecmp(m->s->keys[i].domain, m->domain) == 0)
			use[n++] = m->s->keys[i];
	if (n == 0)
		return;
	m->ds = dkim_sign_new(use, n, m->now);
	if (m->ds && m->h.raw.len)
		dkim_sign_feed(m->ds, m->h.raw.data, m->h.raw.len);
}

void msgsign_feed(struct msgsign *m, const char *p, size_t n)
{
	if (!m->decided) {
		size_t k = dkim_hdrs_feed(&m->h, p, n);
		if (!m->h.done && !m->h.too_large)
			return;
		msgsign_decide(m);
		p += k;
		n -= k;
	}
	if (m->ds && n)
		dkim_sign_feed(m->ds, p, n);
}

int msgsign_finish(struct msgsign *m, struct buf *out, char *err, size_t errlen)
{
	if (!m->decided) {
		dkim_hdrs_finish(&m->h);
		msgsign_decide(m);
	}
	if (m->ds == NULL) {
		if (m->domain[0] && signer_count(m->s) && m->h.too_large) {
			snprintf(err, errlen, "header section too large to sign");
			return -1;
		}
		m->domain[0] = '\0';
		return 0;
	}
	return dkim_sign_finish(m->ds, "\n", out, err, errlen);
}

const char *msgsign_domain(const struct msgsign *m)
{
	return m->ds ? m->domain : "";
}

void msgsign_free(struct msgsign *m)
{
	if (m == NULL)
		return;
	dkim_sign_free(m->ds);
	dkim_hdrs_free(&m->h);
	free(m);
}
