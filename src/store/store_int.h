/*
 * store_int — what the files of src/store/ share and nobody else sees:
 * the in-memory folder (one per Maildir per process, shared by every
 * session's view of it), the per-message record, the view, and the
 * helpers each file offers the others. store.h is the public face.
 *
 * Ownership and locking, once for all files:
 * - the registry (folder.c) owns every struct folder; a folder lives
 *   while someone holds a reference (a view, or an operation under way);
 * - f->mu guards everything in struct folder and the views' fields that
 *   follow the folder (numbering, private UID arrays); it is held while
 *   the disk is synced or changed, never while a message is parsed or
 *   sent, and never together with another folder's mu (no lock order to
 *   get wrong);
 * - the dotlock dovecot-uidlist.lock (lock.c) is taken only by a thread
 *   holding f->mu, so one thread of this process holds it at a time.
 */
#ifndef TERN_STORE_INT_H
#define TERN_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/syncgroup.h"
#include "store/store.h"

#define STORE_DIR_MODE 0700
#define STORE_FILE_MODE 0600
/* Messages in one folder: more make the folder refuse to sync (a
 * uidlist or directory that claims more is damaged or hostile). */
#define STORE_FOLDER_MSGS_MAX 1000000u
/* A directory mtime closer than this to the scan that read it may be
 * shared by a later change: the directory is read again at the next
 * sync. Linux stamps a directory from its coarse clock, which trails
 * the clock we read by at most one tick (1-10 ms), so a tenth of a
 * second is ample on a local file system; it is also short enough that
 * a delivery seen by a thousand IDLE sessions costs a few scans of the
 * folder, not one per session. (A Maildir on NFS shared with other
 * hosts would need the hosts' clock skew here; such a setup is not
 * supported.) */
#define STORE_TRUST_NS (100 * 1000000LL)
/* The cache (tern-index) is rewritten at most this often while a folder
 * is in use; always when its last user lets go. */
#define STORE_SAVE_NS (5 * 1000000000LL)
#define STORE_IO_CHUNK 65536

/* ---- the per-message record (tens of bytes plus the name) ---- */

enum {
	FM_IN_NEW = 1 << 0,   /* the file is in new/ (else cur/) */
	FM_RECENT = 1 << 1,   /* arrived in new/; no read-write view has claimed it yet */
	FM_SENT = 1 << 2,     /* sent/sent_tz hold the Date: header */
	FM_NOSENT = 1 << 3,   /* the header was read: no usable Date: */
	FM_EXT = 1 << 4,      /* name is followed by the uidlist extension fields */
	FM_MARK = 1 << 5,     /* scratch: seen by the scan under way / to be removed */
	FM_CHANGED = 1 << 6,  /* scratch: flags changed in the scan under way */
};
#define FM_PERSIST (FM_IN_NEW | FM_RECENT | FM_SENT | FM_NOSENT | FM_EXT)

struct fmsg {
	uint32_t uid;
	imap_keywords kw;      /* bit i: keyword i (letter 'a' + i) */
	uint8_t flags;         /* IMAP_FLAG_* of the file name (RECENT never) */
	uint8_t state;         /* FM_* */
	int16_t sent_tz;
	uint32_t blob_len;     /* ENVELOPE/BODYSTRUCTURE record in tern-cache, 0: none */
	uint64_t modseq;
	uint64_t vsize;        /* RFC822.SIZE */
	int64_t idate;         /* INTERNALDATE: the file's mtime */
	int64_t sent;          /* the Date: header (FM_SENT) */
	uint64_t blob_off;
	char *name;            /* owned: the file name; with FM_EXT a NUL and the
	                        * uidlist extension fields ("W123 G...") follow */
};

/* What identifies a file's version without reading it. */
struct store_fileid {
	bool valid;
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

/* A directory as the last scan saw it. */
struct store_dirstamp {
	bool valid;
	int64_t mtime_ns;      /* of the directory, read before its entries */
	int64_t scan_ns;       /* when the entries were read */
};

/* A message expunged while some view still numbers it. */
struct store_grave {
	struct fmsg m;         /* name freed */
	uint64_t gen;          /* the folder generation that removed it */
};

struct folder {
	pthread_mutex_t mu;
	char *path;            /* the Maildir (owned) */
	char *root;            /* the store's root, for dovecot-uidvalidity (owned) */
	unsigned refs;         /* guarded by the registry's lock */
	bool detached;         /* deleted or renamed away: no longer registered */
	struct folder *next;   /* registry list */
	bool loaded;
	bool vanished;         /* the directory is gone */

