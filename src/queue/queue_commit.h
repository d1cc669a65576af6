/*
 * queue_commit — making a received message durable, with group commit.
 * Runs on worker threads: several commits in flight share one fsync of
 * queue/msg/ (the rename of each is durable once any directory flush
 * that started after it has finished).
 */
#ifndef TERN_QUEUE_COMMIT_H
#define TERN_QUEUE_COMMIT_H

#include "queue/queue_store.h"

/* fsync the file, rename it into msg/, flush msg/ (shared). Frees w.
 * 0, or -1 with errno (the tmp file is then removed). Blocking. */
int queue_commit_durable(struct queue *q, struct queue_writer *w);

/* Remove a finished message (its state log too) and flush msg/, the
 * flush shared with concurrent commits and removals. Blocking. */
int queue_commit_remove(struct queue *q, const char *id);
/* Flush msg/ after a change made by this thread, sharing the flush. */
int queue_commit_sync_shared(struct queue *q);

#endif
