/*
 * queue_commit — group commit of the msg/ directory. See queue_commit.h.
 *
 * The generation counters: `renamed` counts renames done, `synced` the
 * highest rename generation known durable. A thread whose rename has
 * generation g waits until synced >= g; if no flush is running it starts
 * one covering every rename done so far. So N concurrent commits cost N
 * file fsyncs but as few as one directory fsync. Removals of delivered
 * messages share the same flushes.
 */
#include "queue/queue_commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

static pthread_mutex_t queue_commit_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_commit_cv = PTHREAD_COND_INITIALIZER;
static uint64_t queue_commit_renamed, queue_commit_synced;
static bool queue_commit_flushing;

/* Wait until a flush of msg/ that started after this call's change has
 * finished, starting one if none is running. */
int queue_commit_sync_shared(const char *data_dir)
{
	pthread_mutex_lock(&queue_commit_mu);
	uint64_t mine = ++queue_commit_renamed;
	int rc = 0;
	while (queue_commit_synced < mine) {
		if (queue_commit_flushing) {
			pthread_cond_wait(&queue_commit_cv, &queue_commit_mu);
			continue;
		}
		queue_commit_flushing = true;
		uint64_t target = queue_commit_renamed;
		pthread_mutex_unlock(&queue_commit_mu);
		int r = queue_sync_msgdir(data_dir);
		int e = errno;
		pthread_mutex_lock(&queue_commit_mu);
		queue_commit_flushing = false;
		if (r == 0)
			queue_commit_synced = target;
		pthread_cond_broadcast(&queue_commit_cv);
		if (r < 0) {
			rc = -1;
			errno = e;
			break;
		}
	}
	pthread_mutex_unlock(&queue_commit_mu);
	return rc;
}

int queue_commit_durable(const char *data_dir, struct queue_writer *w)
{
	if (queue_writer_finish(w) < 0) {
		int e = errno;
		queue_writer_abort(w);
		errno = e;
		return -1;
	}
	if (queue_writer_commit(w) < 0)
		return -1;
	return queue_commit_sync_shared(data_dir);
}

int queue_commit_remove(const char *data_dir, const char *id)
{
	if (queue_remove_lazy(data_dir, id) < 0)
		return -1;
	return queue_commit_sync_shared(data_dir);
}
