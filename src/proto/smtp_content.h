/*
 * smtp_content — the client's encoder of outgoing message content, the
 * mirror of smtp_data: the message as the caller holds it (lines ending in
 * LF or CR LF) becomes the wire form of RFC 5321 2.3.8 (every line ends in
 * CR LF), dot-stuffed for DATA (4.5.2) or as is for BDAT (RFC 3030).
 *
 * It refuses, rather than corrupts, what cannot be sent faithfully: a line
 * longer than 998 octets (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6), a bare CR
 * (it would be a line end to some receivers and not to others: the 2023
 * SMTP smuggling family), a NUL. It also measures: the wire size for SIZE=
 * (RFC 1870), 8-bit octets for BODY=8BITMIME (RFC 6152), and 8-bit octets
 * in the header section (RFC 6532 headers, SMTPUTF8). With out == NULL it
 * only measures, so a message can be checked before anything is sent.
 * Pure, incremental (pieces of any size).
 */
#ifndef TERN_SMTP_CONTENT_H
#define TERN_SMTP_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SMTP_CONTENT_LINE_MAX 998 /* RFC 5322 2.1.1: octets of a line, CR LF excluded */

enum smtp_content_error {
	SMTP_CONTENT_OK = 0,
	SMTP_CONTENT_LONG_LINE, /* a line over SMTP_CONTENT_LINE_MAX octets */
	SMTP_CONTENT_BARE_CR,   /* a CR not followed by LF */
	SMTP_CONTENT_NUL,       /* a NUL octet */
	SMTP_CONTENT_NOMEM,     /* the output buffer refused an append */
};

struct smtp_content {
	bool dot;              /* dot-stuff (DATA); false for BDAT and measuring */
	bool at_bol;           /* the next octet starts a line */
	bool pending_cr;       /* the previous piece ended in CR: is its LF next? */
	bool in_headers;       /* still in the header section (up to the first empty line) */
	size_t linelen;        /* octets of the current line so far */
	uint64_t size;         /* octets produced, CR LF endings, stuffed dots included */
	uint64_t lines;        /* line number of the current line, from 1 (for messages) */
	bool eightbit;         /* an octet >= 0x80 */
	bool header_8bit;      /* an octet >= 0x80 in the header section */
	enum smtp_content_error error;
};

void smtp_content_init(struct smtp_content *e, bool dot);

/* Encode n octets into out (NULL: measure only). 0, or -1 with e->error
 * set; after an error every call fails. */
int smtp_content_feed(struct smtp_content *e, const char *in, size_t n, struct buf *out);

/* The end of the content: a held-back CR is a bare CR; a last line without
 * a line ending gets CR LF, so the wire form always ends with one. Does
 * not add the DATA terminator. 0 or -1. */
int smtp_content_finish(struct smtp_content *e, struct buf *out);

/* A short English description of e->error ("line 12 is longer than 998
 * octets"). */
void smtp_content_strerror(const struct smtp_content *e, char *out, size_t outlen);

#endif
