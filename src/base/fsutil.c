/*
 * fsutil — durable-file helpers: complete reads and writes, fsync of
 * files and directories, mkdir -p, whole small files, and the
 * write-tmp/fsync/rename/fsync-dir recipe. See fsutil.h for the recipe
 * and why each step exists. Owns no state but a counter for temporary
 * names; knows nothing of mail.
 */
#include "base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsutil_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		/* One write(2) is capped by the kernel anyway (about 2 GiB);
		 * asking for less keeps the count inside ssize_t. */
		size_t chunk = n > (size_t)1 << 30 ? (size_t)1 << 30 : n;
		ssize_t w = write(fd, c, chunk);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			/* Not expected for files; never spin on it. */
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t fsutil_read_all(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;
	if (n > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t fsutil_pread_all(int fd, void *p, size_t n, off_t off)
{
	char *c = p;
	size_t got = 0;
	if (n > SSIZE_MAX || off < 0) {
		errno = EINVAL;
		return -1;
	}
	while (got < n) {
		ssize_t r = pread(fd, c + got, n - got, off + (off_t)got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Linux does not return EINTR from fsync, but other systems may; a
 * retry after EINTR is safe because nothing was reported as lost. Other
 * errors are never retried: after a failed fsync the kernel may already
 * have dropped the dirty pages, so a second call could lie. */
int fsutil_fsync(int fd)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int fsutil_fdatasync(int fd)
{
	while (fdatasync(fd) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int fsutil_fsync_dir(const char *path)
{
	int fd;
	do {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	int r = fsutil_fsync(fd);
	int saved = errno;
	close(fd);
	if (r < 0 && saved == EINVAL)
		r = 0; /* the file system cannot sync directories */
	errno = saved;
	return r;
}

int fsutil_fsync_parent(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	if (n == 0)
		return fsutil_fsync_dir(".");
	while (n > 1 && path[n - 1] == '/')
		n--;
	char *dir = malloc(n + 1);
	if (dir == NULL)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	int r = fsutil_fsync_dir(dir);
	int saved = errno;
	free(dir);
	errno = saved;
	return r;
}

/* 0 if p names a directory, -1 with ENOTDIR if something else, -1 with
 * the stat error otherwise. */
static int fsutil_is_dir(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int fsutil_mkdirs(const char *path, mode_t mode)
{
	size_t n = strlen(path);
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	while (n > 1 && path[n - 1] == '/')
		n--;
	char *p = malloc(n + 1);
	if (p == NULL)
		return -1;
	memcpy(p, path, n);
	p[n] = '\0';

	/* Walk up to the deepest component that exists, so that the usual
	 * case (everything there) costs one stat and no mkdir on parents we
	 * may not write to. */
	size_t end = n;
	for (;;) {
		p[end] = '\0';
		if (fsutil_is_dir(p) == 0)
			break;
		if (errno != ENOENT)
			goto fail;
		size_t i = end;
		while (i > 0 && p[i - 1] != '/')
			i--;
		while (i > 0 && p[i - 1] == '/')
			i--;
		end = i;
		if (end == 0)
			break; /* relative path: nothing of it exists yet */
	}
	memcpy(p, path, n);
	p[n] = '\0';

	size_t i = end;
	while (i < n) {
		while (i < n && p[i] == '/')
			i++;
		while (i < n && p[i] != '/')
			i++;
		char save = p[i];
		p[i] = '\0';
		if (mkdir(p, mode) < 0) {
			/* Another process may have created it meanwhile. */
			if (errno != EEXIST || fsutil_is_dir(p) < 0)
				goto fail;
		}
		/* Also after EEXIST: the creator may not have flushed the
		 * parent yet, and our files will depend on that entry. */
		if (fsutil_fsync_parent(p) < 0)
			goto fail;
		p[i] = save;
	}
	free(p);
	return 0;
fail:;
	int saved = errno;
	free(p);
	errno = saved;
	return -1;
}

int fsutil_read_file(const char *path, size_t max, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (max >= SIZE_MAX - 1) {
		errno = EINVAL;
		return -1;
	}
	int fd;
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	/* Room for the stat size plus one octet, so that growth since the
	 * fstat is noticed; then grow up to max + 1 to tell "too big". */
	size_t cap = (size_t)st.st_size + 1;
	size_t got = 0;
	char *data = NULL;
	for (;;) {
		char *nd = realloc(data, cap + 1);
		if (nd == NULL) {
			int saved = errno;
			free(data);
			errno = saved;
			goto fail;
		}
		data = nd;
		ssize_t r = fsutil_read_all(fd, data + got, cap - got);
		if (r < 0) {
			int saved = errno;
			free(data);
			errno = saved;
			goto fail;
		}
		got += (size_t)r;
		if (got > max) {
			free(data);
			errno = EFBIG;
			goto fail;
		}
		if (got < cap)
			break;
		cap = cap > max / 2 ? max + 1 : cap * 2;
	}
	close(fd);
	data[got] = '\0';
	*out = data;
	*len = got;
	return 0;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int fsutil_replace_file(const char *path, const void *p, size_t n, mode_t mode)
{
	static atomic_uint fsutil_tmp_counter;
	char tmp[PATH_MAX];
	unsigned c = atomic_fetch_add(&fsutil_tmp_counter, 1);
	int m = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), c);
	if (m < 0 || (size_t)m >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd;
	do {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (fsutil_write_all(fd, p, n) < 0 || fsutil_fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	/* After a successful fsync a close error (NFS) still means the data
	 * may not be there; EINTR leaves the descriptor closed on Linux. */
	if (close(fd) < 0 && errno != EINTR)
		goto fail;
	if (rename(tmp, path) < 0)
		goto fail;
	return fsutil_fsync_parent(path);
fail:;
	int saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

const char *fsutil_secret_file_problem(int fd, mode_t forbidden, struct stat *st)
{
	/* judged on the file opened, not on whatever the name points to later */
	if (fstat(fd, st) < 0)
		return strerror(errno);
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by another user";
	if (st->st_mode & forbidden & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	if (st->st_mode & forbidden & (S_IRGRP | S_IROTH))
		return (forbidden & S_IRGRP) ? "readable by others (must be 0600)" : "readable by others (chmod 600 or 640)";
	if (st->st_mode & forbidden)
		return "open to others (must be 0600)";
	return NULL;
}
