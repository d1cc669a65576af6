/*
 * srs_secret — see srs_secret.h.
 */
#include "mta/srs_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"

static int srs_secret_fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

static int srs_secret_make(const char *data_dir, const char *path, struct srs_secret *s, char *err, size_t errlen)
{
	size_t got = 0;
	while (got < sizeof s->key) {
		ssize_t r = getrandom(s->key + got, sizeof s->key - got, 0);
		if (r < 0 && errno != EINTR)
			return srs_secret_fail(err, errlen, path, strerror(errno));
		if (r > 0)
			got += (size_t)r;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return srs_secret_fail(err, errlen, path, strerror(errno));
	int rc = fsutil_write_all(fd, s->key, sizeof s->key) < 0 || fsutil_fsync(fd) < 0 ? -1 : 0;
	int e = errno;
	close(fd);
	if (rc < 0 || fsutil_fsync_dir(data_dir) < 0) {
		if (rc < 0)
			unlink(path); /* a short secret must not be taken later */
		return srs_secret_fail(err, errlen, path, strerror(rc < 0 ? e : errno));
	}
	return 0;
}

int srs_secret_load(const char *data_dir, struct srs_secret *s, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s", data_dir, SRS_SECRET_FILE);
	if (n < 0 || (size_t)n >= sizeof path)
		return srs_secret_fail(err, errlen, data_dir, "path too long");
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return srs_secret_make(data_dir, path, s, err, errlen);
	if (fd < 0)
		return srs_secret_fail(err, errlen, path, strerror(errno));
	struct stat st;
	const char *why = fsutil_secret_file_problem(fd, 077, &st);
	if (why == NULL && st.st_size != SRS_SECRET_LEN)
		why = "not 32 octets long (made by another program?)";
	else if (fsutil_pread_all(fd, s->key, sizeof s->key, 0) != (ssize_t)sizeof s->key)
		why = "cannot be read";
	close(fd);
	return why ? srs_secret_fail(err, errlen, path, why) : 0;
}
