/*
 * mailbox — the Maildir side of POP3. See mailbox.h.
 *
 * Owns the scan (a directory read, plus a read of every message not yet
 * measured), the new/ -> cur/ moves, the UPDATE-state unlinks and the
 * in-process lock table. Must not write anything but those renames and
 * unlinks: delivery is mta/maildir.c's job.
 *
 * Durability: a move from new/ to cur/ is one rename(2) that cannot
 * replace another file (RENAME_NOREPLACE); cur/ is flushed after moves,
 * so a message never shows under two names. Deletions flush the
 * directories before the session answers QUIT (STYLE.md principle 9): a
 * crash cannot bring back a message the client was told is gone. A
 * dropped connection never reaches mailbox_expunge() (RFC 1939 6).
 */
#include "mta/mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"

#define MAILBOX_READ 65536

/* ---- names ---- */

/* The ",W=digits" field of a Maildir name's base, if any. */
static const char *mailbox_w_field(const char *name, size_t baselen, size_t *flen, uint64_t *vsize)
{
	for (size_t i = 0; i + 3 < baselen; i++) {
		if (name[i] != ',' || name[i + 1] != 'W' || name[i + 2] != '=')
			continue;
		size_t k = i + 3;
		uint64_t v = 0;
		while (k < baselen && name[k] >= '0' && name[k] <= '9' && k - (i + 3) < 18)
			v = v * 10 + (uint64_t)(name[k++] - '0');
		if (k == i + 3 || (k < baselen && name[k] != ','))
			continue;
		*flen = k - i;
		*vsize = v;
		return name + i;
	}
	return NULL;
}

static size_t mailbox_base_len(const char *name)
{
	const char *colon = strchr(name, ':');
	return colon ? (size_t)(colon - name) : strlen(name);
}

static uint64_t mailbox_fnv(const char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

/* RFC 1939 7: the unique-id of the file `name` (see mailbox.h). */
static void mailbox_uid(const char *name, char out[POP3_UID_MAX + 1])
{
	size_t blen = mailbox_base_len(name), flen = 0;
	uint64_t v;
	char base[NAME_MAX + 1];
	const char *w = mailbox_w_field(name, blen, &flen, &v);
	size_t n = 0;
	for (size_t i = 0; i < blen && n < sizeof base - 1; i++) {
		if (w && name + i >= w && name + i < w + flen)
			continue;
		base[n++] = name[i];
	}
	base[n] = '\0';
	bool ok = n >= 1 && n <= POP3_UID_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = base[i] >= 0x21 && base[i] <= 0x7e;
	if (ok) {
		memcpy(out, base, n + 1);
		return;
	}
	/* Two independent 64-bit hashes: collisions are not a concern at
	 * the size of a maildrop. */
	snprintf(out, POP3_UID_MAX + 1, "X%016llx%016llx",
	         (unsigned long long)mailbox_fnv(base, n, 14695981039346656037ull),
	         (unsigned long long)mailbox_fnv(base, n, 0x9e3779b97f4a7c15ull));
}

/* ---- scan ---- */

struct mailbox_found {
	char *name;       /* "cur/NAME" or "new/NAME" */
	uint64_t vsize;
};

/* The size as sent of an open file, read in pieces. */
static int mailbox_measure_fd(int fd, char *rbuf, uint64_t *out)
{
	struct pop3_measure m;
	pop3_server_measure_init(&m);
	for (;;) {
		ssize_t r = read(fd, rbuf, MAILBOX_READ);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		pop3_server_measure(&m, rbuf, (size_t)r);
	}
	*out = pop3_server_measure_end(&m);
	return 0;
}

static int mailbox_add(struct mailbox_found **v, size_t *n, size_t *cap, const char *sub, const char *name,
                       uint64_t vsize)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct mailbox_found *nv = realloc(*v, nc * sizeof *nv);
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	size_t len = strlen(sub) + 1 + strlen(name) + 1;
	char *s = malloc(len);
	if (s == NULL)
		return -1;
	snprintf(s, len, "%s/%s", sub, name);
	(*v)[*n].name = s;
	(*v)[*n].vsize = vsize;
	(*n)++;
	return 0;
}

