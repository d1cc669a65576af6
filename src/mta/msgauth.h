/*
 * msgauth — the inbound verdict on one message (CONTRACT.md
 * `inbound-auth`): SPF of the envelope (RFC 7208), DKIM of every
 * signature up to DKIM_SIGS_MAX (RFC 6376, 8301, 8463) and DMARC of the
 * From: domain (RFC 7489), every DNS question asked through io_dns in
 * the event loop; then the one Authentication-Results field and what
 * the DMARC policy asks for. The smtp role and `tern auth check` both
 * use it, so that the operator's tool shows what the server does.
 *
 * The message streams through msgauth_feed as it arrives: the body
 * hashes are computed on the way to the disk and never from a second
 * read; the key and policy queries start as soon as the header section
 * has passed, while the body still streams.
 *
 * Bounded in time: after msgauth_finish every answer missing after
 * MSGAUTH_TIMEOUT_MS counts as a temporary failure.
 */
#ifndef TERN_MSGAUTH_H
#define TERN_MSGAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSGAUTH_TIMEOUT_MS 25000 /* SPF's own 20 s (RFC 7208 4.6.4), and some */

struct io_loop;
struct io_dns;
struct msgauth;

struct msgauth_request {
	const char *ip;          /* the client's address, text */
	const char *helo;        /* NULL: none given */
	const char *mail_from;   /* without brackets; "" for the null sender */
	const char *authserv_id; /* the host name */
	bool enforce;            /* dmarc-policy enforce */
	int64_t now;
};

enum msgauth_action {
	MSGAUTH_ACCEPT,
	MSGAUTH_JUNK,            /* DMARC p=quarantine failed: into the Junk folder */
	MSGAUTH_REJECT,          /* p=reject failed: 550 5.7.1 */
	MSGAUTH_AMBIGUOUS,       /* several From: fields or domains: 550 5.7.1 */
	MSGAUTH_TEMPFAIL,        /* could be a p=reject failure, DNS said later: 451 4.7.1 */
};

/* Valid during the callback only. */
struct msgauth_verdict {
	enum msgauth_action action; /* already ACCEPT or JUNK unless enforce */
	const char *field;          /* "Authentication-Results: ...\n", folded with LF */
	const char *summary;        /* "spf=pass dkim=pass dmarc=pass", for the log */
	const char *from_domain;    /* the DMARC domain, "" without one */
};

typedef void (*msgauth_cb)(void *arg, const struct msgauth_verdict *v);

/* Start: the SPF check begins now. The strings are copied. NULL when out
 * of memory. */
struct msgauth *msgauth_start(struct io_loop *l, struct io_dns *dns, const struct msgauth_request *req);
/* The message as it arrives, LF or CRLF line ends. */
void msgauth_feed(struct msgauth *m, const char *p, size_t n);
/* The end of the message: cb follows once, later (never from inside
 * this call). */
void msgauth_finish(struct msgauth *m, msgauth_cb cb, void *arg);
/* Done with it, before or after its callback: no callback follows. The
 * memory goes once DNS answers still awaited have come. NULL is fine. */
void msgauth_free(struct msgauth *m);

#endif
