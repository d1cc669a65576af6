/*
 * maildir — writes one message into DATA-DIR/mail/DOMAIN/LOCAL/ the
 * Maildir way (tmp/, then new/), creating the mailbox on first use. Owns
 * the unique-name counter; knows nothing of the queue beyond the file
 * descriptor it is handed, and never changes the content.
 *
 * Durability (STYLE.md principle 9, the recipe in base/fsutil.h): the
 * file is complete and fsync'ed in tmp/ before it is renamed into new/,
 * and new/ is fsync'ed before we return 0, so the caller may record the
 * delivery as done. Directories made here are flushed into their
 * parents by fsutil_mkdirs. Any failure removes what was written and
 * keeps errno (ENOSPC, EDQUOT, EFBIG, EIO) for the caller to defer on.
 *
 * Blocking throughout: worker pool only.
 */
#include "mta/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/maildir_host.h"
#include "base/syncgroup.h"
#include "mta/mailstore.h"
#include "store/store.h"

#define MAILDIR_FILE_MODE  0600
#define MAILDIR_COPY_BUF   65536
#define MAILDIR_NAME_TRIES 8

static atomic_uint maildir_counter;

/*
 * Group flush of new/ directories: deliveries into the same Maildir that
 * run at once share one fsync of its new/ (base/syncgroup.h). A small
 * table of the directories being flushed; a slot is reused once nobody
 * uses it, and when all are busy a delivery simply flushes on its own.
 */
#define MAILDIR_SYNC_SLOTS 32

struct maildir_sync_slot {
	char path[PATH_MAX];
	struct syncgroup g;
	unsigned users;
};

static pthread_mutex_t maildir_sync_mu = PTHREAD_MUTEX_INITIALIZER;
static struct maildir_sync_slot maildir_sync_slots[MAILDIR_SYNC_SLOTS];
static pthread_once_t maildir_sync_once = PTHREAD_ONCE_INIT;

static void maildir_sync_init(void)
{
	for (int i = 0; i < MAILDIR_SYNC_SLOTS; i++)
		syncgroup_init(&maildir_sync_slots[i].g);
}

static int maildir_sync_dir_shared(const char *dir)
{
	pthread_once(&maildir_sync_once, maildir_sync_init);
	pthread_mutex_lock(&maildir_sync_mu);
	struct maildir_sync_slot *slot = NULL, *free_slot = NULL;
	for (int i = 0; i < MAILDIR_SYNC_SLOTS; i++) {
		struct maildir_sync_slot *e = &maildir_sync_slots[i];
		if (e->users > 0 && strcmp(e->path, dir) == 0) {
			slot = e;
			break;
		}
		if (free_slot == NULL && e->users == 0)
			free_slot = e;
	}
	if (slot == NULL && free_slot) {
		/* An unused slot's counters belong to nobody: it starts over. */
		slot = free_slot;
		snprintf(slot->path, sizeof slot->path, "%s", dir);
	}
	if (slot)
		slot->users++;
	pthread_mutex_unlock(&maildir_sync_mu);
	if (slot == NULL)
		return fsutil_fsync_dir(dir);
	int rc = syncgroup_flush(&slot->g, dir);
	int e = errno;
	pthread_mutex_lock(&maildir_sync_mu);
	slot->users--;
	pthread_mutex_unlock(&maildir_sync_mu);
	errno = e;
	return rc;
}

/* Copy len octets from in (at its current position) to out. The kernel
 * copies without a trip through user space where it can
 * (copy_file_range); otherwise a 64 KiB buffer does. Content shorter
 * than len is EIO: the queue file lied about its size. */
static int maildir_copy(int out, int in, uint64_t len)
{
	bool kernel_copy = true;
	char *buf = NULL;
	while (len > 0) {
		if (kernel_copy) {
			size_t want = len > (uint64_t)1 << 30 ? (size_t)1 << 30 : (size_t)len;
			ssize_t r = copy_file_range(in, NULL, out, NULL, want, 0);
			if (r > 0) {
				len -= (uint64_t)r;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			/* Not supported for this pair of files (other file
			 * system, a pipe, an old kernel), or 0, which some file
			 * systems return instead: let read(2) decide. */
			if (r == 0 || errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			    errno == EOPNOTSUPP || errno == EBADF || errno == ETXTBSY) {
				kernel_copy = false;
				continue;
			}
			goto fail;
		}
		if (buf == NULL && (buf = malloc(MAILDIR_COPY_BUF)) == NULL)
			goto fail;
		size_t want = len > MAILDIR_COPY_BUF ? MAILDIR_COPY_BUF : (size_t)len;
		ssize_t r = read(in, buf, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0) {
			errno = EIO;
			goto fail;
		}
		if (fsutil_write_all(out, buf, (size_t)r) < 0)
			goto fail;
		len -= (uint64_t)r;
	}
	free(buf);
	return 0;
fail:;
	int saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

/* tmp/, new/ and cur/ as the IMAP store makes them (one owner of the
 * Maildir layout); a folder also gets its maildirfolder marker. */
static int maildir_make_dirs(const char *data_dir, const char *box, bool folder)
{
	return store_make_maildir(data_dir, box, !folder);
}

/* Write prefix and content into the open tmp file and flush it. */
static int maildir_fill(int fd, const char *prefix, size_t prefix_len, int content_fd,
                        uint64_t content_len)
{
	if (prefix_len && fsutil_write_all(fd, prefix, prefix_len) < 0)
		return -1;
	if (maildir_copy(fd, content_fd, content_len) < 0)
		return -1;
	return fsutil_fsync(fd);
}

int maildir_deliver(const char *data_dir, const char *domain, const char *local, const char *prefix,
                    size_t prefix_len, int content_fd, uint64_t content_len, char *path_out,
                    size_t path_len)
{
	return maildir_deliver_keyed(data_dir, domain, local, NULL, NULL, false, prefix, prefix_len, content_fd,
	                             content_len, path_out, path_len);
}

/* Has a keyed delivery already landed: new/NAME, or in cur/ under NAME
 * followed by ':' or ',' (a reader moved it there and may have added
 * ",S=size" or flags). cur/ is scanned only when `thorough`: after a
 * crash or a failed attempt, not for every delivery. */
static bool maildir_already(const char *box, const char *name, bool thorough, char *final, size_t finallen)
{
	struct stat st;
	int n = snprintf(final, finallen, "%s/new/%s", box, name);
	if (n > 0 && (size_t)n < finallen && stat(final, &st) == 0)
		return true;
	if (!thorough)
		return false;
	n = snprintf(final, finallen, "%s/cur", box);
	if (n < 0 || (size_t)n >= finallen)
		return false;
	DIR *d = opendir(final);
	if (d == NULL)
		return false;
	size_t nl = strlen(name);
	bool found = false;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, nl) == 0 && (de->d_name[nl] == ':' || de->d_name[nl] == ',')) {
			int m = snprintf(final, finallen, "%s/cur/%s", box, de->d_name);
			found = m > 0 && (size_t)m < finallen;
			break;
		}
	}
	closedir(d);
	return found;
}

