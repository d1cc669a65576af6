/*
 * imap_server — the IMAP server session engine: IMAP4rev2 (RFC 9051) and
 * IMAP4rev1 (RFC 3501), with the extensions clients use for fast sync:
 * LITERAL+ / LITERAL- (RFC 7888), IDLE (2177), UIDPLUS (4315), MOVE
 * (6851), NAMESPACE (2342), ID (2971), UNSELECT (3691), CHILDREN (3348),
 * SPECIAL-USE (6154), LIST-EXTENDED and LIST-STATUS (5258, 5819), ESEARCH
 * (4731), SEARCHRES (5182), STATUS=SIZE (8438), APPENDLIMIT (7889),
 * CONDSTORE and QRESYNC (7162), COMPRESS=DEFLATE (4978), QUOTA (9208),
 * ENABLE (5161), SASL-IR (4959), UTF8=ACCEPT (6855).
 *
 * Pure, like the SMTP and POP3 engines: the caller feeds the bytes it
 * read and sends what the engine appended to `out`; the world (the
 * password check, TLS, the mail store) is reached through the ops table.
 *
 * Two kinds of waiting. The password check, STARTTLS and COMPRESS are
 * asynchronous as in POP3: the engine stops consuming input until the
 * matching *_done() call. Every command that touches the mail store is
 * *executed*: imap_server_feed() parses it and stops with
 * imap_server_wants_exec() true; the caller then runs imap_server_exec()
 * where blocking is allowed (a worker thread), and the ops it calls there
 * are synchronous. exec answers IMAP_EXEC_MORE when `out` passed
 * IMAP_SERVER_OUT_PAUSE (a FETCH of 100,000 messages, a large literal):
 * the caller sends `out` and calls exec again once the client has read
 * it. Only one thread at a time may call into one engine.
 *
 * Names given to the ops are in the store's form: modified UTF-7 (RFC
 * 3501 5.1.3, what is on disk), "." as the hierarchy separator, "INBOX"
 * in capitals, already checked by the engine to be safe as Maildir++
 * folder names (imap_server_name_ok).
 */
#ifndef TERN_IMAP_SERVER_H
#define TERN_IMAP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/imap_flags.h"
#include "proto/imap_parse.h"
#include "proto/imap_search.h"
#include "proto/mime.h"

#define IMAP_NAME_MAX 200          /* octets of a folder name in the store's form */
#define IMAP_USER_MAX 255
#define IMAP_PASS_MAX 1024
#define IMAP_SERVER_MAX_ERRORS 30  /* BAD commands before BYE, as the SMTP engine's limit */
#define IMAP_SERVER_MAX_LOGIN_FAILURES 3
/* Output waiting in `out` at which reading commands and executing stop
 * until the caller has sent it. */
#define IMAP_SERVER_OUT_PAUSE (128 * 1024)
#define IMAP_SERVER_OUT_MAX (64 * 1024 * 1024) /* then the session is closed */
#define IMAP_APPEND_CHUNK (64 * 1024) /* APPEND data handed to the store at a time */
#define IMAP_OWN_MAX (256 * 1024)  /* own changes remembered between updates */

/* ---- what the store tells the engine ---- */

struct imap_msg {
	uint32_t uid;
	unsigned flags;            /* IMAP_FLAG_*, IMAP_FLAG_RECENT for this session */
	imap_keywords keywords;
	uint64_t modseq;
	uint64_t size;             /* RFC822.SIZE: octets on the wire */
	int64_t internaldate;      /* seconds since the epoch */
	int tz;                    /* the zone INTERNALDATE is shown in, minutes east of UTC */
};

struct imap_box_info {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t exists;
	uint32_t recent;
	uint64_t highestmodseq;
	bool readonly;             /* EXAMINE, or the store refuses writes */
	const char *const *keywords; /* the folder's keywords, index = bit (owned by the store) */
	size_t nkeywords;          /* \* is offered while nkeywords < IMAP_KEYWORDS_MAX */
};

