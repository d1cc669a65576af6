/*
 * datadir — see datadir.h. Reads metadata only (stat, lstat, readdir of
 * mail/); start-up, before the loop runs.
 */
#include "mta/datadir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum datadir_kind {
	DATADIR_DIR,        /* writable by its owner only */
	DATADIR_DROP,       /* others may add files: then only with the sticky bit */
	DATADIR_KEY,        /* a private key: a regular file, owner only */
	DATADIR_FILE,       /* a regular file writable by its owner only */
};

static int datadir_fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

/* One path. `follow`: the data-dir itself, which may be a link. Missing
 * is fine unless must_exist. */
static int datadir_check_one(const char *path, enum datadir_kind kind, bool follow, bool must_exist, char *err,
                             size_t errlen)
{
	struct stat st;
	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return datadir_fail(err, errlen, path, strerror(errno));
	}
	char why[160];
	if (S_ISLNK(st.st_mode))
		return datadir_fail(err, errlen, path, "is a symbolic link; tern does not follow links inside its data-dir");
	bool want_dir = kind == DATADIR_DIR || kind == DATADIR_DROP;
	if (want_dir && !S_ISDIR(st.st_mode))
		return datadir_fail(err, errlen, path, "is not a directory");
	if (!want_dir && !S_ISREG(st.st_mode))
		return datadir_fail(err, errlen, path, "is not a regular file");
	uid_t me = geteuid();
	if (st.st_uid != 0 && st.st_uid != me) {
		snprintf(why, sizeof why, "is owned by uid %u, not by root or uid %u (the account tern runs as)",
		         (unsigned)st.st_uid, (unsigned)me);
		return datadir_fail(err, errlen, path, why);
	}
	mode_t m = st.st_mode & 07777;
	switch (kind) {
	case DATADIR_DROP:
		if ((m & 0022) && !(m & S_ISVTX)) {
			snprintf(why, sizeof why, "is writable by others without the sticky bit (mode %04o)", (unsigned)m);
			return datadir_fail(err, errlen, path, why);
		}
		break;
	case DATADIR_KEY:
		if (m & 0077) {
			snprintf(why, sizeof why, "is a private key readable by its group or others (mode %04o; want 0600)",
			         (unsigned)m);
			return datadir_fail(err, errlen, path, why);
		}
		break;
	case DATADIR_DIR:
	case DATADIR_FILE:
		if (m & 0022) {
			snprintf(why, sizeof why, "is writable by its group or by others (mode %04o)", (unsigned)m);
			return datadir_fail(err, errlen, path, why);
		}
		break;
	}
	return 0;
}

static int datadir_join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int datadir_check_root(const char *data_dir, char *err, size_t errlen)
{
	return datadir_check_one(data_dir, DATADIR_DIR, true, false, err, errlen);
}

/* mail/ and one directory per domain under it. */
static int datadir_check_mail(const char *data_dir, char *err, size_t errlen)
{
	char mail[PATH_MAX], path[PATH_MAX];
	if (datadir_join(mail, data_dir, "mail") < 0)
		return datadir_fail(err, errlen, data_dir, strerror(errno));
	if (datadir_check_one(mail, DATADIR_DIR, false, false, err, errlen) < 0)
		return -1;
	DIR *d = opendir(mail);
	if (d == NULL)
		return errno == ENOENT ? 0 : datadir_fail(err, errlen, mail, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (datadir_join(path, mail, de->d_name) < 0) {
			rc = datadir_fail(err, errlen, mail, strerror(errno));
			break;
		}
		rc = datadir_check_one(path, DATADIR_DIR, false, true, err, errlen);
	}
	closedir(d);
	return rc;
}

int datadir_check(const char *data_dir, bool self_signed, char *err, size_t errlen)
{
	static const struct {
		const char *sub;
		enum datadir_kind kind;
	} dirs[] = {
		{"queue", DATADIR_DIR},         {"queue/tmp", DATADIR_DIR},  {"queue/msg", DATADIR_DIR},
		{"queue/free", DATADIR_DIR},    {"queue/corrupt", DATADIR_DIR}, {"queue/drop", DATADIR_DROP},
		{"tls", DATADIR_DIR},
	};
	if (datadir_check_one(data_dir, DATADIR_DIR, true, true, err, errlen) < 0)
		return -1;
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (datadir_join(path, data_dir, dirs[i].sub) < 0)
			return datadir_fail(err, errlen, data_dir, strerror(errno));
		if (datadir_check_one(path, dirs[i].kind, false, false, err, errlen) < 0)
			return -1;
	}
	if (self_signed) {
		if (datadir_join(path, data_dir, "tls/key.pem") < 0 ||
		    datadir_check_one(path, DATADIR_KEY, false, false, err, errlen) < 0)
			return -1;
		if (datadir_join(path, data_dir, "tls/cert.pem") < 0 ||
		    datadir_check_one(path, DATADIR_FILE, false, false, err, errlen) < 0)
			return -1;
	}
	return datadir_check_mail(data_dir, err, errlen);
}
