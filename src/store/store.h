/*
 * store — a user's mail store: the Maildir++ tree under
 * DATA-DIR/mail/DOMAIN/LOCAL/ in Dovecot's default layout (CONTRACT.md
 * "Folders"), with what IMAP needs on top of plain Maildir: UIDs and
 * UIDVALIDITY (dovecot-uidlist), keywords (dovecot-keywords),
 * modification sequences (CONDSTORE, RFC 7162), subscriptions, and a
 * rebuildable per-folder cache so that opening a folder of 100,000
 * messages reads one file instead of 100,000.
 *
 * Layout:
 *   ROOT/{cur,new,tmp}/            INBOX
 *   ROOT/.NAME/{cur,new,tmp}/      folder NAME ("Lists.tern" is .Lists.tern/),
 *   ROOT/.NAME/maildirfolder       the Maildir++ marker
 *   ROOT/subscriptions             subscribed names (Dovecot's format)
 *   FOLDER/dovecot-uidlist         UID <-> file name, UIDVALIDITY, next UID (Dovecot v3)
 *   FOLDER/dovecot-uidlist.lock    the dotlock held while the folder is synced or written
 *   FOLDER/dovecot-keywords        keyword index -> name (letters a..z in file names)
 *   FOLDER/tern-index, tern-cache  the cache (see store.c); never the only copy of anything
 * Names are in the store form of proto/imap_server.h (modified UTF-7,
 * "." separated, "INBOX" for ROOT) and checked with imap_server_name_ok.
 *
 * Other writers share the tree at any moment: tern's own delivery
 * (mta/maildir.c: files appear in new/), POP3 sessions, Dovecot, mutt.
 * The store follows them: it locks as Dovecot does, picks up files that
 * appeared, moved (flag changes) or vanished (expunges) whenever it syncs,
 * and keeps UIDs stable across all of it.
 *
 * Threads: every function blocks on the disk and runs on a worker
 * thread; any number of threads may call at once. The views of one
 * folder in this process share one in-memory folder (a process-wide
 * registry keyed by its path), so a change made through one view is
 * seen by the others at their next sync without reading the disk again.
 *
 * Views (struct store_view) give one session's numbering: sequence
 * numbers 1..exists, stable until the session's next sync that allows
 * expunges (RFC 9051 7.5.1), however the folder changes meanwhile.
 */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/imap_parse.h"
#include "proto/imap_server.h"
#include "proto/mime.h"

struct store;
struct store_view;

/* The store rooted at root (created when missing). quota: octets
 * allowed over all folders, 0 for none. NULL with errno. */
struct store *store_open(const char *root, uint64_t quota);
void store_close(struct store *st);

/* ---- folders (the engine's ops of the same names) ---- */
enum imap_store_result store_list(struct store *st, struct imap_folder **out, size_t *n);
enum imap_store_result store_create(struct store *st, const char *name);
enum imap_store_result store_delete(struct store *st, const char *name);
enum imap_store_result store_rename(struct store *st, const char *from, const char *to);
enum imap_store_result store_subscribe(struct store *st, const char *name, bool on);
enum imap_store_result store_status(struct store *st, const char *name, unsigned items, struct imap_status *out);
enum imap_store_result store_quota(struct store *st, uint64_t *used, uint64_t *limit, uint64_t *messages);

/* ---- views ---- */
enum imap_store_result store_view_open(struct store *st, const char *name, bool readonly, struct store_view **v,
                                       struct imap_box_info *info);
void store_view_close(struct store_view *v);
/* Between commands: close the message file kept open and free its parsed
 * structure (the engine's `rest` op). */
void store_view_rest(struct store_view *v);
enum imap_store_result store_view_sync(struct store_view *v, bool expunges, const struct imap_sync_sink *sink,
                                       struct imap_box_info *info);
void store_view_msg(struct store_view *v, uint32_t seq, struct imap_msg *m);
bool store_view_next_changed(struct store_view *v, uint32_t seq, uint32_t upto, uint64_t since, uint32_t *found,
                             struct imap_msg *m);
bool store_view_uid_range(struct store_view *v, uint32_t lo, uint32_t hi, uint32_t *seq_lo, uint32_t *seq_hi);
int store_view_keyword(struct store_view *v, const char *name, bool create);
enum imap_store_result store_view_store(struct store_view *v, uint32_t seq, enum imap_store_mode mode,
                                        unsigned flags, imap_keywords keywords, uint64_t unchangedsince,
                                        struct imap_msg *m);
enum imap_store_result store_view_flush(struct store_view *v);
enum imap_store_result store_view_expunge(struct store_view *v, const struct imap_seqset *uids,
                                          const struct imap_sync_sink *sink);
enum imap_store_result store_view_copy(struct store_view *v, const struct imap_seqset *seqs, const char *dest,
                                       uint32_t *uidvalidity, struct imap_seqset *src_uids,
                                       struct imap_seqset *dst_uids);
enum imap_store_result store_view_envelope(struct store_view *v, uint32_t seq, struct buf *out);
enum imap_store_result store_view_structure(struct store_view *v, uint32_t seq, bool extended, struct buf *out);
enum imap_store_result store_view_section(struct store_view *v, uint32_t seq, const uint32_t *path, size_t depth,
                                          enum mime_section_what what, struct mime_range *r);
long store_view_read(struct store_view *v, uint32_t seq, uint64_t off, char *p, size_t len);
bool store_view_sent_date(struct store_view *v, uint32_t seq, int64_t *t, int *tz_min);
enum imap_store_result store_view_search_text(struct store_view *v, uint32_t seq, const struct mime_needle *needles,
                                              size_t n, bool *matched);
/* The directories whose changes mean the folder changed (new/ and cur/),
 * for a watcher (inotify). */
void store_view_dirs(const struct store_view *v, char *new_dir, char *cur_dir, size_t len);

/* ---- APPEND ---- */
enum imap_store_result store_append_begin(struct store *st, const char *name, uint64_t size, struct imap_append **ap);
enum imap_store_result store_append_data(struct imap_append *ap, const char *p, size_t n);
enum imap_store_result store_append_commit(struct imap_append *ap, unsigned flags, const char *const *keywords,
                                           size_t nkeywords, int64_t date, int tz, uint32_t *uidvalidity,
                                           uint32_t *uid);
void store_append_abort(struct imap_append *ap);

/* Make the Maildir at path (tmp/, new/, cur/, and for a folder other
 * than INBOX the Maildir++ maildirfolder marker), every part durable.
 * Existing parts are left as they are. Delivery into a folder (Junk)
 * uses it too, so that every reader sees the folder as this store makes it. */
int store_make_maildir(const char *root, const char *path, bool is_inbox);

#endif