/* Move new/NAME to cur/BASE,W=VSIZE:2, without replacing anything. The
 * new name in out; -1 leaves the file where it was. */
static int mailbox_move(int newfd, int curfd, const char *name, uint64_t vsize, char *out, size_t outlen)
{
	size_t blen = mailbox_base_len(name), flen;
	uint64_t v;
	int n;
	if (mailbox_w_field(name, blen, &flen, &v))
		n = snprintf(out, outlen, "%.*s:2,", (int)blen, name);
	else
		n = snprintf(out, outlen, "%.*s,W=%llu:2,", (int)blen, name, (unsigned long long)vsize);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return renameat2(newfd, name, curfd, out, RENAME_NOREPLACE);
}

/* One of new/ and cur/: every regular file whose name does not start
 * with '.'. In new/, each is measured and moved to cur/. */
static int mailbox_scan_dir(struct mailbox *mb, const char *sub, int dirfd, int curfd,
                            struct mailbox_found **v, size_t *n, size_t *cap, char *rbuf)
{
	DIR *d = fdopendir(dup(dirfd));
	if (d == NULL)
		return -1;
	bool is_new = strcmp(sub, "new") == 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL && *n < MAILBOX_MAX_MSGS) {
		const char *name = de->d_name;
		if (name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue; /* gone meanwhile, or not a message */
		size_t blen = mailbox_base_len(name), flen;
		uint64_t vsize = 0;
		if (!mailbox_w_field(name, blen, &flen, &vsize)) {
			int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			int rc = mailbox_measure_fd(fd, rbuf, &vsize);
			close(fd);
			if (rc < 0)
				continue;
		}
		char moved[NAME_MAX + 1];
		if (is_new && curfd >= 0 && mailbox_move(dirfd, curfd, name, vsize, moved, sizeof moved) == 0) {
			mb->moved++;
			if (mailbox_add(v, n, cap, "cur", moved, vsize) < 0)
				goto fail;
		} else if (mailbox_add(v, n, cap, sub, name, vsize) < 0) {
			goto fail;
		}
		errno = 0;
	}
	if (de == NULL && errno != 0)
		goto fail;
	closedir(d);
	return 0;
fail:;
	int saved = errno;
	closedir(d);
	errno = saved;
	return -1;
}

static int mailbox_cmp(const void *a, const void *b)
{
	const struct mailbox_found *x = a, *y = b;
	/* "cur/" and "new/" prefixes are skipped: the names decide. */
	return strverscmp(x->name + 4, y->name + 4);
}

static int mailbox_open_sub(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s", dir, sub);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int mailbox_scan(struct mailbox *mb)
{
	struct mailbox_found *v = NULL;
	size_t n = 0, cap = 0;
	int curfd = -1, newfd = -1, rc = -1;
	char *rbuf = malloc(MAILBOX_READ);
	if (rbuf == NULL)
		return -1;
	mb->moved = 0;
	curfd = mailbox_open_sub(mb->dir, "cur");
	newfd = mailbox_open_sub(mb->dir, "new");
	if ((curfd < 0 && errno != ENOENT) || (newfd < 0 && errno != ENOENT))
		goto out;
	/* cur/ first, so that what the scan of new/ moves there is not
	 * seen twice. Mail arriving after this point waits for the next
	 * session (RFC 1939 8: the maildrop is fixed while it is open). */
	if (curfd >= 0 && mailbox_scan_dir(mb, "cur", curfd, -1, &v, &n, &cap, rbuf) < 0)
		goto out;
	if (newfd >= 0 && mailbox_scan_dir(mb, "new", newfd, curfd, &v, &n, &cap, rbuf) < 0)
		goto out;
	if (mb->moved) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/cur", mb->dir);
		if (fsutil_fsync_dir(path) < 0)
			goto out;
	}
	if (n)
		qsort(v, n, sizeof *v, mailbox_cmp);
	mb->msgs = calloc(n ? n : 1, sizeof *mb->msgs);
	mb->names = calloc(n ? n : 1, sizeof *mb->names);
	if (mb->msgs == NULL || mb->names == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		mb->msgs[i].size = v[i].vsize;
		mailbox_uid(v[i].name + 4, mb->msgs[i].uid);
		/* Unique-ids must be unique (RFC 1939 7): a copy made by hand
		 * gets a hash of its whole name instead. */
		if (i > 0 && strcmp(mb->msgs[i].uid, mb->msgs[i - 1].uid) == 0)
			snprintf(mb->msgs[i].uid, sizeof mb->msgs[i].uid, "Y%016llx",
			         (unsigned long long)mailbox_fnv(v[i].name, strlen(v[i].name), 14695981039346656037ull));
		mb->names[i] = v[i].name;
		v[i].name = NULL;
	}
	mb->n = n;
	rc = 0;
out:;
	int saved = errno;
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(rbuf);
	if (curfd >= 0)
		close(curfd);
	if (newfd >= 0)
		close(newfd);
	if (rc < 0) {
		free(mb->msgs);
		free(mb->names);
		mb->msgs = NULL;
		mb->names = NULL;
		mb->n = 0;
	}
	errno = saved;
	return rc;
}