int maildir_deliver_keyed(const char *data_dir, const char *domain, const char *local, const char *folder,
                          const char *key, bool thorough, const char *prefix, size_t prefix_len, int content_fd,
                          uint64_t content_len, char *path_out, size_t path_len)
{
	char box[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX], name[NAME_MAX + 1],
	    host[MAILDIR_HOST_MAX + 1];
	if ((prefix == NULL && prefix_len > 0) ||
	    mailstore_box(data_dir, domain, domain ? strlen(domain) : 0, local, local ? strlen(local) : 0, box,
	                  sizeof box) < 0) {
		if (prefix == NULL && prefix_len > 0)
			errno = EINVAL;
		return -1;
	}
	int n;
	if (folder) {
		size_t bl = strlen(box);
		if (folder[0] != '.' || strchr(folder, '/') || strcmp(folder, ".") == 0 || strcmp(folder, "..") == 0) {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(box + bl, sizeof box - bl, "/%s", folder);
		if (n < 0 || (size_t)n >= sizeof box - bl) {
			errno = ENAMETOOLONG;
			return -1;
		}
	}
	maildir_host(host, sizeof host);

	bool made_dirs = false;
	int fd = -1;
	for (int tries = 0; fd < 0; tries++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		unsigned c = atomic_fetch_add(&maildir_counter, 1);
		/* TIME.MmicrosPpid_COUNTER.HOST: unique by time, process and
		 * a per-process counter (qmail's and Dovecot's convention). */
		if (key)
			n = snprintf(name, sizeof name, "%s.%s", key, host);
		else
			n = snprintf(name, sizeof name, "%lld.M%ldP%ld_%u.%s", (long long)ts.tv_sec,
			             ts.tv_nsec / 1000, (long)getpid(), c, host);
		if (n < 0 || (size_t)n >= sizeof name) {
			errno = ENAMETOOLONG;
			return -1;
		}
		/* A keyed delivery that already landed (the process died before
		 * the queue recorded it) is not made twice. */
		if (key && maildir_already(box, name, thorough, final, sizeof final)) {
			/* The earlier attempt may have died between its rename
			 * and the flush: the name could still be only in memory.
			 * Flush its directory before the caller records it done. */
			char dir[PATH_MAX];
			snprintf(dir, sizeof dir, "%s", final);
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			if (maildir_sync_dir_shared(dir) < 0)
				return -1;
			if (path_out && path_len)
				snprintf(path_out, path_len, "%s", final);
			return 0;
		}
		int a = snprintf(tmp, sizeof tmp, "%s/tmp/%s", box, name);
		int b = snprintf(final, sizeof final, "%s/new/%s", box, name);
		if (a < 0 || b < 0 || (size_t)a >= sizeof tmp || (size_t)b >= sizeof final ||
		    (path_out && path_len && (size_t)b >= path_len)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		do {
			fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, MAILDIR_FILE_MODE);
		} while (fd < 0 && errno == EINTR);
		if (fd >= 0)
			break;
		if (errno == ENOENT && !made_dirs) {
			/* First delivery to this mailbox or folder. */
			if (maildir_make_dirs(data_dir, box, folder != NULL) < 0)
				return -1;
			made_dirs = true;
		} else if (errno == EEXIST && key && tries == 0) {
			unlink(tmp); /* a crashed attempt's leftover */
		} else if (errno != EEXIST || tries >= MAILDIR_NAME_TRIES) {
			return -1;
		}
	}

	if (maildir_fill(fd, prefix, prefix_len, content_fd, content_len) < 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 && errno != EINTR)
		goto fail_tmp;
	if (rename(tmp, final) < 0) {
		/* new/ removed by hand since tmp/ was there: make it again. */
		if (errno != ENOENT || made_dirs || maildir_make_dirs(data_dir, box, folder != NULL) < 0 ||
		    rename(tmp, final) < 0)
			goto fail_tmp;
	}
	n = snprintf(tmp, sizeof tmp, "%s/new", box);
	if (n < 0 || (size_t)n >= sizeof tmp || maildir_sync_dir_shared(tmp) < 0) {
		/* Not known to be durable: take it back, so that the retry
		 * the caller will make does not leave two copies. */
		int saved = errno;
		unlink(final);
		errno = saved;
		return -1;
	}
	if (path_out && path_len)
		snprintf(path_out, path_len, "%s", final);
	return 0;
fail_tmp:;
	int saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}
