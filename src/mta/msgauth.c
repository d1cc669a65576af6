/*
 * msgauth — see msgauth.h. Owns the SPF check, the DKIM verifier, one
 * question per signature's key and the DMARC policy look-ups.
 *
 * io_dns has no way to withdraw a question, so every question holds the
 * object: `pending` counts them, and msgauth_free before they are all
 * answered only marks it dead; the last answer frees it.
 */
#include "mta/msgauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/orgdomain.h"
#include "crypto/dkim_verify.h"
#include "io/dns.h"
#include "io/io.h"
#include "mta/spf_check.h"
#include "proto/authres.h"
#include "proto/dkim_tag.h"
#include "proto/dmarc.h"
#include "proto/mail_addrlist.h"
#include "proto/spf.h"

#define MSGAUTH_NAME_MAX (DKIM_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16)

struct msgauth_q {
	struct msgauth *m;
	int which;              /* 0..DKIM_SIGS_MAX-1: a key; -1: the DMARC policy */
};

struct msgauth_key {
	bool asked, done;
	enum io_dns_status st;
	char *record;           /* the first TXT record's text (owned) */
	size_t len;
};

struct msgauth {
	struct io_loop *loop;
	struct io_dns *dns;
	char *ip, *helo, *mail_from, *id;
	bool enforce;
	int64_t now;
	/* SPF */
	struct spf_check *spf;
	bool spf_done, spf_helo;
	enum spf_result spf_result;
	char spf_domain[DKIM_DOMAIN_MAX + 1];
	char spf_reason[128];
	/* DKIM */
	struct dkim_verify *dv;
	bool headers_seen;
	struct msgauth_key keys[DKIM_SIGS_MAX];
	/* From: and DMARC */
	size_t nfrom_fields;
	bool from_several_domains;
	char from_domain[DKIM_DOMAIN_MAX + 1];
	char dmarc_names[2][DMARC_DOMAIN_MAX + 8];
	size_t ndmarc_names, dmarc_at;
	bool dmarc_asked, dmarc_done, dmarc_have, dmarc_temp;
	struct dmarc_record rec;
	/* life */
	unsigned pending;       /* DNS questions not yet answered */
	bool finished, reported, dead;
	struct io_timer *timer; /* the deadline after finish; 0 ms: the deferred report */
	msgauth_cb cb;
	void *arg;
};

static void msgauth_destroy(struct msgauth *m)
{
	spf_check_cancel(m->spf);
	dkim_verify_free(m->dv);
	for (size_t i = 0; i < DKIM_SIGS_MAX; i++)
		free(m->keys[i].record);
	io_timer_free(m->timer);
	free(m->ip);
	free(m->helo);
	free(m->mail_from);
	free(m->id);
	free(m);
}

static void msgauth_maybe_report(struct msgauth *m);

/* ---------------------------------------------------------------- SPF */

static void msgauth_spf_cb(void *arg, const struct spf_check_result *r)
{
	struct msgauth *m = arg;
	m->spf = NULL; /* gone after this callback */
	m->spf_done = true;
	m->spf_result = r->result;
	if (r->reason)
		snprintf(m->spf_reason, sizeof m->spf_reason, "%s", r->reason);
	msgauth_maybe_report(m);
}

static void msgauth_spf_start(struct msgauth *m)
{
	const char *at = strrchr(m->mail_from, '@');
	m->spf_helo = m->mail_from[0] == '\0';
	const char *dom = m->spf_helo ? (m->helo ? m->helo : "") : at ? at + 1 : m->mail_from;
	snprintf(m->spf_domain, sizeof m->spf_domain, "%s", dom);
	struct spf_request req = {.mail_from = m->mail_from, .helo = m->helo, .receiver = m->id, .now = m->now};
	if (spf_ip_parse(m->ip, &req.ip) < 0 || dom[0] == '\0' || m->dns == NULL) {
		/* No identity to check (a null sender without HELO), or no
		 * resolver: SPF says nothing. */
		m->spf_done = true;
		m->spf_result = m->dns == NULL ? SPF_RESULT_TEMPERROR : SPF_RESULT_NONE;
		snprintf(m->spf_reason, sizeof m->spf_reason, "%s", m->dns == NULL ? "no resolver" : "no identity");
		return;
	}
	m->spf = spf_check_start(m->loop, m->dns, &req, 0, msgauth_spf_cb, m);
	if (m->spf == NULL) {
		m->spf_done = true;
		m->spf_result = SPF_RESULT_TEMPERROR;
		snprintf(m->spf_reason, sizeof m->spf_reason, "out of memory");
	}
}

