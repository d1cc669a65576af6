/*
 * imap_server_int — what the files of the IMAP engine share: the command
 * table's row, the command in progress, and the reply helpers. Not for
 * use outside src/proto/imap_server*.c.
 *
 * A command goes through two steps, as in OpenSMTPD's table: `parse`
 * checks syntax and state and records what it needs in the command (on
 * the caller's thread, while the command text is still in the reader);
 * `exec`, when the row has one, does the work against the store from
 * imap_server_exec() and may stop half-way (IMAP_EXEC_MORE) with its
 * place kept in the command.
 */
#ifndef TERN_IMAP_SERVER_INT_H
#define TERN_IMAP_SERVER_INT_H

#include "proto/imap_server.h"

/* Where a command is allowed. */
enum {
	IMAP_IN_NOTAUTH = 1 << IMAP_S_NOTAUTH,
	IMAP_IN_AUTH = 1 << IMAP_S_AUTH,
	IMAP_IN_SELECTED = 1 << IMAP_S_SELECTED,
	IMAP_IN_ANY = IMAP_IN_NOTAUTH | IMAP_IN_AUTH | IMAP_IN_SELECTED,
	IMAP_IN_LOGGED = IMAP_IN_AUTH | IMAP_IN_SELECTED,
};

/* Row flags. */
enum {
	IMAP_CMD_UID = 1 << 0,       /* may follow "UID" */
	IMAP_CMD_EXPUNGES = 1 << 1,  /* the updates after it may include EXPUNGE (RFC 9051 7.5.1) */
	IMAP_CMD_NOSYNC = 1 << 2,    /* no updates after it (CAPABILITY, ID, LOGOUT...) */
};

struct imap_cmd;

struct imap_cmd_def {
	const char *name;
	unsigned states;             /* IMAP_IN_* */
	unsigned flags;              /* IMAP_CMD_* */
	/* Check syntax and state; answer at once (return false: done) or
	 * prepare for exec (return true). */
	bool (*parse)(struct imap_server *s, struct imap_cmd *c);
	enum imap_exec_result (*exec)(struct imap_server *s, struct imap_cmd *c);
};

/* One FETCH attribute (RFC 9051 6.4.5). */
enum imap_fetch_kind {
	IMAP_FA_UID,
	IMAP_FA_FLAGS,
	IMAP_FA_INTERNALDATE,
	IMAP_FA_SIZE,                /* RFC822.SIZE */
	IMAP_FA_ENVELOPE,
	IMAP_FA_BODY,                /* BODY without section: the non-extensible structure */
	IMAP_FA_BODYSTRUCTURE,
	IMAP_FA_MODSEQ,
	IMAP_FA_SECTION,             /* BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER, RFC822.TEXT */
	IMAP_FA_BINARY_SIZE,         /* BINARY.SIZE[...] (RFC 3516) */
};

#define IMAP_FETCH_ITEMS_MAX 64
#define IMAP_SECTION_DEPTH_MAX 16
#define IMAP_FIELDS_MAX 64

struct imap_fetch_att {
	enum imap_fetch_kind kind;
	bool peek;                   /* does not set \Seen */
	const char *label;           /* RFC822, RFC822.HEADER, RFC822.TEXT: the name answered */
	uint32_t path[IMAP_SECTION_DEPTH_MAX];
	size_t depth;
	enum mime_section_what what;
	bool fields, fields_not;     /* HEADER.FIELDS[.NOT] */
	char *field_names[IMAP_FIELDS_MAX]; /* owned copies, upper case */
	size_t nfields;
	bool partial;
	uint64_t p_off, p_len;       /* <off.len> */
	char spec[256];              /* the section as answered: "1.2.HEADER.FIELDS (FROM TO)" */
};

/* A literal being sent in pieces (BODY[...] of a large message). */
struct imap_stream {
	bool active;
	uint32_t seq;
	uint64_t off;                /* next octet of the stored message to read */
	uint64_t end;                /* one past the range's last octet */
	uint64_t skip;               /* wire octets still to drop (partial origin) */
	uint64_t left;               /* wire octets still to send */
	bool cr;                     /* the last octet read was CR */
};

