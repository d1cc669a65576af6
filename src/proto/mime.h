/*
 * mime — the MIME structure of a stored message (RFC 2045, 2046, 2047,
 * 2183, 2231, 5322), read in one streaming pass and turned into what
 * IMAP FETCH answers with (RFC 9051 7.5.2): ENVELOPE, BODYSTRUCTURE, the
 * non-extensible BODY, and the byte ranges of every body section.
 *
 * Messages are stored with LF line ends (CONTRACT.md "Where mail
 * lands"), sometimes CR LF (written by others); the wire always carries
 * CR LF. Offsets here are in the stored file; every size ("vsize") is
 * the size on the wire: each LF not preceded by CR counts two octets.
 * Line counts are of the wire form too.
 *
 * Pure and bounded: bytes in, a tree out; no I/O. At most MIME_PARTS_MAX
 * parts and MIME_DEPTH_MAX levels are described; deeper or further
 * parts are treated as the opaque body of the last part described, as
 * Dovecot does (the message is still served byte for byte). A header
 * field is kept for parsing up to MIME_FIELD_MAX octets (the rest is
 * counted, not kept). Malformed input never fails the parse: a missing
 * boundary, a missing blank line, a part that never ends all give a tree
 * that covers the whole message.
 */
#ifndef TERN_MIME_H
#define TERN_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define MIME_PARTS_MAX 1000      /* parts described in one message */
#define MIME_DEPTH_MAX 32        /* multipart / message nesting */
#define MIME_FIELD_MAX (16 * 1024) /* octets of one header field kept for parsing */
#define MIME_NONE UINT32_MAX

struct mime_part {
	uint32_t parent;          /* index into tree->parts, MIME_NONE for the root */
	uint32_t first_child;     /* MIME_NONE when none */
	uint32_t next;            /* next sibling, MIME_NONE when last */
	bool multipart;           /* Content-Type multipart/ subtypes (children are its parts) */
	bool message;             /* message/rfc822 or message/global (one child: the message) */
	/* offsets in the stored message */
	uint64_t hdr_off;         /* first octet of the part's header (for the root: 0) */
	uint64_t body_off;        /* first octet of the body, after the blank line */
	uint64_t end_off;         /* one past the body's last octet (before the line end that
	                           * precedes the next boundary delimiter) */
	/* on the wire */
	uint64_t hdr_vsize;       /* the header with its blank line */
	uint64_t body_vsize;
	uint64_t body_lines;      /* lines of the body, as BODYSTRUCTURE's body-fld-lines counts */
};

struct mime_tree {
	struct mime_part *parts;  /* owned; parts[0] is the message itself */
	size_t n;
	/* NUL-terminated IMAP strings (owned): */
	char *envelope;           /* "(date subject (from) ...)" of the root, RFC 9051 7.5.2 */
	char *bodystructure;      /* extensible form, with every extension field */
	char *body;               /* the non-extensible BODY form */
	uint64_t vsize;           /* the whole message on the wire (RFC822.SIZE) */
};

enum mime_mode {
	MIME_FULL,                /* everything */
	MIME_HEADER_ONLY,         /* only the root's header: envelope and vsize of the
	                           * header; feeding may stop after mime_parser_done() */
};

struct mime_parser;           /* opaque; allocated by mime_parser_new */

struct mime_parser *mime_parser_new(enum mime_mode mode);
/* Feed the next octets of the message, split anywhere. 0, or -1 on ENOMEM. */
int mime_parser_feed(struct mime_parser *p, const char *data, size_t n);
/* MIME_HEADER_ONLY: true once the root's header has ended (the rest
 * need not be fed). */
bool mime_parser_done(const struct mime_parser *p);
/* The end of the message: fill t (freed with mime_tree_free). 0, or -1
 * on ENOMEM. The parser is freed either way. */
int mime_parser_finish(struct mime_parser *p, struct mime_tree *t);
void mime_parser_free(struct mime_parser *p);  /* without finishing; NULL is fine */
void mime_tree_free(struct mime_tree *t);

/* A body section of RFC 9051 6.4.5: the part numbers path[0..depth)
 * ("1.2" is {1, 2}; depth 0 is the message itself) and what of it. */
enum mime_section_what {
	MIME_SEC_ALL,             /* [] or [1.2]: the whole (sub)message or the part's body */
	MIME_SEC_HEADER,          /* [HEADER], [1.2.HEADER]: the header of a (sub)message */
	MIME_SEC_TEXT,            /* [TEXT], [1.2.TEXT]: the body of a (sub)message */
	MIME_SEC_MIME,            /* [1.2.MIME]: the MIME header of a part (depth >= 1) */
};

struct mime_range {
	uint64_t off, len;        /* in the stored message */
	uint64_t vsize;           /* on the wire */
};

/*
 * Resolve a section to its octets, following RFC 9051 6.4.5: part 1 of
 * a non-multipart is its body; the parts of a message/rfc822 part are
 * those of the message it holds; HEADER and TEXT apply to the message
 * itself (depth 0) or to a message/rfc822 part. 0, or -1 when there is
 * no such part or section (the answer is then an empty string).
 */
int mime_tree_section(const struct mime_tree *t, const uint32_t *path, size_t depth, enum mime_section_what what,
                      struct mime_range *out);

/*
 * HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 9051 6.4.5): from a header
 * as stored (hdr[0..n), with its blank line if it has one), append to out
 * the fields whose names are (or, with `not`, are not) among names[0..k)
 * (case-insensitive), each in its original folded form with CR LF line
 * ends, then the blank line CR LF when hdr has one (RFC 9051 6.4.5: not
 * for a message without body and blank line). -1 when out is full.
 */
int mime_header_filter(const char *hdr, size_t n, const char *const *names, size_t k, bool not, struct buf *out);

/* ---- text search (SEARCH BODY/TEXT/HEADER/FROM/..., RFC 9051 6.4.4) ---- */

enum mime_needle_where {
	MIME_NEEDLE_HEADER,       /* the value of every field named `field` */
	MIME_NEEDLE_BODY,         /* the body text of the message */
	MIME_NEEDLE_TEXT,         /* the header and the body */
};

struct mime_needle {
	enum mime_needle_where where;
	const char *field;        /* MIME_NEEDLE_HEADER: the field name */
	const char *text;         /* UTF-8; matched case-insensitively as a substring */
	size_t len;               /* an empty needle matches when the field exists (HEADER
	                           * x "") or always (BODY "") */
};

/*
 * Which needles a message matches, in one streaming pass. Header values
 * are unfolded and their RFC 2047 encoded words decoded; the bodies of
 * text/ parts (and of message/rfc822 parts' text, recursively) are
 * decoded from quoted-printable and base64 and converted from their
 * charset to UTF-8 (unknown charsets are matched as they are). Matching
 * ignores case (Unicode simple case folding) and is bounded: memory does
 * not grow with the message.
 */
struct mime_search;
struct mime_search *mime_search_new(const struct mime_needle *needles, size_t n);
int mime_search_feed(struct mime_search *s, const char *data, size_t n); /* 0, or -1 on ENOMEM */
/* The message ended: flush what the decoders still hold. */
void mime_search_end(struct mime_search *s);
/* After mime_search_end (or once settled): did needle i match? The
 * search may be fed the next message after mime_search_reset. */
bool mime_search_matched(const struct mime_search *s, size_t i);
/* True when every needle's outcome is known and feeding may stop. */
bool mime_search_settled(const struct mime_search *s);
void mime_search_reset(struct mime_search *s);
void mime_search_free(struct mime_search *s);

#endif
