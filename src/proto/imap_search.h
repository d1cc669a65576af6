/*
 * imap_search — SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4):
 * the criteria parsed from the command's arguments into a program, and
 * the program evaluated against one message at a time. With the
 * extensions the server announces: ESEARCH's RETURN options (RFC 4731,
 * part of RFC 9051), SEARCHRES's "$" and RETURN (SAVE) (RFC 5182),
 * CONDSTORE's MODSEQ key (RFC 7162 3.1.5), WITHIN's OLDER and YOUNGER
 * (RFC 5032).
 *
 * Pure: what the program needs of a message is in struct
 * imap_search_msg (cheap, always known) or asked through the ops (the
 * Date: header and the text needles, which cost a read of the file).
 * Evaluation asks for them only when the cheap keys have not already
 * decided, so that "UNSEEN BODY x" reads no file of a seen message.
 *
 * Bounded: at most IMAP_SEARCH_NODES keys and IMAP_SEARCH_NEEDLES text
 * needles in one program; nesting is bounded by the argument parser's.
 */
#ifndef TERN_IMAP_SEARCH_H
#define TERN_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/imap_date.h"
#include "proto/imap_flags.h"
#include "proto/imap_parse.h"
#include "proto/mime.h"

#define IMAP_SEARCH_NODES 1024
#define IMAP_SEARCH_NEEDLES 64
#define IMAP_SEARCH_TEXT_MAX 1024 /* octets of one search string */

/* RETURN options (RFC 4731 3.1). None given means a plain SEARCH answer
 * (or, with "RETURN ()", ALL). */
enum {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_ALL = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE = 1 << 4,
};

struct imap_search_node;     /* private to imap_search.c */
struct imap_search_ops;

struct imap_search {
	struct imap_search_node *nodes; /* owned; nodes[0] is the root (an AND) */
	size_t nnodes;
	struct mime_needle needles[IMAP_SEARCH_NEEDLES]; /* text keys, for mime_search */
	size_t nneedles;
	char *strings;           /* owned storage of the needles' text and field names */
	bool esearch;            /* RETURN was given: answer with ESEARCH */
	unsigned ret;            /* IMAP_SEARCH_RET_* (ALL when RETURN () was empty) */
	bool uses_modseq;        /* a MODSEQ key: the answer carries (MODSEQ n) (RFC 7162 3.1.5) */
	bool uses_saved;         /* "$" appears in the criteria */
	bool needs_date;         /* SENT* keys: ops->sent_date may be called */
	/* what imap_search_bind was given, for imap_search_match */
	const struct imap_search_ops *ops;
	void *ctx;
	const struct imap_seqset *saved; /* not owned: must not change while the program is matched */
	int64_t now;
};

enum imap_search_status {
	IMAP_SEARCH_OK,
	IMAP_SEARCH_BAD,         /* a syntax error: tagged BAD with err */
	IMAP_SEARCH_BADCHARSET,  /* CHARSET other than US-ASCII or UTF-8: NO [BADCHARSET (US-ASCII UTF-8)] */
	IMAP_SEARCH_TOO_BIG,     /* over the limits: tagged BAD with err */
};

/*
 * Parse the arguments after SEARCH (or UID SEARCH): [RETURN (opts)]
 * [CHARSET name] criteria... In IMAP4rev1 the search strings are
 * US-ASCII unless CHARSET UTF-8 is given; under IMAP4rev2 (utf8 true)
 * they are UTF-8 always. (8-bit strings are taken as UTF-8 in IMAP4rev1
 * too, with or without CHARSET, as Dovecot does; octets that are not
 * UTF-8 are a BAD either way.) On an error, err (errlen octets) says why.
 */
enum imap_search_status imap_search_parse(const struct imap_arg *args, size_t n, bool utf8, struct imap_search *s,
                                          char *err, size_t errlen);
void imap_search_free(struct imap_search *s);

/* What is known of a message without reading it. */
struct imap_search_msg {
	uint32_t seq, uid;
	unsigned flags;          /* IMAP_FLAG_*, IMAP_FLAG_RECENT included */
	imap_keywords keywords;
	int64_t internaldate;    /* seconds since the epoch */
	int internal_tz;         /* its zone, minutes east of UTC (ON/BEFORE/SINCE use its day) */
	uint64_t size;           /* RFC822.SIZE */
	uint64_t modseq;
};

struct imap_search_ops {
	/* The folder's index of keyword `name` (case-insensitive), or -1 when
	 * the folder has none such (KEYWORD x then matches nothing). */
	int (*keyword_index)(void *ctx, const char *name);
	/* The message's Date: header, parsed (mail_date_parse). False when it
	 * has none or it cannot be parsed: SENT* keys do not match then. */
	bool (*sent_date)(void *ctx, const struct imap_search_msg *m, int64_t *t, int *tz_min);
	/* Does the message match needle i of s->needles? The caller scans
	 * the message once for every needle (mime_search) and remembers. */
	bool (*needle)(void *ctx, const struct imap_search_msg *m, size_t i);
};

/*
 * Prepare the program for a folder: "*" in sequence sets becomes
 * max_seq (or max_uid in UID sets), "$" refers to saved (the UIDs of the
 * saved result; NULL or empty: "$" matches nothing), keywords are looked
 * up, OLDER/YOUNGER are measured from now. Call again when the folder
 * changed between evaluations of the same program.
 */
void imap_search_bind(struct imap_search *s, uint32_t max_seq, uint32_t max_uid, const struct imap_seqset *saved,
                      int64_t now, const struct imap_search_ops *ops, void *ctx);
/* Does message m match? */
bool imap_search_match(const struct imap_search *s, const struct imap_search_msg *m);

#endif
