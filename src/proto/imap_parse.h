/*
 * imap_parse — the IMAP command grammar (RFC 9051 section 9, RFC 3501
 * section 9, RFC 7888 literals), pure and bounded: bytes in, a tree of
 * arguments out. Two parts:
 *
 * The reader collects one command from the client's stream: lines up to
 * CR LF (a bare LF is taken as the end of a line too, as Dovecot does),
 * and the literals announced at their ends ("{N}", "{N+}", "~{N}"),
 * whose N octets are taken as they are. The command is kept as the
 * client sent it, literals and all, without the final line end; so that
 * the whole of it is bounded, a literal is announced to the caller
 * before it is read (imap_reader_feed returns IMAP_READ_LITERAL), and
 * the caller decides: read it (synchronizing literals then need a "+"
 * continuation from the server), stream it elsewhere (APPEND), or refuse
 * it before the client sends it.
 *
 * The argument parser turns a complete command into a list of arguments:
 * atoms, quoted strings (unescaped), literals, NIL, and parenthesized
 * lists, at most IMAP_ARG_DEPTH_MAX deep and IMAP_ARGS_MAX in all.
 * Brackets ("BODY[HEADER.FIELDS (A B)]<0.10>") are kept inside the atom
 * that holds them, as the grammar's fetch attributes want.
 */
#ifndef TERN_IMAP_PARSE_H
#define TERN_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define IMAP_COMMAND_MAX (64 * 1024) /* a command with its literals, APPEND's message apart */
#define IMAP_ARG_DEPTH_MAX 16        /* parentheses within parentheses */
#define IMAP_ARGS_MAX 4096           /* arguments in one command, lists included */
#define IMAP_TAG_MAX 64              /* octets of a tag */
#define IMAP_LITERAL_MINUS_MAX 4096  /* RFC 7888 LITERAL-: the largest non-synchronizing literal */

/* ---- the reader ---- */

#define IMAP_READ_TAIL 32 /* octets of a discarded line kept to see a literal marker */

enum imap_read_result {
	IMAP_READ_MORE,     /* everything was consumed; the command goes on */
	IMAP_READ_COMMAND,  /* a whole command is in r->cmd */
	IMAP_READ_LITERAL,  /* r->lit_size octets follow: call imap_reader_literal_* first */
	IMAP_READ_TOO_LONG, /* the command passed IMAP_COMMAND_MAX (read on to its end: discarded) */
};

struct imap_reader {
	struct buf cmd;          /* the command so far (owned); max IMAP_COMMAND_MAX */
	bool overflow;           /* discarding an over-long command up to its end */
	char tail[IMAP_READ_TAIL]; /* ...and the end of its current line */
	size_t tail_len;
	char head[IMAP_TAG_MAX + 2]; /* the first octets of a command dropped for its length (its tag) */
	size_t head_len;
	uint64_t lit_left;       /* octets of the current literal still to read */
	bool lit_discard;        /* ...and drop (a refused non-synchronizing literal) */
	/* set with IMAP_READ_LITERAL */
	uint64_t lit_size;
	bool lit_sync;           /* "{N}": the client waits for a "+" continuation */
	bool lit_binary;         /* "~{N}" (RFC 3516) */
	size_t lit_at;           /* where in cmd the marker "{N}" began */
};

void imap_reader_init(struct imap_reader *r);
void imap_reader_free(struct imap_reader *r);
/* Take bytes; *used tells how many were consumed (all of them unless a
 * result other than IMAP_READ_MORE came earlier). */
enum imap_read_result imap_reader_feed(struct imap_reader *r, const char *in, size_t n, size_t *used);
/* After IMAP_READ_LITERAL: take the literal into the command (it must
 * fit: the caller checked lit_size), ... */
void imap_reader_literal_accept(struct imap_reader *r);
/* ... or read the lit_size octets and drop them, with the rest of the
 * command (a refused non-synchronizing literal, RFC 7888 4); ... */
void imap_reader_literal_discard(struct imap_reader *r);
/* ... or forget the command at once (a refused synchronizing literal:
 * the client sends nothing more of it, RFC 9051 7.5). */