/* --------------------------------------------------------------- DNS */

static void msgauth_dmarc_ask(struct msgauth *m);

/* A policy answer: exactly one DMARC record is a policy (RFC 7489
 * 6.6.3: several, or none, mean no policy at that name). */
static void msgauth_dmarc_answer(struct msgauth *m, enum io_dns_status st, const struct io_dns_rr *rr, size_t n)
{
	if (st == IO_DNS_TEMPFAIL) {
		m->dmarc_temp = true;
		m->dmarc_done = true;
		return;
	}
	size_t found = 0;
	struct dmarc_record r;
	for (size_t i = 0; st == IO_DNS_OK && i < n; i++) {
		struct dmarc_record one;
		enum dmarc_parse p = dmarc_record_parse((const char *)rr[i].data, rr[i].len, &one);
		if (p == DMARC_PARSE_NOT_DMARC)
			continue;
		found++;
		if (p == DMARC_PARSE_OK)
			r = one;
		else
			found += 1; /* a broken policy record: no policy (6.6.3) */
	}
	if (found == 1) {
		m->dmarc_have = true;
		m->rec = r;
		m->dmarc_done = true;
		return;
	}
	if (found == 0 && m->dmarc_at + 1 < m->ndmarc_names) {
		m->dmarc_at++;
		msgauth_dmarc_ask(m); /* the organizational domain's record */
		return;
	}
	m->dmarc_done = true;
}

static void msgauth_dns_cb(void *arg, enum io_dns_status st, const struct io_dns_rr *rr, size_t n)
{
	struct msgauth_q *q = arg;
	struct msgauth *m = q->m;
	int which = q->which;
	free(q);
	m->pending--;
	if (m->dead) {
		if (m->pending == 0)
			msgauth_destroy(m);
		return;
	}
	if (m->reported)
		return; /* the deadline came first */
	if (which < 0) {
		msgauth_dmarc_answer(m, st, rr, n);
	} else {
		struct msgauth_key *k = &m->keys[which];
		k->done = true;
		k->st = st;
		if (st == IO_DNS_OK && n > 0 && (k->record = malloc(rr[0].len + 1)) != NULL) {
			memcpy(k->record, rr[0].data, rr[0].len);
			k->record[rr[0].len] = '\0';
			k->len = rr[0].len;
		} else if (st == IO_DNS_OK) {
			k->st = n == 0 ? IO_DNS_NODATA : IO_DNS_TEMPFAIL; /* out of memory is ours: temporary */
		}
	}
	msgauth_maybe_report(m);
}

static bool msgauth_ask(struct msgauth *m, const char *name, int which)
{
	struct msgauth_q *q = malloc(sizeof *q);
	if (q == NULL || m->dns == NULL) {
		free(q);
		return false;
	}
	q->m = m;
	q->which = which;
	m->pending++;
	io_dns_lookup(m->dns, name, IO_DNS_TXT, msgauth_dns_cb, q);
	return true;
}

static void msgauth_dmarc_ask(struct msgauth *m)
{
	m->dmarc_asked = true;
	if (!msgauth_ask(m, m->dmarc_names[m->dmarc_at], -1)) {
		m->dmarc_temp = true;
		m->dmarc_done = true;
	}
}

/* ------------------------------------------------------------ headers */

struct msgauth_from {
	struct msgauth *m;
	size_t naddrs;
};

