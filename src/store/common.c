/*
 * common — the small facts every file of the store needs: the clock in
 * nanoseconds, a file's identity (device, inode, size, mtime: how a
 * uidlist or a directory is known unchanged without reading it), the
 * mapping of a failed write's errno to the engine's answer, and the
 * counters tests use to prove that an unchanged folder is opened without
 * touching its messages.
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "store/store_int.h"

static atomic_ulong common_msg_opens, common_dir_scans, common_index_loads;

void store_count_msg_open(void)
{
	atomic_fetch_add(&common_msg_opens, 1);
}

void store_count_dir_scan(void)
{
	atomic_fetch_add(&common_dir_scans, 1);
}

void store_count_index_load(void)
{
	atomic_fetch_add(&common_index_loads, 1);
}

void store_counters_get(struct store_counters *c)
{
	c->msg_opens = atomic_load(&common_msg_opens);
	c->dir_scans = atomic_load(&common_dir_scans);
	c->index_loads = atomic_load(&common_index_loads);
}

int64_t store_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t store_stat_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

void store_fileid_of(const struct stat *st, struct store_fileid *id)
{
	id->valid = true;
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = store_stat_mtime_ns(st);
}

/* The same file, unchanged since id was taken? (An inode number can be
 * reused after a replace, which is why size and mtime are compared too,
 * and why a rewritten uidlist always gets a later mtime.) */
bool store_fileid_eq(const struct store_fileid *a, const struct stat *st)
{
	return a->valid && a->dev == (uint64_t)st->st_dev && a->ino == (uint64_t)st->st_ino &&
	       a->size == (uint64_t)st->st_size && a->mtime_ns == store_stat_mtime_ns(st);
}

enum imap_store_result store_errno_result(int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return IMAP_STORE_OVERQUOTA;
	if (e == ENOENT)
		return IMAP_STORE_NONEXISTENT;
	return IMAP_STORE_ERROR;
}
