/*
 * imap_search_int — what imap_search.c (parsing a program) and
 * imap_search_match.c (binding it to a folder and matching messages)
 * share: the program's nodes. imap_search.h is the public face.
 */
#ifndef TERN_IMAP_SEARCH_INT_H
#define TERN_IMAP_SEARCH_INT_H

#include "proto/imap_search.h"

enum imap_search_type {
	IMAP_SEARCH_N_AND,     /* the root and every parenthesized group */
	IMAP_SEARCH_N_OR,
	IMAP_SEARCH_N_NOT,
	IMAP_SEARCH_N_ALL,
	IMAP_SEARCH_N_FLAGS,   /* every bit of set, none of clear */
	IMAP_SEARCH_N_KEYWORD,
	IMAP_SEARCH_N_DATE,    /* BEFORE ON SINCE: the internal date's day */
	IMAP_SEARCH_N_SENT,    /* SENTBEFORE SENTON SENTSINCE: the Date: header's day */
	IMAP_SEARCH_N_LARGER,
	IMAP_SEARCH_N_SMALLER,
	IMAP_SEARCH_N_MODSEQ,
	IMAP_SEARCH_N_OLDER,
	IMAP_SEARCH_N_YOUNGER,
	IMAP_SEARCH_N_SEQ,     /* a sequence set of message numbers */
	IMAP_SEARCH_N_UID,
	IMAP_SEARCH_N_SAVED,   /* "$" */
	IMAP_SEARCH_N_NEEDLE,
};

/* What a key costs to evaluate; a group costs what its dearest child does. */
enum {
	IMAP_SEARCH_COST_FREE,
	IMAP_SEARCH_COST_DATE, /* ops->sent_date */
	IMAP_SEARCH_COST_TEXT, /* ops->needle */
	IMAP_SEARCH_COSTS,
};

enum { IMAP_SEARCH_BEFORE, IMAP_SEARCH_ON, IMAP_SEARCH_SINCE };

struct imap_search_node {
	uint8_t type;          /* enum imap_search_type */
	uint8_t cost;
	uint8_t op;            /* dates: IMAP_SEARCH_BEFORE...; keywords: 1 for UNKEYWORD */
	uint16_t child, last, next;
	union {
		struct {
			unsigned set, clear;
		} flags;
		uint64_t num;      /* LARGER SMALLER MODSEQ OLDER YOUNGER */
		imap_day day;
		struct {
			size_t name;   /* offset into s->strings */
			int index;     /* bound: the folder's keyword index, or -1 */
		} kw;
		size_t needle;
		struct {
			struct imap_seqset given; /* owned: as the client wrote it */
			struct imap_seqset bound; /* owned: "*" resolved; its array sized at parse time */
		} seq;
	} u;
};

#endif