enum {
	IMAP_STATUS_MESSAGES = 1 << 0,
	IMAP_STATUS_RECENT = 1 << 1,
	IMAP_STATUS_UIDNEXT = 1 << 2,
	IMAP_STATUS_UIDVALIDITY = 1 << 3,
	IMAP_STATUS_UNSEEN = 1 << 4,
	IMAP_STATUS_DELETED = 1 << 5,
	IMAP_STATUS_SIZE = 1 << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 7,
};

struct imap_status {
	uint32_t messages, recent, uidnext, uidvalidity, unseen, deleted;
	uint64_t size, highestmodseq;
};

/* RFC 6154 attributes, and what LIST needs to know of a folder. */
enum {
	IMAP_FOLDER_SENT = 1 << 0,
	IMAP_FOLDER_DRAFTS = 1 << 1,
	IMAP_FOLDER_TRASH = 1 << 2,
	IMAP_FOLDER_JUNK = 1 << 3,
	IMAP_FOLDER_ARCHIVE = 1 << 4,
	IMAP_FOLDER_EXISTS = 1 << 5,     /* selectable (special-use folders always are) */
	IMAP_FOLDER_SUBSCRIBED = 1 << 6,
};
#define IMAP_FOLDER_SPECIAL (IMAP_FOLDER_SENT | IMAP_FOLDER_DRAFTS | IMAP_FOLDER_TRASH | IMAP_FOLDER_JUNK | IMAP_FOLDER_ARCHIVE)

struct imap_folder {
	char name[IMAP_NAME_MAX + 1];    /* store form */
	unsigned attrs;
};

/* Results of the store's operations. */
enum imap_store_result {
	IMAP_STORE_OK,
	IMAP_STORE_NONEXISTENT,    /* NO [NONEXISTENT] (or [TRYCREATE] for APPEND, COPY, MOVE) */
	IMAP_STORE_EXISTS,         /* NO [ALREADYEXISTS] */
	IMAP_STORE_BADNAME,        /* NO [CANNOT] */
	IMAP_STORE_NOPERM,         /* NO [NOPERM]: INBOX cannot be deleted, ... */
	IMAP_STORE_OVERQUOTA,      /* NO [OVERQUOTA] */
	IMAP_STORE_TOOBIG,         /* NO [TOOBIG] */
	IMAP_STORE_LIMIT,          /* NO [LIMIT]: no room for another keyword */
	IMAP_STORE_MODIFIED,       /* STORE UNCHANGEDSINCE failed for this message (RFC 7162) */
	IMAP_STORE_EXPUNGED,       /* the message is gone: NO [EXPUNGEISSUED] or skipped */
	IMAP_STORE_ERROR,          /* NO [SERVERBUG]/[UNAVAILABLE]: the disk failed */
};

enum imap_store_mode { IMAP_STORE_SET, IMAP_STORE_ADD, IMAP_STORE_REMOVE };

/* Updates a sync reports, in the order they are to be sent. */
struct imap_sync_sink {
	/* Message seq (numbered as the client still sees them, each call
	 * already accounting for the ones before) with this uid is gone. */
	void (*expunged)(void *engine, uint32_t seq, uint32_t uid);
	void *engine;
};

struct imap_login_result_info;

enum imap_login_result {
	IMAP_LOGIN_OK,
	IMAP_LOGIN_BAD,            /* NO [AUTHENTICATIONFAILED] */
	IMAP_LOGIN_THROTTLED,      /* NO [UNAVAILABLE]: too many failures from this network */
	IMAP_LOGIN_TEMP,           /* NO [UNAVAILABLE]: the mail store could not be opened */
	IMAP_LOGIN_LIMIT,          /* NO [LIMIT]: too many sessions for this user */
};

/* An APPEND in progress (the store's). */
struct imap_append;

