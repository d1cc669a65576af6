/*
 * queue_commit — making a received message durable, and removing a
 * finished one, with the flush of queue/msg/ shared by every thread doing
 * either at the same moment (base/syncgroup.h, the queue's msg_sync).
 * Runs on worker threads.
 */
#include "queue/queue_commit.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "queue/queue_internal.h"

int queue_commit_sync_shared(struct queue *q)
{
	char dir[PATH_MAX];
	if (queue_store_path(dir, q->data_dir, "msg", NULL, NULL) < 0)
		return -1;
	return syncgroup_flush(&q->msg_sync, dir);
}

int queue_commit_durable(struct queue *q, struct queue_writer *w)
{
	if (queue_writer_finish(w) < 0) {
		int e = errno;
		queue_writer_abort(w);
		errno = e;
		return -1;
	}
	char id[QUEUE_ID_MAX];
	memcpy(id, queue_writer_id(w), sizeof id);
	if (queue_writer_commit(w) < 0)
		return -1;
	if (queue_commit_sync_shared(q) == 0)
		return 0;
	/* Renamed, but not known to be durable: the sender is told to try
	 * again (4xx) and will, so this copy must not be delivered as well.
	 * It is taken back; should a crash still bring it back, the sender's
	 * retry makes a duplicate, never a loss. */
	int e = errno;
	queue_remove_lazy(q, id);
	errno = e;
	return -1;
}

int queue_commit_remove(struct queue *q, const char *id)
{
	if (queue_remove_lazy(q, id) < 0)
		return -1;
	return queue_commit_sync_shared(q);
}
