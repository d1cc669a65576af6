/*
 * crlf — the size of stored text on the wire. Messages are stored with LF
 * line ends (CONTRACT.md "Where mail lands"), sometimes CR LF (written by
 * others); SMTP, POP3 and IMAP send CR LF. Every LF not preceded by CR
 * counts two octets. One owner for the rule, so that POP3's LIST, IMAP's
 * RFC822.SIZE and what is then sent agree to the octet.
 */
#ifndef TERN_CRLF_H
#define TERN_CRLF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crlf_state {
	bool cr;              /* the last octet counted was CR */
};

/* The wire length of the next n stored octets p[0..n): n plus the LFs
 * without a CR before them (also across calls). */
uint64_t crlf_wire_len(struct crlf_state *st, const char *p, size_t n);

#endif
