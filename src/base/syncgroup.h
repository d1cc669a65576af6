/*
 * syncgroup — one directory's flushes shared by the threads that changed
 * it. A rename or an unlink is durable once a flush of its directory that
 * began after it has finished; threads that renamed into the same
 * directory at about the same time can therefore wait for one fsync
 * instead of each making its own (group commit). Twenty sessions
 * committing at once cost twenty file fsyncs but as few as one directory
 * fsync. Used for the queue's msg/ and for Maildir new/ directories.
 *
 * The generation counters: `changed` counts the changes announced,
 * `synced` the highest one known durable. A thread whose change has
 * generation g waits until synced >= g; if no flush is running it starts
 * one that covers every change announced so far.
 */
#ifndef TERN_SYNCGROUP_H
#define TERN_SYNCGROUP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct syncgroup {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t changed, synced;
	bool flushing;
};

void syncgroup_init(struct syncgroup *g);
void syncgroup_destroy(struct syncgroup *g);

/* The calling thread has just changed dir: return once that change is
 * durable (a flush that began after it finished). Blocking. 0, or -1
 * with errno when the flush failed (the change is then not known to be
 * durable; a later successful flush does not prove it either). */
int syncgroup_flush(struct syncgroup *g, const char *dir);

#endif
