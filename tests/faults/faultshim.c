/*
 * faultshim — an LD_PRELOAD library for the tests: makes chosen file
 * system calls of the program fail, so that the queue's failure paths
 * can be driven from outside, against the real binary.
 *
 * TERN_FAULTS names a rules file, re-read whenever it changes (so a test
 * can arm and disarm faults while the server runs). One rule a line:
 *
 *   CALL PATTERN SKIP COUNT ERRNO
 *
 *   CALL     open (open, openat), read (read, pread, the input side of
 *            copy_file_range), write (write, pwrite, its output side),
 *            fsync, fdatasync, rename (either path), unlink, mkdir
 *   PATTERN  an fnmatch(3) pattern with extended syntax (FNM_EXTMATCH)
 *            for the path; calls on a descriptor use the path it was
 *            opened with (/proc/self/fd)
 *   SKIP     matching calls let through first
 *   COUNT    matching calls that then fail (-1: all of them)
 *   ERRNO    EIO, ENOSPC, EMFILE, ENFILE, ENOMEM, EACCES, EDQUOT or a number
 *
 * Every injected failure is appended to TERN_FAULTS_LOG, when set, as
 * "CALL PATH ERRNO". '#' starts a comment. Not part of tern: a test tool.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SHIM_MAX_RULES 32

struct shim_rule {
	char call[16];
	char pattern[512];
	long skip, count; /* count -1: always */
	int err;
};

static pthread_mutex_t shim_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shim_rule shim_rules[SHIM_MAX_RULES];
static int shim_nrules;
static struct timespec shim_mtime;
static off_t shim_size = -1;
static ino_t shim_ino;
static __thread int shim_busy; /* our own calls are never faulted */

static int shim_errno(const char *s)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EMFILE", EMFILE}, {"ENFILE", ENFILE},
	             {"ENOMEM", ENOMEM}, {"EACCES", EACCES}, {"EDQUOT", EDQUOT}, {"EINTR", EINTR}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].value;
	return atoi(s) > 0 ? atoi(s) : EIO;
}

/* Re-read the rules when the file changed (shim_mu held). */
static void shim_load_locked(void)
{
	const char *path = getenv("TERN_FAULTS");
	struct stat st;
	if (path == NULL || stat(path, &st) < 0) {
		shim_nrules = 0;
		shim_size = -1;
		return;
	}
	if (st.st_size == shim_size && st.st_ino == shim_ino && st.st_mtim.tv_sec == shim_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == shim_mtime.tv_nsec)
		return;
	shim_size = st.st_size;
	shim_ino = st.st_ino;
	shim_mtime = st.st_mtim;
	shim_nrules = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f) && shim_nrules < SHIM_MAX_RULES) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		struct shim_rule r;
		char err[32];
		if (sscanf(line, "%15s %511s %ld %ld %31s", r.call, r.pattern, &r.skip, &r.count, err) != 5)
			continue;
		r.err = shim_errno(err);
		shim_rules[shim_nrules++] = r;
	}
	fclose(f);
}

static void shim_log(const char *call, const char *path, int err)
{
	const char *log = getenv("TERN_FAULTS_LOG");
	if (log == NULL)
		return;
	FILE *f = fopen(log, "a");
	if (f == NULL)
		return;
	fprintf(f, "%s %s %d\n", call, path, err);
	fclose(f);
}

/* Should this call fail? 0, or the errno to fail with. */
static int shim_check(const char *call, const char *path, const char *path2)
{
	if (shim_busy || getenv("TERN_FAULTS") == NULL)
		return 0;
	shim_busy++;
	pthread_mutex_lock(&shim_mu);
	shim_load_locked();
	int err = 0;
	for (int i = 0; i < shim_nrules && err == 0; i++) {
		struct shim_rule *r = &shim_rules[i];
		if (strcmp(r->call, call) != 0 || r->count == 0)
			continue;
		bool hit = (path && fnmatch(r->pattern, path, FNM_EXTMATCH) == 0) ||
		           (path2 && fnmatch(r->pattern, path2, FNM_EXTMATCH) == 0);
		if (!hit)
			continue;
		if (r->skip > 0) {
			r->skip--;
			continue;
		}
		if (r->count > 0)
			r->count--;
		err = r->err;
	}
	pthread_mutex_unlock(&shim_mu);
	if (err)
		shim_log(call, path ? path : "?", err);
	shim_busy--;
	return err;
}

static int shim_check_fd(const char *call, int fd)
{
	if (shim_busy || getenv("TERN_FAULTS") == NULL)
		return 0;
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return shim_check(call, path, NULL);
}

