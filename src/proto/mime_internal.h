/*
 * mime_internal — what the files of the MIME layer share and nobody else
 * uses: the walker (mime_walk.c, the one place that knows how header
 * sections, boundaries and nesting work), the parsed Content-* fields it
 * reports (mime_field.c, RFC 2045, 2183, 2231, 3282), the RFC 5322
 * address lists of ENVELOPE (mime_addr.c), the IMAP string forms
 * (mime_imap.c, RFC 9051 4.3) and the text decoders of SEARCH
 * (mime_decode.c, RFC 2045 6.7-6.8, RFC 2047).
 *
 * The walker reads a message in one streaming pass and reports events
 * to its client; the structure builder (mime.c) and the text search
 * (mime_search.c) are its two clients. Strings in events are counted
 * (they may hold NUL and 8-bit octets) and live only for the callback.
 */
#ifndef TERN_MIME_INTERNAL_H
#define TERN_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/mime.h"

/* RFC 2046 5.1.1 allows 70 octets; longer boundaries are cut here, as
 * matching is by prefix anyway. */
#define MIME_BOUNDARY_MAX 80
/* Octets of a line's start looked at to tell a boundary delimiter line:
 * "--", the longest boundary, "--" and CR LF. */
#define MIME_PEEK_MAX (2 + MIME_BOUNDARY_MAX + 4)

/* A place in the message: the stored offset, the offset on the wire
 * (every LF without CR before it counted twice) and the LFs before it. */
struct mime_pos {
	uint64_t off, wire, lines;
};

/* A counted string; p == NULL means absent (NIL), n == 0 with p set is "". */
struct mime_str {
	const char *p;
	size_t n;
};

struct mime_param {
	struct mime_str name, value;
};

enum mime_kind {
	MIME_KIND_TEXT,      /* text/... (or the text/plain default): a leaf with a line count */
	MIME_KIND_OTHER,     /* any other leaf */
	MIME_KIND_MULTIPART, /* multipart/...: the children are its parts */
	MIME_KIND_MESSAGE,   /* message/rfc822 or message/global: one child, the message */
};

/*
 * A part's Content-* fields (RFC 2045 5-8, RFC 2183, RFC 3282, RFC 2557
 * 4), parsed once its header has ended. Absent fields have p == NULL.
 * When there is no valid Content-Type, or the header is not MIME, type
 * and subtype hold the default of RFC 2045 5.2 ("text" "plain") or, in a
 * multipart/digest, of RFC 2046 5.1.5 ("message" "rfc822"), and
 * `defaulted` is set. A container over the limits has `truncated` set
 * and kind OTHER: it is described as an opaque application/octet-stream.
 */
struct mime_content {
	enum mime_kind kind;
	bool defaulted;
	bool truncated;
	bool digest;                   /* multipart/digest: children default to message/rfc822 */
	struct mime_str type, subtype; /* as written (case kept, as Dovecot keeps it) */
	const struct mime_param *params;
	size_t nparams;
	struct mime_str charset;       /* the "charset" parameter's value */
	struct mime_str boundary;      /* the "boundary" parameter's value */
	struct mime_str encoding;      /* Content-Transfer-Encoding: one token, else absent */
	struct mime_str id, description, md5, location; /* unfolded values */
	struct mime_str disposition;   /* the disposition type */
	const struct mime_param *dparams;
	size_t ndparams;
	const struct mime_str *languages;
	size_t nlanguages;
};

/* One header field, unfolded (RFC 5322 2.2.3): the name without the
 * blanks before the colon, the value without the blanks after it. A
 * line with no colon is reported whole as the name, colon false. The
 * raw field (every line, line ends included) is [off, end) in the
 * message. Only MIME_FIELD_MAX octets of it are kept: truncated says
 * the value was cut. */
struct mime_field {
	struct mime_str name, value;
	bool colon;
	bool truncated;
	uint64_t off, end;
};

/*
 * The walker's events, all optional. index numbers parts in the order
 * their headers begin (0 is the message); a part's events come in the
 * order begin, field..., body_begin, body..., end, with the parts it
 * contains in between. body carries the octets of a leaf part's body,
 * exactly [body_off, end_off), split anywhere; multipart preambles and
 * epilogues and message/rfc822 bodies (their content is the child) are
 * not reported. A callback returns 0, or -1 to stop the walk (ENOMEM).
 */
struct mime_walk_ops {
	int (*part_begin)(void *ctx, uint32_t index, uint32_t parent, const struct mime_pos *hdr);
	int (*field)(void *ctx, uint32_t index, const struct mime_field *f);
	int (*body_begin)(void *ctx, uint32_t index, const struct mime_content *c, const struct mime_pos *body);
	int (*body)(void *ctx, uint32_t index, const char *p, size_t n);
	int (*part_end)(void *ctx, uint32_t index, const struct mime_pos *end);
};