struct imap_server_ops {
	/* ---- asynchronous (from feed, on the caller's thread) ---- */
	/* LOGIN or AUTHENTICATE PLAIN gave credentials: check them and open
	 * the user's store, then call imap_server_login_done(). Strings live
	 * only during the call. */
	void (*login)(void *ctx, const char *user, const char *pass);
	/* The OK to STARTTLS is in `out`: send it, start TLS, then
	 * imap_server_tls_done(). NULL when TLS is unavailable. */
	void (*starttls)(void *ctx);
	/* The OK to COMPRESS DEFLATE is in `out`: send it, then compress
	 * both directions from the next octet on; imap_server_compress_done(). */
	void (*compress)(void *ctx);
	/* IDLE began (on) or ended: watch the selected folder for changes
	 * and call imap_server_notify() when it changes. */
	void (*idle)(void *ctx, bool on);
	/* Every NO and BAD, for the log: the command (tag and verb, no
	 * arguments) and the reply line without CR LF. May be NULL. */
	void (*refused)(void *ctx, const char *cmd, const char *reply);

	/* ---- synchronous (from exec: blocking is allowed) ---- */
	/* Every folder of the user (existing on disk or special-use) and
	 * every subscribed name (IMAP_FOLDER_SUBSCRIBED; such a name may not
	 * exist). *out is malloc'ed; the engine frees it. */
	enum imap_store_result (*list)(void *ctx, struct imap_folder **out, size_t *n);
	enum imap_store_result (*create)(void *ctx, const char *name);
	enum imap_store_result (*remove)(void *ctx, const char *name);
	/* Rename with the children (RFC 9051 6.3.6); INBOX moves its messages. */
	enum imap_store_result (*rename)(void *ctx, const char *from, const char *to);
	enum imap_store_result (*subscribe)(void *ctx, const char *name, bool on);
	/* `items` is IMAP_STATUS_*; fill those. */
	enum imap_store_result (*status)(void *ctx, const char *name, unsigned items, struct imap_status *st);
	/* Storage used and allowed (0: no limit), in octets, and messages. */
	enum imap_store_result (*quota)(void *ctx, uint64_t *used, uint64_t *limit, uint64_t *messages);

	/* Open a folder for this session (read-only for EXAMINE). The box
	 * is the session's view of it until close. */
	enum imap_store_result (*open)(void *ctx, const char *name, bool readonly, void **box, struct imap_box_info *info);
	void (*close)(void *ctx, void *box);
	/* A command that used the box ended (or IDLE began): let go of what
	 * was kept for it, an open message file, a parsed structure, so that
	 * an idle session holds nothing but its numbering. May be NULL. */
	void (*rest)(void *ctx, void *box);
	/* Bring the view up to date: report expunges through sink when
	 * allowed (RFC 9051 7.5.1: not during FETCH, STORE or SEARCH), and
	 * refresh info (exists, uidnext, highestmodseq, keywords). */
	enum imap_store_result (*sync)(void *ctx, void *box, bool expunges, const struct imap_sync_sink *sink,
	                               struct imap_box_info *info);
	/* Message seq (1..info.exists) of the view. */
	void (*msg)(void *ctx, void *box, uint32_t seq, struct imap_msg *m);
	/* The first message from seq to upto whose modseq is above since:
	 * its number in *found and its state in *m; false when there is none.
	 * What an update after another session's change needs, without
	 * asking for every message of a big folder one by one. May be NULL
	 * (then msg is asked for each). */
	bool (*next_changed)(void *ctx, void *box, uint32_t seq, uint32_t upto, uint64_t since, uint32_t *found,
	                     struct imap_msg *m);
	/* The sequence numbers of the messages with UIDs in lo..hi: false
	 * when there are none. */
	bool (*uid_range)(void *ctx, void *box, uint32_t lo, uint32_t hi, uint32_t *seq_lo, uint32_t *seq_hi);
	/* The index of keyword name in the folder (create: add it when
	 * missing). -1 unknown, -2 no room (IMAP_KEYWORDS_MAX). */
	int (*keyword)(void *ctx, void *box, const char *name, bool create);
	/* Change flags of message seq. unchangedsince 0: unconditional. On
	 * OK, *m is the message after the change (its new modseq). */
	enum imap_store_result (*store)(void *ctx, void *box, uint32_t seq, enum imap_store_mode mode, unsigned flags,
	                                imap_keywords keywords, uint64_t unchangedsince, struct imap_msg *m);
	/* Make what this command changed durable (before the tagged OK). */
	enum imap_store_result (*flush)(void *ctx, void *box);
	/* Remove the messages flagged \Deleted (only those with UIDs in
	 * uids when not NULL); each is reported through sink. */
	enum imap_store_result (*expunge)(void *ctx, void *box, const struct imap_seqset *uids,
	                                  const struct imap_sync_sink *sink);
	/* Copy the messages with these sequence numbers (normalized) to
	 * folder dest; uidvalidity and the source and destination UIDs, in
	 * the same order, for COPYUID (the sets are the engine's to free). */
	enum imap_store_result (*copy)(void *ctx, void *box, const struct imap_seqset *seqs, const char *dest,
	                               uint32_t *uidvalidity, struct imap_seqset *src_uids, struct imap_seqset *dst_uids);

