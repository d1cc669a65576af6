/*
 * syncgroup — group flush of a directory. See syncgroup.h. Owns nothing
 * but its counters; the directory is the caller's.
 */
#include "base/syncgroup.h"

#include <errno.h>

#include "base/fsutil.h"

void syncgroup_init(struct syncgroup *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->changed = g->synced = 0;
	g->flushing = false;
}

void syncgroup_destroy(struct syncgroup *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

int syncgroup_flush(struct syncgroup *g, const char *dir)
{
	pthread_mutex_lock(&g->mu);
	uint64_t mine = ++g->changed;
	int rc = 0;
	while (g->synced < mine) {
		if (g->flushing) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		g->flushing = true;
		uint64_t target = g->changed;
		pthread_mutex_unlock(&g->mu);
		int r = fsutil_fsync_dir(dir);
		int e = errno;
		pthread_mutex_lock(&g->mu);
		g->flushing = false;
		if (r == 0)
			g->synced = target;
		pthread_cond_broadcast(&g->cv);
		if (r < 0) {
			/* Only this thread learns of the failure; the waiters
			 * whose changes it covered flush again themselves. */
			rc = -1;
			errno = e;
			break;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}
