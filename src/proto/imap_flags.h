/*
 * imap_flags — the system flags of IMAP (RFC 9051 2.3.2) as one set of
 * bits, shared by the engine, SEARCH and the store, and their Maildir
 * letters (CONTRACT.md "Folders": ":2," then D F P R S T in order).
 * Keywords are kept apart, as bit i for the folder's keyword i (letter
 * 'a' + i in the file name, the folder's dovecot-keywords file).
 */
#ifndef TERN_IMAP_FLAGS_H
#define TERN_IMAP_FLAGS_H

#include <stdint.h>

enum {
	IMAP_FLAG_ANSWERED = 1 << 0, /* \Answered: R */
	IMAP_FLAG_FLAGGED = 1 << 1,  /* \Flagged:  F */
	IMAP_FLAG_DELETED = 1 << 2,  /* \Deleted:  T */
	IMAP_FLAG_SEEN = 1 << 3,     /* \Seen:     S */
	IMAP_FLAG_DRAFT = 1 << 4,    /* \Draft:    D */
	IMAP_FLAG_PASSED = 1 << 5,   /* Maildir P ("passed", resent): kept, not an IMAP flag */
	IMAP_FLAG_RECENT = 1 << 6,   /* \Recent: per session, never on disk */
};
#define IMAP_FLAGS_SYSTEM (IMAP_FLAG_ANSWERED | IMAP_FLAG_FLAGGED | IMAP_FLAG_DELETED | IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT)
#define IMAP_KEYWORDS_MAX 26         /* Maildir letters a..z */

typedef uint32_t imap_keywords;     /* bit i: the folder's keyword i */

#endif
