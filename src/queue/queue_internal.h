/*
 * queue_internal — what the files of src/queue share and nobody outside
 * may use: paths under DATA-DIR/queue, limits of the on-disk records, a
 * bounded line reader for queue and state files, and the state-log
 * functions that queue_file.c and queue_store.c call.
 */
#ifndef TERN_QUEUE_INTERNAL_H
#define TERN_QUEUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pthread.h>

#include "base/buf.h"
#include "base/syncgroup.h"
#include "queue/queue_store.h"

#define QUEUE_DIR_MODE  0700
#define QUEUE_FILE_MODE 0600
#define QUEUE_POOL_MAX  512  /* finished queue files kept in queue/free/ for reuse */
/* queue/corrupt/ keeps at most this many files and octets: any local
 * user can feed it through the drop area, so it must not grow without
 * end; the oldest go first. */
#define QUEUE_CORRUPT_MAX 256
#define QUEUE_CORRUPT_BYTES_MAX (256ull * 1024 * 1024)

struct queue {
	char *data_dir;                /* owned */
	char opened[QUEUE_ID_MAX];     /* an id drawn at queue_open: later ids are this process's */
	struct syncgroup msg_sync;     /* flushes of queue/msg (queue_commit.c) */
	pthread_mutex_t state_lock;    /* appends to state logs (queue_state.c) */
	/* the pool of recycled files (queue_store.c), under pool_mu */
	pthread_mutex_t pool_mu;
	unsigned long *pool_names;     /* the stack of free names (owned) */
	size_t pool_n;
	unsigned long pool_next;
	bool pool_scanned;
};

/* The pool of finished queue files (queue_store.c). Reusing an inode
 * instead of deleting one and creating the next spares the file system's
 * inode allocator, which on ext4 slows down sharply under the churn of
 * thousands of files created and deleted a second. */
/* Move a free file to dst (tmp/ID); 0, or -1 when the pool is empty. */
int queue_pool_take(struct queue *q, const char *dst);
/* Move a finished message file into the pool; -1: unlink it instead. */
int queue_pool_put(struct queue *q, const char *src);
/* One envelope or state record, LF excluded. Addresses are at most 256
 * octets (RFC 5321 4.5.3.1.3), an xtext ORCPT (RFC 3461 4.2) three times
 * that, a HELO argument fits in a 512-octet command line (4.5.3.1.4):
 * 4096 leaves room and still bounds what a damaged file can make us
 * allocate per line. */
#define QUEUE_LINE_MAX  4096
#define QUEUE_VALUE_MAX 2048   /* writer's cap on one envelope value */
#define QUEUE_TEXT_MAX  400    /* error text in a state record */
#define QUEUE_RCPTS_MAX 100000 /* recipients one queue file may hold */
#define QUEUE_IO_BUF    65536  /* the writer's buffer */
/* The reader's chunk: small, because loading a message (each delivery
 * attempt, `tern queue list`) needs only its header, not its content. */
#define QUEUE_READ_CHUNK 4096

/* DATA-DIR/queue/SUB[/NAME[SUFFIX]] into out (PATH_MAX octets). sub,
 * name and suffix may be NULL. -1 with ENAMETOOLONG when it does not fit. */
int queue_store_path(char *out, const char *data_dir, const char *sub, const char *name,
                     const char *suffix);

/* Strict decimal: digits only, no sign, no leading zero (except "0"),
 * at most max. */
bool queue_store_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Reads LF-terminated lines from a file QUEUE_READ_CHUNK octets at a time,
 * keeping track of the offset just past the last line returned. */
struct queue_file_lines {
	int fd;          /* not owned */
	char *chunk;     /* owned, QUEUE_READ_CHUNK octets */
	size_t pos, len; /* unread part of chunk */
	uint64_t off;    /* file offset after the last returned line */
	struct buf line; /* the current line, LF stripped; max QUEUE_LINE_MAX */
};

enum queue_file_line_result {
	QUEUE_FILE_LINE_OK,   /* a complete line is in line */
	QUEUE_FILE_LINE_EOF,  /* clean end of file */
	QUEUE_FILE_LINE_TORN, /* end of file in the middle of a line */
	QUEUE_FILE_LINE_LONG, /* a complete line longer than QUEUE_LINE_MAX (skipped) */
	QUEUE_FILE_LINE_ERR,  /* read error, errno set */
};

/* The queue file's magic lines (queue_file.c writes the first, queue_load.c
 * reads both) and the longest trailer: "END " + 20 digits + LF. */
#define QUEUE_FILE_MAGIC "tern-queue 2"
#define QUEUE_FILE_MAGIC_V1 "tern-queue 1"
#define QUEUE_FILE_TRAILER_MAX (4 + 20 + 1)

int queue_file_lines_init(struct queue_file_lines *l, int fd);
void queue_file_lines_free(struct queue_file_lines *l);
enum queue_file_line_result queue_file_lines_next(struct queue_file_lines *l);

/* Before a file of `incoming` octets is moved into queue/corrupt/: remove
 * the oldest files there until it fits under QUEUE_CORRUPT_MAX and
 * QUEUE_CORRUPT_BYTES_MAX (logged). Best effort: errors are ignored. */
void queue_corrupt_make_room(const char *data_dir, uint64_t incoming);

/* The trailer "END <n>\n" that closes queue files and drop files alike
 * (queue_file.c): it must end the file of `size` octets and account for
 * every octet after the header_len octets of envelope records. Sets
 * *content_len. 0; -1 with EINVAL (torn or lying) or a read's errno. */
int queue_file_read_trailer(int fd, uint64_t header_len, uint64_t size, uint64_t *content_len);
/* The same for a queue file of format 2, where tail records may lie
 * between the content and the trailer: *content_len is the trailer's
 * count, *tail_len the octets between (0 for a file of format 1). */
int queue_file_read_trailer_tail(int fd, uint64_t header_len, uint64_t size, uint64_t *content_len,
                                 uint64_t *tail_len);

/* queue_state.c: apply msg/ID.st to env->rcpts (0, or -1 with errno on a
 * read error; bad records are logged and skipped). */
int queue_state_apply(struct queue *q, struct queue_env *env);
/* Cut a torn last line off msg/ID.st so that the next append does not
 * glue a record to it. Start-up only. */
int queue_state_repair(struct queue *q, const char *id);

#endif
