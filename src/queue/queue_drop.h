/*
 * queue_drop — the drop area DATA-DIR/queue/drop/, where `tern sendmail`
 * leaves messages for the server, with or without a running `tern serve`.
 * The writer runs in the sendmail process as the invoking user; the
 * reader runs in the server, which treats every file there as hostile
 * input from a local user.
 *
 * Permission model (docs/queue.md):
 *   DATA-DIR             search permission for everybody (--x for group
 *                        and others): every directory in it is 0700, so
 *                        this exposes nothing but the path to drop/
 *   DATA-DIR/queue       0711, the same reason
 *   DATA-DIR/queue/drop  03733, owned by the server's user and group:
 *                        anyone may create files (-wx), nobody but the
 *                        server may list them (no r for group/others), the
 *                        sticky bit keeps users from removing or renaming
 *                        each other's files, and the setgid bit gives every
 *                        new file the server's group
 *   a drop file          0640, owned by the user who injected it, group
 *                        the server's: the server reads it through the
 *                        group (or as root), other users cannot
 * No setgid helper is needed. The server takes the injecting user's uid
 * from the file's owner, never from the file's text. The group of the
 * server's user must hold no one else.
 *
 * A drop file (LF line endings):
 *   tern-drop 1
 *   sender ADDR              empty value (or no value) for the null sender
 *   rcpt ADDR                1 to QUEUE_DROP_RCPTS_MAX of them
 *   content
 *   <content octets>         the message, LF line endings
 *   END <content-length>\n
 * It is written as ".ID" (a name no reader accepts), flushed, renamed to
 * ID without replacing anything, and the directory is flushed: once
 * queue_drop_writer_commit returns 0 the message survives a crash.
 */
#ifndef TERN_QUEUE_DROP_H
#define TERN_QUEUE_DROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue/queue_store.h"

#define QUEUE_DROP_RCPTS_MAX 1000 /* recipients of one injected message */
#define QUEUE_DROP_ADDR_MAX  512  /* octets of one address (UTF-8 allowed) */
#define QUEUE_DROP_BATCH     100  /* files one pickup pass takes at most */

/* ---- the sendmail side (invoking user) ---- */

/* Create the drop area when it is missing (sendmail before the first
 * `tern serve`), with the modes of the model above where this process
 * creates directories. 0 / -1 with errno. */
int queue_drop_ensure_dir(const char *data_dir);

struct queue_drop_writer;
/* Start a drop file: the envelope is written at once. Addresses must be
 * non-empty (sender may be ""), at most QUEUE_DROP_ADDR_MAX octets, with
 * no control characters: EINVAL otherwise. */
struct queue_drop_writer *queue_drop_writer_open(const char *data_dir, const char *sender,
                                                 char *const *rcpts, size_t nrcpts);
int queue_drop_writer_write(struct queue_drop_writer *w, const void *p, size_t n);
uint64_t queue_drop_writer_length(const struct queue_drop_writer *w);
/* The temporary file's path (for a signal handler that removes it). */
const char *queue_drop_writer_tmp_path(const struct queue_drop_writer *w);
/* Trailer, fsync, rename to its final name, flush drop/. Frees w. The
 * final name goes to name. 0 / -1 with errno (the file is removed). */
int queue_drop_writer_commit(struct queue_drop_writer *w, char name[QUEUE_ID_MAX]);
/* Remove the temporary file and free w (NULL is fine). */
void queue_drop_writer_abort(struct queue_drop_writer *w);

/* ---- the server side (blocking: worker pool or start-up) ---- */

/* Create drop/ and give DATA-DIR, queue/ and drop/ the modes above
 * (only adding search bits to the first two). Start-up. */
int queue_drop_setup(const char *data_dir);

/* Up to max names of complete drop files, oldest first (owned: free
 * with queue_ids_free). On the way, removes temporary files older than
 * a week and moves names no writer makes to queue/corrupt/. */
int queue_drop_list(const char *data_dir, size_t max, char ***names, size_t *n);

struct queue_drop {
	char *sender;         /* owned; "" for the null sender */
	char **rcpts;         /* owned array of owned strings */
	size_t nrcpts;
	uid_t uid;            /* the file's owner: who injected it */
	time_t mtime;
	int fd;               /* owned; positioned at the content */
	off_t content_off;
	uint64_t content_len;
	dev_t dev;            /* to unlink exactly the file that was read */
	ino_t ino;
};

/*
 * Open and validate drop/NAME. It must be a regular file (not followed
 * through a symbolic link), with one link, not writable by group or
 * others, at most max_content octets of content, and in the format
 * above to the octet. 0, or -1 with errno: ENOENT (gone), EINVAL (not a
 * valid drop file), EFBIG (too large), or an I/O error.
 */
int queue_drop_open(const char *data_dir, const char *name, uint64_t max_content, struct queue_drop *d);
void queue_drop_close(struct queue_drop *d);
/* The message is in the queue: unlink drop/NAME if it is still the file
 * that was read. The caller flushes drop/ with queue_drop_sync. */
int queue_drop_unlink(const char *data_dir, const char *name, const struct queue_drop *d);
int queue_drop_sync(const char *data_dir);
/* Move drop/NAME to queue/corrupt/ under a fresh name, written to
 * moved_to (QUEUE_ID_MAX + 8 octets). */
int queue_drop_quarantine(const char *data_dir, const char *name, char *moved_to, size_t moved_len);

#endif
