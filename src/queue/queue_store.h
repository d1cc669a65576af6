/*
 * queue_store — the only code that touches DATA-DIR/queue. Synchronous
 * file operations; callers run the slow ones (finish, sync, mark with
 * sync, deliveries) on the worker pool, never on the event loop.
 *
 * Layout (docs/queue.md has the crash table):
 *   queue/tmp/ID        a message being received; never acknowledged;
 *                       removed at start-up
 *   queue/msg/ID        a complete, acknowledged message: envelope
 *                       records, the content (LF line endings), and a
 *                       trailer "END <content-length>\n". A file without a
 *                       valid trailer is torn and is never delivered.
 *   queue/msg/ID.st     per-recipient state, an append-only log of lines
 *                       "done IDX", "failed IDX TEXT", "defer IDX UNIXTIME
 *                       ATTEMPTS TEXT". Later lines win. "done"/"failed"
 *                       are fdatasync'ed before the delivery counts.
 *   queue/drop/         messages injected by `tern sendmail` (queue_drop.h)
 *   queue/free/F<n>     finished message files kept for reuse by the next
 *                       writer (inode recycling; never read as messages)
 *
 * A message's state is which files exist: tmp/ID = not accepted,
 * msg/ID = accepted (250 sent only after file and directory are flushed),
 * no msg/ID = every recipient done or failed (bounced).
 */
#ifndef TERN_QUEUE_STORE_H
#define TERN_QUEUE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define QUEUE_ID_MAX 24 /* letters and digits, NUL included */

enum queue_rcpt_state { QUEUE_RCPT_PENDING = 0, QUEUE_RCPT_DONE, QUEUE_RCPT_FAILED };

struct queue_rcpt {
	char *addr;           /* final address, lower-cased domain (owned) */
	char *orcpt;          /* as the client gave it in RCPT TO (owned) */
	enum queue_rcpt_state state;
	unsigned attempts;
	time_t next_try;      /* 0: as soon as possible */
	char *last_error;     /* owned, may be NULL */
};

struct queue_env {
	char id[QUEUE_ID_MAX];
	time_t arrival;
	char *sender;         /* "" for the null sender (owned) */
	char *helo;           /* client's HELO/EHLO name (owned, may be NULL) */
	char *client;         /* client address text (owned, may be NULL) */
	char *auth_user;      /* authenticated user (owned, may be NULL) */
	bool smtputf8;        /* needs an SMTPUTF8 peer on the way out */
	bool eightbit;        /* BODY=8BITMIME or BINARYMIME */
	struct queue_rcpt *rcpts; /* owned array */
	size_t nrcpts;
	uint64_t content_len; /* set by queue_load */
	off_t content_off;    /* set by queue_load: where the content starts */
	/* Known only once the content has passed (the tail records of
	 * docs/queue.md): header fields to put above the content, LF line
	 * ends, NULL for none. */
	char *fields;         /* in local copies: Authentication-Results (owned) */
	char *out_fields;     /* in relayed copies only: DKIM-Signature (owned) */
	bool junk;            /* local copies go into the Junk folder */
};

/*
 * The queue of one data-dir: its path, the group flush of msg/, the pool
 * of recycled files and the lock of the state logs. Every function below
 * takes it; one process may hold several (tests, and a later split of the
 * server into processes). queue_open does no I/O; the object may be used
 * from any thread.
 */
struct queue;
struct queue *queue_open(const char *data_dir);
void queue_close(struct queue *q);
const char *queue_data_dir(const struct queue *q);

/* A fresh queue id: time-ordered letters and digits, unique in-process. */
void queue_new_id(char out[QUEUE_ID_MAX]);
/* True when id was drawn before this queue object was opened, by this
 * process or an earlier one: a message a crashed process may have
 * delivered part of (the delivery then checks more thoroughly). */
bool queue_id_before_open(const struct queue *q, const char *id);
/* True when id is 1 to QUEUE_ID_MAX-1 letters and digits: the check that
 * keeps an id given on a command line from naming another file. */
