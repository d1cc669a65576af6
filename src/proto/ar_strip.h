/*
 * ar_strip — removes from a message's header section, as it streams, the
 * Authentication-Results fields that claim our own authserv-id (RFC 8601
 * 5: a receiver must not let a message arrive carrying results that look
 * like its own). Every other octet passes unchanged and in order.
 *
 * Only a field whose name is Authentication-Results is held, until it is
 * complete (its last continuation line seen); it is bounded by
 * AR_STRIP_FIELD_MAX, and one larger than that is dropped as well: no
 * honest server writes one. Pure.
 */
#ifndef TERN_AR_STRIP_H
#define TERN_AR_STRIP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define AR_STRIP_FIELD_MAX (16 * 1024)
#define AR_STRIP_ID_MAX 255

struct ar_strip {
	char id[AR_STRIP_ID_MAX + 1]; /* our authserv-id */
	struct buf line;              /* the current line until its LF (a field name is judged on it) */
	struct buf held;              /* an Authentication-Results field being collected */
	bool holding, too_long;
	bool body;                    /* past the header section: everything passes */
	bool line_passes;             /* the current line goes straight out (not held) */
	bool line_judged;             /* the start of the current line has been looked at */
	size_t removed;               /* fields removed so far */
};

void ar_strip_init(struct ar_strip *s, const char *authserv_id);
void ar_strip_free(struct ar_strip *s);
/* Feed message octets (LF or CRLF line ends); what passes is appended to
 * out. 0, or -1 when out is full. */
int ar_strip_feed(struct ar_strip *s, const char *p, size_t n, struct buf *out);
/* The end of the message: a field still held is judged. */
int ar_strip_finish(struct ar_strip *s, struct buf *out);
/* Does the Authentication-Results field text (name, colon, value,
 * continuation lines) carry this authserv-id? */
bool ar_strip_is_ours(const char *field, size_t n, const char *authserv_id);

#endif