static void msgauth_from_addr(void *arg, const char *addr, size_t len)
{
	struct msgauth_from *f = arg;
	const char *at = memrchr(addr, '@', len);
	f->naddrs++;
	size_t dl = at ? len - (size_t)(at + 1 - addr) : 0;
	if (at == NULL || dl == 0 || dl > DKIM_DOMAIN_MAX || !dkim_tag_is_domain(at + 1, dl, DKIM_DOMAIN_MAX))
		return;
	char d[DKIM_DOMAIN_MAX + 1];
	memcpy(d, at + 1, dl);
	d[dl] = '\0';
	for (char *c = d; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (f->m->from_domain[0] == '\0')
		memcpy(f->m->from_domain, d, dl + 1);
	else if (strcmp(f->m->from_domain, d) != 0)
		f->m->from_several_domains = true;
}

/* The header section has passed: ask for every parsed signature's key
 * and for the From: domain's policy, while the body still streams. */
static void msgauth_headers(struct msgauth *m)
{
	m->headers_seen = true;
	for (size_t i = 0; i < dkim_verify_count(m->dv); i++) {
		enum dkim_reason parsed;
		const struct dkim_sig *sig = dkim_verify_sig(m->dv, i, &parsed);
		if (parsed != DKIM_OK)
			continue;
		char name[MSGAUTH_NAME_MAX];
		int k = snprintf(name, sizeof name, "%s._domainkey.%s", sig->s, sig->d);
		if (k > 0 && (size_t)k < sizeof name && msgauth_ask(m, name, (int)i))
			m->keys[i].asked = true;
	}
	size_t hl;
	const char *h = dkim_verify_header_section(m->dv, &hl);
	struct buf from;
	buf_init(&from, DKIM_HEADER_MAX);
	int nf = mail_addrlist_field(h, hl, "from", &from);
	m->nfrom_fields = nf > 0 ? (size_t)nf : 0;
	struct msgauth_from f = {.m = m};
	if (nf > 0)
		mail_addrlist_parse(from.data, from.len, msgauth_from_addr, &f);
	buf_free(&from);
	if (m->nfrom_fields != 1 || m->from_several_domains || m->from_domain[0] == '\0') {
		m->dmarc_done = true; /* no single domain to judge */
		return;
	}
	m->ndmarc_names = dmarc_query_names(m->from_domain, orgdomain, m->dmarc_names);
	msgauth_dmarc_ask(m);
}

/* ------------------------------------------------------------ verdict */

static enum dmarc_auth msgauth_spf_auth(enum spf_result r)
{
	switch (r) {
	case SPF_RESULT_PASS: return DMARC_AUTH_PASS;
	case SPF_RESULT_TEMPERROR: return DMARC_AUTH_TEMPERROR;
	case SPF_RESULT_PERMERROR: return DMARC_AUTH_PERMERROR;
	case SPF_RESULT_NONE: return DMARC_AUTH_NONE;
	default: return DMARC_AUTH_FAIL;
	}
}

static enum dmarc_auth msgauth_dkim_auth(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_PASS: return DMARC_AUTH_PASS;
	case DKIM_RESULT_TEMPERROR: return DMARC_AUTH_TEMPERROR;
	case DKIM_RESULT_PERMERROR: return DMARC_AUTH_PERMERROR;
	case DKIM_RESULT_NONE: return DMARC_AUTH_NONE;
	default: return DMARC_AUTH_FAIL;
	}
}

