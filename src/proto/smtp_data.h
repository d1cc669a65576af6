/*
 * smtp_data — the message-content decoder shared by DATA and BDAT.
 *
 * DATA mode: the only end of data is CR LF . CR LF (RFC 5321 4.1.1.4);
 * a leading dot is removed from any line that starts with one (4.5.2).
 * BDAT mode (RFC 3030): bytes are counted by the command, no dot rules.
 *
 * In both modes only CR LF ends a line. Lines are handed out with LF
 * endings (the form Maildir and the queue keep). Bare CR, bare LF and NUL
 * never end anything: they set a flag and the bytes are still consumed, so
 * that the session can refuse the whole message after the end of data
 * (one documented behaviour, immune to the 2023 smuggling variants). A
 * line longer than SMTP_TEXT_LINE_MAX sets SMTP_DATA_LONG_LINE.
 *
 * The decoder also watches the header section: it counts Received:
 * fields (for loop detection) and notes Message-ID:, Date: and From:.
 */
#ifndef TERN_SMTP_DATA_H
#define TERN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SMTP_TEXT_LINE_MAX 1000 /* RFC 5321 4.5.3.1.6: text line, CR LF included */

enum smtp_data_mode { SMTP_DATA_DOT, SMTP_DATA_RAW };

enum {
	SMTP_DATA_BARE_LF = 1 << 0,
	SMTP_DATA_BARE_CR = 1 << 1,
	SMTP_DATA_NUL = 1 << 2,
	SMTP_DATA_LONG_LINE = 1 << 3,
	SMTP_DATA_8BIT = 1 << 4, /* an octet >= 0x80 was seen (informational) */
};

enum {
	SMTP_HDR_MESSAGE_ID = 1 << 0,
	SMTP_HDR_DATE = 1 << 1,
	SMTP_HDR_FROM = 1 << 2,
};

struct smtp_data {
	enum smtp_data_mode mode;
	int state;            /* private: position in the CR LF . CR LF automaton */
	unsigned flags;       /* SMTP_DATA_* */
	size_t linelen;       /* octets in the current line so far (wire form) */
	uint64_t size;        /* decoded octets produced so far (LF endings) */
	bool in_headers;      /* still in the header section */
	unsigned received;    /* Received: fields seen in the header section */
	unsigned headers;     /* SMTP_HDR_* seen */
	char head[16];        /* private: first octets of the current line */
	size_t headlen;
};

void smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode);

/*
 * Feed n octets. Decoded content is appended to out (the caller empties
 * it as it likes; if an append fails because out is full, the decoder
 * stops and returns what it consumed so far, so size the buffer's max
 * generously or empty it after each call). Returns the octets consumed.
 * In DATA mode *done becomes true when CR LF . CR LF was consumed; the
 * octets after it are not consumed (they are the next commands).
 * In BDAT mode *done is never set: the session counts chunk sizes.
 */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t n, struct buf *out, bool *done);

/*
 * BDAT LAST: the content is complete. A CR held back at the end of the
 * last chunk is a bare CR; a last line without CR LF is completed with LF
 * so the stored message always ends with a line ending.
 */
void smtp_data_finish(struct smtp_data *d, struct buf *out);

#endif