bool queue_id_is_valid(const char *id);

/* Create queue/, queue/tmp, queue/msg, queue/drop, queue/free (0700). */
int queue_init_dirs(struct queue *q);

/* Receiving a message: header first, content streamed, then finish. */
struct queue_writer;
struct queue_writer *queue_writer_open(struct queue *q, const struct queue_env *env);
int queue_writer_write(struct queue_writer *w, const void *p, size_t n); /* 0, -1 with errno */
/* After the last write, before finish: the tail of the envelope (the
 * fields and flag of struct queue_env above). Each at most
 * QUEUE_TAIL_MAX octets. 0, or -1 with errno (EINVAL: too long, or
 * called twice). */
#define QUEUE_TAIL_MAX (64 * 1024)
int queue_writer_tail(struct queue_writer *w, const char *fields, const char *out_fields, bool junk);
uint64_t queue_writer_length(const struct queue_writer *w);            /* content octets so far */
const char *queue_writer_id(const struct queue_writer *w);
/* Write the trailer and fsync the file (worker pool). 0 / -1 errno. */
int queue_writer_finish(struct queue_writer *w);
/* Rename tmp/ID to msg/ID. The caller then flushes queue/msg with
 * queue_commit_sync_shared() (shared by every commit of a batch) before the
 * message counts as accepted. Frees w. 0 / -1 errno. */
int queue_writer_commit(struct queue_writer *w);
/* Remove tmp/ID and free w. */
void queue_writer_abort(struct queue_writer *w);
int queue_sync_msgdir(struct queue *q);

/* Read msg/ID: envelope, then state from ID.st applied. -1 when missing
 * or torn (errno EINVAL for torn). */
int queue_load(struct queue *q, const char *id, struct queue_env *env);
void queue_env_free(struct queue_env *env);
/* A deep copy of src into dst (dst then owns everything). 0, or -1 with
 * ENOMEM (dst left empty). */
int queue_env_dup(struct queue_env *dst, const struct queue_env *src);
/* Is msg/ID there (whatever its state)? */
bool queue_exists(struct queue *q, const char *id);
/* Open msg/ID for reading the content: returns an fd positioned at
 * env->content_off; read env->content_len octets. */
int queue_open_content(struct queue *q, const struct queue_env *env);
/* The same from an id and env->content_off, for a reader that outlives
 * the envelope it was made from. */
int queue_open_content_at(struct queue *q, const char *id, off_t content_off);

/* Append a state record for recipient idx. `sync`: fdatasync before
 * returning (for done/failed). For a deferral, next_try/attempts/text. */
int queue_mark(struct queue *q, const char *id, size_t idx, enum queue_rcpt_state st,
               time_t next_try, unsigned attempts, const char *text, bool sync);
/* queue_remove without flushing msg/: for messages whose every delivery
 * is idempotent (keyed Maildir files), where a removal lost to a power
 * failure only causes a redelivery attempt that finds the files there. */
int queue_remove_lazy(struct queue *q, const char *id);
/* fdatasync msg/ID.st: make the records appended without sync durable. */
int queue_sync(struct queue *q, const char *id);
/* Every recipient finished: remove msg/ID, then msg/ID.st, then flush
 * queue/msg. The message goes first: a crash in between leaves an orphan
 * state file (deleted by queue_recover), never a message whose "done"
 * records are gone (which would be delivered again). -1 with ENOENT when
 * msg/ID did not exist. */
int queue_remove(struct queue *q, const char *id);

/* Start-up: empty queue/tmp, move torn msg files to queue/corrupt/,
 * and call cb for each valid message id (order: oldest first). */
int queue_recover(struct queue *q, void (*cb)(void *arg, const char *id), void *arg);
/* Every id in msg/ (for `tern queue list`), oldest first. *ids is owned
 * by the caller: free it with queue_ids_free. No queue/msg yet: 0 ids. */
int queue_list_ids(struct queue *q, char ***ids, size_t *nids);
void queue_ids_free(char **ids, size_t nids);

#endif