	/* dovecot-uidlist */
	uint32_t uidvalidity, uidnext;
	char guid[33];
	char *hdr_ext;         /* header fields other than V N G, kept (owned, or NULL) */
	struct store_fileid ul_id;
	uint32_t ul_records;   /* records in the file as last read or written */
	bool ul_appendable;    /* version 3 with a GUID, as we last saw it */

	/* the directories */
	struct store_dirstamp st_new, st_cur;
	bool force_scan;       /* a rename found a file missing: read both again */
	bool history;          /* UIDs below uidnext missing from msgs were expunged */
	bool bump_on_scan;     /* loaded from the cache: a change found raises HIGHESTMODSEQ */
	bool tmp_cleaned;

	/* messages, ascending UID */
	struct fmsg *msgs;
	size_t n, cap;
	uint64_t highestmodseq;
	struct store_grave *graves; /* ascending UID */
	size_t ngraves, capgraves;
	uint64_t gen;          /* expunge generations */
	struct store_view *views;

	/* keywords (dovecot-keywords) */
	char *kw[IMAP_KEYWORDS_MAX]; /* NULL: undefined */
	bool kw_real[IMAP_KEYWORDS_MAX]; /* in the file (else a placeholder for a gap) */
	size_t nkw;            /* highest defined index + 1 */
	struct store_fileid kw_id;
	char **kw_old;         /* names replaced, kept for views that still show them */
	size_t nkw_old;

	/* the cache */
	bool dirty;            /* differs from tern-index */
	int64_t saved_ns;
	int cache_fd;          /* tern-cache, -1 until first needed */
	uint64_t cache_id;
	uint64_t cache_end;