struct imap_cmd {
	const struct imap_cmd_def *def;
	struct imap_args args;
	bool uid;                    /* UID FETCH, UID STORE, ... */
	bool parsed;                 /* args hold a parse to free */
	/* sequence set resolved to sequence numbers (FETCH, STORE, COPY, ...) */
	struct imap_seqset set;
	size_t range, next;          /* the cursor: range index, next seq in it */
	bool started;
	/* mailbox commands */
	char name[IMAP_NAME_MAX + 1];
	char name2[IMAP_NAME_MAX + 1];
	bool readonly;
	unsigned items;              /* STATUS items */
	/* SELECT/EXAMINE (QRESYNC, RFC 7162 3.2.5) */
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	struct imap_seqset q_known;  /* known UIDs, or empty for all */
	/* FETCH */
	struct imap_fetch_att *atts; /* owned, natts */
	size_t natts;
	size_t att;                  /* the cursor: next attribute of the message in progress */
	bool in_msg;                 /* "* n FETCH (" was written */
	bool sep;                    /* an item was written in this FETCH response */
	uint64_t changedsince;
	bool vanished;
	bool set_seen;               /* some attribute sets \Seen */
	bool want_modseq;
	struct imap_stream stream;
	unsigned expunged_seen;      /* messages found gone while fetching */
	/* STORE */
	enum imap_store_mode mode;
	bool silent;
	unsigned flags;
	char **keywords;             /* owned names */
	size_t nkeywords;
	imap_keywords kwbits;
	uint64_t unchangedsince;
	struct imap_seqset modified; /* MODIFIED response code */
	/* SEARCH */
	struct imap_search search;
	bool search_ready;
	struct imap_seqset result;
	uint64_t result_modseq;      /* the highest of all results */
	uint64_t result_min_modseq, result_max_modseq; /* ...of the MIN and the MAX message */
	uint32_t result_min, result_max, result_count;
	uint32_t needle_seq;         /* the message whose needles are known */
	bool needle_hits[IMAP_SEARCH_NEEDLES];
	/* COPY/MOVE */
	bool move;
	/* LIST */
	struct imap_folder *folders; /* owned */
	size_t nfolders;
	bool lsub;
	bool extended;               /* LIST-EXTENDED syntax used */
	unsigned sel_opts, ret_opts;
	char **patterns;             /* owned, in UTF-8 */
	size_t npatterns;
	char ref[IMAP_NAME_MAX * 2 + 1];
	/* APPEND */
	struct imap_append *ap;
	uint64_t ap_left;            /* message octets still to read */
	bool ap_sync;                /* the literal was synchronizing: "+" was or will be sent */
	bool ap_refused;             /* the literal is being discarded; answer at the end */
	const char *ap_code;         /* ...with this */
	int64_t ap_date;
	int ap_tz;
	struct buf ap_chunk;         /* data waiting for the store (owned) */
	enum { IMAP_AP_BEGIN, IMAP_AP_DATA, IMAP_AP_COMMIT } ap_step;
	size_t ap_cmdlen;            /* the command's length up to the message */
	enum imap_store_result ap_failed; /* a store failure while the message arrived */
	/* AUTHENTICATE */
	bool sasl;
	/* the answer, when exec has decided it */
	const char *done_status;     /* "OK", "NO", "BAD" */
	char done_text[256];
};