	/* FETCH: the message's cached ENVELOPE, BODYSTRUCTURE (extended) or
	 * BODY, appended to out. */
	enum imap_store_result (*envelope)(void *ctx, void *box, uint32_t seq, struct buf *out);
	enum imap_store_result (*structure)(void *ctx, void *box, uint32_t seq, bool extended, struct buf *out);
	/* The range of a body section (mime_tree_section); IMAP_STORE_NONEXISTENT
	 * when the message has no such section. */
	enum imap_store_result (*section)(void *ctx, void *box, uint32_t seq, const uint32_t *path, size_t depth,
	                                  enum mime_section_what what, struct mime_range *r);
	/* Read len octets at off of the stored message into p. The octets
	 * read (fewer only at its end), or -1. */
	long (*read)(void *ctx, void *box, uint32_t seq, uint64_t off, char *p, size_t len);

	/* The time now (seconds since the epoch), for SEARCH OLDER/YOUNGER. */
	int64_t (*now)(void *ctx);
	/* SEARCH: the Date: header; the needles the message matches. */
	bool (*sent_date)(void *ctx, void *box, uint32_t seq, int64_t *t, int *tz_min);
	enum imap_store_result (*search_text)(void *ctx, void *box, uint32_t seq, const struct mime_needle *needles,
	                                      size_t n, bool *matched);

	/* APPEND: a message of size octets (as the client sends it, CR LF)
	 * for folder name; then its data in pieces; then commit with its
	 * flags, keyword names and internal date (0: now), giving the
	 * folder's uidvalidity and the new UID; or abort. */
	enum imap_store_result (*append_begin)(void *ctx, const char *name, uint64_t size, struct imap_append **ap);
	enum imap_store_result (*append_data)(void *ctx, struct imap_append *ap, const char *p, size_t n);
	enum imap_store_result (*append_commit)(void *ctx, struct imap_append *ap, unsigned flags,
	                                        const char *const *keywords, size_t nkeywords, int64_t date, int tz,
	                                        uint32_t *uidvalidity, uint32_t *uid);
	void (*append_abort)(void *ctx, struct imap_append *ap);
};

struct imap_server_config {
	bool tls_available;        /* offer STARTTLS */
	bool tls_active;           /* the session runs over TLS (imaps) */
	bool loopback;             /* the client is on a loopback address: LOGIN allowed without TLS */
	bool compress_available;   /* offer COMPRESS=DEFLATE */
	uint64_t appendlimit;      /* APPENDLIMIT=N (RFC 7889); 0: none announced */
};

enum imap_server_state {
	IMAP_S_NOTAUTH,            /* RFC 9051 3.1 */
	IMAP_S_AUTH,               /* 3.2 */
	IMAP_S_SELECTED,           /* 3.3 */
	IMAP_S_LOGOUT,             /* 3.4: flush out, then close */
};

enum imap_exec_result { IMAP_EXEC_DONE, IMAP_EXEC_MORE };

struct imap_cmd;               /* a command being executed (imap_server_int.h) */