struct mime_walk;

/* header_only: stop after the message's own header (nothing is reported
 * after its body_begin; later octets are only counted). */
struct mime_walk *mime_walk_new(const struct mime_walk_ops *ops, void *ctx, bool header_only);
int mime_walk_feed(struct mime_walk *w, const char *data, size_t n); /* 0, or -1 */
/* The message ended: report what is pending and the end of every open
 * part. 0, or -1. */
int mime_walk_finish(struct mime_walk *w);
bool mime_walk_header_done(const struct mime_walk *w); /* the message's own header has ended */
struct mime_pos mime_walk_pos(const struct mime_walk *w); /* everything fed so far */
void mime_walk_reset(struct mime_walk *w);            /* ready for the next message */
void mime_walk_free(struct mime_walk *w);

/* ---- mime_field.c: RFC 822 lexical tokens and the Content-* fields ---- */

/* The Content-* fields the walker keeps (the first of each, as Dovecot). */
enum mime_cf {
	MIME_CF_TYPE,
	MIME_CF_ENCODING,
	MIME_CF_ID,
	MIME_CF_DESCRIPTION,
	MIME_CF_MD5,
	MIME_CF_DISPOSITION,
	MIME_CF_LANGUAGE,
	MIME_CF_LOCATION,
	MIME_CF_N,
};

/* Which kept field a header field name is, or MIME_CF_N. */
enum mime_cf mime_field_which(const char *name, size_t n);

struct mime_field_kv; /* private to mime_field.c */

/* The storage behind a parsed struct mime_content (owned by the walker,
 * reused from part to part). */
struct mime_field_store {
	struct buf text;           /* unquoted and merged parameter text */
	struct mime_field_kv *kv;  /* parameters as offsets into text while parsing */
	size_t kvcap;
	struct mime_param *params; /* the Content-Type's, then the Content-Disposition's */
	size_t pcap;
	struct mime_str *langs;
	size_t lcap;
};

void mime_field_store_free(struct mime_field_store *st);

/*
 * Parse the kept fields raw[] (p NULL when absent) into c. is_mime: the
 * header is MIME (it has MIME-Version or Content-Type, or the part is in
 * a multipart; RFC 2045 4); otherwise only the defaults apply. in_digest:
 * the part is a direct child of a multipart/digest. 0, or -1 on ENOMEM.
 */
int mime_field_content(struct mime_field_store *st, const struct mime_str raw[MIME_CF_N], bool is_mime,
                       bool in_digest, struct mime_content *c);

bool mime_field_ieq(const char *a, size_t an, const char *b);
bool mime_field_is_wsp(unsigned char c);

/* RFC 5322 3.2.2: skip blanks, line ends and comments (nested, with
 * quoted-pairs) from *i. comment (may be NULL): the inside of the last
 * comment skipped, raw. */
void mime_field_skip_cfws(const char *s, size_t n, size_t *i, struct mime_str *comment);
/* RFC 5322 3.2.4: the quoted-string at s[*i] == '"', unquoted into out
 * (folding line ends dropped). -1 on ENOMEM; an unclosed string ends at n. */
int mime_field_quoted(const char *s, size_t n, size_t *i, struct buf *out);
/* RFC 5322 3.2.3 atext (8-bit octets count as text, as they do in
 * practice). */
bool mime_field_is_atext(unsigned char c);

/* ---- mime_addr.c: address lists for ENVELOPE ---- */

/*
 * Parse an address-list (RFC 5322 3.4, with the obsolete forms of 4.4)
 * and append each address to out as an RFC 9051 address
 * "(name adl mailbox host)"; a group as (NIL NIL "group" NIL) ...
 * (NIL NIL NIL NIL). *count is increased by the addresses written.
 * Broken addresses are written as well as they can be, with
 * MISSING_MAILBOX / MISSING_DOMAIN / SYNTAX_ERROR / INVALID_ROUTE where
 * a part is missing, as Dovecot does. 0, or -1 on ENOMEM.
 */
int mime_addr_list(const char *s, size_t n, struct buf *out, size_t *count);
/* The same list as plain text, "name <mailbox@domain>, ...", with
 * comments and folding gone: what SEARCH FROM and the like match. */
int mime_addr_text(const char *s, size_t n, struct buf *out);

/* ---- mime_imap.c: IMAP strings and the FETCH structures ---- */

/* An IMAP string (RFC 9051 4.3): quoted with \ before " and \, or a
 * literal {n} CR LF ... when it holds CR, LF or 8-bit octets. NUL, which
 * no IMAP string may hold, becomes U+FFFD. 0, or -1 on ENOMEM. */