/* imap_server.c */
extern const struct imap_cmd_def imap_cmd_table[];
void imap_tagged(struct imap_server *s, const char *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void imap_untagged(struct imap_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_bad(struct imap_server *s, const char *text);
/* Report what changed in the selected folder (EXPUNGE if allowed,
 * EXISTS, FLAGS, flag changes). false when the store failed. */
bool imap_report_updates(struct imap_server *s, bool expunges);
void imap_capabilities(struct imap_server *s, struct buf *out);
/* The command is over: free it, read the next. */
void imap_cmd_end(struct imap_server *s);
void imap_note_own_change(struct imap_server *s, uint32_t uid, uint64_t modseq);
/* A CONDSTORE-enabling command (RFC 7162 3.1) was given: CONDSTORE on,
 * and "* OK [HIGHESTMODSEQ n]" when a folder is selected. */
void imap_condstore_enable(struct imap_server *s);
/* The command's sequence set, resolved against the view (UID sets to
 * sequence numbers) into c->set. false: BAD already answered. */
bool imap_resolve_set(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *a);

/* imap_server_out.c: writing IMAP data */
void imap_put_astring(struct buf *out, const char *p, size_t n);
void imap_put_string(struct buf *out, const char *p, size_t n); /* quoted or literal, never an atom */
void imap_put_nstring(struct buf *out, const char *p, size_t n); /* NIL for NULL */
/* A folder name in the client's form (UTF-8 for IMAP4rev2 sessions). */
void imap_put_mailbox(struct imap_server *s, struct buf *out, const char *store_name);
void imap_put_flags(struct imap_server *s, struct buf *out, unsigned flags, imap_keywords kw);
/* A name from the client (astring) in the store's form: UTF-8 or
 * modified UTF-7 to modified UTF-7, INBOX in any case to INBOX, checked
 * with imap_server_name_ok. false: BAD or NO already answered. */
bool imap_get_mailbox(struct imap_server *s, const struct imap_arg *a, char *out, size_t outlen);
/* The same without answering: 0, -1 (a syntax error: BAD), -2 (an
 * unusable name: NO [CANNOT]). */
int imap_mailbox_convert(struct imap_server *s, const struct imap_arg *a, char *out, size_t outlen);
/* The store name's UTF-8 form (for LIST matching). */
bool imap_name_to_utf8(const char *store_name, char *out, size_t outlen);

/* imap_server_mbox.c */
bool imap_parse_select(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_select(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_onename(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_rename(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_create(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_delete(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_rename(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_subscribe(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_unsubscribe(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_status(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_status(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_list(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_list(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_noargs(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_close(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_unselect(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_namespace(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_quota(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_getquota(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_getquotaroot(struct imap_server *s, struct imap_cmd *c);
/* Status items into "(MESSAGES 3 UIDNEXT 4)"; a STATUS response. */
void imap_put_status(struct imap_server *s, const char *name, unsigned items, const struct imap_status *st);
/* Close the selected folder, if any (state goes to AUTH). */
void imap_close_box(struct imap_server *s);

/* imap_server_fetch.c */
bool imap_parse_fetch(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_fetch(struct imap_server *s, struct imap_cmd *c);
void imap_fetch_free(struct imap_cmd *c);

/* imap_server_msg.c */
bool imap_parse_store(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_store(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_copy(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_copy(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_expunge(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_expunge(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_search(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_search(struct imap_server *s, struct imap_cmd *c);
/* Flags from a list or a single flag: system bits and keyword names. */
bool imap_parse_flag_list(struct imap_server *s, struct imap_cmd *c, const struct imap_arg *a, bool allow_recent);
void imap_store_free(struct imap_cmd *c);
/* The expunge sink: EXPUNGE or VANISHED. */
void imap_sink_init(struct imap_server *s, struct imap_sync_sink *sink);
void imap_sink_flush(struct imap_server *s);

/* imap_server_append.c */
/* The reader announced a literal: is it APPEND's message? Then it is
 * taken care of (true). */
bool imap_append_literal(struct imap_server *s);
/* Message octets while wait is IMAP_W_APPEND: how many were used. */
size_t imap_append_feed(struct imap_server *s, const char *in, size_t n);
/* The command line after the message ended: commit or refuse. */
void imap_append_end(struct imap_server *s);
enum imap_exec_result imap_exec_append(struct imap_server *s, struct imap_cmd *c);
void imap_append_free(struct imap_server *s, struct imap_cmd *c);


void imap_cmd_free(struct imap_cmd *c);
/* imap_server_mbox.c: a folder command's tagged answer from the store's
 * result; a STATUS item list (also for LIST RETURN (STATUS ...)). */
void imap_done(struct imap_cmd *c, enum imap_store_result r, const char *ok_text);
bool imap_status_list(const struct imap_arg *l, unsigned *items);

/* ---- imap_server_state.c: commands of any state, logging in, IDLE ---- */
bool imap_parse_capability(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_noop(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_noop(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_logout(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_logout(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_id(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_enable(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_starttls(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_compress(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_login(struct imap_server *s, struct imap_cmd *c);
void imap_sasl_response(struct imap_server *s, const char *line, size_t n);
bool imap_parse_authenticate(struct imap_server *s, struct imap_cmd *c);
bool imap_parse_idle(struct imap_server *s, struct imap_cmd *c);
enum imap_exec_result imap_exec_idle(struct imap_server *s, struct imap_cmd *c);
void imap_idle_line(struct imap_server *s, const char *line, size_t n);

#endif