struct imap_server {
	enum imap_server_state state;
	const struct imap_server_ops *ops;
	void *ctx;
	struct imap_server_config cfg;
	struct buf out;            /* replies waiting to be sent (owned) */
	struct imap_reader rd;     /* the command being read (owned) */
	/* what the engine waits for, if anything */
	enum {
		IMAP_W_NONE,
		IMAP_W_LOGIN,          /* ops->login */
		IMAP_W_TLS,            /* ops->starttls */
		IMAP_W_COMPRESS,       /* ops->compress */
		IMAP_W_EXEC,           /* the caller is to run imap_server_exec */
		IMAP_W_IDLE,           /* IDLE: until DONE */
		IMAP_W_SASL,           /* AUTHENTICATE: the client's response line */
		IMAP_W_APPEND,         /* APPEND: the message's octets */
	} wait;
	struct imap_cmd *cmd;      /* the command in progress (owned) */
	char tag[IMAP_TAG_MAX + 1];/* its tag */
	unsigned errors;
	unsigned login_failures;
	bool utf8;                 /* ENABLE IMAP4rev2 or UTF8=ACCEPT: names and strings in UTF-8 */
	bool rev2;                 /* ENABLE IMAP4rev2 */
	bool condstore;            /* CONDSTORE enabled (ENABLE, or a command that uses it) */
	bool qresync;              /* ENABLE QRESYNC */
	bool compressed;
	bool notified;             /* the folder changed since the last sync */
	/* the selected folder */
	void *box;
	struct imap_box_info info;
	uint32_t exists_sent;      /* EXISTS as the client knows it */
	uint64_t modseq_sent;      /* flag changes up to this modseq were reported */
	char box_name[IMAP_NAME_MAX + 1];
	struct imap_seqset saved;  /* SEARCHRES: the saved result, as UIDs */
	struct imap_seqset vanished; /* QRESYNC: expunges being gathered for one VANISHED */
	/* flag changes this session made and answered itself (STORE), not
	 * to be reported again as updates: uid and the modseq it got */
	struct imap_own { uint32_t uid; uint64_t modseq; } *own;
	size_t nown, own_cap;
	char user[IMAP_USER_MAX + 1];
};

void imap_server_init(struct imap_server *s, const struct imap_server_config *cfg, const struct imap_server_ops *ops,
                      void *ctx);
void imap_server_free(struct imap_server *s);
/* The blocking part of ending a session (closing the selected folder,
 * dropping an APPEND half received): call where blocking is allowed,
 * before imap_server_free. */
void imap_server_release(struct imap_server *s);
/* The greeting (RFC 9051 7.1.1: "* OK [CAPABILITY ...]"). */
void imap_server_greet(struct imap_server *s);
/* Feed bytes read from the client; returns how many were consumed:
 * fewer than n when the engine waits or closed (feed the rest later). */
size_t imap_server_feed(struct imap_server *s, const char *in, size_t n);
/* A command waits to be executed: call imap_server_exec. */
bool imap_server_wants_exec(const struct imap_server *s);
/* Execute it (blocking allowed): DONE, or MORE when `out` should be
 * sent first and exec called again. */
enum imap_exec_result imap_server_exec(struct imap_server *s);
void imap_server_login_done(struct imap_server *s, enum imap_login_result r, const char *user);
void imap_server_tls_done(struct imap_server *s);
void imap_server_compress_done(struct imap_server *s, bool ok);
/* The selected folder changed (another session, a delivery): in IDLE
 * the engine wants exec to report it; otherwise the next command does. */
void imap_server_notify(struct imap_server *s);
/* Shutdown, timeout, a limit: "* BYE text", then close. */
void imap_server_abort(struct imap_server *s, const char *text);
bool imap_server_is_closed(const struct imap_server *s);
/* Between commands, waiting for nothing (IDLE counts as idle). */
bool imap_server_is_idle(const struct imap_server *s);
bool imap_server_in_idle(const struct imap_server *s);
bool imap_server_logged_in(const struct imap_server *s);
bool imap_server_wants_tls(const struct imap_server *s);

/* Is name (store form) safe as a Maildir++ folder name: not empty, no
 * "/", no NUL, no control octet, no component that is empty, "." or
 * "..", not starting with "~" or ".", at most IMAP_NAME_MAX octets? */
bool imap_server_name_ok(const char *name, size_t n);

#endif