int mime_imap_string(struct buf *b, const char *s, size_t n);
/* NIL when absent. */
int mime_imap_nstring(struct buf *b, struct mime_str s);
/* NIL when absent; line ends dropped (a blank put where a line break
 * joined two words). */
int mime_imap_nstring_nolf(struct buf *b, struct mime_str s);
/* Text for humans (a subject, a display name): runs of blanks and line
 * ends become one space, none at either end. */
int mime_imap_human(struct buf *b, const char *s, size_t n);

/* The fragments of a part's BODYSTRUCTURE that its Content-* fields
 * decide. head: body-type up to body-fld-enc for a leaf or message, the
 * quoted subtype for a multipart. ext: the extension data after the
 * size (leaf: md5 dsp lang loc; multipart: params dsp lang loc), with
 * its leading space. */
int mime_imap_body_head(struct buf *b, const struct mime_content *c);
int mime_imap_body_ext(struct buf *b, const struct mime_content *c);

/* The ten fields of an ENVELOPE (RFC 9051 7.5.2), as a client collects
 * them: the strings are the last of each field (absent: p NULL); the
 * address lists are the addresses of every field of that name, already
 * in IMAP form without the outer parentheses (n == 0: none). */
enum mime_env_field {
	MIME_ENV_DATE,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_N,
};

/* Which envelope field a header field name is, or MIME_ENV_N. */
enum mime_env_field mime_imap_env_which(const char *name, size_t n);
bool mime_imap_env_is_addr(enum mime_env_field f);
/* "(date subject from sender reply-to to cc bcc in-reply-to message-id)";
 * sender and reply-to default to from (RFC 9051 7.5.2). */
int mime_imap_envelope(struct buf *b, const struct mime_str v[MIME_ENV_N]);

/* ---- mime_decode.c: the text decoders of SEARCH ---- */

/* Quoted-printable (RFC 2045 6.7) and base64 (RFC 2045 6.8) bodies, any
 * split. */
enum mime_cte {
	MIME_CTE_IDENTITY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
};

struct mime_cte_dec {
	enum mime_cte cte;
	int state;
	uint32_t acc;
	unsigned nacc;
	unsigned char hold[40];  /* QP: "=" and blanks that may yet be a soft line break */
	size_t nhold;
};

enum mime_cte mime_decode_cte_of(struct mime_str encoding);
void mime_decode_cte_init(struct mime_cte_dec *d, enum mime_cte cte);
/* Decode n octets; the output goes to emit in pieces. */
int mime_decode_cte(struct mime_cte_dec *d, const char *p, size_t n,
                    int (*emit)(void *arg, const unsigned char *p, size_t n), void *arg);
int mime_decode_cte_end(struct mime_cte_dec *d, int (*emit)(void *arg, const unsigned char *p, size_t n),
                        void *arg);

/* A charset (RFC 2978 name) to UTF-8 through iconv(3), any split; an
 * unknown or absent charset passes octets through unchanged. */
struct mime_charset_dec {
	void *cd;                /* iconv_t, or NULL: pass through */
	unsigned char in[64];
	size_t nin;
};

void mime_decode_charset_init(struct mime_charset_dec *d, struct mime_str charset);
int mime_decode_charset(struct mime_charset_dec *d, const unsigned char *p, size_t n,
                        int (*emit)(void *arg, const unsigned char *p, size_t n), void *arg);
int mime_decode_charset_end(struct mime_charset_dec *d, int (*emit)(void *arg, const unsigned char *p, size_t n),
                            void *arg);
void mime_decode_charset_free(struct mime_charset_dec *d);

/* UTF-8 to code points, any split. A byte that does not start or
 * continue a valid sequence becomes U+DC00 + byte, so that raw 8-bit
 * text still matches itself. */
struct mime_utf8_dec {
	uint32_t cp, min;
	unsigned need;
	unsigned char seq[4];
	unsigned nseq;
};

void mime_decode_utf8_init(struct mime_utf8_dec *d);
int mime_decode_utf8(struct mime_utf8_dec *d, const unsigned char *p, size_t n,
                     int (*emit)(void *arg, uint32_t cp), void *arg);
int mime_decode_utf8_end(struct mime_utf8_dec *d, int (*emit)(void *arg, uint32_t cp), void *arg);

/* Unicode simple case folding, approximated as lower(upper(c)) in the
 * C.UTF-8 locale. */
uint32_t mime_decode_fold(uint32_t cp);

/* A header value with its RFC 2047 encoded words decoded to UTF-8
 * (appended to out; other text is copied as it is). -1 on ENOMEM. */
int mime_decode_header(const char *s, size_t n, struct buf *out);

#endif