	struct syncgroup sg_cur, sg_new, sg_dir;
};

enum { VIEW_DIRTY_CUR = 1, VIEW_DIRTY_NEW = 2, VIEW_DIRTY_DIR = 4 };

struct store_view {
	struct store *st;
	struct folder *f;      /* a reference */
	bool readonly;
	uint32_t exists;       /* messages numbered */
	uint32_t last_uid;     /* messages above this are unknown to the view */
	/* NULL while the view numbers f->msgs[0..exists); else its own list
	 * (expunges it has not been told of) */
	uint32_t *priv;
	size_t privcap;
	uint64_t gen;          /* f->gen when priv was made */
	uint32_t *recent;      /* UIDs \Recent in this session, ascending (owned) */
	size_t nrecent, caprecent;
	unsigned dirty;        /* VIEW_DIRTY_*: directories changed, not yet flushed */
	const char *kw[IMAP_KEYWORDS_MAX];
	size_t nkw;
	struct store_view *vnext, *vprev;
	/* reading: one open message and one parsed tree */
	uint32_t fd_uid;
	int fd;
	uint32_t tree_uid;
	bool have_tree;
	struct mime_tree tree;
};

struct store {
	char *root;            /* canonical (realpath) */
	uint64_t quota;
};

/* ---- counters (for tests and diagnostics) ---- */
struct store_counters {
	unsigned long msg_opens;   /* message files opened (measure, parse, read) */
	unsigned long dir_scans;   /* readdir of new/ or cur/ */
	unsigned long index_loads; /* tern-index files read */
};
void store_counters_get(struct store_counters *c);
void store_count_msg_open(void);
void store_count_dir_scan(void);
void store_count_index_load(void);

/* ---- time ---- */
int64_t store_now_ns(void);
int64_t store_stat_mtime_ns(const struct stat *st);
void store_fileid_of(const struct stat *st, struct store_fileid *id);
bool store_fileid_eq(const struct store_fileid *a, const struct stat *st);
/* errno of a failed write as the engine's answer */
enum imap_store_result store_errno_result(int e);

/* ---- checksum.c ---- */
uint32_t store_crc32(uint32_t crc, const void *p, size_t n);

/* ---- mfname.c: Maildir file names ---- */
size_t mfname_base_len(const char *name);
void mfname_flags(const char *name, unsigned *flags, imap_keywords *kw);
/* name with its flags replaced (":2," and the letters in ASCII order,
 * unknown letters kept). -1 when it does not fit. */
int mfname_with_flags(const char *name, unsigned flags, imap_keywords kw, char *out, size_t outlen);
/* ",S=n" / ",W=n" in the base. */
bool mfname_size_field(const char *name, size_t baselen, char key, uint64_t *v);
/* A fresh unique base: TIME.MusecPpid_N.HOST,S=size,W=vsize */
int mfname_unique(char *out, size_t outlen, uint64_t size, uint64_t vsize);
/* Delivery order of two names (the time in front, then its microseconds, then the text). */
int mfname_cmp(const char *a, const char *b);
/* A name as found in new/ or cur/: usable as a message? */
bool mfname_ok(const char *name);
void mfname_hostname(char *out, size_t n);

/* ---- lock.c: Dovecot-compatible dotlocks ---- */
struct dotlock {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	int64_t touched_ns;
	int fd;                /* replace-style locks: the new content goes here */
	bool held;
};
/* Take PATH.lock (the uidlist lock style: "pid:host" inside). 0, or -1
 * with errno (EAGAIN after the timeout, ENOENT when the directory is gone). */
int dotlock_take(struct dotlock *l, const char *path);
/* Take PATH.lock to write PATH's new content into it (dovecot-keywords,
 * subscriptions); stale after stale_secs without change. */
int dotlock_take_replace(struct dotlock *l, const char *path, int stale_secs);
/* The content is written: fsync it, rename it over PATH. */
int dotlock_replace(struct dotlock *l, const char *path);
/* Keep a long-held lock from looking stale to others. */
void dotlock_touch(struct dotlock *l);
void dotlock_release(struct dotlock *l);

/* ---- uidlist.c: dovecot-uidlist ---- */
struct uidlist_rec {
	uint32_t uid;
	uint32_t base_off, ext_off; /* into strs */
	uint16_t base_len, ext_len;
};
struct uidlist {
	unsigned version;
	uint32_t uidvalidity, nextuid, maxuid;
	char guid[33];
	char *hdr_ext;             /* owned */
	struct uidlist_rec *recs;  /* owned, ascending UID */
	size_t n, cap;
	char *strs;                /* owned */
	size_t slen, scap;
	uint32_t *hash;            /* base -> index + 1 (owned) */
	size_t hcap;
	struct store_fileid id;
};
enum uidlist_status { UIDLIST_OK, UIDLIST_MISSING, UIDLIST_DAMAGED, UIDLIST_ERROR };
/* DAMAGED with ul->uidvalidity set: the header and the records that
 * could be read are in ul (the file needs rewriting); with uidvalidity
 * 0, nothing could be read. Free ul whatever the answer. */
enum uidlist_status uidlist_read(const char *path, struct uidlist *ul);
void uidlist_free(struct uidlist *ul);
/* The record of a base name, or NULL. */
const struct uidlist_rec *uidlist_find(const struct uidlist *ul, const char *base, size_t blen);
/* Write the folder's uidlist for f->msgs and add[0..nadd) (records not
 * yet in f->msgs, UIDs above them): when `append` and the file is the
 * one we last read or wrote, only add[from..nadd) are appended (the
 * others are in it already); else the whole file is written anew.
 * Caller holds the dotlock. */
int uidlist_write(struct folder *f, const struct fmsg *add, size_t nadd, size_t from, bool append);
uint64_t store_hash_base(const char *s, size_t n);

/* ---- keywords.c: dovecot-keywords ---- */
/* Re-read the file when it changed. Caller holds f->mu (and the dotlock
 * when it may write). */
int keywords_refresh(struct folder *f);
/* Index of name (case-insensitive), -1 when undefined. */
int keywords_find(const struct folder *f, const char *name);
/* Define name: its index, or -2 when all letters are taken, -1 on error.
 * Caller holds the dotlock. */
int keywords_add(struct folder *f, const char *name);
bool keywords_name_ok(const char *name);
void keywords_free(struct folder *f);

/* ---- uidvalidity.c ---- */
uint32_t store_uidvalidity_next(const char *root);

/* ---- cache.c: tern-index and tern-cache ---- */
/* Fill f from tern-index: true when it was usable. */
bool cache_load(struct folder *f);
/* Write tern-index when f->dirty and (force or STORE_SAVE_NS passed). */
void cache_save(struct folder *f, bool force);
/* The ENVELOPE / BODYSTRUCTURE / BODY strings of a message. */
struct cache_blob {
	char *env, *bs, *body;     /* owned; NULL when not computed */
};
bool cache_blob_read(struct folder *f, const struct fmsg *m, struct cache_blob *b);
void cache_blob_write(struct folder *f, struct fmsg *m, const struct cache_blob *b);
void cache_blob_free(struct cache_blob *b);
void cache_close(struct folder *f);

/* ---- folder.c: the registry and the message array ---- */
struct folder *folder_get(const char *root, const char *path);
void folder_put(struct folder *f);
/* Forget path (and, with children, "path.*"): the directory is renamed or deleted. */
void folder_detach(const char *path, bool children);
/* Index of uid in f->msgs, or -1. */
long folder_find(const struct folder *f, uint32_t uid);
const struct fmsg *folder_grave(const struct folder *f, uint32_t uid);
/* Append (ascending UIDs above every present one). 0 or -1 (ENOMEM). */
int folder_append(struct folder *f, const struct fmsg *m);
/* Remove the messages with FM_MARK, telling the views first. */
void folder_remove_marked(struct folder *f);
void folder_graves_gc(struct folder *f);
uint64_t folder_modseq_next(struct folder *f);
int fmsg_set_name(struct fmsg *m, const char *name, const char *ext);
const char *fmsg_ext(const struct fmsg *m);
int folder_msg_path(const struct folder *f, const struct fmsg *m, char *out, size_t len);
int folder_subpath(const struct folder *f, const char *sub, char *out, size_t len);
/* Give m a new file name (its uidlist fields kept) in new/ or cur/. */
int fmsg_rename(struct fmsg *m, const char *name, bool in_new);

/* ---- sync.c ---- */
/* Bring f up to date with its directories and uidlist (caller holds
 * f->mu). move_new: move new/ files to cur/ (read-write sessions);
 * force: read both directories whatever their stamps say. 0, or -1 with errno. */
int folder_sync(struct folder *f, bool move_new, bool force);
/* The same, by a caller that holds the dotlock already (APPEND, COPY). */
int folder_sync_locked(struct folder *f, bool move_new, bool force);
/* The size on the wire of an open message file. */
int store_measure_fd(int fd, uint64_t *vsize);
/* Add files already placed in cur/ by this process (APPEND, COPY) in
 * this order, under the dotlock the caller holds, after a
 * folder_sync_locked: UIDs from the next one on, recorded durably. */
int folder_add_own(struct folder *f, const char *const *names, const uint64_t *vsizes, const int64_t *idates,
                   size_t n, bool recent, uint32_t *uids);
int folder_lock(struct folder *f, struct dotlock *l);

/* ---- tree.c: names and paths ---- */
bool store_name_ok(const char *name);
bool store_name_is_inbox(const char *name);
int store_folder_path(const struct store *st, const char *name, char *out, size_t len);
unsigned store_special_attr(const char *name);
/* The special-use names, i = 0.. until NULL. */
const char *store_special_name(size_t i);
bool store_folder_exists(const char *path);
/* Does the folder exist; create a special-use folder that does not. */
enum imap_store_result store_folder_ready(struct store *st, const char *name, char *path, size_t len);

/* ---- view.c ---- */
void view_catch_up(struct store_view *v, bool expunges, bool grow, const struct imap_sync_sink *sink);
/* The record of seq: the folder's, or a grave's; NULL when neither. */
const struct fmsg *view_fmsg(const struct store_view *v, uint32_t seq);
bool view_is_recent(const struct store_view *v, const struct fmsg *m);
/* A read-write view takes the unclaimed \Recent messages it numbers. */
void view_claim_recent(struct store_view *v);
void view_take_keywords(struct store_view *v);
void view_info(struct store_view *v, struct imap_box_info *info);
/* Materialize v's own UID list (the folder is about to drop messages it numbers). */
int view_detach(struct store_view *v);
uint32_t view_uid(const struct store_view *v, uint32_t seq);
void view_fill_msg(const struct store_view *v, const struct fmsg *m, struct imap_msg *out);
/* Open message seq for reading (f->mu not held). fd, or -1 with the result in *r. */
int view_open_msg(struct store_view *v, uint32_t seq, enum imap_store_result *r);

/* ---- subs.c: ROOT/subscriptions ---- */
int subs_read(const char *root, char ***names, size_t *n);
enum imap_store_result subs_set(const char *root, const char *name, bool on);
/* Free a list of names (also store_folder_names'). */
void subs_free(char **names, size_t n);

/* ---- store.c, store_folders.c ---- */
/* "INBOX" and every folder on disk. */
int store_folder_names(struct store *st, char ***names, size_t *n);
int store_folder_usage(struct store *st, const char *path, uint64_t *octets, uint64_t *messages);
int store_usage(struct store *st, uint64_t *octets, uint64_t *messages);
enum imap_store_result store_quota_check(struct store *st, uint64_t octets);

#endif