char *mailbox_msg_path(const struct mailbox *mb, size_t i)
{
	if (i >= mb->n) {
		errno = EINVAL;
		return NULL;
	}
	char *path = NULL;
	if (asprintf(&path, "%s/%s", mb->dir, mb->names[i]) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return path;
}

int mailbox_open_path(void *path)
{
	int fd;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	while (fd < 0 && errno == EINTR);
	return fd;
}

long mailbox_expunge(const struct mailbox *mb)
{
	long removed = 0;
	int err = 0;
	bool in_new = false, in_cur = false;
	char path[PATH_MAX];
	for (size_t i = 0; i < mb->n; i++) {
		if (!mb->msgs[i].deleted)
			continue;
		int n = snprintf(path, sizeof path, "%s/%s", mb->dir, mb->names[i]);
		if (n < 0 || (size_t)n >= sizeof path) {
			err = ENAMETOOLONG;
			continue;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			err = errno;
			continue;
		}
		removed++;
		if (mb->names[i][0] == 'n')
			in_new = true;
		else
			in_cur = true;
	}
	/* The unlinks are directory updates: flush them before +OK. */
	if (in_cur) {
		snprintf(path, sizeof path, "%s/cur", mb->dir);
		if (fsutil_fsync_dir(path) < 0)
			err = errno;
	}
	if (in_new) {
		snprintf(path, sizeof path, "%s/new", mb->dir);
		if (fsutil_fsync_dir(path) < 0)
			err = errno;
	}
	if (err) {
		errno = err;
		return -1;
	}
	return removed;
}

void mailbox_free(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	for (size_t i = 0; mb->names && i < mb->n; i++)
		free(mb->names[i]);
	free(mb->names);
	free(mb->msgs);
	free(mb->dir);
	memset(mb, 0, sizeof *mb);
}

/* ---- the lock table (loop thread only) ---- */

struct mailbox_lock {
	char *dir;
	struct mailbox_lock *next;
};

bool mailbox_lock(struct mailbox_lock **table, const char *dir)
{
	for (struct mailbox_lock *l = *table; l; l = l->next)
		if (strcmp(l->dir, dir) == 0)
			return false;
	struct mailbox_lock *l = malloc(sizeof *l);
	char *d = strdup(dir);
	if (l == NULL || d == NULL) {
		free(l);
		free(d);
		return false;
	}
	l->dir = d;
	l->next = *table;
	*table = l;
	return true;
}

void mailbox_unlock(struct mailbox_lock **table, const char *dir)
{
	for (struct mailbox_lock **pp = table; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->dir, dir) == 0) {
			struct mailbox_lock *l = *pp;
			*pp = l->next;
			free(l->dir);
			free(l);
			return;
		}
	}
}