static void msgauth_report(struct msgauth *m)
{
	m->reported = true;
	io_timer_stop(m->timer);
	if (m->spf) {
		spf_check_cancel(m->spf);
		m->spf = NULL;
		m->spf_done = true;
		m->spf_result = SPF_RESULT_TEMPERROR;
		snprintf(m->spf_reason, sizeof m->spf_reason, "DNS answers took too long");
	}
	struct authres ar = {
		.authserv_id = m->id,
		.spf_done = true,
		.spf = m->spf_result,
		.spf_helo = m->spf_helo,
		.spf_identity = m->spf_helo ? m->spf_domain : m->mail_from,
		.spf_comment = m->spf_result == SPF_RESULT_PASS ? NULL : m->spf_reason[0] ? m->spf_reason : NULL,
	};
	struct dmarc_input in = {
		.from_domain = m->from_domain,
		.spf = msgauth_spf_auth(m->spf_result),
		.spf_domain = m->spf_domain,
		.have_record = m->dmarc_have,
		.record_at_org = m->dmarc_at > 0,
		.rec = m->rec,
		.dns_temp = m->dmarc_temp || (m->dmarc_asked && !m->dmarc_done),
		.sample = arc4random_uniform(100),
	};
	struct dkim_verify_result res[DKIM_SIGS_MAX];
	char bval[DKIM_SIGS_MAX][16];
	if (dkim_verify_too_large(m->dv)) {
		ar.ndkim = 1;
		ar.dkim[0] = (struct authres_dkim){.result = DKIM_RESULT_PERMERROR,
		                                   .comment = dkim_reason_text(DKIM_HEADER_TOO_LARGE)};
	}
	for (size_t i = 0; !dkim_verify_too_large(m->dv) && i < dkim_verify_count(m->dv); i++) {
		struct msgauth_key *k = &m->keys[i];
		dkim_verify_check(m->dv, i, k->record, k->len, m->now, &res[i]);
		/* No answer, or a failed one, for a key that was needed: our
		 * trouble or the network's, not the signer's. */
		if (res[i].reason == DKIM_KEY_NOT_FOUND && k->asked && (!k->done || k->st == IO_DNS_TEMPFAIL))
			res[i].result = DKIM_RESULT_TEMPERROR;
		enum dkim_reason parsed;
		const struct dkim_sig *sig = dkim_verify_sig(m->dv, i, &parsed);
		bval[i][0] = '\0';
		if (parsed == DKIM_OK && sig->blen >= 6)
			bval[i][base64_encode(sig->b, 6, bval[i])] = '\0'; /* 8 digits (RFC 6008) */
		ar.dkim[ar.ndkim++] = (struct authres_dkim){
			.result = res[i].result,
			.comment = res[i].result == DKIM_RESULT_TEMPERROR && res[i].reason == DKIM_KEY_NOT_FOUND
			               ? "key lookup failed"
			               : dkim_reason_text(res[i].reason),
			.d = res[i].d,
			.s = res[i].s,
			.b = bval[i][0] ? bval[i] : NULL,
		};
		if (in.ndkim < DMARC_DKIM_MAX) {
			in.dkim[in.ndkim].result = msgauth_dkim_auth(res[i].result);
			in.dkim[in.ndkim].d = res[i].d;
			in.ndkim++;
		}
	}
	enum msgauth_action action = MSGAUTH_ACCEPT;
	char dcomment[96] = "";
	if (m->nfrom_fields == 0) {
		ar.dmarc = DMARC_NONE;
		ar.dmarc_comment = "no From field";
	} else if (m->nfrom_fields > 1 || m->from_several_domains) {
		ar.dmarc = DMARC_PERMERROR;
		ar.dmarc_comment = m->nfrom_fields > 1 ? "several From fields" : "several From domains";
		action = MSGAUTH_AMBIGUOUS;
	} else if (m->from_domain[0] == '\0') {
		ar.dmarc = DMARC_NONE;
		ar.dmarc_comment = "no From domain";
	} else {
		struct dmarc_verdict v;
		dmarc_evaluate(&in, orgdomain, &v);
		ar.dmarc = v.result;
		ar.dmarc_from = m->from_domain;
		if (v.result == DMARC_FAIL && v.policy == DMARC_P_REJECT)
			action = MSGAUTH_REJECT;
		else if (v.result == DMARC_FAIL && v.policy == DMARC_P_QUARANTINE)
			action = MSGAUTH_JUNK;
		else if (v.result == DMARC_TEMPERROR && (in.dns_temp || v.policy == DMARC_P_REJECT))
			action = MSGAUTH_TEMPFAIL;
		if (!m->enforce)
			action = MSGAUTH_ACCEPT; /* dmarc-policy report: recorded only */
		if (m->dmarc_have) {
			enum dmarc_policy p = m->dmarc_at > 0 && m->rec.has_sp ? m->rec.sp : m->rec.p;
			const char *dis = action == MSGAUTH_REJECT ? "reject" : action == MSGAUTH_JUNK ? "quarantine" : "none";
			snprintf(dcomment, sizeof dcomment, "p=%s dis=%s", dmarc_policy_name(p), dis);
			ar.dmarc_comment = dcomment;
		} else if (in.dns_temp) {
			ar.dmarc_comment = "policy lookup failed";
		}
	}
	if (!m->enforce)
		action = MSGAUTH_ACCEPT;
	struct buf field, sum;
	buf_init(&field, 0);
	buf_init(&sum, 0);
	if (authres_format(&ar, &field) < 0)
		buf_reset(&field);
	buf_printf(&sum, "spf=%s dkim=", spf_result_name(m->spf_result));
	if (ar.ndkim == 0)
		buf_printf(&sum, "none");
	for (size_t i = 0; i < ar.ndkim; i++)
		buf_printf(&sum, "%s%s", i ? "," : "", dkim_result_name(ar.dkim[i].result));
	buf_printf(&sum, " dmarc=%s", dmarc_result_name(ar.dmarc));
	struct msgauth_verdict out = {
		.action = action,
		.field = field.data ? field.data : "",
		.summary = sum.data ? sum.data : "",
		.from_domain = m->from_domain,
	};
	m->cb(m->arg, &out);
	buf_free(&field);
	buf_free(&sum);
}

