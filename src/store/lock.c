/*
 * lock — dotlocks that Dovecot honours and that honour Dovecot's:
 * FILE.lock created with O_EXCL (Dovecot's dotlock_use_excl default).
 *
 * Two styles:
 * - dovecot-uidlist.lock guards a folder's UIDs: whoever holds it may
 *   assign UIDs, move new/ to cur/, rewrite dovecot-uidlist and
 *   dovecot-keywords. It holds "PID:HOSTNAME" so that a lock left by a
 *   dead process on this host is broken at once;
 * - the replace style (dovecot-keywords.lock, subscriptions.lock): the
 *   lock file receives the new content and is renamed over the file it
 *   guards, so readers never lock and never see a half-written file.
 *
 * When is a lock stale (Dovecot's rules, the same numbers):
 * - it names a process of this host that no longer exists (checked once
 *   the lock is more than 2 s old, since a fresh one is surely alive), or
 *   our own process id while we do not hold it (a previous life of this
 *   pid): broken at once;
 * - otherwise neither it nor the file it guards changed for the stale
 *   timeout (120 s for the uidlist and keywords, 30 s for subscriptions).
 * A waiter gives up after the stale timeout and 2 s more (EAGAIN).
 * Holders of a long operation touch the lock every 10 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_int.h"

#define LOCK_STALE_SECS 120
#define LOCK_PID_CHECK_SECS 2
#define LOCK_TOUCH_NS (10 * 1000000000LL)

static void lock_sleep(unsigned *us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)*us * 1000 };
	nanosleep(&ts, NULL);
	if (*us < 200000)
		*us *= 2;
}

/* "pid:host" of a lock file, if it names a process of this host. */
static pid_t lock_read_pid(const char *lock)
{
	char buf[512];
	int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t r = fsutil_read_all(fd, buf, sizeof buf - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	char *colon = strchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	char host[256];
	if (gethostname(host, sizeof host) < 0)
		return -1;
	host[sizeof host - 1] = '\0';
	if (strcmp(colon + 1, host) != 0)
		return -1;
	char *end;
	long pid = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || pid <= 0 || pid > 0x7fffffff)
		return -1;
	return (pid_t)pid;
}

struct lock_seen {
	bool known;
	dev_t dev;
	ino_t ino;
	off_t size;
	time_t mtime, ctime;
};

/* Note a change of st; true when it differs from what was seen before. */
static bool lock_note(struct lock_seen *s, const struct stat *st, time_t now, time_t *last_change)
{
	if (s->known && s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
	    s->mtime == st->st_mtime && s->ctime == st->st_ctime)
		return false;
	time_t t = now;
	if (!s->known)
		t = st->st_mtime <= now && st->st_mtime > st->st_ctime ? st->st_mtime : st->st_ctime;
	if (*last_change < t)
		*last_change = t;
	s->known = true;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtime;
	s->ctime = st->st_ctime;
	return true;
}

static int lock_take(struct dotlock *l, const char *path, bool with_pid, int stale_secs)
{
	memset(l, 0, sizeof *l);
	l->fd = -1;
	int n = snprintf(l->path, sizeof l->path, "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof l->path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	time_t start = time(NULL), last_change = 0;
	struct lock_seen seen_lock = { 0 }, seen_file = { 0 };
	unsigned wait_us = 2000;
	for (;;) {
		int fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, STORE_FILE_MODE);
		if (fd >= 0) {
			if (with_pid) {
				char host[256], buf[300];
				if (gethostname(host, sizeof host) < 0)
					snprintf(host, sizeof host, "localhost");
				host[sizeof host - 1] = '\0';
				int m = snprintf(buf, sizeof buf, "%ld:%s", (long)getpid(), host);
				if (m > 0 && (size_t)m < sizeof buf && fsutil_write_all(fd, buf, (size_t)m) < 0 &&
				    ftruncate(fd, 0) < 0) {
					/* an empty lock is still a lock; only the pid check is lost */
				}
			}
			struct stat st;
			if (fstat(fd, &st) < 0) {
				int e = errno;
				close(fd);
				unlink(l->path);
				errno = e;
				return -1;
			}
			l->dev = st.st_dev;
			l->ino = st.st_ino;
			l->touched_ns = store_now_ns();
			l->held = true;
			if (with_pid)
				close(fd);
			else
				l->fd = fd;
			return 0;
		}
		if (errno != EEXIST)
			return -1;
		time_t now = time(NULL);
		struct stat st;
		if (lstat(l->path, &st) < 0) {
			if (errno == ENOENT)
				continue; /* released meanwhile */
			return -1;
		}
		lock_note(&seen_lock, &st, now, &last_change);
		if (with_pid && st.st_mtime < now - LOCK_PID_CHECK_SECS) {
			pid_t pid = lock_read_pid(l->path);
			if (pid > 0 && (pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH))) {
				struct stat st2;
				/* Break it only if it is still the one we judged. */
				if (lstat(l->path, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev &&
				    st2.st_mtime == st.st_mtime && st2.st_size == st.st_size) {
					unlink(l->path);
					unsigned us = 100000 + (unsigned)(store_now_ns() / 1000 % 100000);
					struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };
					nanosleep(&ts, NULL);
				}
				continue;
			}
			if (pid > 0) {
				/* a live holder is never overridden: wait for it */
				if (now >= start + stale_secs + LOCK_PID_CHECK_SECS) {
					errno = EAGAIN;
					return -1;
				}
				lock_sleep(&wait_us);
				continue;
			}
		}
		if (now > last_change + stale_secs) {
			struct stat fst;
			if (stat(path, &fst) == 0)
				lock_note(&seen_file, &fst, now, &last_change);
			if (now > last_change + stale_secs) {
				unlink(l->path);
				continue;
			}
		}
		if (now >= start + stale_secs + LOCK_PID_CHECK_SECS) {
			errno = EAGAIN;
			return -1;
		}
		lock_sleep(&wait_us);
	}
}

int dotlock_take(struct dotlock *l, const char *path)
{
	return lock_take(l, path, true, LOCK_STALE_SECS);
}

int dotlock_take_replace(struct dotlock *l, const char *path, int stale_secs)
{
	return lock_take(l, path, false, stale_secs);
}

int dotlock_replace(struct dotlock *l, const char *path)
{
	if (!l->held || l->fd < 0) {
		errno = EINVAL;
		return -1;
	}
	int rc = fsutil_fsync(l->fd);
	int e = errno;
	close(l->fd);
	l->fd = -1;
	if (rc == 0 && rename(l->path, path) < 0) {
		rc = -1;
		e = errno;
	}
	if (rc < 0)
		unlink(l->path);
	l->held = false;
	if (rc == 0 && fsutil_fsync_parent(path) < 0) {
		rc = -1;
		e = errno;
	}
	errno = e;
	return rc;
}

void dotlock_touch(struct dotlock *l)
{
	if (!l->held)
		return;
	int64_t now = store_now_ns();
	if (now - l->touched_ns < LOCK_TOUCH_NS)
		return;
	l->touched_ns = now;
	utimensat(AT_FDCWD, l->path, NULL, AT_SYMLINK_NOFOLLOW);
}

void dotlock_release(struct dotlock *l)
{
	if (!l->held)
		return;
	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
	/* Remove it only if it is still ours: someone may have judged it
	 * stale and taken it meanwhile. */
	struct stat st;
	if (lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	l->held = false;
}