void imap_reader_reset(struct imap_reader *r);
/* The caller read the literal's octets itself (APPEND's message): the
 * command goes on after them. */
void imap_reader_literal_skip(struct imap_reader *r);
/* Drop the command collected; call after IMAP_READ_COMMAND was handled. */
void imap_reader_next(struct imap_reader *r);

/* ---- arguments ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* including "*", "1:4", "BODY[TEXT]<0.10>", "\Seen" */
	IMAP_ARG_STRING,   /* quoted string, unescaped */
	IMAP_ARG_LITERAL,  /* {N} data (literal8 when binary) */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,     /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *s;       /* atoms, strings, literals: the octets (not NUL-terminated for literals) */
	size_t len;
	bool binary;         /* a literal8 */
	struct imap_arg *list; /* for lists: the elements (into the same array) */
	size_t nlist;
};

struct imap_args {
	struct imap_arg *v;  /* owned: every argument, lists' elements after their list */
	size_t n;
	struct buf strings;  /* unescaped quoted strings (owned) */
	struct imap_arg *top; /* the command's arguments after tag and verb */
	size_t ntop;
	char tag[IMAP_TAG_MAX + 1];
	char verb[32];       /* upper case; "UID FETCH" style two-word verbs stay one word + the next arg */
};

enum imap_parse_status {
	IMAP_PARSE_OK,
	IMAP_PARSE_NO_TAG,   /* no valid tag: the answer is an untagged BAD */
	IMAP_PARSE_BAD,      /* a syntax error: tagged BAD */
	IMAP_PARSE_TOO_DEEP, /* nesting or count over the limits: tagged BAD */
};

/* Parse a complete command (what imap_reader collected). The arguments
 * point into cmd, which must outlive them. */
enum imap_parse_status imap_args_parse(const char *cmd, size_t len, struct imap_args *a);
void imap_args_free(struct imap_args *a);

/* Helpers over arguments. */
bool imap_arg_is_atom(const struct imap_arg *a, const char *word); /* case-insensitive */
/* An astring (atom, string or literal) as a fresh NUL-terminated copy in
 * out (outlen octets). False when it is another type, holds a NUL, or
 * does not fit. */
bool imap_arg_astring(const struct imap_arg *a, char *out, size_t outlen);
/* A number (RFC 9051 number: up to 4294967295). */
bool imap_arg_number(const struct imap_arg *a, uint32_t *out);

/* ---- sequence sets (RFC 9051 9: sequence-set, with "*" and "$") ---- */

#define IMAP_SEQSET_MAX 4096 /* ranges in a set the client sends */

struct imap_range {
	uint32_t lo, hi;     /* inclusive; 0 stands for "*" until resolved */
};

struct imap_seqset {
	struct imap_range *r; /* owned */
	size_t n, cap;
	bool saved;          /* "$": the SEARCHRES result (RFC 5182) */
	bool sorted;         /* ranges ascending, disjoint, not adjacent (imap_seqset_normalize) */
};

/* Parse "1,3:5,7:*" or "$" into a fresh set. False on a syntax error,
 * too many ranges or ENOMEM (set is then empty and needs no free). Zero
 * is refused (RFC 9051: nz-number). */
bool imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set);
void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_free(struct imap_seqset *set);
/* Append lo:hi (lo <= hi); a range that extends the last one is merged
 * into it, so that ascending additions stay sorted. 0, or -1 on ENOMEM. */
int imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);
/* Replace "*" by max and order every range lo <= hi (then normalize). */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
/* Sort and merge the ranges. */
void imap_seqset_normalize(struct imap_seqset *set);
/* Is v in the set? Binary search once sorted, else a scan. */
bool imap_seqset_has(const struct imap_seqset *set, uint32_t v);
/* Append the set to out in the wire form ("1:3,7"); an empty set gives
 * nothing. -1 when out is full. */
int imap_seqset_format(const struct imap_seqset *set, struct buf *out);

#endif