static bool msgauth_complete(const struct msgauth *m)
{
	if (!m->finished || !m->spf_done || (m->dmarc_asked && !m->dmarc_done))
		return false;
	for (size_t i = 0; i < DKIM_SIGS_MAX; i++)
		if (m->keys[i].asked && !m->keys[i].done)
			return false;
	return true;
}

static void msgauth_maybe_report(struct msgauth *m)
{
	if (!m->reported && !m->dead && msgauth_complete(m)) {
		/* Through the timer: the caller never hears from inside its own
		 * call (msgauth_finish with every answer already in). */
		io_timer_start(m->timer, 0);
	}
}

static void msgauth_timer_cb(void *arg)
{
	struct msgauth *m = arg;
	if (!m->reported && !m->dead)
		msgauth_report(m); /* the answers complete, or the deadline: whatever is missing is a temperror */
}

/* ------------------------------------------------------------- public */

struct msgauth *msgauth_start(struct io_loop *l, struct io_dns *dns, const struct msgauth_request *req)
{
	struct msgauth *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->loop = l;
	m->dns = dns;
	m->enforce = req->enforce;
	m->now = req->now;
	m->ip = strdup(req->ip ? req->ip : "");
	m->helo = req->helo ? strdup(req->helo) : NULL;
	m->mail_from = strdup(req->mail_from ? req->mail_from : "");
	m->id = strdup(req->authserv_id ? req->authserv_id : "localhost");
	m->dv = dkim_verify_new();
	m->timer = io_timer_new(l, msgauth_timer_cb, m);
	if (m->ip == NULL || (req->helo && m->helo == NULL) || m->mail_from == NULL || m->id == NULL || m->dv == NULL ||
	    m->timer == NULL) {
		msgauth_destroy(m);
		return NULL;
	}
	msgauth_spf_start(m);
	return m;
}

void msgauth_feed(struct msgauth *m, const char *p, size_t n)
{
	dkim_verify_feed(m->dv, p, n);
	if (!m->headers_seen && dkim_verify_headers_done(m->dv))
		msgauth_headers(m);
}

void msgauth_finish(struct msgauth *m, msgauth_cb cb, void *arg)
{
	m->cb = cb;
	m->arg = arg;
	dkim_verify_finish(m->dv);
	if (!m->headers_seen)
		msgauth_headers(m);
	m->finished = true;
	io_timer_start(m->timer, MSGAUTH_TIMEOUT_MS);
	msgauth_maybe_report(m);
}

void msgauth_free(struct msgauth *m)
{
	if (m == NULL)
		return;
	m->dead = true;
	io_timer_stop(m->timer);
	spf_check_cancel(m->spf);
	m->spf = NULL;
	if (m->pending == 0)
		msgauth_destroy(m);
}