/* An absolute path for a name relative to dirfd (or the cwd). */
static const char *shim_at_path(int dirfd, const char *name, char *out, size_t outlen)
{
	if (name == NULL || name[0] == '/')
		return name;
	char link[64], base[4096];
	ssize_t n;
	if (dirfd == AT_FDCWD) {
		if (getcwd(base, sizeof base) == NULL)
			return name;
		n = (ssize_t)strlen(base);
	} else {
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		n = readlink(link, base, sizeof base - 1);
		if (n <= 0)
			return name;
		base[n] = '\0';
	}
	snprintf(out, outlen, "%s/%s", base, name);
	return out;
}

/* The next definition of name (libc's, or the sanitizer's in front of
 * it), looked up once. */
#define SHIM_NEXT(type, name)                              \
	({                                                     \
		static __typeof__((type)0) shim_real_;             \
		if (shim_real_ == NULL)                            \
			shim_real_ = (type)dlsym(RTLD_NEXT, name);     \
		shim_real_;                                        \
	})
#define SHIM_FAIL(e)   \
	do {           \
		errno = e; \
		return -1; \
	} while (0)

static int shim_open_common(const char *which, int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	char abs[4096];
	int e = shim_check("open", shim_at_path(dirfd, path, abs, sizeof abs), NULL);
	if (e)
		SHIM_FAIL(e);
	if (at) {
		int (*real)(int, const char *, int, ...) = SHIM_NEXT(int (*)(int, const char *, int, ...), which);
		return real(dirfd, path, flags, mode);
	}
	int (*real)(const char *, int, ...) = SHIM_NEXT(int (*)(const char *, int, ...), which);
	return real(path, flags, mode);
}

#define SHIM_MODE(flags, mode)                                      \
	do {                                                            \
		if ((flags) & (O_CREAT | O_TMPFILE)) {                      \
			va_list ap;                                             \
			va_start(ap, flags);                                    \
			mode = (mode_t)va_arg(ap, int);                         \
			va_end(ap);                                             \
		}                                                           \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	SHIM_MODE(flags, mode);
	return shim_open_common("open", AT_FDCWD, path, flags, mode, false);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	SHIM_MODE(flags, mode);
	return shim_open_common("open64", AT_FDCWD, path, flags, mode, false);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	SHIM_MODE(flags, mode);
	return shim_open_common("openat", dirfd, path, flags, mode, true);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	SHIM_MODE(flags, mode);
	return shim_open_common("openat64", dirfd, path, flags, mode, true);
}

ssize_t read(int fd, void *buf, size_t n)
{
	int e = shim_check_fd("read", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(ssize_t (*)(int, void *, size_t), "read")(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	int e = shim_check_fd("read", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(ssize_t (*)(int, void *, size_t, off_t), "pread")(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	int e = shim_check_fd("read", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(ssize_t (*)(int, void *, size_t, off_t), "pread64")(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int e = shim_check_fd("write", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(ssize_t (*)(int, const void *, size_t), "write")(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int e = shim_check_fd("write", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(ssize_t (*)(int, const void *, size_t, off_t), "pwrite")(fd, buf, n, off);
}

ssize_t copy_file_range(int in, loff_t *inoff, int out, loff_t *outoff, size_t n, unsigned flags)
{
	int e = shim_check_fd("read", in);
	if (e == 0)
		e = shim_check_fd("write", out);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(ssize_t (*)(int, loff_t *, int, loff_t *, size_t, unsigned), "copy_file_range")(
	    in, inoff, out, outoff, n, flags);
}

int fsync(int fd)
{
	int e = shim_check_fd("fsync", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(int), "fsync")(fd);
}

int fdatasync(int fd)
{
	int e = shim_check_fd("fdatasync", fd);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(int), "fdatasync")(fd);
}

int rename(const char *from, const char *to)
{
	char a[4096], b[4096];
	int e = shim_check("rename", shim_at_path(AT_FDCWD, from, a, sizeof a), shim_at_path(AT_FDCWD, to, b, sizeof b));
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(const char *, const char *), "rename")(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	char a[4096], b[4096];
	int e = shim_check("rename", shim_at_path(fd1, from, a, sizeof a), shim_at_path(fd2, to, b, sizeof b));
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(int, const char *, int, const char *), "renameat")(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	char a[4096], b[4096];
	int e = shim_check("rename", shim_at_path(fd1, from, a, sizeof a), shim_at_path(fd2, to, b, sizeof b));
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(int, const char *, int, const char *, unsigned), "renameat2")(fd1, from, fd2, to,
	                                                                                      flags);
}

int unlink(const char *path)
{
	char a[4096];
	int e = shim_check("unlink", shim_at_path(AT_FDCWD, path, a, sizeof a), NULL);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(const char *), "unlink")(path);
}

int mkdir(const char *path, mode_t mode)
{
	char a[4096];
	int e = shim_check("mkdir", shim_at_path(AT_FDCWD, path, a, sizeof a), NULL);
	if (e)
		SHIM_FAIL(e);
	return SHIM_NEXT(int (*)(const char *, mode_t), "mkdir")(path, mode);
}
